"""Flash sales (issue 20): one product's stock in bucket rows, claimed with
FOR UPDATE SKIP LOCKED, so thousands of parallel orders of one product are
exact and the rest of the shop keeps answering.

The bench (make bench, "flash sale") holds the speed targets; these tests
hold the exactness and a loose bound on the probe that a busy CI box meets.
"""
import statistics
import threading
import time
from collections import Counter

from shopclient import (assert_problem, bulk_users, cancel, create_order, parallel, product,
                        request, reserved, rows, scalar, stock_of, until_answered, until_shown)

BUCKETS_MAX = 32


def order_until_answered(stack, uid, items):
    return until_answered(lambda: create_order(stack, uid, items, timeout=60))


def buckets(stack, pid):
    return [(int(b), int(s)) for b, s in rows(
        stack, f"SELECT bucket, stock FROM product_stock WHERE product_id = {int(pid)}"
               " ORDER BY bucket")]


def test_2000_parallel_single_unit_orders_for_500_units(stack):
    pid = product(stack, price=100, stock=500)
    users = bulk_users(stack, 2000, "fs")

    rs = parallel(2000, lambda i: order_until_answered(stack, users[i], [(pid, 1)]),
                  timeout=600)

    statuses = Counter(r.status for r in rs)
    assert statuses == {201: 500, 409: 1500}, statuses
    for r in rs:
        if r.status == 409:
            p = assert_problem(r, 409, "OUT_OF_STOCK")
            assert p["order_status"] == "FAILED" and p["out_of_stock"] == [pid]
    assert stock_of(stack, pid) == 0
    assert reserved(stack, pid) == 500
    assert all(s == 0 for _, s in buckets(stack, pid))
    until_shown(lambda: request("GET", f"{stack.base}/products/{pid}").json["stock"], 0,
                "the sold-out stock")


def test_cancel_and_expiry_give_stock_back_and_it_sells_again(stack):
    pid = product(stack, price=100, stock=40)
    users = bulk_users(stack, 60, "fsb")
    rs = parallel(60, lambda i: order_until_answered(stack, users[i], [(pid, 1)]),
                  timeout=300)
    won = [(users[i], r.json["order_id"]) for i, r in enumerate(rs) if r.status == 201]
    assert len(won) == 40 and stock_of(stack, pid) == 0

    for uid, oid in won[:7]:
        assert cancel(stack, uid, oid).status == 200
    expired = [oid for _, oid in won[7:12]]
    stack.psql("UPDATE orders SET expires_at = now() - interval '1 second'"
               f" WHERE id IN ({','.join(map(str, expired))})")
    stack.psql("SELECT shop_expire_orders(100)")   # or the expiry job was first
    assert scalar(stack, "SELECT count(*) FROM orders WHERE status = 'EXPIRED'"
                         f" AND id IN ({','.join(map(str, expired))})") == 5
    assert stock_of(stack, pid) == 12
    until_shown(lambda: request("GET", f"{stack.base}/products/{pid}").json["stock"], 12,
                "the stock given back")

    more = bulk_users(stack, 20, "fsc")
    rs = parallel(20, lambda i: order_until_answered(stack, more[i], [(pid, 1)]),
                  timeout=300)
    assert Counter(r.status for r in rs) == {201: 12, 409: 8}
    assert stock_of(stack, pid) == 0 and reserved(stack, pid) == 40 - 12 + 12


def test_a_multi_unit_line_takes_from_several_buckets(stack):
    pid = product(stack, price=10, stock=40)
    assert len(buckets(stack, pid)) == BUCKETS_MAX        # 8 x 2 and 24 x 1
    assert max(s for _, s in buckets(stack, pid)) == 2
    uid = bulk_users(stack, 1, "fsm")[0]

    assert create_order(stack, uid, [(pid, 5)]).status == 201     # no bucket holds 5
    assert stock_of(stack, pid) == 35
    assert create_order(stack, uid, [(pid, 35)]).status == 201    # every last unit
    assert stock_of(stack, pid) == 0
    assert_problem(create_order(stack, uid, [(pid, 1)]), 409, "OUT_OF_STOCK")


def test_a_short_line_gives_back_what_the_others_took(stack):
    plenty = product(stack, price=10, stock=100)
    scarce = product(stack, price=10, stock=3)
    uid = bulk_users(stack, 1, "fss")[0]

    p = assert_problem(create_order(stack, uid, [(plenty, 10), (scarce, 4)]),
                       409, "OUT_OF_STOCK")
    assert p["out_of_stock"] == [scarce] and p["order_status"] == "FAILED"
    assert stock_of(stack, plenty) == 100 and stock_of(stack, scarce) == 3
    assert rows(stack, f"SELECT status FROM orders WHERE id = {p['order_id']}") == [["FAILED"]]


def test_admin_stock_is_spread_over_buckets(stack):
    pid = product(stack, price=10, stock=0)
    assert buckets(stack, pid) == [(0, 0)]      # sold out: every bucket empty
    r = request("PATCH", f"{stack.base}/admin/products/{pid}", {"stock": 100})
    assert r.status == 200 and r.json["stock"] == 100
    b = buckets(stack, pid)
    assert len(b) == BUCKETS_MAX and sum(s for _, s in b) == 100
    assert {s for _, s in b} == {3, 4}
    r = request("PATCH", f"{stack.base}/admin/products/{pid}", {"stock": 3})
    assert r.json["stock"] == 3 and buckets(stack, pid) == [(0, 1), (1, 1), (2, 1)]


def test_other_routes_keep_answering_while_a_hot_product_is_hammered(stack):
    """200 connections order one product for ~6 s; a probe reads another
    product and a balance meanwhile.  The bench's target is p99 < 50 ms on a
    quiet machine; here, on a CI box, every probe answers 200 and the median
    stays well under a second."""
    hot = product(stack, price=1, stock=1_000_000)
    other = product(stack, price=1, stock=5)
    users = bulk_users(stack, 200, "fsh")
    probe_user = bulk_users(stack, 1, "fsp")[0]
    stop = threading.Event()
    latencies, errors = [], []

    def probe():
        paths = [f"/products/{other}", f"/users/{probe_user}/points"]
        i = 0
        while not stop.is_set():
            t = time.monotonic()
            r = request("GET", stack.base + paths[i % 2], timeout=30)
            latencies.append(time.monotonic() - t)
            if r.status != 200:
                errors.append(r)
            i += 1

    def buyer(i):
        answers = Counter()
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            answers[create_order(stack, users[i], [(hot, 1)], timeout=60).status] += 1
        return answers

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    try:
        results = parallel(200, buyer, timeout=300)
    finally:
        stop.set()
        t.join(60)
    answers = sum(results, Counter())
    assert set(answers) <= {201, 503}, answers
    assert answers[201] > 0
    assert not errors, errors[:3]
    assert len(latencies) >= 20, len(latencies)
    assert statistics.median(latencies) < 1.0, sorted(latencies)[-5:]
    assert stock_of(stack, hot) == 1_000_000 - reserved(stack, hot)
