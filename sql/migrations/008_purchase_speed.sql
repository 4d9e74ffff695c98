-- The purchase flow's cost (issue 11): the same rules, fewer plans, rows
-- and index entries per order and payment.
--
-- Measured with pg_stat_statements (track = all) under bench/lua/order_pay.lua
-- at 16 connections, before this file: shop_create_order 1.17 ms and
-- shop_pay_order 1.35 ms per call, of which shop_event alone 0.80 ms.
-- Where it went:
--
-- * LANGUAGE sql functions that cannot be inlined (a FROM clause, or a
--   statement that writes) are planned again on every call: shop_event's
--   INSERT, and shop_order_items, twice per purchase.  In plpgsql their
--   plans are cached per connection, like the callers'.
-- * An order was inserted as FAILED and then updated to AWAITING_PAYMENT:
--   two row versions, and the status change is not a HOT update (status is
--   in orders_awaiting_expiry's predicate), so every index of orders got
--   two entries.  The stock is now judged first, under the same product
--   locks, and the order inserted once with its final status.
-- * The products were locked by one statement and read by a second; one
--   statement now locks them (in id order, as before) and reads price and
--   stock, and the items' JSON is built from what it read instead of
--   reading order_items back.
-- * The sales ledger's trigger deleted the order's lines before adding
--   them, also on the AWAITING_PAYMENT -> PAID change, where there are none.
-- * users and products are updated by every payment and every order:
--   fillfactor 80 leaves room on each page for the new row version, so
--   those updates stay HOT (no index entries).  It applies to pages written
--   from now on; an existing large table gets it with VACUUM FULL (or
--   pg_repack) at a quiet time, see docs/operations.md.
--
-- Durability is not traded: synchronous_commit stays on, every payment is
-- on disk when its 200 leaves.

ALTER TABLE users SET (fillfactor = 80);
ALTER TABLE products SET (fillfactor = 80);

-- An order's items as JSON, for responses and events (plan cached).
CREATE OR REPLACE FUNCTION shop_order_items(p_order_id bigint) RETURNS json
    LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN (SELECT coalesce(json_agg(json_build_object('product_id', product_id,
                                     'quantity', quantity, 'unit_price', unit_price)
                                     ORDER BY product_id), '[]'::json)
              FROM order_items WHERE order_id = p_order_id);
END
$$;

-- The order as the API shows it, with its items already at hand.  No FROM
-- clause: it is inlined into the caller's statement.
CREATE FUNCTION shop_order_json(o orders, p_items json) RETURNS json
    LANGUAGE sql STABLE
AS $$
    SELECT json_build_object(
        'order_id', o.id, 'user_id', o.user_id, 'status', o.status,
        'total_amount', o.total_amount, 'discount_amount', o.discount_amount,
        'paid_amount', o.paid_amount, 'user_coupon_id', o.user_coupon_id,
        'items', p_items,
        'created_at', shop_ts(o.created_at), 'expires_at', shop_ts(o.expires_at),
        'paid_at', shop_ts(o.paid_at), 'cancelled_at', shop_ts(o.cancelled_at))
$$;

CREATE OR REPLACE FUNCTION shop_order_json(o orders) RETURNS json
    LANGUAGE sql STABLE
AS $$
    SELECT shop_order_json(o, shop_order_items(o.id))
$$;

-- The order row is locked (FOR UPDATE) by every caller (payment, cancel),
-- so counting the order's events cannot race another event of the order.
CREATE OR REPLACE FUNCTION shop_event(p_type text, o orders) RETURNS void
    LANGUAGE plpgsql
AS $$
DECLARE
    v_event uuid := gen_random_uuid();
BEGIN
    INSERT INTO outbox (event_id, type, order_id, payload)
    VALUES (v_event, p_type, o.id, json_build_object(
               'event_id', v_event, 'type', p_type, 'order_id', o.id,
               'sequence', (SELECT count(*) + 1 FROM outbox x WHERE x.order_id = o.id),
               'user_id', o.user_id, 'items', shop_order_items(o.id),
               'total_amount', o.total_amount,
               'discount_amount', o.discount_amount,
               'paid_amount', o.paid_amount, 'paid_at', shop_ts(o.paid_at),
               'cancelled_at', shop_ts(o.cancelled_at)));
END
$$;

CREATE OR REPLACE FUNCTION shop_create_order(p_user_id bigint, p_product_ids bigint[],
                                  p_quantities bigint[], p_hold interval,
                                  OUT outcome text, OUT detail json)
    LANGUAGE plpgsql
AS $$
DECLARE
    v_order orders;
    v_found int;
    v_ids bigint[];
    v_qtys bigint[];
    v_prices bigint[];
    v_short bigint[];
    v_sum numeric;
    v_items json;
BEGIN
    PERFORM 1 FROM users WHERE id = p_user_id;
    IF NOT FOUND THEN
        outcome := 'USER_NOT_FOUND';
        RETURN;
    END IF;

    -- The global lock order: products by id (the subquery's FOR UPDATE
    -- locks rows as its ORDER BY emits them).  The sum is in numeric:
    -- price x quantity x items can pass bigint, and no amount the API
    -- writes may pass 2^53 - 1 (JSON numbers stay exact).
    SELECT count(*), sum(p.price::numeric * w.qty),
           array_agg(p.id ORDER BY p.id), array_agg(w.qty ORDER BY p.id),
           array_agg(p.price ORDER BY p.id),
           array_agg(p.id ORDER BY p.id) FILTER (WHERE p.stock < w.qty),
           json_agg(json_build_object('product_id', p.id, 'quantity', w.qty,
                                      'unit_price', p.price) ORDER BY p.id)
      INTO v_found, v_sum, v_ids, v_qtys, v_prices, v_short, v_items
      FROM unnest(p_product_ids, p_quantities) AS w (id, qty)
      JOIN (SELECT id, price, stock FROM products
             WHERE id = ANY (p_product_ids) AND on_sale
             ORDER BY id FOR UPDATE) p ON p.id = w.id;
    IF v_found <> cardinality(p_product_ids) THEN
        outcome := 'PRODUCT_NOT_FOUND';
        SELECT json_build_object('product_ids', json_agg(x)) INTO detail
          FROM unnest(p_product_ids) AS x
         WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.id = x AND p.on_sale);
        RETURN;
    END IF;
    IF v_sum > 9007199254740991 THEN
        outcome := 'INVALID_REQUEST';
        detail := json_build_object('detail',
            'the order total would be ' || v_sum || ', above the largest amount, 9007199254740991');
        RETURN;
    END IF;

    -- Recorded either way: FAILED (out of stock) or holding its stock.
    INSERT INTO orders (user_id, status, failure_reason, total_amount, expires_at)
    VALUES (p_user_id,
            CASE WHEN v_short IS NULL THEN 'AWAITING_PAYMENT' ELSE 'FAILED' END,
            CASE WHEN v_short IS NULL THEN NULL ELSE 'OUT_OF_STOCK' END,
            v_sum, CASE WHEN v_short IS NULL THEN now() + p_hold END)
    RETURNING * INTO v_order;
    INSERT INTO order_items (order_id, product_id, quantity, unit_price)
    SELECT v_order.id, w.id, w.qty, w.price
      FROM unnest(v_ids, v_qtys, v_prices) AS w (id, qty, price);

    IF v_short IS NOT NULL THEN
        outcome := 'OUT_OF_STOCK';
        detail := json_build_object('order_id', v_order.id, 'order_status', 'FAILED',
                      'total_amount', v_order.total_amount, 'items', v_items,
                      'out_of_stock', to_json(v_short));
        RETURN;
    END IF;

    UPDATE products p SET stock = p.stock - w.qty, updated_at = now()
      FROM unnest(v_ids, v_qtys) AS w (id, qty)
     WHERE p.id = w.id;
    outcome := 'OK';
    detail := shop_order_json(v_order, v_items);
END
$$;

-- An order's lines enter or leave the ledger with its PAID status.
CREATE OR REPLACE FUNCTION shop_sales_follow_order() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    -- Rebuilt, never patched: the trigger on order_items may already have
    -- added lines when both tables were written in one statement.  An
    -- order that was not PAID before has no lines in the ledger.
    IF TG_OP = 'INSERT' OR OLD.status = 'PAID' THEN
        DELETE FROM sales WHERE order_id = NEW.id;
    END IF;
    IF NEW.status = 'PAID' AND NEW.paid_at IS NOT NULL THEN
        INSERT INTO sales (order_id, product_id, quantity, paid_at)
        SELECT NEW.id, product_id, quantity, NEW.paid_at
          FROM order_items WHERE order_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;

-- The relay's lease moves next_attempt_at.  It was an INCLUDE column of
-- outbox_pending, so every lease wrote a new entry into each of the
-- outbox's indexes; without it, and with room left on each page, the
-- lease is a HOT update.  (The delivery itself changes delivered_at, which
-- the partial indexes' predicates read: that one cannot be HOT.)
ALTER TABLE outbox SET (fillfactor = 70);
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (id) WHERE delivered_at IS NULL AND dead_at IS NULL;
