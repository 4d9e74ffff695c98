"""ShopUserAuth remote-user: only the user whose login httpd authenticated may act."""

import base64
import uuid

import pytest

from shopclient import assert_problem, charge, issue, ledger, new_campaign, new_user, ok, request


def basic(user, password):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture(scope="module")
def basic_auth(stack):
    """An extra httpd whose /api/users needs basic auth, and two users in it.

    Yields (instance, [(uid, login, password), ...]); a third htpasswd user
    ("stranger") has no shop user at all.
    """
    tag = uuid.uuid4().hex[:8]
    people = []
    for who in ("owner", "other"):
        login, password = f"{who}.{tag}@example", f"pw-{who}-{tag}"
        uid = new_user(stack, login=login)
        stack.htpasswd(login, password)
        people.append((uid, login, password))
    stranger = (f"stranger{tag}", "pw-stranger")
    path = stack.htpasswd(*stranger)
    conf = f"""
ShopUserAuth remote-user
<Location "/api/users">
    AuthType Basic
    AuthName shop
    AuthBasicProvider file
    AuthUserFile "{path}"
    Require valid-user
</Location>
"""
    with stack.httpd(conf, "remote-user") as inst:
        yield inst, people, stranger


def test_owner_may_read_and_charge(stack, basic_auth):
    inst, [(uid, login, pw), _], _ = basic_auth
    before = ledger(stack, uid)
    auth = basic(login, pw)
    r = request("GET", f"{inst.base}/users/{uid}/points", headers=auth)
    assert r.status == 200, r
    assert r.json == {"user_id": uid, "balance": before[0]}
    r = charge(inst, uid, 500, headers=auth)
    assert r.status == 200, r
    assert r.json == {"user_id": uid, "charged": 500, "balance": before[0] + 500}
    r = request("GET", f"{inst.base}/users/{uid}/points/history", headers=auth)
    assert r.status == 200, r
    assert r.json["items"][0]["amount"] == 500
    assert ledger(stack, uid) == (before[0] + 500, before[1] + 1, before[2] + 500)


def test_another_users_id_is_403(stack, basic_auth):
    inst, [(owner, login, pw), (other, _, _)], _ = basic_auth
    auth = basic(login, pw)
    before = ledger(stack, other)
    p = assert_problem(request("GET", f"{inst.base}/users/{other}/points", headers=auth),
                       403, "FORBIDDEN")
    assert p["title"] == "Not allowed to act for this user", p   # this refusal's own
    assert_problem(charge(inst, other, 500, headers=auth), 403, "FORBIDDEN")
    assert_problem(request("GET", f"{inst.base}/users/{other}/points/history", headers=auth),
                   403, "FORBIDDEN")
    assert ledger(stack, other) == before


def test_authenticated_login_without_a_shop_user_is_refused(stack, basic_auth):
    inst, [(owner, _, _), _], (login, pw) = basic_auth
    before = ledger(stack, owner)
    r = charge(inst, owner, 500, headers=basic(login, pw))
    assert_problem(r, 403, "FORBIDDEN")
    assert ledger(stack, owner) == before


def test_unknown_user_id_is_never_served(stack, basic_auth):
    inst, [(_, login, pw), _], _ = basic_auth
    missing = int(stack.psql("SELECT coalesce(max(id), 0) + 1000 FROM users"))
    r = request("GET", f"{inst.base}/users/{missing}/points", headers=basic(login, pw))
    assert_problem(r, 403, "FORBIDDEN")     # identity first: not the caller's id


# Every user-scoped route, with bodies that are wrong in every other way:
# acting for another user is 403 before validation (400/422), before 404
# and before any business refusal (issue 15).
BAD_BODIES = {"charge": {"amount": -5}, "order": {"items": []}, "coupon": {"coupon_id": "x"},
              "pay": {"user_coupon_id": -1}}


def user_routes(uid):
    return [
        ("GET", f"/users/{uid}/points", None),
        ("POST", f"/users/{uid}/points/charge", BAD_BODIES["charge"]),
        ("GET", f"/users/{uid}/points/history?limit=0", None),
        ("GET", f"/users/{uid}/orders?cursor=junk", None),
        ("POST", f"/users/{uid}/orders", BAD_BODIES["order"]),
        ("GET", f"/users/{uid}/orders/999999999", None),
        ("GET", f"/users/{uid}/orders/999999999/coupons", None),
        ("POST", f"/users/{uid}/orders/999999999/payment", BAD_BODIES["pay"]),
        ("POST", f"/users/{uid}/orders/999999999/cancel", None),
        ("GET", f"/users/{uid}/coupons?limit=1000", None),
        ("POST", f"/users/{uid}/coupons", BAD_BODIES["coupon"]),
    ]


