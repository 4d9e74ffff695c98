-- shop_user_coupon_json: the live definition (sql/functions/README.md says how these files are applied).

-- On the coupons usable on an order: what it takes off that order, as one
-- more member (the object is ours and ends in '}').
CREATE OR REPLACE FUNCTION shop_user_coupon_json(uc user_coupons, c coupons, p_discount bigint)
    RETURNS json
    LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN p_discount IS NULL THEN shop_user_coupon_json(uc, c)
                ELSE (left(shop_user_coupon_json(uc, c)::text, -1)
                      || ', "discount_amount" : ' || p_discount || '}')::json
           END
$$;

CREATE OR REPLACE FUNCTION shop_user_coupon_json(uc user_coupons, c coupons) RETURNS json
    LANGUAGE sql STABLE
AS $$
    SELECT json_build_object(
        'user_coupon_id', uc.id, 'coupon_id', c.id, 'name', c.name,
        'discount_type', c.discount_type, 'discount_value', c.discount_value,
        'max_discount', c.max_discount, 'min_order_amount', c.min_order_amount,
        'status', CASE WHEN uc.status = 'USED' THEN 'USED'
                       WHEN uc.expires_at <= now() THEN 'EXPIRED'
                       ELSE 'AVAILABLE' END,
        'order_id', uc.order_id, 'issued_at', shop_ts(uc.issued_at),
        'expires_at', shop_ts(uc.expires_at), 'used_at', shop_ts(uc.used_at))
$$;
