"""Admin routes: create users and products, change products."""

import re
import uuid

import pytest

from shopclient import assert_problem, new_product, parallel, request

RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
MAX_SAFE = 2**53 - 1


def uniq(prefix="adm"):
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def create_user(stack, body):
    return request("POST", f"{stack.base}/admin/users", body)


def create_product(stack, body):
    return request("POST", f"{stack.base}/admin/products", body)


def patch_product(stack, pid, body):
    return request("PATCH", f"{stack.base}/admin/products/{pid}", body)


def count(stack, sql):
    return int(stack.psql(f"SELECT count(*) FROM {sql}"))


def product_row(stack, pid):
    return stack.psql(f"SELECT name, price, shop_product_stock(id), on_sale FROM products WHERE id = {pid}")


# --- users ------------------------------------------------------------------------

def test_create_user(stack):
    login = uniq("Ab.c_d@e-")
    r = create_user(stack, {"login": login})
    assert r.status == 201, r
    assert r.headers["content-type"].split(";")[0].strip() == "application/json"
    body = r.json
    assert set(body) == {"id", "login", "balance", "created_at"}, body
    assert type(body["id"]) is int and body["id"] > 0
    assert (body["login"], body["balance"]) == (login, 0)
    assert RFC3339_UTC.match(body["created_at"]), body
    assert stack.psql(f"SELECT login, balance FROM users WHERE id = {body['id']}") == f"{login}|0"
    r = request("GET", f"{stack.base}/users/{body['id']}/points")
    assert r.json == {"user_id": body["id"], "balance": 0}


@pytest.mark.parametrize("length", [1, 64])
def test_login_length_bounds_are_accepted(stack, length):
    # (the database is new for each run, and no other test makes 1-char logins)
    login = (uuid.uuid4().hex * 2)[:length]
    r = create_user(stack, {"login": login})
    assert r.status == 201, r
    assert r.json["login"] == login


def test_duplicate_login_is_409_login_taken(stack):
    login = uniq()
    assert create_user(stack, {"login": login}).status == 201
    r = create_user(stack, {"login": login})
    assert_problem(r, 409, "LOGIN_TAKEN")
    assert count(stack, f"users WHERE login = '{login}'") == 1


BAD_LOGINS = ["", "a" * 65, "with space", "slash/y", "colon:x", "quote'x", "é", "tab\tx",
              "new\nline", "percent%", "semi;colon", "nul\x00byte", "\ud800",
              123, None, True, ["x"], {"x": 1}]


@pytest.mark.parametrize("login", BAD_LOGINS, ids=[repr(x)[:20] for x in BAD_LOGINS])
def test_bad_login_is_400(stack, login):
    before = count(stack, "users")
    assert_problem(create_user(stack, {"login": login}), 400, "INVALID_REQUEST")
    assert count(stack, "users") == before


def test_parallel_creates_of_one_login_make_one_user(stack):
    login = uniq("race")
    rs = parallel(12, lambda i: create_user(stack, {"login": login}))
    created = [r for r in rs if r.status == 201]
    assert len(created) == 1, rs
    for r in rs:
        if r.status != 201:
            assert_problem(r, 409, "LOGIN_TAKEN")
    assert count(stack, f"users WHERE login = '{login}'") == 1


@pytest.mark.parametrize("raw", [b"{}", b'{"name": "x"}', b"[]", b"{", b'{"login": "a", "login": "b"}'])
def test_bad_user_body_is_400(stack, raw):
    before = count(stack, "users")
    r = request("POST", f"{stack.base}/admin/users", raw=raw,
                headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "INVALID_REQUEST")
    assert count(stack, "users") == before


# --- products -------------------------------------------------------------------------

def test_create_product_defaults_to_on_sale(stack):
    name = uniq("Prod ")
    r = create_product(stack, {"name": name, "price": 4500, "stock": 7})
    assert r.status == 201, r
    body = r.json
    assert set(body) >= {"id", "name", "price", "stock", "on_sale"}, body
    assert (body["name"], body["price"], body["stock"], body["on_sale"]) == (name, 4500, 7, True)
    assert product_row(stack, body["id"]) == f"{name}|4500|7|t"
    r = request("GET", f"{stack.base}/products/{body['id']}")
    assert r.status == 200 and r.json["name"] == name, r


def test_create_product_not_on_sale(stack):
    r = create_product(stack, {"name": "offsale", "price": 1, "stock": 1, "on_sale": False})
    assert r.status == 201, r
    assert r.json["on_sale"] is False
    assert product_row(stack, r.json["id"]) == "offsale|1|1|f"
    assert_problem(request("GET", f"{stack.base}/products/{r.json['id']}"), 404,
                   "PRODUCT_NOT_FOUND")


@pytest.mark.parametrize("fields", [
    {"name": "x" * 200, "price": 0, "stock": 0},
    {"name": "n", "price": MAX_SAFE, "stock": MAX_SAFE},
    {"name": "\u2603 unicode \U0001F600", "price": 5, "stock": 5},
    {"name": "\u00e9" * 200, "price": 5, "stock": 5},         # 200 characters, 400 bytes
    {"name": "\U0001F600" * 200, "price": 5, "stock": 5},     # 200 characters, 800 bytes
], ids=["200-ascii", "max-safe", "unicode", "200-latin", "200-emoji"])
def test_create_product_bounds_are_accepted(stack, fields):
    r = create_product(stack, fields)
    assert r.status == 201, r
    assert {k: r.json[k] for k in fields} == fields
    got = request("GET", f"{stack.base}/products/{r.json['id']}").json
    assert {k: got[k] for k in fields} == fields


