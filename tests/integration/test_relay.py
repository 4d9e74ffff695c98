"""The outbox relay: ORDER_PAID / ORDER_CANCELLED events POSTed to ShopPlatformURL.

A real HTTP receiver (receiver.py) runs in the test process; an extra httpd
(stack.httpd) points its relay at it with a 1 s timeout and backoff capped at
2 s. The main httpd has no ShopPlatformURL, so every event of the session sits
in the one outbox until a relay with a URL sends it: the module's relay first
drains that backlog (and fails if it does not drain), and every check filters
what the receiver got by the order ids the test itself created.

Synchronisation is bounded polling (receiver hits, outbox rows), never sleeps.
"""

import re
import time

import pytest

from shopclient import (check_retries_only, outbox_rows, paid_order, parallel, relay_httpd,
                        request, wait_until)

TIMEOUT = 1.0         # ShopPlatformTimeout, seconds
# One relay thread sending one event at a time (ShopPlatformConnections 1):
# the timing these tests reason about (a batch sent in turn, two relays
# contending for bursts of events). Parallel sends: test_relay_parallel.py.
CONF = ("ShopPlatformURL {url}\nShopPlatformTimeout 1\nShopPlatformRetryMax 2\n"
        "ShopPlatformConnections 1\nLogLevel warn shop:info\n")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
PAID_KEYS = {"event_id", "type", "order_id", "sequence", "user_id", "items",
             "total_amount", "discount_amount", "paid_amount", "paid_at"}


# Every test starts and ends with the receiver listening and answering 200.
pytestmark = pytest.mark.usefixtures("receiver")


# --- helpers --------------------------------------------------------------------

def delivered_ids(rx, order_ids):
    return {h.event_id for h in rx.for_orders(order_ids) if h.delivered}


def wait_delivered(stack, rx, order_ids, n_events, timeout=20):
    """Wait until the receiver acknowledged n_events events of these orders and
    the outbox marks exactly those delivered; returns the outbox rows."""
    def done():
        got = delivered_ids(rx, order_ids)
        if len(got) < n_events:
            return None
        rows = outbox_rows(stack, order_ids)
        return rows if all(r["delivered"] for r in rows) else None
    rows = wait_until(done, timeout, f"delivery of {n_events} events of orders {order_ids}",
                      interval=0.1)
    assert len(rows) == n_events, rows
    assert {r["event_id"] for r in rows} == delivered_ids(rx, order_ids), rows
    return rows


# --- fixtures -------------------------------------------------------------------

@pytest.fixture(scope="module")
def relay(stack, rx):
    """An httpd whose relay posts to the receiver (at /events/a)."""
    with relay_httpd(stack, CONF.format(url=rx.url("/events/a")), "relay") as inst:
        yield inst


# --- tests ----------------------------------------------------------------------

def test_paid_event_fields_and_idempotency_key(stack, rx, relay):
    o = paid_order(relay.base, qty=3, price=400, coupon_value=500)
    assert o["pay"]["discount_amount"] == 500 and o["pay"]["paid_amount"] == 700, o
    rows = wait_delivered(stack, rx, [o["oid"]], 1)
    (h,) = rx.for_orders([o["oid"]])
    assert h.method == "POST" and h.path == "/events/a", h
    assert h.headers.get("content-type", "").split(";")[0] == "application/json", h.headers
    ev = h.json
    assert isinstance(ev, dict) and PAID_KEYS <= set(ev), ev
    assert UUID_RE.match(ev["event_id"]), ev
    assert h.key == ev["event_id"] == rows[0]["event_id"], (h.headers, ev, rows)
    assert ev["type"] == "ORDER_PAID" and rows[0]["type"] == "ORDER_PAID"
    assert ev["sequence"] == 1, ev
    assert ev["order_id"] == o["oid"] and ev["user_id"] == o["uid"], ev
    assert ev["items"] == [{"product_id": o["pid"], "quantity": 3, "unit_price": 400}], ev
    assert (ev["total_amount"], ev["discount_amount"], ev["paid_amount"]) == (1200, 500, 700), ev
    assert TS_RE.match(ev["paid_at"]), ev
    assert ev.get("cancelled_at") is None, ev
    order = request("GET", f"{relay.base}/users/{o['uid']}/orders/{o['oid']}").json
    assert ev["paid_at"] == order["paid_at"], (ev, order)
    assert rows[0]["attempts"] == 1 and rows[0]["last_error"] == "", rows


