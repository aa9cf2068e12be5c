-- reservation_json was a LANGUAGE sql function. PostgreSQL does not inline it (its SELECT has a FROM), and a
-- non-inlined SQL function is parsed and planned again whenever an expression that calls it is set up: once per
-- reserve batch (its reply bodies), once per call of reserve_stock, commit and release (RETURN QUERY). PL/pgSQL keeps
-- its statement's plan for the whole session. Same query, same snapshot rules (a STABLE function sees the calling
-- statement's snapshot), same answer.
-- pgbench, one client, 2026-12-06: reserve_stock_batch of two entries 1.25 -> 1.04 ms (three alternations each).
CREATE OR REPLACE FUNCTION reservation_json(p_id uuid) RETURNS json LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT json_build_object(
        'reservation_id', r.id,
        'status', r.status,
        'items', COALESCE((SELECT json_agg(json_build_object('sku', i.sku, 'quantity', i.quantity,
                                                             'unit_price_cents', i.unit_price_cents) ORDER BY i.sku)
                           FROM reservation_items i WHERE i.reservation_id = r.id), '[]'::json),
        'total_cents', COALESCE((SELECT sum(i.quantity * i.unit_price_cents)
                                 FROM reservation_items i WHERE i.reservation_id = r.id), 0),
        'created_at', r.created_at,
        'updated_at', r.updated_at)
    FROM reservations r WHERE r.id = p_id);
END
$$;
