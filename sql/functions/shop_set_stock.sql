-- shop_set_stock: the live definition (sql/functions/README.md says how these files are applied).

-- Sets a product's stock to p_total (the admin routes, demo data, tests):
-- every bucket locked in bucket order (the one order every multi-bucket
-- lock follows), then the total spread again over least(32, p_total)
-- buckets, the remainder on the first ones.  A product without stock
-- keeps one empty bucket.  Logged as a catalog change
-- (sql/migrations/011_catalog_changes.sql).
CREATE OR REPLACE FUNCTION shop_set_stock(p_product_id bigint, p_total bigint) RETURNS void
    LANGUAGE plpgsql
AS $$
DECLARE
    v_n int := least(32, greatest(1, p_total));
BEGIN
    PERFORM set_config('lock_timeout', '5s', true);   -- 55P03 after it: BUSY
    PERFORM 1 FROM product_stock WHERE product_id = p_product_id
      ORDER BY bucket FOR UPDATE;
    DELETE FROM product_stock WHERE product_id = p_product_id AND bucket >= v_n;
    INSERT INTO product_stock AS s (product_id, bucket, stock)
    SELECT p_product_id, b, p_total / v_n + CASE WHEN b < p_total % v_n THEN 1 ELSE 0 END
      FROM generate_series(0, v_n - 1) AS b
    ON CONFLICT (product_id, bucket) DO UPDATE SET stock = excluded.stock
     WHERE s.stock IS DISTINCT FROM excluded.stock;
    -- an operator's stock is a catalog change: every node shows it within
    -- ShopCatalogSync (orders change stock without a row here)
    INSERT INTO catalog_changes (kind, id) VALUES ('product', p_product_id);
END
$$;
