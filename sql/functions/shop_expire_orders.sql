-- shop_expire_orders: the live definition (sql/functions/README.md says how these files are applied).

-- Expires unpaid orders past their hold, a batch at a time.  SKIP LOCKED:
-- an order being paid or cancelled right now is left for the next sweep
-- (payment and cancel refuse it anyway once expires_at has passed).  The
-- whole batch's stock goes back in one shop_release_stock.
CREATE OR REPLACE FUNCTION shop_expire_orders(p_batch int) RETURNS int
    LANGUAGE plpgsql
AS $$
DECLARE
    v_ids bigint[];
BEGIN
    SELECT array_agg(id) INTO v_ids FROM (
        SELECT id FROM orders
         WHERE status = 'AWAITING_PAYMENT' AND expires_at <= now()
         ORDER BY id LIMIT p_batch FOR UPDATE SKIP LOCKED) due;
    IF v_ids IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM shop_release_stock(v_ids);
    UPDATE orders SET status = 'EXPIRED', updated_at = now() WHERE id = ANY (v_ids);
    RETURN cardinality(v_ids);
END
$$;
