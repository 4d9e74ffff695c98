"""The status views (issues 9 and 14): GET /admin/status and mod_status's
/server-status section, both checked against the database and /proc."""
from shopclient import (assert_problem, child_pids, issue, issued, new_campaign, new_user, ok,
                        request, server_status, wait_until)


def status_around_server_status(inst):
    """(/admin/status before, /server-status?auto lines, /admin/status after)."""
    before = ok(request("GET", inst.base + "/admin/status"))
    lines = server_status(inst)
    after = ok(request("GET", inst.base + "/admin/status"))
    return before, lines, after


def test_server_status_has_a_mod_shop_section(stack):
    # ShopPopularAge (whole seconds since the published ranking was computed)
    # ticks with the clock: it is compared with /admin/status's age_seconds
    # between two status reads that agree (no second turned meanwhile).
    def agreeing():
        before, lines, after = status_around_server_status(stack)
        return (before, lines) if before["popular"] == after["popular"] else None
    status, lines = wait_until(agreeing, 10, "two /admin/status reads in the same second")
    # the keys carry the shop's name (its ServerName here), not a load-order index
    shop = status["shop"]
    assert shop == "127.0.0.1", status
    assert int(lines["ShopJobsPid"]) == status["jobs_pid"]
    pending, dead = map(int, stack.psql(
        "SELECT count(*) FILTER (WHERE dead_at IS NULL), count(*) FILTER (WHERE dead_at IS NOT NULL)"
        " FROM outbox WHERE delivered_at IS NULL").split("|"))
    assert int(lines["ShopOutboxPending." + shop]) == pending
    assert int(lines["ShopOutboxDead." + shop]) == dead
    assert int(lines["ShopBreakerOpenSeconds." + shop]) == -1
    assert status["popular"]["generated_at"] is not None, status   # main has a ranking
    assert int(lines["ShopPopularAge." + shop]) == status["popular"]["age_seconds"], (lines, status)
    # one pool line per live worker child, none for the jobs process
    pool_pids = {int(k[len("ShopChildPool"):]) for k in lines if k.startswith("ShopChildPool")}
    workers = set(child_pids(stack.main.pid)) - {status["jobs_pid"]}
    assert pool_pids == workers, (pool_pids, workers)

    # ShopSoldOutCampaigns: the campaigns this httpd has seen sold out (shared
    # memory), as /admin/status's sold_out_campaigns; one more sold out
    # (its last coupon issued, then refused) is one more, seen again still one.
    sold_out = status["sold_out_campaigns"]
    assert int(lines["ShopSoldOutCampaigns." + shop]) == sold_out, (lines, status)
    cid = new_campaign(stack, total_quantity=1)["id"]
    issued(stack, new_user(stack), cid)
    assert_problem(issue(stack, new_user(stack), cid), 409, "SOLD_OUT")
    assert ok(request("GET", stack.base + "/admin/status"))["sold_out_campaigns"] == sold_out + 1
    assert int(server_status(stack)["ShopSoldOutCampaigns." + shop]) == sold_out + 1
    assert_problem(issue(stack, new_user(stack), cid), 409, "SOLD_OUT")
    assert int(server_status(stack)["ShopSoldOutCampaigns." + shop]) == sold_out + 1


def test_admin_status_lists_every_childs_pool(stack):
    status = ok(request("GET", stack.base + "/admin/status"))
    pids = {c["pid"] for c in status["db_pool"]["children"]}
    assert status["db_pool"]["child_pid"] in pids
    assert status["jobs_pid"] not in pids
    assert status["database"] == {"breaker": "closed"}
    me = [c for c in status["db_pool"]["children"] if c["pid"] == status["db_pool"]["child_pid"]]
    assert me[0]["in_use"] >= 1 and me[0]["peak"] >= me[0]["in_use"]   # this request's own
