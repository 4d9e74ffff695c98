"""ShopReadCacheTTL: balances answered from shared memory, opt-in.

An extra httpd runs with ShopReadCacheTTL 2s. A repeated balance read is a
hit (X-Shop-Cache: hit, no database round trip); every write through the
httpd (charge, payment, cancel) is seen by the next read at once; a write
behind its back (psql) is seen once the TTL has run out. Off by default: a
user who charges through one node and reads through another must never see
an old balance, so the main httpd never answers a balance from a cache.
(The catalog's cache, on by default: test_catalog_cache.py.)
"""

import pytest

from shopclient import (cache_hit, charge, get_ok, new_user, parallel, place, product, request,
                        wait_until)

TTL = 2.0
CONF = "ShopReadCacheTTL 2s\n"




@pytest.fixture(scope="module")
def cached(stack):
    with stack.httpd(CONF, "read-cache") as inst:
        yield inst


def test_balances_are_not_cached_by_default(stack):
    uid = new_user(stack.base, "rc")
    assert charge(stack.base, uid, 10).status == 200
    for _ in range(3):
        r = get_ok(f"{stack.base}/users/{uid}/points")
        assert r.json["balance"] == 10 and "x-shop-cache" not in r.headers


def test_repeated_read_hits_with_the_same_body(cached):
    uid = new_user(cached.base, "rc")
    assert charge(cached.base, uid, 70).status == 200
    first = get_ok(f"{cached.base}/users/{uid}/points")
    again = get_ok(f"{cached.base}/users/{uid}/points")
    assert not cache_hit(first) and cache_hit(again)
    assert again.json == first.json and again.json["balance"] == 70
    assert again.headers.get("content-type", "").startswith("application/json")


def test_payment_charge_and_cancel_are_seen_at_once(cached):
    base = cached.base
    uid = new_user(base, "rc")
    pid = product(base, price=700, stock=100)
    assert charge(base, uid, 1000).status == 200
    assert get_ok(f"{base}/users/{uid}/points").json["balance"] == 1000
    assert cache_hit(get_ok(f"{base}/users/{uid}/points"))
    oid = place(base, uid, [(pid, 1)])["order_id"]
    r = request("POST", f"{base}/users/{uid}/orders/{oid}/payment")
    assert r.status == 200, r
    assert get_ok(f"{base}/users/{uid}/points").json["balance"] == 300
    assert charge(base, uid, 50).status == 200
    assert get_ok(f"{base}/users/{uid}/points").json["balance"] == 350
    assert cache_hit(get_ok(f"{base}/users/{uid}/points"))
    r = request("POST", f"{base}/users/{uid}/orders/{oid}/cancel")
    assert r.status == 200, r
    assert get_ok(f"{base}/users/{uid}/points").json["balance"] == 1050


def test_a_write_behind_its_back_is_seen_within_the_ttl(stack, cached):
    uid = new_user(cached.base, "rc")
    assert charge(cached.base, uid, 5).status == 200
    get_ok(f"{cached.base}/users/{uid}/points")
    assert cache_hit(get_ok(f"{cached.base}/users/{uid}/points"))
    stack.psql(f"UPDATE users SET balance = 8 WHERE id = {uid}")
    wait_until(lambda: get_ok(f"{cached.base}/users/{uid}/points").json["balance"] == 8,
               TTL + 2, "the psql update, once the entry's TTL ran out")


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
            get_ok(f"{base}/users/{uid}/points")
            r = charge(base, uid, 1)
            assert r.status == 200, r
            mine = r.json["balance"]
            seen = get_ok(f"{base}/users/{uid}/points").json["balance"]
            if seen < mine:
                stale.append((mine, seen))
        return stale

    results = parallel(12, worker)
    assert not [s for res in results for s in res]
    assert get_ok(f"{base}/users/{uid}/points").json["balance"] == 1 + 12 * 15
