"""A reverse-proxy cache in front (issue 24): nginx proxy_cache (Debian's
nginx-light) honouring mod_shop's Cache-Control and ETags as they are, with
no cache rule of its own (conftest.py, Stack.nginx).

The httpd behind it runs ShopPopularRefresh 2s and ShopCatalogHTTPMaxAge 1s (an
operator who accepts a second of staleness on the catalog; at the default
max-age=0 nginx stores no catalog read at all). Read from nginx's own access
log ($upstream_cache_status): a product is revalidated with a 304
(REVALIDATED) once its second is over and a change is seen within it; over a
mixed run of more than 10,000 requests the popular ranking is served by nginx,
and no balance, history, order, user coupon, charge, health answer or
4xx/5xx is ever served from the cache (each user's balance, read after each
of its own charges, is exact).
"""

import random

import pytest

from shopclient import (funded_user, issued, new_campaign, ok, parallel, place, product,
                        request, wait_until)

CONF = "ShopPopularRefresh 2s\nShopCatalogHTTPMaxAge 1s\n"
FROM_CACHE = {"HIT", "STALE", "UPDATING", "REVALIDATED"}
PRIVATE = ("/api/users/", "/api/health", "/api/admin/")
THREADS, PER_THREAD = 20, 510


@pytest.fixture(scope="module")
def front(stack):
    with stack.httpd(CONF, "behind-nginx") as inst, stack.nginx(inst, "front") as ngx:
        yield ngx


def cache_status(r):
    return r.headers.get("x-cache-status")


def test_a_product_is_revalidated_with_304_and_a_change_is_seen(front):
    pid = product(front.base, price=10, stock=9)
    url = f"{front.base}/products/{pid}"
    first = request("GET", url)
    assert ok(first)["price"] == 10 and cache_status(first) == "MISS", first.headers
    # its second over, nginx asks mod_shop with If-None-Match and gets a 304
    r = wait_until(lambda: (lambda x: x if cache_status(x) == "REVALIDATED" else None)(
        request("GET", url)), 10, "a 304 revalidation through nginx", interval=0.2)
    assert r.json == first.json and r.headers["etag"] == first.headers["etag"]
    assert request("PATCH", f"{front.base}/admin/products/{pid}", {"price": 11}).status == 200
    wait_until(lambda: ok(request("GET", url))["price"] == 11, 1.5 + 1,
               "the change through nginx within ShopCatalogHTTPMaxAge (1 s)")


def user_fixture(base):
    """A user with an order and a coupon, and the paths that are theirs."""
    uid = funded_user(base, 1000)
    pid = product(base, price=10, stock=100)
    oid = place(base, uid, [(pid, 1)])["order_id"]
    issued(base, uid, new_campaign(base)["id"])
    return uid, [f"/users/{uid}/points/history", f"/users/{uid}/orders",
                 f"/users/{uid}/orders/{oid}", f"/users/{uid}/coupons"]


def test_a_mixed_run_never_serves_what_is_private_from_the_cache(front):
    base = front.base
    catalog = [f"/products/{product(base, price=5, stock=5)}" for _ in range(5)]
    catalog += ["/products?limit=5", f"/coupons/{new_campaign(base)['id']}"]
    errors = ["/products/9000000000000000", "/products?limit=0", "/coupons/0", "/nope"]
    users = [user_fixture(base) for _ in range(THREADS)]
    before = len(front.log())

    def run(i):
        uid, mine = users[i]
        rnd, balance, served = random.Random(i), 1000, {"popular": 0, "hit": 0}
        for _ in range(PER_THREAD):
            pick = rnd.random()
            if pick < 0.3:
                r = request("GET", f"{base}/products/popular")
                assert r.status == 200 and r.json["items"] is not None, r
                served["popular"] += 1
                served["hit"] += cache_status(r) == "HIT"
            elif pick < 0.5:
                assert request("GET", base + rnd.choice(catalog)).status == 200
            elif pick < 0.6:
                r = request("POST", f"{base}/users/{uid}/points/charge", {"amount": 1})
                if r.status == 200:
                    balance += 1
                else:
                    assert r.status == 503 and r.json["code"] == "BUSY", r
            elif pick < 0.7:
                r = request("GET", f"{base}/users/{uid}/points")
                assert ok(r)["balance"] == balance, (r, r.headers)
            elif pick < 0.85:
                assert request("GET", base + rnd.choice(mine)).status == 200
            elif pick < 0.95:
                assert request("GET", base + rnd.choice(errors)).status in (400, 404)
            else:
                assert request("GET", f"{base}/health").status == 200
        return served

    served = parallel(THREADS, run, timeout=600)
    log = front.log()[before:]
    assert len(log) >= THREADS * PER_THREAD >= 10_000, len(log)
    wrong = [line for line in log if line[0] in FROM_CACHE
             and (line[3].startswith(PRIVATE) or int(line[1]) >= 400)]
    assert wrong == [], wrong[:20]
    popular = sum(s["popular"] for s in served)
    hits = sum(s["hit"] for s in served)
    assert hits >= 0.5 * popular, (hits, popular)     # most, even on a loaded CI box
    stored = {line[3] for line in log if line[0] in FROM_CACHE}
    assert "/api/products/popular" in stored and stored & {f"/api{c}" for c in catalog}
