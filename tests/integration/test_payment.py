"""Payment and refund: points, ledger (USE rows negative, REFUND rows), FIXED
and RATE coupons, refusals that change nothing, cancel of a paid order, the
outbox events, Idempotency-Key on payment."""

import json

import pytest

from shopclient import (UNKNOWN_ID, assert_problem, cancel, charge, db_order, funded_user,
                        get_order, history, issued, ledger, new_campaign, new_key, new_user,
                        ok, outbox, parse_ts, pay, place, product, replayed, request,
                        stock_of, uc_row, user_coupon, utcnow)


def assert_ledger_consistent(stack, uid):
    bal, n, total = ledger(stack, uid)
    assert total == bal, (bal, n, total)
    return bal


def outbox_payload(stack, oid, kind):
    out = stack.psql(f"SELECT payload FROM outbox WHERE order_id = {int(oid)}"
                     f" AND type = '{kind}'")
    lines = out.splitlines()
    assert len(lines) == 1, lines
    return json.loads(lines[0])


# --- plain payment ------------------------------------------------------------

def test_pay_without_coupon(stack):
    pid = product(stack, price=1500, stock=10)
    uid = funded_user(stack, 10_000)
    oid = place(stack, uid, [(pid, 2)])["order_id"]
    before = utcnow().replace(microsecond=0)
    r = pay(stack, uid, oid)
    body = ok(r)
    assert {k: body[k] for k in ("order_id", "status", "total_amount", "discount_amount",
                                 "paid_amount", "balance")} == {
        "order_id": oid, "status": "PAID", "total_amount": 3000, "discount_amount": 0,
        "paid_amount": 3000, "balance": 7000}
    if "paid_at" in body:
        assert parse_ts(body["paid_at"]) >= before
    # ledger: one USE row with a negative amount, tied to the order
    assert history(stack, uid) == [("CHARGE", 10_000, 10_000, None), ("USE", -3000, 7000, oid)]
    assert ledger(stack, uid) == (7000, 2, 7000)
    d = db_order(stack, oid)
    assert (d["status"], d["total"], d["discount"], d["paid"], d["user_coupon_id"]) == \
        ("PAID", 3000, 0, 3000, None)
    g = ok(get_order(stack, uid, oid))
    assert g["status"] == "PAID" and g["paid_amount"] == 3000
    assert ok(request("GET", f"{stack.base}/users/{uid}/points"))["balance"] == 7000
    # stock stays reserved (sold)
    assert stock_of(stack, pid) == 8
    # one ORDER_PAID event in the outbox, describing the payment
    assert outbox(stack, oid) == ["ORDER_PAID"]
    ev = outbox_payload(stack, oid, "ORDER_PAID")
    assert ev["type"] == "ORDER_PAID" and ev["order_id"] == oid and ev["user_id"] == uid
    assert (ev["total_amount"], ev["discount_amount"], ev["paid_amount"]) == (3000, 0, 3000)
    assert ev["items"] == [{"product_id": pid, "quantity": 2, "unit_price": 1500}]
    assert ev["event_id"] and ev["paid_at"]
    # the history route shows the USE row too
    h = ok(request("GET", f"{stack.base}/users/{uid}/points/history"))["items"]
    assert h[0]["type"] == "USE" and h[0]["amount"] == -3000 and h[0]["order_id"] == oid


@pytest.mark.parametrize("body", [None, {}, {"user_coupon_id": None}])
def test_pay_body_may_be_absent_empty_or_null_coupon(stack, body):
    pid = product(stack, price=100, stock=10)
    uid = funded_user(stack, 1000)
    oid = place(stack, uid, [(pid, 1)])["order_id"]
    r = request("POST", f"{stack.base}/users/{uid}/orders/{oid}/payment", body)
    assert ok(r)["paid_amount"] == 100


@pytest.mark.parametrize("coupon", ["7", 0, -1, 1.5, True, [1], 9007199254740992])
def test_bad_user_coupon_id_is_400(stack, coupon):
    pid = product(stack, price=100, stock=10)
    uid = funded_user(stack, 1000)
    oid = place(stack, uid, [(pid, 1)])["order_id"]
    r = request("POST", f"{stack.base}/users/{uid}/orders/{oid}/payment",
                {"user_coupon_id": coupon})
    assert_problem(r, 400, "INVALID_REQUEST")
    assert db_order(stack, oid)["status"] == "AWAITING_PAYMENT"
    assert ledger(stack, uid) == (1000, 1, 1000)


