"""PostgreSQL stopped and started under a running httpd: 503 while down, then recovery.

Every pooled connection of every child must come back (mod_dbd reconnects
without the prepared statements), and no child may die on the way.
"""

import time
import uuid

from shopclient import (assert_503, assert_problem, cache_hit, charge, child_pids, issue,
                        ledger, new_campaign, new_product, new_user, parallel, request, scalar,
                        until_answered)

CRASH_MARKERS = ("Segmentation fault", "exit signal", "AH00052", "AH00051")
POOL = 64   # MaxRequestWorkers of conf/performance.conf: every worker may hold a connection




def use_every_pooled_connection(stack, uid, pid):
    """POOL requests at once, mixed reads and writes: all must be 200.
    Returns the number of 1-point charges among them."""
    def one(i):
        if i % 4 == 0:      # a 503 BUSY (no turn on a loaded box) changed nothing
            return until_answered(lambda: charge(stack, uid, 1))
        if i % 4 == 1:
            return request("GET", f"{stack.base}/products/{pid}")
        if i % 4 == 2:
            return request("GET", f"{stack.base}/users/{uid}/points/history?limit=5")
        return request("GET", f"{stack.base}/users/{uid}/points")
    rs = parallel(POOL, one)
    assert [r.status for r in rs] == [200] * POOL, [r for r in rs if r.status != 200]
    return POOL // 4      # charges of 1 point


def test_postgresql_restart_under_a_running_server(stack):
    uid = new_user(stack)
    pid = new_product(stack, "outage", 100, 5)
    cid = new_campaign(stack, total_quantity=100)["id"]
    assert charge(stack, uid, 1000).status == 200
    charged, rows = 1000, 1
    parent = stack.main.pid
    assert parent is not None
    children = child_pids(parent)
    assert children
    log_start = len(stack.error_log())

    n = use_every_pooled_connection(stack, uid, pid)   # fill the pools
    charged, rows = charged + n, rows + n

    for cycle in range(2):
        key = {"Idempotency-Key": f"outage-{uuid.uuid4()}"}
        stack.pg_stop()
        try:
            for r in (request("GET", f"{stack.base}/users/{uid}/points"),
                      charge(stack, uid, 500),
                      charge(stack, uid, 300, headers=key),
                      request("GET", f"{stack.base}/users/{uid}/points/history"),
                      request("POST", f"{stack.base}/admin/users", {"login": f"down{cycle}"}),
                      issue(stack, uid, cid)):
                assert_503(r)
            # the catalog: from memory while a child holds it (the database
            # away, nothing can change it), else 503
            for r in (request("GET", f"{stack.base}/products"),
                      request("GET", f"{stack.base}/products/{pid}")):
                if r.status == 200:
                    assert cache_hit(r), r
                else:
                    assert_503(r)
            # many at once, over many connections: each answered, none dropped or hung
            # (the coupon issues in batches: a batch refused is each part's 503)
            t0 = time.monotonic()
            rs = parallel(POOL, lambda i: charge(stack, uid, 7) if i % 3 == 1 else
                          issue(stack, uid, cid) if i % 3 == 2 else
                          request("GET", f"{stack.base}/users/{uid}/points"), timeout=30)
            for r in rs:
                assert_503(r)
            assert time.monotonic() - t0 < 10
            # what needs no database still works
            assert_problem(request("GET", f"{stack.base}/no/such/route"), 404, "NOT_FOUND")
        finally:
            stack.pg_start()

        # poll (bounded) until the service answers again; meanwhile only 503s
        deadline = time.monotonic() + 15
        while True:
            r = request("GET", f"{stack.base}/users/{uid}/points")
            if r.status == 200:
                break
            assert_503(r)
            assert time.monotonic() < deadline, "no recovery within 15 s after PostgreSQL started"
            time.sleep(0.1)

        # then every pooled connection works again: 3 x POOL requests in a row
        for _ in range(3):
            n = use_every_pooled_connection(stack, uid, pid)
            charged, rows = charged + n, rows + n

        # the charges and issues refused while the database was down did not happen
        assert ledger(stack, uid) == (charged, rows, charged)
        assert scalar(stack, f"SELECT count(*) FROM user_coupons WHERE coupon_id = {cid}") == 0
        assert request("GET", f"{stack.base}/users/{uid}/points").json["balance"] == charged

        # nor was the idempotent one stored: its retry does the work, once
        r = charge(stack, uid, 300, headers=key)
        assert r.status == 200, r
        assert r.headers.get("idempotency-replayed") is None, r.headers
        charged, rows = charged + 300, rows + 1
        r = charge(stack, uid, 300, headers=key)
        assert r.status == 200 and r.headers.get("idempotency-replayed") == "true", r
        assert ledger(stack, uid) == (charged, rows, charged)

    assert stack.main.pid == parent
    assert child_pids(parent) == children, "an httpd child died and was replaced"
    log = stack.error_log()[log_start:]
    bad = [line for line in log.splitlines() if any(m in line for m in CRASH_MARKERS)]
    assert not bad, bad


def test_terminated_backends_are_replaced_transparently(stack):
    # PostgreSQL stays up, but every pooled session is killed (an idle
    # timeout, a failover, an admin's pg_terminate_backend): the next request
    # on each pooled connection must reconnect and succeed.
    uid = new_user(stack)
    pid = new_product(stack, "terminated", 100, 5)
    parent = stack.main.pid
    children = child_pids(parent)
    log_start = len(stack.error_log())
    charged = use_every_pooled_connection(stack, uid, pid)

    killed = stack.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE usename = 'shop' AND pid <> pg_backend_pid()")
    assert int(killed) > 0

    for _ in range(3):
        charged += use_every_pooled_connection(stack, uid, pid)
    assert ledger(stack, uid) == (charged, charged, charged)
    assert child_pids(parent) == children, "an httpd child died and was replaced"
    log = stack.error_log()[log_start:]
    bad = [line for line in log.splitlines() if any(m in line for m in CRASH_MARKERS)]
    assert not bad, bad
