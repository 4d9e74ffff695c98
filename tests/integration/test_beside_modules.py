"""mod_shop beside the httpd modules operators run with it (issue 24), each
loaded into an extra httpd from Debian's module directory with its usual
settings.

- mod_cache + mod_cache_socache (CacheEnable socache /api): the popular
  ranking is served from the cache (X-Cache: HIT) until its refresh, never
  long after; a product is asked of mod_shop every time and a change is seen
  at once; a balance, an order or an error is never stored. Every body the
  cache serves is whole (mod_cache_socache stores an entry a 304 refreshed
  without its body, so mod_shop never answers its own mod_cache with a 304).
- mod_deflate (AddOutputFilterByType DEFLATE application/json): gzip when
  asked, and the "-gzip" ETag DEFLATE makes revalidates to a 304 that names
  the same tag (mod_shop names it: mod_filter passes DEFLATE only 200s).
- mod_http2 (Protocols h2c http/1.1), driven by h2load (nghttp2-client;
  curl 7.88.1 breaks off a reused h2c connection with "Error in the HTTP2
  framing layer", whatever it asks for, /server-status too): reads, 304s and
  concurrent charges on 100 streams per connection, the ledger exact.
"""

import gzip
import json
import time
import uuid


from shopclient import (MODULES, cache_control, charge, funded_user, h2load, ledger,
                        not_modified, ok, place, product, request, revalidate, shared,
                        wait_until)

REFRESH = 2.0

MOD_CACHE = f"""
LoadModule cache_module {MODULES}/mod_cache.so
LoadModule cache_socache_module {MODULES}/mod_cache_socache.so
LoadModule socache_shmcb_module {MODULES}/mod_socache_shmcb.so
CacheSocache shmcb
CacheEnable socache /api
CacheHeader on
CacheDetailHeader on
ShopPopularRefresh {REFRESH:g}s
"""

DEFLATE = f"""
LoadModule filter_module {MODULES}/mod_filter.so
LoadModule deflate_module {MODULES}/mod_deflate.so
AddOutputFilterByType DEFLATE application/json
"""

HTTP2 = f"""
LoadModule http2_module {MODULES}/mod_http2.so
Protocols h2c http/1.1
"""


def x_cache(r):
    return r.headers.get("x-cache", "").split()[0]


