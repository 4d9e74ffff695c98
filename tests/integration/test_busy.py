"""A statement that hits a lock timeout (SQLSTATE 55P03) is rolled back and
answered 503 BUSY with Retry-After, not retried and not 500 (issue 19)."""
import threading
import time

import pytest

from shopclient import assert_problem, new_user, ok, request, wait_until

LOCK_HELD = 3           # seconds the test's own transaction holds the row


@pytest.fixture(scope="module")
def impatient(stack):
    """An httpd whose pooled connections wait 200 ms at most for a row lock."""
    conf = f"""
DBDParams "host={stack.pgsock} port=5432 dbname=shop user=shop options='-c lock_timeout=200'"
ShopJobDBParams "host={stack.pgsock} port=5432 dbname=shop user=shop"
"""
    with stack.httpd(conf, "busy") as inst:
        yield inst


def hold_row_lock(stack, uid):
    """Locks the user's row in another session for LOCK_HELD seconds."""
    t = threading.Thread(target=stack.psql, args=(
        f"BEGIN; SELECT 1 FROM users WHERE id = {uid} FOR UPDATE;"
        f" SELECT pg_sleep({LOCK_HELD}); COMMIT;",))
    t.start()
    # in pg_sleep: the SELECT ... FOR UPDATE before it has run
    wait_until(lambda: stack.psql(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'BEGIN; SELECT 1 FROM users%'"
        " AND wait_event = 'PgSleep' AND pid <> pg_backend_pid()") == "1", 5,
        "the test's transaction to hold the row")
    return t


def balance(inst, uid):
    r = request("GET", f"{inst.base}/users/{uid}/points")
    assert r.status == 200, r
    return r.json["balance"]


@pytest.mark.parametrize("keyed", [False, True], ids=["autocommit", "transaction"])
def test_lock_timeout_is_busy(stack, impatient, keyed):
    uid = new_user(stack)
    headers = {"Idempotency-Key": f"busy-{uid}"} if keyed else None
    holder = hold_row_lock(stack, uid)
    try:
        started = time.monotonic()
        r = request("POST", f"{impatient.base}/users/{uid}/points/charge",
                    {"amount": 100}, headers=headers)
        took = time.monotonic() - started
    finally:
        holder.join()
    assert_problem(r, 503, "BUSY")
    assert r.headers.get("Retry-After") == "1", r
    assert took < LOCK_HELD - 1, f"waited {took:.1f} s: retried instead of answered"
    assert balance(impatient, uid) == 0, "the charge was not rolled back"
    # Nothing was stored under the key: the same request now goes through.
    r = request("POST", f"{impatient.base}/users/{uid}/points/charge",
                {"amount": 100}, headers=headers)
    assert r.status == 200, r
    assert balance(impatient, uid) == 100
    assert "SHOP00030" not in impatient.error_log(), "answered as a database error"


def lock_waiters(stack):
    """Sessions of the module waiting for a row lock now."""
    return int(stack.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                          " AND datname = 'shop' AND query LIKE 'WITH u AS (UPDATE users%'"))


def test_the_server_wide_write_bound_holds_across_children(stack):
    """ShopServerWriteConcurrency 2 over the children: however many writes
    queue behind one locked row, at most 2 of them hold a connection and
    wait in PostgreSQL (ShopWriteConcurrency alone would let 8 per child)."""
    conf = "ShopWriteConcurrency 8\nShopServerWriteConcurrency 2\nShopBusyWait 10s\n"
    with stack.httpd(conf, "server-bound") as inst:
        children = ok(request("GET", f"{inst.base}/admin/status"))["db_pool"]["children"]
        assert len(children) >= 2, children      # else the bound is a child's own
        uid = new_user(inst)
        holder = hold_row_lock(stack, uid)
        writers = [threading.Thread(target=request, args=(
            "POST", f"{inst.base}/users/{uid}/points/charge", {"amount": 1}),
            kwargs={"timeout": 30}) for _ in range(12)]
        try:
            for w in writers:
                w.start()
            wait_until(lambda: lock_waiters(stack) >= 1, 2, "a charge waiting for the row")
            seen = [lock_waiters(stack) for _ in range(10)]
        finally:
            holder.join()
            for w in writers:
                w.join(30)
        assert 1 <= max(seen) <= 2, seen
        status = ok(request("GET", f"{inst.base}/admin/status"))["writes"]
        assert (status["limit"], status["server_limit"]) == (1, 2), status
        wait_until(lambda: balance(inst, uid) == 12, 10, "every charge, in turn")
