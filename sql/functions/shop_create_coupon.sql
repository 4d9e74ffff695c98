-- shop_create_coupon: the live definition (sql/functions/README.md says how these files are applied).

-- Creates a campaign with its slots and its 16 stripes.
CREATE OR REPLACE FUNCTION shop_create_coupon(p_name text, p_type text, p_value bigint,
                                   p_max bigint, p_min bigint, p_quantity int,
                                   p_starts timestamptz, p_ends timestamptz,
                                   p_valid_days int) RETURNS json
    LANGUAGE plpgsql
AS $$
DECLARE
    v coupons;
BEGIN
    INSERT INTO coupons (name, discount_type, discount_value, max_discount,
                         min_order_amount, total_quantity, issue_starts_at,
                         issue_ends_at, valid_days)
    VALUES (p_name, p_type, p_value, p_max, coalesce(p_min, 0), p_quantity,
            coalesce(p_starts, now()), coalesce(p_ends, now() + interval '30 days'),
            coalesce(p_valid_days, 30))
    RETURNING * INTO v;
    INSERT INTO coupon_slots (coupon_id, slot)
    SELECT v.id, s FROM generate_series(1, p_quantity) AS s;
    INSERT INTO coupon_issued (coupon_id, stripe)
    SELECT v.id, st FROM generate_series(0, 15) AS st;
    RETURN shop_coupon_json(v);
END
$$;
