#!/usr/bin/env python3
"""slowloris.py: slow clients against the API, and what a normal client sees meanwhile.

    tests/chaos/slowloris.py [--host H] [--port P] [--connections N] [--duration S]
                             [--path /api/products/1] [--interval S] [--probe-timeout S]
                             [--limit S]

Opens N sockets to host:port and keeps every one of them in the middle of a request:
each sends a request line, then one more header line ("X-a-<n>: b") every --interval
seconds, never the blank line that ends the headers. A socket the server closes (408
from mod_reqtimeout, or a reset) is reopened at once, so the server faces N slow clients
for the whole run, as it would from a real attacker.

Meanwhile one probe client sends `GET <path>` on a fresh connection every 50 ms (a new
client needs the accept queue and a free worker, which is what slow clients take away),
with --probe-timeout per request. A request that fails (refused, reset, timed out, 5xx)
counts as taking at least --probe-timeout, so an unanswered probe cannot hide.

Prints the probe's count, failures, p50, p99 and max, and the slow side's counts
(opened, closed by the server). Exits 1 if the probe's p99 >= --limit (default 1 s) or
no probe got an answer, 2 on bad arguments. Self-contained: standard library only, no
other file of tests/ is needed. Everything it opens is closed when it ends; the run is
bounded by --duration (plus one probe timeout).
"""

import argparse
import http.client
import selectors
import socket
import sys
import threading
import time


def percentile(sorted_values, pct):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, int(round(pct / 100.0 * len(sorted_values) + 0.5)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Slow:
    """N sockets that each hold a request open by trickling header lines."""

    def __init__(self, host, port, count, interval, path):
        self.host, self.port, self.count, self.interval = host, port, count, interval
        self.request_line = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n".encode()
        self.sel = selectors.DefaultSelector()
        self.socks = {}             # socket -> lines sent
        self.opened = self.closed_by_server = self.connect_failures = 0

    def open_one(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect_ex((self.host, self.port))
        except OSError:
            self.connect_failures += 1
            s.close()
            return
        self.socks[s] = 0
        self.sel.register(s, selectors.EVENT_READ)
        self.opened += 1

    def drop(self, s):
        self.sel.unregister(s)
        self.socks.pop(s, None)
        s.close()

    def trickle(self):
        """Send the next piece on every socket: the request line first, then one header."""
        for s in list(self.socks):
            n = self.socks[s]
            data = self.request_line if n == 0 else f"X-a-{n}: b\r\n".encode()
            try:
                s.send(data)
                self.socks[s] = n + 1
            except BlockingIOError:
                pass                # not connected yet, or buffer full: next round
            except OSError:
                self.closed_by_server += 1
                self.drop(s)

    def reap(self, timeout):
        """Anything readable means the server answered (408) or closed: reopen."""
        for key, _ in self.sel.select(timeout):
            s = key.fileobj
            try:
                s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                pass
            # An answer (408) or EOF: that request is over either way.
            self.closed_by_server += 1
            self.drop(s)

    def run(self, stop):
        while len(self.socks) < self.count and not stop.is_set():
            self.open_one()
        next_send = 0.0
        while not stop.is_set():
            while len(self.socks) < self.count:
                self.open_one()
            now = time.monotonic()
            if now >= next_send:
                self.trickle()
                next_send = now + self.interval
            self.reap(max(0.0, min(0.1, next_send - time.monotonic())))

    def close(self):
        for s in list(self.socks):
            self.drop(s)
        self.sel.close()


def probe(host, port, path, timeout, stop, results):
    """One GET per fresh connection every 50 ms: (seconds, ok)."""
    while not stop.is_set():
        t0 = time.monotonic()
        ok = False
        try:
            c = http.client.HTTPConnection(host, port, timeout=timeout)
            c.request("GET", path, headers={"Connection": "close"})
            r = c.getresponse()
            r.read()
            ok = 200 <= r.status < 500
            c.close()
        except (OSError, http.client.HTTPException):
            pass
        took = time.monotonic() - t0
        if not ok:
            took = max(took, timeout)   # a failure counts as slow, however fast it failed
        results.append((took, ok))
        stop.wait(max(0.0, 0.05 - took))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--connections", type=int, default=300)
    ap.add_argument("--duration", type=float, default=30.0, help="seconds (default 30)")
    ap.add_argument("--path", default="/api/products/1", help="the probe's URL path")
    ap.add_argument("--interval", type=float, default=1.0,
                    help="seconds between two header lines on a slow socket (default 1)")
    ap.add_argument("--probe-timeout", type=float, default=5.0)
    ap.add_argument("--limit", type=float, default=1.0, help="fail if p99 >= this (s)")
    ap.add_argument("host_port", nargs="*", help="optional positional HOST PORT [CONNS [DURATION]]")
    a = ap.parse_args(argv)
    pos = a.host_port
    if len(pos) > 4:
        ap.error("at most HOST PORT CONNECTIONS DURATION")
    try:
        if len(pos) > 0: a.host = pos[0]
        if len(pos) > 1: a.port = int(pos[1])
        if len(pos) > 2: a.connections = int(pos[2])
        if len(pos) > 3: a.duration = float(pos[3])
    except ValueError as e:
        ap.error(str(e))
    if a.connections < 0 or a.duration <= 0 or a.interval <= 0:
        ap.error("connections >= 0, duration > 0, interval > 0")

    slow = Slow(a.host, a.port, a.connections, a.interval, a.path)
    stop = threading.Event()
    results = []
    slow_thread = threading.Thread(target=slow.run, args=(stop,), daemon=True)
    probe_thread = threading.Thread(target=probe, daemon=True,
                                    args=(a.host, a.port, a.path, a.probe_timeout, stop, results))
    started = time.monotonic()
    slow_thread.start()
    time.sleep(min(1.0, a.duration / 4))     # let the slow side take its workers first
    probe_thread.start()
    time.sleep(max(0.0, a.duration - (time.monotonic() - started)))
    stop.set()
    probe_thread.join(a.probe_timeout + 1)
    slow_thread.join(2)
    held = len(slow.socks)
    slow.close()

    times = sorted(t for t, _ in results)
    fails = sum(1 for _, ok in results if not ok)
    p50, p99 = percentile(times, 50), percentile(times, 99)
    print(f"slowloris: {a.connections} slow connections to {a.host}:{a.port} for {a.duration:g} s "
          f"(one header line per {a.interval:g} s): opened {slow.opened}, "
          f"closed by the server {slow.closed_by_server}, open at the end {held}, "
          f"connect failures {slow.connect_failures}")
    if not times:
        print("probe: no request completed")
        return 1
    print(f"probe: GET {a.path}: {len(times)} requests, {fails} failed, "
          f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms")
    if p99 >= a.limit or fails == len(times):
        print(f"FAIL: probe p99 {p99:.3f} s >= {a.limit:g} s")
        return 1
    print(f"OK: probe p99 < {a.limit:g} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
