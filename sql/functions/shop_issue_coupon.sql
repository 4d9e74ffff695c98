-- shop_issue_coupon: the live definition (sql/functions/README.md says how these files are applied).

-- One issue, with every answer of the contract and its details.  The
-- route runs it for a request with an Idempotency-Key, and for one a batch
-- left UNDECIDED (shop_issue_coupons, which also makes the claims here).
-- commits stays NULL (false): a refusal writes nothing.
CREATE OR REPLACE FUNCTION shop_issue_coupon(p_user_id bigint, p_coupon_id bigint,
                                  OUT outcome text, OUT detail json,
                                  OUT commits boolean)
    LANGUAGE plpgsql
AS $$
DECLARE
    v_coupon coupons;
BEGIN
    -- USER_NOT_FOUND, ALREADY_ISSUED and a claim of a slot no one holds.
    SELECT b.outcome, b.detail INTO outcome, detail
      FROM shop_issue_coupons(ARRAY[p_user_id], ARRAY[p_coupon_id]) b;
    IF outcome <> 'UNDECIDED' THEN
        RETURN;
    END IF;
    -- The rest of the contract's order: COUPON_NOT_FOUND, then
    -- ALREADY_ISSUED (the batch found the user's row), then
    -- COUPON_NOT_ISSUABLE, then SOLD_OUT.
    SELECT * INTO v_coupon FROM coupons WHERE id = p_coupon_id;
    IF NOT FOUND THEN
        outcome := 'COUPON_NOT_FOUND';
        detail := NULL;
        RETURN;
    END IF;
    IF now() < v_coupon.issue_starts_at OR now() >= v_coupon.issue_ends_at THEN
        outcome := 'COUPON_NOT_ISSUABLE';
        detail := json_build_object('issue_starts_at', shop_ts(v_coupon.issue_starts_at),
                                     'issue_ends_at', shop_ts(v_coupon.issue_ends_at));
        RETURN;
    END IF;
    -- Every free slot is being claimed right now.  Wait for the lowest: a
    -- slot whose claim rolls back is ours, one that commits no longer
    -- matches and is passed over.  So SOLD_OUT is exact.  A slot this
    -- transaction holds is not skipped, so the claim below takes one.
    PERFORM 1 FROM coupon_slots
      WHERE coupon_id = p_coupon_id AND user_id IS NULL
      ORDER BY slot + 0 LIMIT 1 FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'SOLD_OUT';
        detail := NULL;
        RETURN;
    END IF;
    SELECT b.outcome, b.detail INTO outcome, detail
      FROM shop_issue_coupons(ARRAY[p_user_id], ARRAY[p_coupon_id]) b;
END
$$;
