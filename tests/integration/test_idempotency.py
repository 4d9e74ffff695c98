"""Idempotency-Key on POST: replay of the first response, no double work."""

import uuid

import pytest

from shopclient import (assert_problem, charge, ledger, new_key, new_user, parallel,
                        replayed, request)

CHARGE_MAX = 1_000_000
BALANCE_MAX = 10_000_000


def stored(stack, key):
    """Rows of idempotency_keys with that key: [(user_id, status)]."""
    out = stack.psql(f"SELECT user_id, status FROM idempotency_keys WHERE key = '{key}'")
    return [tuple(line.split("|")) for line in out.splitlines()]


def test_retry_replays_the_first_response_and_charges_once(stack):
    uid, key = new_user(stack), new_key()
    first = charge(stack, uid, 700, headers={"Idempotency-Key": key})
    assert first.status == 200, first
    assert first.json == {"user_id": uid, "charged": 700, "balance": 700}
    assert not replayed(first)
    for _ in range(3):
        again = charge(stack, uid, 700, headers={"Idempotency-Key": key})
        assert again.status == 200, again
        assert again.json == first.json
        assert replayed(again), again.headers
        assert again.headers.get("x-request-id")
        assert again.headers["content-type"].split(";")[0].strip() == "application/json"
    assert ledger(stack, uid) == (700, 1, 700)
    assert stored(stack, key) == [(str(uid), "200")]


def test_replay_is_the_first_response_even_after_the_balance_moved(stack):
    uid, key = new_user(stack), new_key()
    first = charge(stack, uid, 100, headers={"Idempotency-Key": key})
    assert first.json["balance"] == 100
    assert charge(stack, uid, 50).json["balance"] == 150
    again = charge(stack, uid, 100, headers={"Idempotency-Key": key})
    assert (again.status, again.json) == (200, {"user_id": uid, "charged": 100, "balance": 100})
    assert replayed(again)
    assert ledger(stack, uid) == (150, 2, 150)


def test_same_key_with_another_body_is_422(stack):
    uid, key = new_user(stack), new_key()
    assert charge(stack, uid, 700, headers={"Idempotency-Key": key}).status == 200
    r = charge(stack, uid, 701, headers={"Idempotency-Key": key})
    assert_problem(r, 422, "IDEMPOTENCY_KEY_REUSED")
    assert ledger(stack, uid) == (700, 1, 700)
    # the original request still replays
    again = charge(stack, uid, 700, headers={"Idempotency-Key": key})
    assert again.status == 200 and replayed(again) and again.json["balance"] == 700


def test_same_key_for_another_user_is_independent(stack):
    a, b, key = new_user(stack), new_user(stack), new_key()
    ra = charge(stack, a, 300, headers={"Idempotency-Key": key})
    rb = charge(stack, b, 300, headers={"Idempotency-Key": key})
    assert (ra.status, rb.status) == (200, 200)
    assert not replayed(rb)
    assert rb.json == {"user_id": b, "charged": 300, "balance": 300}
    assert ledger(stack, a) == (300, 1, 300)
    assert ledger(stack, b) == (300, 1, 300)


def test_same_key_on_another_route_is_independent(stack):
    uid, key = new_user(stack), new_key()
    assert charge(stack, uid, 300, headers={"Idempotency-Key": key}).status == 200
    login = f"idr{uuid.uuid4().hex[:10]}"
    r = request("POST", f"{stack.base}/admin/users", {"login": login},
                headers={"Idempotency-Key": key})
    assert r.status == 201, r
    assert not replayed(r)
    assert stack.psql(f"SELECT count(*) FROM users WHERE login = '{login}'") == "1"


def test_without_a_key_every_request_is_new_work(stack):
    uid = new_user(stack)
    assert charge(stack, uid, 10).status == 200
    r = charge(stack, uid, 10)
    assert r.status == 200 and not replayed(r)
    assert ledger(stack, uid) == (20, 2, 20)


def test_parallel_requests_with_one_key_charge_once(stack):
    uid, key = new_user(stack), new_key()
    n = 10
    rs = parallel(n, lambda i: charge(stack, uid, 1234, headers={"Idempotency-Key": key}))
    assert [r.status for r in rs] == [200] * n, rs
    assert all(r.json == {"user_id": uid, "charged": 1234, "balance": 1234} for r in rs), rs
    assert sum(not replayed(r) for r in rs) == 1, [r.headers for r in rs]
    assert ledger(stack, uid) == (1234, 1, 1234)


def test_parallel_requests_with_one_key_and_different_bodies(stack):
    uid, key = new_user(stack), new_key()
    n = 10
    rs = parallel(n, lambda i: charge(stack, uid, 100 + i, headers={"Idempotency-Key": key}))
    ok = [r for r in rs if r.status == 200]
    assert len(ok) == 1, rs
    for r in rs:
        if r.status != 200:
            assert_problem(r, 422, "IDEMPOTENCY_KEY_REUSED")
    won = ok[0].json["charged"]
    assert ledger(stack, uid) == (won, 1, won)


