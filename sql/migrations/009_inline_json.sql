-- The coupon reads' JSON, inlined into the statements that use it (issue 11).
--
-- A LANGUAGE sql function is inlined into its caller's plan only when its
-- body is one expression: no FROM clause, no sub-select.  Otherwise it is
-- parsed and planned again on every execution of the calling statement,
-- prepared or not.  shop_coupon_json (a sub-select for the remaining count)
-- and shop_user_coupon_json (a FROM clause) were such functions: with
-- pgbench -M prepared at 4 clients, GET /coupons/{id}'s statement ran at
-- 13.5k/s with the function and 50.5k/s written out, and the httpd route at
-- 8.0k req/s against 19.4k for a product by id.  Migration 008 did the same
-- for shop_order_json.
--
-- The old signatures stay callable, so a module of the previous release
-- keeps working while the servers are upgraded one by one (migrate first,
-- then the modules; docs/operations.md).

-- (function shop_coupon_json: sql/functions/shop_coupon_json.sql)

-- (function shop_coupon_json: sql/functions/shop_coupon_json.sql)

-- A user coupon as the API shows it, with its derived status.  The
-- two-argument form used to be the three-argument one's default; a new
-- two-argument function beside a three-argument one with a default would
-- make every two-argument call ambiguous, so the old one goes first.
DROP FUNCTION IF EXISTS shop_user_coupon_json(user_coupons, coupons, bigint);

-- (function shop_user_coupon_json: sql/functions/shop_user_coupon_json.sql)

-- (function shop_user_coupon_json: sql/functions/shop_user_coupon_json.sql)
