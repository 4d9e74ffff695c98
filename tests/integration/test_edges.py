"""Right answers at every edge (issue 15): the sold-out shortcut answers in
the contract's order, money stays within 2^53 - 1, only RFC 3339 times,
cursors checked byte by byte, one Idempotency-Key and JSON-equal retries."""
import base64
import json
import uuid

import pytest

from shopclient import (assert_problem, charge, get_order, issue, new_campaign, new_product,
                        new_user, ok, order_count, place, request)

MAX = 2 ** 53 - 1


# --- coupon issue: USER/COUPON_NOT_FOUND > ALREADY_ISSUED > NOT_ISSUABLE > SOLD_OUT

@pytest.mark.parametrize("keyed", [False, True], ids=["no-key", "key"])
def test_sold_out_campaign_still_answers_in_order(stack, keyed):
    def hdr():
        return {"Idempotency-Key": f"edge-{uuid.uuid4()}"} if keyed else None
    holder = new_user(stack)
    cid = new_campaign(stack, total_quantity=1)["id"]
    ok(issue(stack, holder, cid), 201)
    assert_problem(issue(stack, new_user(stack), cid, headers=hdr()), 409, "SOLD_OUT")
    # shared memory now knows it is sold out; the answers must not change
    assert_problem(issue(stack, holder, cid, headers=hdr()), 409, "ALREADY_ISSUED")
    missing = int(stack.psql("SELECT coalesce(max(id), 0) + 1000 FROM users"))
    assert_problem(issue(stack, missing, cid, headers=hdr()), 404, "USER_NOT_FOUND")
    assert_problem(issue(stack, new_user(stack), cid, headers=hdr()), 409, "SOLD_OUT")


def test_closed_window_beats_sold_out_and_holder_beats_window(stack):
    holder = new_user(stack)
    cid = new_campaign(stack, total_quantity=1)["id"]
    ok(issue(stack, holder, cid), 201)
    assert_problem(issue(stack, new_user(stack), cid), 409, "SOLD_OUT")
    stack.psql(f"UPDATE coupons SET issue_ends_at = now() - interval '1 s',"
               f" issue_starts_at = now() - interval '1 day' WHERE id = {cid}")
    p = assert_problem(issue(stack, new_user(stack), cid), 422, "COUPON_NOT_ISSUABLE")
    assert p["issue_ends_at"]
    assert_problem(issue(stack, holder, cid), 409, "ALREADY_ISSUED")


def test_unknown_user_beats_not_issuable(stack):
    cid = new_campaign(stack, total_quantity=5)["id"]
    stack.psql(f"UPDATE coupons SET issue_starts_at = now() + interval '1 day',"
               f" issue_ends_at = now() + interval '2 days' WHERE id = {cid}")
    missing = int(stack.psql("SELECT coalesce(max(id), 0) + 1000 FROM users"))
    assert_problem(issue(stack, missing, cid), 404, "USER_NOT_FOUND")


# --- money: every amount the API writes stays <= 2^53 - 1 -------------------

