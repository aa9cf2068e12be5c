-- A create while the breaker is open: claim the key, insert the order and its reserve intent, and record the
-- deferral (retry after p_delay_ms, the 202 answer for the key) in one transaction — one commit instead of two.
-- Built from create_order and defer_intent, so the rules stay in one place.
CREATE FUNCTION create_order_deferred(p_key text, p_fingerprint text, p_order_id uuid, p_customer_id text,
                                      p_items jsonb, p_lease_ms integer, p_delay_ms integer, p_error text)
RETURNS TABLE (outcome text, order_id uuid, response_status integer, body text) LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    SELECT * INTO r FROM create_order(p_key, p_fingerprint, p_order_id, p_customer_id, p_items, p_lease_ms);
    IF r.outcome <> 'created' THEN
        RETURN QUERY SELECT r.outcome, r.order_id, r.response_status, r.body;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'deferred'::text, p_order_id, 202, defer_intent(p_order_id, 'reserve', p_error, p_delay_ms);
END
$$;
