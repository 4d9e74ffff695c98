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

-- (function shop_order_items: sql/functions/shop_order_items.sql)

-- (function shop_order_json: sql/functions/shop_order_json.sql)

-- (function shop_order_json: sql/functions/shop_order_json.sql)

-- (function shop_event: sql/functions/shop_event.sql)

-- (function shop_create_order: sql/functions/shop_create_order.sql)

-- (function shop_sales_follow_order: sql/functions/shop_sales_follow_order.sql)

-- The relay's lease moves next_attempt_at.  It was an INCLUDE column of
-- outbox_pending, so every lease wrote a new entry into each of the
-- outbox's indexes; without it, and with room left on each page, the
-- lease is a HOT update.  (The delivery itself changes delivered_at, which
-- the partial indexes' predicates read: that one cannot be HOT.)
ALTER TABLE outbox SET (fillfactor = 70);
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (id) WHERE delivered_at IS NULL AND dead_at IS NULL;
