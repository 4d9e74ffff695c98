"""Orders: create (stock reserved), read, list, validation, OUT_OF_STOCK as a
recorded FAILED order, cancel of an unpaid order, Idempotency-Key on create.

The helpers (ok(), the API shortcuts, the database probes) live in
shopclient.py, with those of every other test module.
"""

import datetime

import pytest

from shopclient import (BAD_IDS, UNKNOWN_ID, assert_problem, cancel, charge, create_order,
                        db_order, funded_user, get_order, items_body, ledger, new_key, new_user,
                        ok, order_count, outbox, parse_ts, pay, place, product, replayed, request,
                        rows, scalar, stock_of, until_shown, utcnow)


# --- create -------------------------------------------------------------------

def test_create_order_reserves_stock(stack):
    pid = product(stack, price=2500, stock=10)
    uid = new_user(stack)
    before = utcnow()
    r = create_order(stack, uid, [(pid, 3)])
    o = ok(r, 201)
    assert o["status"] == "AWAITING_PAYMENT"
    assert isinstance(o["order_id"], int) and o["order_id"] > 0
    assert o["total_amount"] == 7500
    assert o["items"] == [{"product_id": pid, "quantity": 3, "unit_price": 2500}]
    # default hold: 10 minutes
    exp = parse_ts(o["expires_at"])
    hold = exp - before
    assert datetime.timedelta(minutes=9, seconds=50) <= hold <= datetime.timedelta(minutes=10, seconds=10), o
    assert stock_of(stack, pid) == 7
    until_shown(lambda: ok(request("GET", f"{stack.base}/products/{pid}"))["stock"], 7,
                "the stock after the order")
    d = db_order(stack, o["order_id"])
    assert (d["status"], d["total"], d["user_id"], d["paid"]) == ("AWAITING_PAYMENT", 7500, uid, 0)
    assert ledger(stack, uid) == (0, 0, 0)
    assert outbox(stack, o["order_id"]) == []


def test_create_multi_item_order(stack):
    a = product(stack, price=1200, stock=5)
    b = product(stack, price=300, stock=5)
    uid = new_user(stack)
    # listed in descending id order: the response lists items by product id
    o = place(stack, uid, [(b, 4), (a, 2)])
    assert o["total_amount"] == 2 * 1200 + 4 * 300
    assert o["items"] == [{"product_id": a, "quantity": 2, "unit_price": 1200},
                          {"product_id": b, "quantity": 4, "unit_price": 300}]
    assert (stock_of(stack, a), stock_of(stack, b)) == (3, 1)
    assert rows(stack, f"SELECT product_id, quantity, unit_price FROM order_items"
                       f" WHERE order_id = {o['order_id']} ORDER BY product_id") == \
        [[str(a), "2", "1200"], [str(b), "4", "300"]]


def test_unit_price_is_the_price_at_order_time(stack):
    pid = product(stack, price=1000, stock=5)
    uid = new_user(stack)
    o = place(stack, uid, [(pid, 1)])
    r = request("PATCH", f"{stack.base}/admin/products/{pid}", {"price": 5000})
    assert r.status == 200, r
    g = ok(get_order(stack, uid, o["order_id"]))
    assert g["total_amount"] == 1000
    assert g["items"] == [{"product_id": pid, "quantity": 1, "unit_price": 1000}]


def test_order_may_take_the_last_unit(stack):
    pid = product(stack, price=10, stock=2)
    uid = new_user(stack)
    place(stack, uid, [(pid, 2)])
    assert stock_of(stack, pid) == 0


def test_free_product_order(stack):
    pid = product(stack, price=0, stock=3)
    uid = new_user(stack)
    o = place(stack, uid, [(pid, 1)])
    assert o["total_amount"] == 0


