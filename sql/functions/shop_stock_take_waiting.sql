-- shop_stock_take_waiting: the live definition (sql/functions/README.md says how these files are applied).

-- Step 3 of shop_stock_take: waits for one bucket and takes p_qty from it
-- if it still holds them once locked.  A row that fails that re-check
-- stays locked by the waiter all the same (FOR UPDATE locks before it
-- re-checks); keeping that lock while waiting for the next bucket of the
-- same product lets two such waiters deadlock.  So the wait runs in a
-- subtransaction (the EXCEPTION block), undone when the bucket came back
-- empty, and the lock goes with it.  Only the contended path pays for it.
CREATE OR REPLACE FUNCTION shop_stock_take_waiting(p_product_id bigint, p_bucket int,
                                                   p_qty bigint) RETURNS boolean
    LANGUAGE plpgsql
AS $$
BEGIN
    BEGIN
        UPDATE product_stock SET stock = stock - p_qty
         WHERE product_id = p_product_id AND bucket = p_bucket AND stock >= p_qty;
        IF NOT FOUND THEN
            RAISE no_data_found;
        END IF;
        RETURN true;
    EXCEPTION WHEN no_data_found THEN
        RETURN false;
    END;
END
$$;
