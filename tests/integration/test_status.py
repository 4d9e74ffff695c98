"""The status views (issues 9 and 14): GET /admin/status and mod_status's
/server-status section, both checked against the database and /proc."""
from shopclient import child_pids, ok, request, server_status


def test_server_status_has_a_mod_shop_section(stack):
    status = ok(request("GET", stack.base + "/admin/status"))
    lines = server_status(stack)
    assert int(lines["ShopJobsPid"]) == status["jobs_pid"]
    pending, dead = map(int, stack.psql(
        "SELECT count(*) FILTER (WHERE dead_at IS NULL), count(*) FILTER (WHERE dead_at IS NOT NULL)"
        " FROM outbox WHERE delivered_at IS NULL").split("|"))
    assert int(lines["ShopOutboxPending0"]) == pending
    assert int(lines["ShopOutboxDead0"]) == dead
    assert int(lines["ShopSoldOutCampaigns0"]) >= 0
    assert int(lines["ShopBreakerOpenSeconds0"]) == -1
    assert int(lines["ShopPopularAge0"]) >= 0
    # one pool line per live worker child, none for the jobs process
    pool_pids = {int(k[len("ShopChildPool"):]) for k in lines if k.startswith("ShopChildPool")}
    workers = set(child_pids(stack.main.pid)) - {status["jobs_pid"]}
    assert pool_pids == workers, (pool_pids, workers)


def test_admin_status_lists_every_childs_pool(stack):
    status = ok(request("GET", stack.base + "/admin/status"))
    pids = {c["pid"] for c in status["db_pool"]["children"]}
    assert status["db_pool"]["child_pid"] in pids
    assert status["jobs_pid"] not in pids
    assert status["database"] == {"breaker": "closed"}
    me = [c for c in status["db_pool"]["children"] if c["pid"] == status["db_pool"]["child_pid"]]
    assert me[0]["in_use"] >= 1 and me[0]["peak"] >= me[0]["in_use"]   # this request's own
