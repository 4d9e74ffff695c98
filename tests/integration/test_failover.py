"""A server that is going away or is not the primary, on the request path (issue 25).

The states a failover produces, made with the one PostgreSQL of the stack:

- a standby: a role with default_transaction_read_only, whose sessions
  refuse every write with 25006, as a demoted primary's do;
- a connection lost in COMMIT: synchronous_standby_names naming a standby
  that never comes holds every commit in its wait for the second copy;
  pg_terminate_backend then ends it with 57P01 after the transaction has
  committed locally, which is what a primary killed under load does.

Either way: 503 SERVICE_UNAVAILABLE with Retry-After, never a 500, never a
200 for a commit nobody confirmed, the session dropped (not used again),
and a retry with the same Idempotency-Key finds what really happened.
(tests/cluster/run's failover check does the same with Patroni.)
"""

import contextlib
import threading

import pytest

from shopclient import (assert_503, charge, ledger, new_key, new_user, replayed, scalar,
                        wait_until)


def shop_sessions_terminated(stack):
    stack.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
               " WHERE usename = 'shop' AND pid <> pg_backend_pid()")


@contextlib.contextmanager
def read_only_role(stack):
    """Every new session of role shop is read-only until the fixture ends."""
    stack.psql("ALTER ROLE shop SET default_transaction_read_only = on")
    shop_sessions_terminated(stack)
    try:
        yield
    finally:
        stack.psql("ALTER ROLE shop RESET default_transaction_read_only")


@contextlib.contextmanager
def commits_wait(stack):
    """Every commit waits for a synchronous standby that does not exist."""
    stack.psql("ALTER SYSTEM SET synchronous_standby_names = 'nobody'")
    stack.psql("SELECT pg_reload_conf()")
    try:
        # The reload reaches the postmaster (and so new sessions) a moment
        # later, and the pooled sessions only at their next signal check:
        # wait for a new session to see it, then end the pooled ones, which
        # their next borrower reconnects, with the setting.
        wait_until(lambda: stack.psql("SHOW synchronous_standby_names") == "nobody", 10,
                   "synchronous_standby_names in force")
        shop_sessions_terminated(stack)
        yield
    finally:
        stack.psql("ALTER SYSTEM RESET synchronous_standby_names")
        stack.psql("SELECT pg_reload_conf()")


def test_a_read_only_session_answers_503_and_is_dropped(stack):
    uid = new_user(stack)
    before = ledger(stack, uid)
    key = new_key()
    with read_only_role(stack):
        plain = [charge(stack, uid, 5) for _ in range(8)]
        with_key = [charge(stack, uid, 6, headers={"Idempotency-Key": key}) for _ in range(2)]
    for r in plain + with_key:
        assert_503(r)
    assert ledger(stack, uid) == before, "a write reached a read-only session"
    # Every session that met 25006 was dropped: the pooled connections come
    # back read-write (a kept session would stay read-only: a role's settings
    # apply when a session starts).
    after = [charge(stack, uid, 7) for _ in range(16)]
    assert [r.status for r in after] == [200] * 16, after
    again = charge(stack, uid, 6, headers={"Idempotency-Key": key})
    assert again.status == 200 and not replayed(again), again
    assert ledger(stack, uid)[1] == before[1] + 17


def charge_in_thread(stack, uid, amount, headers=None):
    out = {}
    t = threading.Thread(target=lambda: out.update(r=charge(stack, uid, amount, headers)))
    t.start()
    return t, out


def terminate_the_waiting_commit(stack):
    """pg_terminate_backend of the one shop session waiting for the standby."""
    pid = wait_until(lambda: stack.psql(
        "SELECT pid FROM pg_stat_activity WHERE usename = 'shop' AND wait_event = 'SyncRep'"),
        10, "a commit waiting for the synchronous standby")
    stack.psql(f"SELECT pg_terminate_backend({int(pid.split()[0])})")


@pytest.mark.parametrize("keyed", [False, True], ids=["autocommit", "idempotency-key"])
def test_a_commit_lost_answers_503_never_200(stack, keyed):
    uid = new_user(stack)
    amount = 4321 + keyed
    key = {"Idempotency-Key": new_key()} if keyed else None
    with commits_wait(stack):
        t, out = charge_in_thread(stack, uid, amount, key)
        terminate_the_waiting_commit(stack)
        t.join(30)
    assert not t.is_alive()
    # Committed locally, unconfirmed: the client must not hear 200 (nor 500).
    assert_503(out["r"])
    rows = f"SELECT count(*) FROM point_history WHERE user_id = {uid} AND amount = {amount}"
    assert scalar(stack, rows) == 1, "the terminated commit had committed locally"
    if keyed:
        # The retry with its key finds the truth: the stored answer, applied once.
        r = charge(stack, uid, amount, headers=key)
        assert r.status == 200 and replayed(r), r
        assert scalar(stack, rows) == 1
    assert ledger(stack, uid) == (amount, 1, amount)
