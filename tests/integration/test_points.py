"""Points: balance, charge (per-charge and balance limits) and the history list."""

import re

import pytest

from shopclient import all_pages, assert_problem, charge, ledger, new_user, request

CHARGE_MAX = 1_000_000
BALANCE_MAX = 10_000_000
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def points_history(stack, uid, query=""):
    return request("GET", f"{stack.base}/users/{uid}/points/history{query}")




# --- balance ---------------------------------------------------------------------

def test_new_user_has_zero_balance(stack):
    uid = new_user(stack)
    r = request("GET", f"{stack.base}/users/{uid}/points")
    assert r.status == 200, r
    assert r.json == {"user_id": uid, "balance": 0}


def test_balance_reads_the_database(stack):
    alice = int(stack.psql("SELECT id FROM users WHERE login = 'alice'"))
    r = request("GET", f"{stack.base}/users/{alice}/points")
    assert r.status == 200, r
    assert r.json["balance"] == ledger(stack, alice)[0]


def test_unknown_user_is_404(stack):
    missing = int(stack.psql("SELECT coalesce(max(id), 0) + 1000 FROM users"))
    for r in (request("GET", f"{stack.base}/users/{missing}/points"),
              charge(stack, missing, 1000),
              points_history(stack, missing)):
        assert_problem(r, 404, "USER_NOT_FOUND")
    assert stack.psql(f"SELECT count(*) FROM point_history WHERE user_id = {missing}") == "0"


# --- charge ----------------------------------------------------------------------

def test_charge_adds_and_writes_one_history_row(stack):
    uid = new_user(stack)
    r = charge(stack, uid, 1000)
    assert r.status == 200, r
    assert r.headers["content-type"].split(";")[0].strip() == "application/json"
    assert r.json == {"user_id": uid, "charged": 1000, "balance": 1000}
    r = charge(stack, uid, 2345)
    assert r.status == 200, r
    assert r.json == {"user_id": uid, "charged": 2345, "balance": 3345}
    assert request("GET", f"{stack.base}/users/{uid}/points").json["balance"] == 3345
    assert ledger(stack, uid) == (3345, 2, 3345)
    rows = stack.psql(f"SELECT type, amount, balance_after, order_id IS NULL"
                      f" FROM point_history WHERE user_id = {uid} ORDER BY id")
    assert rows.splitlines() == ["CHARGE|1000|1000|t", "CHARGE|2345|3345|t"]


def test_charge_accepts_one_and_the_per_charge_maximum(stack):
    uid = new_user(stack)
    assert charge(stack, uid, 1).json["balance"] == 1
    r = charge(stack, uid, CHARGE_MAX)
    assert r.status == 200, r
    assert r.json == {"user_id": uid, "charged": CHARGE_MAX, "balance": CHARGE_MAX + 1}


@pytest.mark.parametrize("amount", [0, -1, -500, CHARGE_MAX + 1, 2**31, 2**53 - 1])
def test_charge_out_of_range_is_422_invalid_amount(stack, amount):
    uid = new_user(stack)
    assert charge(stack, uid, 10).status == 200
    assert_problem(charge(stack, uid, amount), 422, "INVALID_AMOUNT")
    assert ledger(stack, uid) == (10, 1, 10)


@pytest.mark.parametrize("amount", [2**53, 2**63, 2**64, -(2**63)])
def test_charge_beyond_json_safe_integers_is_rejected(stack, amount):
    uid = new_user(stack)
    r = charge(stack, uid, amount)
    assert_problem(r, 400, "INVALID_REQUEST")
    assert ledger(stack, uid) == (0, 0, 0)


@pytest.mark.parametrize("amount", [1e3, 1000.0, "1000", True, None, [1000]])
def test_charge_amount_must_be_a_json_integer(stack, amount):
    uid = new_user(stack)
    assert_problem(charge(stack, uid, amount), 400, "INVALID_REQUEST")
    assert ledger(stack, uid) == (0, 0, 0)


def test_charge_without_amount_is_400(stack):
    uid = new_user(stack)
    r = request("POST", f"{stack.base}/users/{uid}/points/charge", {"amnt": 5})
    assert_problem(r, 400, "INVALID_REQUEST")
    assert ledger(stack, uid) == (0, 0, 0)


def test_balance_may_reach_the_maximum_but_not_pass_it(stack):
    uid = new_user(stack)
    for i in range(1, 10):
        assert charge(stack, uid, CHARGE_MAX).json["balance"] == i * CHARGE_MAX
    r = charge(stack, uid, CHARGE_MAX - 1)
    assert r.status == 200, r
    assert r.json["balance"] == BALANCE_MAX - 1
    # one more point than the room left: refused, nothing changes
    assert_problem(charge(stack, uid, 2), 409, "BALANCE_LIMIT_EXCEEDED")
    assert ledger(stack, uid) == (BALANCE_MAX - 1, 10, BALANCE_MAX - 1)
    # exactly the room left: accepted
    r = charge(stack, uid, 1)
    assert r.status == 200, r
    assert r.json == {"user_id": uid, "charged": 1, "balance": BALANCE_MAX}
    # at the maximum, even 1 is refused
    assert_problem(charge(stack, uid, 1), 409, "BALANCE_LIMIT_EXCEEDED")
    assert_problem(charge(stack, uid, CHARGE_MAX), 409, "BALANCE_LIMIT_EXCEEDED")
    assert ledger(stack, uid) == (BALANCE_MAX, 11, BALANCE_MAX)
    assert request("GET", f"{stack.base}/users/{uid}/points").json["balance"] == BALANCE_MAX


