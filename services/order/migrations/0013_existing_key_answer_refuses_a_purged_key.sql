-- existing_key_answer (0005) is called when a create's INSERT … ON CONFLICT (key) DO NOTHING met the key. It read
-- the key again in a statement of its own; if the reconciler's purge of keys older than the retention deleted it in
-- between (a client reusing a day-old key at that very moment), it found nothing, and a row of NULLs fell through to
-- the last-but-one branch: 'replay', 202, no order id and no body — a create answered "accepted" while nothing was
-- stored. Now a key that is gone raises a serialization failure (40001): the transaction rolls back, order-service
-- answers 503 "retry with the same Idempotency-Key", and the retry finds the key free and creates the order.
-- Otherwise the function is 0005's, with 0009's plan settings.
CREATE OR REPLACE FUNCTION existing_key_answer(p_key text, p_fingerprint text, p_lease_ms integer)
RETURNS TABLE (outcome text, order_id uuid, response_status integer, body text) LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
DECLARE
    v idempotency_keys%ROWTYPE;
BEGIN
    SELECT * INTO v FROM idempotency_keys k WHERE k.key = p_key;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'existing_key_answer: the idempotency key was purged while this create read it; retry'
            USING ERRCODE = '40001';
    END IF;
    IF v.fingerprint <> p_fingerprint THEN
        RETURN QUERY SELECT 'key_reused'::text, v.order_id, NULL::integer, NULL::text;
    ELSIF v.response_status IS NULL AND v.created_at > now() - p_lease_ms * interval '1 millisecond' THEN
        RETURN QUERY SELECT 'in_flight'::text, v.order_id, NULL::integer, NULL::text;
    ELSIF v.response_status IS NULL OR v.response_status = 202 THEN
        -- Not finished yet (or its handler died): answer with the order as it is now.
        RETURN QUERY SELECT 'replay'::text, v.order_id, 202, order_json(v.order_id)::text;
    ELSE
        RETURN QUERY SELECT 'replay'::text, v.order_id, v.response_status, v.response_body;
    END IF;
END
$$;
