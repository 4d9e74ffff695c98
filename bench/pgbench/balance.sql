-- GET /users/{id}/points: SQL_USER_BALANCE of mod_shop/mod_shop_sql.c.
\set id random(1, :users)
SELECT balance FROM users WHERE id = :id::bigint;
