"""The one home of the mod_shop integration tests' shared helpers (standard
library only): the HTTP client, the API shortcuts, the shared assertions and
the database probes. A helper used by more than one test module lives here and
only here (test_one_home.py checks that no helper name is defined twice).

    request(method, url, body=None, headers=None, raw=None, timeout=10) -> Response
    parallel(n, fn, timeout=60) -> [fn(0), ..., fn(n-1)]
    wait_until(fn, timeout, what, interval=0.05) -> fn()'s first true value
    get_ok(url) -> Response (200 checked); cache_hit(resp) -> X-Shop-Cache: hit
    until_shown(read, want, what): a catalog count (stock, remaining) shown within
        CATALOG_LAG (the contract lets them lag their rows by 1 s)
    free_port(), pid_alive(pid, comm=None), child_pids(pid)

  API shortcuts (a Response unless said otherwise):
    new_user(stack, login_prefix='u', login=None) -> user id
    new_product(stack, name, price, stock) -> product id
    product(stack, price=1000, stock=10, name=None) -> product id
    funded_user(stack, amount=0) -> user id (charged `amount` points)
    charge(stack, uid, amount, headers=None)
    create_order(stack, uid, [(pid, qty)], ...), place(...) -> order JSON (201 checked)
    get_order, pay, cancel, issue, user_coupons; issued(...) -> user_coupon_id
    new_campaign(stack, **fields) -> campaign JSON; remaining(stack, cid) -> int
    user_coupon(stack, uid, ucid) -> the user coupon's JSON
    paid_order(base, qty, price, coupon_value) -> dict (a new user's paid order)
    server_status(inst) -> {key: value} of /server-status?auto
    all_pages(url, limit) -> (items, pages)

  Checks: ok(resp, status=200) -> JSON body; assert_problem(resp, status, code);
    assert_503(resp) (SERVICE_UNAVAILABLE with Retry-After); replayed(resp); ctype(resp); parse_ts(s); utcnow(); new_key()

  HTTP caching (RFC 9111): cache_control(resp) -> {directive: value or True};
    shared(resp, cache_control_value=None) -> its ETag (a shared 200: strong ETag,
    public); private(resp) (private, no-store, no ETag);
    revalidate(url, etag, headers=None) -> Response of a GET with If-None-Match;
    not_modified(resp, etag) (a 304 with no body, the same ETag and a
    Cache-Control)

  Beside other modules: MODULES (Debian's httpd module directory);
    h2load(url, n, streams=1, clients=1, body=None, headers=None)
      -> {"protocol", "2xx", "3xx", "4xx", "5xx", "failed"}: n requests over
      cleartext HTTP/2 (h2c prior knowledge), `streams` at once per connection

  Database probes: rows, scalar, stock_of, history, db_order, order_count,
    outbox (event types of an order), outbox_rows (relay view of orders' events),
    uc_row, bulk_users, ledger, campaign_state

  Relay: relay_httpd(stack, conf, name) (context manager), drain_backlog(stack),
    check_retries_only(hits, timeout)

`stack` in the helpers is anything with a `.base` attribute (the `stack` fixture,
an extra instance from `stack.httpd(...)`) or a base URL string; database
probes need the `stack` fixture itself (its .psql).
"""

import contextlib
import datetime
import http.client
import json
import re
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

__all__ = ["Response", "Headers", "request", "parallel", "new_user",
           "new_product", "charge", "wait_until", "child_pids", "pid_alive",
           "free_port", "all_pages", "assert_problem", "ledger", "campaign_state",
           "UNKNOWN_ID", "BAD_IDS", "ctype", "ok", "replayed", "new_key", "parse_ts",
           "utcnow", "product", "funded_user", "items_body", "create_order", "place",
           "get_order", "pay", "cancel", "new_campaign", "remaining", "issue", "issued",
           "user_coupons", "user_coupon", "paid_order", "server_status", "rows",
           "scalar", "stock_of", "history", "db_order", "order_count", "outbox",
           "outbox_rows", "uc_row", "bulk_users", "relay_httpd", "drain_backlog",
           "check_retries_only", "LEASABLE_SQL", "cache_control", "shared", "private",
           "revalidate", "not_modified", "MODULES", "h2load"]

