"""The faults of the chaos suite, and how to see httpd's worker processes.

    Workers(stack)(), worker_pids  httpd worker children (not a jobs process)
    graceful(stack, n, duration)   `apache2 -f <conf> -k graceful` n times (or
                                   shopctl_reload: `scripts/shopctl reload`)
    kill_worker(stack)             kill -9 one worker child, time its replacement
    pg_outage(stack, down)         scripts/shopctl pg-stop, wait, pg-start --no-migrate
    terminate_loop(stack, dur)     pg_terminate_backend of every backend of db shop
    SlowHeaders(port, n)           n connections trickling request headers (slowloris)

Everything is bounded in time; the processes touched are the stack's own
(found from its pid files), by PID.
"""

import contextlib
import io
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from conftest import ShopctlError
from shopclient import child_pids, request

JOBS_LINE = re.compile(r"SHOP\d{5}: jobs process (\d+) started")


def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None


def jobs_pid(httpd):
    """The dedicated jobs process of a stack or an HttpdInstance, if the
    module has one: GET /admin/status "jobs_pid", else the latest
    "SHOP00017: jobs process <pid> started" line (logged at level info only)."""
    try:
        r = request("GET", f"{httpd.base}/admin/status", timeout=2)
        if r.status == 200 and isinstance(r.json, dict) and r.json.get("jobs_pid"):
            return int(r.json["jobs_pid"])
    except (OSError, ValueError, TypeError):
        pass
    found = JOBS_LINE.findall(httpd.error_log())
    return int(found[-1]) if found else None


def _listen_inodes(port):
    """Socket inodes of 127.0.0.1:port in state LISTEN, from /proc/net/tcp."""
    want = "0100007F:%04X" % port
    inodes = set()
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                col = line.split()
                if col[1] == want and col[3] == "0A":
                    inodes.add(col[9])
    except OSError:
        pass
    return inodes


def _holds_socket(pid, inodes):
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            return True
    return False


class Workers:
    """The httpd worker children of a stack's main httpd, or of another
    HttpdInstance (stack.httpd), from /proc.

    A worker is a child of the httpd parent with the parent's cmdline (a
    plain fork) that holds the listening socket. That leaves out a jobs
    process forked by the parent (it closes the listeners; also excluded by
    its pid from /admin/status or the error log, looked up once here, so
    polling needs no HTTP), and old-generation children that have closed
    their listeners during a graceful restart.
    """

    def __init__(self, server):
        self.httpd = getattr(server, "main", server)     # a Stack: its main httpd
        self.jobs = jobs_pid(self.httpd)
        self.inodes = _listen_inodes(self.httpd.port)

    def __call__(self):
        parent = self.httpd.pid
        if parent is None:
            return set()
        pcmd = _cmdline(parent)
        out = set()
        for p in child_pids(parent):
            if p == self.jobs or _cmdline(p) != pcmd:
                continue
            if self.inodes and not _holds_socket(p, self.inodes):
                continue
            out.add(p)
        return out


def worker_pids(stack):
    """Live httpd worker children (see Workers)."""
    return Workers(stack)()


def poll(fn, timeout, interval=0.01):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def apache2_graceful(stack, log):
    """`apache2 -f <conf> -k graceful`: the signal alone; its exit status."""
    conf = str(stack.main.dir / "httpd.conf")
    r = subprocess.run(["apache2", "-f", conf, "-k", "graceful"], capture_output=True,
                       text=True, stdin=subprocess.DEVNULL, timeout=30)
    if r.returncode != 0:
        log(f"  apache2 -k graceful exited {r.returncode}: {r.stderr.strip()}")
    return r.returncode


