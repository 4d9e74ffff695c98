"""Where the API is mounted, and that nested <Location> guards hold.

The mount is the <Location> whose SetHandler made the request mod_shop's;
an admin route reached through any other path must not exist, or a
`Require` on <Location /api/admin> could be walked around.
"""
import json
import re
import socket

from shopclient import assert_problem, request


DENY_ADMIN = """
<Location "/api/admin">
    Require all denied
</Location>
"""

SECOND_MOUNT = """
<Location "/shop/v1">
    SetHandler shop
</Location>
"""


def test_admin_guard_cannot_be_bypassed(stack):
    with stack.httpd(DENY_ADMIN, "deny-admin") as inst:
        assert request("GET", inst.base + "/admin/status").status == 403
        for sneaky in ("/users/1/admin/status", "/x/admin/status",
                       "/products/admin/status", "/api/admin/status"):
            r = request("GET", inst.base + sneaky)
            assert r.status == 404, (sneaky, r.status, r.body)
        before = stack.psql("SELECT count(*) FROM users")
        r = request("POST", inst.base + "/x/admin/users", {"login": "sneaky_1"})
        assert r.status == 404
        assert stack.psql("SELECT count(*) FROM users") == before


def test_routes_are_relative_to_their_location(stack):
    with stack.httpd(SECOND_MOUNT, "second-mount") as inst:
        root = inst.base[: -len("/api")]
        assert request("GET", root + "/shop/v1/products/1").status == 200
        assert request("GET", inst.base + "/products/1").status == 200
        assert request("GET", root + "/shop/v1/api/products/1").status == 404
        # outside every mount: httpd itself answers (the default <Directory /> denial)
        assert request("GET", root + "/shop/products/1").status == 403


def test_shop_mount_pins_the_mount(stack):
    conf = '<Location "/api">\n    ShopMount /api\n</Location>\n'
    with stack.httpd(conf, "pinned") as inst:
        assert request("GET", inst.base + "/products/1").status == 200
        assert request("GET", inst.base + "/v2/products/1").status == 404


# --- admin routes only under shop-admin (issue 9) ------------------------------

ADMIN_ELSEWHERE = """
<Location "/shop/v1">
    SetHandler shop
</Location>
<Location "/backoffice">
    SetHandler shop-admin
    Require local
</Location>
"""


def test_a_shop_mount_never_answers_an_admin_route(stack):
    with stack.httpd(ADMIN_ELSEWHERE, "admin-elsewhere") as inst:
        root = inst.base[: -len("/api")]
        before = stack.psql("SELECT count(*) FROM users")
        for base in (root + "/shop/v1", inst.base + "/x"):
            r = request("POST", base + "/admin/users", {"login": "sneaky_2"})
            assert_problem(r, 404, "NOT_FOUND")
            assert_problem(request("GET", base + "/admin/status"), 404, "NOT_FOUND")
        assert stack.psql("SELECT count(*) FROM users") == before
        # the shop-admin mounts answer: its <Location> is the admin root
        assert request("GET", root + "/backoffice/status").status == 200
        assert request("GET", inst.base + "/admin/status").status == 200


def test_shop_admin_serves_no_api_route(stack):
    r = request("GET", stack.base + "/admin/users/1/points")
    assert_problem(r, 404, "NOT_FOUND")
    r = request("GET", stack.base + "/admin/products")
    assert_problem(r, 405, "METHOD_NOT_ALLOWED")
    assert r.headers.get("allow") == "POST"


def test_httpds_own_refusals_are_problem_json(stack):
    with stack.httpd(DENY_ADMIN, "deny-admin-problem") as inst:
        p = assert_problem(request("GET", inst.base + "/admin/status"), 403, "FORBIDDEN")
        assert "403" in p["detail"]
        # titled by what it is, never with the remote-user refusal's title
        assert p["title"] == "Forbidden", p


def test_a_401_keeps_the_authn_modules_challenge(stack):
    path = stack.htpasswd("mount-user", "pw")
    conf = f"""
<Location "/api/users">
    AuthType Basic
    AuthName "shop users"
    AuthBasicProvider file
    AuthUserFile "{path}"
    Require valid-user
</Location>
"""
    with stack.httpd(conf, "challenge") as inst:
        r = request("GET", inst.base + "/users/1/points")
        assert assert_problem(r, 401, "UNAUTHENTICATED")["title"] == "Unauthorized"
        assert r.headers.get("www-authenticate") == 'Basic realm="shop users"'


def test_limit_request_body_answers_problem_json(stack):
    conf = '<Location "/api">\n    LimitRequestBody 1024\n</Location>\n'
    with stack.httpd(conf, "limit-body") as inst:
        before = stack.psql("SELECT count(*) FROM users")
        r = request("POST", inst.base + "/admin/users",
                    {"login": "big_" + "x" * 20, "pad": "y" * 4000})
        assert_problem(r, 413, "PAYLOAD_TOO_LARGE")    # mod_shop's own: it reads the limit
        assert stack.psql("SELECT count(*) FROM users") == before


def test_a_bad_header_under_the_mount_is_problem_json(stack):
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as s:
        s.sendall(b"GET /api/products HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Bad Header: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 400"), answer
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in lines[1:])}
    assert headers["content-type"] == "application/problem+json; charset=utf-8", answer
    # mod_unique_id is loaded: httpd's 400 carries a UNIQUE_ID as every other answer does
    # (URL-safe base64 of one length), not the fallback "pid-time-connection"
    other = request("GET", stack.base + "/products").headers["x-request-id"]
    rid = headers["x-request-id"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{19,}", other), other
    assert re.fullmatch(r"[A-Za-z0-9_-]+", rid) and len(rid) == len(other), (rid, other)
    assert rid != other
    problem = json.loads(body)
    assert problem["status"] == 400 and problem["code"] == "INVALID_REQUEST", problem
