-- shop_sales_follow_order: the live definition (sql/functions/README.md says how these files are applied).

-- An order's lines enter or leave the ledger with its PAID status.
CREATE OR REPLACE FUNCTION shop_sales_follow_order() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    -- Rebuilt, never patched: the trigger on order_items may already have
    -- added lines when both tables were written in one statement.  An
    -- order that was not PAID before has no lines in the ledger.
    IF TG_OP = 'INSERT' OR OLD.status = 'PAID' THEN
        DELETE FROM sales WHERE order_id = NEW.id;
    END IF;
    IF NEW.status = 'PAID' AND NEW.paid_at IS NOT NULL THEN
        INSERT INTO sales (order_id, product_id, quantity, paid_at)
        SELECT NEW.id, product_id, quantity, NEW.paid_at
          FROM order_items WHERE order_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS sales_follow_new_order ON orders;
CREATE TRIGGER sales_follow_new_order
    AFTER INSERT ON orders
    FOR EACH ROW WHEN (NEW.status = 'PAID')
    EXECUTE FUNCTION shop_sales_follow_order();

DROP TRIGGER IF EXISTS sales_follow_order ON orders;
CREATE TRIGGER sales_follow_order
    AFTER UPDATE OF status, paid_at ON orders
    FOR EACH ROW
    WHEN ((OLD.status = 'PAID' OR NEW.status = 'PAID')
          AND (OLD.status IS DISTINCT FROM NEW.status
               OR OLD.paid_at IS DISTINCT FROM NEW.paid_at))
    EXECUTE FUNCTION shop_sales_follow_order();
