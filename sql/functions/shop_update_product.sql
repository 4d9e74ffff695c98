-- shop_update_product: the live definition (sql/functions/README.md says how these files are applied).

-- PATCH /admin/products/{id}: each of price, stock (the new total) and
-- on_sale when given; no row when there is no such product.
CREATE OR REPLACE FUNCTION shop_update_product(p_id bigint, p_price bigint, p_stock bigint,
                                               p_on_sale boolean)
    RETURNS TABLE (id bigint, name text, price bigint, stock bigint, on_sale boolean)
    LANGUAGE plpgsql
AS $$
#variable_conflict use_column
BEGIN
    UPDATE products p SET price = coalesce(p_price, p.price),
           on_sale = coalesce(p_on_sale, p.on_sale), updated_at = now()
     WHERE p.id = p_id;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF p_stock IS NOT NULL THEN
        PERFORM shop_set_stock(p_id, p_stock);
    END IF;
    RETURN QUERY SELECT p.id, p.name, p.price, shop_product_stock(p.id), p.on_sale
                   FROM products p WHERE p.id = p_id;
END
$$;
