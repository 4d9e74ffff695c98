"""A stand-in for the data platform: a real HTTP server in the test process.

    rx = Receiver()            # picks a free loopback port (or Receiver(port))
    rx.start()                 # ThreadingHTTPServer in a daemon thread
    rx.url("/events")          # 'http://127.0.0.1:PORT/events'
    rx.stop()                  # stop listening (the port refuses connections);
    rx.start()                 # ... and listen again on the SAME port

Every request is recorded as a Hit (method, path, headers, body, json, start,
end, status, answered). What the receiver answers is set by its mode:

    rx.ok()                    # 200 to everything (the default)
    rx.fail_first(n, status)   # `status` to the first n requests of each event_id
    rx.hang(seconds)           # every request sleeps up to `seconds` before it
                               # answers (longer than the relay's timeout), until
                               # rx.release()

Scripts for single events, whatever the mode (cleared by rx.ok()):

    rx.script([500, 500, 200], order_id=7, type="ORDER_PAID")
                               # the events matching (JSON fields of the body)
                               # get these statuses in turn; the last one repeats
                               # ([400]: refused forever)

Only the standard library; no request waits longer than the bounds given.
"""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shopclient import free_port

__all__ = ["Hit", "Receiver"]


class Hit:
    """One request the receiver got."""

    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body
        try:
            self.json = json.loads(body)
        except ValueError:
            self.json = None
        self.start = time.monotonic()
        self.end = None          # when the answer was written (or failed)
        self.status = None       # what the receiver answered (or tried to)
        self.answered = False    # the answer reached the client

    @property
    def event_id(self):
        return self.json.get("event_id") if isinstance(self.json, dict) else None

    @property
    def order_id(self):
        return self.json.get("order_id") if isinstance(self.json, dict) else None

    @property
    def key(self):
        return self.headers.get("idempotency-key")

    @property
    def delivered(self):
        return self.answered and self.status is not None and 200 <= self.status < 300

    def __repr__(self):
        return (f"<Hit {self.method} {self.path} key={self.key} "
                f"type={self.json.get('type') if isinstance(self.json, dict) else None} "
                f"order={self.order_id} status={self.status} answered={self.answered} "
                f"t={self.start:.2f}..{self.end if self.end is None else round(self.end, 2)}>")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Receiver:
    def __init__(self, port=None):
        self.port = port or free_port()
        self.hits = []
        self._lock = threading.Lock()
        self._server = None
        self._thread = None
        self._mode = ("ok",)
        self._tries = {}                 # event_id -> requests seen
        self._scripts = []               # [match dict, statuses, {event_id: n}]
        self._release = threading.Event()

    # -- lifecycle
    def url(self, path="/events"):
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self):
        if self._server is not None:
            return
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_POST(self):       # noqa: N802 - http.server naming
                receiver._handle(self)

            def log_message(self, *args):
                pass

        deadline = time.monotonic() + 10
        while True:
            try:
                self._server = _Server(("127.0.0.1", self.port), Handler)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"receiver-{self.port}", daemon=True)
        self._thread.start()

    def stop(self):
        """Stop listening: new connections are refused (hung handlers are released)."""
        if self._server is None:
            return
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
        self._server = None
        self._thread = None

    @property
    def running(self):
        return self._server is not None

    # -- modes
    def ok(self):
        with self._lock:
            self._mode = ("ok",)
            self._scripts = []
            self._release.set()

    def script(self, statuses, **match):
        """Answer the events whose JSON body has these field values with
        `statuses` in turn (per event_id), the last one repeating."""
        assert statuses and match
        with self._lock:
            self._scripts.append([dict(match), list(statuses), {}])

    def fail_first(self, n, status=500):
        with self._lock:
            self._mode = ("fail_first", n, status)
            self._tries = {}

    def hang(self, seconds):
        with self._lock:
            self._release.clear()
            self._mode = ("hang", seconds)

    def release(self):
        """End hang mode: hung handlers answer now, new requests get 200."""
        self.ok()

    # -- queries
    def snapshot(self):
        with self._lock:
            return list(self.hits)

    def for_orders(self, order_ids):
        ids = set(order_ids)
        return [h for h in self.snapshot() if h.order_id in ids]

    # -- the handler
    def _handle(self, req):
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        hit = Hit(req.command, req.path, req.headers, body)
        with self._lock:
            self.hits.append(hit)
            mode = self._mode
            status, delay = 200, 0.0
            if mode[0] == "fail_first":
                n = self._tries.get(hit.event_id, 0)
                self._tries[hit.event_id] = n + 1
                if n < mode[1]:
                    status = mode[2]
            elif mode[0] == "hang":
                delay = mode[1]
            body = hit.json if isinstance(hit.json, dict) else {}
            for match, statuses, seen in self._scripts:
                if all(body.get(k) == v for k, v in match.items()):
                    n = seen.get(hit.event_id, 0)
                    seen[hit.event_id] = n + 1
                    status = statuses[min(n, len(statuses) - 1)]
                    break
            hit.status = status
        if delay:
            self._release.wait(delay)
        # A client that gave up (timeout) has closed its end; writing into
        # that socket may still "succeed", so look before answering.
        gone = _peer_closed(req.connection) if delay else False
        payload = b'{"ok":true}' if status < 300 else b'{"ok":false}'
        try:
            req.send_response(status)
            req.send_header("Content-Type", "application/json")
            req.send_header("Content-Length", str(len(payload)))
            req.end_headers()
            req.wfile.write(payload)
            req.wfile.flush()
            hit.answered = not gone
        except OSError:
            hit.answered = False
        hit.end = time.monotonic()


def _peer_closed(sock):
    """True if the peer already closed the connection (EOF or reset)."""
    try:
        sock.setblocking(False)
        try:
            data = sock.recv(1, socket.MSG_PEEK)
        finally:
            sock.setblocking(True)
        return data == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
