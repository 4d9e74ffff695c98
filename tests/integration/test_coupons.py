"""Coupons: campaigns, first-come-first-served issue (sequential cases),
a user's coupons with AVAILABLE / USED / EXPIRED, the coupons usable on an
order, the shared-memory sold-out memory, Idempotency-Key on issue."""

import datetime

import pytest

from shopclient import (BAD_IDS, UNKNOWN_ID, assert_problem, campaign_state, funded_user, issue,
                        issued, new_campaign, new_key, new_user, ok, parse_ts, pay, place, product,
                        remaining, replayed, request, rows, scalar, uc_row, until_shown,
                        user_coupons, utcnow)


def get_campaign(stack, cid):
    return request("GET", f"{stack.base}/coupons/{cid}")


def rfc3339(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- campaigns ----------------------------------------------------------------

def test_create_campaign_with_defaults(stack):
    before = utcnow().replace(microsecond=0)
    c = new_campaign(stack, name="Welcome", discount_type="FIXED", discount_value=2000,
                     total_quantity=7)
    assert isinstance(c["id"], int) and c["id"] > 0
    assert {k: c[k] for k in ("name", "discount_type", "discount_value", "total_quantity",
                              "remaining_quantity", "min_order_amount", "valid_days")} == {
        "name": "Welcome", "discount_type": "FIXED", "discount_value": 2000,
        "total_quantity": 7, "remaining_quantity": 7, "min_order_amount": 0, "valid_days": 30}
    assert c.get("max_discount") is None
    starts, ends = parse_ts(c["issue_starts_at"]), parse_ts(c["issue_ends_at"])
    assert before - datetime.timedelta(seconds=5) <= starts <= utcnow() + datetime.timedelta(seconds=5)
    assert abs((ends - starts) - datetime.timedelta(days=30)) <= datetime.timedelta(seconds=2)
    g = ok(get_campaign(stack, c["id"]))
    assert g == c
    assert scalar(stack, f"SELECT count(*) FROM coupon_slots WHERE coupon_id = {c['id']}") == 7


def test_create_campaign_with_every_field(stack):
    starts = utcnow().replace(microsecond=0) - datetime.timedelta(hours=1)
    ends = starts + datetime.timedelta(days=2)
    c = new_campaign(stack, name="Rate", discount_type="RATE", discount_value=15,
                     max_discount=5000, min_order_amount=10_000, total_quantity=3,
                     issue_starts_at=rfc3339(starts), issue_ends_at=rfc3339(ends),
                     valid_days=7)
    assert (c["discount_type"], c["discount_value"], c["max_discount"], c["min_order_amount"],
            c["total_quantity"], c["remaining_quantity"], c["valid_days"]) == \
        ("RATE", 15, 5000, 10_000, 3, 3, 7)
    assert parse_ts(c["issue_starts_at"]) == starts
    assert parse_ts(c["issue_ends_at"]) == ends


@pytest.mark.parametrize("fields", [
    {"discount_type": "BOGUS"},
    {"discount_type": "RATE", "discount_value": 101},
    {"discount_value": 0},
    {"discount_value": "10"},
    {"total_quantity": 0},
    {"total_quantity": 1_000_001},
    {"valid_days": 0},
    {"max_discount": 0},
    {"min_order_amount": -1},
    {"issue_starts_at": "2030-01-02T00:00:00Z", "issue_ends_at": "2030-01-01T00:00:00Z"},
    {"issue_starts_at": "not a time"},
    {"name": ""},
], ids=lambda f: str(f)[:50])
def test_invalid_campaign_is_400(stack, fields):
    body = {"name": "bad", "discount_type": "FIXED", "discount_value": 100,
            "total_quantity": 5, **fields}
    before = scalar(stack, "SELECT count(*) FROM coupons")
    r = request("POST", f"{stack.base}/admin/coupons", body)
    assert_problem(r, 400, "INVALID_REQUEST")
    assert scalar(stack, "SELECT count(*) FROM coupons") == before


@pytest.mark.parametrize("bad", BAD_IDS + [str(UNKNOWN_ID)])
def test_unknown_campaign_is_404(stack, bad):
    assert_problem(get_campaign(stack, bad), 404, "COUPON_NOT_FOUND")


# --- issue --------------------------------------------------------------------

def test_issue_a_coupon(stack):
    c = new_campaign(stack, name="Ten off", discount_type="RATE", discount_value=10,
                     max_discount=3000, total_quantity=5, valid_days=3)
    uid = new_user(stack)
    before = utcnow().replace(microsecond=0)
    b = ok(issue(stack, uid, c["id"]), 201)
    assert {k: b[k] for k in ("coupon_id", "name", "discount_type", "discount_value",
                              "status")} == {
        "coupon_id": c["id"], "name": "Ten off", "discount_type": "RATE",
        "discount_value": 10, "status": "AVAILABLE"}
    assert isinstance(b["user_coupon_id"], int)
    issued_at, expires = parse_ts(b["issued_at"]), parse_ts(b["expires_at"])
    assert before - datetime.timedelta(seconds=2) <= issued_at <= utcnow() + datetime.timedelta(seconds=2)
    assert abs((expires - issued_at) - datetime.timedelta(days=3)) <= datetime.timedelta(seconds=1)
    until_shown(lambda: remaining(stack, c["id"]), 4, "remaining")
    assert campaign_state(stack, c["id"]) == (1, 1, 1, 4)
    assert rows(stack, f"SELECT user_id FROM coupon_slots WHERE coupon_id = {c['id']}"
                       " AND user_id IS NOT NULL") == [[str(uid)]]
    assert uc_row(stack, b["user_coupon_id"]) == ("AVAILABLE", None)
    lst = ok(user_coupons(stack, uid))
    assert lst["next_cursor"] is None
    assert [(x["user_coupon_id"], x["status"]) for x in lst["items"]] == \
        [(b["user_coupon_id"], "AVAILABLE")]


def test_issue_twice_is_already_issued(stack):
    cid = new_campaign(stack, total_quantity=5)["id"]
    uid = new_user(stack)
    issued(stack, uid, cid)
    assert_problem(issue(stack, uid, cid), 409, "ALREADY_ISSUED")
    assert campaign_state(stack, cid) == (1, 1, 1, 4)
    until_shown(lambda: remaining(stack, cid), 4, "remaining")


def test_already_issued_even_after_use(stack):
    cid = new_campaign(stack, total_quantity=5, discount_value=100)["id"]
    uid = funded_user(stack, 10_000)
    ucid = issued(stack, uid, cid)
    oid = place(stack, uid, [(product(stack, price=1000), 1)])["order_id"]
    ok(pay(stack, uid, oid, ucid))
    assert_problem(issue(stack, uid, cid), 409, "ALREADY_ISSUED")
    assert campaign_state(stack, cid) == (1, 1, 1, 4)


def test_sold_out(stack):
    cid = new_campaign(stack, total_quantity=2)["id"]
    users = [new_user(stack) for _ in range(4)]
    issued(stack, users[0], cid)
    issued(stack, users[1], cid)
    assert_problem(issue(stack, users[2], cid), 409, "SOLD_OUT")
    assert_problem(issue(stack, users[3], cid), 409, "SOLD_OUT")
    # with an Idempotency-Key the database answers, and says the same
    assert_problem(issue(stack, users[3], cid, headers={"Idempotency-Key": new_key()}),
                   409, "SOLD_OUT")
    # a holder asking again is told it already has one
    assert_problem(issue(stack, users[0], cid, headers={"Idempotency-Key": new_key()}),
                   409, "ALREADY_ISSUED")
    assert campaign_state(stack, cid) == (2, 2, 2, 0)
    until_shown(lambda: remaining(stack, cid), 0, "remaining")


def test_sold_out_is_remembered_in_shared_memory(stack):
    """Once SOLD_OUT was answered, un-keyed issues answer SOLD_OUT without the
    database: a slot added behind the module's back is not seen by them, but
    a keyed request (which always asks the database) gets it."""
    cid = new_campaign(stack, total_quantity=1)["id"]
    a, b, c = new_user(stack), new_user(stack), new_user(stack)
    issued(stack, a, cid)
    assert_problem(issue(stack, b, cid), 409, "SOLD_OUT")
    stack.psql(f"INSERT INTO coupon_slots (coupon_id, slot) VALUES ({cid}, 2)")
    for _ in range(5):      # whichever child answers: shared memory
        assert_problem(issue(stack, b, cid), 409, "SOLD_OUT")
    assert campaign_state(stack, cid) == (1, 1, 1, 1)
    r = issue(stack, c, cid, headers={"Idempotency-Key": new_key()})
    assert ok(r, 201)["coupon_id"] == cid
    assert campaign_state(stack, cid) == (2, 2, 2, 0)


def test_not_yet_issuable(stack):
    starts = utcnow().replace(microsecond=0) + datetime.timedelta(days=1)
    c = new_campaign(stack, issue_starts_at=rfc3339(starts),
                     issue_ends_at=rfc3339(starts + datetime.timedelta(days=1)))
    uid = new_user(stack)
    p = assert_problem(issue(stack, uid, c["id"]), 422, "COUPON_NOT_ISSUABLE")
    if "issue_starts_at" in p:
        assert parse_ts(p["issue_starts_at"]) == starts
    assert campaign_state(stack, c["id"]) == (0, 0, 0, c["total_quantity"])
    assert ok(user_coupons(stack, uid))["items"] == []


def test_issue_window_closed(stack):
    """A campaign whose window has ended (moved into the past in the database)."""
    cid = new_campaign(stack, total_quantity=3)["id"]
    stack.psql("UPDATE coupons SET issue_starts_at = now() - interval '2 days',"
               f" issue_ends_at = now() - interval '1 day' WHERE id = {cid}")
    assert_problem(issue(stack, new_user(stack), cid), 422, "COUPON_NOT_ISSUABLE")
    assert campaign_state(stack, cid) == (0, 0, 0, 3)


def test_issue_unknown_campaign_or_user(stack):
    uid = new_user(stack)
    assert_problem(issue(stack, uid, UNKNOWN_ID), 404, "COUPON_NOT_FOUND")
    assert_problem(issue(stack, uid, 0), 404, "COUPON_NOT_FOUND")
    cid = new_campaign(stack, total_quantity=3)["id"]
    assert_problem(issue(stack, UNKNOWN_ID, cid), 404, "USER_NOT_FOUND")
    assert_problem(request("POST", f"{stack.base}/users/abc/coupons", {"coupon_id": cid}),
                   404, "USER_NOT_FOUND")
    assert campaign_state(stack, cid) == (0, 0, 0, 3)


@pytest.mark.parametrize("body", [{}, {"coupon_id": "1"}, {"coupon_id": None},
                                  {"coupon_id": 1.5}, {"coupon_id": [1]}])
def test_issue_bad_body_is_400(stack, body):
    uid = new_user(stack)
    r = request("POST", f"{stack.base}/users/{uid}/coupons", body)
    assert_problem(r, 400, "INVALID_REQUEST")
    assert ok(user_coupons(stack, uid))["items"] == []


def test_idempotent_issue(stack):
    cid = new_campaign(stack, total_quantity=5)["id"]
    other = new_campaign(stack, total_quantity=5)["id"]
    uid = new_user(stack)
    key = new_key()
    first = issue(stack, uid, cid, headers={"Idempotency-Key": key})
    b = ok(first, 201)
    again = issue(stack, uid, cid, headers={"Idempotency-Key": key})
    assert ok(again, 201) == b and replayed(again)
    assert campaign_state(stack, cid) == (1, 1, 1, 4)
    assert_problem(issue(stack, uid, other, headers={"Idempotency-Key": key}), 422,
                   "IDEMPOTENCY_KEY_REUSED")
    assert campaign_state(stack, other) == (0, 0, 0, 5)


# --- a user's coupons ---------------------------------------------------------

def test_user_coupons_with_every_status(stack):
    uid = funded_user(stack, 10_000)
    c_used = new_campaign(stack, discount_value=100)["id"]
    c_exp = new_campaign(stack, discount_value=200)["id"]
    c_ok = new_campaign(stack, discount_value=300)["id"]
    u_used = issued(stack, uid, c_used)
    u_exp = issued(stack, uid, c_exp)
    u_ok = issued(stack, uid, c_ok)
    oid = place(stack, uid, [(product(stack, price=1000), 1)])["order_id"]
    ok(pay(stack, uid, oid, u_used))
    stack.psql(f"UPDATE user_coupons SET expires_at = now() - interval '1 second'"
               f" WHERE id = {u_exp}")
    items = ok(user_coupons(stack, uid))["items"]
    # newest first
    assert [(x["user_coupon_id"], x["coupon_id"], x["status"]) for x in items] == [
        (u_ok, c_ok, "AVAILABLE"), (u_exp, c_exp, "EXPIRED"), (u_used, c_used, "USED")]
    used = items[2]
    assert used.get("order_id", oid) == oid
    for x in items:
        assert x["discount_type"] == "FIXED" and x["name"]
        parse_ts(x["issued_at"]), parse_ts(x["expires_at"])
    # paging
    p1 = ok(user_coupons(stack, uid, "?limit=2"))
    assert [x["user_coupon_id"] for x in p1["items"]] == [u_ok, u_exp]
    assert isinstance(p1["next_cursor"], str)
    p2 = ok(user_coupons(stack, uid, f"?limit=2&cursor={p1['next_cursor']}"))
    assert [x["user_coupon_id"] for x in p2["items"]] == [u_used]
    assert p2["next_cursor"] is None


def test_user_coupons_empty_and_unknown_user(stack):
    uid = new_user(stack)
    assert ok(user_coupons(stack, uid)) == {"items": [], "next_cursor": None}
    assert_problem(user_coupons(stack, UNKNOWN_ID), 404, "USER_NOT_FOUND")
    assert_problem(user_coupons(stack, uid, "?limit=101"), 400, "INVALID_REQUEST")


# --- coupons usable on an order -----------------------------------------------

def test_order_coupons_best_discount_first(stack):
    uid = funded_user(stack, 100_000)
    other = new_user(stack)
    pid = product(stack, price=20_000, stock=10)
    fixed = issued(stack, uid, new_campaign(stack, discount_value=1500)["id"])
    rate = issued(stack, uid, new_campaign(stack, discount_type="RATE", discount_value=10)["id"])  # 2000
    capped = issued(stack, uid, new_campaign(stack, discount_type="RATE", discount_value=50,
                                             max_discount=1000)["id"])                          # 1000
    big = issued(stack, uid, new_campaign(stack, discount_value=50_000)["id"])                # 20000
    below = issued(stack, uid, new_campaign(stack, discount_value=9000,
                                            min_order_amount=20_001)["id"])
    expired = issued(stack, uid, new_campaign(stack, discount_value=9000)["id"])
    stack.psql(f"UPDATE user_coupons SET expires_at = now() - interval '1 second'"
               f" WHERE id = {expired}")
    issued(stack, other, new_campaign(stack, discount_value=9000)["id"])
    oid = place(stack, uid, [(pid, 1)])["order_id"]

    r = ok(request("GET", f"{stack.base}/users/{uid}/orders/{oid}/coupons"))
    assert r["next_cursor"] is None
    got = [(x["user_coupon_id"], x["discount_amount"]) for x in r["items"]]
    assert got == [(big, 20_000), (rate, 2000), (fixed, 1500), (capped, 1000)]
    assert below not in [x[0] for x in got] and expired not in [x[0] for x in got]
    assert all(x["status"] == "AVAILABLE" for x in r["items"])

    # once paid, nothing is usable on it
    ok(pay(stack, uid, oid, rate))
    r = ok(request("GET", f"{stack.base}/users/{uid}/orders/{oid}/coupons"))
    assert r == {"items": [], "next_cursor": None}


def test_order_coupons_of_a_cancelled_or_failed_order_are_empty(stack):
    uid = new_user(stack)
    issued(stack, uid, new_campaign(stack, discount_value=100)["id"])
    pid = product(stack, price=1000, stock=1)
    oid = place(stack, uid, [(pid, 1)])["order_id"]
    ok(request("POST", f"{stack.base}/users/{uid}/orders/{oid}/cancel"))
    assert ok(request("GET", f"{stack.base}/users/{uid}/orders/{oid}/coupons"))["items"] == []
    r = request("POST", f"{stack.base}/users/{uid}/orders",
                {"items": [{"product_id": pid, "quantity": 2}]})
    failed = assert_problem(r, 409, "OUT_OF_STOCK")["order_id"]
    assert ok(request("GET", f"{stack.base}/users/{uid}/orders/{failed}/coupons"))["items"] == []