@pytest.mark.parametrize("body", [
    {},
    {"items": []},
    {"items": None},
    {"items": "x"},
    {"items": {"product_id": 1, "quantity": 1}},
    {"items": [1]},
    {"items": [{"quantity": 1}]},
    {"items": [{"product_id": "PID"}]},
    {"items": [{"product_id": "PID", "quantity": 0}]},
    {"items": [{"product_id": "PID", "quantity": -1}]},
    {"items": [{"product_id": "PID", "quantity": "1"}]},
    {"items": [{"product_id": "PID", "quantity": 1.5}]},
    {"items": [{"product_id": "PID", "quantity": True}]},
    {"items": [{"product_id": "PID", "quantity": 10001}]},
    {"items": [{"product_id": "PID", "quantity": 9007199254740992}]},
    {"items": [{"product_id": "PID-str", "quantity": 1}]},
    {"items": [{"product_id": 0, "quantity": 1}]},
    {"items": [{"product_id": -5, "quantity": 1}]},
    {"items": [{"product_id": "PID", "quantity": 1}, {"product_id": "PID", "quantity": 2}]},
    {"items": [{"product_id": "PID", "quantity": 1}] * 101},
], ids=lambda b: str(b)[:60])
def test_invalid_order_body_is_400_and_records_nothing(stack, body):
    pid = product(stack, price=100, stock=50)
    uid = new_user(stack)

    def subst(v):
        if v == "PID":
            return pid
        if v == "PID-str":
            return str(pid)
        if isinstance(v, dict):
            return {k: subst(x) for k, x in v.items()}
        if isinstance(v, list):
            return [subst(x) for x in v]
        return v

    r = request("POST", f"{stack.base}/users/{uid}/orders", subst(body))
    assert_problem(r, 400, "INVALID_REQUEST")
    assert order_count(stack, uid) == 0
    assert stock_of(stack, pid) == 50


def test_non_object_or_malformed_body_is_400(stack):
    uid = new_user(stack)
    for raw in (b"[]", b"null", b"{", b'{"items": [}'):
        r = request("POST", f"{stack.base}/users/{uid}/orders", raw=raw,
                    headers={"Content-Type": "application/json"})
        assert_problem(r, 400, "INVALID_REQUEST")
    assert order_count(stack, uid) == 0


