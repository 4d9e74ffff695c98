-- shop_sales_follow_line: the live definition (sql/functions/README.md says how these files are applied).

-- A line added to an order that is already PAID (bulk loads write the
-- order first, then its lines) enters the ledger at once.
CREATE OR REPLACE FUNCTION shop_sales_follow_line() RETURNS trigger
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

DROP TRIGGER IF EXISTS sales_follow_line ON order_items;
CREATE TRIGGER sales_follow_line
    AFTER INSERT ON order_items
    FOR EACH ROW EXECUTE FUNCTION shop_sales_follow_line();
