-- Several reservations in one transaction, so they share one commit (the caller's group commit). The product rows
-- of the whole batch are locked first, in sku order, so a batch never deadlocks with another batch or a single
-- reservation. Reservation i has p_counts[i] items, stored one after the other in p_skus / p_quantities.
--
-- Outcomes are those of reserve_stock called for each reservation in array order. When every id is new and
-- distinct, every sku exists and the stock covers the whole batch, no reservation's outcome depends on another's:
-- all are created by a few set-based statements. Otherwise (a replay, a refusal, stock for only some) each
-- reservation is decided by reserve_stock in turn, exactly as if it had come alone.
CREATE FUNCTION reserve_stock_batch(p_ids uuid[], p_counts integer[], p_skus text[], p_quantities integer[])
RETURNS TABLE (reservation_id uuid, outcome text, body json) LANGUAGE plpgsql AS $$
DECLARE
    v_owner uuid[];  -- the reservation of each item
    v_first integer := 1;
    v_last  integer;
    r       record;
BEGIN
    IF cardinality(p_ids) IS DISTINCT FROM cardinality(p_counts)
       OR (SELECT sum(c) FROM unnest(p_counts) AS c) IS DISTINCT FROM cardinality(p_skus)
       OR cardinality(p_skus) IS DISTINCT FROM cardinality(p_quantities) THEN
        RAISE EXCEPTION 'reserve_stock_batch: array lengths do not match' USING ERRCODE = '22023';
    END IF;
    PERFORM 1 FROM products WHERE sku = ANY (p_skus) ORDER BY sku FOR UPDATE;

    v_owner := ARRAY(SELECT t.id FROM unnest(p_ids, p_counts) WITH ORDINALITY AS t(id, c, n)
                     CROSS JOIN generate_series(1, t.c) ORDER BY t.n);
    IF (SELECT count(DISTINCT x) FROM unnest(p_ids) AS x) = cardinality(p_ids)
       AND NOT EXISTS (SELECT 1 FROM reservations WHERE id = ANY (p_ids))
       AND NOT EXISTS (SELECT 1
                       FROM (SELECT q.sku, sum(q.qty) AS qty FROM unnest(p_skus, p_quantities) AS q(sku, qty)
                             GROUP BY q.sku) AS d
                       LEFT JOIN products p ON p.sku = d.sku
                       WHERE p.sku IS NULL OR p.available < d.qty) THEN
        INSERT INTO reservations (id, status) SELECT x, 'RESERVED' FROM unnest(p_ids) AS x;
        INSERT INTO reservation_items (reservation_id, sku, quantity, unit_price_cents)
        SELECT q.owner, q.sku, q.qty, p.price_cents
        FROM unnest(v_owner, p_skus, p_quantities) AS q(owner, sku, qty) JOIN products p ON p.sku = q.sku;
        UPDATE products p SET available = p.available - d.qty, updated_at = now()
        FROM (SELECT q.sku, sum(q.qty) AS qty FROM unnest(p_skus, p_quantities) AS q(sku, qty) GROUP BY q.sku) AS d
        WHERE p.sku = d.sku;
        RETURN QUERY SELECT t.id, 'created'::text, reservation_json(t.id)
                     FROM unnest(p_ids) WITH ORDINALITY AS t(id, n) ORDER BY t.n;
        RETURN;
    END IF;

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
