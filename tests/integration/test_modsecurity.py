"""ModSecurity 2 with the OWASP CRS 3.3 (Debian's libapache2-mod-security2 and
modsecurity-crs) beside mod_shop (issue 24): engine on, request body access
on, paranoia level 1, with the one exclusion docs/deploy.md gives (PATCH on
the admin product route). The shop's flows pass; CRS's own refusals reach the
client as problem documents titled by what they are.

Broken JSON is ModSecurity's to refuse first: a body its JSON processor
cannot read is its 400 (rule 200002), except a truncated one, which
ModSecurity 2.9 answers with its own 500 (owasp-modsecurity/ModSecurity#2807).
Either way nothing reaches mod_shop and nothing changes.
"""
import os

import pytest

from shopclient import (MODULES, assert_problem, charge, funded_user, issued, ledger,
                        new_campaign, ok, pay, place, product, request)

CRS = "/usr/share/modsecurity-crs/owasp-crs.load"
CONF = f"""
LoadModule security2_module {MODULES}/mod_security2.so
Include /etc/modsecurity/modsecurity.conf-recommended
SecRuleEngine On
SecAuditEngine Off
SecRule REQUEST_URI "@beginsWith /api/admin/products/" \\
    "id:1000100,phase:1,pass,nolog,t:none,chain"
    SecRule REQUEST_METHOD "@streq PATCH" \\
        "setvar:'tx.allowed_methods=GET HEAD POST OPTIONS PATCH'"
Include {CRS}
"""


@pytest.fixture(scope="module")
def waf(httpds):
    if not (os.path.exists(f"{MODULES}/mod_security2.so") and os.path.exists(CRS)):
        pytest.skip("libapache2-mod-security2 / modsecurity-crs not installed"
                    " (scripts/shopctl deps installs them)")
    return httpds(CONF, "modsecurity")


def test_the_shops_flows_pass(waf):
    b = waf.base
    uid = funded_user(b, 10_000)
    pid = product(b, price=1000, stock=5)
    ucid = issued(b, uid, new_campaign(b, discount_value=500)["id"])
    oid = place(b, uid, [(pid, 2)])["order_id"]
    assert ok(pay(b, uid, oid, ucid))["status"] == "PAID"
    assert ok(request("GET", f"{b}/users/{uid}/points"))["balance"] == 10_000 - 1500
    for path in ("/products/popular", f"/products/{pid}", "/products?limit=5",
                 f"/users/{uid}/points/history", f"/users/{uid}/orders/{oid}"):
        assert request("GET", b + path).status == 200, path
    r = request("PATCH", f"{b}/admin/products/{pid}", {"price": 900})    # the exclusion
    assert ok(r)["price"] == 900


def test_crs_refusals_are_titled_by_what_they_are(waf):
    # PATCH outside the excluded route: CRS rule 911100 answers before mod_shop
    r = request("PATCH", f"{waf.base}/products/1", {"price": 1})
    p = assert_problem(r, 403, "FORBIDDEN")
    assert p["title"] == "Forbidden", p


@pytest.mark.parametrize("raw, status, code", [
    (b'{"amount":x}', 400, "INVALID_REQUEST"),      # rule 200002
    (b'{"amount":', 500, "INTERNAL_ERROR"),         # ModSecurity#2807
])
def test_broken_json_is_refused_by_modsecurity_and_changes_nothing(waf, stack, raw,
                                                                      status, code):
    uid = funded_user(waf.base, 100)
    before = ledger(stack, uid)
    r = request("POST", f"{waf.base}/users/{uid}/points/charge", raw=raw,
                headers={"Content-Type": "application/json"})
    p = assert_problem(r, status, code)
    assert p["detail"].startswith("httpd answered"), p      # not mod_shop's parser
    assert ledger(stack, uid) == before
    assert charge(waf.base, uid, 1).status == 200            # and the next one passes
