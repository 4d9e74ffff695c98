-- shop_create_product: the live definition (sql/functions/README.md says how these files are applied).

-- POST /admin/products: the product and its stock buckets; the new row as
-- the route answers it.
CREATE OR REPLACE FUNCTION shop_create_product(p_name text, p_price bigint, p_stock bigint,
                                               p_on_sale boolean,
                                               OUT id bigint, OUT name text, OUT price bigint,
                                               OUT stock bigint, OUT on_sale boolean)
    LANGUAGE plpgsql
AS $$
#variable_conflict use_column
BEGIN
    INSERT INTO products (name, price, on_sale) VALUES (p_name, p_price, p_on_sale)
    RETURNING products.id, products.name, products.price, products.on_sale
         INTO id, name, price, on_sale;
    PERFORM shop_set_stock(id, p_stock);
    stock := p_stock;
END
$$;
