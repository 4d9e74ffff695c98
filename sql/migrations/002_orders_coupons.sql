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

-- (function shop_discount: sql/functions/shop_discount.sql)

-- (function shop_order_items: sql/functions/shop_order_items.sql)

-- (function shop_order_json: sql/functions/shop_order_json.sql)

-- (function shop_event: sql/functions/shop_event.sql)

-- (function shop_release_stock: sql/functions/shop_release_stock.sql)

-- (function shop_create_order: sql/functions/shop_create_order.sql)

-- (function shop_pay_order: sql/functions/shop_pay_order.sql)

-- (function shop_cancel_order: sql/functions/shop_cancel_order.sql)

-- (function shop_expire_orders: sql/functions/shop_expire_orders.sql)

-- (function shop_issue_coupon: sql/functions/shop_issue_coupon.sql)

-- (function shop_coupon_json: sql/functions/shop_coupon_json.sql)

-- (function shop_user_coupon_json: sql/functions/shop_user_coupon_json.sql)

-- (function shop_create_coupon: sql/functions/shop_create_coupon.sql)
