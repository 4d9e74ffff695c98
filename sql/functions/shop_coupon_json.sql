-- shop_coupon_json: the live definition (sql/functions/README.md says how these files are applied).

-- For callers without the count (shop_create_coupon): not inlined.
CREATE OR REPLACE FUNCTION shop_coupon_json(c coupons) RETURNS json
    LANGUAGE sql STABLE
AS $$
    SELECT shop_coupon_json(c, (SELECT coalesce(sum(i.issued), 0) FROM coupon_issued i
                                 WHERE i.coupon_id = c.id))
$$;

-- A campaign as the API shows it, its issued count already at hand (the
-- sum of its 16 stripes in coupon_issued).  No FROM clause: inlined.
CREATE OR REPLACE FUNCTION shop_coupon_json(c coupons, p_issued bigint) RETURNS json
    LANGUAGE sql STABLE
AS $$
    SELECT json_build_object(
        'id', c.id, 'name', c.name, 'discount_type', c.discount_type,
        'discount_value', c.discount_value, 'max_discount', c.max_discount,
        'min_order_amount', c.min_order_amount,
        'total_quantity', c.total_quantity,
        'remaining_quantity', greatest(0, c.total_quantity - p_issued),
        'issue_starts_at', shop_ts(c.issue_starts_at),
        'issue_ends_at', shop_ts(c.issue_ends_at), 'valid_days', c.valid_days)
$$;
