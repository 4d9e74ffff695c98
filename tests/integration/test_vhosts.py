"""Several shops in one Apache: two virtual hosts on two databases (issue 9).

Each virtual host with its own DBDParams is a shop of its own: its own
data, popular ranking (window, size, refresh), sold-out set, jobs and
status view, all in one httpd.
"""
import subprocess

import pytest

from shopclient import (assert_problem, free_port, issue, new_campaign, new_user, ok, pay,
                        place, request, wait_until)

@pytest.fixture(scope="module")
def two_shops(stack):
    """(main instance, second vhost base URL): databases shop and shop2."""
    stack.psql("DROP DATABASE IF EXISTS shop2")
    stack.psql("CREATE DATABASE shop2 OWNER shop")
    stack.migrate("shop2")
    port2 = free_port()
    conf = f"""
Listen 127.0.0.1:{port2}
<VirtualHost 127.0.0.1:{port2}>
    ServerName shop-two.example
    DBDParams "host={stack.pgsock} port=5432 dbname=shop2 user=shop"
    ShopPopularWindow 1h
    ShopPopularTopN 2
    ShopPopularRefresh 1
</VirtualHost>
"""
    with stack.httpd(conf, "two-shops") as inst:
        yield inst, f"http://127.0.0.1:{port2}/api"


def psql2(stack, sql):
    out = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", str(stack.pgsock),
                          "-p", "5432", "-U", "shop", "-d", "shop2", "-c", sql],
                         check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return out.stdout.strip()


def test_each_vhost_reads_its_own_database(stack, two_shops):
    one, two = two_shops
    assert ok(request("GET", one.base + "/products"))["items"]
    assert ok(request("GET", two + "/products"))["items"] == []
    uid = ok(request("POST", two + "/admin/users", {"login": "only-in-two"}), 201)["id"]
    assert psql2(stack, f"SELECT login FROM users WHERE id = {uid}") == "only-in-two"
    assert stack.psql("SELECT count(*) FROM users WHERE login = 'only-in-two'") == "0"


def test_a_coupon_sold_out_in_one_shop_is_not_in_the_other(stack, two_shops):
    one, two = two_shops
    cid = new_campaign(one, total_quantity=1)["id"]
    ok(issue(one, new_user(one), cid), 201)
    assert_problem(issue(one, new_user(one), cid), 409, "SOLD_OUT")   # now in shop one's memory
    # the same campaign id in shop two, with a coupon left
    psql2(stack, f"SELECT setval('coupons_id_seq', {cid - 1}, {'true' if cid > 1 else 'false'})")
    assert new_campaign(two, total_quantity=1)["id"] == cid
    uid = ok(request("POST", two + "/admin/users", {"login": f"buyer-{cid}"}), 201)["id"]
    ok(issue(two, uid, cid), 201)


def test_each_shop_has_its_own_ranking_and_settings(stack, two_shops):
    one, two = two_shops
    assert ok(request("GET", one.base + "/products/popular"))["window_days"] == 3
    ranking = ok(request("GET", two + "/products/popular"))
    assert ranking["window_days"] == pytest.approx(1 / 24)
    # a sale in shop two ranks there within its 1 s refresh, never in shop one
    pid = ok(request("POST", two + "/admin/products",
                     {"name": "only-in-two", "price": 100, "stock": 10}), 201)["id"]
    uid = ok(request("POST", two + "/admin/users", {"login": "payer-two"}), 201)["id"]
    ok(request("POST", f"{two}/users/{uid}/points/charge", {"amount": 1000}))
    order = place(two, uid, [(pid, 3)])
    ok(pay(two, uid, order["order_id"]))

    def ranked_in_two():
        items = ok(request("GET", two + "/products/popular"))["items"]
        return [i["product_id"] for i in items] == [pid] and items[0]["sold_quantity"] == 3
    wait_until(ranked_in_two, 10, "shop two's ranking to show its sale")
    names = [i["name"] for i in ok(request("GET", one.base + "/products/popular"))["items"]]
    assert "only-in-two" not in names
    assert len(names) <= 5


def test_each_shop_has_its_own_status(stack, two_shops):
    one, two = two_shops
    pending_two = int(psql2(stack, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL"))
    pending_one = int(stack.psql("SELECT count(*) FROM outbox WHERE delivered_at IS NULL"))
    assert pending_one != pending_two
    assert ok(request("GET", two + "/admin/status"))["outbox"]["pending"] == pending_two
    assert ok(request("GET", one.base + "/admin/status"))["outbox"]["pending"] == pending_one
