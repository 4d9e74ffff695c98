#!/usr/bin/python3
"""tests/cluster/freshness.py — how fresh every node's catalog cache is (issue 21).

The one home of the measurement. bench/freshness runs it as a program on a
3-node cluster (200 changes, the issue's targets); the `freshness` check of
tests/cluster/run imports it (20 changes, loose bounds for a shared CI box).

    changes(cl, n)        n catalog changes of one product, alternately a psql
                          UPDATE of its name on the primary and an admin PATCH of
                          its price through node 1. Before each change every
                          node's entry is warm (read until X-Shop-Cache: hit);
                          during it one thread per node polls GET /products/{id}
                          on that node's own port (keep-alive, tight loop) until
                          it shows the new value. Lag = that response's arrival
                          minus the change's completion (psql's statement
                          returned, the PATCH answered); 0 if seen before.
    stock_lag(cl, secs)   order threads place single-unit orders through HAProxy
                          on a product of large stock while one reader per node
                          polls it. The k-th unit sold cannot have been committed
                          before the k-th order request was sent, nor after the
                          k-th 201 arrived; so a read that shows stock v (at
                          arrival time t) has been stale for at most t - (send
                          time of order S - v + 1), at least t - (arrival of the
                          (S - v + 1)-th 201). The bound is checked on the first.

A cache with no change-driven sync would still show a change once the entry
ages out (a reader refreshes it past 3/4 of ShopCatalogMaxAge). So changes()
also counts the cross-node (change, node) pairs seen before the entry's own
refresh could have shown them: seen before fill + 3/4 max age, where fill is
the send time of this reader's read that filled it (the only reader of the
product on that node). Without the sync that count is 0.

`cl` is tests/cluster/run's Cluster or ClusterAt here: .state, .ports
({"node1": port, ...}), .base (HAProxy's /api URL), .pgsock.

    python3 tests/cluster/freshness.py --state DIR --port HAPROXY_PORT [--changes 200]
        [--stock-seconds 20] [--change-bound 0.1] [--stock-bound 1.0] [--out FILE]
"""

import argparse
import http.client
import json
import math
import re
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for _d in ("integration", "chaos"):
    if str(ROOT / "tests" / _d) not in sys.path:
        sys.path.insert(0, str(ROOT / "tests" / _d))

from shopclient import new_product, new_user, request  # noqa: E402
from workload import percentile  # noqa: E402

REFRESH_AHEAD = 0.75        # shop_cache.c: one reader refreshes past 3/4 of max age
POLL_TIMEOUT = 5.0          # a node that has not shown a change by then failed it
UNITS = {"ms": 1e-3, "s": 1.0, "": 1.0}


# --- where the cluster is ----------------------------------------------------

class ClusterAt:
    """A running scripts/cluster, from its state directory and HAProxy's port."""

    def __init__(self, state, port):
        self.state = Path(state)
        self.base = f"http://127.0.0.1:{port}/api"
        self.pgsock = self.state / "pgsock"
        self.ports = {}
        for line in (self.state / "node-ports").read_text().splitlines():
            name, p = line.split()
            self.ports[name] = int(p)


def catalog_max_age(state):
    """ShopCatalogMaxAge in seconds: a cluster conf's setting, else the
    directive table's default (mod_shop/mod_shop_directives.h)."""
    for conf in sorted(Path(state, "conf").glob("*.conf"), reverse=True):
        found = re.findall(r"^\s*ShopCatalogMaxAge\s+(\d+)(ms|s)?\s*$", conf.read_text(), re.M)
        if found:                   # the last one in the file wins
            return int(found[-1][0]) * UNITS[found[-1][1]]
    table = (ROOT / "mod_shop" / "mod_shop_directives.h").read_text()
    m = re.search(r"SHOP_VALUE\(ShopCatalogMaxAge,\s*\w+,\s*DURATION,\s*[^,]+,\s*[^,]+,\s*(\d+)",
                  table)
    return int(m.group(1)) / 1e6


def node_base(cl, name):
    return f"http://127.0.0.1:{cl.ports[name]}/api"


# --- clients -------------------------------------------------------------------

