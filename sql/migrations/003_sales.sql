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

-- An order's lines enter or leave the ledger with its PAID status.
CREATE FUNCTION shop_sales_follow_order() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    -- Rebuilt, never patched: the trigger on order_items may already have
    -- added lines when both tables were written in one statement.
    DELETE FROM sales WHERE order_id = NEW.id;
    IF NEW.status = 'PAID' AND NEW.paid_at IS NOT NULL THEN
        INSERT INTO sales (order_id, product_id, quantity, paid_at)
        SELECT NEW.id, product_id, quantity, NEW.paid_at
          FROM order_items WHERE order_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER sales_follow_new_order
    AFTER INSERT ON orders
    FOR EACH ROW WHEN (NEW.status = 'PAID')
    EXECUTE FUNCTION shop_sales_follow_order();

CREATE TRIGGER sales_follow_order
    AFTER UPDATE OF status, paid_at ON orders
    FOR EACH ROW
    WHEN ((OLD.status = 'PAID' OR NEW.status = 'PAID')
          AND (OLD.status IS DISTINCT FROM NEW.status
               OR OLD.paid_at IS DISTINCT FROM NEW.paid_at))
    EXECUTE FUNCTION shop_sales_follow_order();

-- A line added to an order that is already PAID (bulk loads write the
-- order first, then its lines) enters the ledger at once.
CREATE FUNCTION shop_sales_follow_line() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO sales (order_id, product_id, quantity, paid_at)
    SELECT o.id, NEW.product_id, NEW.quantity, o.paid_at
      FROM orders o
     WHERE o.id = NEW.order_id AND o.status = 'PAID' AND o.paid_at IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM sales s
                        WHERE s.order_id = NEW.order_id
                          AND s.product_id = NEW.product_id);
    RETURN NULL;
END
$$;

CREATE TRIGGER sales_follow_line
    AFTER INSERT ON order_items
    FOR EACH ROW EXECUTE FUNCTION shop_sales_follow_line();

INSERT INTO sales (order_id, product_id, quantity, paid_at)
SELECT o.id, i.product_id, i.quantity, o.paid_at
  FROM orders o JOIN order_items i ON i.order_id = o.id
 WHERE o.status = 'PAID' AND o.paid_at IS NOT NULL;
