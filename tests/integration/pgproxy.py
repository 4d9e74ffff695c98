"""A TCP proxy in front of PostgreSQL's Unix socket that counts connection
attempts and can play an outage (issue 14's tests).

    proxy = PgProxy(socket_path); proxy.start()   -> proxy.port
    proxy.down()   existing sessions are cut; new ones are accepted, counted
                   and closed at once (libpq sees a failed connection)
    proxy.up()     sessions are forwarded again
    proxy.attempts connections accepted since the last reset_count()
"""
import select
import socket
import threading


class PgProxy:
    def __init__(self, unix_path):
        self.unix_path = str(unix_path)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(512)
        self.port = self.listener.getsockname()[1]
        self.is_up = True
        self.attempts = 0
        self.lock = threading.Lock()
        self.pairs = []
        self.stopping = False

    def start(self):
        threading.Thread(target=self._accept_loop, daemon=True).start()
        return self

    def reset_count(self):
        with self.lock:
            self.attempts = 0

    def down(self):
        with self.lock:
            self.is_up = False
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair:
                _close(s)

    def up(self):
        with self.lock:
            self.is_up = True

    def stop(self):
        self.stopping = True
        self.down()
        _close(self.listener)

    def _accept_loop(self):
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.attempts += 1
                up = self.is_up
            if not up:
                _close(client)
                continue
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                server.connect(self.unix_path)
            except OSError:
                _close(client)
                continue
            with self.lock:
                self.pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, a, b):
        peer = {a: b, b: a}
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    peer[s].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            _close(a)
            _close(b)


def _close(s):
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass
