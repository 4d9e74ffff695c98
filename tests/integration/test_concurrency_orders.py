"""Orders and payment under truly parallel requests: no oversold stock, an
order paid at most once, a user coupon used at most once, no deadlock
reaching a client, points never double-spent."""

from collections import Counter

from shopclient import (assert_problem, bulk_users, cancel, charge, create_order, db_order,
                        funded_user, history, issued, ledger, new_campaign, new_key,
                        new_user, ok, outbox, parallel, pay, place, product, replayed, rows,
                        scalar, stock_of, uc_row, until_answered,
                        reserved)


def order_statuses(stack, pid):
    """Counter of the statuses of the orders that contain the product."""
    return Counter(r[0] for r in rows(
        stack, "SELECT o.status FROM orders o JOIN order_items i ON i.order_id = o.id"
               f" WHERE i.product_id = {pid}"))


def no_5xx(rs):
    bad = [r for r in rs if r.status >= 500]
    assert not bad, bad[:5]


def test_300_parallel_orders_for_100_units(stack):
    pid = product(stack, price=1000, stock=100)
    users = bulk_users(stack, 300, "oo")

    rs = parallel(300, lambda i: until_answered(
        lambda: create_order(stack, users[i], [(pid, 1)], timeout=60)),
                  timeout=180)

    no_5xx(rs)
    statuses = Counter(r.status for r in rs)
    assert statuses == {201: 100, 409: 200}, statuses
    for r in rs:
        if r.status == 201:
            assert r.json["status"] == "AWAITING_PAYMENT" and r.json["total_amount"] == 1000
        else:
            p = assert_problem(r, 409, "OUT_OF_STOCK")
            assert p["order_status"] == "FAILED" and isinstance(p["order_id"], int)
    assert stock_of(stack, pid) == 0
    assert order_statuses(stack, pid) == {"AWAITING_PAYMENT": 100, "FAILED": 200}
    assert reserved(stack, pid) == 100
    # the answers name exactly the recorded orders
    ok_ids = sorted(r.json["order_id"] for r in rs if r.status == 201)
    failed_ids = sorted(r.json["order_id"] for r in rs if r.status == 409)
    assert ok_ids == sorted(int(x[0]) for x in rows(
        stack, "SELECT o.id FROM orders o JOIN order_items i ON i.order_id = o.id"
               f" WHERE i.product_id = {pid} AND o.status = 'AWAITING_PAYMENT'"))
    assert len(set(ok_ids) | set(failed_ids)) == 300


def test_parallel_orders_of_one_user_never_oversell(stack):
    pid = product(stack, price=10, stock=50)
    uid = new_user(stack)
    qty = [1 + i % 3 for i in range(60)]          # 120 units asked for, 50 there

    rs = parallel(60, lambda i: until_answered(
        lambda: create_order(stack, uid, [(pid, qty[i])], timeout=60)))

    no_5xx(rs)
    got = sum(qty[i] for i, r in enumerate(rs) if r.status == 201)
    for r in rs:
        if r.status != 201:
            assert_problem(r, 409, "OUT_OF_STOCK")
    assert got <= 50
    assert stock_of(stack, pid) == 50 - got
    assert reserved(stack, pid) == got
    # whatever was refused did not fit into what was left
    refused = [qty[i] for i, r in enumerate(rs) if r.status == 409]
    if refused:
        assert min(refused) > 50 - got
    assert scalar(stack, f"SELECT count(*) FROM orders WHERE user_id = {uid}") == 60