def test_mod_cache_serves_popular_until_its_refresh(httpds):
    cached = httpds(MOD_CACHE, "mod-cache")
    url = f"{cached.base}/products/popular"
    wait_until(lambda: request("GET", url).json.get("generated_at"), 3 * REFRESH + 5,
               "a first ranking")           # before it, generated_at is null
    seen, deadline = [], time.monotonic() + 3 * REFRESH + 2
    while time.monotonic() < deadline:
        r = request("GET", url)
        assert r.status == 200 and r.json and "items" in r.json, r    # a whole body
        seen.append((x_cache(r), r.json["generated_at"], time.time(),
                     int(cache_control(r)["max-age"])))
        time.sleep(0.05)    # a client's pace, not synchronisation
    hits = [s for s in seen if s[0] == "HIT"]
    assert len(hits) >= len(seen) // 4, seen
    for state, generated, at, max_age in seen:
        assert max_age <= REFRESH, seen
        # the ranking goes round every REFRESH: what the cache serves is never
        # more than a refresh plus the job's tick and a second's rounding old
        born = time.mktime(time.strptime(generated, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        assert at - born <= REFRESH + 2.5, (state, generated, at)
    assert len({s[1] for s in seen}) >= 2, seen     # not pinned by the cache


def test_mod_cache_sees_a_product_change_at_once(httpds):
    cached = httpds(MOD_CACHE, "mod-cache")
    pid = product(cached.base, price=100, stock=5)
    url = f"{cached.base}/products/{pid}"
    for _ in range(5):
        r = request("GET", url)
        assert ok(r) == {"id": pid, "name": r.json["name"], "price": 100, "stock": 5}
        assert x_cache(r) != "HIT"      # max-age=0, must-revalidate: always asked
        shared(r, "public, max-age=0, must-revalidate")
    assert request("PATCH", f"{cached.base}/admin/products/{pid}",
                   {"price": 150}).status == 200
    assert ok(request("GET", url))["price"] == 150
    # a client's own revalidation through the cache
    etag = request("GET", url).headers["etag"]
    r = revalidate(url, etag)
    assert r.status in (200, 304), r
    if r.status == 200:
        assert r.json["price"] == 150
    assert ok(request("GET", url))["price"] == 150


def test_mod_cache_never_stores_what_is_private(httpds):
    cached = httpds(MOD_CACHE, "mod-cache")
    uid = funded_user(cached.base, 1000)
    pid = product(cached.base, price=10, stock=50)
    oid = place(cached.base, uid, [(pid, 1)])["order_id"]
    paths = [f"/users/{uid}/points", f"/users/{uid}/orders/{oid}",
             f"/users/{uid}/coupons", "/products/9000000000000000", "/products?limit=0"]
    for i in range(3):
        for p in paths:
            r = request("GET", cached.base + p)
            assert x_cache(r) == "MISS", (p, r.headers)
        assert charge(cached.base, uid, 1).status == 200
        assert ok(request("GET", f"{cached.base}/users/{uid}/points"))["balance"] == 1001 + i
    assert ledger(cached.stack, uid)[0] == 1003


def wordy_product(base, **fields):
    """DEFLATE leaves bodies under ~70 bytes alone: a name that makes it work."""
    return product(base, name="deflate-" + "long name " * 12 + uuid.uuid4().hex, **fields)


def test_deflate_compresses_json_when_asked(httpds):
    deflated = httpds(DEFLATE, "deflate")
    pid = wordy_product(deflated.base, price=42, stock=3)
    url = f"{deflated.base}/products/{pid}"
    plain = request("GET", url)
    zipped = request("GET", url, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert zipped.headers.get("content-encoding") == "gzip", zipped.headers
    assert "accept-encoding" in zipped.headers.get("vary", "").lower(), zipped.headers
    assert json.loads(gzip.decompress(zipped.body)) == plain.json
    tag = shared(plain)
    assert zipped.headers["etag"] == tag[:-1] + '-gzip"'


def test_deflates_etag_revalidates_to_304(httpds):
    deflated = httpds(DEFLATE, "deflate")
    pid = wordy_product(deflated.base)
    url = f"{deflated.base}/products/{pid}"
    gz = {"Accept-Encoding": "gzip"}
    tag = request("GET", url, headers=gz).headers["etag"]
    assert tag.endswith('-gzip"'), tag
    r = revalidate(url, tag, gz)
    not_modified(r, tag)
    assert "accept-encoding" in r.headers.get("vary", "").lower(), r.headers
    # the plain tag names the same data, uncompressed
    not_modified(revalidate(url, tag.replace("-gzip", "")), tag.replace("-gzip", ""))
    assert request("PATCH", f"{deflated.base}/admin/products/{pid}",
                   {"price": 7}).status == 200
    r = revalidate(url, tag, gz)
    assert r.status == 200 and json.loads(gzip.decompress(r.body))["price"] == 7, r
    # a body DEFLATE leaves alone (68 bytes or fewer) keeps its plain tag in both
    small = product(deflated.base, name="s")
    surl = f"{deflated.base}/products/{small}"
    r = request("GET", surl, headers=gz)
    assert "content-encoding" not in r.headers and not r.headers["etag"].endswith('-gzip"')
    not_modified(revalidate(surl, r.headers["etag"], gz), r.headers["etag"])
    # popular too (its body comes from shared memory)
    purl = f"{deflated.base}/products/popular"
    r = request("GET", purl, headers=gz)
    if r.headers.get("content-encoding") == "gzip":
        again = revalidate(purl, r.headers["etag"], gz)
        assert again.status in (200, 304), again     # 200 if the job published since
        if again.status == 304:
            not_modified(again, r.headers["etag"])


def test_h2c_reads_and_revalidates(httpds):
    h2 = httpds(HTTP2, "h2c")
    pid = product(h2.base, price=5, stock=5)
    url = f"{h2.base}/products/{pid}"
    etag = shared(request("GET", url))
    for target in (url, f"{h2.base}/products/popular"):
        got = h2load(target, 300, streams=100)
        assert got == {"protocol": "h2c", "2xx": 300, "3xx": 0, "4xx": 0, "5xx": 0,
                       "failed": 0}, got
    got = h2load(url, 50, streams=50, headers={"If-None-Match": etag})
    assert got["3xx"] == 50 and got["failed"] == 0, got


def test_h2c_concurrent_charges_keep_the_ledger_exact(httpds):
    h2 = httpds(HTTP2, "h2c")
    uid = funded_user(h2.base)
    n = 300
    got = h2load(f"{h2.base}/users/{uid}/points/charge", n, streams=100, clients=2,
                 body={"amount": 3})
    assert got["protocol"] == "h2c" and got["failed"] == 0, got
    assert got["3xx"] == got["4xx"] == 0, got
    done = got["2xx"]       # the rest 503 BUSY: shed, changing nothing
    assert done >= n // 2, got
    assert ledger(h2.stack, uid) == (3 * done, done, 3 * done)
    assert ok(request("GET", f"{h2.base}/users/{uid}/points"))["balance"] == 3 * done