def test_paying_twice_is_refused(stack):
    pid = product(stack, price=100, stock=10)
    uid = funded_user(stack, 1000)
    oid = place(stack, uid, [(pid, 1)])["order_id"]
    ok(pay(stack, uid, oid))
    p = assert_problem(pay(stack, uid, oid), 409, "ORDER_NOT_PAYABLE")
    assert p["order_status"] == "PAID" and p["order_id"] == oid
    assert ledger(stack, uid) == (900, 2, 900)
    assert outbox(stack, oid) == ["ORDER_PAID"]


def test_free_order_is_paid_without_a_ledger_row(stack):
    pid = product(stack, price=0, stock=10)
    uid = new_user(stack)
    oid = place(stack, uid, [(pid, 1)])["order_id"]
    b = ok(pay(stack, uid, oid))
    assert (b["status"], b["paid_amount"], b["balance"]) == ("PAID", 0, 0)
    assert ledger(stack, uid) == (0, 0, 0)
    assert outbox(stack, oid) == ["ORDER_PAID"]


def test_unknown_user_payment_is_404(stack):
    assert_problem(pay(stack, UNKNOWN_ID, 1), 404, "ORDER_NOT_FOUND")


# --- insufficient points ------------------------------------------------------

def test_insufficient_points_changes_nothing_then_retry_succeeds(stack):
    pid = product(stack, price=5000, stock=10)
    uid = funded_user(stack, 3000)
    cid = new_campaign(stack, discount_type="FIXED", discount_value=1000)["id"]
    ucid = issued(stack, uid, cid)
    oid = place(stack, uid, [(pid, 1)])["order_id"]

    p = assert_problem(pay(stack, uid, oid, ucid), 409, "INSUFFICIENT_POINTS")
    assert p.get("order_id", oid) == oid
    # nothing changed: coupon AVAILABLE, order AWAITING_PAYMENT, balance the same
    assert user_coupon(stack, uid, ucid)["status"] == "AVAILABLE"
    assert uc_row(stack, ucid) == ("AVAILABLE", None)
    d = db_order(stack, oid)
    assert (d["status"], d["discount"], d["paid"], d["user_coupon_id"]) == \
        ("AWAITING_PAYMENT", 0, 0, None)
    assert ok(get_order(stack, uid, oid))["status"] == "AWAITING_PAYMENT"
    assert ledger(stack, uid) == (3000, 1, 3000)
    assert outbox(stack, oid) == []
    assert stock_of(stack, pid) == 9
    # the coupon is still offered for the order
    offered = ok(request("GET", f"{stack.base}/users/{uid}/orders/{oid}/coupons"))["items"]
    assert [c["user_coupon_id"] for c in offered] == [ucid]

    # charge and retry: paid, with the coupon
    assert charge(stack, uid, 1000).status == 200
    b = ok(pay(stack, uid, oid, ucid))
    assert (b["status"], b["total_amount"], b["discount_amount"], b["paid_amount"],
            b["balance"]) == ("PAID", 5000, 1000, 4000, 0)
    assert uc_row(stack, ucid) == ("USED", oid)
    assert ledger(stack, uid) == (0, 3, 0)
    assert outbox(stack, oid) == ["ORDER_PAID"]


def test_insufficient_points_without_coupon(stack):
    pid = product(stack, price=5000, stock=10)
    uid = funded_user(stack, 4999)
    oid = place(stack, uid, [(pid, 1)])["order_id"]
    assert_problem(pay(stack, uid, oid), 409, "INSUFFICIENT_POINTS")
    assert db_order(stack, oid)["status"] == "AWAITING_PAYMENT"
    assert ledger(stack, uid) == (4999, 1, 4999)
    assert charge(stack, uid, 1).status == 200
    assert ok(pay(stack, uid, oid))["balance"] == 0
    assert ledger(stack, uid) == (0, 3, 0)


# --- discounts ----------------------------------------------------------------

