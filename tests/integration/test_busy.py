"""A statement that hits a lock timeout (SQLSTATE 55P03) is rolled back and
answered 503 BUSY with Retry-After, not retried and not 500 (issue 19)."""
import threading
import time

import pytest

from shopclient import assert_problem, new_user, request, wait_until

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
    wait_until(lambda: stack.psql(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'BEGIN; SELECT 1 FROM users%'"
        " AND state = 'active' AND pid <> pg_backend_pid()") == "1", 5,
        "the test's transaction to hold the row")
    time.sleep(0.2)     # the SELECT ... FOR UPDATE has run: pg_sleep is next
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