def test_refusal_is_stored_and_replayed_even_where_it_would_now_succeed(stack):
    """The spec: a retry returns the FIRST response.  A refusal that came out
    of the work (409 BALANCE_LIMIT_EXCEEDED) is stored with the key, and the
    work it refused stays undone."""
    uid, key = new_user(stack), new_key()
    for _ in range(9):
        assert charge(stack, uid, CHARGE_MAX).status == 200
    assert charge(stack, uid, CHARGE_MAX - 500).status == 200
    start = ledger(stack, uid)
    assert start == (BALANCE_MAX - 500, 10, BALANCE_MAX - 500)

    hdr = {"Idempotency-Key": key}
    first = charge(stack, uid, 1000, headers=hdr)
    assert_problem(first, 409, "BALANCE_LIMIT_EXCEEDED")
    assert not replayed(first)
    assert stored(stack, key) == [(str(uid), "409")]
    r = charge(stack, uid, 1000, headers=hdr)
    assert_problem(r, 409, "BALANCE_LIMIT_EXCEEDED")
    assert replayed(r) and r.body == first.body
    assert ledger(stack, uid) == start

    # Where the limit is higher the same key still answers the first 409
    # (both servers share the database and so the key store) ...
    with stack.httpd(f"ShopBalanceMax {2 * BALANCE_MAX}", "idem-highmax") as big:
        r = charge(big, uid, 1000, headers=hdr)
        assert r.status == 409 and replayed(r), r
        # ... while a new key does the work there.
        r = charge(big, uid, 1000, headers={"Idempotency-Key": new_key()})
        assert r.status == 200, r
        assert r.json == {"user_id": uid, "charged": 1000, "balance": BALANCE_MAX + 500}
    assert ledger(stack, uid) == (BALANCE_MAX + 500, 11, BALANCE_MAX + 500)


def test_invalid_request_is_not_stored(stack):
    uid, key = new_user(stack), new_key()
    hdr = {"Idempotency-Key": key}
    assert_problem(charge(stack, uid, 0, headers=hdr), 422, "INVALID_AMOUNT")
    r = charge(stack, uid, 0, headers=hdr)
    assert_problem(r, 422, "INVALID_AMOUNT")
    assert not replayed(r)
    assert stored(stack, key) == []
    # nothing was stored, so another body with that key is not a reuse
    r = charge(stack, uid, 5, headers=hdr)
    assert r.status == 200, r
    assert ledger(stack, uid) == (5, 1, 5)


def test_key_expires_after_24_hours(stack):
    uid, key = new_user(stack), new_key()
    hdr = {"Idempotency-Key": key}
    assert charge(stack, uid, 10, headers=hdr).status == 200
    stack.psql(f"UPDATE idempotency_keys SET created_at = now() - interval '23 hours'"
               f" WHERE key = '{key}'")
    r = charge(stack, uid, 10, headers=hdr)
    assert r.status == 200 and replayed(r), r
    assert ledger(stack, uid) == (10, 1, 10)
    stack.psql(f"UPDATE idempotency_keys SET created_at = now() - interval '25 hours'"
               f" WHERE key = '{key}'")
    r = charge(stack, uid, 10, headers=hdr)
    assert r.status == 200 and not replayed(r), r
    assert r.json["balance"] == 20
    assert ledger(stack, uid) == (20, 2, 20)
    # the fresh request is stored again and replays
    r = charge(stack, uid, 10, headers=hdr)
    assert r.status == 200 and replayed(r) and r.json["balance"] == 20, r


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\tinside", "caf\u00e9"],
                         ids=["empty", "256-chars", "tab", "non-ascii"])
def test_malformed_key_is_400_and_changes_nothing(stack, key):
    uid = new_user(stack)
    r = charge(stack, uid, 10, headers={"Idempotency-Key": key})
    assert_problem(r, 400, "INVALID_REQUEST")
    assert ledger(stack, uid) == (0, 0, 0)


@pytest.mark.parametrize("key", ["x" * 255, "a", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ 09AZaz"],
                         ids=["255-chars", "1-char", "all-punctuation"])
def test_well_formed_keys_are_accepted(stack, key):
    uid = new_user(stack)
    r1 = charge(stack, uid, 10, headers={"Idempotency-Key": key})
    r2 = charge(stack, uid, 10, headers={"Idempotency-Key": key})
    assert (r1.status, r2.status) == (200, 200), (r1, r2)
    assert replayed(r2) and r2.json == r1.json
    assert ledger(stack, uid) == (10, 1, 10)


def test_admin_create_user_is_idempotent(stack):
    key, login = new_key(), f"idu{uuid.uuid4().hex[:10]}"
    hdr = {"Idempotency-Key": key}
    r1 = request("POST", f"{stack.base}/admin/users", {"login": login}, headers=hdr)
    r2 = request("POST", f"{stack.base}/admin/users", {"login": login}, headers=hdr)
    assert r1.status == 201, r1
    assert r2.status == 201 and replayed(r2), r2   # not 409 LOGIN_TAKEN
    assert r2.json == r1.json
    assert stack.psql(f"SELECT count(*) FROM users WHERE login = '{login}'") == "1"


def test_admin_create_product_is_idempotent(stack):
    key, name = new_key(), f"idp{uuid.uuid4().hex[:10]}"
    hdr = {"Idempotency-Key": key}
    body = {"name": name, "price": 10, "stock": 1}
    r1 = request("POST", f"{stack.base}/admin/products", body, headers=hdr)
    r2 = request("POST", f"{stack.base}/admin/products", body, headers=hdr)
    assert r1.status == 201, r1
    assert r2.status == 201 and replayed(r2) and r2.json == r1.json, r2
    assert stack.psql(f"SELECT count(*) FROM products WHERE name = '{name}'") == "1"
    r3 = request("POST", f"{stack.base}/admin/products", dict(body, price=11), headers=hdr)
    assert_problem(r3, 422, "IDEMPOTENCY_KEY_REUSED")