@pytest.mark.parametrize("campaign, price, qty, discount", [
    ({"discount_type": "FIXED", "discount_value": 1500}, 4000, 2, 1500),
    # 10 % of 50,000 = 5,000, capped at 3,000
    ({"discount_type": "RATE", "discount_value": 10, "max_discount": 3000}, 25_000, 2, 3000),
    # 10 % of 20,000 = 2,000, under the cap
    ({"discount_type": "RATE", "discount_value": 10, "max_discount": 3000}, 10_000, 2, 2000),
    # 15 % of 12,345 = 1,851.75: rounded down
    ({"discount_type": "RATE", "discount_value": 15}, 12_345, 1, 1851),
    # 100 % without a cap: free
    ({"discount_type": "RATE", "discount_value": 100}, 777, 3, 2331),
    # the minimum is inclusive
    ({"discount_type": "FIXED", "discount_value": 500, "min_order_amount": 8000}, 4000, 2, 500),
], ids=["fixed", "rate-capped", "rate-under-cap", "rate-floor", "rate-100", "min-inclusive"])
def test_coupon_discount(stack, campaign, price, qty, discount):
    total = price * qty
    pid = product(stack, price=price, stock=10)
    uid = funded_user(stack, 100_000)
    cid = new_campaign(stack, **campaign)["id"]
    ucid = issued(stack, uid, cid)
    oid = place(stack, uid, [(pid, qty)])["order_id"]
    offered = ok(request("GET", f"{stack.base}/users/{uid}/orders/{oid}/coupons"))["items"]
    assert [(c["user_coupon_id"], c["discount_amount"]) for c in offered] == [(ucid, discount)]

    b = ok(pay(stack, uid, oid, ucid))
    assert (b["total_amount"], b["discount_amount"], b["paid_amount"], b["balance"]) == \
        (total, discount, total - discount, 100_000 - (total - discount))
    d = db_order(stack, oid)
    assert (d["status"], d["discount"], d["paid"], d["user_coupon_id"]) == \
        ("PAID", discount, total - discount, ucid)
    assert uc_row(stack, ucid) == ("USED", oid)
    c = user_coupon(stack, uid, ucid)
    assert c["status"] == "USED"
    if total - discount > 0:
        assert history(stack, uid, oid) == [("USE", -(total - discount),
                                              100_000 - (total - discount), oid)]
    else:
        assert history(stack, uid, oid) == []
    assert_ledger_consistent(stack, uid)
    ev = outbox_payload(stack, oid, "ORDER_PAID")
    assert (ev["discount_amount"], ev["paid_amount"]) == (discount, total - discount)


def test_discount_above_the_total_pays_zero(stack):
    pid = product(stack, price=3000, stock=10)
    uid = new_user(stack)            # no points at all
    cid = new_campaign(stack, discount_type="FIXED", discount_value=10_000)["id"]
    ucid = issued(stack, uid, cid)
    oid = place(stack, uid, [(pid, 1)])["order_id"]
    offered = ok(request("GET", f"{stack.base}/users/{uid}/orders/{oid}/coupons"))["items"]
    assert offered[0]["discount_amount"] == 3000
    b = ok(pay(stack, uid, oid, ucid))
    assert (b["status"], b["total_amount"], b["discount_amount"], b["paid_amount"],
            b["balance"]) == ("PAID", 3000, 3000, 0, 0)
    assert ledger(stack, uid) == (0, 0, 0)          # no USE row of 0
    assert uc_row(stack, ucid) == ("USED", oid)
    assert outbox(stack, oid) == ["ORDER_PAID"]
    # cancelling it refunds 0 points, gives the coupon back, writes no REFUND row
    c = ok(cancel(stack, uid, oid))
    assert (c["status"], c["refunded_amount"]) == ("CANCELLED", 0)
    assert ledger(stack, uid) == (0, 0, 0)
    assert uc_row(stack, ucid) == ("AVAILABLE", None)
    assert outbox(stack, oid) == ["ORDER_PAID", "ORDER_CANCELLED"]
    assert stock_of(stack, pid) == 10


def test_below_minimum_order_amount_is_refused(stack):
    pid = product(stack, price=4999, stock=10)
    uid = funded_user(stack, 20_000)
    cid = new_campaign(stack, discount_value=1000, min_order_amount=5000)["id"]
    ucid = issued(stack, uid, cid)
    oid = place(stack, uid, [(pid, 1)])["order_id"]
    # not offered for this order
    assert ok(request("GET", f"{stack.base}/users/{uid}/orders/{oid}/coupons"))["items"] == []
    p = assert_problem(pay(stack, uid, oid, ucid), 409, "COUPON_NOT_APPLICABLE")
    assert p.get("user_coupon_id", ucid) == ucid
    assert uc_row(stack, ucid) == ("AVAILABLE", None)
    assert db_order(stack, oid)["status"] == "AWAITING_PAYMENT"
    assert ledger(stack, uid) == (20_000, 1, 20_000)
    assert outbox(stack, oid) == []
    # without the coupon it pays in full
    assert ok(pay(stack, uid, oid))["paid_amount"] == 4999
    assert uc_row(stack, ucid) == ("AVAILABLE", None)


