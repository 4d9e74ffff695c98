-- shop_cancel_order: the live definition (sql/functions/README.md says how these files are applied).

-- Cancels an order.  AWAITING_PAYMENT: the stock goes back.  PAID: a full
-- refund in the same transaction (points + REFUND row, coupon, stock,
-- ORDER_CANCELLED event).  Outcomes: OK, ORDER_NOT_FOUND,
-- ORDER_NOT_CANCELLABLE.
-- commits stays NULL (false): a refusal rolls back what the call wrote.
CREATE OR REPLACE FUNCTION shop_cancel_order(p_user_id bigint, p_order_id bigint,
                                  OUT outcome text, OUT detail json,
                                  OUT commits boolean)
    LANGUAGE plpgsql
AS $$
DECLARE
    v_order orders;
    v_balance bigint;
BEGIN
    SELECT * INTO v_order FROM orders
     WHERE id = p_order_id AND user_id = p_user_id FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'ORDER_NOT_FOUND';
        RETURN;
    END IF;
    IF v_order.status NOT IN ('AWAITING_PAYMENT', 'PAID')
       OR (v_order.status = 'AWAITING_PAYMENT' AND v_order.expires_at <= now()) THEN
        -- Past its hold an unpaid order is EXPIRED, swept or not yet.
        outcome := 'ORDER_NOT_CANCELLABLE';
        detail := json_build_object('order_id', v_order.id, 'order_status',
                      CASE WHEN v_order.status = 'AWAITING_PAYMENT'
                           THEN 'EXPIRED' ELSE v_order.status END);
        RETURN;
    END IF;

    PERFORM shop_release_stock(ARRAY[v_order.id]);
    IF v_order.status = 'PAID' THEN
        IF v_order.user_coupon_id IS NOT NULL THEN
            UPDATE user_coupons SET status = 'AVAILABLE', order_id = NULL, used_at = NULL
             WHERE id = v_order.user_coupon_id;
        END IF;
        IF v_order.paid_amount > 0 THEN
            UPDATE users SET balance = balance + v_order.paid_amount
             WHERE id = p_user_id RETURNING balance INTO v_balance;
            INSERT INTO point_history (user_id, type, amount, balance_after, order_id)
            VALUES (p_user_id, 'REFUND', v_order.paid_amount, v_balance, v_order.id);
        END IF;
    END IF;
    UPDATE orders SET status = 'CANCELLED', cancelled_at = now(), updated_at = now()
     WHERE id = v_order.id RETURNING * INTO v_order;
    IF v_order.paid_at IS NOT NULL THEN
        PERFORM shop_event('ORDER_CANCELLED', v_order);
    END IF;
    outcome := 'OK';
    detail := json_build_object('order_id', v_order.id, 'status', v_order.status,
                  'refunded_amount', CASE WHEN v_order.paid_at IS NULL THEN 0
                                          ELSE v_order.paid_amount END);
END
$$;