def test_an_order_total_above_2_53_is_refused_and_not_stored(stack):
    uid = new_user(stack)
    pid = new_product(stack, f"dear-{uuid.uuid4().hex[:6]}", MAX // 2 + 1, 10)
    stock = stack.psql(f"SELECT shop_product_stock({pid})")
    r = request("POST", f"{stack.base}/users/{uid}/orders",
                {"items": [{"product_id": pid, "quantity": 2}]})
    p = assert_problem(r, 400, "INVALID_REQUEST")
    assert "9007199254740991" in p["detail"], p
    assert order_count(stack, uid) == 0
    assert stack.psql(f"SELECT shop_product_stock({pid})") == stock


def test_an_order_total_of_exactly_2_53_minus_1_is_fine(stack):
    uid = new_user(stack)
    pid = new_product(stack, f"exact-{uuid.uuid4().hex[:6]}", MAX, 3)
    order = place(stack, uid, [(pid, 1)])
    assert order["total_amount"] == MAX
    # a RATE coupon on it: the discount arithmetic cannot overflow on a GET
    cid = new_campaign(stack, discount_type="RATE", discount_value=100, total_quantity=1)["id"]
    ok(issue(stack, uid, cid), 201)
    usable = ok(request("GET", f"{stack.base}/users/{uid}/orders/{order['order_id']}/coupons"))
    assert [c["discount_amount"] for c in usable["items"]] == [MAX]


def test_many_items_cannot_overflow_the_total(stack):
    uid = new_user(stack)
    pids = [new_product(stack, f"big{i}-{uuid.uuid4().hex[:6]}", MAX, 2) for i in range(3)]
    r = request("POST", f"{stack.base}/users/{uid}/orders",
                {"items": [{"product_id": p, "quantity": 2} for p in pids]})
    assert_problem(r, 400, "INVALID_REQUEST")
    assert order_count(stack, uid) == 0


# --- times: RFC 3339 only ----------------------------------------------------

@pytest.mark.parametrize("when", ["infinity", "-infinity", "epoch", "now", "today",
                                  "2026-11-24", "2026-11-24 10:00:00", "2026-02-30T00:00:00Z",
                                  "tomorrow", "allballs"])
def test_admin_coupon_times_must_be_rfc3339(stack, when):
    before = stack.psql("SELECT count(*) FROM coupons")
    r = request("POST", f"{stack.base}/admin/coupons",
                {"name": "t", "discount_type": "FIXED", "discount_value": 10,
                 "total_quantity": 1, "issue_starts_at": when})
    assert_problem(r, 400, "INVALID_REQUEST")
    assert stack.psql("SELECT count(*) FROM coupons") == before


def test_admin_coupon_accepts_rfc3339_with_offset(stack):
    c = new_campaign(stack, issue_starts_at="2026-01-01T09:00:00+09:00",
                     issue_ends_at="2099-01-01T00:00:00.5Z")
    assert c["issue_starts_at"] == "2026-01-01T00:00:00Z"


# --- cursors: every byte -----------------------------------------------------

@pytest.mark.parametrize("cursor", ["YzE6NQBqdW5r",            # "c1:5\0junk"
                                    base64.urlsafe_b64encode(b"c1:5\0").decode().rstrip("="),
                                    "YzE6NDJ"])                  # non-canonical bits
def test_cursor_with_hidden_bytes_is_refused(stack, cursor):
    uid = new_user(stack)
    r = request("GET", f"{stack.base}/users/{uid}/points/history?cursor={cursor}")
    assert_problem(r, 400, "INVALID_REQUEST")


# --- Idempotency-Key ---------------------------------------------------------

def test_two_idempotency_key_headers_are_refused(stack):
    uid = new_user(stack)
    raw = (f"POST /api/users/{uid}/points/charge HTTP/1.1\r\nHost: x\r\n"
           "Content-Type: application/json\r\nIdempotency-Key: a\r\nIdempotency-Key: b\r\n"
           "Content-Length: 15\r\nConnection: close\r\n\r\n{\"amount\":1000}").encode()
    import socket
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as s:
        s.sendall(raw)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400"), answer
    body = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert body["code"] == "INVALID_REQUEST"
    assert stack.psql(f"SELECT balance FROM users WHERE id = {uid}") == "0"


def test_same_key_same_json_value_replays(stack):
    uid = new_user(stack)
    key = {"Idempotency-Key": f"canon-{uuid.uuid4()}",
           "Content-Type": "application/json"}
    url = f"{stack.base}/users/{uid}/points/charge"
    first = request("POST", url, raw=b'{"amount":700}', headers=key)
    assert first.status == 200, first
    again = request("POST", url, raw=b'{ "amount" :  700 }\n', headers=key)
    assert again.status == 200 and again.json == first.json, again
    assert again.headers.get("idempotency-replayed") == "true"
    assert stack.psql(f"SELECT balance FROM users WHERE id = {uid}") == "700"
    other = request("POST", url, raw=b'{"amount":701}', headers=key)
    assert_problem(other, 422, "IDEMPOTENCY_KEY_REUSED")


def test_member_order_does_not_make_another_body(stack):
    uid = new_user(stack)
    charge(stack, uid, 100000)
    p1 = new_product(stack, f"m1-{uuid.uuid4().hex[:6]}", 10, 50)
    p2 = new_product(stack, f"m2-{uuid.uuid4().hex[:6]}", 20, 50)
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}", "Content-Type": "application/json"}
    url = f"{stack.base}/users/{uid}/orders"
    a = request("POST", url, raw=json.dumps({"items": [{"product_id": p1, "quantity": 1},
                                                        {"product_id": p2, "quantity": 2}]}).encode(),
                headers=key)
    assert a.status == 201, a
    b = request("POST", url, raw=json.dumps({"items": [{"quantity": 1, "product_id": p1},
                                                        {"quantity": 2, "product_id": p2}]}).encode(),
                headers=key)
    assert b.status == 201 and b.json == a.json, b
    assert order_count(stack, uid) == 1
    assert ok(get_order(stack, uid, a.json["order_id"]))["status"] == "AWAITING_PAYMENT"
