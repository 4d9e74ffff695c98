-- shop_release_stock: the live definition (sql/functions/README.md says how these files are applied).

-- Puts the stock of orders' items back, product by product in id order
-- (the global lock order: products by id, then their buckets).
CREATE OR REPLACE FUNCTION shop_release_stock(p_order_ids bigint[]) RETURNS void
    LANGUAGE plpgsql
AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT product_id, sum(quantity)::bigint AS quantity FROM order_items
              WHERE order_id = ANY (p_order_ids)
              GROUP BY product_id ORDER BY product_id LOOP
        PERFORM shop_stock_give(r.product_id, r.quantity);
    END LOOP;
END
$$;
