-- shop_issue_coupon: the live definition (sql/functions/README.md says how these files are applied).

-- commits stays NULL (false): a refusal rolls back what the call wrote.
CREATE OR REPLACE FUNCTION shop_issue_coupon(p_user_id bigint, p_coupon_id bigint,
                                  OUT outcome text, OUT detail json,
                                  OUT commits boolean)
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
