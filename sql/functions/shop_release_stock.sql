-- shop_release_stock: the live definition (sql/functions/README.md says how these files are applied).

-- Puts the stock of orders' items back.  The products of all the orders
-- are locked at once, in id order, before any stock moves: locking them
-- order by order would take them out of id order across several orders
-- and could deadlock with order creation.
CREATE OR REPLACE FUNCTION shop_release_stock(p_order_ids bigint[]) RETURNS void
    LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM 1 FROM products
      WHERE id IN (SELECT product_id FROM order_items WHERE order_id = ANY (p_order_ids))
      ORDER BY id FOR UPDATE;
    UPDATE products p SET stock = p.stock + r.quantity, updated_at = now()
      FROM (SELECT product_id, sum(quantity) AS quantity FROM order_items
             WHERE order_id = ANY (p_order_ids) GROUP BY product_id) r
     WHERE p.id = r.product_id;
END
$$;