PROBLEM_TYPE = "https://errors.mod-shop.dev/"
MODULES = "/usr/lib/apache2/modules"
UNKNOWN_ID = 9_000_000_000_000_000          # a valid id no row will ever have
BAD_IDS = ["abc", "-1", "0", "99999999999999999999", "1.5"]


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


class _OneSend(http.client.HTTPConnection):
    """Sends a request's head and a bytes body in one send(), as a browser
    or curl sends a small body.  http.client sends them apart, and with
    2,000 client threads (parallel()) the body can follow its head seconds
    later, while the thread waits for the GIL: past mod_reqtimeout's body
    timeout the server rightly answers 400 "the request body could not be
    read", which tests of exact totals would count as a refusal."""

    def _send_output(self, message_body=None, encode_chunked=False):
        if not isinstance(message_body, bytes):
            return super()._send_output(message_body, encode_chunked)
        self._buffer.extend((b"", b""))
        head = b"\r\n".join(self._buffer)
        del self._buffer[:]
        self.send(head + message_body)
        return None


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

    conn = _OneSend(host, port, timeout=timeout)
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


def until_answered(call, tries=100):
    """call() -> Response, made again while it is refused 503 BUSY.

    BUSY (a write that found no turn within ShopBusyWait, or a lock wait
    that ran out) changes nothing, so a client retries it: tests that fire
    hundreds of writes at once do the same, and then check exact totals."""
    for _ in range(tries):
        r = call()
        if r.status != 503 or (r.json or {}).get("code") != "BUSY":
            return r
        assert r.headers.get("Retry-After"), r
        time.sleep(0.02)    # a client's back-off, not synchronisation
    raise AssertionError(f"still 503 BUSY after {tries} tries")


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


def get_ok(url):
    """GET url, asserted 200: the Response."""
    r = request("GET", url)
    assert r.status == 200, r
    return r


def cache_hit(resp):
    """Whether the response came from one of mod_shop's read caches."""
    return resp.headers.get("x-shop-cache") == "hit"


# The contract: the stock and remaining counts a catalog read shows may lag
# their rows by up to 1 s (ShopCatalogMaxAge, 500 ms by default); a loaded
# CI box gets half a second more.
CATALOG_LAG = 1.5


def until_shown(read, want, what):
    """Polls read() (a catalog count: stock, remaining) until it gives want,
    within CATALOG_LAG; AssertionError otherwise."""
    return wait_until(lambda: read() == want, CATALOG_LAG, f"{what} shown as {want}")


def catalog_synced(stack, base=None):
    """Returns once the catalog sync of the httpd at base (default: the
    stack's) has read every change logged so far: a catalog entry filled
    after that is not forgotten by an older change (a product's creation)."""
    seq = int(stack.psql("SELECT coalesce(max(seq), 0) FROM catalog_changes"))

    def synced_to():
        r = request("GET", f"{base or stack.base}/admin/status")
        return r.status == 200 and r.json["caches"]["catalog"]["sync"]["last_change"] >= seq
    wait_until(synced_to, 2, "the catalog sync reading the change log")


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


