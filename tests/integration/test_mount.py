"""Where the API is mounted, and that nested <Location> guards hold.

The mount is the <Location> whose SetHandler made the request mod_shop's;
an admin route reached through any other path must not exist, or a
`Require` on <Location /api/admin> could be walked around.
"""
from shopclient import request


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
        assert request("GET", root + "/shop/products/1").status in (403, 404)


def test_shop_mount_pins_the_mount(stack):
    conf = '<Location "/api">\n    ShopMount /api\n</Location>\n'
    with stack.httpd(conf, "pinned") as inst:
        assert request("GET", inst.base + "/products/1").status == 200
        assert request("GET", inst.base + "/v2/products/1").status == 404
