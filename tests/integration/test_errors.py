"""Generic error handling: problem+json, X-Request-Id, 404/405/413/415 and bad input.

The shared helpers assert_problem() (the RFC 9457 shape every error must
have) and ledger() (a user's balance and point history straight from the
database) live in shopclient.py.
"""

import http.client
import json

import pytest

from shopclient import (Headers, Response, assert_problem, charge, ledger, new_product, new_user,
                        request)


def db_totals(stack):
    """(sum of all balances, number of history rows, number of users) in the database."""
    row = stack.psql("SELECT (SELECT coalesce(sum(balance), 0) FROM users),"
                     " (SELECT count(*) FROM point_history), (SELECT count(*) FROM users)")
    return tuple(int(x) for x in row.split("|"))


# --- X-Request-Id ---------------------------------------------------------------

def test_every_response_has_a_unique_request_id(stack):
    uid = new_user(stack)
    pid = new_product(stack, "rid", 100, 1)
    responses = [
        request("GET", f"{stack.base}/users/{uid}/points"),                     # 200
        charge(stack, uid, 10),                                                 # 200
        request("GET", f"{stack.base}/products/{pid}"),                         # 200
        request("GET", f"{stack.base}/no/such/route"),                          # 404
        request("DELETE", f"{stack.base}/users/{uid}/points"),                  # 405
        request("POST", f"{stack.base}/users/{uid}/points/charge", raw=b"{"),   # 415
        charge(stack, uid, 0),                                                  # 422
        charge(stack, 999999999999, 5),                                         # 404
    ]
    assert [r.status for r in responses] == [200, 200, 200, 404, 405, 415, 422, 404]
    ids = [r.headers.get("x-request-id") for r in responses]
    assert all(ids), responses
    assert len(set(ids)) == len(ids), ids


def test_success_responses_are_json(stack):
    uid = new_user(stack)
    r = request("GET", f"{stack.base}/users/{uid}/points")
    assert r.status == 200
    assert r.headers["content-type"].split(";")[0].strip() == "application/json"
    assert r.json == {"user_id": uid, "balance": 0}


# --- unknown routes and wrong methods --------------------------------------------

@pytest.mark.parametrize("path", [
    "/", "/nope", "/users", "/users/1", "/users/1/points/nope", "/users/1/pointsx",
    "/users/1/points/charge/x", "/products/1/x", "/admin", "/admin/nope",
    "/admin/users/1", "/PRODUCTS",
])
def test_unknown_route_is_404_not_found(stack, path):
    r = request("GET", stack.base + path)
    assert_problem(r, 404, "NOT_FOUND")


def test_unknown_route_with_post_is_404_and_reads_no_body(stack):
    r = request("POST", f"{stack.base}/nope", {"amount": 1})
    assert_problem(r, 404, "NOT_FOUND")


@pytest.mark.parametrize("method,path,allow", [
    ("POST", "/users/{uid}/points", {"GET"}),
    ("DELETE", "/users/{uid}/points", {"GET"}),
    ("GET", "/users/{uid}/points/charge", {"POST"}),
    ("PUT", "/users/{uid}/points/charge", {"POST"}),
    ("POST", "/users/{uid}/points/history", {"GET"}),
    ("POST", "/products", {"GET"}),
    ("POST", "/products/{pid}", {"GET"}),
    ("PATCH", "/products/{pid}", {"GET"}),
    ("DELETE", "/products/{pid}", {"GET"}),
    ("GET", "/admin/users", {"POST"}),
    ("GET", "/admin/products", {"POST"}),
    ("GET", "/admin/products/{pid}", {"PATCH"}),
    ("POST", "/admin/products/{pid}", {"PATCH"}),
])
def test_wrong_method_is_405_with_allow(stack, method, path, allow):
    uid = new_user(stack)
    pid = new_product(stack, "m405", 100, 1)
    before = db_totals(stack)
    url = stack.base + path.format(uid=uid, pid=pid)
    body = {"amount": 5} if method in ("POST", "PUT", "PATCH") else None
    r = request(method, url, body)
    assert_problem(r, 405, "METHOD_NOT_ALLOWED")
    got = {m.strip().upper() for m in r.headers.get("allow", "").split(",") if m.strip()}
    # HEAD may come along with GET; nothing else may.
    assert got - {"HEAD"} == allow, r.headers
    assert db_totals(stack) == before


# --- 415 / 413 -------------------------------------------------------------------

@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded",
                                   "application/jsonx", "json"])