def free_port():
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pid_alive(pid, comm=None):
    """True if pid is a live (non-zombie) process, named `comm` if given.
    (No `kill -0`: PID 1 here reaps lazily, LOCAL-STACK §6.8.)"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    if stat[stat.rindex(")") + 2] == "Z":
        return False
    if comm is not None:
        try:
            return Path(f"/proc/{pid}/comm").read_text().strip() == comm
        except FileNotFoundError:
            return False
    return True


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


# --- response checks ----------------------------------------------------------

def ctype(resp):
    return resp.headers.get("content-type", "").split(";")[0].strip().lower()


def ok(resp, status=200):
    """resp is a JSON success with that status; returns the parsed body."""
    assert resp.status == status, resp
    assert ctype(resp) == "application/json", resp
    assert resp.headers.get("x-request-id"), resp
    assert isinstance(resp.json, dict), resp
    return resp.json


def cache_control(resp):
    """Cache-Control of resp as {directive: value, or True for a bare one}."""
    out = {}
    for part in resp.headers.get("cache-control", "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            out[name.lower()] = value.strip('"') if value else True
    return out


def shared(resp, cache_control_value=None):
    """resp is a 200 any cache may store: a strong quoted ETag and a public
    Cache-Control (exactly cache_control_value when given). Its ETag."""
    assert resp.status == 200, resp
    etag = resp.headers.get("etag", "")
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 2, resp.headers
    cc = cache_control(resp)
    assert "public" in cc and "max-age" in cc and "private" not in cc, resp.headers
    if cache_control_value is not None:
        assert resp.headers["cache-control"] == cache_control_value, resp.headers
    return etag


def private(resp):
    """resp may be stored by no cache: private, no-store, and no validator."""
    assert cache_control(resp) == {"private": True, "no-store": True}, (resp, resp.headers)
    assert "etag" not in resp.headers, resp.headers


def revalidate(url, etag, headers=None):
    """GET url with If-None-Match: etag (plus headers)."""
    return request("GET", url, headers={"If-None-Match": etag, **(headers or {})})


def not_modified(resp, etag):
    """resp is a 304 without a body that names etag and says how to cache it."""
    assert resp.status == 304, resp
    assert resp.body == b"", resp
    assert resp.headers.get("etag") == etag, resp.headers
    assert "public" in cache_control(resp), resp.headers


def replayed(resp):
    return resp.headers.get("idempotency-replayed", "").lower() == "true"


def new_key():
    return f"k-{uuid.uuid4()}"


def parse_ts(s):
    assert isinstance(s, str) and s.endswith("Z"), s
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


# --- order and coupon shortcuts -------------------------------------------------

def product(stack, price=1000, stock=10, name=None):
    return new_product(stack, name or f"p-{uuid.uuid4().hex[:8]}", price, stock)


def funded_user(stack, amount=0):
    uid = new_user(stack)
    if amount:
        r = charge(stack, uid, amount)
        assert r.status == 200, r
    return uid


def items_body(items):
    """[(product_id, quantity)] -> the order body."""
    return {"items": [{"product_id": p, "quantity": q} for p, q in items]}


def create_order(stack, uid, items, headers=None, timeout=10):
    return request("POST", f"{_base(stack)}/users/{uid}/orders", items_body(items),
                   headers=headers, timeout=timeout)


def place(stack, uid, items):
    """Creates an order that must succeed; returns its JSON."""
    return ok(create_order(stack, uid, items), 201)


def get_order(stack, uid, oid):
    return request("GET", f"{_base(stack)}/users/{uid}/orders/{oid}")


def pay(stack, uid, oid, coupon=None, headers=None, timeout=10):
    body = {"user_coupon_id": coupon} if coupon is not None else None
    return request("POST", f"{_base(stack)}/users/{uid}/orders/{oid}/payment", body,
                   headers=headers, timeout=timeout)


def cancel(stack, uid, oid, headers=None, timeout=10):
    return request("POST", f"{_base(stack)}/users/{uid}/orders/{oid}/cancel",
                   headers=headers, timeout=timeout)


def new_campaign(stack, **fields):
    """POST /admin/coupons with defaults (FIXED 1000, 100 coupons); returns the JSON."""
    body = {"name": f"c-{uuid.uuid4().hex[:8]}", "discount_type": "FIXED",
            "discount_value": 1000, "total_quantity": 100}
    body.update(fields)
    return ok(request("POST", f"{_base(stack)}/admin/coupons", body), 201)


def remaining(stack, cid):
    """remaining_quantity of a campaign as GET /coupons/{id} shows it."""
    return ok(request("GET", f"{_base(stack)}/coupons/{cid}"))["remaining_quantity"]


def issue(stack, uid, cid, headers=None, timeout=10):
    return request("POST", f"{_base(stack)}/users/{uid}/coupons", {"coupon_id": cid},
                   headers=headers, timeout=timeout)


def issued(stack, uid, cid):
    """Issues a coupon that must succeed; returns the user_coupon_id."""
    return ok(issue(stack, uid, cid), 201)["user_coupon_id"]


def user_coupons(stack, uid, query=""):
    return request("GET", f"{_base(stack)}/users/{uid}/coupons{query}")


def user_coupon(stack, uid, ucid):
    """The user coupon as GET /users/{u}/coupons shows it."""
    items = ok(user_coupons(stack, uid, "?limit=100"))["items"]
    found = [c for c in items if c["user_coupon_id"] == ucid]
    assert len(found) == 1, items
    return found[0]


def paid_order(base, qty=2, price=150, coupon_value=None):
    """New user + product, an order, its payment (on `base`): a dict."""
    uid = funded_user(base, qty * price)
    pid = product(base, price=price, stock=qty + 5)
    oid = place(base, uid, [(pid, qty)])["order_id"]
    ucid = None
    if coupon_value:
        ucid = issued(base, uid, new_campaign(base, discount_value=coupon_value,
                                              total_quantity=1)["id"])
    t = time.monotonic()
    r = pay(base, uid, oid, ucid)
    took = time.monotonic() - t
    assert ok(r)["status"] == "PAID", r
    return {"uid": uid, "pid": pid, "oid": oid, "qty": qty, "price": price,
            "pay": r.json, "pay_seconds": took}


def server_status(inst):
    """The key: value lines of the instance's /server-status?auto."""
    r = request("GET", _base(inst)[: -len("/api")] + "/server-status?auto")
    assert r.status == 200, r
    return dict(line.split(": ", 1) for line in r.body.decode().splitlines() if ": " in line)