def test_order_body_must_be_json(stack):
    pid = product(stack)
    uid = new_user(stack)
    r = request("POST", f"{stack.base}/users/{uid}/orders",
                raw=b'{"items":[{"product_id":%d,"quantity":1}]}' % pid,
                headers={"Content-Type": "text/plain"})
    assert_problem(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    r = request("POST", f"{stack.base}/users/{uid}/orders")
    assert_problem(r, 400, "INVALID_REQUEST")
    assert order_count(stack, uid) == 0
    assert stock_of(stack, pid) == 10


def test_unknown_product_is_404_and_records_nothing(stack):
    pid = product(stack, price=100, stock=5)
    uid = new_user(stack)
    assert_problem(create_order(stack, uid, [(UNKNOWN_ID, 1)]), 404, "PRODUCT_NOT_FOUND")
    assert_problem(create_order(stack, uid, [(pid, 1), (UNKNOWN_ID, 1)]), 404,
                   "PRODUCT_NOT_FOUND")
    assert order_count(stack, uid) == 0
    assert stock_of(stack, pid) == 5


def test_product_not_on_sale_is_404(stack):
    pid = product(stack, price=100, stock=5)
    uid = new_user(stack)
    r = request("PATCH", f"{stack.base}/admin/products/{pid}", {"on_sale": False})
    assert r.status == 200, r
    assert_problem(create_order(stack, uid, [(pid, 1)]), 404, "PRODUCT_NOT_FOUND")
    assert order_count(stack, uid) == 0
    assert stock_of(stack, pid) == 5


def test_unknown_user_is_404(stack):
    pid = product(stack, price=100, stock=5)
    assert_problem(create_order(stack, UNKNOWN_ID, [(pid, 1)]), 404, "USER_NOT_FOUND")
    for bad in ("abc", "-1", "0", "99999999999999999999"):
        r = request("POST", f"{stack.base}/users/{bad}/orders", items_body([(pid, 1)]))
        assert_problem(r, 404, "USER_NOT_FOUND")
    assert stock_of(stack, pid) == 5
    assert scalar(stack, f"SELECT count(*) FROM order_items WHERE product_id = {pid}") == 0


def test_out_of_stock_records_a_failed_order(stack):
    pid = product(stack, price=700, stock=2)
    uid = new_user(stack)
    r = create_order(stack, uid, [(pid, 3)])
    p = assert_problem(r, 409, "OUT_OF_STOCK")
    assert p["order_status"] == "FAILED"
    assert isinstance(p["order_id"], int)
    assert p["status"] == 409
    oid = p["order_id"]
    d = db_order(stack, oid)
    assert (d["status"], d["user_id"], d["total"]) == ("FAILED", uid, 2100)
    assert stock_of(stack, pid) == 2
    # the failed order is the user's, readable, and not payable or cancellable
    g = ok(get_order(stack, uid, oid))
    assert g["status"] == "FAILED" and g["order_id"] == oid
    assert g["items"] == [{"product_id": pid, "quantity": 3, "unit_price": 700}]
    assert [o["order_id"] for o in ok(request("GET", f"{stack.base}/users/{uid}/orders"))["items"]] == [oid]
    charge(stack, uid, 10_000)
    pp = assert_problem(pay(stack, uid, oid), 409, "ORDER_NOT_PAYABLE")
    assert pp["order_status"] == "FAILED"
    cp = assert_problem(cancel(stack, uid, oid), 409, "ORDER_NOT_CANCELLABLE")
    assert cp["order_status"] == "FAILED"
    assert ledger(stack, uid) == (10_000, 1, 10_000)
    assert stock_of(stack, pid) == 2
    # what there is can still be ordered
    place(stack, uid, [(pid, 2)])
    assert stock_of(stack, pid) == 0
    p2 = assert_problem(create_order(stack, uid, [(pid, 1)]), 409, "OUT_OF_STOCK")
    assert p2["order_id"] != oid and p2["order_status"] == "FAILED"
    assert stock_of(stack, pid) == 0


def test_out_of_stock_on_one_item_reserves_none(stack):
    a = product(stack, price=100, stock=10)
    b = product(stack, price=100, stock=1)
    uid = new_user(stack)
    p = assert_problem(create_order(stack, uid, [(a, 5), (b, 2)]), 409, "OUT_OF_STOCK")
    assert p["order_status"] == "FAILED"
    assert (stock_of(stack, a), stock_of(stack, b)) == (10, 1)
    assert db_order(stack, p["order_id"])["status"] == "FAILED"


def test_zero_stock_product_is_out_of_stock(stack):
    pid = product(stack, price=100, stock=0)
    uid = new_user(stack)
    p = assert_problem(create_order(stack, uid, [(pid, 1)]), 409, "OUT_OF_STOCK")
    assert db_order(stack, p["order_id"])["status"] == "FAILED"
    assert stock_of(stack, pid) == 0


def test_total_beyond_bigint_is_refused_not_5xx(stack):
    pid = product(stack, price=9_007_199_254_740_991, stock=20_000)
    uid = new_user(stack)
    r = create_order(stack, uid, [(pid, 10_000)])
    assert_problem(r, 400, "INVALID_REQUEST")
    assert order_count(stack, uid) == 0
    assert stock_of(stack, pid) == 20_000


# --- read and list ------------------------------------------------------------

def test_get_order(stack):
    pid = product(stack, price=400, stock=5)
    uid = new_user(stack)
    o = place(stack, uid, [(pid, 2)])
    g = ok(get_order(stack, uid, o["order_id"]))
    for k in ("order_id", "status", "total_amount", "items", "expires_at"):
        assert g[k] == o[k], k
    assert g["status"] == "AWAITING_PAYMENT"
    assert g.get("discount_amount", 0) == 0 and g.get("paid_amount", 0) == 0
    parse_ts(g["created_at"])


def test_another_users_order_is_404(stack):
    pid = product(stack, price=400, stock=5)
    owner, other = new_user(stack), new_user(stack)
    charge(stack, other, 10_000)
    oid = place(stack, owner, [(pid, 1)])["order_id"]
    assert_problem(get_order(stack, other, oid), 404, "ORDER_NOT_FOUND")
    assert_problem(pay(stack, other, oid), 404, "ORDER_NOT_FOUND")
    assert_problem(cancel(stack, other, oid), 404, "ORDER_NOT_FOUND")
    assert_problem(request("GET", f"{stack.base}/users/{other}/orders/{oid}/coupons"),
                   404, "ORDER_NOT_FOUND")
    assert db_order(stack, oid)["status"] == "AWAITING_PAYMENT"
    assert ledger(stack, other) == (10_000, 1, 10_000)
    assert stock_of(stack, pid) == 4


@pytest.mark.parametrize("bad", BAD_IDS + [str(UNKNOWN_ID)])
def test_bad_or_unknown_order_id_is_404(stack, bad):
    uid = new_user(stack)
    base = f"{stack.base}/users/{uid}/orders/{bad}"
    assert_problem(request("GET", base), 404, "ORDER_NOT_FOUND")
    assert_problem(request("GET", base + "/coupons"), 404, "ORDER_NOT_FOUND")
    assert_problem(request("POST", base + "/payment"), 404, "ORDER_NOT_FOUND")
    assert_problem(request("POST", base + "/cancel"), 404, "ORDER_NOT_FOUND")


def test_list_orders_newest_first_with_cursor(stack):
    pid = product(stack, price=10, stock=100)
    uid = new_user(stack)
    ids = [place(stack, uid, [(pid, 1)])["order_id"] for _ in range(5)]
    ids.reverse()
    r = ok(request("GET", f"{stack.base}/users/{uid}/orders"))
    assert [o["order_id"] for o in r["items"]] == ids
    assert r["next_cursor"] is None
    assert all(o["status"] == "AWAITING_PAYMENT" for o in r["items"])
    assert r["items"][0]["items"] == [{"product_id": pid, "quantity": 1, "unit_price": 10}]

    seen, query = [], "?limit=2"
    for _ in range(10):
        page = ok(request("GET", f"{stack.base}/users/{uid}/orders{query}"))
        assert len(page["items"]) <= 2
        seen += [o["order_id"] for o in page["items"]]
        if page["next_cursor"] is None:
            break
        assert isinstance(page["next_cursor"], str)
        query = f"?limit=2&cursor={page['next_cursor']}"
    assert seen == ids


def test_list_orders_empty_and_unknown_user(stack):
    uid = new_user(stack)
    r = ok(request("GET", f"{stack.base}/users/{uid}/orders"))
    assert r == {"items": [], "next_cursor": None}
    assert_problem(request("GET", f"{stack.base}/users/{UNKNOWN_ID}/orders"), 404,
                   "USER_NOT_FOUND")
    assert_problem(request("GET", f"{stack.base}/users/{uid}/orders?limit=0"), 400,
                   "INVALID_REQUEST")
    assert_problem(request("GET", f"{stack.base}/users/{uid}/orders?cursor=garbage"), 400,
                   "INVALID_REQUEST")


def test_list_shows_only_the_users_orders(stack):
    pid = product(stack, price=10, stock=10)
    a, b = new_user(stack), new_user(stack)
    oa = place(stack, a, [(pid, 1)])["order_id"]
    ob = place(stack, b, [(pid, 1)])["order_id"]
    assert [o["order_id"] for o in ok(request("GET", f"{stack.base}/users/{a}/orders"))["items"]] == [oa]
    assert [o["order_id"] for o in ok(request("GET", f"{stack.base}/users/{b}/orders"))["items"]] == [ob]


# --- cancel of an unpaid order ------------------------------------------------

def test_cancel_unpaid_order_releases_stock(stack):
    a = product(stack, price=100, stock=5)
    b = product(stack, price=50, stock=5)
    uid = funded_user(stack, 1_000)
    oid = place(stack, uid, [(a, 2), (b, 3)])["order_id"]
    assert (stock_of(stack, a), stock_of(stack, b)) == (3, 2)
    c = ok(cancel(stack, uid, oid))
    assert c["order_id"] == oid
    assert c["status"] == "CANCELLED"
    assert c["refunded_amount"] == 0
    assert (stock_of(stack, a), stock_of(stack, b)) == (5, 5)
    assert db_order(stack, oid)["status"] == "CANCELLED"
    assert ok(get_order(stack, uid, oid))["status"] == "CANCELLED"
    assert ledger(stack, uid) == (1_000, 1, 1_000)
    assert outbox(stack, oid) == []
    # not cancellable twice, not payable
    p = assert_problem(cancel(stack, uid, oid), 409, "ORDER_NOT_CANCELLABLE")
    assert p["order_status"] == "CANCELLED"
    p = assert_problem(pay(stack, uid, oid), 409, "ORDER_NOT_PAYABLE")
    assert p["order_status"] == "CANCELLED"
    assert (stock_of(stack, a), stock_of(stack, b)) == (5, 5)
    assert ledger(stack, uid) == (1_000, 1, 1_000)


def test_cancel_accepts_an_empty_json_body(stack):
    pid = product(stack, price=100, stock=5)
    uid = new_user(stack)
    oid = place(stack, uid, [(pid, 1)])["order_id"]
    r = request("POST", f"{stack.base}/users/{uid}/orders/{oid}/cancel", {})
    assert ok(r)["status"] == "CANCELLED"
    assert stock_of(stack, pid) == 5


# --- Idempotency-Key on create ------------------------------------------------

def test_idempotent_order_creation(stack):
    pid = product(stack, price=300, stock=10)
    uid = new_user(stack)
    key = new_key()
    first = create_order(stack, uid, [(pid, 2)], headers={"Idempotency-Key": key})
    o = ok(first, 201)
    assert not replayed(first)
    for _ in range(2):
        again = create_order(stack, uid, [(pid, 2)], headers={"Idempotency-Key": key})
        assert ok(again, 201) == o
        assert replayed(again), again.headers
    assert order_count(stack, uid) == 1
    assert stock_of(stack, pid) == 8
    # same key, another body: refused, nothing done
    r = create_order(stack, uid, [(pid, 1)], headers={"Idempotency-Key": key})
    assert_problem(r, 422, "IDEMPOTENCY_KEY_REUSED")
    assert order_count(stack, uid) == 1
    assert stock_of(stack, pid) == 8
    # another key is another order
    ok(create_order(stack, uid, [(pid, 2)], headers={"Idempotency-Key": new_key()}), 201)
    assert order_count(stack, uid) == 2
    assert stock_of(stack, pid) == 6


def test_idempotent_out_of_stock_is_replayed(stack):
    pid = product(stack, price=300, stock=1)
    uid = new_user(stack)
    key = new_key()
    first = create_order(stack, uid, [(pid, 2)], headers={"Idempotency-Key": key})
    p = assert_problem(first, 409, "OUT_OF_STOCK")
    assert p["order_status"] == "FAILED"
    # stock appears, but the retry replays the recorded refusal
    request("PATCH", f"{stack.base}/admin/products/{pid}", {"stock": 10})
    again = create_order(stack, uid, [(pid, 2)], headers={"Idempotency-Key": key})
    p2 = assert_problem(again, 409, "OUT_OF_STOCK")
    assert replayed(again)
    assert p2 == p
    assert order_count(stack, uid) == 1
    assert db_order(stack, p["order_id"])["status"] == "FAILED"
    assert stock_of(stack, pid) == 10

