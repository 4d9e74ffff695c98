-- shop_stock_take: the live definition (sql/functions/README.md says how these files are applied).

-- Takes p_qty units of a product's stock; false when it has fewer.
--
-- 1. Any bucket holding p_qty that no other transaction has locked, from a
--    random start upwards, then below it (FOR UPDATE SKIP LOCKED): the
--    common case, no waiting.
-- 2. Every such bucket is locked by someone: if the committed stock is
--    below p_qty the order is short, answered without a lock (the sum read
--    now can only be larger than what is left once the holders commit).
-- 3. Else wait for one bucket that held p_qty a moment ago and take it if
--    it still does once locked; if it was emptied meanwhile, go round again
--    (a few times) without keeping its lock (shop_stock_take_waiting).  Waits are bounded by lock_timeout (5 s, this
--    transaction only): 55P03 then, which the module answers BUSY.
-- 4. No single bucket holds p_qty (a multi-unit line near the end of a
--    sale), or the rounds ran out: every bucket locked in bucket order and
--    taken from in that order.
-- Lock order: products by id (the caller), then buckets; steps 1-3 wait for
-- one bucket at a time and hold none of the product while they do.
CREATE OR REPLACE FUNCTION shop_stock_take(p_product_id bigint, p_qty bigint) RETURNS boolean
    LANGUAGE plpgsql
AS $$
DECLARE
    v_start int := floor(random() * 32)::int;
    v_bucket int;
    v_left bigint := p_qty;
    v_sum bigint;
    r record;
BEGIN
    FOR v_round IN 1 .. 4 LOOP
        -- Claim and take in one statement: the common case is one round trip
        -- inside the function, as cheap as the single stock row it replaces.
        UPDATE product_stock SET stock = stock - p_qty
         WHERE product_id = p_product_id
           AND bucket = (SELECT bucket FROM product_stock
                          WHERE product_id = p_product_id AND bucket >= v_start
                            AND stock >= p_qty
                          ORDER BY bucket LIMIT 1 FOR UPDATE SKIP LOCKED);
        IF NOT FOUND THEN
            UPDATE product_stock SET stock = stock - p_qty
             WHERE product_id = p_product_id
               AND bucket = (SELECT bucket FROM product_stock
                              WHERE product_id = p_product_id AND bucket < v_start
                                AND stock >= p_qty
                              ORDER BY bucket LIMIT 1 FOR UPDATE SKIP LOCKED);
        END IF;
        IF FOUND THEN
            RETURN true;
        END IF;
        IF (SELECT coalesce(sum(stock), 0) FROM product_stock
             WHERE product_id = p_product_id) < p_qty THEN
            RETURN false;
        END IF;
        SELECT bucket INTO v_bucket FROM product_stock
         WHERE product_id = p_product_id AND stock >= p_qty
         ORDER BY bucket < v_start, bucket LIMIT 1;
        EXIT WHEN NOT FOUND;
        PERFORM set_config('lock_timeout', '5s', true);
        IF shop_stock_take_waiting(p_product_id, v_bucket, p_qty) THEN
            RETURN true;
        END IF;
        v_start := (v_bucket + 1) % 32;
    END LOOP;

    PERFORM set_config('lock_timeout', '5s', true);
    SELECT sum(l.stock) INTO v_sum FROM (
        SELECT stock FROM product_stock WHERE product_id = p_product_id
         ORDER BY bucket FOR UPDATE) l;
    IF coalesce(v_sum, 0) < p_qty THEN
        RETURN false;
    END IF;
    FOR r IN SELECT bucket, stock FROM product_stock
              WHERE product_id = p_product_id AND stock > 0 ORDER BY bucket LOOP
        EXIT WHEN v_left = 0;
        UPDATE product_stock SET stock = stock - least(r.stock, v_left)
         WHERE product_id = p_product_id AND bucket = r.bucket;
        v_left := v_left - least(r.stock, v_left);
    END LOOP;
    RETURN true;
END
$$;