def h2load(url, n, streams=1, clients=1, body=None, headers=None):
    """n requests to url over cleartext HTTP/2 (h2load of nghttp2-client):
    `clients` connections with up to `streams` concurrent streams each.
    {"protocol": "h2c", "2xx": .., "3xx": .., "4xx": .., "5xx": .., "failed": ..}"""
    args = ["h2load", "-n", str(n), "-c", str(clients), "-m", str(streams)]
    for k, v in (headers or {}).items():
        args += ["-H", f"{k}: {v}"]
    with tempfile.NamedTemporaryFile("w", suffix=".json") as data:
        if body is not None:
            data.write(json.dumps(body))
            data.flush()
            args += ["-d", data.name, "-H", "content-type: application/json"]
        out = subprocess.run(args + [url], capture_output=True, text=True, timeout=300,
                             stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stdout + out.stderr
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out.stdout)
    failed = re.search(r"(\d+) failed, (\d+) errored, (\d+) timeout", out.stdout)
    proto = re.search(r"Application protocol: (\S+)", out.stdout)
    assert codes and failed and proto, out.stdout
    got = dict(zip(("2xx", "3xx", "4xx", "5xx"), map(int, codes.groups())))
    got["failed"] = sum(map(int, failed.groups()))
    got["protocol"] = proto.group(1)
    return got


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


def assert_503(resp):
    """A 503 SERVICE_UNAVAILABLE problem with a numeric Retry-After."""
    assert_problem(resp, 503, "SERVICE_UNAVAILABLE")
    assert re.fullmatch(r"\d+", resp.headers.get("retry-after", "")), resp.headers


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


def rows(stack, sql):
    out = stack.psql(sql)
    return [line.split("|") for line in out.splitlines()] if out else []


def scalar(stack, sql):
    return int(stack.psql(sql))


def reserved(stack, pid):
    """Units of the product held by AWAITING_PAYMENT or PAID orders."""
    return scalar(stack, "SELECT coalesce(sum(i.quantity), 0) FROM order_items i"
                         " JOIN orders o ON o.id = i.order_id"
                         f" WHERE i.product_id = {pid}"
                         " AND o.status IN ('AWAITING_PAYMENT', 'PAID')")


def stock_of(stack, pid):
    return scalar(stack, f"SELECT shop_product_stock({int(pid)})")


def history(stack, uid, oid=None):
    """[(type, amount, balance_after, order_id or None)] of a user, oldest first."""
    where = f"user_id = {int(uid)}" + (f" AND order_id = {int(oid)}" if oid else "")
    return [(t, int(a), int(b), int(o) if o else None) for t, a, b, o in
            rows(stack, f"SELECT type, amount, balance_after, order_id FROM point_history"
                        f" WHERE {where} ORDER BY id")]


def db_order(stack, oid):
    """The order row: dict of status, total, discount, paid, user_coupon_id, user_id."""
    r = rows(stack, "SELECT status, total_amount, discount_amount, paid_amount,"
                    " coalesce(user_coupon_id, 0), user_id, coalesce(failure_reason, '')"
                    f" FROM orders WHERE id = {int(oid)}")
    assert len(r) == 1, f"order {oid}: {r}"
    s, t, d, p, uc, u, fr = r[0]
    return {"status": s, "total": int(t), "discount": int(d), "paid": int(p),
            "user_coupon_id": int(uc) or None, "user_id": int(u), "failure_reason": fr}