def test_refund_emits_order_cancelled_with_same_order_id(stack, rx, relay):
    o = paid_order(relay.base, qty=2, price=300)
    r = request("POST", f"{relay.base}/users/{o['uid']}/orders/{o['oid']}/cancel")
    assert r.status == 200 and r.json["status"] == "CANCELLED", r
    rows = wait_delivered(stack, rx, [o["oid"]], 2)
    assert [r["type"] for r in rows] == ["ORDER_PAID", "ORDER_CANCELLED"], rows
    by_type = {h.json["type"]: h for h in rx.for_orders([o["oid"]]) if h.delivered}
    paid, cancelled = by_type["ORDER_PAID"], by_type["ORDER_CANCELLED"]
    assert cancelled.json["order_id"] == paid.json["order_id"] == o["oid"]
    assert (paid.json["sequence"], cancelled.json["sequence"]) == (1, 2)
    # ORDER_CANCELLED went out only after ORDER_PAID was acknowledged
    assert paid.end <= cancelled.start, (paid, cancelled)
    assert cancelled.key == cancelled.json["event_id"] != paid.json["event_id"]
    assert cancelled.json["items"] == paid.json["items"]
    assert cancelled.json["paid_amount"] == paid.json["paid_amount"] == 600
    assert TS_RE.match(cancelled.json.get("cancelled_at") or ""), cancelled.json
    check_retries_only(rx.for_orders([o["oid"]]), TIMEOUT)


def test_receiver_down_then_back_on_same_port(stack, rx, relay):
    rx.stop()
    orders = [paid_order(relay.base) for _ in range(3)]
    oids = [o["oid"] for o in orders]
    # The relay tried, failed (connection refused) and recorded it.
    wait_until(lambda: any(r["attempts"] >= 1 and r["last_error"] for r in outbox_rows(stack, oids)),
               10, "a failed attempt recorded in the outbox", interval=0.1)
    assert not any(r["delivered"] for r in outbox_rows(stack, oids))
    rx.start()
    rows = wait_delivered(stack, rx, oids, 3)
    assert sorted(r["order_id"] for r in rows) == sorted(oids), rows
    assert all(r["type"] == "ORDER_PAID" and r["last_error"] == "" for r in rows), rows
    by_event = check_retries_only(rx.for_orders(oids), TIMEOUT)
    assert len(by_event) == 3


def test_receiver_500_twice_then_200(stack, rx, relay):
    rx.fail_first(2, 500)
    o = paid_order(relay.base)
    errors_seen = set()

    def done():
        rows = outbox_rows(stack, [o["oid"]])
        errors_seen.update(r["last_error"] for r in rows)
        return rows if rows and rows[0]["delivered"] else None
    rows = wait_until(done, 20, "delivery after two 500s", interval=0.1)
    hits = sorted(rx.for_orders([o["oid"]]), key=lambda h: h.start)
    assert [h.status for h in hits] == [500, 500, 200], hits
    assert len({h.key for h in hits}) == 1 and hits[0].key == rows[0]["event_id"], hits
    assert all(h.event_id == h.key for h in hits), hits
    check_retries_only(hits, TIMEOUT)
    # backoff: ~1 s after the first failure, ~2 s after the second (cap 2 s)
    assert hits[1].start - hits[0].start >= 0.8, hits
    assert hits[2].start - hits[1].start >= 1.6, hits
    assert rows[0]["attempts"] == 3 and rows[0]["last_error"] == "", rows
    assert "HTTP 500" in errors_seen, errors_seen


