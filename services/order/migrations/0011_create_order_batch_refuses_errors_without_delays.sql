-- create_order_batch (0010) read p_errors only together with p_delay_ms: errors given without delays were
-- written as the last_error of intents due when their lease ends, on orders answered 'created' — a deferred
-- create's error on a create that was not deferred. Now that is refused (22023), as unequal array lengths are;
-- delays without errors were refused already (a NULL array counts as a length of its own). Otherwise the function
-- is 0010's, with the same settings (a CREATE OR REPLACE without them would drop 0009's plan settings).
CREATE OR REPLACE FUNCTION create_order_batch(p_keys text[], p_fingerprint_texts text[], p_ids uuid[], p_customer_ids text[],
                                   p_items jsonb[], p_lease_ms integer[], p_delay_ms integer[] DEFAULT NULL,
                                   p_errors text[] DEFAULT NULL)
RETURNS TABLE (ord bigint, outcome text, order_id uuid, response_status integer, body text) LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
DECLARE
    v_deferred boolean := p_delay_ms IS NOT NULL;
    v_created  uuid[];
BEGIN
    IF p_errors IS NOT NULL AND NOT v_deferred THEN
        RAISE EXCEPTION 'create_order_batch: p_errors given without p_delay_ms (only a deferred create has an error)'
            USING ERRCODE = '22023';
    END IF;
    PERFORM require_equal_lengths('create_order_batch', cardinality(p_keys), cardinality(p_fingerprint_texts),
                                  cardinality(p_ids), cardinality(p_customer_ids), cardinality(p_items),
                                  cardinality(p_lease_ms),
                                  CASE WHEN v_deferred THEN cardinality(p_delay_ms) ELSE cardinality(p_keys) END,
                                  CASE WHEN v_deferred THEN cardinality(p_errors) ELSE cardinality(p_keys) END);
    WITH claimed AS (
        INSERT INTO idempotency_keys (key, fingerprint, order_id, response_status)
        SELECT a.key, md5(a.fingerprint), a.id, CASE WHEN v_deferred THEN 202 END
        FROM unnest(p_keys, p_fingerprint_texts, p_ids) AS a(key, fingerprint, id)
        ON CONFLICT (key) DO NOTHING
        RETURNING idempotency_keys.order_id)
    SELECT array_agg(c.order_id) INTO v_created FROM claimed c;
    IF v_created IS NOT NULL THEN
        INSERT INTO orders (id, customer_id, status, items)
        SELECT a.id, a.customer_id, 'PENDING', a.items
        FROM unnest(p_ids, p_customer_ids, p_items) AS a(id, customer_id, items)
        WHERE a.id = ANY (v_created);
        -- unnest pads the absent delay and error arrays with NULLs.
        INSERT INTO inventory_intents (order_id, kind, next_attempt_at, last_error)
        SELECT a.id, 'reserve', now() + (CASE WHEN v_deferred THEN a.delay_ms ELSE a.lease_ms END) * interval '1 millisecond',
               a.error
        FROM unnest(p_ids, p_lease_ms, p_delay_ms, p_errors) AS a(id, lease_ms, delay_ms, error)
        WHERE a.id = ANY (v_created);
        RETURN QUERY
            SELECT n::bigint, CASE WHEN v_deferred THEN 'deferred' ELSE 'created' END, p_ids[n],
                   CASE WHEN v_deferred THEN 202 END, CASE WHEN v_deferred THEN order_json(p_ids[n])::text END
            FROM generate_subscripts(p_ids, 1) AS n WHERE p_ids[n] = ANY (v_created);
    END IF;
    FOR n IN 1 .. cardinality(p_ids) LOOP
        CONTINUE WHEN p_ids[n] = ANY (v_created);
        RETURN QUERY SELECT n::bigint, e.* FROM existing_key_answer(p_keys[n], md5(p_fingerprint_texts[n]), p_lease_ms[n]) AS e;
    END LOOP;
END
$$;