def test_403_comes_before_everything_else_on_every_user_route(stack, basic_auth):
    inst, [(owner, login, pw), (other, _, _)], _ = basic_auth
    auth = basic(login, pw)
    before = ledger(stack, other)
    for method, path, body in user_routes(other):
        r = request(method, inst.base + path, body, headers=auth)
        assert_problem(r, 403, "FORBIDDEN")
        # the same request for oneself is judged on its content instead
        mine = request(method, inst.base + path.replace(f"/users/{other}/", f"/users/{owner}/"),
                       body, headers=auth)
        assert mine.status != 403, (method, path, mine)
    assert ledger(stack, other) == before


def test_403_before_sold_out(stack, basic_auth):
    inst, [(owner, login, pw), (other, _, _)], _ = basic_auth
    cid = new_campaign(stack, total_quantity=1)["id"]
    ok(issue(stack, new_user(stack), cid), 201)
    assert_problem(issue(stack, new_user(stack), cid), 409, "SOLD_OUT")
    assert_problem(issue(inst.base, other, cid, headers=basic(login, pw)), 403, "FORBIDDEN")


@pytest.mark.parametrize("headers", [{}, "wrong-password"], ids=["none", "wrong-password"])
def test_no_valid_credentials_is_401(stack, basic_auth, headers):
    inst, [(uid, login, _), _], _ = basic_auth
    if headers == "wrong-password":
        headers = basic(login, "not-the-password")
    before = ledger(stack, uid)
    r = request("GET", f"{inst.base}/users/{uid}/points", headers=headers)
    assert r.status == 401, r
    assert r.headers.get("www-authenticate", "").startswith("Basic")
    r = charge(inst, uid, 500, headers=headers)
    assert r.status == 401, r
    assert ledger(stack, uid) == before


def test_routes_outside_users_stay_open(stack, basic_auth):
    inst, _, _ = basic_auth
    r = request("GET", f"{inst.base}/products")
    assert r.status == 200, r


def test_the_main_server_still_lets_anyone_act(stack, basic_auth):
    # ShopUserAuth is set in the extra server only; the main one is "none"
    _, [(uid, _, _), _], _ = basic_auth
    assert request("GET", f"{stack.base}/users/{uid}/points").status == 200


def test_without_an_authenticated_user_mod_shop_answers_401(stack):
    # remote-user mode where httpd does not authenticate anyone: r->user is
    # NULL, and mod_shop itself must refuse.
    uid = new_user(stack)
    conf = 'ShopUserAuth remote-user\n'
    with stack.httpd(conf, "remote-user-noauth") as inst:
        r = request("GET", f"{inst.base}/users/{uid}/points")
        assert_problem(r, 401, "UNAUTHENTICATED")
        r = charge(inst, uid, 500)
        assert_problem(r, 401, "UNAUTHENTICATED")
        # credentials that nothing checks do not make a user either
        r = charge(inst, uid, 500, headers=basic("whoever", "x"))
        assert_problem(r, 401, "UNAUTHENTICATED")
        assert request("GET", f"{inst.base}/products").status == 200
    assert ledger(stack, uid) == (0, 0, 0)


def test_open_user_auth_on_a_public_address_is_warned_about(stack):
    # A virtual host on a non-loopback address (TEST-NET-1, never bound by
    # httpd: only Listen binds) with the default ShopUserAuth none.
    conf = """
<VirtualHost 192.0.2.10:80>
    ServerName public.example
</VirtualHost>
"""
    with stack.httpd(conf, "public-vhost") as inst:
        log = inst.error_log()
    assert "SHOP00002: ShopUserAuth none on public.example, which answers on 192.0.2.10:80" in log
    with stack.httpd(conf + "ShopUserAuth remote-user\n", "public-vhost-closed") as inst:
        assert "ShopUserAuth none" not in inst.error_log()
    assert "ShopUserAuth none" not in stack.error_log()     # loopback only
