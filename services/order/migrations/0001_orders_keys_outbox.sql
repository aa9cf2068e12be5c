-- Orders, the idempotency keys that created them, and the outbox of intents toward inventory.
CREATE TABLE orders (
    id            uuid PRIMARY KEY,
    customer_id   text NOT NULL CHECK (length(customer_id) BETWEEN 1 AND 64),
    status        text NOT NULL
                  CHECK (status IN ('PENDING', 'CONFIRMED', 'REJECTED', 'SHIPPING', 'SHIPPED', 'CANCELLED')),
    status_reason text,
    items         jsonb NOT NULL,  -- [{"sku","quantity","unit_price_cents"}]; prices are null until reserved
    total_cents   bigint,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_by_created ON orders (created_at DESC, id DESC);
CREATE INDEX orders_by_status_created ON orders (status, created_at DESC, id DESC);

-- One row per Idempotency-Key. The key is claimed in the transaction that records the order (the foreign key is
-- checked at commit). response_status is null while the first request is still running.
CREATE TABLE idempotency_keys (
    key             text PRIMARY KEY,
    fingerprint     text NOT NULL,
    order_id        uuid NOT NULL REFERENCES orders (id) DEFERRABLE INITIALLY DEFERRED,
    response_status integer,
    response_body   text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_keys_by_order ON idempotency_keys (order_id);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- The outbox: every call that changes inventory is durable here before it is attempted. The reconciler drives each
-- pending intent to a terminal state; next_attempt_at doubles as a lease while a request handler works on it.
CREATE TABLE inventory_intents (
    order_id        uuid NOT NULL REFERENCES orders (id),
    kind            text NOT NULL CHECK (kind IN ('reserve', 'commit', 'release')),
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'cancelled', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, kind)
);
CREATE INDEX inventory_intents_due ON inventory_intents (next_attempt_at) WHERE state = 'pending';

-- The order as the API shows it; json keeps the key order stable.
CREATE FUNCTION order_json(p_id uuid) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', o.id,
        'customer_id', o.customer_id,
        'status', o.status,
        'items', (SELECT json_agg(json_build_object('sku', e->>'sku', 'quantity', (e->>'quantity')::int,
                                                    'unit_price_cents', (e->>'unit_price_cents')::bigint)
                                  ORDER BY e->>'sku')
                  FROM jsonb_array_elements(o.items) AS e),
        'total_cents', o.total_cents,
        'status_reason', o.status_reason,
        'created_at', o.created_at,
        'updated_at', o.updated_at)
    FROM orders o WHERE o.id = p_id
$$;

-- Claims the idempotency key and records the order PENDING with its reserve intent, or tells what the key already
-- holds: key_reused (other body), in_flight (first request still running), replay (stored answer).
CREATE FUNCTION create_order(p_key text, p_fingerprint text, p_order_id uuid, p_customer_id text, p_items jsonb,
                             p_lease_ms integer)
RETURNS TABLE (outcome text, order_id uuid, response_status integer, body text) LANGUAGE plpgsql AS $$
DECLARE
    v idempotency_keys%ROWTYPE;
BEGIN
    INSERT INTO idempotency_keys (key, fingerprint, order_id) VALUES (p_key, p_fingerprint, p_order_id)
    ON CONFLICT (key) DO NOTHING;
    IF NOT FOUND THEN
        SELECT * INTO v FROM idempotency_keys k WHERE k.key = p_key;
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
        RETURN;
    END IF;
    INSERT INTO orders (id, customer_id, status, items) VALUES (p_order_id, p_customer_id, 'PENDING', p_items);
    INSERT INTO inventory_intents (order_id, kind, next_attempt_at)
    VALUES (p_order_id, 'reserve', now() + p_lease_ms * interval '1 millisecond');
    RETURN QUERY SELECT 'created'::text, p_order_id, NULL::integer, NULL::text;
END
$$;

-- Records the decided outcome of a reservation: CONFIRMED with prices, or REJECTED with the problem to replay.
-- Only a PENDING order changes; anything else (already finished, cancelled meanwhile) is left as it is.
CREATE FUNCTION finish_reserve(p_order_id uuid, p_confirmed boolean, p_items jsonb, p_total_cents bigint,
                               p_reason text, p_problem_status integer, p_problem text)
RETURNS TABLE (applied boolean, status text, body text) LANGUAGE plpgsql AS $$
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
        RETURN QUERY SELECT false, v_status, order_json(p_order_id)::text;
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
    RETURN QUERY SELECT true, v_status, v_body;
END
$$;

