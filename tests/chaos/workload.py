"""The chaos suite's mixed workload: real HTTP clients on threads (stdlib only).

Each client thread owns a few users and, in a bounded loop until told to stop,
sends a random mix (seeded RNG per thread) of:

    charge   POST /users/{u}/points/charge      a globally unique amount
    order    POST /users/{u}/orders             1-2 of the suite's products; half
                                                the orders are of the first product
                                                alone (a one-product sale, issue 20)
    pay      POST /users/{u}/orders/{o}/payment one of its AWAITING orders, maybe a coupon
    cancel   POST /users/{u}/orders/{o}/cancel  one of its PAID orders (a refund)
    issue    POST /users/{u}/coupons            the current campaign
    get      GET  /users/{u}/points or /products/{p}

over one keep-alive HTTP/1.1 connection per thread. Half the POSTs carry an
Idempotency-Key. A transport error (connection reset, EOF without a response,
timeout) is retried with the SAME key for keyed POSTs and for GETs; an
un-keyed POST that was cut is not retried (its outcome is unknown) and
counts as failed. A connect() that fails sent nothing, so any request may
try again. Before a request goes out on a reused connection, the socket is
checked: a connection the server already closed (FIN/RST readable) is
replaced first, as every keep-alive client does; that is not a cut.

Every logical request is recorded as a Call (with all its attempts and their
times), so the faults can be judged afterwards: which requests failed, what
was in flight at an instant, the longest silence between two answers, the
latency percentiles, and the successes to look for in the database.
"""

import http.client
import itertools
import json
import random
import select
import socket
import threading
import time
import uuid

# Statuses each operation may legitimately answer (besides a 503 where the
# fault allows it); anything else is "unexpected".
EXPECTED = {
    "charge": {200: None, 409: {"BALANCE_LIMIT_EXCEEDED"}},
    "order": {201: None, 409: {"OUT_OF_STOCK"}},
    "pay": {200: None, 409: {"ORDER_NOT_PAYABLE", "COUPON_NOT_APPLICABLE",
                             "INSUFFICIENT_POINTS"}},
    "cancel": {200: None, 409: {"ORDER_NOT_CANCELLABLE"}},
    "issue": {201: None, 409: {"ALREADY_ISSUED", "SOLD_OUT"}},
    "get": {200: None},
}

# Each charge in the whole run has its own amount, so a charge the client saw
# can be found in point_history, and one applied twice shows as a duplicate.
AMOUNT_BASE = 20000
_amounts = itertools.count(AMOUNT_BASE + 1)
_amounts_lock = threading.Lock()


def next_amount():
    with _amounts_lock:
        return next(_amounts)


class Attempt:
    __slots__ = ("start", "end", "kind", "status")

    def __init__(self, start, end, kind, status=None):
        self.start = start      # time.monotonic() before connect/send
        self.end = end          # when the answer was read or the error seen
        self.kind = kind        # answer | cut | timeout | connect
        self.status = status


class Call:
    """One logical request: its attempts and its final outcome."""

    __slots__ = ("op", "user", "method", "path", "body", "key", "attempts",
                 "status", "code", "json", "retry_after", "extra")

    def __init__(self, op, user, method, path, body, key):
        self.op, self.user, self.method, self.path = op, user, method, path
        self.body, self.key = body, key
        self.attempts = []
        self.status = None      # final HTTP status, None if no answer at all
        self.code = None        # problem+json "code"
        self.json = None
        self.retry_after = None
        self.extra = None       # op-specific: coupon used by a payment, ...

    @property
    def start(self):
        return self.attempts[0].start

    @property
    def end(self):
        return self.attempts[-1].end

    @property
    def answered(self):
        return self.status is not None

    @property
    def retriable(self):
        """May be sent again after a cut: keyed POSTs and GETs."""
        return self.key is not None or self.method == "GET"

    def expected(self, allow_503=False):
        if self.status is None:
            return False
        if self.status == 503 and allow_503:
            return self.retry_after is not None and self.retry_after.isdigit()
        codes = EXPECTED[self.op]
        if self.status not in codes:
            return False
        return codes[self.status] is None or self.code in codes[self.status]

    def ok(self):
        return self.status is not None and 200 <= self.status < 300

    def __repr__(self):
        kinds = ",".join(a.kind for a in self.attempts)
        return (f"<{self.op} {self.method} {self.path} key={bool(self.key)} "
                f"status={self.status} code={self.code} attempts={kinds}>")


