-- shop_product_stock: the live definition (sql/functions/README.md says how these files are applied).

-- A product's stock: the sum of its buckets.  For tools, tests and the
-- bench; the module's own reads write the sub-select out (a LANGUAGE sql
-- function with a sub-select is planned again on every call).
CREATE OR REPLACE FUNCTION shop_product_stock(p_product_id bigint) RETURNS bigint
    LANGUAGE sql STABLE
AS $$
    SELECT coalesce(sum(stock), 0)::bigint FROM product_stock WHERE product_id = p_product_id
$$;
