"""The scheduled jobs run in one process of their own (issue 10).

The httpd parent forks it per configuration generation and starts it again
if it dies; the MPM's children run no jobs, so they may come and go.
"""
import os
import signal
import time
from pathlib import Path

import pytest

from shopclient import ok, pid_alive, request, wait_until

FAST_JOBS = """
ShopPopularRefresh 1
ShopOrderHold 1
"""


@pytest.fixture
def fast(stack):
    with stack.httpd(FAST_JOBS, "fast-jobs") as inst:
        yield inst


def status(inst):
    return ok(request("GET", inst.base + "/admin/status"))


def ppid(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    return None


def generated_at(inst):
    return status(inst)["popular"]["generated_at"]


def test_one_jobs_process_beside_the_workers(stack, fast):
    jobs = status(fast)["jobs_pid"]
    assert pid_alive(jobs) and ppid(jobs) == fast.pid
    # a worker answered the status: it is not the jobs process
    assert status(fast)["db_pool"]["child_pid"] != jobs


def test_a_killed_jobs_process_is_replaced_and_jobs_go_on(stack, fast):
    old = status(fast)["jobs_pid"]
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: status(fast)["jobs_pid"] not in (old, 0)
               and pid_alive(status(fast)["jobs_pid"]), 5, "a new jobs process")
    assert "jobs process %d exited" % old in fast.error_log()
    # the new process runs the jobs: an unpaid order expires (hold 1 s)
    uid = ok(request("POST", fast.base + "/admin/users", {"login": f"jobs-{old}"}), 201)["id"]
    order = ok(request("POST", f"{fast.base}/users/{uid}/orders",
                       {"items": [{"product_id": 1, "quantity": 1}]}), 201)
    wait_until(lambda: ok(request("GET", f"{fast.base}/users/{uid}/orders/{order['order_id']}"))
               ["status"] == "EXPIRED", 10, "the order to expire")


def test_jobs_keep_their_schedule_through_graceful_restarts(stack, fast):
    before = status(fast)["jobs_pid"]
    seen, last_change, worst = generated_at(fast), time.monotonic(), 0.0
    deadline = time.monotonic() + 6
    next_restart = time.monotonic()
    restarts = 0
    while time.monotonic() < deadline:
        if restarts < 3 and time.monotonic() >= next_restart:
            os.kill(fast.pid, signal.SIGUSR1)       # graceful restart
            restarts += 1
            next_restart = time.monotonic() + 1.5
        at = generated_at(fast)
        if at != seen:
            seen, now = at, time.monotonic()
            worst, last_change = max(worst, now - last_change), now
        time.sleep(0.05)    # samples over the 6 s of restarts (time must pass)
    assert restarts == 3
    # ShopPopularRefresh 1: never more than twice the interval without a refresh
    assert worst < 2.0, worst
    assert time.monotonic() - last_change < 2.0
    after = status(fast)["jobs_pid"]
    assert after != before and pid_alive(after) and not pid_alive(before)


def test_stopping_httpd_stops_the_jobs_process(stack):
    with stack.httpd(FAST_JOBS, "stop-jobs") as inst:
        jobs = status(inst)["jobs_pid"]
        assert pid_alive(jobs)
        inst.stop()
        assert not pid_alive(jobs)
        inst.start()