def order_count(stack, uid):
    return scalar(stack, f"SELECT count(*) FROM orders WHERE user_id = {int(uid)}")


def outbox(stack, oid):
    """[type] of the outbox rows of an order, oldest first."""
    return [r[0] for r in rows(stack, f"SELECT type FROM outbox WHERE order_id = {int(oid)}"
                                      " ORDER BY id")]


def outbox_rows(stack, order_ids):
    """The relay's view of these orders' outbox rows, oldest first: dicts."""
    if not order_ids:
        return []
    out = []
    for oid, typ, eid, att, dlv, err in rows(
            stack, "SELECT order_id, type, event_id, attempts, delivered_at IS NOT NULL,"
                   " coalesce(last_error, '') FROM outbox WHERE order_id IN ("
                   + ",".join(str(int(o)) for o in order_ids) + ") ORDER BY id"):
        out.append({"order_id": int(oid), "type": typ, "event_id": eid,
                    "attempts": int(att), "delivered": dlv == "t", "last_error": err})
    return out


def uc_row(stack, ucid):
    """(status, order_id or None) of a user_coupons row."""
    s, o = rows(stack, "SELECT status, coalesce(order_id, 0) FROM user_coupons"
                       f" WHERE id = {int(ucid)}")[0]
    return s, int(o) or None


def bulk_users(stack, n, prefix="bulk"):
    """n new users inserted in one statement (fast fixtures); their ids."""
    tag = uuid.uuid4().hex[:10]
    out = stack.psql(f"WITH ins AS (INSERT INTO users (login) SELECT '{prefix}_' || g || '_{tag}'"
                     f" FROM generate_series(1, {int(n)}) g RETURNING id)"
                     " SELECT id FROM ins ORDER BY id")
    ids = [int(x) for x in out.split()]
    assert len(ids) == n
    return ids


# --- the outbox relay -------------------------------------------------------------

# Events a relay may lease now: pending (not delivered, not dead), due, and
# not held back by an earlier undelivered event of the same order.
LEASABLE_SQL = ("SELECT count(*) FROM outbox x WHERE delivered_at IS NULL AND dead_at IS NULL"
                " AND next_attempt_at <= now() AND NOT EXISTS (SELECT 1 FROM outbox e"
                " WHERE e.order_id = x.order_id AND e.id < x.id AND e.delivered_at IS NULL)")


def drain_backlog(stack, timeout=60):
    """Wait until the relay (answered 200 by the receiver) has sent every event
    the rest of the session left in the outbox. A backlog that does not drain
    is a relay bug and fails the test: the relay tests rely on their events
    going out within their own bounds, not behind a backlog."""
    wait_until(lambda: stack.psql(LEASABLE_SQL) == "0", timeout,
               "the outbox backlog drained by the relay", interval=0.2)


@contextlib.contextmanager
def relay_httpd(stack, conf, name):
    """An extra httpd with `conf` (a relay to a receiver), once it has drained
    the session's outbox backlog."""
    with stack.httpd(conf, name) as inst:
        drain_backlog(stack)
        yield inst


def check_retries_only(hits, timeout):
    """Per event_id: every request has Idempotency-Key == event_id and the
    same body; no two requests overlap in time (a duplicate is only ever a
    later retry, never a concurrent second sender). `timeout`: the relay's
    ShopPlatformTimeout in seconds."""
    by_event = {}
    for h in hits:
        assert h.key == h.event_id, h
        by_event.setdefault(h.event_id, []).append(h)
    for eid, hs in by_event.items():
        hs.sort(key=lambda h: h.start)
        assert len({h.body for h in hs}) == 1, hs
        for a, b in zip(hs, hs[1:]):
            assert a.end is not None, hs
            # An attempt the relay gave up on ended for it at its timeout,
            # even if our handler slept on.
            client_end = a.end if a.answered else min(a.end, a.start + timeout)
            assert client_end <= b.start + 0.1, f"event {eid} sent concurrently: {a} / {b}"
            assert not a.delivered, f"event {eid} sent again after a 2xx: {hs}"
    return by_event
