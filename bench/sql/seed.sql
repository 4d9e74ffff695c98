-- bench/sql/seed.sql — the benchmark data set, loaded by bench/run into a
-- fresh database (schema only, SHOP_NO_DEMO=1), so ids start at 1.
--
-- psql variables (bench/run passes them with -v):
--   users     number of users              (full 10000, smoke 1000)
--   products  number of products           (full 1000,  smoke 100)
--   orders    number of PAID orders        (full 100000, smoke 5000)
--   balance   every user's balance after the load (points)
--
-- Everything is set-based (generate_series), so the full set loads in a few
-- seconds. The invariant "sum of a user's point_history = balance" holds:
-- each user gets one CHARGE row (balance + what the user's past orders
-- cost) and one USE row per paid order, with running balance_after values.

\set ON_ERROR_STOP on
SET client_min_messages = warning;
-- Runs as the superuser: with session_replication_role = replica the
-- foreign-key triggers do not fire for the bulk inserts (the data is
-- consistent by construction), which makes the load several times faster.
-- The rows still belong to tables owned by shop.
SET session_replication_role = replica;
SELECT setseed(0.42) IS NOT NULL AS ok \gset

-- Users ---------------------------------------------------------------------
INSERT INTO users (login, created_at)
SELECT 'bench_user_' || g, now() - interval '30 days'
  FROM generate_series(1, :users) AS g;

-- Products: prices 1,000..100,000 (KRW), stock large enough that no run
-- ever sees OUT_OF_STOCK.
INSERT INTO products (name, price, created_at, updated_at)
SELECT 'Bench product ' || g, 1000 * (1 + (g * 7919) % 100),
       now() - interval '30 days', now() - interval '30 days'
  FROM generate_series(1, :products) AS g;
SELECT count(shop_set_stock(id, 1000000000)) FROM products;

-- PAID orders over the last 3 days (the popular window) ---------------------
-- Each order has 1..3 distinct products. The first product is skewed
-- towards low ids (random()^3), so the popular ranking has clear leaders
-- the way real sales do; the others follow at a fixed stride.
CREATE TEMP TABLE bench_o ON COMMIT DROP AS
SELECT n,
       1 + floor(random() * :users)::bigint          AS user_id,
       now() - random() * interval '3 days'          AS paid_at,
       floor(:products * power(random(), 3))::bigint AS base,
       1 + floor(random() * 3)::int                  AS nitems
  FROM generate_series(1, :orders) AS n;

CREATE TEMP TABLE bench_i ON COMMIT DROP AS
SELECT o.n, 1 + (o.base + k * 37) % :products AS product_id,
       1 + floor(random() * 3)::bigint AS quantity
  FROM bench_o o, generate_series(0, o.nitems - 1) AS k;
ANALYZE bench_o;
ANALYZE bench_i;

SELECT coalesce(max(id), 0) AS order_base FROM orders \gset

INSERT INTO orders (id, user_id, status, total_amount, paid_amount,
                    created_at, expires_at, paid_at, updated_at)
OVERRIDING SYSTEM VALUE
SELECT :order_base + o.n, o.user_id, 'PAID', t.total, t.total,
       o.paid_at - interval '1 minute', o.paid_at + interval '9 minutes',
       o.paid_at, o.paid_at
  FROM bench_o o
  JOIN (SELECT i.n, sum(p.price * i.quantity) AS total
          FROM bench_i i JOIN products p ON p.id = i.product_id
         GROUP BY i.n) t USING (n)
 ORDER BY o.n;

INSERT INTO order_items (order_id, product_id, quantity, unit_price)
SELECT :order_base + i.n, i.product_id, i.quantity, p.price
  FROM bench_i i JOIN products p ON p.id = i.product_id
 ORDER BY i.n, i.product_id;

SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders)) IS NOT NULL AS ok \gset