class Psql:
    """One psql session on the primary: run() returns once the statement has
    (auto)committed, so its return is the change's completion."""

    def __init__(self, sock):
        self.p = subprocess.Popen(
            ["psql", "-X", "-At", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(sock),
             "-U", "postgres", "-d", "shop"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1)

    def run(self, sql):
        self.p.stdin.write(f"{sql};\n\\echo __done__\n")
        self.p.stdin.flush()
        out = []
        while (line := self.p.stdout.readline()) != "__done__\n":
            if not line:
                raise RuntimeError(f"psql ended: {''.join(out)}")
            out.append(line)
        return "".join(out).strip()

    def close(self):
        self.p.stdin.close()
        self.p.wait(10)


class Reader:
    """GET /products/{id} on one node over one keep-alive connection."""

    def __init__(self, name, port):
        self.name, self.port, self.conn = name, port, None
        self.filled = {}            # product id -> send time of the read that filled it

    def get(self, pid):
        """-> (sent, arrived, hit, product JSON); reconnects once when the
        server closed an idle keep-alive connection."""
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            sent = time.monotonic()
            try:
                self.conn.request("GET", f"/api/products/{pid}")
                r = self.conn.getresponse()
                body = r.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                continue
            arrived = time.monotonic()
            if r.status != 200:
                raise RuntimeError(f"{self.name}: GET /products/{pid} {r.status} {body[:200]!r}")
            hit = r.getheader("X-Shop-Cache") == "hit"
            if not hit:
                self.filled[pid] = sent
            return sent, arrived, hit, json.loads(body)

    def warm(self, pid, tries=100):
        """Reads until a hit: the fill time of the entry, None if never a hit."""
        for _ in range(tries):
            if self.get(pid)[2]:
                return self.filled.get(pid)
        return None

    def watch(self, pid, field, value, started):
        """Polls until the product shows value: (send time of the last read
        that did not show it, or None; arrival of the first that did, or
        None when it never did)."""
        started.wait()
        deadline, last_old = time.monotonic() + POLL_TIMEOUT, None
        while time.monotonic() < deadline:
            sent, arrived, _, doc = self.get(pid)
            if doc[field] == value:
                return last_old, arrived
            last_old = sent
        return last_old, None


# --- figures ------------------------------------------------------------------

def ms(v):
    return "-" if v is None else f"{v * 1000:.1f}"


def spread(values):
    p50, p99, top = (percentile(values, p) for p in (50, 99, 100))
    return f"p50 {ms(p50)}  p99 {ms(p99)}  max {ms(top)} ms"


def verdict(ok, what, value, bound):
    return f"{'PASS' if ok else 'FAIL'} {what} {ms(value)} ms < {ms(bound)} ms"


# --- catalog changes seen on every node ---------------------------------------

class ChangeRun:
    """The (change, node) pairs of changes(): their lags, and whether each was
    warm before the change and seen before its entry could have aged out.

    The node began to show the change after it answered the last read that
    did not show it (so after that read was sent) and before the first read
    that did arrived: the lag "at most" (arrival - completion, the one the
    bounds apply to) and "at least" (that send - completion). A wide gap
    between the two is this client stalled between reads (a busy box)."""

    def __init__(self, max_age):
        self.max_age = max_age
        self.pairs = []     # (kind, node, lag at most or None, warm, before age-out, at least)

    def add(self, kind, node, done, watched, filled):
        last_old, seen = watched
        lag = None if seen is None else max(0.0, seen - done)
        least = 0.0 if last_old is None else max(0.0, last_old - done)
        aged_out = None if filled is None else filled + REFRESH_AHEAD * self.max_age
        before = seen is not None and aged_out is not None and seen < aged_out
        self.pairs.append((kind, node, lag, filled is not None, before, least))

    def lags(self, kind=None, node=None):
        return [p[2] if p[2] is not None else math.inf for p in self.pairs
                if kind in (None, p[0]) and node in (None, p[1])]

    def least(self):
        return [p[5] for p in self.pairs]

    def cross_node(self):
        """The pairs only the sync can make fresh (not node 1's own PATCHes)."""
        return [p for p in self.pairs if not (p[0] == "patch" and p[1] == "node1")]

    def ok(self, bound, synced_share=0.0):
        cross = self.cross_node()
        return bool(self.pairs and all(p[3] for p in self.pairs)
                and percentile(self.lags(), 99) < bound
                and sum(p[4] for p in cross) >= synced_share * len(cross))

    def report(self, bound):
        cross, nodes = self.cross_node(), sorted({p[1] for p in self.pairs})
        lines = [
            f"{len(self.pairs) // max(1, len(nodes))} changes x {len(nodes)} nodes = "
            f"{len(self.pairs)} pairs; warm (X-Shop-Cache: hit) before the change: "
            f"{sum(p[3] for p in self.pairs)}; not seen within {POLL_TIMEOUT:.0f} s: "
            f"{sum(p[2] is None for p in self.pairs)}",
            f"  all pairs                   {spread(self.lags())}",
            f"  all pairs, lag at least     {spread(self.least())}",
            f"  psql UPDATE                 {spread(self.lags('psql'))}",
            f"  PATCH via node1             {spread(self.lags('patch'))}",
            f"  PATCH via node1, on node1   {spread(self.lags('patch', 'node1'))}",
        ]
        lines += [f"  on {n:<24} {spread(self.lags(node=n))}" for n in nodes]
        lines.append(
            f"  cross-node pairs seen before the entry could age out (fill + "
            f"{REFRESH_AHEAD:g} x ShopCatalogMaxAge {ms(self.max_age)} ms): "
            f"{sum(p[4] for p in cross)}/{len(cross)}")
        p99 = percentile(self.lags(), 99)
        lines.append("  " + verdict(p99 < bound, "p99", p99, bound))
        return lines


def _target(i):
    """Change i: (kind, field, value the nodes should show)."""
    if i % 2 == 0:
        return "psql", "name", f"fresh-{i}-{uuid.uuid4().hex[:8]}"
    return "patch", "price", 2000 + i


def _apply(kind, value, pid, db, node1):
    if kind == "psql":
        db.run(f"UPDATE products SET name = '{value}' WHERE id = {pid}")
        return
    r = request("PATCH", f"{node1}/admin/products/{pid}", {"price": value})
    if r.status != 200:
        raise RuntimeError(f"PATCH /admin/products/{pid}: {r!r}")


def _one_change(ex, readers, i, pid, db, node1):
    """Warms every node, makes change i, waits for every node to show it;
    -> (kind, completion time, what each reader watched, fill times)."""
    kind, field, value = _target(i)
    filled = list(ex.map(lambda r: r.warm(pid), readers))
    started = threading.Barrier(len(readers) + 1)
    futures = [ex.submit(r.watch, pid, field, value, started) for r in readers]
    started.wait()
    _apply(kind, value, pid, db, node1)
    done = time.monotonic()
    return kind, done, [f.result() for f in futures], filled


def changes(cl, n):
    """n changes (psql name, PATCH price, alternately); -> ChangeRun."""
    pid = new_product(cl.base, "fresh", 1000, 10)
    readers = [Reader(name, port) for name, port in sorted(cl.ports.items())]
    run, db = ChangeRun(catalog_max_age(cl.state)), Psql(cl.pgsock)
    try:
        with ThreadPoolExecutor(len(readers)) as ex:
            # A first change, not counted: after it each node's entry was
            # filled by its reader's own read, so every fill time is known.
            _one_change(ex, readers, -2, pid, db, node_base(cl, "node1"))
            for i in range(n):
                kind, done, watched, filled = _one_change(ex, readers, i, pid, db,
                                                          node_base(cl, "node1"))
                for r, w, f in zip(readers, watched, filled):
                    run.add(kind, r.name, done, w, f)
    finally:
        db.close()
    return run


# --- stock shown while orders run ----------------------------------------------

class StockRun:
    """The orders (sent, arrived, status) and the node reads (node, arrived,
    stock shown) of stock_lag(), and the lag bounds of each read."""

    def __init__(self, stock, orders, reads, db_stock):
        self.stock, self.orders, self.reads, self.db_stock = stock, orders, reads, db_stock
        sent = sorted(o[0] for o in orders)
        sold = sorted(o[1] for o in orders if o[2] == 201)
        self.sold = len(sold)
        self.upper = [self._since(sent, shown, t) for _, t, shown in reads]
        self.lower = [self._since(sold, shown, t) for _, t, shown in reads]

    def _since(self, times, shown, t):
        """t minus the k-th of times, k = the unit whose sale ended `shown`
        being true; 0 if that has not happened by t."""
        k = self.stock - shown + 1
        return t - times[k - 1] if 0 < k <= len(times) and times[k - 1] < t else 0.0

    def consistent(self):
        """The database sold exactly the 201s, and no node showed less."""
        return (self.db_stock == self.stock - self.sold
                and min((r[2] for r in self.reads), default=self.stock) >= self.db_stock)

    def ok(self, bound):
        return bool(self.reads) and self.consistent() and percentile(self.upper, 99) < bound

    def report(self, bound):
        nodes = sorted({r[0] for r in self.reads})
        statuses = {}
        for o in self.orders:
            statuses[o[2]] = statuses.get(o[2], 0) + 1
        per_node = ", ".join(f"{n} {sum(r[0] == n for r in self.reads)}" for n in nodes)
        p99 = percentile(self.upper, 99)
        return [
            f"{len(self.orders)} orders through HAProxy {dict(sorted(statuses.items(), key=str))}; "
            f"stock {self.stock} -> {self.db_stock} in the database (201s: {self.sold}); "
            f"lowest shown {min((r[2] for r in self.reads), default='-')}",
            f"  {len(self.reads)} reads ({per_node}); stale (a unit of the shown stock "
            f"already sold): {sum(u > 0 for u in self.lower)} for sure, "
            f"{sum(u > 0 for u in self.upper)} at most",
            f"  lag, at most   {spread(self.upper)}",
            f"  lag, at least  {spread(self.lower)}",
            "  " + verdict(self.consistent() and p99 < bound, "p99 lag (at most)", p99, bound),
        ]


def _order_loop(base, uid, pid, stop, out):
    body = {"items": [{"product_id": pid, "quantity": 1}]}
    while not stop.is_set():
        sent = time.monotonic()
        try:
            status = request("POST", f"{base}/users/{uid}/orders", body, timeout=10).status
        except OSError:
            status = None           # may have been committed: it still counts as sent
        out.append((sent, time.monotonic(), status))


def _read_loop(reader, pid, stop, out):
    while not stop.is_set():
        _, arrived, _, doc = reader.get(pid)
        out.append((reader.name, arrived, doc["stock"]))


def _run_threads(targets, seconds, stop):
    threads = [threading.Thread(target=fn, args=args, daemon=True) for fn, args in targets]
    for t in threads:
        t.start()
    time.sleep(seconds)             # the length of the run, not a synchronisation
    stop.set()
    for t in threads:
        t.join(30)


def stock_lag(cl, seconds, threads=4, stock=1_000_000):
    """Orders for `seconds` while every node is read; -> StockRun."""
    pid = new_product(cl.base, "fresh-stock", 100, stock)
    users = [new_user(cl.base, "fresh") for _ in range(threads)]
    orders, reads, stop = [], [], threading.Event()
    readers = [Reader(name, port) for name, port in sorted(cl.ports.items())]
    targets = [(_read_loop, (r, pid, stop, reads)) for r in readers]
    targets += [(_order_loop, (cl.base, u, pid, stop, orders)) for u in users]
    _run_threads(targets, seconds, stop)
    db = Psql(cl.pgsock)
    try:
        db_stock = int(db.run(f"SELECT shop_product_stock({pid})"))
    finally:
        db.close()
    return StockRun(stock, orders, reads, db_stock)


# --- bench/freshness ------------------------------------------------------------

def loadavg():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--state", required=True, help="the cluster's state directory")
    ap.add_argument("--port", required=True, type=int, help="HAProxy's port")
    ap.add_argument("--changes", type=int, default=200)
    ap.add_argument("--stock-seconds", type=float, default=20.0)
    ap.add_argument("--change-bound", type=float, default=0.100)
    ap.add_argument("--stock-bound", type=float, default=1.0)
    ap.add_argument("--out", help="also write the report here")
    a = ap.parse_args()
    cl = ClusterAt(a.state, a.port)
    lines = []

    def say(*texts):
        for t in texts:
            print(t, flush=True)
            lines.append(t)

    say(f"bench/freshness {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} on "
        f"{len(cl.ports)} nodes (scripts/cluster: HAProxy, PgBouncer in transaction mode), "
        f"ShopCatalogMaxAge {ms(catalog_max_age(cl.state))} ms; load average {loadavg()}")
    say("", f"== catalog changes: psql UPDATE name / PATCH price via node1, "
            f"seen by GET on every node (lag in ms) ==")
    ch = changes(cl, a.changes)
    say(*ch.report(a.change_bound), f"  (load average {loadavg()})")
    say("", f"== stock shown while orders run ({a.stock_seconds:g} s, 4 order threads "
            f"through HAProxy, one reader per node) ==")
    st = stock_lag(cl, a.stock_seconds)
    say(*st.report(a.stock_bound), f"  (load average {loadavg()})")
    ok = ch.ok(a.change_bound) and st.ok(a.stock_bound)
    say("", f"freshness: {'PASS' if ok else 'FAIL'}")
    if a.out:
        Path(a.out).write_text("\n".join(lines) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
