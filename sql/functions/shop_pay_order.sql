-- shop_pay_order: the live definition (sql/functions/README.md says how these files are applied).

-- Pays an order in one transaction: coupon, points, ledger, PAID, outbox.
-- Nothing is written unless every check passes, so a refusal leaves the
-- coupon AVAILABLE, the points untouched and the order AWAITING_PAYMENT.
-- Outcomes: OK, ORDER_NOT_FOUND, ORDER_NOT_PAYABLE, COUPON_NOT_APPLICABLE,
-- INSUFFICIENT_POINTS.
-- commits stays NULL (false): a refusal rolls back what the call wrote.
CREATE OR REPLACE FUNCTION shop_pay_order(p_user_id bigint, p_order_id bigint,
                               p_user_coupon_id bigint,
                               OUT outcome text, OUT detail json,
                               OUT commits boolean)
    LANGUAGE plpgsql
AS $$
DECLARE
    v_order orders;
    v_coupon record;
    v_discount bigint := 0;
    v_paid bigint;
    v_balance bigint;
BEGIN
    SELECT * INTO v_order FROM orders
     WHERE id = p_order_id AND user_id = p_user_id FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'ORDER_NOT_FOUND';
        RETURN;
    END IF;
    IF v_order.status <> 'AWAITING_PAYMENT' OR v_order.expires_at <= now() THEN
        outcome := 'ORDER_NOT_PAYABLE';
        detail := json_build_object('order_id', v_order.id, 'order_status',
                      CASE WHEN v_order.status = 'AWAITING_PAYMENT'
                           THEN 'EXPIRED' ELSE v_order.status END);
        RETURN;
    END IF;

    IF p_user_coupon_id IS NOT NULL THEN
        SELECT uc.id, uc.status, uc.expires_at, c.discount_type,
               c.discount_value, c.max_discount, c.min_order_amount
          INTO v_coupon
          FROM user_coupons uc JOIN coupons c ON c.id = uc.coupon_id
         WHERE uc.id = p_user_coupon_id AND uc.user_id = p_user_id
           FOR UPDATE OF uc;
        IF NOT FOUND OR v_coupon.status <> 'AVAILABLE'
           OR v_coupon.expires_at <= now()
           OR v_order.total_amount < v_coupon.min_order_amount THEN
            outcome := 'COUPON_NOT_APPLICABLE';
            detail := json_build_object('order_id', v_order.id,
                          'user_coupon_id', p_user_coupon_id,
                          'reason', CASE WHEN NOT FOUND THEN 'NOT_OWNED'
                                         WHEN v_coupon.status <> 'AVAILABLE' THEN 'USED'
                                         WHEN v_coupon.expires_at <= now() THEN 'EXPIRED'
                                         ELSE 'BELOW_MIN_ORDER_AMOUNT' END);
            RETURN;
        END IF;
        v_discount := shop_discount(v_coupon.discount_type, v_coupon.discount_value,
                                    v_coupon.max_discount, v_order.total_amount);
    END IF;
    v_paid := v_order.total_amount - v_discount;

    UPDATE users SET balance = balance - v_paid
     WHERE id = p_user_id AND balance >= v_paid RETURNING balance INTO v_balance;
    IF NOT FOUND THEN
        outcome := 'INSUFFICIENT_POINTS';
        SELECT json_build_object('order_id', v_order.id,
                   'order_status', v_order.status, 'required', v_paid,
                   'balance', balance) INTO detail
          FROM users WHERE id = p_user_id;
        RETURN;
    END IF;
    IF v_paid > 0 THEN
        INSERT INTO point_history (user_id, type, amount, balance_after, order_id)
        VALUES (p_user_id, 'USE', -v_paid, v_balance, v_order.id);
    END IF;
    IF p_user_coupon_id IS NOT NULL THEN
        UPDATE user_coupons SET status = 'USED', order_id = v_order.id, used_at = now()
         WHERE id = p_user_coupon_id;
    END IF;
    UPDATE orders SET status = 'PAID', discount_amount = v_discount,
                      paid_amount = v_paid, user_coupon_id = p_user_coupon_id,
                      paid_at = now(), updated_at = now()
     WHERE id = v_order.id RETURNING * INTO v_order;
    PERFORM shop_event('ORDER_PAID', v_order);
    outcome := 'OK';
    detail := json_build_object('order_id', v_order.id, 'status', v_order.status,
                  'total_amount', v_order.total_amount,
                  'discount_amount', v_discount, 'paid_amount', v_paid,
                  'balance', v_balance, 'paid_at', shop_ts(v_order.paid_at));
END
$$;
