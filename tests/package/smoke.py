#!/usr/bin/python3
"""HTTP smoke of the installed package, run from the host by tests/package/run.

    smoke.py full  --base URL --other URL --root DIR --state FILE --results FILE \
                   --user LOGIN:PASSWORD --user LOGIN:PASSWORD
    smoke.py again --base URL --state FILE --results FILE

`full`: another site answers next to mod_shop; admin routes create two users,
two products and a coupon campaign; remote-user identity (401 / 403 / 200);
charge, coupon issue, order, payment with the coupon; popular; a mount that is
not /api/admin serves no admin route. `again` (after apache2ctl graceful): a
read and a charge. Each check prints "ok   - ..." or "FAIL - ..."; the counts
go to --results as "PASSED FAILED".

If the admin routes do not work, the users, products and campaign are created
with SQL inside the test root instead (the admin checks still fail), so the
rest of the smoke still says something.
"""

import argparse
import base64
import json
import subprocess
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from shopclient import request  # noqa: E402

passed = failed = 0


def check(what, cond, detail=None):
    global passed, failed
    if cond:
        passed += 1
        print(f"ok   - {what}", flush=True)
    else:
        failed += 1
        print(f"FAIL - {what}" + (f": {detail!r}" if detail is not None else ""), flush=True)
    return bool(cond)


