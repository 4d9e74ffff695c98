-- Demo orders and coupons for `make run`, so a newcomer's first curls of
-- /products/popular and /coupons/1 show something.  Everything goes
-- through the same SQL functions as the API (ledger rows, stock, outbox
-- events included).  Re-runnable: added only while carol has no orders.

DO $$
DECLARE
    v_carol bigint := (SELECT id FROM users WHERE login = 'carol');
    v_basket record;
    v_order json;
BEGIN
    IF v_carol IS NULL OR EXISTS (SELECT 1 FROM orders WHERE user_id = v_carol) THEN
        RETURN;
    END IF;
    -- carol's points arrive through the ledger like any charge
    WITH c AS (UPDATE users SET balance = balance + 200000 WHERE id = v_carol
               RETURNING id, balance)
    INSERT INTO point_history (user_id, type, amount, balance_after)
    SELECT id, 'CHARGE', 200000, balance FROM c;

    FOR v_basket IN
        SELECT * FROM (VALUES (ARRAY['Americano', 'Croissant'], ARRAY[3, 2]),
                              (ARRAY['Americano'], ARRAY[2]),
                              (ARRAY['Cafe Latte', 'Cheesecake'], ARRAY[1, 1]),
                              (ARRAY['Cold Brew'], ARRAY[2])) AS b (names, quantities)
    LOOP
        SELECT detail INTO v_order FROM shop_create_order(v_carol,
            (SELECT array_agg(p.id ORDER BY p.id) FROM products p WHERE p.name = ANY (v_basket.names)),
            (SELECT array_agg(q ORDER BY p.id) FROM products p
               JOIN unnest(v_basket.names, v_basket.quantities) AS n (name, q) ON n.name = p.name),
            interval '10 minutes');
        PERFORM shop_pay_order(v_carol, (v_order ->> 'order_id')::bigint, NULL);
    END LOOP;

    IF NOT EXISTS (SELECT 1 FROM coupons) THEN
        PERFORM shop_create_coupon('Welcome 10%', 'RATE', 10, 3000, 10000, 100,
                                   now(), now() + interval '30 days', 14);
        PERFORM shop_create_coupon('5,000 off 30,000', 'FIXED', 5000, NULL, 30000, 20,
                                   now(), now() + interval '30 days', 30);
    END IF;
END
$$;