-- A reserve that could not be decided in time: the order stays PENDING, the reconciler retries after p_delay_ms.
CREATE FUNCTION defer_intent(p_order_id uuid, p_kind text, p_error text, p_delay_ms integer)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    UPDATE inventory_intents
    SET next_attempt_at = now() + p_delay_ms * interval '1 millisecond', last_error = p_error, updated_at = now()
    WHERE order_id = p_order_id AND kind = p_kind AND state = 'pending';
    IF p_kind = 'reserve' THEN
        UPDATE idempotency_keys SET response_status = 202 WHERE order_id = p_order_id AND response_status IS NULL;
    END IF;
    RETURN order_json(p_order_id)::text;
END
$$;

-- An intent inventory refused for good (e.g. commit of an unknown reservation): stop retrying, keep the evidence.
CREATE FUNCTION fail_intent(p_order_id uuid, p_kind text, p_error text) RETURNS void LANGUAGE sql AS $$
    UPDATE inventory_intents SET state = 'failed', last_error = p_error, updated_at = now()
    WHERE order_id = p_order_id AND kind = p_kind AND state = 'pending';
    UPDATE orders SET status_reason = 'inventory refused ' || p_kind || ': ' || p_error, updated_at = now()
    WHERE id = p_order_id;
$$;

-- CONFIRMED -> SHIPPING with a commit intent. Outcomes: started, shipping (already on its way), shipped,
-- not_found, invalid_transition.
CREATE FUNCTION start_ship(p_order_id uuid, p_lease_ms integer)
RETURNS TABLE (outcome text, body text) LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
BEGIN
    SELECT o.status INTO v_status FROM orders o WHERE o.id = p_order_id FOR UPDATE;
    IF v_status IS NULL THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::text;
    ELSIF v_status = 'SHIPPED' THEN
        RETURN QUERY SELECT 'shipped'::text, order_json(p_order_id)::text;
    ELSIF v_status = 'SHIPPING' THEN
        RETURN QUERY SELECT 'shipping'::text, order_json(p_order_id)::text;
    ELSIF v_status = 'CONFIRMED' THEN
        UPDATE orders SET status = 'SHIPPING', updated_at = now() WHERE id = p_order_id;
        INSERT INTO inventory_intents (order_id, kind, next_attempt_at)
        VALUES (p_order_id, 'commit', now() + p_lease_ms * interval '1 millisecond');
        RETURN QUERY SELECT 'started'::text, order_json(p_order_id)::text;
    ELSE
        RETURN QUERY SELECT 'invalid_transition'::text, order_json(p_order_id)::text;
    END IF;
END
$$;

-- The commit reached inventory: SHIPPING -> SHIPPED.
CREATE FUNCTION finish_ship(p_order_id uuid) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    UPDATE inventory_intents SET state = 'done', updated_at = now()
    WHERE order_id = p_order_id AND kind = 'commit' AND state = 'pending';
    UPDATE orders SET status = 'SHIPPED', updated_at = now() WHERE id = p_order_id AND status = 'SHIPPING';
    RETURN order_json(p_order_id)::text;
END
$$;

-- PENDING|CONFIRMED -> CANCELLED with a release intent (a release before its reserve leaves a tombstone in
-- inventory, so a late reserve can never take stock). Outcomes: cancelled, already_cancelled, not_found,
-- invalid_transition.
CREATE FUNCTION cancel_order(p_order_id uuid, p_lease_ms integer)
RETURNS TABLE (outcome text, body text) LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
BEGIN
    SELECT o.status INTO v_status FROM orders o WHERE o.id = p_order_id FOR UPDATE;
    IF v_status IS NULL THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::text;
    ELSIF v_status = 'CANCELLED' THEN
        RETURN QUERY SELECT 'already_cancelled'::text, order_json(p_order_id)::text;
    ELSIF v_status IN ('PENDING', 'CONFIRMED') THEN
        UPDATE orders SET status = 'CANCELLED', status_reason = 'cancelled on request', updated_at = now()
        WHERE id = p_order_id;
        UPDATE inventory_intents SET state = 'cancelled', updated_at = now()
        WHERE order_id = p_order_id AND kind = 'reserve' AND state = 'pending';
        INSERT INTO inventory_intents (order_id, kind, next_attempt_at)
        VALUES (p_order_id, 'release', now() + p_lease_ms * interval '1 millisecond')
        ON CONFLICT DO NOTHING;
        RETURN QUERY SELECT 'cancelled'::text, order_json(p_order_id)::text;
    ELSE
        RETURN QUERY SELECT 'invalid_transition'::text, order_json(p_order_id)::text;
    END IF;
END
$$;

CREATE FUNCTION finish_release(p_order_id uuid) RETURNS void LANGUAGE sql AS $$
    UPDATE inventory_intents SET state = 'done', updated_at = now()
    WHERE order_id = p_order_id AND kind = 'release' AND state = 'pending';
$$;