def test_receiver_hangs_payments_stay_fast_event_delivered_later(stack, rx, relay):
    rx.hang(3)                      # 3 s per request; the relay gives up after 1 s
    first = paid_order(relay.base)
    # The relay is stuck on our event right now.
    wait_until(lambda: any(h.end is None for h in rx.for_orders([first["oid"]])),
               10, "the relay blocked in a send of our event", interval=0.02)
    more = [paid_order(relay.base) for _ in range(4)]
    slow = [o["pay_seconds"] for o in [first] + more if o["pay_seconds"] >= 1.0]
    assert not slow, f"payments waited for the platform: {slow}"
    oids = [o["oid"] for o in [first] + more]
    # The timed-out attempt is recorded as a failure.
    wait_until(lambda: (lambda r: r[0]["attempts"] >= 1 and r[0]["last_error"])(
        outbox_rows(stack, [first["oid"]])), 10, "the timeout recorded", interval=0.1)
    assert not any(h.delivered for h in rx.for_orders(oids))
    rx.release()
    rows = wait_delivered(stack, rx, oids, 5)
    hits = rx.for_orders([first["oid"]])
    assert len(hits) >= 2 and not hits[0].delivered, hits
    assert len({h.key for h in hits}) == 1, hits
    assert rows[0]["attempts"] >= 2 and rows[0]["last_error"] == "", rows
    check_retries_only(rx.for_orders(oids), TIMEOUT)


def test_httpd_stopped_with_pending_events_delivers_after_start(stack, rx, relay):
    relay.stop()
    try:
        # Paid on the main httpd (no ShopPlatformURL): nobody sends them.
        orders = [paid_order(stack.base) for _ in range(3)]
        oids = [o["oid"] for o in orders]
        # Nothing to wait for: 1 s in which a sender, were there one, would
        # have sent them (time must pass); the receiver is looked at throughout.
        t = time.monotonic()
        while time.monotonic() - t < 1.0:
            assert rx.for_orders(oids) == []
            time.sleep(0.1)
        rows = outbox_rows(stack, oids)
        assert len(rows) == 3 and not any(r["delivered"] or r["attempts"] for r in rows), rows
    finally:
        relay.start()
    rows = wait_delivered(stack, rx, oids, 3)
    assert all(r["attempts"] == 1 for r in rows), rows
    check_retries_only(rx.for_orders(oids), TIMEOUT)


def test_two_relays_never_send_one_event_concurrently(stack, rx, relay):
    # Each POST takes 20 ms, so a relay is still sending its batch when the
    # next events are due: the other relay's tick finds them.  Without the
    # delay the relay whose tick comes first after each burst could take
    # every event, and the test would see no contention at all.
    rx.hang(0.02)
    try:
        with stack.httpd(CONF.format(url=rx.url("/events/b")), "relay-b") as other:
            oids = []
            for _ in range(5):
                # Events trickle in while both relays tick every 250 ms.
                batch = parallel(6, lambda i: [paid_order((relay, other)[i % 2].base)["oid"]
                                               for _ in range(5)])
                oids += [oid for b in batch for oid in b]
                wait_delivered(stack, rx, oids, len(oids))
                paths = {h.path for h in rx.for_orders(oids)}
                if paths == {"/events/a", "/events/b"}:
                    break
            assert paths == {"/events/a", "/events/b"}, f"only {paths} delivered: no contention"
    finally:
        rx.ok()
    hits = rx.for_orders(oids)
    by_event = check_retries_only(hits, TIMEOUT)
    # The receiver answered 200 within 20 ms (the timeout is 1 s), so each
    # event went out exactly once, through one relay.
    dups = {e: hs for e, hs in by_event.items() if len(hs) > 1}
    assert not dups, dups
    assert len(by_event) == len(oids)
