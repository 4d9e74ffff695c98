-- shop_coupon_count: the live definition (sql/functions/README.md says how these files are applied).

-- Adds a batch's claims of a campaign to one of its stripes.  A campaign
-- created behind shop_create_coupon's back gets the stripe here.
CREATE OR REPLACE FUNCTION shop_coupon_count(p_coupon_id bigint, p_stripe int, p_claims int)
    RETURNS void
    LANGUAGE plpgsql
AS $$
BEGIN
    IF p_claims = 0 THEN
        RETURN;
    END IF;
    UPDATE coupon_issued SET issued = issued + p_claims
     WHERE coupon_id = p_coupon_id AND stripe = p_stripe;
    IF NOT FOUND THEN
        INSERT INTO coupon_issued (coupon_id, stripe, issued)
        VALUES (p_coupon_id, p_stripe, p_claims)
        ON CONFLICT (coupon_id, stripe) DO UPDATE SET issued = coupon_issued.issued + p_claims;
    END IF;
END
$$;
