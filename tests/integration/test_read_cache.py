"""ShopReadCacheTTL: products and balances answered from shared memory.

An extra httpd runs with ShopReadCacheTTL 2s. A repeated read is a hit
(X-Shop-Cache: hit, no database round trip); every write through the httpd
(charge, order, payment, cancel, PATCH product, the expiry job) is seen by
the next read at once; a write behind its back (psql) is seen once the TTL
has run out. Off by default: the main httpd never answers from a cache.
"""

import pytest

from shopclient import charge, new_user, parallel, place, product, request, wait_until

TTL = 2.0
CONF = "ShopReadCacheTTL 2s\nShopOrderHold 1s\n"


def get(url):
    r = request("GET", url)
    assert r.status == 200, r
    return r


def hit(r):
    return r.headers.get("x-shop-cache") == "hit"


@pytest.fixture(scope="module")
def cached(stack):
    with stack.httpd(CONF, "read-cache") as inst:
        yield inst


def test_off_by_default(stack):
    pid = product(stack.base, price=500, stock=100)
    for _ in range(3):
        assert not hit(get(f"{stack.base}/products/{pid}"))


def test_repeated_read_hits_with_the_same_body(cached):
    pid = product(cached.base, price=500, stock=7)
    first = get(f"{cached.base}/products/{pid}")
    again = get(f"{cached.base}/products/{pid}")
    assert not hit(first) and hit(again)
    assert again.json == first.json == {"id": pid, "name": first.json["name"],
                                        "price": 500, "stock": 7}
    assert again.headers.get("content-type", "").startswith("application/json")


def test_order_and_cancel_are_seen_at_once(cached):
    base = cached.base
    uid = new_user(base, "rc")
    pid = product(base, price=500, stock=10)
    assert charge(base, uid, 5000).status == 200
    get(f"{base}/products/{pid}")
    assert hit(get(f"{base}/products/{pid}"))
    oid = place(base, uid, [(pid, 3)])["order_id"]
    assert get(f"{base}/products/{pid}").json["stock"] == 7
    assert hit(get(f"{base}/products/{pid}"))
    r = request("POST", f"{base}/users/{uid}/orders/{oid}/cancel")
    assert r.status == 200, r
    assert get(f"{base}/products/{pid}").json["stock"] == 10


def test_payment_and_charge_are_seen_at_once(cached):
    base = cached.base
    uid = new_user(base, "rc")
    pid = product(base, price=700, stock=100)
    assert charge(base, uid, 1000).status == 200
    assert get(f"{base}/users/{uid}/points").json["balance"] == 1000
    assert hit(get(f"{base}/users/{uid}/points"))
    oid = place(base, uid, [(pid, 1)])["order_id"]
    r = request("POST", f"{base}/users/{uid}/orders/{oid}/payment")
    assert r.status == 200, r
    assert get(f"{base}/users/{uid}/points").json["balance"] == 300
    assert charge(base, uid, 50).status == 200
    assert get(f"{base}/users/{uid}/points").json["balance"] == 350


def test_admin_patch_is_seen_at_once(cached):
    pid = product(cached.base, price=500, stock=5)
    get(f"{cached.base}/products/{pid}")
    r = request("PATCH", f"{cached.base}/admin/products/{pid}", {"stock": 9})
    assert r.status == 200, r
    assert get(f"{cached.base}/products/{pid}").json["stock"] == 9


def test_expired_orders_stock_is_seen_within_the_ttl(cached):
    # ShopOrderHold 1s. Whichever jobs process expires the order (this
    # httpd's forgets every cached product; the main test httpd shares the
    # database and may be first), the stock is back within hold + TTL.
    base = cached.base
    uid = new_user(base, "rc")
    pid = product(base, price=500, stock=4)
    place(base, uid, [(pid, 4)])
    assert get(f"{base}/products/{pid}").json["stock"] == 0
    assert hit(get(f"{base}/products/{pid}"))
    wait_until(lambda: get(f"{base}/products/{pid}").json["stock"] == 4, 1 + TTL + 1,
               "the expired order's stock, seen through the cache")


def test_a_write_behind_its_back_is_seen_within_the_ttl(stack, cached):
    pid = product(cached.base, price=500, stock=3)
    get(f"{cached.base}/products/{pid}")
    assert hit(get(f"{cached.base}/products/{pid}"))
    stack.psql(f"SELECT shop_set_stock({pid}, 8)")
    wait_until(lambda: get(f"{cached.base}/products/{pid}").json["stock"] == 8, TTL + 2,
               "the psql update, once the entry's TTL ran out")


def test_read_your_writes_under_concurrency(cached):
    """Every thread charges one shared user and reads the balance at once:
    the read may never be below what its own charge answered (a stale
    cached balance would be)."""
    base = cached.base
    uid = new_user(base, "rc")
    assert charge(base, uid, 1).status == 200

    def worker(i):
        stale = []
        for _ in range(15):
            get(f"{base}/users/{uid}/points")
            r = charge(base, uid, 1)
            assert r.status == 200, r
            mine = r.json["balance"]
            seen = get(f"{base}/users/{uid}/points").json["balance"]
            if seen < mine:
                stale.append((mine, seen))
        return stale

    results = parallel(12, worker)
    assert not [s for res in results for s in res]
    assert get(f"{base}/users/{uid}/points").json["balance"] == 1 + 12 * 15
