-- reserve_stock_batch (0004) decided from the reservations it read after locking the batch's products, then inserted
-- the new ones without ON CONFLICT. A release of an unknown id takes no product lock: it inserts a tombstone. When
-- that happened for one of the batch's ids between the read and the insert (a cancel racing the order's reserve,
-- the case DESIGN §2 names), the insert failed with a unique violation and the whole batch answered 500 — every
-- order in it, not only the cancelled one. reserve_stock has always handled the same race (ON CONFLICT, then a
-- replay).
-- Now the insert skips ids that exist by then. If it skipped any, the in-memory decisions no longer hold (the skipped
-- entry's stock would go back to the others), so the rows it did insert are deleted again and the batch is decided
-- entry by entry through reserve_stock, as a batch naming one id twice is. The body is otherwise 0004's, and keeps
-- the plan settings of 0006 and 0007 (a CREATE OR REPLACE without them would drop them).

-- The batch decided entry by entry, each as reserve_stock alone would decide it at that point.
CREATE FUNCTION reserve_stock_each(p_ids uuid[], p_counts integer[], p_skus text[], p_quantities integer[])
RETURNS TABLE (reservation_id uuid, outcome text, body json) LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
DECLARE
    v_first integer := 1;
    v_last  integer;
    r       record;
BEGIN
    FOR i IN 1 .. cardinality(p_ids) LOOP
        v_last := v_first + p_counts[i] - 1;
        SELECT * INTO r FROM reserve_stock(p_ids[i], p_skus[v_first:v_last], p_quantities[v_first:v_last]);
        reservation_id := p_ids[i];
        outcome := r.outcome;
        body := r.body;
        RETURN NEXT;
        v_first := v_last + 1;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION reserve_stock_batch(p_ids uuid[], p_counts integer[], p_skus text[], p_quantities integer[])
RETURNS TABLE (reservation_id uuid, outcome text, body json) LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
DECLARE
    v_n        integer := cardinality(p_ids);
    v_sku      text[];     -- the batch's skus, sorted
    v_avail    integer[];  -- their available stock while the batch is decided in order
    v_existing uuid[];     -- ids that already have a reservation (or a tombstone)
    v_start    integer[];  -- index of entry i's first item in p_skus / p_quantities
    v_outcome  text[];     -- created | replay | insufficient_stock
    v_body     json[];     -- the refusal's body
    v_owner    integer[];  -- the entry of each item
    v_first    integer := 1;
    v_last     integer;
    v_short    integer;
    v_at       integer;
    v_inserted uuid[];     -- the ids the insert wrote (not those a concurrent release wrote first)
    r          record;
BEGIN
    IF cardinality(p_ids) IS DISTINCT FROM cardinality(p_counts)
       OR (SELECT sum(c) FROM unnest(p_counts) AS c) IS DISTINCT FROM cardinality(p_skus)
       OR cardinality(p_skus) IS DISTINCT FROM cardinality(p_quantities) THEN
        RAISE EXCEPTION 'reserve_stock_batch: array lengths do not match' USING ERRCODE = '22023';
    END IF;
    PERFORM 1 FROM products WHERE sku = ANY (p_skus) ORDER BY sku FOR UPDATE;

    IF (SELECT count(DISTINCT x) FROM unnest(p_ids) AS x) <> v_n
       OR EXISTS (SELECT 1 FROM unnest(p_skus) AS q(sku)
                  WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.sku = q.sku)) THEN
        RETURN QUERY SELECT * FROM reserve_stock_each(p_ids, p_counts, p_skus, p_quantities);
        RETURN;
    END IF;

    SELECT array_agg(p.sku ORDER BY p.sku), array_agg(p.available ORDER BY p.sku) INTO v_sku, v_avail
    FROM products p WHERE p.sku = ANY (p_skus);
    v_existing := ARRAY(SELECT x.id FROM reservations x WHERE x.id = ANY (p_ids));
    v_outcome := array_fill(NULL::text, ARRAY[v_n]);
    v_body := array_fill(NULL::json, ARRAY[v_n]);
    v_start := array_fill(0, ARRAY[v_n]);

    FOR i IN 1 .. v_n LOOP
        v_last := v_first + p_counts[i] - 1;
        v_start[i] := v_first;
        IF p_ids[i] = ANY (v_existing) THEN
            v_outcome[i] := 'replay';
        ELSE
            v_short := NULL;
            FOR j IN v_first .. v_last LOOP
                IF v_avail[array_position(v_sku, p_skus[j])] < p_quantities[j]
                   AND (v_short IS NULL OR p_skus[j] < p_skus[v_short]) THEN
                    v_short := j;
                END IF;
            END LOOP;
            IF v_short IS NULL THEN
                v_outcome[i] := 'created';
                FOR j IN v_first .. v_last LOOP
                    v_at := array_position(v_sku, p_skus[j]);
                    v_avail[v_at] := v_avail[v_at] - p_quantities[j];
                END LOOP;
            ELSE
                v_outcome[i] := 'insufficient_stock';
                v_body[i] := json_build_object('sku', p_skus[v_short], 'requested', p_quantities[v_short],
                                               'available', v_avail[array_position(v_sku, p_skus[v_short])]);
            END IF;
        END IF;
        v_first := v_last + 1;
    END LOOP;

    IF 'created' = ANY (v_outcome) THEN
        WITH written AS (
            INSERT INTO reservations (id, status)
            SELECT p_ids[i], 'RESERVED' FROM generate_subscripts(p_ids, 1) AS i WHERE v_outcome[i] = 'created'
            ON CONFLICT (id) DO NOTHING
            RETURNING reservations.id)
        SELECT array_agg(w.id) INTO v_inserted FROM written w;
        IF COALESCE(cardinality(v_inserted), 0)
           <> (SELECT count(*) FROM unnest(v_outcome) AS o WHERE o = 'created') THEN
            DELETE FROM reservations x WHERE x.id = ANY (v_inserted);
            RETURN QUERY SELECT * FROM reserve_stock_each(p_ids, p_counts, p_skus, p_quantities);
            RETURN;
        END IF;
        v_owner := ARRAY(SELECT t.n FROM unnest(p_counts) WITH ORDINALITY AS t(c, n)
                         CROSS JOIN generate_series(1, t.c) ORDER BY t.n);
        INSERT INTO reservation_items (reservation_id, sku, quantity, unit_price_cents)
        SELECT p_ids[q.owner], q.sku, q.qty, p.price_cents
        FROM unnest(v_owner, p_skus, p_quantities) AS q(owner, sku, qty) JOIN products p ON p.sku = q.sku
        WHERE v_outcome[q.owner] = 'created';
        UPDATE products p SET available = d.available, updated_at = now()
        FROM unnest(v_sku, v_avail) AS d(sku, available)
        WHERE p.sku = d.sku AND p.available <> d.available;
    END IF;

    FOR i IN 1 .. v_n LOOP
        reservation_id := p_ids[i];
        IF v_outcome[i] = 'created' THEN
            outcome := 'created';
            body := reservation_json(p_ids[i]);
        ELSIF v_outcome[i] = 'replay' THEN
            SELECT * INTO r FROM reservation_replay(p_ids[i], p_skus[v_start[i]:v_start[i] + p_counts[i] - 1],
                                                    p_quantities[v_start[i]:v_start[i] + p_counts[i] - 1]);
            outcome := r.outcome;
            body := r.body;
        ELSE
            outcome := v_outcome[i];
            body := v_body[i];
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
