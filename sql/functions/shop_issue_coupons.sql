-- shop_issue_coupons: the live definition (sql/functions/README.md says how these files are applied).

-- First-come issues of many requests in one transaction (issue 20): a
-- child collects the issue requests that arrive while its previous batch
-- runs (mod_shop_coupons.c), and one commit serves them all.  A claim's
-- cost is mostly its transaction (the commit's WAL flush, and concurrent
-- claimers skipping one another's locked slots), so a batch of 8-16
-- claims runs about 3 times as many per second as single claims (pgbench,
-- docs/performance.md).  shop_issue_coupon is a batch of one.
--
-- Pair i is (p_users[i], p_coupons[i]); row i answers it.  A batch answers
-- what it can answer exactly, in the contract's order: USER_NOT_FOUND,
-- ALREADY_ISSUED, OK (detail: the user coupon).  Everything else is
-- 'UNDECIDED', and that request takes shop_issue_coupon alone, which gives
-- the answer and its details: a campaign that does not exist or is outside
-- its window, and a campaign whose free slots are all locked by claims in
-- flight (it may be sold out: only a claim that waits for them can tell,
-- and a batch holding slots must not wait for another batch).
--
-- Deadlock-free between batches: the pairs go in (coupon, user) order, so
-- two batches waiting on the same users' rows (user_coupons' unique index)
-- wait in one order; a batch locks a slot only with SKIP LOCKED; and a
-- campaign's count moves once per batch, all on one stripe (that of the
-- batch's first slot of it), after its claims.  Its count is the sum of
-- its stripes (005_flat_cost.sql); one stripe per batch keeps concurrent
-- batches on different stripe rows.
CREATE OR REPLACE FUNCTION shop_issue_coupons(p_users bigint[], p_coupons bigint[])
    RETURNS TABLE (i int, outcome text, detail json)
    LANGUAGE plpgsql
AS $$
DECLARE
    v_pair record;
    v_coupon coupons;
    v_slot int;
    v_stripe int;           -- the stripe of v_coupon's claims in this batch
    v_claims int := 0;      -- and how many
    v_uc user_coupons;
BEGIN
    FOR v_pair IN SELECT t.n::int AS n, t.u, t.c
                    FROM unnest(p_users, p_coupons) WITH ORDINALITY AS t (u, c, n)
                   ORDER BY t.c, t.u, t.n LOOP
        i := v_pair.n;
        detail := NULL;
        IF v_coupon.id IS DISTINCT FROM v_pair.c THEN
            PERFORM shop_coupon_count(v_coupon.id, v_stripe, v_claims);
            v_claims := 0;
            SELECT * INTO v_coupon FROM coupons WHERE id = v_pair.c;
        END IF;
        PERFORM 1 FROM users WHERE id = v_pair.u;
        IF NOT FOUND THEN
            outcome := 'USER_NOT_FOUND';
        ELSIF v_coupon.id IS NULL THEN
            outcome := 'UNDECIDED';
        ELSIF EXISTS (SELECT 1 FROM user_coupons
                       WHERE coupon_id = v_pair.c AND user_id = v_pair.u) THEN
            outcome := 'ALREADY_ISSUED';
        ELSIF now() < v_coupon.issue_starts_at OR now() >= v_coupon.issue_ends_at THEN
            outcome := 'UNDECIDED';
        ELSE
            -- ORDER BY slot + 0: the order only the partial index
            -- coupon_slots_free gives, so the claim reads free slots only
            -- (005_flat_cost.sql says why plain slot order walked them all).
            SELECT slot INTO v_slot FROM coupon_slots
             WHERE coupon_id = v_pair.c AND user_id IS NULL
             ORDER BY slot + 0 LIMIT 1 FOR UPDATE SKIP LOCKED;
            IF NOT FOUND THEN
                outcome := 'UNDECIDED';
            ELSE
                -- A row of the same user in flight elsewhere: wait for it;
                -- committed, it is ALREADY_ISSUED, and the slot stays free.
                INSERT INTO user_coupons (coupon_id, user_id, expires_at)
                VALUES (v_pair.c, v_pair.u, now() + make_interval(days => v_coupon.valid_days))
                ON CONFLICT DO NOTHING
                RETURNING * INTO v_uc;
                IF NOT FOUND THEN
                    outcome := 'ALREADY_ISSUED';
                ELSE
                    UPDATE coupon_slots SET user_id = v_pair.u
                     WHERE coupon_id = v_pair.c AND slot = v_slot;
                    v_stripe := CASE WHEN v_claims = 0 THEN v_slot % 16 ELSE v_stripe END;
                    v_claims := v_claims + 1;
                    outcome := 'OK';
                    detail := json_build_object('user_coupon_id', v_uc.id,
                                  'coupon_id', v_coupon.id, 'name', v_coupon.name,
                                  'discount_type', v_coupon.discount_type,
                                  'discount_value', v_coupon.discount_value,
                                  'max_discount', v_coupon.max_discount,
                                  'min_order_amount', v_coupon.min_order_amount,
                                  'status', 'AVAILABLE', 'issued_at', shop_ts(v_uc.issued_at),
                                  'expires_at', shop_ts(v_uc.expires_at));
                END IF;
            END IF;
        END IF;
        RETURN NEXT;
    END LOOP;
    PERFORM shop_coupon_count(v_coupon.id, v_stripe, v_claims);
END
$$;
