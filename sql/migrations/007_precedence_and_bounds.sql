-- Answers in the contract's order, and amounts within 2^53 - 1 (issue 15).
--
-- shop_issue_coupon: USER_NOT_FOUND / COUPON_NOT_FOUND, then ALREADY_ISSUED,
-- then COUPON_NOT_ISSUABLE, then SOLD_OUT (it answered COUPON_NOT_ISSUABLE
-- before ALREADY_ISSUED and USER_NOT_FOUND).
-- shop_create_order: refuses an order whose total would pass 2^53 - 1
-- (it was stored, and later reads overflowed).
-- shop_discount: computed in numeric, so no total and value can overflow.
-- shop_issue_coupon also moves the campaign's striped count (issue 13,
-- coupon_issued in 005_flat_cost.sql).

CREATE OR REPLACE FUNCTION shop_discount(p_type text, p_value bigint, p_max bigint,
                                         p_total bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT least(p_total::numeric,
                 CASE WHEN p_type = 'FIXED' THEN p_value::numeric
                      ELSE least(coalesce(p_max, p_total)::numeric,
                                 floor(p_total::numeric * p_value / 100))
                 END)::bigint
$$;

CREATE OR REPLACE FUNCTION shop_create_order(p_user_id bigint, p_product_ids bigint[],
                                  p_quantities bigint[], p_hold interval,
                                  OUT outcome text, OUT detail json)
    LANGUAGE plpgsql
AS $$
DECLARE
    v_order orders;
    v_found int;
    v_short bigint[];
    v_total bigint;
    v_sum numeric;
BEGIN
    PERFORM 1 FROM users WHERE id = p_user_id;
    IF NOT FOUND THEN
        outcome := 'USER_NOT_FOUND';
        RETURN;
    END IF;

    -- The global lock order: products by id.
    PERFORM 1 FROM products WHERE id = ANY (p_product_ids) AND on_sale
      ORDER BY id FOR UPDATE;
    GET DIAGNOSTICS v_found = ROW_COUNT;
    IF v_found <> cardinality(p_product_ids) THEN
        outcome := 'PRODUCT_NOT_FOUND';
        SELECT json_build_object('product_ids', json_agg(x)) INTO detail
          FROM unnest(p_product_ids) AS x
         WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.id = x AND p.on_sale);
        RETURN;
    END IF;

    -- In numeric: price x quantity x items can pass bigint, and no amount
    -- the API writes may pass 2^53 - 1 (JSON numbers stay exact).
    SELECT sum(p.price::numeric * w.qty),
           array_agg(p.id ORDER BY p.id) FILTER (WHERE p.stock < w.qty)
      INTO v_sum, v_short
      FROM unnest(p_product_ids, p_quantities) AS w (id, qty)
      JOIN products p ON p.id = w.id;
    IF v_sum > 9007199254740991 THEN
        outcome := 'INVALID_REQUEST';
        detail := json_build_object('detail',
            'the order total would be ' || v_sum || ', above the largest amount, 9007199254740991');
        RETURN;
    END IF;
    v_total := v_sum;

    INSERT INTO orders (user_id, status, total_amount)
    VALUES (p_user_id, 'FAILED', v_total) RETURNING * INTO v_order;
    INSERT INTO order_items (order_id, product_id, quantity, unit_price)
    SELECT v_order.id, p.id, w.qty, p.price
      FROM unnest(p_product_ids, p_quantities) AS w (id, qty)
      JOIN products p ON p.id = w.id;

    IF v_short IS NOT NULL THEN
        UPDATE orders SET failure_reason = 'OUT_OF_STOCK'
         WHERE id = v_order.id RETURNING * INTO v_order;
        outcome := 'OUT_OF_STOCK';
        detail := json_build_object('order_id', v_order.id, 'order_status', 'FAILED',
                      'total_amount', v_order.total_amount,
                      'items', shop_order_items(v_order.id),
                      'out_of_stock', to_json(v_short));
        RETURN;
    END IF;

    UPDATE products p SET stock = p.stock - w.qty, updated_at = now()
      FROM unnest(p_product_ids, p_quantities) AS w (id, qty)
     WHERE p.id = w.id;
    UPDATE orders SET status = 'AWAITING_PAYMENT', expires_at = now() + p_hold,
                      updated_at = now()
     WHERE id = v_order.id RETURNING * INTO v_order;
    outcome := 'OK';
    detail := shop_order_json(v_order);
END
$$;

CREATE OR REPLACE FUNCTION shop_issue_coupon(p_user_id bigint, p_coupon_id bigint,
                                  OUT outcome text, OUT detail json)
    LANGUAGE plpgsql
AS $$
DECLARE
    v_coupon coupons;
    v_slot int;
    v_uc user_coupons;
