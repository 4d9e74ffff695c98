-- shop_plainly_sold_out: the live definition (sql/functions/README.md says how these files are applied).

-- The sold-out shortcut (mod_shop_coupons.c): a campaign known sold out
-- still answers USER_NOT_FOUND, ALREADY_ISSUED or COUPON_NOT_ISSUABLE first;
-- true when none of them applies, so SOLD_OUT is the answer.  Three index
-- probes, no lock.
CREATE OR REPLACE FUNCTION shop_plainly_sold_out(p_user_id bigint, p_coupon_id bigint)
    RETURNS boolean
    LANGUAGE sql STABLE
AS $$
    SELECT EXISTS (SELECT 1 FROM users WHERE id = p_user_id)
       AND NOT EXISTS (SELECT 1 FROM user_coupons
                        WHERE coupon_id = p_coupon_id AND user_id = p_user_id)
       AND EXISTS (SELECT 1 FROM coupons WHERE id = p_coupon_id
                      AND now() >= issue_starts_at AND now() < issue_ends_at)
$$;
