-- The coupon reads' JSON, inlined into the statements that use it (issue 11).
--
-- A LANGUAGE sql function is inlined into its caller's plan only when its
-- body is one expression: no FROM clause, no sub-select.  Otherwise it is
-- parsed and planned again on every execution of the calling statement,
-- prepared or not.  shop_coupon_json (a sub-select for the remaining count)
-- and shop_user_coupon_json (a FROM clause) were such functions: with
-- pgbench -M prepared at 4 clients, GET /coupons/{id}'s statement ran at
-- 13.5k/s with the function and 50.5k/s written out, and the httpd route at
-- 8.0k req/s against 19.4k for a product by id.  Migration 008 did the same
-- for shop_order_json.
--
-- The old signatures stay callable, so a module of the previous release
-- keeps working while the servers are upgraded one by one (migrate first,
-- then the modules; docs/operations.md).

-- A campaign as the API shows it, its issued count already at hand (the
-- sum of its 16 stripes in coupon_issued).  No FROM clause: inlined.
CREATE FUNCTION shop_coupon_json(c coupons, p_issued bigint) RETURNS json
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

-- For callers without the count (shop_create_coupon): not inlined.
CREATE OR REPLACE FUNCTION shop_coupon_json(c coupons) RETURNS json
    LANGUAGE sql STABLE
AS $$
    SELECT shop_coupon_json(c, (SELECT coalesce(sum(i.issued), 0) FROM coupon_issued i
                                 WHERE i.coupon_id = c.id))
$$;

-- A user coupon as the API shows it, with its derived status.  The
-- two-argument form used to be the three-argument one's default; a new
-- two-argument function beside a three-argument one with a default would
-- make every two-argument call ambiguous, so the old one goes first.
DROP FUNCTION shop_user_coupon_json(user_coupons, coupons, bigint);

CREATE FUNCTION shop_user_coupon_json(uc user_coupons, c coupons) RETURNS json
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

-- On the coupons usable on an order: what it takes off that order, as one
-- more member (the object is ours and ends in '}').
CREATE FUNCTION shop_user_coupon_json(uc user_coupons, c coupons, p_discount bigint)
    RETURNS json
    LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN p_discount IS NULL THEN shop_user_coupon_json(uc, c)
                ELSE (left(shop_user_coupon_json(uc, c)::text, -1)
                      || ', "discount_amount" : ' || p_discount || '}')::json
           END
$$;
