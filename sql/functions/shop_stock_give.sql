-- shop_stock_give: the live definition (sql/functions/README.md says how these files are applied).

-- Puts p_qty units back into a product's stock (cancel, expiry): into any
-- bucket no other transaction holds, else the random one it waits for
-- (at most 5 s).  Which bucket does not matter: the stock is
-- the sum.
CREATE OR REPLACE FUNCTION shop_stock_give(p_product_id bigint, p_qty bigint) RETURNS void
    LANGUAGE plpgsql
AS $$
DECLARE
    v_start int := floor(random() * 32)::int;
    v_bucket int;
BEGIN
    SELECT bucket INTO v_bucket FROM product_stock
     WHERE product_id = p_product_id
     ORDER BY bucket < v_start, bucket LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        PERFORM set_config('lock_timeout', '5s', true);   -- 55P03: BUSY
        SELECT bucket INTO v_bucket FROM product_stock
         WHERE product_id = p_product_id ORDER BY random() LIMIT 1;
    END IF;
    UPDATE product_stock SET stock = stock + p_qty
     WHERE product_id = p_product_id AND bucket = v_bucket;
END
$$;
