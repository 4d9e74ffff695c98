-- POST /users/{id}/points/charge: SQL_POINTS_CHARGE of mod_shop/mod_shop_sql.c,
-- one autocommit statement (without an Idempotency-Key the module opens no
-- explicit transaction). :max is ShopBalanceMax of the bench configuration.
\set id random(1, :users)
\set amount random(1, 1000)
WITH u AS (UPDATE users SET balance = balance + :amount::bigint WHERE id = :id::bigint AND balance + :amount::bigint <= :max::bigint RETURNING id, balance), h AS (INSERT INTO point_history (user_id, type, amount, balance_after) SELECT id, 'CHARGE', :amount::bigint, balance FROM u) SELECT balance FROM u;
