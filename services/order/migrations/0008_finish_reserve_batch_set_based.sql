-- A batch of finished reservations ran finish_reserve once per order (unnest … CROSS JOIN LATERAL finish_reserve()):
-- six statements each (lock the order, close the intent, update the order, build its JSON, store the key's answer,
-- RETURN QUERY). At 1,080 orders/s it took 0.41 ms a call, most of order_db's time (track_functions, 2026-12-06).
-- finish_reserve_batch does each step once for the batch, with the same rules as finish_reserve (0002):
-- - an order that does not exist gets no row;
-- - the order's pending reserve intent is done in every case;
-- - a PENDING order becomes CONFIRMED (items and total from inventory) or REJECTED (reason), its key stores 201 and
--   the order, or the problem; the row says applied, with that status code and the order's JSON;
-- - an order already decided (by the reconciler, or cancelled meanwhile) is left as it is; the row answers what a
--   replay of its key would (the stored 201/409/422), else the order's JSON.
-- Every statement finds its rows through `= ANY (array)` on the table's own column and takes each row's values from
-- the arrays by array_position, never by joining a table to unnest(): with `= ANY` on both sides of such a join an
-- analyzed plan ran the ANY once per outer row (49 index scans per order). And the function plans without sequential
-- scans (SET enable_seqscan = off): PL/pgSQL keeps generic plans, and those made while the tables were small (a
-- fresh stack) scanned them whole — cheaper for a table of a few pages than ten index probes, ruinous once it has
-- grown, until autovacuum analyzes it and the plans are made again (the first minutes of a fresh stack ran at half
-- speed). Every row this function touches is found through an index.
-- The rows are locked in id order (the caller sorts the batch by id, as before). A batch naming one order twice (a
-- request and the reconciler finishing it together) goes through finish_reserve row by row: the second must see
-- what the first did. It is rare.
CREATE FUNCTION finish_reserve_batch(p_ids uuid[], p_confirmed boolean[], p_items jsonb[], p_total_cents bigint[],
                                     p_reasons text[], p_problem_statuses integer[], p_problems text[])
RETURNS TABLE (ord bigint, applied boolean, status text, response_status integer, body text) LANGUAGE plpgsql
SET enable_seqscan = off AS $$
DECLARE
    v_pending uuid[];
    r         record;
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

    SELECT array_agg(o.id) FILTER (WHERE o.status = 'PENDING') INTO v_pending
    FROM (SELECT o.id, o.status FROM orders o WHERE o.id = ANY (p_ids) ORDER BY o.id FOR UPDATE) AS o;
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
