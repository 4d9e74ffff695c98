"""mod_shop behind a proxy with mod_remoteip (issue 24): an extra httpd with
mod_remoteip (RemoteIPHeader X-Forwarded-For, RemoteIPInternalProxy
127.0.0.1), as an operator runs it behind a load balancer or a CDN.

- The client's address, not the proxy's, is what httpd shows: the access log's
  %a (the peer stays in %{c}a), mod_status's client column (ExtendedStatus
  On), and the "[client ...]" of a line mod_shop logs about a request
  (SHOP00001, provoked by a handler set in a <LocationMatch>).
- mod_shop's routes answer as without it: reads, 304s, a charge, an order.
  /admin/status shows no client address (nothing to check there), but its
  `Require local` now judges the forwarded client: a proxied outsider is
  refused, the proxy host itself is not.
"""

from shopclient import (MODULES, assert_problem, charge, funded_user, not_modified, ok,
                        place, product, request, revalidate, shared, wait_until)

CLIENT = "203.0.113.7"

REMOTEIP = f"""
LoadModule remoteip_module {MODULES}/mod_remoteip.so
RemoteIPHeader X-Forwarded-For
RemoteIPInternalProxy 127.0.0.1
LogFormat "%a %{{c}}a %>s \\"%r\\"" remoteip
CustomLog "logs/access_log" remoteip
ExtendedStatus On
<LocationMatch "^/via-match">
    SetHandler shop
    Require all granted
</LocationMatch>
"""


def via(address):
    return {"X-Forwarded-For": address}


def access_lines(inst):
    path = inst.dir / "logs" / "access_log"
    return path.read_text().splitlines() if path.exists() else []


def logged(inst, target):
    """The access log's (%a, %{c}a, status) of the request line naming target."""
    def find():
        return [line.split()[:3] for line in access_lines(inst) if f" {target} " in line]
    return wait_until(find, 10, f"access log line for {target}")


def test_the_client_address_is_in_the_access_log(httpds):
    inst = httpds(REMOTEIP, "remoteip")
    pid = product(inst.base)
    r = request("GET", f"{inst.base}/products/{pid}?from=proxy", headers=via(CLIENT))
    assert ok(r)["id"] == pid
    assert logged(inst, f"/api/products/{pid}?from=proxy") == [[CLIENT, "127.0.0.1", "200"]]
    # through two proxies, the trusted one (127.0.0.1) is skipped
    r = request("GET", f"{inst.base}/products/{pid}?from=chain",
                headers=via(f"{CLIENT}, 127.0.0.1"))
    assert ok(r)["id"] == pid
    assert logged(inst, f"/api/products/{pid}?from=chain") == [[CLIENT, "127.0.0.1", "200"]]
    # no header: the peer itself
    assert ok(request("GET", f"{inst.base}/products/{pid}?from=direct"))["id"] == pid
    assert logged(inst, f"/api/products/{pid}?from=direct") == [
        ["127.0.0.1", "127.0.0.1", "200"]]


def test_the_client_address_is_in_mod_status(httpds):
    inst = httpds(REMOTEIP, "remoteip")
    other = "198.51.100.23"
    assert request("GET", f"{inst.base}/products?limit=1", headers=via(other)).status == 200
    status_url = inst.base[: -len("/api")] + "/server-status"
    page = request("GET", status_url)       # from the proxy host: Require local holds
    assert page.status == 200, page
    assert f">{other}<" in page.body.decode(), "client column of mod_status"


def test_mod_shop_logs_the_client_address(httpds):
    inst = httpds(REMOTEIP, "remoteip")
    r = request("GET", inst.base[: -len("/api")] + "/via-match/products",
                headers=via(CLIENT))
    assert r.status == 404, r

    def warned():
        return [line for line in inst.error_log().splitlines() if "SHOP00001" in line]
    lines = wait_until(warned, 10, "SHOP00001 in the error log")
    assert f"[client {CLIENT}:" in lines[-1], lines[-1]


def test_the_routes_work_unchanged(httpds):
    inst = httpds(REMOTEIP, "remoteip")
    h = via(CLIENT)
    pid = product(inst.base, price=100, stock=5)
    url = f"{inst.base}/products/{pid}"
    etag = shared(request("GET", url, headers=h))
    not_modified(revalidate(url, etag, headers=h), etag)
    uid = funded_user(inst.base, 1000)
    assert ok(charge(inst.base, uid, 10, headers=h))["balance"] == 1010
    oid = place(inst.base, uid, [(pid, 2)])["order_id"]
    r = request("GET", f"{inst.base}/users/{uid}/orders/{oid}", headers=h)
    assert ok(r)["order_id"] == oid, r
    assert_problem(request("GET", f"{inst.base}/products/abc", headers=h), 404,
                   "PRODUCT_NOT_FOUND")


def test_require_local_judges_the_forwarded_client(httpds):
    inst = httpds(REMOTEIP, "remoteip")
    url = f"{inst.base}/admin/status"
    assert request("GET", url).status == 200
    assert request("GET", url, headers=via("127.0.0.1")).status == 200
    r = request("GET", url, headers=via(CLIENT))
    assert r.status == 403, r
