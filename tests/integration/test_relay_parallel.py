"""The relay sends up to ShopPlatformConnections events at once (issue 11).

One extra httpd relays to the test's receiver with ShopPlatformConnections 8
(two per relay thread: a batch of two events or more is sent in parallel
by its thread whichever thread leases it); the receiver holds every POST
for 300 ms, so sends of one batch overlap in time. The receiver records when
each request arrived and was answered: at most 8 may be in flight together,
more than one must be, and the two events of one order never overlap (the
second is sent only after the first is delivered).
"""

import uuid

import pytest

from shopclient import charge, new_product, new_user, parallel, request, wait_until
from test_relay import LEASABLE_SQL, check_retries_only, outbox

CONNECTIONS = 8
HOLD = 0.3
CONF = ("ShopPlatformURL {url}\nShopPlatformTimeout 2\nShopPlatformRetryMax 2\n"
        f"ShopPlatformConnections {CONNECTIONS}\nLogLevel warn shop:info\n")


def max_in_flight(hits):
    """The most requests the receiver held at the same moment."""
    edges = sorted([(h.start, 1) for h in hits] + [(h.end, -1) for h in hits],
                   key=lambda e: (e[0], e[1]))
    now = peak = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


def paid_and_cancelled(base):
    uid = new_user(base, "par")
    pid = new_product(base, f"par-{uuid.uuid4().hex[:8]}", 100, 10)
    assert charge(base, uid, 100).status == 200
    r = request("POST", f"{base}/users/{uid}/orders",
                {"items": [{"product_id": pid, "quantity": 1}]})
    assert r.status == 201, r
    oid = r.json["order_id"]
    r = request("POST", f"{base}/users/{uid}/orders/{oid}/payment")
    assert r.status == 200, r
    r = request("POST", f"{base}/users/{uid}/orders/{oid}/cancel")
    assert r.status == 200, r
    return oid


@pytest.fixture
def slow_receiver(rx):
    rx.start()
    rx.hang(HOLD)
    yield rx
    rx.ok()


def test_sends_overlap_up_to_the_limit_and_keep_each_orders_order(stack, slow_receiver):
    rx = slow_receiver
    with stack.httpd(CONF.format(url=rx.url("/events/p")), "relay-par") as inst:
        wait_until(lambda: stack.psql(LEASABLE_SQL) == "0", 60,
                   "the outbox backlog drained by the relay", interval=0.2)
        oids = [o for batch in parallel(4, lambda i: [paid_and_cancelled(inst.base)
                                                       for _ in range(3)])
                for o in batch]

        def delivered():
            rows = outbox(stack, oids)
            return rows if len(rows) == 2 * len(oids) and all(r["delivered"] for r in rows) \
                else None
        wait_until(delivered, 60, "delivery of every event", interval=0.2)
    hits = [h for h in rx.for_orders(oids) if h.end is not None]
    check_retries_only(hits)
    peak = max_in_flight(hits)
    assert 1 < peak <= CONNECTIONS, f"{peak} requests in flight at once"
    for oid in oids:
        paid, cancelled = sorted((h for h in hits if h.order_id == oid and h.delivered),
                                 key=lambda h: h.start)
        assert paid.json["type"] == "ORDER_PAID" and cancelled.json["type"] == "ORDER_CANCELLED"
        assert paid.end <= cancelled.start, (paid, cancelled)