BAD_PRODUCTS = [
    {"price": 1, "stock": 1},
    {"name": "", "price": 1, "stock": 1},
    {"name": "x" * 201, "price": 1, "stock": 1},
    {"name": "\u00e9" * 201, "price": 1, "stock": 1},
    {"name": "nul\x00inside", "price": 1, "stock": 1},
    {"name": "\udc00", "price": 1, "stock": 1},
    {"name": 5, "price": 1, "stock": 1},
    {"name": None, "price": 1, "stock": 1},
    {"name": "p", "stock": 1},
    {"name": "p", "price": 1},
    {"name": "p", "price": -1, "stock": 1},
    {"name": "p", "price": 1, "stock": -1},
    {"name": "p", "price": 1.5, "stock": 1},
    {"name": "p", "price": 100.0, "stock": 1},
    {"name": "p", "price": "100", "stock": 1},
    {"name": "p", "price": 1, "stock": "1"},
    {"name": "p", "price": True, "stock": 1},
    {"name": "p", "price": None, "stock": 1},
    {"name": "p", "price": MAX_SAFE + 1, "stock": 1},
    {"name": "p", "price": 1, "stock": MAX_SAFE + 1},
    {"name": "p", "price": 2**63, "stock": 1},
    {"name": "p", "price": 1, "stock": 1, "on_sale": "yes"},
    {"name": "p", "price": 1, "stock": 1, "on_sale": 1},
]


@pytest.mark.parametrize("body", BAD_PRODUCTS, ids=[str(i) for i in range(len(BAD_PRODUCTS))])
def test_bad_product_is_rejected(stack, body):
    before = count(stack, "products")
    assert_problem(create_product(stack, body), 400, "INVALID_REQUEST")
    assert count(stack, "products") == before


# --- patch ----------------------------------------------------------------------------

def test_patch_each_field(stack):
    pid = new_product(stack, "patchme", 1000, 10)
    r = patch_product(stack, pid, {"price": 1500})
    assert r.status == 200, r
    assert {k: r.json[k] for k in ("id", "name", "price", "stock", "on_sale")} == \
        {"id": pid, "name": "patchme", "price": 1500, "stock": 10, "on_sale": True}
    assert product_row(stack, pid) == "patchme|1500|10|t"

    r = patch_product(stack, pid, {"stock": 0})
    assert r.status == 200, r
    assert (r.json["price"], r.json["stock"]) == (1500, 0)
    assert product_row(stack, pid) == "patchme|1500|0|t"

    r = patch_product(stack, pid, {"on_sale": False})
    assert r.status == 200, r
    assert r.json["on_sale"] is False
    assert product_row(stack, pid) == "patchme|1500|0|f"
    assert_problem(request("GET", f"{stack.base}/products/{pid}"), 404, "PRODUCT_NOT_FOUND")

    r = patch_product(stack, pid, {"on_sale": True, "price": 7, "stock": MAX_SAFE})
    assert r.status == 200, r
    assert (r.json["price"], r.json["stock"], r.json["on_sale"]) == (7, MAX_SAFE, True)
    got = request("GET", f"{stack.base}/products/{pid}")
    assert got.status == 200 and (got.json["price"], got.json["stock"]) == (7, MAX_SAFE), got


def test_patch_works_on_a_product_not_on_sale(stack):
    r = create_product(stack, {"name": "hiddenpatch", "price": 1, "stock": 1, "on_sale": False})
    pid = r.json["id"]
    r = patch_product(stack, pid, {"stock": 3})
    assert r.status == 200, r
    assert product_row(stack, pid) == "hiddenpatch|1|3|f"


@pytest.mark.parametrize("bad", ["abc", "-1", "0", "99999999999999999999", "big"])
def test_patch_unknown_product_is_404(stack, bad):
    if bad == "big":
        bad = int(stack.psql("SELECT coalesce(max(id), 0) + 1000 FROM products"))
    r = patch_product(stack, bad, {"price": 5})
    assert_problem(r, 404, "PRODUCT_NOT_FOUND")


@pytest.mark.parametrize("body", [
    {}, {"name": "renamed"}, {"price": -1}, {"stock": -1}, {"price": 1.5}, {"price": "5"},
    {"stock": None}, {"on_sale": "false"}, {"on_sale": 0}, {"price": MAX_SAFE + 1},
    {"price": 5, "stock": -5},
], ids=lambda b: repr(b)[:30])
def test_bad_patch_is_rejected_and_changes_nothing(stack, body):
    pid = new_product(stack, "badpatch", 1000, 10)
    r = patch_product(stack, pid, body)
    assert_problem(r, 400, "INVALID_REQUEST")
    assert product_row(stack, pid) == "badpatch|1000|10|t"


def test_patch_without_json_content_type_is_415(stack):
    pid = new_product(stack, "ctype", 1000, 10)
    r = request("PATCH", f"{stack.base}/admin/products/{pid}", raw=b'{"price": 1}',
                headers={"Content-Type": "text/plain"})
    assert_problem(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert product_row(stack, pid) == "ctype|1000|10|t"
