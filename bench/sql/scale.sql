-- bench/sql/scale.sql — a data set of a given size for bench/scale
-- (`make bench-scale`), loaded into a fresh database (schema only,
-- SHOP_NO_DEMO=1), so ids start at 1.  Set-based (generate_series), with
-- the triggers and foreign-key checks off (session_replication_role =
-- replica): the data is consistent by construction, and the sales ledger is
-- filled the way its triggers would have.
--
-- psql variables (bench/scale passes them with -v):
--   users         users; user 1 is the heavy one
--   products      products
--   lines         PAID order lines, two per order, paid across the last year
--                 (order ids grow with paid_at, as they do in a real shop)
--   heavy_hist    point_history rows of user 1
--   heavy_orders  orders of user 1 (among the PAID orders above)
--   big_coupons   size of the "Big" campaign, half of it issued to users 1..
--   events        delivered outbox events, delivered over the last 6 days
--                 (inside the default ShopOutboxRetention: the steady state)
-- and, whatever the size: a "Small" campaign of 1,000 (half issued), a
-- "Warm-up" campaign, 1,000 pending outbox events (50 with an error), 200
-- unpaid orders past their hold (for the expiry sweep's measurement).

\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET session_replication_role = replica;
SET maintenance_work_mem = '256MB';
SET work_mem = '64MB';
SELECT setseed(0.42) IS NOT NULL AS ok \gset

-- The secondary indexes of the big tables are dropped for the load and
-- built again at the end (one sort each instead of millions of inserts);
-- the constraints' indexes (primary keys, unique) stay.
CREATE TEMP TABLE scale_idx AS
SELECT i.indexname, i.indexdef FROM pg_indexes i
 WHERE i.schemaname = 'public'
   AND i.tablename IN ('orders', 'order_items', 'sales', 'outbox', 'point_history',
                       'user_coupons', 'coupon_slots')
   AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname);
SELECT format('DROP INDEX %I', indexname) FROM scale_idx \gexec

-- Users: every one with a balance far above what a run spends, and one
-- CHARGE row saying so; user 1 gets heavy_hist rows instead.
INSERT INTO users (login, balance, created_at)
SELECT 'scale_user_' || g, 1000000000, now() - interval '400 days'
  FROM generate_series(1, :users) AS g;
INSERT INTO point_history (user_id, type, amount, balance_after, created_at)
SELECT g, 'CHARGE', 1000000000, 1000000000, now() - interval '400 days'
  FROM generate_series(2, :users) AS g;
INSERT INTO point_history (user_id, type, amount, balance_after, created_at)
SELECT 1, 'CHARGE', 1000000000 / :heavy_hist + CASE WHEN g = 1 THEN 1000000000 % :heavy_hist ELSE 0 END,
       (1000000000 / :heavy_hist) * g + 1000000000 % :heavy_hist,
       now() - interval '365 days' + g * (interval '365 days' / :heavy_hist)
  FROM generate_series(1, :heavy_hist) AS g;

-- Products: prices 1,000..100,000, stock no run exhausts.
INSERT INTO products (name, price, created_at, updated_at)
SELECT 'Scale product ' || g, 1000 * (1 + (g * 7919) % 100),
       now() - interval '400 days', now() - interval '400 days'
  FROM generate_series(1, :products) AS g;
SELECT count(shop_set_stock(id, 1000000000)) FROM products;

-- PAID orders, two lines each, paid evenly over the last year in id order.
-- The first product is skewed to low ids (random()^3): the ranking has
-- leaders.  Every (N / heavy_orders)-th order is user 1's.
SELECT (:lines / 2)::bigint AS norders \gset
CREATE TEMP TABLE scale_o AS
SELECT n,
       CASE WHEN n % (:norders / :heavy_orders) = 0 THEN 1
            ELSE 2 + floor(random() * (:users - 1))::bigint END AS user_id,
       now() - interval '365 days' * (1 - n::float8 / :norders) AS paid_at,
       1 + floor(:products * power(random(), 3))::bigint AS p1,
       1 + floor(random() * 3)::bigint AS q1,
       1 + floor(random() * 3)::bigint AS q2
  FROM generate_series(1, :norders) AS n;
INSERT INTO orders (id, user_id, status, total_amount, paid_amount,
                    created_at, expires_at, paid_at, updated_at)
