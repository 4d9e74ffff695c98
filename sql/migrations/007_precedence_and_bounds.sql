-- Answers in the contract's order, and amounts within 2^53 - 1 (issue 15).
--
-- shop_issue_coupon: USER_NOT_FOUND / COUPON_NOT_FOUND, then ALREADY_ISSUED,
-- then COUPON_NOT_ISSUABLE, then SOLD_OUT (it answered COUPON_NOT_ISSUABLE
-- before ALREADY_ISSUED and USER_NOT_FOUND).
-- shop_create_order: refuses an order whose total would pass 2^53 - 1
-- (it was stored, and later reads overflowed).
-- shop_discount: computed in numeric, so no total and value can overflow.
-- shop_issue_coupon also moves the campaign's striped count (issue 13,
-- coupon_issued in 005_flat_cost.sql).

-- (function shop_discount: sql/functions/shop_discount.sql)

-- (function shop_create_order: sql/functions/shop_create_order.sql)

-- (function shop_issue_coupon: sql/functions/shop_issue_coupon.sql)

-- (function shop_plainly_sold_out: sql/functions/shop_plainly_sold_out.sql)