def test_another_users_coupon_is_not_applicable(stack):
    pid = product(stack, price=2000, stock=10)
    owner, thief = new_user(stack), funded_user(stack, 10_000)
    cid = new_campaign(stack, discount_value=1000)["id"]
    ucid = issued(stack, owner, cid)
    oid = place(stack, thief, [(pid, 1)])["order_id"]
    assert_problem(pay(stack, thief, oid, ucid), 409, "COUPON_NOT_APPLICABLE")
    assert_problem(pay(stack, thief, oid, UNKNOWN_ID), 409, "COUPON_NOT_APPLICABLE")
    assert uc_row(stack, ucid) == ("AVAILABLE", None)
    assert db_order(stack, oid)["status"] == "AWAITING_PAYMENT"
    assert ledger(stack, thief) == (10_000, 1, 10_000)


def test_used_coupon_is_not_applicable(stack):
    pid = product(stack, price=2000, stock=10)
    uid = funded_user(stack, 10_000)
    cid = new_campaign(stack, discount_value=500)["id"]
    ucid = issued(stack, uid, cid)
    o1 = place(stack, uid, [(pid, 1)])["order_id"]
    o2 = place(stack, uid, [(pid, 1)])["order_id"]
    assert ok(pay(stack, uid, o1, ucid))["discount_amount"] == 500
    # a used coupon is not offered any more
    assert ok(request("GET", f"{stack.base}/users/{uid}/orders/{o2}/coupons"))["items"] == []
    assert_problem(pay(stack, uid, o2, ucid), 409, "COUPON_NOT_APPLICABLE")
    assert db_order(stack, o2)["status"] == "AWAITING_PAYMENT"
    assert uc_row(stack, ucid) == ("USED", o1)
    assert ledger(stack, uid) == (8500, 2, 8500)


def test_expired_coupon_is_not_applicable(stack):
    pid = product(stack, price=2000, stock=10)
    uid = funded_user(stack, 10_000)
    cid = new_campaign(stack, discount_value=500)["id"]
    ucid = issued(stack, uid, cid)
    oid = place(stack, uid, [(pid, 1)])["order_id"]
    stack.psql(f"UPDATE user_coupons SET expires_at = now() - interval '1 second'"
               f" WHERE id = {ucid}")
    assert ok(request("GET", f"{stack.base}/users/{uid}/orders/{oid}/coupons"))["items"] == []
    assert_problem(pay(stack, uid, oid, ucid), 409, "COUPON_NOT_APPLICABLE")
    assert user_coupon(stack, uid, ucid)["status"] == "EXPIRED"
    assert db_order(stack, oid)["status"] == "AWAITING_PAYMENT"
    assert ledger(stack, uid) == (10_000, 1, 10_000)


# --- cancel of a paid order ---------------------------------------------------

def test_cancel_paid_order_refunds_everything(stack):
    a = product(stack, price=3000, stock=10)
    b = product(stack, price=1000, stock=10)
    uid = funded_user(stack, 20_000)
    cid = new_campaign(stack, discount_type="RATE", discount_value=20, max_discount=1000)["id"]
    ucid = issued(stack, uid, cid)
    oid = place(stack, uid, [(a, 2), (b, 1)])["order_id"]       # 7,000
    paid = ok(pay(stack, uid, oid, ucid))
    assert (paid["discount_amount"], paid["paid_amount"], paid["balance"]) == (1000, 6000, 14_000)
    assert (stock_of(stack, a), stock_of(stack, b)) == (8, 9)

    c = ok(cancel(stack, uid, oid))
    assert c == {**c, "order_id": oid, "status": "CANCELLED", "refunded_amount": 6000}
    # points back with a REFUND row; the ledger still sums to the balance
    assert history(stack, uid, oid) == [("USE", -6000, 14_000, oid),
                                        ("REFUND", 6000, 20_000, oid)]
    assert ledger(stack, uid) == (20_000, 3, 20_000)
    assert ok(request("GET", f"{stack.base}/users/{uid}/points"))["balance"] == 20_000
    # coupon AVAILABLE again, stock back, ORDER_CANCELLED event
    assert uc_row(stack, ucid) == ("AVAILABLE", None)
    assert user_coupon(stack, uid, ucid)["status"] == "AVAILABLE"
    assert (stock_of(stack, a), stock_of(stack, b)) == (10, 10)
    assert outbox(stack, oid) == ["ORDER_PAID", "ORDER_CANCELLED"]
    ev = outbox_payload(stack, oid, "ORDER_CANCELLED")
    assert ev["type"] == "ORDER_CANCELLED" and ev["order_id"] == oid
    assert ev["paid_amount"] == 6000
    g = ok(get_order(stack, uid, oid))
    assert g["status"] == "CANCELLED"
    # not again, not payable
    p = assert_problem(cancel(stack, uid, oid), 409, "ORDER_NOT_CANCELLABLE")
    assert p["order_status"] == "CANCELLED"
    assert_problem(pay(stack, uid, oid), 409, "ORDER_NOT_PAYABLE")
    assert ledger(stack, uid) == (20_000, 3, 20_000)
    assert outbox(stack, oid) == ["ORDER_PAID", "ORDER_CANCELLED"]
    # the coupon given back can be used on another order
    o2 = place(stack, uid, [(b, 2)])["order_id"]
    assert ok(pay(stack, uid, o2, ucid))["discount_amount"] == 400
    assert uc_row(stack, ucid) == ("USED", o2)


