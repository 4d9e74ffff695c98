-- shop_create_order: the live definition (sql/functions/README.md says how these files are applied).

-- Creates an order: AWAITING_PAYMENT holding its stock, or FAILED (out of
-- stock), recorded either way ("create the order first, then change its
-- status").  Outcomes: OK, USER_NOT_FOUND, PRODUCT_NOT_FOUND,
-- INVALID_REQUEST (a total above 2^53 - 1), OUT_OF_STOCK; commits says
-- whether the transaction keeps what it wrote (only OK and OUT_OF_STOCK:
-- the FAILED order).
--
-- The stock is taken bucket by bucket (shop_stock_take), products in id
-- order; the product rows themselves are read, not locked, so orders of
-- one product do not queue on its row.  An order short of any product
-- gives back what it took from the others (it still holds those buckets)
-- and is recorded FAILED with every short product named.
CREATE OR REPLACE FUNCTION shop_create_order(p_user_id bigint, p_product_ids bigint[],
                                  p_quantities bigint[], p_hold interval,
                                  OUT outcome text, OUT detail json, OUT commits boolean)
    LANGUAGE plpgsql
AS $$
DECLARE
    v_order orders;
    v_found int;
    v_ids bigint[];
    v_qtys bigint[];
    v_prices bigint[];
    v_short bigint[];
    v_sum numeric;
    v_items json;
    i int;
BEGIN
    commits := false;
    PERFORM 1 FROM users WHERE id = p_user_id;
    IF NOT FOUND THEN
        outcome := 'USER_NOT_FOUND';
        RETURN;
    END IF;

    -- The sum is in numeric: price x quantity x items can pass bigint, and
    -- no amount the API writes may pass 2^53 - 1 (JSON numbers stay exact).
    SELECT count(*), sum(p.price::numeric * w.qty),
           array_agg(p.id ORDER BY p.id), array_agg(w.qty ORDER BY p.id),
           array_agg(p.price ORDER BY p.id),
           json_agg(json_build_object('product_id', p.id, 'quantity', w.qty,
                                      'unit_price', p.price) ORDER BY p.id)
      INTO v_found, v_sum, v_ids, v_qtys, v_prices, v_items
      FROM unnest(p_product_ids, p_quantities) AS w (id, qty)
      JOIN products p ON p.id = w.id AND p.on_sale;
    IF v_found <> cardinality(p_product_ids) THEN
        outcome := 'PRODUCT_NOT_FOUND';
        SELECT json_build_object('product_ids', json_agg(x)) INTO detail
          FROM unnest(p_product_ids) AS x
         WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.id = x AND p.on_sale);
        RETURN;
    END IF;
    IF v_sum > 9007199254740991 THEN
        outcome := 'INVALID_REQUEST';
        detail := json_build_object('detail',
            'the order total would be ' || v_sum || ', above the largest amount, 9007199254740991');
        RETURN;
    END IF;

    FOR i IN 1 .. cardinality(v_ids) LOOP
        IF NOT shop_stock_take(v_ids[i], v_qtys[i]) THEN
            v_short := v_short || v_ids[i];
        END IF;
    END LOOP;
    IF v_short IS NOT NULL THEN
        FOR i IN 1 .. cardinality(v_ids) LOOP
            IF NOT v_ids[i] = ANY (v_short) THEN
                PERFORM shop_stock_give(v_ids[i], v_qtys[i]);
            END IF;
        END LOOP;
    END IF;

    INSERT INTO orders (user_id, status, failure_reason, total_amount, expires_at)
    VALUES (p_user_id,
            CASE WHEN v_short IS NULL THEN 'AWAITING_PAYMENT' ELSE 'FAILED' END,
            CASE WHEN v_short IS NULL THEN NULL ELSE 'OUT_OF_STOCK' END,
            v_sum, CASE WHEN v_short IS NULL THEN now() + p_hold END)
    RETURNING * INTO v_order;
    INSERT INTO order_items (order_id, product_id, quantity, unit_price)
    SELECT v_order.id, w.id, w.qty, w.price
      FROM unnest(v_ids, v_qtys, v_prices) AS w (id, qty, price);
    commits := true;

    IF v_short IS NOT NULL THEN
        outcome := 'OUT_OF_STOCK';
        detail := json_build_object('order_id', v_order.id, 'order_status', 'FAILED',
                      'total_amount', v_order.total_amount, 'items', v_items,
                      'out_of_stock', to_json(v_short));
        RETURN;
    END IF;
    outcome := 'OK';
    detail := shop_order_json(v_order, v_items);
END
$$;