def shopctl_reload(stack, log):
    """`scripts/shopctl reload` (what `make reload` runs): render, apache2 -t,
    the signal, then it waits for the new generation to answer; its exit
    status."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):     # its chatter
            stack.shopctl("reload", env=stack.main._env())
    except ShopctlError as e:
        log(f"  shopctl reload failed: {e}")
        return 1
    return 0


def graceful(stack, n, duration, log, restart=apache2_graceful):
    """n graceful restarts (restart(stack, log) -> exit status) spread over
    `duration` seconds.

    After each, waits (polling, bounded) until the parent has forked the new
    generation's workers, then paces to the next slot. Returns a list of
    dicts: t (monotonic time of the signal), rc, new_workers_s.
    """
    t_begin = time.monotonic()
    out = []
    for k in range(n):
        workers = Workers(stack)
        before = workers()
        t = time.monotonic()
        rc = restart(stack, log)
        # The new generation's jobs process (if any) never holds the listener.
        # The MPM may start fewer children than it ran before the restart
        # (StartServers, then growth as load needs): one new worker that
        # holds the listener is a new generation at work.
        ok = poll(lambda: len(workers() - before) >= 1, 15)
        out.append({"t": t, "rc": rc,
                    "new_workers_s": (time.monotonic() - t) if ok else None})
        next_slot = t_begin + (k + 1) * duration / n
        while time.monotonic() < next_slot:     # pacing, bounded by the slot
            time.sleep(0.02)
    return out


def kill_worker(stack, log, timeout=15):
    """kill -9 of one worker child; polls the worker list for its replacement.

    Returns dict: pid, t_kill (monotonic, right after the signal),
    replaced_s (None if no replacement within `timeout`), before, after.
    """
    workers = Workers(stack)
    before = workers()
    if not before:
        raise RuntimeError("no httpd worker child to kill")
    victim = min(before)
    t_kill = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    t_after = time.monotonic()
    deadline = t_after + timeout
    replaced = None
    after = before
    while time.monotonic() < deadline:
        after = workers()
        if len(after) >= len(before) and after - before:
            replaced = time.monotonic() - t_kill
            break
        time.sleep(0.01)
    log(f"  killed worker {victim} (workers before {sorted(before)}, after {sorted(after)}; "
        f"jobs process {workers.jobs or 'none'})")
    return {"pid": victim, "t_kill": t_kill, "t_signalled": t_after,
            "replaced_s": replaced, "before": before, "after": after}


def pg_outage(stack, down, shopctl_quiet):
    """Stops PostgreSQL, keeps it down `down` seconds, starts it again."""
    t0 = time.monotonic()
    shopctl_quiet(stack.pg_stop)
    t_stopped = time.monotonic()
    while time.monotonic() < t_stopped + down:      # the outage itself
        time.sleep(0.05)
    shopctl_quiet(stack.pg_start)
    return {"t_stop": t0, "t_stopped": t_stopped, "t_started": time.monotonic()}


TERMINATE_SQL = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                 "WHERE datname = 'shop' AND pid <> pg_backend_pid()")


def terminate_loop(stack, duration, interval=0.1):
    """pg_terminate_backend of every backend of db shop, again and again."""
    t0 = time.monotonic()
    rounds = killed = errors = 0
    for _ in range(100_000):                     # bounded; the clock ends it
        if time.monotonic() >= t0 + duration:
            break
        try:
            killed += int(stack.psql(TERMINATE_SQL) or 0)
        except Exception:                        # noqa: BLE001 - counted, not fatal
            errors += 1
        rounds += 1
        time.sleep(interval)
    return {"t_start": t0, "t_end": time.monotonic(), "rounds": rounds,
            "terminated": killed, "psql_errors": errors}


class SlowHeaders:
    """A minimal slowloris: n connections that send a request line and then one
    header line every `trickle` seconds, never the blank line that ends the
    headers. A connection the server closes is reopened (bounded), so n stay
    open as long as the server lets them. Traffic to 127.0.0.1 only."""

    def __init__(self, port, n=300, trickle=2.0):
        self.port, self.n, self.trickle = port, n, trickle
        self.socks = []
        self.opened = self.reopened = self.connect_errors = 0
        self._stop = threading.Event()
        self._thread = None

    def _open(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(2.0)
        try:
            s.connect(("127.0.0.1", self.port))
            s.sendall(f"GET /api/products?slow={len(self.socks)} HTTP/1.1\r\n"
                      f"Host: 127.0.0.1:{self.port}\r\n".encode())
        except OSError:
            s.close()
            self.connect_errors += 1
            return None
        s.setblocking(False)
        return s

    def start(self):
        """Opens the n connections (returns when they are all open)."""
        for _ in range(self.n):
            s = self._open()
            if s is not None:
                self.socks.append(s)
                self.opened += 1
        self._thread = threading.Thread(target=self._trickle, daemon=True,
                                        name="slow-headers")
        self._thread.start()
        return self.opened

    def _trickle(self):
        k = 0
        for _ in range(100_000):                 # bounded; stop() ends it
            if self._stop.wait(self.trickle):
                return
            k += 1
            for idx, s in enumerate(list(self.socks)):
                try:
                    s.send(f"X-Slow-{k}: {k}\r\n".encode())
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    s.close()
                    new = self._open()
                    if new is not None:
                        self.socks[idx] = new
                        self.reopened += 1

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        self.socks = []
