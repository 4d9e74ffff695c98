"""HTTP caching semantics (RFC 9110/9111, issue 24) on every route.

The catalog reads and the popular ranking carry a strong ETag (a hash of the
body) and answer If-None-Match with a 304 without a body; everything
user-specific and every error is "Cache-Control: private, no-store". The
304 of a product held by the read cache (ShopReadCacheTTL) costs no database
round trip: it is answered with PostgreSQL stopped.
"""

import pytest

from shopclient import (assert_problem, cache_control, catalog_synced, charge, funded_user,
                        new_campaign, not_modified, ok, place, private, product, request,
                        revalidate, shared, wait_until)

CATALOG_CC = "public, max-age=0, must-revalidate"


def catalog_urls(base):
    pid = product(base, price=700, stock=5)
    cid = new_campaign(base)["id"]
    return pid, [f"{base}/products/{pid}", f"{base}/products?limit=3",
                 f"{base}/coupons/{cid}"]


def test_catalog_reads_are_shared_and_revalidate_to_304(stack):
    _, urls = catalog_urls(stack.base)
    for url in urls:
        first = request("GET", url)
        etag = shared(first, CATALOG_CC)
        assert request("GET", url).headers["etag"] == etag     # same body, same tag
        r = revalidate(url, etag)
        not_modified(r, etag)
        assert r.headers["cache-control"] == CATALOG_CC
        assert r.headers.get("x-request-id")


@pytest.mark.parametrize("form", [
    "{etag}", "W/{etag}", '"nope", {etag}', '"a",W/{etag} ,"b"', "*", '"x"y, {etag}',
    '{gz}', 'W/{gz}', '"x-gzip", {br}', 'junk, {etag}', '"unterminated, {etag}'])
def test_if_none_match_forms_that_name_the_tag(stack, form):
    pid = product(stack.base)
    url = f"{stack.base}/products/{pid}"
    etag = shared(request("GET", url))
    gz, br = etag[:-1] + '-gzip"', etag[:-1] + '-br"'
    header = form.format(etag=etag, gz=gz, br=br)
    # a tag as DEFLATE (BROTLI) passed it on: the 304 names what the client holds
    held = gz if "{gz}" in form else br if "{br}" in form else etag
    not_modified(revalidate(url, header), held)


@pytest.mark.parametrize("form", ['"other"', 'W/"other"', "", ",,", '{etag}x',
                                  '"{bare}"-gzip', '"{bare}-deflate"'])
def test_if_none_match_forms_that_do_not(stack, form):
    pid = product(stack.base)
    url = f"{stack.base}/products/{pid}"
    etag = shared(request("GET", url))
    header = form.format(etag=etag, bare=etag.strip('"'))
    r = revalidate(url, header) if header else request("GET", url)
    assert r.status == 200 and r.json["id"] == pid, r


def test_a_change_is_a_new_tag_at_once(stack):
    pid = product(stack.base, price=100, stock=3)
    url = f"{stack.base}/products/{pid}"
    etag = shared(request("GET", url))
    r = request("PATCH", f"{stack.base}/admin/products/{pid}", {"price": 101})
    assert r.status == 200, r
    r = revalidate(url, etag)
    assert r.status == 200 and r.json["price"] == 101, r
    assert shared(r) != etag
    not_modified(revalidate(url, r.headers["etag"]), r.headers["etag"])


def test_head_revalidates_too(stack):
    pid = product(stack.base)
    url = f"{stack.base}/products/{pid}"
    etag = shared(request("GET", url))
    r = request("HEAD", url, headers={"If-None-Match": etag})
    assert r.status == 304 and r.body == b"", r
    assert request("HEAD", url).headers["etag"] == etag


def test_popular_is_public_until_its_refresh(stack):
    url = f"{stack.base}/products/popular"
    r = request("GET", url)
    etag = shared(r)
    cc = cache_control(r)
    assert set(cc) == {"public", "max-age"}, r.headers
    # ShopPopularRefresh is 60 s on the main server: never kept past it
    assert 0 <= int(cc["max-age"]) <= 60, r.headers
    again = revalidate(url, etag)
    if again.status == 304:     # unless the job published in between
        not_modified(again, etag)
    else:
        assert shared(again) != etag


