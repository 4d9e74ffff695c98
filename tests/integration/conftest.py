"""Integration-test harness: a private mod_shop stack for the whole session.

The session fixture `stack` starts PostgreSQL and httpd through
scripts/shopctl in a fresh state directory (/tmp/shop-test.XXXXXX) on a free
loopback port, with the schema and the demo data loaded, and stops both BY PID
at the end of the session, whatever happened. Set SHOP_KEEP_STATE=1 to keep
the state directory (logs, cluster) for a post-mortem.

Interface (what the test modules use):

    stack.base                  'http://127.0.0.1:PORT/api'  (main httpd)
    stack.port, stack.state, stack.root, stack.pgsock  (state/root: pathlib.Path)
    stack.psql(sql, db="shop") -> str
                                psql -X -At -v ON_ERROR_STOP=1 as postgres on db
                                (shop unless db); stdout stripped; raises PsqlError
    stack.migrate(db, sql_dir=None) -> str
                                scripts/mod-shop-migrate on database db as role
                                shop (the checkout's sql/ unless sql_dir)
    stack.pg_stop()             stop PostgreSQL (fast shutdown); httpd keeps running
    stack.pg_start()            start the same cluster again (no migrations/demo)
    stack.error_log() -> str    the main httpd's error log
    stack.pg_log() -> str       PostgreSQL's log
    stack.main                  the main httpd as an HttpdInstance (see below)
    stack.httpd(conf, name)     context manager: an ADDITIONAL httpd on the same
                                PostgreSQL, on a free port, with the directives
                                in `conf` included after the defaults; yields an
                                HttpdInstance; stopped by PID on exit. Raises
                                ShopctlError (with .output) if it does not start.
    stack.configtest(conf) -> (ok, output)
                                apache2 -t of the default config plus `conf`
                                (for directive validation tests); starts nothing
    stack.htpasswd(user, password) -> str
                                adds/updates a user in <state>/htpasswd (basic
                                auth file readable by www-data), returns its path
    httpds (module fixture)     httpds(conf, name) -> stack.httpd(conf, name)'s
                                instance, started on first use, stopped at the
                                end of the test module
    stack.nginx(upstream, name) context manager: nginx (Debian's nginx-light)
                                with proxy_cache in front of the HttpdInstance
                                `upstream`, on a free port; yields an
                                NginxCache (.base, .port, .log() -> [(cache
                                status, HTTP status, method, URI)], one per
                                request); stopped by PID. pytest.skip when
                                nginx is not installed (scripts/shopctl deps)

    HttpdInstance: .base, .port, .name, .dir (Path), .error_log() -> str,
                   .pid (int or None), .stop(), .start()  (same port and conf:
                   use stop()+start() to test a restart; os.kill(inst.pid,
                   signal.SIGUSR1) for a graceful restart)
"""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from receiver import Receiver
from shopclient import child_pids, free_port, pid_alive

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOPCTL = ROOT / "scripts" / "shopctl"

# Variables of shopctl that must not leak from the caller's environment into
# the private stack (e.g. a developer's SHOP_STATE for `make run`).
_SHOP_ENV = ("SHOP_STATE", "SHOP_PORT", "SHOP_CONF_DIR", "SHOP_NO_DEMO", "SHOP_HTTPD_DIR")


class ShopctlError(RuntimeError):
    """scripts/shopctl failed; .output holds what it printed (stdout+stderr)."""

    def __init__(self, args, rc, output):
        super().__init__(f"scripts/shopctl {' '.join(args)} exited {rc}:\n{output}")
        self.rc = rc
        self.output = output


class PsqlError(RuntimeError):
    pass


# --- process helpers ---------------------------------------------------------

