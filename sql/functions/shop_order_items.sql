-- shop_order_items: the live definition (sql/functions/README.md says how these files are applied).

-- An order's items as JSON, for responses and events (plan cached).
CREATE OR REPLACE FUNCTION shop_order_items(p_order_id bigint) RETURNS json
    LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN (SELECT coalesce(json_agg(json_build_object('product_id', product_id,
                                     'quantity', quantity, 'unit_price', unit_price)
                                     ORDER BY product_id), '[]'::json)
              FROM order_items WHERE order_id = p_order_id);
END
$$;
