"""Quiet outages (issue 14): while the database is unreachable each child
answers 503 at once, probes once per ShopDBProbeInterval, and the error
log gets a line when it breaks, a summary while it stays broken, and a
line when it is back.

The database is reached through a counting proxy, so the test can cut it
and count every connection attempt the children make.
"""
import http.client
import threading
import time

import pytest

from pgproxy import PgProxy
from shopclient import (Headers, Response, _split, assert_problem, child_pids, request,
                        wait_until)

REQUESTS = 2000
SECONDS = 2.0
THREADS = 4


@pytest.fixture
def behind_proxy(stack):
    proxy = PgProxy(stack.pgsock / ".s.PGSQL.5432").start()
    conf = f"""
DBDParams "host=127.0.0.1 port={proxy.port} dbname=shop user=shop"
ShopJobDBParams "host={stack.pgsock} port=5432 dbname=shop user=shop"
"""
    try:
        with stack.httpd(conf, "breaker") as inst:
            yield inst, proxy
    finally:
        proxy.stop()


def paced_requests(url, total, seconds, threads):
    """total GETs spread evenly over `seconds` from `threads` threads, each on
    its own keep-alive connection; returns [(status, headers, latency_s)]."""
    host, port, target = _split(url)
    results, lock = [], threading.Lock()
    per_thread = total // threads
    gap = seconds / per_thread

    def worker():
        conn = http.client.HTTPConnection(host, port, timeout=5)
        start = time.monotonic()
        for i in range(per_thread):
            t0 = time.monotonic()
            conn.request("GET", target)
            resp = conn.getresponse()
            r = Response(resp.status, Headers(resp.getheaders()), resp.read())
            latency = time.monotonic() - t0
            with lock:
                results.append((r.status, r.headers, latency, r))
            pause = start + (i + 1) * gap - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        conn.close()

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results


def p99_of(results):
    latencies = sorted(lat for _, _, lat, _ in results)
    return latencies[int(len(latencies) * 0.99)]


def workers_of(inst):
    """The httpd children that serve requests (not the jobs process)."""
    jobs = request("GET", inst.base + "/admin/status").json["jobs_pid"]
    return [p for p in child_pids(inst.pid) if p != jobs]


def test_an_outage_is_quiet_fast_and_short(stack, behind_proxy):
    inst, proxy = behind_proxy
    url = inst.base + "/users/1/points"
    assert request("GET", url).status == 200
    children = len(workers_of(inst))
    log_before = inst.error_log().count("\n")

    proxy.down()
    proxy.reset_count()
    # the reference, at the same time on the same box: the health route,
    # which touches no database, from one more client thread
    health = []
    ref = threading.Thread(target=lambda: health.extend(
        paced_requests(inst.base + "/health", REQUESTS // 4, SECONDS, 1)))
    t0 = time.monotonic()
    ref.start()
    results = paced_requests(url, REQUESTS, SECONDS, THREADS)
    elapsed = time.monotonic() - t0
    ref.join()
    reference = p99_of(health)
    attempts = proxy.attempts

    statuses = {status for status, _, _, _ in results}
    assert statuses == {503}, statuses
    for _, _, _, r in results[:: REQUESTS // 20]:
        assert_problem(r, 503, "SERVICE_UNAVAILABLE")
        assert r.headers.get("retry-after")
    p99 = p99_of(results)
    grown = inst.error_log().count("\n") - log_before
    # one probe per child per interval (250 ms, -20 % jitter) at most, plus the first try
    allowed = children * (int(elapsed / 0.2) + 2)
    print(f"outage: {len(results)} requests in {elapsed:.2f} s, p99 {p99 * 1000:.1f} ms "
          f"(GET /health in the same run: {reference * 1000:.1f} ms), "
          f"{grown} log lines, {attempts} connection attempts "
          f"({children} children, at most {allowed} allowed)")
    assert grown < 30, inst.error_log()[-4000:]
    assert attempts <= allowed, (attempts, allowed)
    # 5 ms; on a box busy with other work, no worse than twice the health route
    assert p99 < max(0.005, 2 * reference), (p99, reference)
    # Each child has its own breaker; the status view answers from memory
    # while its child's breaker is open. With the database away no child can
    # answer it otherwise: a child whose breaker is still closed tries the
    # database, answers 503 and opens it. So the first 200 says exactly: open.
    def from_memory():
        r = request("GET", inst.base + "/admin/status")
        if r.status == 503:
            assert_problem(r, 503, "SERVICE_UNAVAILABLE")
            return None
        assert r.status == 200, r
        return r.json
    database = wait_until(from_memory, 5, "/admin/status from a child's memory")["database"]
    assert set(database) == {"breaker", "open_seconds", "answered_503"}, database
    assert database["breaker"] == "open", database
    assert database["open_seconds"] > 0 and type(database["answered_503"]) is int, database

    proxy.up()
    back = time.monotonic()
    wait_until(lambda: all(request("GET", url).status == 200 for _ in range(20)),
               5, "full service after the database is back")
    took = time.monotonic() - back
    print(f"full service {took * 1000:.0f} ms after the database was back")
    assert took < 1.0, took
    log = inst.error_log()
    # each names its shop (the main server's: ServerName 127.0.0.1)
    assert "SHOP00006: shop 127.0.0.1: database unreachable" in log
    assert "SHOP00005: shop 127.0.0.1: database reachable again" in log
