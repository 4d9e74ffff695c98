"""A small HTTP client for the mod_shop integration tests (standard library only).

    request(method, url, body=None, headers=None, raw=None, timeout=10) -> Response
    parallel(n, fn, timeout=60) -> [fn(0), ..., fn(n-1)]
    new_user(stack, login_prefix='u', login=None) -> user id
    new_product(stack, name, price, stock) -> product id
    charge(stack, uid, amount, headers=None) -> Response
    wait_until(fn, timeout, what, interval=0.05) -> fn()'s first true value
    assert_problem(resp, status, code) -> the problem body (RFC 9457 checks)
    ledger(stack, uid) -> (balance, history rows, sum of history amounts)
    campaign_state(stack, cid) -> (user coupons, distinct users, taken slots, free slots)

`stack` in the helpers is anything with a `.base` attribute (the `stack` fixture,
an extra instance from `stack.httpd(...)`) or a base URL string.
"""

import http.client
import json
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

__all__ = ["Response", "Headers", "request", "parallel", "new_user",
           "new_product", "charge", "wait_until", "child_pids", "all_pages",
           "assert_problem", "ledger", "campaign_state"]

PROBLEM_TYPE = "https://errors.mod-shop.dev/"


class Headers(dict):
    """Response headers with case-insensitive lookup (keys stored lower-case).

    Repeated headers are joined with ", " (as HTTP allows), except Set-Cookie
    which keeps only the last value.
    """

    def __init__(self, items=()):
        super().__init__()
        for k, v in items:
            k = k.lower()
            if k in self and k != "set-cookie":
                v = super().__getitem__(k) + ", " + v
            super().__setitem__(k, v)

    def __getitem__(self, k):
        return super().__getitem__(k.lower())

    def __contains__(self, k):
        return isinstance(k, str) and super().__contains__(k.lower())

    def get(self, k, default=None):
        return super().get(k.lower(), default)


class Response:
    """status (int), headers (Headers), body (bytes), json (parsed body or None)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        text = self.body[:300].decode("utf-8", "replace")
        return f"<Response {self.status} {self.headers.get('content-type')} {text!r}>"


# Inside parallel(): per-thread connections and the start barrier.
_tls = threading.local()


def _split(url):
    u = urllib.parse.urlsplit(url)
    if u.scheme != "http":
        raise ValueError(f"only http:// URLs are supported: {url}")
    target = u.path or "/"
    if u.query:
        target += "?" + u.query
    return u.hostname, u.port or 80, target


def request(method, url, body=None, headers=None, raw=None, timeout=10):
    """Send one request and read the whole response.

    body: a JSON-able value, sent JSON-encoded with Content-Type: application/json.
    raw:  bytes sent as they are; the caller sets Content-Type (if any).
    headers: extra request headers; they override the defaults (so a test can
    send a JSON body with another Content-Type).

    Every call uses a new connection (Connection: close), so no request ever
    meets a keep-alive connection the server has just dropped. Inside a
    parallel() worker the thread's first request opens its connection, then
    waits on the shared barrier, then sends, so all threads fire together.
    No retries: a dropped connection is an error the test should see.
    """
    host, port, target = _split(url)
    hdrs = {"Connection": "close"}
    data = None
    if raw is not None:
        if body is not None:
            raise ValueError("give body or raw, not both")
        data = raw
    elif body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    if headers:
        hdrs.update(headers)

    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        if getattr(_tls, "barrier", None) is not None and not _tls.started:
            conn.connect()          # connected before the start signal
            _await_start()
        conn.request(method, target, body=data, headers=hdrs)
        r = conn.getresponse()
        return Response(r.status, Headers(r.getheaders()), r.read())
    finally:
        conn.close()


def _await_start():
    """In a parallel() worker: block at the barrier (once per worker)."""
    barrier = getattr(_tls, "barrier", None)
    if barrier is not None and not _tls.started:
        _tls.started = True
        barrier.wait()


def parallel(n, fn, timeout=60):
    """Run fn(i) for i in range(n) on n threads, truly concurrently.

    Each thread has its OWN HTTP connection: the first request() inside fn
    opens it, then waits on a shared threading.Barrier, so the first requests
    of all threads are sent together once every connection is established
    (later requests of the same fn open connections of their own). A thread
    whose fn does no request still passes the barrier when fn ends.
    Returns the results in index order; re-raises the exception of the first
    failing index (after all threads finished); TimeoutError if the threads do
    not finish within `timeout` seconds.
    """
    barrier = threading.Barrier(n, timeout=timeout)
    results = [None] * n
    errors = [None] * n

    def worker(i):
        _tls.barrier = barrier
        _tls.started = False
        try:
            results[i] = fn(i)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            errors[i] = e
        finally:
            try:
                _await_start()       # never leave the others waiting
            except threading.BrokenBarrierError:
                pass
            _tls.barrier = None

    threads = [threading.Thread(target=worker, args=(i,), daemon=True,
                                name=f"parallel-{i}") for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in threads):
        barrier.abort()
        raise TimeoutError(f"parallel({n}): threads still running after {timeout} s")
    for e in errors:
        if e is not None:
            raise e
    return results


# --- API helpers ------------------------------------------------------------

def _base(stack):
    return stack if isinstance(stack, str) else stack.base


def _created(resp, what):
    if resp.status != 201 or not isinstance(resp.json, dict) or "id" not in resp.json:
        raise AssertionError(f"creating {what} failed: {resp!r}")
    return resp.json["id"]


def new_user(stack, login_prefix="u", login=None):
    """POST {base}/admin/users {"login"} -> the new user's id.

    The login is login_prefix + 12 random hex digits, unique per call, unless
    `login` is given (tests of ShopUserAuth remote-user need to know it).
    """
    if login is None:
        login = f"{login_prefix}{uuid.uuid4().hex[:12]}"
    r = request("POST", f"{_base(stack)}/admin/users", {"login": login})
    return _created(r, f"user {login!r}")


def new_product(stack, name, price, stock):
    """POST {base}/admin/products {"name","price","stock"} -> the new product's id."""
    r = request("POST", f"{_base(stack)}/admin/products",
                {"name": name, "price": price, "stock": stock})
    return _created(r, f"product {name!r}")


