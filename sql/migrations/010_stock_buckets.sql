-- Flash sales (issue 20): a product's stock is split into bucket rows.
--
-- One stock row per product serialises every order of a hot product on
-- that row's lock, held until the commit's WAL flush: about 1 / (lock hold
-- + commit), a quarter of the rate of the same orders spread over many
-- products (../shared/guides/FLASH-SALE.md).  With the stock in up to 32
-- rows per product, an order claims any bucket that is not locked
-- (FOR UPDATE SKIP LOCKED), so concurrent orders of one product take
-- different rows.  The stock of a product is the sum of its buckets; sold
-- out means every bucket is empty.  sql/functions/shop_stock_take.sql,
-- shop_stock_give.sql and shop_set_stock.sql are the only writers.
--
-- products.stock goes: a module of the previous release reads it, so
-- upgrade the modules right after this migration (docs/operations.md).

CREATE TABLE product_stock (
    product_id  bigint NOT NULL REFERENCES products (id),
    bucket      smallint NOT NULL CHECK (bucket BETWEEN 0 AND 31),
    stock       bigint NOT NULL CHECK (stock >= 0),
    PRIMARY KEY (product_id, bucket)
) WITH (fillfactor = 50);   -- room for HOT updates: every order rewrites one

-- The data move: each product's stock spread over least(32, stock) buckets
-- (one empty bucket for a product without stock), the remainder on the
-- first ones.  Written out here: migrations do not call sql/functions.
INSERT INTO product_stock (product_id, bucket, stock)
SELECT p.id, b, p.stock / n + CASE WHEN b < p.stock % n THEN 1 ELSE 0 END
  FROM products p,
       LATERAL (SELECT least(32, greatest(1, p.stock))::int AS n) k,
       generate_series(0, k.n - 1) AS b;

ALTER TABLE products DROP COLUMN stock;

-- A third result column, commits: the outcome says itself whether its
-- transaction commits (a FAILED order is recorded).  Result columns are
-- part of the signature, so the old definitions go first; the callers of
-- the previous release select outcome and detail by name and still work.
DROP FUNCTION IF EXISTS shop_create_order(bigint, bigint[], bigint[], interval);
DROP FUNCTION IF EXISTS shop_pay_order(bigint, bigint, bigint);
DROP FUNCTION IF EXISTS shop_cancel_order(bigint, bigint);
DROP FUNCTION IF EXISTS shop_issue_coupon(bigint, bigint);