class Client:
    """One keep-alive connection, replaced when the server closed it."""

    def __init__(self, port, timeout):
        self.port = port
        self.timeout = timeout
        self.conn = None
        self.stale = 0          # connections found closed before a send

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _server_closed(self):
        sock = self.conn.sock
        if sock is None:
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        # Nothing may arrive on an idle HTTP/1.1 connection but its end.
        return bool(readable)

    def send(self, call, headers):
        """One attempt of `call`: appends an Attempt; returns the response or None."""
        t0 = time.monotonic()
        if self.conn is not None and self._server_closed():
            self.stale += 1
            self.close()
        if self.conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                conn.connect()
            except OSError:
                conn.close()
                call.attempts.append(Attempt(t0, time.monotonic(), "connect"))
                return None
            self.conn = conn
        data = None if call.body is None else json.dumps(call.body).encode()
        try:
            self.conn.request(call.method, call.path, body=data, headers=headers)
            r = self.conn.getresponse()
            body = r.read()
        except (socket.timeout, TimeoutError):
            self.close()
            call.attempts.append(Attempt(t0, time.monotonic(), "timeout"))
            return None
        except (OSError, http.client.HTTPException):
            # reset, broken pipe, EOF before/inside the status line or body
            self.close()
            call.attempts.append(Attempt(t0, time.monotonic(), "cut"))
            return None
        t1 = time.monotonic()
        if r.will_close:
            self.close()
        call.attempts.append(Attempt(t0, t1, "answer", r.status))
        return r.status, r.getheader("Retry-After"), body


class ThreadState:
    """What one client thread knows about its users (kept across faults)."""

    def __init__(self, index, users, seed):
        self.index = index
        self.users = users
        self.rng = random.Random(seed)
        self.awaiting = {u: [] for u in users}     # order ids
        self.paid = {u: [] for u in users}         # (order id, user coupon id or None)
        self.coupons = {u: [] for u in users}      # AVAILABLE user coupon ids