def charge(stack, uid, amount, headers=None):
    """POST {base}/users/{uid}/points/charge {"amount"} -> the Response (not checked)."""
    return request("POST", f"{_base(stack)}/users/{uid}/points/charge",
                   {"amount": amount}, headers=headers)


def wait_until(fn, timeout, what, interval=0.05):
    """Polls fn() until it returns something true; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not reached within {timeout} s (last: {last!r})")


def child_pids(pid):
    """Live (non-zombie) children of pid, read from /proc."""
    out = set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            rest = stat[stat.rindex(")") + 2:].split()
            if rest[0] != "Z" and int(rest[1]) == pid:
                out.add(int(d.name))
    return out


def all_pages(url, limit):
    """Follows next_cursor from url?limit=limit to the end: (items, pages)."""
    items, pages, query = [], 0, f"?limit={limit}"
    while True:
        r = request("GET", url + query)
        assert r.status == 200, r
        assert len(r.json["items"]) <= limit
        items += r.json["items"]
        pages += 1
        cur = r.json["next_cursor"]
        if cur is None:
            return items, pages
        assert isinstance(cur, str) and cur
        assert pages <= 1000, "next_cursor never ends"
        query = f"?limit={limit}&cursor={cur}"


# --- shared assertions and database probes ---------------------------------------

def _as_set(x):
    return set(x) if isinstance(x, (set, frozenset, tuple, list)) else {x}


def assert_problem(resp, status, code):
    """Assert resp is an RFC 9457 problem with that HTTP status and code.

    Give the one status and the one code the contract names (status and code
    may each be a collection, only where the contract itself allows several).
    Returns the parsed body.
    """
    assert resp.status in _as_set(status), resp
    ctype = resp.headers.get("content-type", "")
    assert ctype.split(";")[0].strip() == "application/problem+json", resp
    assert resp.headers.get("x-request-id"), resp
    p = resp.json
    assert isinstance(p, dict), resp
    assert p.get("code") in _as_set(code), resp
    assert type(p.get("status")) is int and p["status"] == resp.status, resp
    assert isinstance(p.get("type"), str), resp
    assert p["type"] == PROBLEM_TYPE + p["code"].lower(), resp
    assert isinstance(p.get("title"), str) and p["title"], resp
    assert isinstance(p.get("detail"), str), resp
    return p


def ledger(stack, uid):
    """(balance, number of history rows, sum of history amounts) of a user."""
    row = stack.psql(
        "SELECT u.balance, count(h.id), coalesce(sum(h.amount), 0)"
        " FROM users u LEFT JOIN point_history h ON h.user_id = u.id"
        f" WHERE u.id = {int(uid)} GROUP BY u.balance")
    return tuple(int(x) for x in row.split("|"))


def campaign_state(stack, cid):
    """(user_coupons rows, distinct users, taken slots, free slots) of a campaign."""
    n, users = stack.psql("SELECT count(*), count(DISTINCT user_id) FROM user_coupons"
                          f" WHERE coupon_id = {int(cid)}").split("|")
    taken, free = stack.psql("SELECT count(*) FILTER (WHERE user_id IS NOT NULL),"
                             " count(*) FILTER (WHERE user_id IS NULL)"
                             f" FROM coupon_slots WHERE coupon_id = {int(cid)}").split("|")
    return int(n), int(users), int(taken), int(free)
