-- The sales ledger behind the popular ranking: one narrow row per order
-- line of a PAID order, keyed by the time it was paid.  The ranking's
-- refresh then reads the window through one index (an index-only scan of
-- (paid_at) INCLUDE (product_id, quantity)) and costs what the window
-- holds, however long the order history grows; joining orders to
-- order_items instead read every order line ever written.
--
-- Triggers keep it exact whoever writes orders (the SQL functions, an
-- admin with psql, test fixtures): a line is in `sales` exactly while its
-- order is PAID, with the order's paid_at.  Rows are only ever inserted and
-- deleted, never updated, so payments of the same product do not contend
-- on a shared row.

CREATE TABLE sales (
    order_id    bigint NOT NULL REFERENCES orders (id),
    product_id  bigint NOT NULL,
    quantity    bigint NOT NULL,
    paid_at     timestamptz NOT NULL
);
CREATE INDEX sales_paid_at ON sales (paid_at) INCLUDE (product_id, quantity);
CREATE INDEX sales_order_id ON sales (order_id);

-- (function shop_sales_follow_order: sql/functions/shop_sales_follow_order.sql)

-- (trigger shop_sales_follow_order: sql/functions/shop_sales_follow_order.sql)

-- (trigger shop_sales_follow_order: sql/functions/shop_sales_follow_order.sql)

-- (function shop_sales_follow_line: sql/functions/shop_sales_follow_line.sql)

-- (trigger shop_sales_follow_line: sql/functions/shop_sales_follow_line.sql)

INSERT INTO sales (order_id, product_id, quantity, paid_at)
SELECT o.id, i.product_id, i.quantity, o.paid_at
  FROM orders o JOIN order_items i ON i.order_id = o.id
 WHERE o.status = 'PAID' AND o.paid_at IS NOT NULL;