class Workload:
    """N client threads running the mix until stop(); every Call is kept."""

    MAX_TRANSPORT_TRIES = 4     # attempts that reached the server (cut/timeout)
    MAX_CONNECT_TRIES = 50      # connect() refusals (nothing sent)

    def __init__(self, port, states, products, campaign, base="/api", timeout=5.0,
                 pace=0.002):
        self.port = port
        self.states = states
        self.products = products        # [product id, ...]
        self.campaign = campaign        # coupon campaign id for issues
        self.base = base
        self.timeout = timeout
        self.pace = pace
        self._stop = threading.Event()
        self._threads = []
        self.errors = []                # exceptions that ended a client thread
        self._calls = [[] for _ in states]
        self._clients = [Client(port, timeout) for _ in states]

    # -- control
    def start(self):
        for i, st in enumerate(self.states):
            t = threading.Thread(target=self._run, args=(i, st), daemon=True,
                                 name=f"chaos-client-{i}")
            self._threads.append(t)
            t.start()

    def stop(self, timeout=60):
        """Stops the loops and waits for the threads; returns every Call."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            raise TimeoutError(f"client threads still running after {timeout} s: {alive}")
        for c in self._clients:
            c.close()
        return [c for calls in self._calls for c in calls]

    def answers(self):
        """How many answers so far (read racily; for warm-up polling only)."""
        return sum(1 for calls in self._calls for c in list(calls) if c.answered)

    def stale_reconnects(self):
        return sum(c.stale for c in self._clients)

    # -- one request, with the retry rules
    def do(self, i, call):
        client = self._clients[i]
        headers = {"Host": f"127.0.0.1:{self.port}"}
        if call.body is not None:
            headers["Content-Type"] = "application/json"
        if call.key is not None:
            headers["Idempotency-Key"] = call.key
        sent = connects = 0
        while True:
            res = client.send(call, headers)
            if res is not None:
                status, retry_after, body = res
                call.status, call.retry_after = status, retry_after
                try:
                    call.json = json.loads(body) if body else None
                except ValueError:
                    call.json = None
                if isinstance(call.json, dict) and status >= 400:
                    call.code = call.json.get("code")
                break
            kind = call.attempts[-1].kind
            if kind == "connect":
                connects += 1
                if connects >= self.MAX_CONNECT_TRIES:
                    break
                time.sleep(0.02)        # pacing of a bounded retry loop
                continue
            sent += 1
            if not call.retriable or sent >= self.MAX_TRANSPORT_TRIES:
                break
        self._calls[i].append(call)
        return call

    # -- the mix
    def _run(self, i, st):
        try:
            self._mix(i, st)
        except Exception as e:          # noqa: BLE001 - reported by the suite
            self.errors.append(f"client {i}: {e!r}")

    def _mix(self, i, st):
        rng = st.rng
        for _ in range(10_000_000):             # bounded; stop() ends it
            if self._stop.is_set():
                return
            u = rng.choice(st.users)
            x = rng.random()
            if x < 0.22:
                self._charge(i, st, u)
            elif x < 0.42:
                self._order(i, st, u)
            elif x < 0.62:
                if st.awaiting[u]:
                    self._pay(i, st, u)
                else:
                    self._order(i, st, u)
            elif x < 0.72:
                if st.paid[u]:
                    self._cancel(i, st, u)
                else:
                    self._charge(i, st, u)
            elif x < 0.82:
                self._issue(i, st, u)
            else:
                self._get(i, st, u)
            if self.pace:
                time.sleep(self.pace)

    def _key(self, st):
        return uuid.uuid4().hex if st.rng.random() < 0.5 else None

    def _post(self, i, st, op, u, path, body):
        return self.do(i, Call(op, u, "POST", self.base + path, body, self._key(st)))

    def _charge(self, i, st, u):
        amount = next_amount()
        c = self._post(i, st, "charge", u, f"/users/{u}/points/charge", {"amount": amount})
        c.extra = amount

    def _order(self, i, st, u):
        rng = st.rng
        if rng.random() < 0.5:
            prods = [self.products[0]]      # the hot product: every fault meets a sale
        else:
            prods = sorted(rng.sample(self.products,
                                      min(len(self.products), rng.choice((1, 1, 2)))))
        items = [{"product_id": p, "quantity": rng.randint(1, 3)} for p in prods]
        c = self._post(i, st, "order", u, f"/users/{u}/orders", {"items": items})
        if c.status == 201 and isinstance(c.json, dict):
            c.extra = c.json.get("order_id")
            st.awaiting[u].append(c.extra)

    def _pay(self, i, st, u):
        rng = st.rng
        oid = st.awaiting[u].pop(rng.randrange(len(st.awaiting[u])))
        ucid = None
        if st.coupons[u] and rng.random() < 0.5:
            ucid = st.coupons[u].pop(rng.randrange(len(st.coupons[u])))
        body = {"user_coupon_id": ucid} if ucid is not None else {}
        c = self._post(i, st, "pay", u, f"/users/{u}/orders/{oid}/payment", body)
        c.extra = (oid, ucid)
        if c.status == 200:
            st.paid[u].append((oid, ucid))
        elif c.code in ("COUPON_NOT_APPLICABLE", "INSUFFICIENT_POINTS") or c.status is None \
                or c.status >= 500:
            st.awaiting[u].append(oid)          # still payable (or unknown): try again later
        if ucid is not None and c.status != 200 and c.code != "COUPON_NOT_APPLICABLE":
            st.coupons[u].append(ucid)

    def _cancel(self, i, st, u):
        rng = st.rng
        oid, ucid = st.paid[u].pop(rng.randrange(len(st.paid[u])))
        c = self._post(i, st, "cancel", u, f"/users/{u}/orders/{oid}/cancel", None)
        c.extra = oid
        if c.status == 200 and ucid is not None:
            st.coupons[u].append(ucid)
        elif c.status is None or c.status >= 500:
            st.paid[u].append((oid, ucid))

    def _issue(self, i, st, u):
        cid = self.campaign
        c = self._post(i, st, "issue", u, f"/users/{u}/coupons", {"coupon_id": cid})
        if c.status == 201 and isinstance(c.json, dict):
            c.extra = (c.json.get("user_coupon_id"), cid)
            st.coupons[u].append(c.extra[0])
        else:
            c.extra = (None, cid)

    def _get(self, i, st, u):
        if st.rng.random() < 0.5:
            path = f"/users/{u}/points"
        else:
            path = f"/products/{st.rng.choice(self.products)}"
        self.do(i, Call("get", u, "GET", self.base + path, None, None))


# --- figures over a list of Calls -------------------------------------------

def percentile(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def longest_gap(calls, t0, t1):
    """Longest time in [t0, t1] with no answer received by any client."""
    times = sorted(a.end for c in calls for a in c.attempts
                   if a.kind == "answer" and t0 <= a.end <= t1)
    points = [t0] + times + [t1]
    return max(b - a for a, b in zip(points, points[1:]))


def summarize(calls, allow_503=False):
    """Counts used in every fault's figures."""
    s = {
        "requests": len(calls),
        "answered": sum(c.answered for c in calls),
        "ok": sum(c.ok() for c in calls),
        "s503": sum(c.status == 503 for c in calls),
        "s503_no_retry_after": sum(c.status == 503 and not (c.retry_after or "").isdigit()
                                   for c in calls),
        "other_5xx": sum(c.status is not None and c.status >= 500 and c.status != 503
                         for c in calls),
        "cut": sum(a.kind == "cut" for c in calls for a in c.attempts),
        "timeouts": sum(a.kind == "timeout" for c in calls for a in c.attempts),
        "connect_errors": sum(a.kind == "connect" for c in calls for a in c.attempts),
        "retried": sum(len([a for a in c.attempts if a.kind != "connect"]) > 1 for c in calls),
        "retried_answered": sum(len([a for a in c.attempts if a.kind != "connect"]) > 1
                                and c.answered for c in calls),
        "no_answer": sum(not c.answered for c in calls),
        "unkeyed_post_cut": sum(not c.answered and not c.retriable for c in calls),
    }
    failed = [c for c in calls if not c.expected(allow_503)]
    s["failed"] = len(failed)
    s["unexpected"] = sorted({(c.op, c.status, c.code) for c in failed if c.answered},
                             key=str)
    return s, failed