def _wait_gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _read_pid(pidfile):
    try:
        return int(Path(pidfile).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _stop_by_pid(pid, comm, sig, timeout):
    """Signal pid (if it is a live `comm`) and wait; escalate to SIGKILL of it
    and its children if it does not exit. Returns False if it had to escalate."""
    if pid is None or not pid_alive(pid, comm):
        return True
    kids = sorted(child_pids(pid))
    os.kill(pid, sig)
    if _wait_gone(pid, timeout):
        return True
    for p in [pid] + kids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
    _wait_gone(pid, 10)
    return False


def _read(path):
    try:
        return Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return ""


# --- the stack ----------------------------------------------------------------

class HttpdInstance:
    """One httpd run by shopctl with its own directory, port and config."""

    def __init__(self, stack, name, port, directory, conf_dir=None):
        self.stack = stack
        self.name = name
        self.port = port
        self.dir = Path(directory)
        self.conf_dir = conf_dir
        self.base = f"http://127.0.0.1:{port}/api"

    def _env(self):
        env = {"SHOP_PORT": str(self.port), "SHOP_HTTPD_DIR": str(self.dir)}
        if self.conf_dir is not None:
            env["SHOP_CONF_DIR"] = str(self.conf_dir)
        return env

    @property
    def pid(self):
        pid = _read_pid(self.dir / "run" / "httpd.pid")
        return pid if pid is not None and pid_alive(pid, "apache2") else None

    def start(self):
        self.stack.shopctl("httpd-start", env=self._env())

    def stop(self):
        """Stop by PID from the PidFile (TERM, poll until gone)."""
        pid = _read_pid(self.dir / "run" / "httpd.pid")
        if not _stop_by_pid(pid, "apache2", signal.SIGTERM, 30):
            raise RuntimeError(f"httpd {self.name} (pid {pid}) needed SIGKILL")

    def error_log(self):
        return _read(self.dir / "logs" / "error_log")

    def __repr__(self):
        return f"<HttpdInstance {self.name} {self.base} pid={self.pid}>"


class Stack:
    def __init__(self):
        self.root = ROOT
        self.state = Path(tempfile.mkdtemp(prefix="shop-test.", dir="/tmp"))
        # mkdtemp makes 0700; postgres and www-data (httpd children) must pass.
        self.state.chmod(0o755)
        self.pgsock = self.state / "pgsock"
        self.main = HttpdInstance(self, "main", free_port(), self.state / "httpd")
        self.port = self.main.port
        self.base = self.main.base
        self._extra = {}

    # -- plumbing
    def shopctl(self, *args, env=None):
        """Run scripts/shopctl with this stack's SHOP_STATE; raise ShopctlError."""
        e = {k: v for k, v in os.environ.items() if k not in _SHOP_ENV}
        e["SHOP_STATE"] = str(self.state)
        e.update(env or {})
        # Output to a file, not a pipe: the daemons it starts must not keep a
        # pipe open that we would wait on.
        with tempfile.TemporaryFile(mode="w+") as out:
            rc = subprocess.call([str(SHOPCTL), *args], env=e, stdout=out,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            out.seek(0)
            text = out.read()
        print(text, end="")   # shown by pytest when a test fails
        if rc != 0:
            raise ShopctlError(args, rc, text)
        return text

    def start(self):
        self.shopctl("pg-start")
        self.main.start()

    def teardown(self):
        problems = []
        for inst in list(self._extra.values()):
            try:
                inst.stop()
            except Exception as ex:  # noqa: BLE001 - keep stopping the rest
                problems.append(str(ex))
        try:
            self.main.stop()
        except Exception as ex:  # noqa: BLE001
            problems.append(str(ex))
        pg = _read_pid(self.state / "pg" / "postmaster.pid")
        if not _stop_by_pid(pg, "postgres", signal.SIGINT, 60):
            problems.append(f"PostgreSQL (pid {pg}) needed SIGKILL")
        if os.environ.get("SHOP_KEEP_STATE") == "1":
            print(f"\nshop test state kept in {self.state}")
        else:
            shutil.rmtree(self.state, ignore_errors=True)
        if problems:
            raise RuntimeError("; ".join(problems))

    # -- database
    def psql(self, sql, db="shop"):
        r = subprocess.run(
            ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", str(self.pgsock),
             "-p", "5432", "-U", "postgres", "-d", db, "-c", sql],
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise PsqlError(f"psql failed ({r.returncode}): {r.stderr.strip()}\nSQL: {sql}")
        return r.stdout.strip()

    def migrate(self, dbname, sql_dir=None):
        """scripts/mod-shop-migrate on database `dbname` as role shop; its output."""
        args = [str(self.root / "scripts" / "mod-shop-migrate"),
                "--dsn", f"host={self.pgsock} port=5432 dbname={dbname} user=shop"]
        if sql_dir:
            args += ["--sql-dir", str(sql_dir)]
        r = subprocess.run(args, capture_output=True, text=True, timeout=300,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise PsqlError(f"mod-shop-migrate on {dbname} failed: {r.stdout}{r.stderr}")
        return r.stdout

    def pg_stop(self):
        self.shopctl("pg-stop")

    def pg_start(self):
        self.shopctl("pg-start", "--no-migrate")

    def pg_log(self):
        return _read(self.state / "pglog" / "pg.log")

    # -- httpd
    def error_log(self):
        return self.main.error_log()

    @contextlib.contextmanager
    def httpd(self, conf, name):
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name == "main":
            raise ValueError(f"bad instance name {name!r}")
        if name in self._extra:
            raise ValueError(f"httpd instance {name!r} is already running")
        idir = self.state / f"httpd-{name}"
        cdir = self.state / f"conf-{name}"
        shutil.rmtree(idir, ignore_errors=True)
        shutil.rmtree(cdir, ignore_errors=True)
        cdir.mkdir()
        (cdir / "extra.conf").write_text(conf + "\n")
        inst = HttpdInstance(self, name, free_port(), idir, cdir)
        self._extra[name] = inst
        try:
            inst.start()
            yield inst
        finally:
            try:
                inst.stop()
            finally:
                del self._extra[name]

    def configtest(self, conf):
        """(ok, output) of `apache2 -t` on the default config plus `conf`."""
        n = len(list(self.state.glob("configtest-*")))
        cdir = self.state / f"configtest-{n}" / "conf"
        cdir.mkdir(parents=True)
        (cdir / "extra.conf").write_text(conf + "\n")
        try:
            out = self.shopctl("httpd-configtest", env={
                "SHOP_HTTPD_DIR": str(cdir.parent / "httpd"),
                "SHOP_CONF_DIR": str(cdir), "SHOP_PORT": str(self.port)})
            return True, out
        except ShopctlError as ex:
            return False, ex.output

    @contextlib.contextmanager
    def nginx(self, upstream, name):
        inst = _start_nginx(self.state, upstream, name)
        try:
            yield inst
        finally:
            if not _stop_by_pid(inst.pid, "nginx", signal.SIGTERM, 30):
                raise RuntimeError(f"nginx {name} needed SIGKILL")

    def htpasswd(self, user, password):
        path = self.state / "htpasswd"
        args = ["htpasswd", "-b"] + ([] if path.exists() else ["-c"])
        subprocess.run(args + [str(path), user, password], check=True,
                       capture_output=True, stdin=subprocess.DEVNULL)
        path.chmod(0o644)      # read by the httpd children (www-data)
        return str(path)


NGINX = "/usr/sbin/nginx"

NGINX_CONF = """
daemon on;
user www-data;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 1024; }}
http {{
    log_format cache '$upstream_cache_status $status $request_method $request_uri';
    access_log {dir}/access.log cache;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    proxy_cache_path {dir}/cache levels=1:2 keys_zone=shop:10m max_size=100m
                     inactive=10m use_temp_path=off;
    upstream shop {{ server 127.0.0.1:{upstream}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://shop;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache shop;
            proxy_cache_revalidate on;
            proxy_cache_lock on;
            add_header X-Cache-Status $upstream_cache_status always;
        }}
    }}
}}
"""


class NginxCache:
    """nginx with proxy_cache in front of an httpd (Stack.nginx)."""

    def __init__(self, directory, port):
        self.dir = Path(directory)
        self.port = port
        self.base = f"http://127.0.0.1:{port}/api"

    @property
    def pid(self):
        return _read_pid(self.dir / "nginx.pid")

    def log(self):
        """[(cache status, HTTP status, method, URI)] of every request so far."""
        return [tuple(line.split(" ", 3)) for line in
                _read(self.dir / "access.log").splitlines() if line]


def _start_nginx(state, upstream, name):
    if not os.access(NGINX, os.X_OK):
        pytest.skip(f"{NGINX} is not installed (nginx-light; run scripts/shopctl deps)")
    d = state / f"nginx-{name}"
    shutil.rmtree(d, ignore_errors=True)
    for sub in ("cache", "tmp"):
        (d / sub).mkdir(parents=True)
        shutil.chown(d / sub, "www-data", "www-data")
    inst = NginxCache(d, free_port())
    (d / "nginx.conf").write_text(NGINX_CONF.format(dir=d, port=inst.port,
                                                    upstream=upstream.port))
    r = subprocess.run([NGINX, "-p", str(d), "-c", str(d / "nginx.conf")],
                       capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise RuntimeError(f"nginx did not start: {r.stderr}")
    return inst


def _sigterm_to_interrupt(signum, frame):
    # A killed test run (timeout, CI) still runs the fixture teardown.
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config):
    signal.signal(signal.SIGTERM, _sigterm_to_interrupt)


@pytest.fixture(scope="session")
def stack():
    s = Stack()
    try:
        s.start()
        yield s
    finally:
        s.teardown()


@pytest.fixture(scope="module")
def httpds(stack):
    """httpds(conf, name) -> an extra HttpdInstance (stack.httpd), started on
    first use and the same one for the same name after; all of a test
    module's are stopped at its end."""
    with contextlib.ExitStack() as started:
        by_name = {}

        def get(conf, name):
            if name not in by_name:
                by_name[name] = started.enter_context(stack.httpd(conf, name))
            return by_name[name]
        yield get


@pytest.fixture(scope="module")
def rx():
    """A data-platform receiver (receiver.py) for one test module's relay."""
    r = Receiver()
    r.start()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def receiver(rx):
    """rx listening and answering 200 to everything (no scripts), before and
    after the test (a test may stop it or script refusals)."""
    rx.start()
    rx.ok()
    yield rx
    rx.start()
    rx.ok()