def test_charge_without_json_content_type_is_415(stack, ctype):
    uid = new_user(stack)
    headers = {} if ctype is None else {"Content-Type": ctype}
    r = request("POST", f"{stack.base}/users/{uid}/points/charge",
                raw=b'{"amount": 1000}', headers=headers)
    assert_problem(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert ledger(stack, uid) == (0, 0, 0)


@pytest.mark.parametrize("ctype", ["application/json; charset=utf-8",
                                   "application/json;charset=UTF-8",
                                   "Application/JSON"])
def test_charge_accepts_json_content_type_variants(stack, ctype):
    uid = new_user(stack)
    r = request("POST", f"{stack.base}/users/{uid}/points/charge",
                raw=b'{"amount": 1000}', headers={"Content-Type": ctype})
    assert r.status == 200, r
    assert r.json == {"user_id": uid, "charged": 1000, "balance": 1000}
    assert ledger(stack, uid) == (1000, 1, 1000)


def test_admin_post_without_content_type_is_415(stack):
    before = db_totals(stack)
    r = request("POST", f"{stack.base}/admin/users", raw=b'{"login": "nobody415"}')
    assert_problem(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert db_totals(stack) == before


def test_one_mebibyte_body_is_413_and_changes_nothing(stack):
    uid = new_user(stack)
    # valid JSON, 1 MiB: only its size is wrong
    raw = b'{"amount": 1000, "pad": "' + b"x" * (1 << 20) + b'"}'
    r = request("POST", f"{stack.base}/users/{uid}/points/charge", raw=raw,
                headers={"Content-Type": "application/json"})
    assert_problem(r, 413, "PAYLOAD_TOO_LARGE")
    assert ledger(stack, uid) == (0, 0, 0)


def chunked_post(url, chunks, ctype="application/json"):
    """POST with Transfer-Encoding: chunked (no Content-Length): (status, headers, body)."""
    host_port = url.split("/")[2]
    path = "/" + url.split("/", 3)[3]
    host, port = host_port.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", path, body=iter(chunks), encode_chunked=True,
                     headers={"Content-Type": ctype, "Connection": "close"})
        r = conn.getresponse()
        return Response(r.status, Headers(r.getheaders()), r.read())
    finally:
        conn.close()


def test_chunked_body_is_read(stack):
    uid = new_user(stack)
    r = chunked_post(f"{stack.base}/users/{uid}/points/charge", [b'{"amo', b'unt": 4', b"2}"])
    assert r.status == 200, r
    assert r.json == {"user_id": uid, "charged": 42, "balance": 42}


def test_chunked_body_over_the_limit_is_413(stack):
    uid = new_user(stack)
    chunks = [b'{"amount": 1000, "pad": "'] + [b"x" * 8192] * 16 + [b'"}']
    r = chunked_post(f"{stack.base}/users/{uid}/points/charge", chunks)
    assert_problem(r, 413, "PAYLOAD_TOO_LARGE")
    assert ledger(stack, uid) == (0, 0, 0)


def test_body_limit_is_64_kib(stack):
    uid = new_user(stack)

    def padded(size):
        head = b'{"amount": 7, "pad": "'
        raw = head + b"x" * (size - len(head) - 2) + b'"}'
        assert len(raw) == size
        return raw

    url = f"{stack.base}/users/{uid}/points/charge"
    hdr = {"Content-Type": "application/json"}
    r = request("POST", url, raw=padded(65536), headers=hdr)
    assert r.status == 200, r
    r = request("POST", url, raw=padded(65537), headers=hdr)
    assert_problem(r, 413, "PAYLOAD_TOO_LARGE")
    assert ledger(stack, uid) == (7, 1, 7)


# --- bad JSON bodies ----------------------------------------------------------------

BAD_BODIES = [
    # (raw body, allowed statuses, allowed codes)
    (b"", 400, "INVALID_REQUEST"),
    (b"{", 400, "INVALID_REQUEST"),
    (b'{"amount": 1000', 400, "INVALID_REQUEST"),
    (b"amount=1000", 400, "INVALID_REQUEST"),
    (b'{"amount": 1000} x', 400, "INVALID_REQUEST"),
    (b'{"amount": 1000}{"amount": 1000}', 400, "INVALID_REQUEST"),
    (b"[]", 400, "INVALID_REQUEST"),
    (b'[{"amount": 1000}]', 400, "INVALID_REQUEST"),
    (b'"1000"', 400, "INVALID_REQUEST"),
    (b"1000", 400, "INVALID_REQUEST"),
    (b"null", 400, "INVALID_REQUEST"),
    (b"{}", 400, "INVALID_REQUEST"),
    (b'{"Amount": 1000}', 400, "INVALID_REQUEST"),
    (b'{"amount": 1e3}', 400, "INVALID_REQUEST"),
    (b'{"amount": 1000.0}', 400, "INVALID_REQUEST"),
    (b'{"amount": 999.5}', 400, "INVALID_REQUEST"),
    (b'{"amount": "1000"}', 400, "INVALID_REQUEST"),
    (b'{"amount": true}', 400, "INVALID_REQUEST"),
    (b'{"amount": null}', 400, "INVALID_REQUEST"),
    (b'{"amount": [1000]}', 400, "INVALID_REQUEST"),
    (b'{"amount": {"value": 1000}}', 400, "INVALID_REQUEST"),
    (b'{"amount": 0x10}', 400, "INVALID_REQUEST"),
    (b'{"amount": NaN}', 400, "INVALID_REQUEST"),
    (b'{"amount": 1000, "amount": 1000}', 400, "INVALID_REQUEST"),
    (b'{"amount": 1, "amount": 1000}', 400, "INVALID_REQUEST"),
    (b'{"amount": "\xff\xfe"}', 400, "INVALID_REQUEST"),
    (b'{"amount": 1000}\x00', 400, "INVALID_REQUEST"),
    (b'{"amount": 1000, "x": ' + b"[" * 30000 + b"]" * 30000 + b"}", 400, "INVALID_REQUEST"),
    (b'{"amount": 1000, "x": ' + b'{"a":' * 10000 + b"1" + b"}" * 10000 + b"}", 400,
     "INVALID_REQUEST"),
    (b'{"amount": 0}', 422, "INVALID_AMOUNT"),
    (b'{"amount": -1}', 422, "INVALID_AMOUNT"),
    (b'{"amount": -1000000}', 422, "INVALID_AMOUNT"),
    (b'{"amount": 1000001}', 422, "INVALID_AMOUNT"),
    (b'{"amount": 9007199254740991}', 422, "INVALID_AMOUNT"),
    # an integer whose magnitude is above 2^53-1 is not an amount at all: 400, never
    # truncated (docs/api.md "Integers whose magnitude is above 2^53-1 are 400")
    (b'{"amount": 9007199254740992}', 400, "INVALID_REQUEST"),
    (b'{"amount": 9223372036854775807}', 400, "INVALID_REQUEST"),
    (b'{"amount": 9223372036854775808}', 400, "INVALID_REQUEST"),
    (b'{"amount": 18446744073709551617}', 400, "INVALID_REQUEST"),
    (b'{"amount": -9223372036854775808}', 400, "INVALID_REQUEST"),
    (b'{"amount": -9223372036854775809}', 400, "INVALID_REQUEST"),
    (b'{"amount": 99999999999999999999999999999}', 400, "INVALID_REQUEST"),
]


@pytest.mark.parametrize("raw,status,code", BAD_BODIES, ids=[repr(b[0])[:60] for b in BAD_BODIES])
def test_bad_charge_body_is_rejected_and_changes_nothing(stack, raw, status, code):
    uid = new_user(stack)
    assert charge(stack, uid, 500).status == 200
    r = request("POST", f"{stack.base}/users/{uid}/points/charge", raw=raw,
                headers={"Content-Type": "application/json"})
    assert_problem(r, status, code)
    assert ledger(stack, uid) == (500, 1, 500)


def test_unknown_fields_are_ignored(stack):
    uid = new_user(stack)
    r = request("POST", f"{stack.base}/users/{uid}/points/charge",
                {"amount": 300, "currency": "KRW", "note": {"x": [1, 2]}})
    assert r.status == 200, r
    assert r.json == {"user_id": uid, "charged": 300, "balance": 300}
    assert ledger(stack, uid) == (300, 1, 300)


# --- bad path ids ---------------------------------------------------------------------

BAD_IDS = ["abc", "-1", "0", "99999999999999999999", "9223372036854775808",
           "1.5", "1e3", "0x1", "%20", "1%20", "9" * 3000]


@pytest.mark.parametrize("bad", BAD_IDS, ids=[b[:24] for b in BAD_IDS])
def test_bad_user_id_is_404_and_changes_nothing(stack, bad):
    # A segment where a user id belongs names a user that does not exist: the
    # answer names the resource (USER_NOT_FOUND), not a missing route.
    before = db_totals(stack)
    r = request("GET", f"{stack.base}/users/{bad}/points")
    assert_problem(r, 404, "USER_NOT_FOUND")
    r = charge(stack, bad, 1000)
    assert_problem(r, 404, "USER_NOT_FOUND")
    r = request("GET", f"{stack.base}/users/{bad}/points/history")
    assert_problem(r, 404, "USER_NOT_FOUND")
    assert db_totals(stack) == before


def test_problem_body_is_valid_json_with_escaped_detail(stack):
    # a path id with quotes and a backslash must not break the JSON of the answer
    r = request("GET", stack.base + '/users/%22%5C%22/points')
    assert_problem(r, 404, "USER_NOT_FOUND")
    json.loads(r.body)


def test_head_of_a_get_route_has_no_body(stack):
    pid = new_product(stack, "head", 10, 1)
    r = request("HEAD", f"{stack.base}/products/{pid}")
    assert r.status == 200, r
    assert r.body == b""
    assert r.headers.get("x-request-id")


@pytest.mark.parametrize("query", ["?limit=%zz", "?limit=1%00"])
def test_bad_percent_escapes_in_the_query_are_400(stack, query):
    r = request("GET", f"{stack.base}/products{query}")
    assert_problem(r, 400, "INVALID_REQUEST")
