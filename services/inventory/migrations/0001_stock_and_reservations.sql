-- Stock per SKU: on_hand is physically in the warehouse, available is not reserved.
CREATE TABLE products (
    sku         text PRIMARY KEY CHECK (length(sku) BETWEEN 1 AND 64),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    price_cents bigint NOT NULL CHECK (price_cents >= 0),
    on_hand     integer NOT NULL CHECK (on_hand >= 0),
    available   integer NOT NULL CHECK (available >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT available_within_on_hand CHECK (available <= on_hand)
);

-- A reservation holds stock for one order (reservation id = order id). A tombstone is a release that arrived before
-- its reservation: it keeps a late reserve with that id from ever taking stock.
CREATE TABLE reservations (
    id         uuid PRIMARY KEY,
    status     text NOT NULL CHECK (status IN ('RESERVED', 'COMMITTED', 'RELEASED')),
    tombstone  boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT tombstone OR status = 'RELEASED')
);

CREATE TABLE reservation_items (
    reservation_id   uuid NOT NULL REFERENCES reservations (id),
    sku              text NOT NULL REFERENCES products (sku),
    quantity         integer NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    unit_price_cents bigint NOT NULL CHECK (unit_price_cents >= 0),
    PRIMARY KEY (reservation_id, sku)
);
CREATE INDEX reservation_items_by_sku ON reservation_items (sku);

-- The reply body of a reservation, built in one place so a replay answers exactly what the first call answered
-- (json, not jsonb, keeps the key order).
CREATE FUNCTION reservation_json(p_id uuid) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'reservation_id', r.id,
        'status', r.status,
        'items', COALESCE((SELECT json_agg(json_build_object('sku', i.sku, 'quantity', i.quantity,
                                                             'unit_price_cents', i.unit_price_cents) ORDER BY i.sku)
                           FROM reservation_items i WHERE i.reservation_id = r.id), '[]'::json),
        'total_cents', COALESCE((SELECT sum(i.quantity * i.unit_price_cents)
                                 FROM reservation_items i WHERE i.reservation_id = r.id), 0),
        'created_at', r.created_at,
        'updated_at', r.updated_at)
    FROM reservations r WHERE r.id = p_id
$$;

-- The answer to a reserve whose id already exists: a replay of the same items, a mismatch, or a released one.
CREATE FUNCTION reservation_replay(p_id uuid, p_skus text[], p_quantities integer[])
RETURNS TABLE (outcome text, body json) LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_status text;
    v_same   boolean;
BEGIN
    SELECT r.status INTO v_status FROM reservations r WHERE r.id = p_id;
    IF v_status = 'RELEASED' THEN
        RETURN QUERY SELECT 'reservation_released'::text, reservation_json(p_id);
        RETURN;
    END IF;
    SELECT (SELECT count(*) FROM reservation_items i WHERE i.reservation_id = p_id) = cardinality(p_skus)
           AND NOT EXISTS (SELECT 1 FROM unnest(p_skus, p_quantities) AS q(sku, qty)
                           WHERE NOT EXISTS (SELECT 1 FROM reservation_items i
                                             WHERE i.reservation_id = p_id AND i.sku = q.sku AND i.quantity = q.qty))
      INTO v_same;
    IF v_same THEN
        RETURN QUERY SELECT 'replayed'::text, reservation_json(p_id);
    ELSE
        RETURN QUERY SELECT 'reservation_mismatch'::text, reservation_json(p_id);
    END IF;
END
$$;

-- Reserve stock for a reservation in one round trip. Product rows are locked in sku order, so concurrent
-- reservations never deadlock; the reservation id makes it idempotent.
CREATE FUNCTION reserve_stock(p_id uuid, p_skus text[], p_quantities integer[])
RETURNS TABLE (outcome text, body json) LANGUAGE plpgsql AS $$
DECLARE
    v_missing text;
    v_short   record;