-- Balances and the ledger -----------------------------------------------------
CREATE TEMP TABLE bench_spent ON COMMIT DROP AS
SELECT u.id AS user_id, coalesce(sum(o.paid_amount), 0) AS spent
  FROM users u LEFT JOIN orders o ON o.user_id = u.id AND o.status = 'PAID'
 GROUP BY u.id;

INSERT INTO point_history (user_id, type, amount, balance_after, created_at)
SELECT user_id, 'CHARGE', :balance + spent, :balance + spent, now() - interval '4 days'
  FROM bench_spent ORDER BY user_id;

-- balance_after of a USE = the final balance + everything paid after it.
INSERT INTO point_history (user_id, type, amount, balance_after, order_id, created_at)
SELECT user_id, 'USE', -paid_amount,
       :balance + sum(paid_amount) OVER w - paid_amount, id, paid_at
  FROM orders
 WHERE status = 'PAID'
WINDOW w AS (PARTITION BY user_id ORDER BY paid_at DESC, id DESC
             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
 ORDER BY paid_at, id;

UPDATE users SET balance = :balance;

-- Triggers are off in this session: fill the sales ledger behind the
-- popular ranking (sql/migrations/003_sales.sql) as they would have.
INSERT INTO sales (order_id, product_id, quantity, paid_at)
SELECT o.id, i.product_id, i.quantity, o.paid_at
  FROM orders o JOIN order_items i ON i.order_id = o.id
 WHERE o.status = 'PAID' AND o.paid_at IS NOT NULL;
RESET session_replication_role;

-- Coupon campaigns (shop_create_coupon creates the slot rows) ------------------
-- Ordinary campaigns, so the coupon tables are not empty ...
SELECT shop_create_coupon('Welcome 1,000', 'FIXED', 1000, NULL, 5000, 20000,
                          now() - interval '1 day', now() + interval '30 days', 30) IS NOT NULL AS ok \gset
SELECT shop_create_coupon('Weekend 10%', 'RATE', 10, 5000, 10000, 10000,
                          now() - interval '1 day', now() + interval '30 days', 7) IS NOT NULL AS ok \gset
-- ... half of the users already hold the welcome coupon (set-based: what
-- shop_issue_coupon does, one slot row and one user_coupons row each).
CREATE TEMP TABLE bench_w ON COMMIT DROP AS
SELECT c.id AS coupon_id, c.valid_days, row_number() OVER (ORDER BY g) AS slot, g AS user_id,
       now() - random() * interval '1 day' AS issued_at
  FROM coupons c, generate_series(1, :users, 2) AS g
 WHERE c.name = 'Welcome 1,000';
UPDATE coupon_slots s SET user_id = w.user_id
  FROM bench_w w WHERE s.coupon_id = w.coupon_id AND s.slot = w.slot;
-- ... and the campaign's striped count with them (005_flat_cost.sql).
SELECT count(shop_coupon_recount(id)) FROM coupons WHERE name = 'Welcome 1,000' \gset
INSERT INTO user_coupons (coupon_id, user_id, issued_at, expires_at)
SELECT coupon_id, user_id, issued_at, issued_at + make_interval(days => valid_days)
  FROM bench_w ORDER BY user_id;

-- The race campaigns themselves ("Race c16", "Race c64", :race_qty coupons
-- each) are created by bench/run right before each race.
-- Warm-up target: bench/run's warm-up issues from this one (as many coupons
-- as users, so it does not sell out), which compiles shop_issue_coupon and
-- prepares its statement on every pooled connection before the races.
SELECT shop_create_coupon('Warm-up', 'FIXED', 500, NULL, 0, :users,
                          now() - interval '1 minute', now() + interval '1 day', 7) IS NOT NULL AS ok \gset
-- The pgbench hot-row ceiling (bench/pgbench/hot_row.sql) updates this
-- campaign's row (to the value it already has); nothing is issued from it.
SELECT shop_create_coupon('Ceiling probe', 'FIXED', 1000, NULL, 0, 1,
                          now() - interval '1 minute', now() + interval '1 day', 7) IS NOT NULL AS ok \gset