BEGIN
    -- The contract's order: USER_NOT_FOUND / COUPON_NOT_FOUND, then
    -- ALREADY_ISSUED, then COUPON_NOT_ISSUABLE, then SOLD_OUT.
    PERFORM 1 FROM users WHERE id = p_user_id;
    IF NOT FOUND THEN
        outcome := 'USER_NOT_FOUND';
        RETURN;
    END IF;
    SELECT * INTO v_coupon FROM coupons WHERE id = p_coupon_id;
    IF NOT FOUND THEN
        outcome := 'COUPON_NOT_FOUND';
        RETURN;
    END IF;
    PERFORM 1 FROM user_coupons WHERE coupon_id = p_coupon_id AND user_id = p_user_id;
    IF FOUND THEN
        outcome := 'ALREADY_ISSUED';
        RETURN;
    END IF;
    IF now() < v_coupon.issue_starts_at OR now() >= v_coupon.issue_ends_at THEN
        outcome := 'COUPON_NOT_ISSUABLE';
        detail := json_build_object('issue_starts_at', shop_ts(v_coupon.issue_starts_at),
                                     'issue_ends_at', shop_ts(v_coupon.issue_ends_at));
        RETURN;
    END IF;

    -- ORDER BY slot + 0: an order only the partial index coupon_slots_free
    -- provides (005_flat_cost.sql), so the claim reads free slots only.
    -- Ordered by plain slot, the planner also costed the primary key
    -- (coupon_id, slot) with a filter on user_id: the same cost while the
    -- statistics still said every slot was free (a campaign analyzed when
    -- created), and it took it, and then walked every slot claimed so far
    -- on each issue (3 ms and 7,215 buffers at 13,000 claims; a sequential
    -- scan before the ORDER BY, 46 ms at 340k rows).
    SELECT slot INTO v_slot FROM coupon_slots
     WHERE coupon_id = p_coupon_id AND user_id IS NULL
     ORDER BY slot + 0 LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        -- Every free slot is being claimed right now.  Wait for those
        -- claims: a slot whose claim rolls back is ours, one that commits
        -- no longer matches and is passed over.  So SOLD_OUT is exact.
        SELECT slot INTO v_slot FROM coupon_slots
         WHERE coupon_id = p_coupon_id AND user_id IS NULL
         ORDER BY slot + 0 LIMIT 1 FOR UPDATE;
        IF NOT FOUND THEN
            outcome := 'SOLD_OUT';
            RETURN;
        END IF;
    END IF;
    UPDATE coupon_slots SET user_id = p_user_id
     WHERE coupon_id = p_coupon_id AND slot = v_slot;
    -- The campaign's count moves with the slot, on stripe slot % 16
    -- (005_flat_cost.sql): concurrent issues hold different slots, so they
    -- mostly update different stripes.  A campaign created behind
    -- shop_create_coupon's back gets its stripe here.
    UPDATE coupon_issued SET issued = issued + 1
     WHERE coupon_id = p_coupon_id AND stripe = v_slot % 16;
    IF NOT FOUND THEN
        INSERT INTO coupon_issued (coupon_id, stripe, issued)
        VALUES (p_coupon_id, v_slot % 16, 1)
        ON CONFLICT (coupon_id, stripe) DO UPDATE SET issued = coupon_issued.issued + 1;
    END IF;
    BEGIN
        INSERT INTO user_coupons (coupon_id, user_id, expires_at)
        VALUES (p_coupon_id, p_user_id, now() + make_interval(days => v_coupon.valid_days))
        RETURNING * INTO v_uc;
    EXCEPTION WHEN unique_violation THEN
        -- The same user raced itself: give the slot, and its count, back.
        UPDATE coupon_slots SET user_id = NULL
         WHERE coupon_id = p_coupon_id AND slot = v_slot;
        UPDATE coupon_issued SET issued = issued - 1
         WHERE coupon_id = p_coupon_id AND stripe = v_slot % 16;
        outcome := 'ALREADY_ISSUED';
        RETURN;
    END;
    outcome := 'OK';
    detail := json_build_object('user_coupon_id', v_uc.id, 'coupon_id', v_coupon.id,
                  'name', v_coupon.name, 'discount_type', v_coupon.discount_type,
                  'discount_value', v_coupon.discount_value,
                  'max_discount', v_coupon.max_discount,
                  'min_order_amount', v_coupon.min_order_amount,
                  'status', 'AVAILABLE', 'issued_at', shop_ts(v_uc.issued_at),
                  'expires_at', shop_ts(v_uc.expires_at));
END
$$;

-- The sold-out shortcut (mod_shop_coupons.c): a campaign known sold out
-- still answers USER_NOT_FOUND, ALREADY_ISSUED or COUPON_NOT_ISSUABLE first;
-- true when none of them applies, so SOLD_OUT is the answer.  Three index
-- probes, no lock.
CREATE FUNCTION shop_plainly_sold_out(p_user_id bigint, p_coupon_id bigint)
    RETURNS boolean
    LANGUAGE sql STABLE
AS $$
    SELECT EXISTS (SELECT 1 FROM users WHERE id = p_user_id)
       AND NOT EXISTS (SELECT 1 FROM user_coupons
                        WHERE coupon_id = p_coupon_id AND user_id = p_user_id)
       AND EXISTS (SELECT 1 FROM coupons WHERE id = p_coupon_id
                      AND now() >= issue_starts_at AND now() < issue_ends_at)
$$;
