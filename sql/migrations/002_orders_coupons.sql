-- Orders, payment, coupons and the outbox of events for the data platform.
--
-- The three order transactions (create, pay, cancel) and the expiry sweep
-- are SQL functions: each is one round trip and one transaction, and the
-- lock order is written down once, here:
--
--     orders (by id) -> products (by id) -> user_coupons -> users
--
-- Order creation takes products only; payment takes the order, then the
-- user coupon, then the user; cancel and expiry take the order, then the
-- products in id order, then the coupon and the user.  No function takes
-- them in another order, so no deadlock reaches a client (and the module
-- retries 40P01 anyway).
--
-- Functions answer with an outcome code (the API's error codes) instead of
-- raising, so a business refusal is an ordinary result, and a FAILED order
-- is committed with its status.

CREATE TABLE orders (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id          bigint NOT NULL REFERENCES users (id),
    status           text NOT NULL CHECK (status IN
                        ('AWAITING_PAYMENT', 'FAILED', 'PAID', 'CANCELLED', 'EXPIRED')),
    failure_reason   text,
    total_amount     bigint NOT NULL CHECK (total_amount >= 0),
    discount_amount  bigint NOT NULL DEFAULT 0 CHECK (discount_amount >= 0),
    paid_amount      bigint NOT NULL DEFAULT 0 CHECK (paid_amount >= 0),
    user_coupon_id   bigint,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz,
    paid_at          timestamptz,
    cancelled_at     timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_user_id ON orders (user_id, id DESC);
CREATE INDEX orders_awaiting_expiry ON orders (expires_at)
    WHERE status = 'AWAITING_PAYMENT';

CREATE TABLE order_items (
    order_id    bigint NOT NULL REFERENCES orders (id),
    product_id  bigint NOT NULL REFERENCES products (id),
    quantity    bigint NOT NULL CHECK (quantity > 0),
    unit_price  bigint NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (order_id, product_id)
);

CREATE TABLE coupons (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    discount_type     text NOT NULL CHECK (discount_type IN ('FIXED', 'RATE')),
    discount_value    bigint NOT NULL CHECK (discount_value > 0),
    max_discount      bigint CHECK (max_discount > 0),
    min_order_amount  bigint NOT NULL DEFAULT 0 CHECK (min_order_amount >= 0),
    total_quantity    int NOT NULL CHECK (total_quantity BETWEEN 1 AND 1000000),
    issue_starts_at   timestamptz NOT NULL,
    issue_ends_at     timestamptz NOT NULL,
    valid_days        int NOT NULL CHECK (valid_days BETWEEN 1 AND 3650),
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (issue_starts_at < issue_ends_at),
    CHECK (discount_type = 'FIXED' OR discount_value <= 100)
);

-- First come, first served without a hot row: one row per issuable coupon.
-- An issue claims any free row with FOR UPDATE SKIP LOCKED, so concurrent
-- issues of one campaign take different rows instead of queueing on a
-- counter.  The count is exact because every issued coupon holds one row.
CREATE TABLE coupon_slots (
    coupon_id  bigint NOT NULL REFERENCES coupons (id),
    slot       int NOT NULL,
    user_id    bigint,
    PRIMARY KEY (coupon_id, slot)
);
CREATE INDEX coupon_slots_free ON coupon_slots (coupon_id, slot)
    WHERE user_id IS NULL;

-- EXPIRED is not stored: an AVAILABLE coupon past expires_at reads EXPIRED.
CREATE TABLE user_coupons (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    coupon_id   bigint NOT NULL REFERENCES coupons (id),
    user_id     bigint NOT NULL REFERENCES users (id),
    status      text NOT NULL DEFAULT 'AVAILABLE' CHECK (status IN ('AVAILABLE', 'USED')),
    order_id    bigint,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    UNIQUE (coupon_id, user_id)
);
CREATE INDEX user_coupons_user_id ON user_coupons (user_id, id DESC);

-- Events for the data platform, written in the same transaction as the
-- payment or refund they describe; a relay delivers them at least once.
CREATE TABLE outbox (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    type             text NOT NULL CHECK (type IN ('ORDER_PAID', 'ORDER_CANCELLED')),
    order_id         bigint NOT NULL REFERENCES orders (id),
    payload          jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    attempts         int NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    last_error       text
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE delivered_at IS NULL;

-- The discount of a coupon on an order total: FIXED takes the value off,
-- RATE takes value percent (rounded down) capped by max_discount; never
-- more than the total.
CREATE FUNCTION shop_discount(p_type text, p_value bigint, p_max bigint,
                              p_total bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT least(p_total,
                 CASE WHEN p_type = 'FIXED' THEN p_value
                      ELSE least(coalesce(p_max, p_total), p_total * p_value / 100)
                 END)
$$;

-- An order's items as JSON, for responses and events.
CREATE FUNCTION shop_order_items(p_order_id bigint) RETURNS json
    LANGUAGE sql STABLE
AS $$
    SELECT coalesce(json_agg(json_build_object('product_id', product_id,
                              'quantity', quantity, 'unit_price', unit_price)
                              ORDER BY product_id), '[]'::json)
      FROM order_items WHERE order_id = p_order_id
$$;

-- The order as the API shows it.
CREATE FUNCTION shop_order_json(o orders) RETURNS json
    LANGUAGE sql STABLE
AS $$
    SELECT json_build_object(
        'order_id', o.id, 'user_id', o.user_id, 'status', o.status,
        'total_amount', o.total_amount, 'discount_amount', o.discount_amount,
        'paid_amount', o.paid_amount, 'user_coupon_id', o.user_coupon_id,
        'items', shop_order_items(o.id),
        'created_at', shop_ts(o.created_at), 'expires_at', shop_ts(o.expires_at),
        'paid_at', shop_ts(o.paid_at), 'cancelled_at', shop_ts(o.cancelled_at))
$$;

CREATE FUNCTION shop_event(p_type text, o orders) RETURNS void
    LANGUAGE sql
AS $$
    INSERT INTO outbox (event_id, type, order_id, payload)
    SELECT e, p_type, o.id, json_build_object(
               'event_id', e, 'type', p_type, 'order_id', o.id,
               'user_id', o.user_id, 'items', shop_order_items(o.id),
               'total_amount', o.total_amount,
               'discount_amount', o.discount_amount,
               'paid_amount', o.paid_amount, 'paid_at', shop_ts(o.paid_at),
               'cancelled_at', shop_ts(o.cancelled_at))
      FROM gen_random_uuid() AS e
$$;

-- Puts the stock of orders' items back.  The products of all the orders
-- are locked at once, in id order, before any stock moves: locking them
-- order by order would take them out of id order across several orders
-- and could deadlock with order creation.
CREATE FUNCTION shop_release_stock(p_order_ids bigint[]) RETURNS void
    LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM 1 FROM products
      WHERE id IN (SELECT product_id FROM order_items WHERE order_id = ANY (p_order_ids))
      ORDER BY id FOR UPDATE;
    UPDATE products p SET stock = p.stock + r.quantity, updated_at = now()
      FROM (SELECT product_id, sum(quantity) AS quantity FROM order_items
             WHERE order_id = ANY (p_order_ids) GROUP BY product_id) r
     WHERE p.id = r.product_id;
END
$$;

-- Creates an order: recorded first, then its status says what happened.
-- Items come as two arrays sorted by product id (the module sorts them and
-- refuses duplicates).  Outcomes: OK, OUT_OF_STOCK (order FAILED, still
-- committed), PRODUCT_NOT_FOUND, USER_NOT_FOUND (nothing recorded).
CREATE FUNCTION shop_create_order(p_user_id bigint, p_product_ids bigint[],
                                  p_quantities bigint[], p_hold interval,
                                  OUT outcome text, OUT detail json)
    LANGUAGE plpgsql
AS $$
DECLARE
    v_order orders;
    v_found int;
    v_short bigint[];
    v_total bigint;
BEGIN
    PERFORM 1 FROM users WHERE id = p_user_id;
    IF NOT FOUND THEN
        outcome := 'USER_NOT_FOUND';
        RETURN;
    END IF;

    -- The global lock order: products by id.
    PERFORM 1 FROM products WHERE id = ANY (p_product_ids) AND on_sale
      ORDER BY id FOR UPDATE;
    GET DIAGNOSTICS v_found = ROW_COUNT;
    IF v_found <> cardinality(p_product_ids) THEN
        outcome := 'PRODUCT_NOT_FOUND';
        SELECT json_build_object('product_ids', json_agg(x)) INTO detail
          FROM unnest(p_product_ids) AS x
         WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.id = x AND p.on_sale);
        RETURN;
    END IF;

    SELECT sum(p.price * w.qty),
           array_agg(p.id ORDER BY p.id) FILTER (WHERE p.stock < w.qty)
      INTO v_total, v_short
      FROM unnest(p_product_ids, p_quantities) AS w (id, qty)
      JOIN products p ON p.id = w.id;

    INSERT INTO orders (user_id, status, total_amount)
    VALUES (p_user_id, 'FAILED', v_total) RETURNING * INTO v_order;
    INSERT INTO order_items (order_id, product_id, quantity, unit_price)
    SELECT v_order.id, p.id, w.qty, p.price
      FROM unnest(p_product_ids, p_quantities) AS w (id, qty)
      JOIN products p ON p.id = w.id;

    IF v_short IS NOT NULL THEN
        UPDATE orders SET failure_reason = 'OUT_OF_STOCK'
         WHERE id = v_order.id RETURNING * INTO v_order;
        outcome := 'OUT_OF_STOCK';
        detail := json_build_object('order_id', v_order.id, 'order_status', 'FAILED',
                      'total_amount', v_order.total_amount,
                      'items', shop_order_items(v_order.id),
                      'out_of_stock', to_json(v_short));
        RETURN;
    END IF;

    UPDATE products p SET stock = p.stock - w.qty, updated_at = now()
      FROM unnest(p_product_ids, p_quantities) AS w (id, qty)
     WHERE p.id = w.id;
    UPDATE orders SET status = 'AWAITING_PAYMENT', expires_at = now() + p_hold,
                      updated_at = now()
     WHERE id = v_order.id RETURNING * INTO v_order;
    outcome := 'OK';
    detail := shop_order_json(v_order);
END
$$;

-- Pays an order in one transaction: coupon, points, ledger, PAID, outbox.
-- Nothing is written unless every check passes, so a refusal leaves the
-- coupon AVAILABLE, the points untouched and the order AWAITING_PAYMENT.
-- Outcomes: OK, ORDER_NOT_FOUND, ORDER_NOT_PAYABLE, COUPON_NOT_APPLICABLE,
-- INSUFFICIENT_POINTS.
CREATE FUNCTION shop_pay_order(p_user_id bigint, p_order_id bigint,
                               p_user_coupon_id bigint,
                               OUT outcome text, OUT detail json)
    LANGUAGE plpgsql
AS $$
DECLARE
    v_order orders;
    v_coupon record;
    v_discount bigint := 0;
    v_paid bigint;
    v_balance bigint;
BEGIN
    SELECT * INTO v_order FROM orders
     WHERE id = p_order_id AND user_id = p_user_id FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'ORDER_NOT_FOUND';
        RETURN;
    END IF;
    IF v_order.status <> 'AWAITING_PAYMENT' OR v_order.expires_at <= now() THEN
        outcome := 'ORDER_NOT_PAYABLE';
        detail := json_build_object('order_id', v_order.id, 'order_status',
                      CASE WHEN v_order.status = 'AWAITING_PAYMENT'
                           THEN 'EXPIRED' ELSE v_order.status END);
        RETURN;
    END IF;

    IF p_user_coupon_id IS NOT NULL THEN
        SELECT uc.id, uc.status, uc.expires_at, c.discount_type,
               c.discount_value, c.max_discount, c.min_order_amount
          INTO v_coupon
          FROM user_coupons uc JOIN coupons c ON c.id = uc.coupon_id
         WHERE uc.id = p_user_coupon_id AND uc.user_id = p_user_id
           FOR UPDATE OF uc;
        IF NOT FOUND OR v_coupon.status <> 'AVAILABLE'
           OR v_coupon.expires_at <= now()
           OR v_order.total_amount < v_coupon.min_order_amount THEN
            outcome := 'COUPON_NOT_APPLICABLE';
            detail := json_build_object('order_id', v_order.id,
                          'user_coupon_id', p_user_coupon_id,
                          'reason', CASE WHEN NOT FOUND THEN 'NOT_OWNED'
                                         WHEN v_coupon.status <> 'AVAILABLE' THEN 'USED'
                                         WHEN v_coupon.expires_at <= now() THEN 'EXPIRED'
                                         ELSE 'BELOW_MIN_ORDER_AMOUNT' END);
            RETURN;
        END IF;
        v_discount := shop_discount(v_coupon.discount_type, v_coupon.discount_value,
                                    v_coupon.max_discount, v_order.total_amount);
    END IF;
    v_paid := v_order.total_amount - v_discount;

    UPDATE users SET balance = balance - v_paid
     WHERE id = p_user_id AND balance >= v_paid RETURNING balance INTO v_balance;
    IF NOT FOUND THEN
        outcome := 'INSUFFICIENT_POINTS';
        SELECT json_build_object('order_id', v_order.id,
                   'order_status', v_order.status, 'required', v_paid,
                   'balance', balance) INTO detail
          FROM users WHERE id = p_user_id;
        RETURN;
    END IF;
    IF v_paid > 0 THEN
        INSERT INTO point_history (user_id, type, amount, balance_after, order_id)
        VALUES (p_user_id, 'USE', -v_paid, v_balance, v_order.id);
    END IF;
    IF p_user_coupon_id IS NOT NULL THEN
        UPDATE user_coupons SET status = 'USED', order_id = v_order.id, used_at = now()
         WHERE id = p_user_coupon_id;
    END IF;
    UPDATE orders SET status = 'PAID', discount_amount = v_discount,
                      paid_amount = v_paid, user_coupon_id = p_user_coupon_id,
                      paid_at = now(), updated_at = now()
     WHERE id = v_order.id RETURNING * INTO v_order;
    PERFORM shop_event('ORDER_PAID', v_order);
    outcome := 'OK';
    detail := json_build_object('order_id', v_order.id, 'status', v_order.status,
                  'total_amount', v_order.total_amount,
                  'discount_amount', v_discount, 'paid_amount', v_paid,
                  'balance', v_balance, 'paid_at', shop_ts(v_order.paid_at));
END
$$;

-- Cancels an order.  AWAITING_PAYMENT: the stock goes back.  PAID: a full
-- refund in the same transaction (points + REFUND row, coupon, stock,
-- ORDER_CANCELLED event).  Outcomes: OK, ORDER_NOT_FOUND,
-- ORDER_NOT_CANCELLABLE.
CREATE FUNCTION shop_cancel_order(p_user_id bigint, p_order_id bigint,
                                  OUT outcome text, OUT detail json)
    LANGUAGE plpgsql
AS $$
DECLARE
    v_order orders;
    v_balance bigint;
BEGIN
    SELECT * INTO v_order FROM orders
     WHERE id = p_order_id AND user_id = p_user_id FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'ORDER_NOT_FOUND';
        RETURN;
    END IF;
    IF v_order.status NOT IN ('AWAITING_PAYMENT', 'PAID')
       OR (v_order.status = 'AWAITING_PAYMENT' AND v_order.expires_at <= now()) THEN
        -- Past its hold an unpaid order is EXPIRED, swept or not yet.
        outcome := 'ORDER_NOT_CANCELLABLE';
        detail := json_build_object('order_id', v_order.id, 'order_status',
                      CASE WHEN v_order.status = 'AWAITING_PAYMENT'
                           THEN 'EXPIRED' ELSE v_order.status END);
        RETURN;
    END IF;

    PERFORM shop_release_stock(ARRAY[v_order.id]);
    IF v_order.status = 'PAID' THEN
        IF v_order.user_coupon_id IS NOT NULL THEN
            UPDATE user_coupons SET status = 'AVAILABLE', order_id = NULL, used_at = NULL
             WHERE id = v_order.user_coupon_id;
        END IF;
        IF v_order.paid_amount > 0 THEN
            UPDATE users SET balance = balance + v_order.paid_amount
             WHERE id = p_user_id RETURNING balance INTO v_balance;
            INSERT INTO point_history (user_id, type, amount, balance_after, order_id)
            VALUES (p_user_id, 'REFUND', v_order.paid_amount, v_balance, v_order.id);
        END IF;
    END IF;
    UPDATE orders SET status = 'CANCELLED', cancelled_at = now(), updated_at = now()
     WHERE id = v_order.id RETURNING * INTO v_order;
    IF v_order.paid_at IS NOT NULL THEN
        PERFORM shop_event('ORDER_CANCELLED', v_order);
    END IF;
    outcome := 'OK';
    detail := json_build_object('order_id', v_order.id, 'status', v_order.status,
                  'refunded_amount', CASE WHEN v_order.paid_at IS NULL THEN 0
                                          ELSE v_order.paid_amount END);
END
$$;

-- Expires unpaid orders past their hold, a batch at a time.  SKIP LOCKED:
-- an order being paid or cancelled right now is left for the next sweep
-- (payment and cancel refuse it anyway once expires_at has passed).  The
-- whole batch's stock goes back in one shop_release_stock.
CREATE FUNCTION shop_expire_orders(p_batch int) RETURNS int
    LANGUAGE plpgsql
AS $$
DECLARE
    v_ids bigint[];
BEGIN
    SELECT array_agg(id) INTO v_ids FROM (
        SELECT id FROM orders
         WHERE status = 'AWAITING_PAYMENT' AND expires_at <= now()
         ORDER BY id LIMIT p_batch FOR UPDATE SKIP LOCKED) due;
    IF v_ids IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM shop_release_stock(v_ids);
    UPDATE orders SET status = 'EXPIRED', updated_at = now() WHERE id = ANY (v_ids);
    RETURN cardinality(v_ids);
END
$$;

-- Issues one coupon of a campaign to a user, first come first served.
-- Outcomes: OK, USER_NOT_FOUND, COUPON_NOT_FOUND, COUPON_NOT_ISSUABLE,
-- ALREADY_ISSUED, SOLD_OUT.
CREATE FUNCTION shop_issue_coupon(p_user_id bigint, p_coupon_id bigint,
                                  OUT outcome text, OUT detail json)
    LANGUAGE plpgsql
AS $$
DECLARE
    v_coupon coupons;
    v_slot int;
    v_uc user_coupons;
BEGIN
    SELECT * INTO v_coupon FROM coupons WHERE id = p_coupon_id;
    IF NOT FOUND THEN
        outcome := 'COUPON_NOT_FOUND';
        RETURN;
    END IF;
    IF now() < v_coupon.issue_starts_at OR now() >= v_coupon.issue_ends_at THEN
        outcome := 'COUPON_NOT_ISSUABLE';
        detail := json_build_object('issue_starts_at', shop_ts(v_coupon.issue_starts_at),
                                     'issue_ends_at', shop_ts(v_coupon.issue_ends_at));
        RETURN;
    END IF;
    PERFORM 1 FROM user_coupons WHERE coupon_id = p_coupon_id AND user_id = p_user_id;
    IF FOUND THEN
        outcome := 'ALREADY_ISSUED';
        RETURN;
    END IF;
    PERFORM 1 FROM users WHERE id = p_user_id;
    IF NOT FOUND THEN
        outcome := 'USER_NOT_FOUND';
        RETURN;
    END IF;

    -- ORDER BY slot keeps even PL/pgSQL's generic plan on the partial
    -- index coupon_slots_free; without it the cached plan was a sequential
    -- scan over every campaign's slots (46 ms at 340k rows).
    SELECT slot INTO v_slot FROM coupon_slots
     WHERE coupon_id = p_coupon_id AND user_id IS NULL
     ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        -- Every free slot is being claimed right now.  Wait for those
        -- claims: a slot whose claim rolls back is ours, one that commits
        -- no longer matches and is passed over.  So SOLD_OUT is exact.
        SELECT slot INTO v_slot FROM coupon_slots
         WHERE coupon_id = p_coupon_id AND user_id IS NULL
         ORDER BY slot LIMIT 1 FOR UPDATE;
        IF NOT FOUND THEN
            outcome := 'SOLD_OUT';
            RETURN;
        END IF;
    END IF;
    UPDATE coupon_slots SET user_id = p_user_id
     WHERE coupon_id = p_coupon_id AND slot = v_slot;
    BEGIN
        INSERT INTO user_coupons (coupon_id, user_id, expires_at)
        VALUES (p_coupon_id, p_user_id, now() + make_interval(days => v_coupon.valid_days))
        RETURNING * INTO v_uc;
    EXCEPTION WHEN unique_violation THEN
        -- The same user raced itself: give the slot back.
        UPDATE coupon_slots SET user_id = NULL
         WHERE coupon_id = p_coupon_id AND slot = v_slot;
        outcome := 'ALREADY_ISSUED';
        RETURN;
    END;
    outcome := 'OK';
    detail := json_build_object('user_coupon_id', v_uc.id, 'coupon_id', v_coupon.id,
                  'name', v_coupon.name, 'discount_type', v_coupon.discount_type,
                  'discount_value', v_coupon.discount_value,
                  'max_discount', v_coupon.max_discount,
                  'min_order_amount', v_coupon.min_order_amount,
                  'status', 'AVAILABLE', 'issued_at', shop_ts(v_uc.issued_at),
                  'expires_at', shop_ts(v_uc.expires_at));
END
$$;

-- A campaign as the API shows it; remaining counts the free slots.
CREATE FUNCTION shop_coupon_json(c coupons) RETURNS json
    LANGUAGE sql STABLE
AS $$
    SELECT json_build_object(
        'id', c.id, 'name', c.name, 'discount_type', c.discount_type,
        'discount_value', c.discount_value, 'max_discount', c.max_discount,
        'min_order_amount', c.min_order_amount,
        'total_quantity', c.total_quantity,
        'remaining_quantity', (SELECT count(*) FROM coupon_slots s
                                WHERE s.coupon_id = c.id AND s.user_id IS NULL),
        'issue_starts_at', shop_ts(c.issue_starts_at),
        'issue_ends_at', shop_ts(c.issue_ends_at), 'valid_days', c.valid_days)
$$;

-- A user coupon as the API shows it, with its derived status, and (on the
-- coupons usable on an order) what it takes off that order.
CREATE FUNCTION shop_user_coupon_json(uc user_coupons, c coupons,
                                      p_discount bigint DEFAULT NULL) RETURNS json
    LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN p_discount IS NULL THEN j
                -- the object is ours and ends in '}': append one member
                ELSE (left(j::text, -1) || ', "discount_amount" : ' || p_discount || '}')::json
           END
      FROM json_build_object(
        'user_coupon_id', uc.id, 'coupon_id', c.id, 'name', c.name,
        'discount_type', c.discount_type, 'discount_value', c.discount_value,
        'max_discount', c.max_discount, 'min_order_amount', c.min_order_amount,
        'status', CASE WHEN uc.status = 'USED' THEN 'USED'
                       WHEN uc.expires_at <= now() THEN 'EXPIRED'
                       ELSE 'AVAILABLE' END,
        'order_id', uc.order_id, 'issued_at', shop_ts(uc.issued_at),
        'expires_at', shop_ts(uc.expires_at), 'used_at', shop_ts(uc.used_at)) AS j
$$;

-- Creates a campaign with its slots.
CREATE FUNCTION shop_create_coupon(p_name text, p_type text, p_value bigint,
                                   p_max bigint, p_min bigint, p_quantity int,
                                   p_starts timestamptz, p_ends timestamptz,
                                   p_valid_days int) RETURNS json
    LANGUAGE plpgsql
AS $$
DECLARE
    v coupons;
BEGIN
    INSERT INTO coupons (name, discount_type, discount_value, max_discount,
                         min_order_amount, total_quantity, issue_starts_at,
                         issue_ends_at, valid_days)
    VALUES (p_name, p_type, p_value, p_max, coalesce(p_min, 0), p_quantity,
            coalesce(p_starts, now()), coalesce(p_ends, now() + interval '30 days'),
            coalesce(p_valid_days, 30))
    RETURNING * INTO v;
    INSERT INTO coupon_slots (coupon_id, slot)
    SELECT v.id, s FROM generate_series(1, p_quantity) AS s;
    RETURN shop_coupon_json(v);
END
$$;
