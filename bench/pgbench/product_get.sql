-- GET /products/{id}: SQL_PRODUCT_GET of mod_shop/mod_shop_sql.c, one
-- autocommit statement (read routes open no transaction).
\set id random(1, :products)
SELECT p.id, p.name, p.price,
       (SELECT coalesce(sum(s.stock), 0) FROM product_stock s WHERE s.product_id = p.id)
  FROM products p WHERE p.id = :id::bigint AND p.on_sale;
