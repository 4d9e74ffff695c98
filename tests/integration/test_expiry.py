"""Expiry of unpaid orders: past ShopOrderHold the scheduled job (every 0.5 s)
marks them EXPIRED and returns their stock; they can then be neither paid
nor cancelled. Synchronisation is by polling the database, bounded."""

import datetime

from shopclient import (assert_problem, cancel, charge, create_order, db_order, funded_user,
                        get_order, issued, ledger, new_campaign, new_user, ok, outbox,
                        parallel, parse_ts, pay, place, product, request, stock_of, uc_row,
                        utcnow, wait_until)


def status_of(stack, oid):
    return stack.psql(f"SELECT status FROM orders WHERE id = {int(oid)}")


def wait_expired(stack, oid, timeout=15.0):
    wait_until(lambda: status_of(stack, oid) == "EXPIRED", timeout=timeout,
               what=f"order {oid} EXPIRED")


def test_short_hold_expires_unpaid_orders(stack):
    with stack.httpd("ShopOrderHold 2\n", "hold") as inst:
        pid = product(inst, price=1000, stock=10)
        other = product(inst, price=300, stock=5)
        uid = funded_user(inst, 10_000)
        ucid = issued(inst, uid, new_campaign(inst, discount_value=100)["id"])

        before = utcnow().replace(microsecond=0)
        o = ok(create_order(inst, uid, [(pid, 3), (other, 2)]), 201)
        oid = o["order_id"]
        hold = parse_ts(o["expires_at"]) - before
        assert datetime.timedelta(seconds=1) <= hold <= datetime.timedelta(seconds=4), o
        paid_oid = place(inst, uid, [(pid, 1)])["order_id"]
        assert ok(pay(inst, uid, paid_oid))["status"] == "PAID"
        cancelled_oid = place(inst, uid, [(pid, 1)])["order_id"]
        ok(cancel(inst, uid, cancelled_oid))
        assert (stock_of(stack, pid), stock_of(stack, other)) == (6, 3)

        wait_expired(stack, oid)

        # stock back, nothing else touched
        assert (stock_of(stack, pid), stock_of(stack, other)) == (9, 5)
        assert db_order(stack, paid_oid)["status"] == "PAID"
        assert db_order(stack, cancelled_oid)["status"] == "CANCELLED"
        assert ok(get_order(inst, uid, oid))["status"] == "EXPIRED"
        # not payable (with or without coupon), not cancellable, no coupons offered
        p = assert_problem(pay(inst, uid, oid), 409, "ORDER_NOT_PAYABLE")
        assert p["order_status"] == "EXPIRED"
        assert_problem(pay(inst, uid, oid, ucid), 409, "ORDER_NOT_PAYABLE")
        p = assert_problem(cancel(inst, uid, oid), 409, "ORDER_NOT_CANCELLABLE")
        assert p["order_status"] == "EXPIRED"
        assert ok(request("GET", f"{inst.base}/users/{uid}/orders/{oid}/coupons"))["items"] == []
        assert uc_row(stack, ucid) == ("AVAILABLE", None)
        assert ledger(stack, uid) == (9000, 2, 9000)
        assert outbox(stack, oid) == []
        # the released stock can be ordered again
        assert ok(create_order(inst, uid, [(other, 5)]), 201)["status"] == "AWAITING_PAYMENT"
        assert stock_of(stack, other) == 0


def test_many_orders_expire_and_return_all_stock(stack):
    with stack.httpd("ShopOrderHold 1500ms\n", "hold-many") as inst:
        pid = product(inst, price=10, stock=30)
        uid = new_user(inst)
        oids = [place(inst, uid, [(pid, 1 + i % 3)])["order_id"] for i in range(12)]
        assert stock_of(stack, pid) == 30 - sum(1 + i % 3 for i in range(12))
        wait_until(lambda: stack.psql(
            f"SELECT count(*) FROM orders WHERE user_id = {uid} AND status = 'EXPIRED'")
            == str(len(oids)), timeout=15, what="all orders EXPIRED")
        assert stock_of(stack, pid) == 30


def test_order_past_its_hold_is_not_payable_even_before_the_sweep(stack):
    """An order whose expires_at has passed is refused as EXPIRED whether or not
    the job has swept it yet (moved into the past in the database)."""
    pid = product(stack, price=500, stock=4)
    uid = funded_user(stack, 5000)
    oid = place(stack, uid, [(pid, 2)])["order_id"]
    stack.psql(f"UPDATE orders SET expires_at = now() - interval '1 second' WHERE id = {oid}")
    p = assert_problem(pay(stack, uid, oid), 409, "ORDER_NOT_PAYABLE")
    assert p["order_status"] == "EXPIRED"
    assert ledger(stack, uid) == (5000, 1, 5000)
    wait_expired(stack, oid)
    assert stock_of(stack, pid) == 4
    assert_problem(pay(stack, uid, oid), 409, "ORDER_NOT_PAYABLE")
    assert charge(stack, uid, 1).status == 200
    assert ledger(stack, uid) == (5001, 2, 5001)


def test_cancel_racing_the_sweep_releases_stock_once(stack):
    """Orders past their hold, cancelled while the job sweeps them: each ends
    CANCELLED or EXPIRED, and its stock comes back exactly once."""
    pid = product(stack, price=10, stock=100)
    uid = new_user(stack)
    oids = [place(stack, uid, [(pid, 2)])["order_id"] for _ in range(30)]
    assert stock_of(stack, pid) == 40
    stack.psql(f"UPDATE orders SET expires_at = now() WHERE user_id = {uid}")

    rs = parallel(len(oids), lambda i: cancel(stack, uid, oids[i], timeout=30))

    for r in rs:
        if r.status == 200:
            assert r.json["status"] == "CANCELLED" and r.json["refunded_amount"] == 0
        else:
            p = assert_problem(r, 409, "ORDER_NOT_CANCELLABLE")
            assert p["order_status"] == "EXPIRED"
    wait_until(lambda: stack.psql(f"SELECT count(*) FROM orders WHERE user_id = {uid}"
                                  " AND status = 'AWAITING_PAYMENT'") == "0",
               timeout=15, what="no order left AWAITING_PAYMENT")
    cancelled = sum(r.status == 200 for r in rs)
    assert stack.psql(f"SELECT count(*) FROM orders WHERE user_id = {uid}"
                      " AND status = 'CANCELLED'") == str(cancelled)
    assert stock_of(stack, pid) == 100
