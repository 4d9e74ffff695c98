-- GET /products/{id}: SQL_PRODUCT_GET of mod_shop/mod_shop_sql.c, one
-- autocommit statement (read routes open no transaction).
\set id random(1, :products)
SELECT id, name, price, stock FROM products WHERE id = :id::bigint AND on_sale;
