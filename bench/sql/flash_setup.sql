-- bench/sql/flash_setup.sql — the flash-sale section of bench/run (issue 20).
-- Run once, as the superuser, before the section's first run:
--   psql -v claimers=N -f flash_setup.sql shop
-- * N fresh users for the coupon drop (logins flash-1..flash-N, balance 0
--   and no point history, so their ledger is trivially exact); prints the
--   first and last of their ids;
-- * schema bench_flash (owned by shop): the invariant checks bench/run runs
--   after each flash-sale run, and the baseline they compare with: per
--   product, the stock now plus the units held by live orders (not
--   CANCELLED / EXPIRED / FAILED). Whatever the runs do, stock + held units
--   must stay equal to it (an expiry or a cancellation moves units back to
--   the stock; nothing else restocks during the bench).
--
-- The stock is read where the module keeps it: through the function
-- shop_product_stock(product_id) (the sum of the product's buckets), and
-- no bucket may be below zero.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

INSERT INTO users (login)
SELECT 'flash-' || g FROM generate_series(1, :claimers) AS g;
SELECT min(id), max(id) FROM users WHERE login LIKE 'flash-%';

DROP SCHEMA IF EXISTS bench_flash CASCADE;
CREATE SCHEMA bench_flash AUTHORIZATION shop;
SET search_path = public;

-- Every product's stock now: the sum of its buckets (migration 010).
CREATE FUNCTION bench_flash.stock_now() RETURNS TABLE (product_id bigint, stock bigint)
    LANGUAGE sql STABLE AS $$
    SELECT p.id, shop_product_stock(p.id) FROM public.products p
$$;

-- Units held by live orders, per product.
CREATE FUNCTION bench_flash.units_held() RETURNS TABLE (product_id bigint, units bigint)
    LANGUAGE sql STABLE AS $$
    SELECT i.product_id, sum(i.quantity)::bigint
      FROM public.order_items i JOIN public.orders o ON o.id = i.order_id
     WHERE o.status NOT IN ('CANCELLED', 'EXPIRED', 'FAILED')
     GROUP BY i.product_id
$$;

-- The stock buckets (product_stock, migration 010) below zero: none, by
-- their CHECK, unless something bypassed it.
CREATE FUNCTION bench_flash.negative_buckets(OUT bucket_table text, OUT negative bigint)
    LANGUAGE sql STABLE AS $$
    SELECT 'product_stock'::text, count(*) FROM public.product_stock WHERE stock < 0
$$;

CREATE TABLE bench_flash.initial AS
SELECT s.product_id, s.stock + coalesce(h.units, 0) AS stock
  FROM bench_flash.stock_now() s LEFT JOIN bench_flash.units_held() h USING (product_id);
ALTER TABLE bench_flash.initial ADD PRIMARY KEY (product_id);

-- The invariants, as one JSON object. Run it in one REPEATABLE READ
-- transaction: its statements must see one snapshot.
--   stock: per product, stock now + units held = the baseline, and no stock
--          (or stock bucket) below zero;
--   coupons: the drop campaign (when given) issued exactly its quantity,
--          one per user, rows = slots taken = the stripes' count; and no
--          campaign holds more coupons than its quantity;
--   ledger: every balance equals the sum of its point_history.
CREATE FUNCTION bench_flash.invariants(p_coupon bigint) RETURNS json
    LANGUAGE sql STABLE AS $$
    WITH st AS (
        SELECT i.product_id, i.stock AS initial, s.stock AS now, coalesce(h.units, 0) AS held
          FROM bench_flash.initial i
          JOIN bench_flash.stock_now() s USING (product_id)
          LEFT JOIN bench_flash.units_held() h USING (product_id)
    ), ledger AS (
        SELECT count(*) AS bad
          FROM public.users u
          LEFT JOIN (SELECT user_id, sum(amount) AS s FROM public.point_history GROUP BY user_id) h
                 ON h.user_id = u.id
         WHERE u.balance <> coalesce(h.s, 0)
    ), drop_campaign AS (
        SELECT c.total_quantity AS qty,
               (SELECT count(*) FROM public.user_coupons WHERE coupon_id = c.id) AS issued_rows,
               (SELECT count(DISTINCT user_id) FROM public.user_coupons WHERE coupon_id = c.id) AS users,
               (SELECT count(*) FROM public.coupon_slots
                 WHERE coupon_id = c.id AND user_id IS NOT NULL) AS slots_taken,
               (SELECT coalesce(sum(issued), 0) FROM public.coupon_issued
                 WHERE coupon_id = c.id) AS stripes_issued
          FROM public.coupons c WHERE c.id = p_coupon
    )
    SELECT json_build_object(
        'stock_source', 'shop_product_stock',
        'products', (SELECT count(*) FROM st),
        'stock_mismatches', (SELECT count(*) FROM st WHERE now + held <> initial),
        'stock_mismatch_sample', (SELECT json_agg(x) FROM (
              SELECT product_id, initial, now, held FROM st WHERE now + held <> initial
               ORDER BY product_id LIMIT 5) x),
        'stock_negative', (SELECT count(*) FROM st WHERE now < 0),
        'bucket_table', b.bucket_table,
        'buckets_negative', b.negative,
        'ledger_mismatches', (SELECT bad FROM ledger),
        'campaigns_over_issued', (SELECT count(*) FROM public.coupons c
                                   WHERE (SELECT count(*) FROM public.user_coupons u
                                           WHERE u.coupon_id = c.id) > c.total_quantity),
        'coupon', (SELECT row_to_json(d) FROM drop_campaign d))
      FROM bench_flash.negative_buckets() b
$$;
ALTER FUNCTION bench_flash.invariants(bigint) OWNER TO shop;
ALTER TABLE bench_flash.initial OWNER TO shop;