class Probe:
    """A "normal client" on a fixed schedule: one GET every `interval` seconds,
    each on a NEW connection (a visitor arriving, not a warm keep-alive), from
    one thread. Latency of tick k = when its answer arrived - when tick k was
    DUE, so a request stuck behind the fault also counts against the ticks it
    held back (no coordinated omission). A request without an answer counts
    as its full timeout."""

    def __init__(self, port, path, interval=0.05, timeout=5.0):
        self.port, self.path = port, path
        self.interval, self.timeout = interval, timeout
        self.samples = []       # (due, latency, status or None)
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True, name="chaos-probe")
        self._thread.start()

    def _run(self):
        t0 = time.monotonic()
        for k in range(10_000_000):             # bounded; stop() ends it
            due = t0 + k * self.interval
            now = time.monotonic()
            if now < due:
                if self._stop.wait(due - now):
                    return
            elif self._stop.is_set():
                return
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            status = None
            try:
                conn.request("GET", self.path, headers={"Connection": "close"})
                r = conn.getresponse()
                r.read()
                status = r.status
            except (OSError, http.client.HTTPException):
                pass
            finally:
                conn.close()
            end = time.monotonic()
            if status is None:
                end = max(end, due + self.timeout)
            self.samples.append((due, end - due, status))

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2 * self.timeout + 5)
        return self.samples

    def window(self, t0, t1):
        return [s for s in self.samples if t0 <= s[0] <= t1]