OVERRIDING SYSTEM VALUE
SELECT n, user_id, 'PAID', t, t, paid_at - interval '1 minute',
       paid_at + interval '9 minutes', paid_at, paid_at
  FROM scale_o,
       LATERAL (SELECT 1000 * (1 + (p1 * 7919) % 100) * q1
                     + 1000 * (1 + ((1 + (p1 + 36) % :products) * 7919) % 100) * q2) x (t)
 ORDER BY n;
INSERT INTO order_items (order_id, product_id, quantity, unit_price)
SELECT n, p, q, 1000 * (1 + (p * 7919) % 100)
  FROM scale_o, LATERAL (VALUES (p1, q1), (1 + (p1 + 36) % :products, q2)) v (p, q)
 ORDER BY n, p;
INSERT INTO sales (order_id, product_id, quantity, paid_at)
SELECT n, p, q, paid_at
  FROM scale_o, LATERAL (VALUES (p1, q1), (1 + (p1 + 36) % :products, q2)) v (p, q)
 ORDER BY n, p;
DROP TABLE scale_o;
SELECT setval(pg_get_serial_sequence('orders', 'id'), :norders);

-- 200 unpaid orders past their hold: the expiry sweep's batch.
INSERT INTO orders (user_id, status, total_amount, created_at, expires_at, updated_at)
SELECT 2 + g, 'AWAITING_PAYMENT', 1000, now() - interval '1 hour',
       now() - interval '50 minutes', now() - interval '1 hour'
  FROM generate_series(1, 200) AS g;
INSERT INTO order_items (order_id, product_id, quantity, unit_price)
SELECT id, 1, 1, 1000 FROM orders WHERE status = 'AWAITING_PAYMENT';

-- Campaigns.  "Big": big_coupons, half issued to users 1..big_coupons/2
-- (set-based: what shop_issue_coupon does, then the stripes recounted).
SELECT shop_create_coupon('Big', 'FIXED', 1000, NULL, 0, :big_coupons,
                          now() - interval '1 day', now() + interval '30 days', 30) IS NOT NULL AS ok \gset
SELECT shop_create_coupon('Small', 'FIXED', 1000, NULL, 0, 1000,
                          now() - interval '1 day', now() + interval '30 days', 30) IS NOT NULL AS ok \gset
SELECT shop_create_coupon('Warm-up', 'FIXED', 500, NULL, 0, 100000,
                          now() - interval '1 minute', now() + interval '1 day', 7) IS NOT NULL AS ok \gset
UPDATE coupon_slots s SET user_id = s.slot
  FROM coupons c
 WHERE c.name IN ('Big', 'Small') AND s.coupon_id = c.id AND s.slot <= c.total_quantity / 2;
INSERT INTO user_coupons (coupon_id, user_id, issued_at, expires_at)
SELECT s.coupon_id, s.user_id, now() - interval '1 hour', now() + interval '29 days'
  FROM coupon_slots s JOIN coupons c ON c.id = s.coupon_id
 WHERE c.name IN ('Big', 'Small') AND s.user_id IS NOT NULL
 ORDER BY s.coupon_id, s.user_id;
SELECT count(shop_coupon_recount(id)) FROM coupons \gset

-- The outbox: delivered events over the last 6 days, then the pending ones.
INSERT INTO outbox (type, order_id, payload, created_at, attempts, next_attempt_at,
                    delivered_at)
SELECT 'ORDER_PAID', 1 + g % :norders,
       jsonb_build_object('type', 'ORDER_PAID', 'order_id', 1 + g % :norders,
                          'paid_amount', 1000 * (g % 97), 'items',
                          jsonb_build_array(jsonb_build_object('product_id', 1 + g % :products,
                                                               'quantity', 1))),
       d - interval '1 second', 1, d - interval '1 second', d
  FROM generate_series(1, :events) AS g,
       LATERAL (SELECT now() - interval '6 days' * (1 - g::float8 / :events)) x (d);
INSERT INTO outbox (type, order_id, payload, created_at, attempts, next_attempt_at, last_error)
SELECT 'ORDER_PAID', g, jsonb_build_object('type', 'ORDER_PAID', 'order_id', g),
       now() - interval '10 minutes', CASE WHEN g <= 50 THEN 3 ELSE 0 END,
       now() - interval '1 minute', CASE WHEN g <= 50 THEN 'HTTP 503' END
  FROM generate_series(1, 1000) AS g;
SELECT indexdef FROM scale_idx \gexec
RESET session_replication_role;
