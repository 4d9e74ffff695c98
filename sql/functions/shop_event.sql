-- shop_event: the live definition (sql/functions/README.md says how these files are applied).

-- The order row is locked (FOR UPDATE) by every caller (payment, cancel),
-- so counting the order's events cannot race another event of the order.
CREATE OR REPLACE FUNCTION shop_event(p_type text, o orders) RETURNS void
    LANGUAGE plpgsql
AS $$
DECLARE
    v_event uuid := gen_random_uuid();
BEGIN
    INSERT INTO outbox (event_id, type, order_id, payload)
    VALUES (v_event, p_type, o.id, json_build_object(
               'event_id', v_event, 'type', p_type, 'order_id', o.id,
               'sequence', (SELECT count(*) + 1 FROM outbox x WHERE x.order_id = o.id),
               'user_id', o.user_id, 'items', shop_order_items(o.id),
               'total_amount', o.total_amount,
               'discount_amount', o.discount_amount,
               'paid_amount', o.paid_amount, 'paid_at', shop_ts(o.paid_at),
               'cancelled_at', shop_ts(o.cancelled_at)));
END
$$;