# --- history ---------------------------------------------------------------------

def test_history_of_a_new_user_is_empty_list(stack):
    uid = new_user(stack)
    r = points_history(stack, uid)
    assert r.status == 200, r
    assert r.json == {"items": [], "next_cursor": None}


def test_history_items_newest_first_with_all_fields(stack):
    uid = new_user(stack)
    amounts = [100, 2000, 30, 40000, 5]
    for a in amounts:
        assert charge(stack, uid, a).status == 200
    r = points_history(stack, uid)
    assert r.status == 200, r
    assert r.json["next_cursor"] is None
    items = r.json["items"]
    assert len(items) == len(amounts)
    db_ids = [int(x) for x in stack.psql(
        f"SELECT id FROM point_history WHERE user_id = {uid} ORDER BY id DESC").split()]
    assert [it["id"] for it in items] == db_ids
    running = list(reversed([sum(amounts[:i + 1]) for i in range(len(amounts))]))
    for it, amount, after in zip(items, reversed(amounts), running):
        assert set(it) == {"id", "type", "amount", "balance_after", "order_id", "created_at"}, it
        assert it["type"] == "CHARGE"
        assert it["amount"] == amount
        assert it["balance_after"] == after
        assert it["order_id"] is None
        assert RFC3339_UTC.match(it["created_at"]), it
    created = [it["created_at"] for it in items]
    assert created == sorted(created, reverse=True)


def test_history_default_limit_is_20_and_paging_returns_every_row_once(stack):
    uid = new_user(stack)
    for i in range(1, 46):
        assert charge(stack, uid, i).status == 200
    r = points_history(stack, uid)
    assert r.status == 200
    assert len(r.json["items"]) == 20
    assert isinstance(r.json["next_cursor"], str)

    db_ids = [int(x) for x in stack.psql(
        f"SELECT id FROM point_history WHERE user_id = {uid} ORDER BY id DESC").split()]
    for limit, pages in ((7, 7), (20, 3), (45, 1), (100, 1), (1, 45)):
        items, n = all_pages(f"{stack.base}/users/{uid}/points/history", limit)
        assert [it["id"] for it in items] == db_ids, f"limit={limit}"
        assert n == pages, f"limit={limit}"
    items, _ = all_pages(f"{stack.base}/users/{uid}/points/history", 9)
    balance = ledger(stack, uid)[0]
    assert sum(it["amount"] for it in items if it["type"] == "CHARGE") == balance == 45 * 46 // 2


def test_history_cursor_is_stable_when_new_rows_arrive(stack):
    uid = new_user(stack)
    for a in (1, 2, 3, 4):
        charge(stack, uid, a)
    first = points_history(stack, uid, "?limit=2").json
    assert [it["amount"] for it in first["items"]] == [4, 3]
    charge(stack, uid, 5)          # newer than the first page: must not show up later
    rest = points_history(stack, uid, f"?limit=2&cursor={first['next_cursor']}").json
    assert [it["amount"] for it in rest["items"]] == [2, 1]


@pytest.mark.parametrize("query", ["?limit=0", "?limit=101", "?limit=-1", "?limit=abc",
                                   "?limit=1.5", "?limit=99999999999999999999",
                                   "?cursor=garbage", "?cursor=%FF%FE",
                                   "?limit=5&cursor=-1"])
def test_history_bad_limit_or_cursor_is_400(stack, query):
    uid = new_user(stack)
    charge(stack, uid, 10)
    assert_problem(points_history(stack, uid, query), 400, "INVALID_REQUEST")


@pytest.mark.parametrize("limit", [1, 100])
def test_history_limit_bounds_are_accepted(stack, limit):
    uid = new_user(stack)
    charge(stack, uid, 10)
    charge(stack, uid, 20)
    r = points_history(stack, uid, f"?limit={limit}")
    assert r.status == 200, r
    assert len(r.json["items"]) == min(limit, 2)
    assert (r.json["next_cursor"] is None) == (limit >= 2)


def test_history_cursor_of_another_user_shows_nothing_of_theirs(stack):
    a, b = new_user(stack), new_user(stack)
    for x in (1, 2, 3):
        charge(stack, a, x)
        charge(stack, b, x * 100)
    cur = points_history(stack, a, "?limit=1").json["next_cursor"]
    r = points_history(stack, b, f"?limit=10&cursor={cur}")
    if r.status == 200:
        assert all(it["amount"] >= 100 for it in r.json["items"]), r
    else:
        assert_problem(r, 400, "INVALID_REQUEST")