def basic(login, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


def is_json(r):
    return r.headers.get("content-type", "").startswith("application/json") and r.json is not None


def key():
    return {"Idempotency-Key": uuid.uuid4().hex}


class Sql:
    """psql as the shop role inside the test root (the admin-route fallback)."""

    def __init__(self, root):
        self.root = root

    def one(self, sql):
        out = subprocess.run(
            ["chroot", self.root, "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
             "LANG=C.UTF-8", "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
             "-h", "/var/run/postgresql", "-U", "shop", "-d", "shop", "-c", sql],
            check=True, capture_output=True, text=True).stdout.strip()
        return out.splitlines()[-1] if out else ""


def admin_create(api, sql, path, body, fallback_sql, what):
    r = request("POST", f"{api}/admin/{path}", body, headers=key())
    if check(f"POST /api/admin/{path} ({what}) is 201 with an id",
             r.status == 201 and isinstance(r.json, dict) and "id" in r.json, r):
        return r.json["id"]
    try:
        ident = int(sql.one(fallback_sql))
        print(f"     (created {what} with SQL instead: id {ident})")
        return ident
    except (subprocess.CalledProcessError, ValueError) as e:
        print(f"     (SQL fallback for {what} failed too: {getattr(e, 'stderr', e)})")
        return None


def full(a):
    api = a.base
    sql = Sql(a.root)
    state = {}

    # mod_shop runs next to other sites: Debian's default site on its own port.
    r = request("GET", f"{a.other}/")
    check("the other site (000-default) answers 200 next to mod_shop", r.status == 200, r)
    r = request("GET", f"{a.other}/api/products")
    check("the other site does not serve the API (404)", r.status == 404, r)

    r = request("GET", f"{api}/products")
    check("GET /api/products is 200 JSON with items", r.status == 200 and is_json(r)
          and isinstance(r.json.get("items"), list), r)
    check("responses carry X-Request-Id (mod_unique_id)", bool(r.headers.get("x-request-id")), r)
    r = request("GET", f"{api}/health/ready")
    check("GET /api/health/ready is 200 (database reachable)", r.status == 200, r)

    # Admin routes: Require local lets 127.0.0.1 in.
    (l1, p1), (l2, p2) = [u.split(":", 1) for u in a.user]
    uid = admin_create(api, sql, "users", {"login": l1},
                       f"INSERT INTO users (login) VALUES ('{l1}') RETURNING id", f"user {l1}")
    other = admin_create(api, sql, "users", {"login": l2},
                         f"INSERT INTO users (login) VALUES ('{l2}') RETURNING id", f"user {l2}")
    products = []
    for name, price, stock in (("pkgtest Americano", 4500, 100), ("pkgtest Mug", 12000, 10)):
        pid = admin_create(api, sql, "products", {"name": name, "price": price, "stock": stock},
                           f"SELECT id FROM shop_create_product('{name}', {price}, {stock}, true)",
                           f"product {name}")
        products.append((pid, price, stock))
    coupon = admin_create(api, sql, "coupons",
                          {"name": "pkgtest 1,000 off", "discount_type": "FIXED",
                           "discount_value": 1000, "total_quantity": 10, "valid_days": 7},
                          "SELECT shop_create_coupon('pkgtest 1,000 off', 'FIXED', 1000, NULL, 0, 10,"
                          " now(), now() + interval '30 days', 7) ->> 'id'", "coupon campaign")
    r = request("GET", f"{api}/admin/status")
    check("GET /api/admin/status is 200 JSON", r.status == 200 and is_json(r), r)
    # Only the shop-admin mount serves admin routes.
    r = request("POST", f"{api}/x/admin/users", {"login": "pkgtest-x"}, headers=key())
    check("POST /api/x/admin/users is 404", r.status == 404, r)
    r = request("POST", f"{api}/users/admin/users", {"login": "pkgtest-y"}, headers=key())
    check("POST /api/users/admin/users is not 201", r.status != 201, r)

    if None in (uid, other, coupon) or any(p[0] is None for p in products):
        check("users, products and the campaign exist (no further checks without them)", False)
        return state
    state.update(uid=uid, login=l1, password=p1, product=products[0][0],
                 product_stock=products[0][2])
    auth = basic(l1, p1)

    # ShopUserAuth remote-user, with the example's basic auth.
    r = request("GET", f"{api}/users/{uid}/points")
    check("remote-user: no credentials is 401", r.status == 401, r)
    r = request("GET", f"{api}/users/{uid}/points", headers=basic(l2, p2))
    check("remote-user: another user's credentials is 403", r.status == 403, r)
    r = request("GET", f"{api}/users/{uid}/points", headers=auth)
    check("remote-user: GET own points is 200, balance 0",
          r.status == 200 and r.json == {"user_id": uid, "balance": 0}, r)

    r = request("POST", f"{api}/users/{uid}/points/charge", {"amount": 50000},
                headers={**auth, **key()})
    check("charge 50000 is 200, balance 50000", r.status == 200 and r.json is not None
          and r.json.get("balance") == 50000, r)

    r = request("POST", f"{api}/users/{uid}/coupons", {"coupon_id": coupon},
                headers={**auth, **key()})
    ok = check("coupon issued (201 AVAILABLE)", r.status == 201 and r.json is not None
               and r.json.get("status") == "AVAILABLE", r)
    user_coupon = r.json.get("user_coupon_id") if ok else None

    (pa, pricea, _), (pb, priceb, _) = products
    total = 2 * pricea + priceb
    r = request("POST", f"{api}/users/{uid}/orders",
                {"items": [{"product_id": pa, "quantity": 2}, {"product_id": pb, "quantity": 1}]},
                headers={**auth, **key()})
    ok = check(f"order created (201 AWAITING_PAYMENT, total {total})",
               r.status == 201 and r.json is not None and r.json.get("status") == "AWAITING_PAYMENT"
               and r.json.get("total_amount") == total, r)
    order = r.json.get("order_id") if ok else None
    state["product_stock"] -= 2 if ok else 0

    if order is not None:
        body = {"user_coupon_id": user_coupon} if user_coupon is not None else {}
        r = request("POST", f"{api}/users/{uid}/orders/{order}/payment", body,
                    headers={**auth, **key()})
        want = {"order_id": order, "status": "PAID", "total_amount": total,
                "discount_amount": 1000, "paid_amount": total - 1000,
                "balance": 50000 - (total - 1000)}
        check("payment with the coupon is 200 PAID with the discount",
              r.status == 200 and isinstance(r.json, dict)
              and {k: r.json.get(k) for k in want} == want, r)
        r = request("GET", f"{api}/users/{uid}/orders/{order}", headers=auth)
        check("GET the order says PAID", r.status == 200 and r.json is not None
              and r.json.get("status") == "PAID", r)
    r = request("GET", f"{api}/users/{uid}/points", headers=auth)
    check("balance after payment", r.status == 200 and r.json is not None
          and r.json.get("balance") == 50000 - (total - 1000), r)
    state["balance"] = r.json.get("balance") if r.json else None

    r = request("GET", f"{api}/products/popular")
    check("GET /api/products/popular is 200 JSON with items", r.status == 200 and is_json(r)
          and isinstance(r.json.get("items"), list), r)
    return state


def again(a):
    s = json.loads(Path(a.state).read_text())
    if not s.get("uid"):
        check("after graceful: state from the first smoke (it failed early)", False)
        return s
    api, auth = a.base, basic(s["login"], s["password"])
    r = request("GET", f"{api}/products/{s['product']}")
    check("after graceful: GET /api/products/{id} is 200 with the reserved stock",
          r.status == 200 and r.json is not None and r.json.get("stock") == s["product_stock"], r)
    r = request("POST", f"{api}/users/{s['uid']}/points/charge", {"amount": 1000},
                headers={**auth, **key()})
    check("after graceful: charge 1000 is 200",
          r.status == 200 and r.json is not None and r.json.get("charged") == 1000
          and (s.get("balance") is None or r.json.get("balance") == s["balance"] + 1000), r)
    return s


def main():
    p = argparse.ArgumentParser()
    p.add_argument("phase", choices=("full", "again"))
    p.add_argument("--base", required=True, help="API base URL, e.g. http://127.0.0.1:8080/api")
    p.add_argument("--other", help="base URL of the other site")
    p.add_argument("--root", help="the test root (for the SQL fallback)")
    p.add_argument("--user", action="append", default=[], help="LOGIN:PASSWORD (two for full)")
    p.add_argument("--state", required=True)
    p.add_argument("--results", required=True)
    a = p.parse_args()
    try:
        if a.phase == "full":
            Path(a.state).write_text(json.dumps(full(a)))
        else:
            again(a)
    except Exception as e:  # noqa: BLE001 - a crash is one failed check, not a traceback only
        check(f"smoke {a.phase} ran to the end", False, f"{type(e).__name__}: {e}")
    Path(a.results).write_text(f"{passed} {failed}\n")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
