-- POST /users/{u}/orders then POST /users/{u}/orders/{id}/payment:
-- SQL_ORDER_CREATE and SQL_ORDER_PAY of mod_shop/mod_shop_sql.c, each its
-- own autocommit statement, one random product x 1 for a random user. One
-- pgbench transaction = one create + one payment = one bench "op".
-- The only addition is detail->>'order_id' (the module parses it out of
-- the returned JSON in C). :hold is ShopOrderHold in microseconds.
\set uid random(1, :users)
\set pid random(1, :products)
SELECT outcome, detail, detail->>'order_id' AS order_id FROM shop_create_order(:uid::bigint, ARRAY[:pid::bigint], ARRAY[1::bigint], :hold::bigint * interval '1 microsecond') \gset
SELECT outcome, detail FROM shop_pay_order(:uid::bigint, :order_id::bigint, NULL::bigint);
