"""The relay sends up to ShopPlatformConnections events at once (issue 11).

One extra httpd relays to the test's receiver with ShopPlatformConnections 8
(two per relay thread: a batch of two events or more is sent in parallel
by its thread whichever thread leases it); the receiver holds every POST
for 300 ms, so sends of one batch overlap in time. The receiver records when
each request arrived and was answered: at most 8 may be in flight together,
more than one must be, and the two events of one order never overlap (the
second is sent only after the first is delivered).

Full batches (200 events) leave their deliveries to the statement that
leases the next batch; a backlog of several batches checks that every
delivery is still recorded, once.
"""

import time

from shopclient import (bulk_users, cancel, check_retries_only, ok, outbox_rows, paid_order,
                        parallel, relay_httpd, wait_until)

TIMEOUT = 2.0         # ShopPlatformTimeout, seconds
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
    o = paid_order(base, qty=1, price=100)
    assert ok(cancel(base, o["uid"], o["oid"]))["status"] == "CANCELLED"
    return o["oid"]


def test_sends_overlap_up_to_the_limit_and_keep_each_orders_order(stack, receiver):
    rx = receiver
    # the backlog drained at full speed, before the receiver slows
    with relay_httpd(stack, CONF.format(url=rx.url("/events/p")), "relay-par") as inst:
        rx.hang(HOLD)
        oids = [o for batch in parallel(4, lambda i: [paid_and_cancelled(inst.base)
                                                       for _ in range(3)])
                for o in batch]

        def delivered():
            rows = outbox_rows(stack, oids)
            return rows if len(rows) == 2 * len(oids) and all(r["delivered"] for r in rows) \
                else None
        wait_until(delivered, 60, "delivery of every event", interval=0.2)
    hits = [h for h in rx.for_orders(oids) if h.end is not None]
    check_retries_only(hits, TIMEOUT)
    peak = max_in_flight(hits)
    assert 1 < peak <= CONNECTIONS, f"{peak} requests in flight at once"
    for oid in oids:
        paid, cancelled = sorted((h for h in hits if h.order_id == oid and h.delivered),
                                 key=lambda h: h.start)
        assert paid.json["type"] == "ORDER_PAID" and cancelled.json["type"] == "ORDER_CANCELLED"
        assert paid.end <= cancelled.start, (paid, cancelled)


def test_a_slow_receiver_gets_the_rest_of_a_batch_without_waiting_for_the_lease(stack, receiver):
    """One send at a time, 0.4 s each, ShopPlatformTimeout 1: a batch of 10
    due events starts only the sends that fit in its first second. The rest
    is due again at once (not after the 4 s lease): all 10 arrive in about
    6 s, where waiting out the leases took about 12 s."""
    rx = receiver
    conf = ("ShopPlatformURL {url}\nShopPlatformTimeout 1\nShopPlatformRetryMax 2\n"
            "ShopPlatformConnections 1\nLogLevel warn shop:info\n")
    with relay_httpd(stack, conf.format(url=rx.url("/events/s")), "relay-drain"):
        pass                   # the backlog drained at full speed, before the receiver slows
    oids = [paid_order(stack.base, qty=1, price=100)["oid"] for _ in range(10)]  # due together
    rx.hang(0.4)
    with stack.httpd(conf.format(url=rx.url("/events/s")), "relay-slow"):
        started = time.monotonic()

        def delivered():
            rows = outbox_rows(stack, oids)
            return rows if len(rows) == 10 and all(r["delivered"] for r in rows) else None
        wait_until(delivered, 30, "delivery of the 10 events", interval=0.1)
        took = time.monotonic() - started
    assert took < 9.5, f"10 events took {took:.1f} s: the unsent rest waited for its lease"
    hits = sorted((h for h in rx.for_orders(oids) if h.end is not None), key=lambda h: h.start)
    check_retries_only(hits, 1.0)   # this relay's ShopPlatformTimeout
    # Waiting out a lease shows as a pause of about 3 s between two sends
    # (lease 4 s, minus the second of sending); due again at once, the next
    # send follows within a tick (250 ms) plus the batch's bookkeeping.
    gaps = [b.start - a.end for a, b in zip(hits, hits[1:])]
    assert max(gaps) < 2.0, f"a {max(gaps):.1f} s pause between sends: {gaps}"


def test_full_batches_are_recorded_once_by_the_next_lease(stack, receiver):
    """1,000 events due at once: full batches of 200, whose deliveries the
    next lease statement records (the last full one's when the tick ends).
    Every event must end up delivered after exactly one POST: a delivery
    left unrecorded would be sent again once its lease ran out."""
    rx = receiver
    with relay_httpd(stack, CONF.format(url=rx.url("/events/f")), "relay-full"):
        uid = bulk_users(stack, 1, "fullbatch")[0]
        stack.psql(f"INSERT INTO orders (user_id, status, total_amount, paid_amount, paid_at)"
                   f" SELECT {uid}, 'PAID', 100, 100, now() FROM generate_series(1, 1000)")
        oids = [int(x) for x in stack.psql(
            f"WITH e AS (SELECT o.id, shop_event('ORDER_PAID', o) FROM orders o"
            f" WHERE o.user_id = {uid}) SELECT id FROM e ORDER BY id").split()]
        assert len(oids) == 1000

        def delivered():
            rows = outbox_rows(stack, oids)
            return rows if len(rows) == 1000 and all(r["delivered"] for r in rows) else None
        rows = wait_until(delivered, 60, "delivery of the 1,000 events", interval=0.2)
        assert {r["attempts"] for r in rows} == {1}
    hits = [h for h in rx.for_orders(oids) if h.end is not None]
    assert sorted(h.event_id for h in hits) == sorted(r["event_id"] for r in rows)