BEGIN
    IF EXISTS (SELECT 1 FROM reservations WHERE id = p_id) THEN
        RETURN QUERY SELECT * FROM reservation_replay(p_id, p_skus, p_quantities);
        RETURN;
    END IF;

    PERFORM 1 FROM products WHERE sku = ANY (p_skus) ORDER BY sku FOR UPDATE;

    -- A duplicate of this request may have committed while we waited for the locks.
    IF EXISTS (SELECT 1 FROM reservations WHERE id = p_id) THEN
        RETURN QUERY SELECT * FROM reservation_replay(p_id, p_skus, p_quantities);
        RETURN;
    END IF;

    SELECT q.sku INTO v_missing FROM unnest(p_skus) AS q(sku)
    WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.sku = q.sku) ORDER BY q.sku LIMIT 1;
    IF FOUND THEN
        RETURN QUERY SELECT 'unknown_sku'::text, json_build_object('sku', v_missing);
        RETURN;
    END IF;

    SELECT q.sku, q.qty, p.available INTO v_short
    FROM unnest(p_skus, p_quantities) AS q(sku, qty) JOIN products p ON p.sku = q.sku
    WHERE p.available < q.qty ORDER BY q.sku LIMIT 1;
    IF FOUND THEN
        RETURN QUERY SELECT 'insufficient_stock'::text,
                            json_build_object('sku', v_short.sku, 'requested', v_short.qty,
                                              'available', v_short.available);
        RETURN;
    END IF;

    INSERT INTO reservations (id, status) VALUES (p_id, 'RESERVED') ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN QUERY SELECT * FROM reservation_replay(p_id, p_skus, p_quantities);
        RETURN;
    END IF;
    INSERT INTO reservation_items (reservation_id, sku, quantity, unit_price_cents)
    SELECT p_id, q.sku, q.qty, p.price_cents
    FROM unnest(p_skus, p_quantities) AS q(sku, qty) JOIN products p ON p.sku = q.sku;
    UPDATE products p SET available = p.available - q.qty, updated_at = now()
    FROM unnest(p_skus, p_quantities) AS q(sku, qty) WHERE p.sku = q.sku;
    RETURN QUERY SELECT 'created'::text, reservation_json(p_id);
END
$$;

-- RESERVED -> COMMITTED: the stock leaves the warehouse. Idempotent.
CREATE FUNCTION commit_reservation(p_id uuid)
RETURNS TABLE (outcome text, body json) LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
BEGIN
    SELECT r.status INTO v_status FROM reservations r WHERE r.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::json;
        RETURN;
    END IF;
    IF v_status = 'COMMITTED' THEN
        RETURN QUERY SELECT 'unchanged'::text, reservation_json(p_id);
        RETURN;
    END IF;
    IF v_status = 'RELEASED' THEN
        RETURN QUERY SELECT 'invalid_transition'::text, reservation_json(p_id);
        RETURN;
    END IF;
    PERFORM 1 FROM products p JOIN reservation_items i ON i.sku = p.sku
    WHERE i.reservation_id = p_id ORDER BY p.sku FOR UPDATE OF p;
    UPDATE products p SET on_hand = p.on_hand - i.quantity, updated_at = now()
    FROM reservation_items i WHERE i.reservation_id = p_id AND i.sku = p.sku;
    UPDATE reservations SET status = 'COMMITTED', updated_at = now() WHERE id = p_id;
    RETURN QUERY SELECT 'committed'::text, reservation_json(p_id);
END
$$;

-- RESERVED -> RELEASED: the stock is available again. Idempotent. Releasing an unknown id leaves a tombstone.
CREATE FUNCTION release_reservation(p_id uuid)
RETURNS TABLE (outcome text, body json) LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
BEGIN
    SELECT r.status INTO v_status FROM reservations r WHERE r.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO reservations (id, status, tombstone) VALUES (p_id, 'RELEASED', true) ON CONFLICT (id) DO NOTHING;
        IF FOUND THEN
            RETURN QUERY SELECT 'tombstoned'::text, reservation_json(p_id);
            RETURN;
        END IF;
        -- A reserve with this id committed first: release it like any other.
        SELECT r.status INTO v_status FROM reservations r WHERE r.id = p_id FOR UPDATE;
    END IF;
    IF v_status = 'RELEASED' THEN
        RETURN QUERY SELECT 'unchanged'::text, reservation_json(p_id);
        RETURN;
    END IF;
    IF v_status = 'COMMITTED' THEN
        RETURN QUERY SELECT 'invalid_transition'::text, reservation_json(p_id);
        RETURN;
    END IF;
    PERFORM 1 FROM products p JOIN reservation_items i ON i.sku = p.sku
    WHERE i.reservation_id = p_id ORDER BY p.sku FOR UPDATE OF p;
    UPDATE products p SET available = p.available + i.quantity, updated_at = now()
    FROM reservation_items i WHERE i.reservation_id = p_id AND i.sku = p.sku;
    UPDATE reservations SET status = 'RELEASED', updated_at = now() WHERE id = p_id;
    RETURN QUERY SELECT 'released'::text, reservation_json(p_id);
END
$$;