def test_cancel_paid_order_with_expired_coupon(stack):
    """The refund gives an expired coupon back; it then reads EXPIRED."""
    pid = product(stack, price=1000, stock=10)
    uid = funded_user(stack, 5000)
    ucid = issued(stack, uid, new_campaign(stack, discount_value=100)["id"])
    oid = place(stack, uid, [(pid, 1)])["order_id"]
    ok(pay(stack, uid, oid, ucid))
    stack.psql(f"UPDATE user_coupons SET expires_at = now() - interval '1 second'"
               f" WHERE id = {ucid}")
    assert ok(cancel(stack, uid, oid))["refunded_amount"] == 900
    # given back AVAILABLE (EXPIRED is not stored); past expires_at it reads EXPIRED
    assert uc_row(stack, ucid) == ("AVAILABLE", None)
    assert user_coupon(stack, uid, ucid)["status"] == "EXPIRED"
    assert ledger(stack, uid) == (5000, 3, 5000)


# --- Idempotency-Key on payment -----------------------------------------------

def test_idempotent_payment(stack):
    pid = product(stack, price=1200, stock=10)
    uid = funded_user(stack, 5000)
    ucid = issued(stack, uid, new_campaign(stack, discount_value=200)["id"])
    oid = place(stack, uid, [(pid, 1)])["order_id"]
    key = new_key()
    first = pay(stack, uid, oid, ucid, headers={"Idempotency-Key": key})
    b = ok(first)
    assert not replayed(first)
    assert (b["paid_amount"], b["balance"]) == (1000, 4000)
    for _ in range(2):
        again = pay(stack, uid, oid, ucid, headers={"Idempotency-Key": key})
        assert ok(again) == b
        assert replayed(again)
    assert history(stack, uid, oid) == [("USE", -1000, 4000, oid)]
    assert ledger(stack, uid) == (4000, 2, 4000)
    assert outbox(stack, oid) == ["ORDER_PAID"]
    # same key, another body (no coupon): refused
    assert_problem(pay(stack, uid, oid, headers={"Idempotency-Key": key}), 422,
                   "IDEMPOTENCY_KEY_REUSED")
    # without the key, the order is simply not payable any more
    assert_problem(pay(stack, uid, oid, ucid), 409, "ORDER_NOT_PAYABLE")
    assert ledger(stack, uid) == (4000, 2, 4000)


def test_idempotent_cancel(stack):
    pid = product(stack, price=1200, stock=10)
    uid = funded_user(stack, 5000)
    oid = place(stack, uid, [(pid, 1)])["order_id"]
    ok(pay(stack, uid, oid))
    key = new_key()
    first = cancel(stack, uid, oid, headers={"Idempotency-Key": key})
    c = ok(first)
    again = cancel(stack, uid, oid, headers={"Idempotency-Key": key})
    assert ok(again) == c and replayed(again)
    assert history(stack, uid, oid) == [("USE", -1200, 3800, oid), ("REFUND", 1200, 5000, oid)]
    assert outbox(stack, oid) == ["ORDER_PAID", "ORDER_CANCELLED"]
    assert stock_of(stack, pid) == 10

