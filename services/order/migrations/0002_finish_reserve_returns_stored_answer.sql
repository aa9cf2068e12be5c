-- finish_reserve also returns the answer stored for the order's idempotency key, so a request that lost the race
-- to the reconciler answers what a replay of its key would (201, or the 409/422 problem), never a bare 200.
DROP FUNCTION finish_reserve(uuid, boolean, jsonb, bigint, text, integer, text);

CREATE FUNCTION finish_reserve(p_order_id uuid, p_confirmed boolean, p_items jsonb, p_total_cents bigint,
                               p_reason text, p_problem_status integer, p_problem text)
RETURNS TABLE (applied boolean, status text, response_status integer, body text) LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
    v_body   text;
BEGIN
    SELECT o.status INTO v_status FROM orders o WHERE o.id = p_order_id FOR UPDATE;
    IF v_status IS NULL THEN
        RETURN;
    END IF;
    UPDATE inventory_intents SET state = 'done', updated_at = now()
    WHERE inventory_intents.order_id = p_order_id AND kind = 'reserve' AND state = 'pending';
    IF v_status <> 'PENDING' THEN
        -- Someone else decided (the reconciler), or the order was cancelled meanwhile.
        RETURN QUERY
            SELECT false, v_status, k.response_status,
                   CASE WHEN k.response_status IN (201, 409, 422) THEN k.response_body
                        ELSE order_json(p_order_id)::text END
            FROM (SELECT NULL) AS one
            LEFT JOIN idempotency_keys k ON k.order_id = p_order_id;
        RETURN;
    END IF;
    IF p_confirmed THEN
        UPDATE orders SET status = 'CONFIRMED', items = p_items, total_cents = p_total_cents, status_reason = NULL,
                          updated_at = now()
        WHERE id = p_order_id;
        v_status := 'CONFIRMED';
    ELSE
        UPDATE orders SET status = 'REJECTED', status_reason = p_reason, updated_at = now() WHERE id = p_order_id;
        v_status := 'REJECTED';
    END IF;
    v_body := order_json(p_order_id)::text;
    UPDATE idempotency_keys k
    SET response_status = CASE WHEN p_confirmed THEN 201 ELSE p_problem_status END,
        response_body = CASE WHEN p_confirmed THEN v_body ELSE p_problem END
    WHERE k.order_id = p_order_id;
    RETURN QUERY SELECT true, v_status, CASE WHEN p_confirmed THEN 201 ELSE p_problem_status END, v_body;
END
$$;
