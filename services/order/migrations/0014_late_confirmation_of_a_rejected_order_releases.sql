-- Two gaps in the outcome of a create whose reserve was decided by two parties (the request and the reconciler, once
-- the request's lease on the intent had run out), found by a review on 2026-12-07:
--
-- 1. A REJECTED order could keep stock reserved for ever. The request was refused (insufficient_stock) and its
--    finish_reserve came late; meanwhile the reconciler retried the reserve with the same id, stock had been freed,
--    and inventory reserved it (inventory does not remember refusals). The REJECTED outcome committed first, so the
--    reconciler's confirmation was "already decided" and nothing ever released that reservation: DESIGN §3 says a
--    REJECTED order holds no stock. Now a confirmation that arrives for a REJECTED order queues a release intent
--    (due at once), which the reconciler drives like any other. The order stays REJECTED: its client was told so.
--    finish_reserve and finish_reserve_batch (0002, 0008) get this and nothing else; the batch learns which orders
--    are REJECTED from the row lock it already takes, so the usual batch runs no extra statement.
--
-- 2. A create whose order was cancelled before its reserve was decided answered 202 with the cancelled order, but
--    stored no answer for its key, so for the rest of the lease a replay of that key was told 409 "in flight" (its
--    first request had long answered). existing_key_answer (0013) no longer reports "in flight" for a cancelled
--    order; a replay gets what the first request got: 202 and the order as it is.
--
-- Each function keeps its plan settings (0009): CREATE OR REPLACE without a SET clause would drop them.

CREATE OR REPLACE FUNCTION finish_reserve(p_order_id uuid, p_confirmed boolean, p_items jsonb, p_total_cents bigint,
                                          p_reason text, p_problem_status integer, p_problem text)
RETURNS TABLE (applied boolean, status text, response_status integer, body text) LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
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
        IF p_confirmed AND v_status = 'REJECTED' THEN
            INSERT INTO inventory_intents (order_id, kind) VALUES (p_order_id, 'release') ON CONFLICT DO NOTHING;
        END IF;
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

CREATE OR REPLACE FUNCTION finish_reserve_batch(p_ids uuid[], p_confirmed boolean[], p_items jsonb[],
                                                p_total_cents bigint[], p_reasons text[], p_problem_statuses integer[],
                                                p_problems text[])
RETURNS TABLE (ord bigint, applied boolean, status text, response_status integer, body text) LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
DECLARE
    v_pending  uuid[];
    v_rejected uuid[];
    r          record;
BEGIN
    PERFORM require_equal_lengths('finish_reserve_batch', cardinality(p_ids), cardinality(p_confirmed),
                                  cardinality(p_items), cardinality(p_total_cents), cardinality(p_reasons),
                                  cardinality(p_problem_statuses), cardinality(p_problems));
    IF (SELECT count(DISTINCT x) FROM unnest(p_ids) AS x) <> cardinality(p_ids) THEN
        FOR n IN 1 .. cardinality(p_ids) LOOP
            FOR r IN SELECT * FROM finish_reserve(p_ids[n], p_confirmed[n], p_items[n], p_total_cents[n], p_reasons[n],
                                                  p_problem_statuses[n], p_problems[n]) LOOP
                ord := n;
                applied := r.applied;
                status := r.status;
                response_status := r.response_status;
                body := r.body;
                RETURN NEXT;
            END LOOP;
        END LOOP;
        RETURN;
    END IF;

    SELECT array_agg(o.id) FILTER (WHERE o.status = 'PENDING'),
           array_agg(o.id) FILTER (WHERE o.status = 'REJECTED' AND p_confirmed[array_position(p_ids, o.id)])
    INTO v_pending, v_rejected
    FROM (SELECT o.id, o.status FROM orders o WHERE o.id = ANY (p_ids) ORDER BY o.id FOR UPDATE) AS o;
    IF v_rejected IS NOT NULL THEN
        INSERT INTO inventory_intents (order_id, kind) SELECT x, 'release' FROM unnest(v_rejected) AS x
        ON CONFLICT DO NOTHING;
    END IF;
    UPDATE inventory_intents i SET state = 'done', updated_at = now()
    WHERE i.order_id = ANY (p_ids) AND i.kind = 'reserve' AND i.state = 'pending';
    IF v_pending IS NOT NULL THEN
        UPDATE orders o
        SET status = CASE WHEN p_confirmed[array_position(p_ids, o.id)] THEN 'CONFIRMED' ELSE 'REJECTED' END,
            items = CASE WHEN p_confirmed[array_position(p_ids, o.id)] THEN p_items[array_position(p_ids, o.id)]
                         ELSE o.items END,
            total_cents = CASE WHEN p_confirmed[array_position(p_ids, o.id)]
                               THEN p_total_cents[array_position(p_ids, o.id)] ELSE o.total_cents END,
            status_reason = CASE WHEN p_confirmed[array_position(p_ids, o.id)] THEN NULL
                                 ELSE p_reasons[array_position(p_ids, o.id)] END,
            updated_at = now()
        WHERE o.id = ANY (v_pending);
        UPDATE idempotency_keys k
        SET response_status = CASE WHEN p_confirmed[array_position(p_ids, k.order_id)] THEN 201
                                   ELSE p_problem_statuses[array_position(p_ids, k.order_id)] END,
            response_body = CASE WHEN p_confirmed[array_position(p_ids, k.order_id)] THEN order_json(k.order_id)::text
                                 ELSE p_problems[array_position(p_ids, k.order_id)] END
        WHERE k.order_id = ANY (v_pending);
    END IF;
    RETURN QUERY
        SELECT a.n, a.applied, a.status,
               CASE WHEN a.applied THEN CASE WHEN p_confirmed[a.n] THEN 201 ELSE p_problem_statuses[a.n] END
                    ELSE k.response_status END,
               CASE WHEN a.applied THEN COALESCE(CASE WHEN p_confirmed[a.n] THEN k.response_body END,
                                                 order_json(a.id)::text)
                    WHEN k.response_status IN (201, 409, 422) THEN k.response_body
                    ELSE order_json(a.id)::text END
        FROM (SELECT o.id, o.status, array_position(p_ids, o.id)::bigint AS n,
                     o.id = ANY (COALESCE(v_pending, '{}')) AS applied
              FROM orders o WHERE o.id = ANY (p_ids)) AS a
        LEFT JOIN LATERAL (SELECT k.response_status, k.response_body FROM idempotency_keys k
                           WHERE k.order_id = a.id LIMIT 1) AS k ON true;
END
$$;

CREATE OR REPLACE FUNCTION existing_key_answer(p_key text, p_fingerprint text, p_lease_ms integer)
RETURNS TABLE (outcome text, order_id uuid, response_status integer, body text) LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
DECLARE
    v            idempotency_keys%ROWTYPE;
    v_cancelled  boolean;
BEGIN
    -- The key and its order in one statement, so one snapshot: finish_reserve stores the answer and decides the
    -- order in one transaction, and a second statement could see the order decided but not the key's answer.
    SELECT k.*, o.status = 'CANCELLED' INTO v.key, v.fingerprint, v.order_id, v.response_status, v.response_body,
                                            v.created_at, v_cancelled
    FROM idempotency_keys k LEFT JOIN orders o ON o.id = k.order_id WHERE k.key = p_key;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'existing_key_answer: the idempotency key was purged while this create read it; retry'
            USING ERRCODE = '40001';
    END IF;
    IF v.fingerprint <> p_fingerprint THEN
        RETURN QUERY SELECT 'key_reused'::text, v.order_id, NULL::integer, NULL::text;
    ELSIF v.response_status IS NULL AND v.created_at > now() - p_lease_ms * interval '1 millisecond'
          AND NOT coalesce(v_cancelled, false) THEN
        RETURN QUERY SELECT 'in_flight'::text, v.order_id, NULL::integer, NULL::text;
    ELSIF v.response_status IS NULL OR v.response_status = 202 THEN
        -- Not finished yet (its handler died), or cancelled before its reserve was decided: the order as it is now.
        RETURN QUERY SELECT 'replay'::text, v.order_id, 202, order_json(v.order_id)::text;
    ELSE
        RETURN QUERY SELECT 'replay'::text, v.order_id, v.response_status, v.response_body;
    END IF;
END
$$;