def test_opposite_item_orders_do_not_deadlock(stack):
    a = product(stack, price=100, stock=120)
    b = product(stack, price=200, stock=120)
    uid = new_user(stack)
    n = 100

    def one(i):
        qa, qb = 1 + i % 2, 1 + (i // 2) % 2
        items = [(a, qa), (b, qb)] if i % 2 == 0 else [(b, qb), (a, qa)]
        return until_answered(lambda: create_order(stack, uid, items, timeout=60))

    rs = parallel(n, one, timeout=120)

    no_5xx(rs)
    for r in rs:
        if r.status != 201:
            assert_problem(r, 409, "OUT_OF_STOCK")
    assert Counter(r.status for r in rs)[201] > 0
    # initial stock - reserved quantities of AWAITING_PAYMENT orders == current stock
    assert stock_of(stack, a) == 120 - reserved(stack, a)
    assert stock_of(stack, b) == 120 - reserved(stack, b)
    assert stock_of(stack, a) >= 0 and stock_of(stack, b) >= 0
    created = sorted(r.json["order_id"] for r in rs if r.status == 201)
    assert created == sorted(int(x[0]) for x in rows(
        stack, f"SELECT id FROM orders WHERE user_id = {uid} AND status = 'AWAITING_PAYMENT'"))
    assert scalar(stack, f"SELECT count(*) FROM orders WHERE user_id = {uid}") == n


def test_20_parallel_payments_of_one_order(stack):
    pid = product(stack, price=2500, stock=10)
    uid = funded_user(stack, 100_000)
    oid = place(stack, uid, [(pid, 2)])["order_id"]

    rs = parallel(20, lambda i: pay(stack, uid, oid, timeout=30))

    statuses = Counter(r.status for r in rs)
    assert statuses == {200: 1, 409: 19}, statuses
    for r in rs:
        if r.status == 200:
            assert (r.json["status"], r.json["paid_amount"], r.json["balance"]) == \
                ("PAID", 5000, 95_000)
        else:
            p = assert_problem(r, 409, "ORDER_NOT_PAYABLE")
            assert p["order_status"] == "PAID"
    assert ledger(stack, uid) == (95_000, 2, 95_000)
    assert history(stack, uid, oid) == [("USE", -5000, 95_000, oid)]
    assert outbox(stack, oid) == ["ORDER_PAID"]
    assert db_order(stack, oid)["status"] == "PAID"


def test_one_coupon_on_two_orders_paid_in_parallel(stack):
    pid = product(stack, price=3000, stock=100)
    cid = new_campaign(stack, discount_value=1000, total_quantity=50)["id"]
    for round_ in range(10):
        uid = funded_user(stack, 50_000)
        ucid = issued(stack, uid, cid)
        orders = [place(stack, uid, [(pid, 1)])["order_id"] for _ in range(2)]

        rs = parallel(2, lambda i: pay(stack, uid, orders[i], ucid, timeout=30))

        statuses = sorted(r.status for r in rs)
        assert statuses == [200, 409], (round_, rs)
        won = [o for o, r in zip(orders, rs) if r.status == 200][0]
        lost = [o for o, r in zip(orders, rs) if r.status == 409][0]
        for r in rs:
            if r.status == 200:
                assert (r.json["discount_amount"], r.json["paid_amount"]) == (1000, 2000)
            else:
                assert_problem(r, 409, "COUPON_NOT_APPLICABLE")
        assert uc_row(stack, ucid) == ("USED", won)
        assert scalar(stack, "SELECT count(*) FROM orders"
                             f" WHERE user_coupon_id = {ucid}") == 1
        assert db_order(stack, won)["status"] == "PAID"
        assert db_order(stack, lost)["status"] == "AWAITING_PAYMENT"
        assert ledger(stack, uid) == (48_000, 2, 48_000)


def test_parallel_payments_never_overspend_points(stack):
    pid = product(stack, price=1000, stock=100)
    uid = funded_user(stack, 10_000)
    orders = [place(stack, uid, [(pid, 1)])["order_id"] for _ in range(25)]

    rs = parallel(25, lambda i: pay(stack, uid, orders[i], timeout=30))

    statuses = Counter(r.status for r in rs)
    assert statuses == {200: 10, 409: 15}, statuses
    for r in rs:
        if r.status == 409:
            assert_problem(r, 409, "INSUFFICIENT_POINTS")
    assert sorted(r.json["balance"] for r in rs if r.status == 200) == list(range(0, 10_000, 1000))
    assert ledger(stack, uid) == (0, 11, 0)
    paid = [o for o, r in zip(orders, rs) if r.status == 200]
    assert sorted(paid) == sorted(int(x[0]) for x in rows(
        stack, f"SELECT id FROM orders WHERE user_id = {uid} AND status = 'PAID'"))
    assert scalar(stack, f"SELECT count(*) FROM orders WHERE user_id = {uid}"
                         " AND status = 'AWAITING_PAYMENT'") == 15


def test_parallel_cancels_of_a_paid_order_refund_once(stack):
    pid = product(stack, price=1500, stock=10)
    uid = funded_user(stack, 10_000)
    ucid = issued(stack, uid, new_campaign(stack, discount_value=500)["id"])
    oid = place(stack, uid, [(pid, 2)])["order_id"]
    ok(pay(stack, uid, oid, ucid))

    rs = parallel(10, lambda i: cancel(stack, uid, oid, timeout=30))

    statuses = Counter(r.status for r in rs)
    assert statuses == {200: 1, 409: 9}, statuses
    for r in rs:
        if r.status == 200:
            assert r.json["refunded_amount"] == 2500
        else:
            assert assert_problem(r, 409, "ORDER_NOT_CANCELLABLE")["order_status"] == "CANCELLED"
    assert history(stack, uid, oid) == [("USE", -2500, 7500, oid), ("REFUND", 2500, 10_000, oid)]
    assert ledger(stack, uid) == (10_000, 3, 10_000)
    assert stock_of(stack, pid) == 10
    assert uc_row(stack, ucid) == ("AVAILABLE", None)
    assert outbox(stack, oid) == ["ORDER_PAID", "ORDER_CANCELLED"]


def test_pay_and_cancel_racing(stack):
    """Cancel always wins in the end: either before the payment (which is
    then refused) or after it (a full refund)."""
    pid = product(stack, price=700, stock=100)
    for _ in range(10):
        uid = funded_user(stack, 5000)
        oid = place(stack, uid, [(pid, 1)])["order_id"]

        rp, rc = parallel(2, lambda i: (pay if i == 0 else cancel)(stack, uid, oid, timeout=30))

        assert ok(rc)["status"] == "CANCELLED"
        if rp.status == 200:
            assert rc.json["refunded_amount"] == 700
            assert outbox(stack, oid) == ["ORDER_PAID", "ORDER_CANCELLED"]
            assert ledger(stack, uid) == (5000, 3, 5000)
        else:
            assert assert_problem(rp, 409, "ORDER_NOT_PAYABLE")["order_status"] == "CANCELLED"
            assert rc.json["refunded_amount"] == 0
            assert outbox(stack, oid) == []
            assert ledger(stack, uid) == (5000, 1, 5000)
        assert db_order(stack, oid)["status"] == "CANCELLED"
    assert stock_of(stack, pid) == 100


def test_parallel_retries_of_one_keyed_order_create_one_order(stack):
    pid = product(stack, price=100, stock=100)
    uid = new_user(stack)
    key = new_key()

    rs = parallel(20, lambda i: create_order(stack, uid, [(pid, 3)],
                                             headers={"Idempotency-Key": key}, timeout=30))

    assert [r.status for r in rs] == [201] * 20, Counter(r.status for r in rs)
    assert len({r.body for r in rs}) == 1
    assert sum(not replayed(r) for r in rs) == 1
    assert scalar(stack, f"SELECT count(*) FROM orders WHERE user_id = {uid}") == 1
    assert stock_of(stack, pid) == 97


def test_parallel_retries_of_one_keyed_payment_pay_once(stack):
    pid = product(stack, price=800, stock=10)
    uid = funded_user(stack, 5000)
    oid = place(stack, uid, [(pid, 1)])["order_id"]
    key = new_key()

    rs = parallel(20, lambda i: pay(stack, uid, oid, headers={"Idempotency-Key": key},
                                    timeout=30))

    assert [r.status for r in rs] == [200] * 20, Counter(r.status for r in rs)
    assert len({r.body for r in rs}) == 1
    assert sum(not replayed(r) for r in rs) == 1
    assert history(stack, uid, oid) == [("USE", -800, 4200, oid)]
    assert outbox(stack, oid) == ["ORDER_PAID"]


def test_mixed_load_keeps_every_invariant(stack):
    """Orders, payments and cancels of several users on shared products at
    once; afterwards stock, ledgers and coupons all add up."""
    a = product(stack, price=900, stock=40)
    b = product(stack, price=400, stock=40)
    cid = new_campaign(stack, discount_type="RATE", discount_value=20, max_discount=500,
                       total_quantity=100)["id"]
    users = [funded_user(stack, 20_000) for _ in range(8)]
    coupons = {u: issued(stack, u, cid) for u in users}
    # pre-existing orders to pay and cancel during the storm
    pre = [(u, place(stack, u, [(a, 1), (b, 1)])["order_id"]) for u in users]

    def one(i):
        u, oid = pre[i % len(pre)]
        kind = i // len(pre)
        if kind == 0:
            return until_answered(lambda: pay(stack, u, oid, coupons[u], timeout=30))
        if kind == 1:
            return until_answered(lambda: cancel(stack, u, oid, timeout=30))
        items = [(a, 1 + i % 2), (b, 1)] if i % 2 else [(b, 2), (a, 1)]
        return until_answered(lambda: create_order(stack, users[i % len(users)], items,
                                                   timeout=30))

    rs = parallel(64, one, timeout=120)

    no_5xx(rs)
    for p in (a, b):
        assert stock_of(stack, p) == 40 - reserved(stack, p)
        assert stock_of(stack, p) >= 0
    for u in users:
        bal, n, total = ledger(stack, u)
        assert bal == total and 0 <= bal <= 20_000
        paid = scalar(stack, "SELECT coalesce(sum(paid_amount), 0) FROM orders"
                             f" WHERE user_id = {u} AND status = 'PAID'")
        assert bal == 20_000 - paid
        status, order = uc_row(stack, coupons[u])
        using = rows(stack, f"SELECT id FROM orders WHERE user_coupon_id = {coupons[u]}"
                            " AND status = 'PAID'")
        if status == "USED":
            assert [[str(order)]] == using
        else:
            assert using == []
    # every paid order has exactly one ORDER_PAID event
    assert rows(stack, "SELECT o.id FROM orders o WHERE o.user_id IN"
                       f" ({','.join(map(str, users))}) AND o.paid_at IS NOT NULL AND"
                       " (SELECT count(*) FROM outbox x WHERE x.order_id = o.id"
                       "  AND x.type = 'ORDER_PAID') <> 1") == []
    assert charge(stack, users[0], 1).status == 200
