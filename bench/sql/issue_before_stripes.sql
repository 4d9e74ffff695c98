-- bench/sql/issue_before_stripes.sql — shop_issue_coupon as it was before
-- issue 13 (no striped count), for bench/scale's before/after race only.
-- Never a migration.  Its claim orders by slot + 0 like the current one
-- (the index coupon_slots_free of 005), so the two differ by the count only.
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

    -- ORDER BY slot keeps even PL/pgSQL's generic plan on the partial
    -- index coupon_slots_free; without it the cached plan was a sequential
    -- scan over every campaign's slots (46 ms at 340k rows).
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
    BEGIN
        INSERT INTO user_coupons (coupon_id, user_id, expires_at)
        VALUES (p_coupon_id, p_user_id, now() + make_interval(days => v_coupon.valid_days))
        RETURNING * INTO v_uc;
    EXCEPTION WHEN unique_violation THEN
        -- The same user raced itself: give the slot back.
        UPDATE coupon_slots SET user_id = NULL
         WHERE coupon_id = p_coupon_id AND slot = v_slot;
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