def test_user_routes_are_private_whatever_the_client_sends(stack):
    uid = funded_user(stack.base, 5000)
    pid = product(stack.base, price=100, stock=5)
    oid = place(stack.base, uid, [(pid, 1)])["order_id"]
    cid = new_campaign(stack.base)["id"]
    assert request("POST", f"{stack.base}/users/{uid}/coupons", {"coupon_id": cid}).status == 201
    for path in ("/points", "/points/history", "/orders", f"/orders/{oid}",
                 f"/orders/{oid}/coupons", "/coupons"):
        url = f"{stack.base}/users/{uid}{path}"
        r = request("GET", url)
        assert r.status == 200, r
        private(r)
        r = revalidate(url, "*")
        assert r.status == 200, r           # never a 304 for a private answer
        private(r)
    private(charge(stack.base, uid, 10))
    private(request("GET", f"{stack.base}/health"))
    private(request("GET", f"{stack.base}/admin/status"))


@pytest.mark.parametrize("path, status, code", [
    ("/products/9000000000000000", 404, "PRODUCT_NOT_FOUND"),
    ("/products?limit=0", 400, "INVALID_REQUEST"),
    ("/coupons/9000000000000000", 404, "COUPON_NOT_FOUND"),
    ("/nope", 404, "NOT_FOUND"),
])
def test_errors_of_shared_routes_are_private(stack, path, status, code):
    r = request("GET", stack.base + path, headers={"If-None-Match": "*"})
    assert_problem(r, status, code)
    private(r)


def test_httpds_own_errors_are_private_and_titled_by_httpd(stack):
    conf = '<Location "/api/admin">\n    Require all denied\n</Location>\n'
    with stack.httpd(conf, "cc-deny") as inst:
        r = request("GET", inst.base + "/admin/status")
        p = assert_problem(r, 403, "FORBIDDEN")
        assert p["title"] == "Forbidden", p
        private(r)


def test_the_operator_may_allow_bounded_staleness(stack):
    conf = "ShopCatalogHTTPMaxAge 30s\nShopCatalogStaleWhileRevalidate 2m\n"
    with stack.httpd(conf, "cc-stale") as inst:
        _, urls = catalog_urls(inst.base)
        for url in urls:
            shared(request("GET", url), "public, max-age=30, stale-while-revalidate=120")
        private(request("GET", f"{inst.base}/users/1/points"))
        r = request("GET", f"{inst.base}/products/popular")
        assert "stale-while-revalidate" not in cache_control(r), r.headers
    conf = "ShopCatalogHTTPMaxAge 5\n"
    with stack.httpd(conf, "cc-max-age") as inst:
        shared(request("GET", catalog_urls(inst.base)[1][0]), "public, max-age=5")


def test_a_304_from_the_read_cache_needs_no_database(stack):
    with stack.httpd("", "cc-read-cache") as inst:
        pid = product(inst.base, price=300, stock=9)
        never_read = product(inst.base, price=301, stock=9)
        # the sync forgets a product when it reads its creation: an entry
        # filled before that would be gone when the database is
        catalog_synced(stack, inst.base)
        url = f"{inst.base}/products/{pid}"
        etag = shared(request("GET", url))
        r = wait_until(lambda: (lambda r: r if r.headers.get("x-shop-cache") == "hit" else None)(
            request("GET", url)), 5, "a catalog cache hit")
        assert r.headers["etag"] == etag, r
        stack.pg_stop()
        try:
            # once a child knows the database away, it answers what its catalog
            # cache holds from memory: here a 304
            r = wait_until(lambda: (lambda r: r if r.status == 304 else None)(
                revalidate(url, etag)), 10, "a 304 from memory, the database down")
            not_modified(r, etag)
            assert r.headers.get("x-shop-cache") == "hit", r.headers
            # a read the cache does not hold needs the database, which is gone
            assert request("GET", f"{inst.base}/products/{never_read}").status == 503
        finally:
            stack.pg_start()
        wait_until(lambda: request("GET", f"{inst.base}/products?limit=1").status == 200,
                   30, "the database back")
        ok(request("GET", url))
