"""Smoke tests of the harness itself: the private stack is up and answers HTTP,
the database is migrated, and an extra httpd instance can be started."""

from shopclient import parallel, request, wait_until


def test_stack_answers_http(stack):
    r = request("GET", f"{stack.base}/products")
    assert 100 <= r.status <= 599


def test_database_is_migrated(stack):
    assert int(stack.psql("SELECT count(*) FROM schema_migrations")) >= 1


def test_extra_httpd_instance(stack):
    with stack.httpd("LogLevel info", "smoke") as inst:
        assert inst.port != stack.port
        assert 100 <= request("GET", f"{inst.base}/products").status <= 599
        # the parent logs it after forking the children, which may answer first
        wait_until(lambda: "resuming normal operations" in inst.error_log(), 10,
                   "the parent's start-up line")
        pid = inst.pid
        assert pid is not None
    assert inst.pid is None


def test_parallel_returns_results_in_order(stack):
    statuses = parallel(8, lambda i: (i, request("GET", f"{stack.base}/products").status))
    assert [i for i, _ in statuses] == list(range(8))


def test_reload_is_a_graceful_restart(stack):
    """scripts/shopctl reload (make reload): same parent, a new generation
    answering, whatever the MPM's log numbers."""
    with stack.httpd("", "reload") as inst:
        parent = inst.pid
        wait_until(lambda: "resuming normal operations" in inst.error_log(), 10,
                   "the parent's start-up line")
        before = inst.error_log().count("resuming normal operations")
        stack.shopctl("reload", env=inst._env())
        assert inst.pid == parent
        assert inst.error_log().count("resuming normal operations") == before + 1
        assert request("GET", f"{inst.base}/health").status == 200
