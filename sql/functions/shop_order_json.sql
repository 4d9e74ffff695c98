-- shop_order_json: the live definition (sql/functions/README.md says how these files are applied).

CREATE OR REPLACE FUNCTION shop_order_json(o orders) RETURNS json
    LANGUAGE sql STABLE
AS $$
    SELECT shop_order_json(o, shop_order_items(o.id))
$$;

-- The order as the API shows it, with its items already at hand.  No FROM
-- clause: it is inlined into the caller's statement.
CREATE OR REPLACE FUNCTION shop_order_json(o orders, p_items json) RETURNS json
    LANGUAGE sql STABLE
AS $$
    SELECT json_build_object(
        'order_id', o.id, 'user_id', o.user_id, 'status', o.status,
        'total_amount', o.total_amount, 'discount_amount', o.discount_amount,
        'paid_amount', o.paid_amount, 'user_coupon_id', o.user_coupon_id,
        'items', p_items,
        'created_at', shop_ts(o.created_at), 'expires_at', shop_ts(o.expires_at),
        'paid_at', shop_ts(o.paid_at), 'cancelled_at', shop_ts(o.cancelled_at))
$$;
