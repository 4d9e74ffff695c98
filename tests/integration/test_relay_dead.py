"""Dead letters and per-order order of the outbox relay (issue 15).

An extra httpd points its relay at the test's receiver (receiver.py) with
ShopPlatformDeadAfter 2 and backoff capped at 1 s, so an event refused for
good (HTTP 4xx other than 408/429) is parked as dead within seconds. The
receiver answers scripted statuses per event (rx.script), 200 to the rest,
so only the events a test means to refuse are refused. Every check filters
by the order ids the test itself created.
"""

import re
import uuid

import pytest

from shopclient import (all_pages, cancel, check_retries_only, funded_user, ok, pay, place,
                        product, relay_httpd, request, server_status, wait_until)

TIMEOUT = 1.0         # ShopPlatformTimeout, seconds
CONF = ("ShopPlatformURL {url}\nShopPlatformTimeout 1\nShopPlatformRetryMax 1\n"
        "ShopPlatformDeadAfter 2\nLogLevel warn shop:info\n")
DEAD_KEYS = {"event_id", "type", "order_id", "sequence", "attempts", "last_error",
             "last_status", "created_at", "dead_at"}


# --- helpers --------------------------------------------------------------------

def placed_order(base):
    """A new user with points and an unpaid order: (uid, oid)."""
    uid = funded_user(base, 100)
    return uid, place(base, uid, [(product(base, price=100, stock=10), 1)])["order_id"]


def events(stack, oid):
    """The outbox rows of an order, oldest first: dicts."""
    out = stack.psql(
        "SELECT type, event_id, attempts, refusals, coalesce(last_status, 0),"
        " coalesce(last_error, ''), delivered_at IS NOT NULL, dead_at IS NOT NULL,"
        f" payload->>'sequence' FROM outbox WHERE order_id = {int(oid)} ORDER BY id")
    rows = []
    for line in out.splitlines():
        typ, eid, att, ref, st, err, dlv, dead, seq = line.split("|")
        rows.append({"type": typ, "event_id": eid, "attempts": int(att),
                     "refusals": int(ref), "last_status": int(st), "last_error": err,
                     "delivered": dlv == "t", "dead": dead == "t", "sequence": int(seq)})
    return rows


def hits(rx, oid, typ):
    return sorted((h for h in rx.for_orders([oid]) if h.json.get("type") == typ),
                  key=lambda h: h.start)


def dead_list(base):
    items, _ = all_pages(f"{base}/admin/outbox/dead", 1)
    return items


def redeliver(base, event_id, key=None):
    return request("POST", f"{base}/admin/outbox/dead/{event_id}/redeliver",
                   headers={"Idempotency-Key": key} if key else None)


# --- fixtures -------------------------------------------------------------------

@pytest.fixture(scope="module")
def dead_relay(stack, rx):
    """An httpd whose relay posts to the receiver, parking refused events as dead."""
    with relay_httpd(stack, CONF.format(url=rx.url("/events")), "relay-dead") as inst:
        yield inst


# Every test starts and ends with the receiver listening and answering 200.
pytestmark = pytest.mark.usefixtures("receiver")


# --- tests ----------------------------------------------------------------------

def test_refused_event_is_parked_dead_listed_and_redelivered(stack, rx, dead_relay):
    base = dead_relay.base
    a_uid, a = placed_order(base)       # ORDER_PAID refused for good, then cancelled
    c_uid, c = placed_order(base)       # ORDER_PAID refused for good
    b_uid, b = placed_order(base)       # delivered normally meanwhile
    rx.script([400], order_id=a, type="ORDER_PAID")
    rx.script([422], order_id=c, type="ORDER_PAID")
    assert ok(pay(base, a_uid, a))["status"] == "PAID"
    assert ok(pay(base, c_uid, c))["status"] == "PAID"
    assert ok(cancel(base, a_uid, a))["status"] == "CANCELLED"
    assert ok(pay(base, b_uid, b))["status"] == "PAID"

    # Two refusals (ShopPlatformDeadAfter 2) and the event is dead.
    wait_until(lambda: events(stack, a)[0]["dead"] and events(stack, c)[0]["dead"], 20,
               "the refused events parked as dead", interval=0.1)
    paid_a, cancelled_a = events(stack, a)
    assert (paid_a["attempts"], paid_a["refusals"], paid_a["last_status"],
            paid_a["last_error"], paid_a["delivered"]) == (2, 2, 400, "HTTP 400", False), paid_a
    assert events(stack, c)[0]["last_status"] == 422
    # every job log line names its shop (issue 22): several shops share one error log
    log = dead_relay.error_log()
    assert re.search(rf"SHOP00031: shop \S+: event {paid_a['event_id']} parked as dead", log), log[-3000:]
    assert re.search(r"SHOP00022: shop \S+: event \S+ not delivered: HTTP 4", log), log[-3000:]

    # The others are not blocked: b goes out.
    wait_until(lambda: events(stack, b)[0]["delivered"], 20, "b delivered", interval=0.1)

    # Dead: never leased again. a's ORDER_CANCELLED waits behind its dead
    # ORDER_PAID: pending, never sent, never dead. Shown by a relay pass made
    # when all of them would be due if they were leasable (past their
    # next_attempt_at, the backoff of ShopPlatformRetryMax 1 s at most, which
    # is time that has to pass): it sends a later event (the probe's), and
    # none of theirs.
    wait_until(lambda: stack.psql("SELECT now() > max(next_attempt_at) FROM outbox"
                                  f" WHERE order_id IN ({a}, {c})") == "t", 10,
               "the dead events' backoff run out", interval=0.1)
    probe_uid, probe = placed_order(base)
    assert ok(pay(base, probe_uid, probe))["status"] == "PAID"
    wait_until(lambda: events(stack, probe)[0]["delivered"], 20,
               "an event paid after the backoff delivered", interval=0.1)
    assert [h.status for h in hits(rx, a, "ORDER_PAID")] == [400, 400]
    assert [h.status for h in hits(rx, c, "ORDER_PAID")] == [422, 422]
    assert hits(rx, a, "ORDER_CANCELLED") == []
    cancelled_a = events(stack, a)[1]
    assert cancelled_a["type"] == "ORDER_CANCELLED" and cancelled_a["attempts"] == 0
    assert not cancelled_a["dead"] and not cancelled_a["delivered"], cancelled_a

    # GET /admin/outbox/dead: newest first, paged, with the fields of the spec.
    listed = [i for i in dead_list(base) if i["order_id"] in (a, c)]
    assert [i["order_id"] for i in listed] == [c, a], listed
    item = listed[1]
    assert set(item) == DEAD_KEYS, item
    assert item["event_id"] == paid_a["event_id"] and item["type"] == "ORDER_PAID"
    assert (item["attempts"], item["last_status"], item["last_error"]) == (2, 400, "HTTP 400")
    assert item["sequence"] == 1 and item["created_at"] <= item["dead_at"], item
    r = request("GET", f"{base}/admin/outbox/dead?limit=0")
    assert r.status == 400, r
    r = request("GET", f"{base}/admin/outbox/dead?cursor=nope")
    assert r.status == 400, r

    # The status views count them; pending leaves them out.
    pending, dead = map(int, stack.psql(
        "SELECT count(*) FILTER (WHERE dead_at IS NULL), count(*) FILTER (WHERE dead_at IS NOT NULL)"
        " FROM outbox WHERE delivered_at IS NULL").split("|"))
    assert dead >= 2 and pending >= 1
    r = request("GET", f"{base}/admin/status")
    assert r.status == 200, r
    assert r.json["outbox"]["dead"] == dead, r.json
    assert r.json["outbox"]["pending"] == pending, r.json
    lines = server_status(dead_relay)
    shop = r.json["shop"]
    assert int(lines["ShopOutboxDead." + shop]) == dead, lines
    assert int(lines["ShopOutboxPending." + shop]) == pending, lines

    # The receiver is fixed; redeliver a's ORDER_PAID (Idempotency-Key works).
    rx.ok()
    key = f"redeliver-{uuid.uuid4().hex}"
    r = redeliver(base, paid_a["event_id"], key)
    assert r.status == 200, r
    assert r.json["event_id"] == paid_a["event_id"] and r.json["dead_at"] is None, r.json
    assert r.json["attempts"] == 0 and set(r.json) == DEAD_KEYS, r.json
    again = redeliver(base, paid_a["event_id"], key)
    assert (again.status, again.json) == (200, r.json), again
    assert again.headers.get("Idempotency-Replayed") == "true", again.headers

    # Delivered once, then the ORDER_CANCELLED it held back, in order.
    wait_until(lambda: all(e["delivered"] for e in events(stack, a)), 20,
               "a's events delivered after the redelivery", interval=0.1)
    paid_hits, canc_hits = hits(rx, a, "ORDER_PAID"), hits(rx, a, "ORDER_CANCELLED")
    assert [h.status for h in paid_hits] == [400, 400, 200], paid_hits
    assert [h.status for h in canc_hits] == [200], canc_hits
    assert paid_hits[-1].end <= canc_hits[0].start, (paid_hits, canc_hits)
    assert (paid_hits[-1].json["sequence"], canc_hits[0].json["sequence"]) == (1, 2)
    paid_a, cancelled_a = events(stack, a)
    assert not paid_a["dead"] and paid_a["attempts"] == 1 and paid_a["last_status"] == 200
    assert paid_a["event_id"] not in {i["event_id"] for i in dead_list(base)}
    check_retries_only(rx.for_orders([a]), TIMEOUT)

    # Not dead any more: 404 (and for ids that never were).
    for eid in (paid_a["event_id"], str(uuid.uuid4()), "not-a-uuid", "1"):
        r = redeliver(base, eid, f"k-{uuid.uuid4().hex}")
        assert r.status == 404 and r.json["code"] == "EVENT_NOT_FOUND", (eid, r)
    r = request("GET", f"{base}/admin/outbox/dead/{paid_a['event_id']}/redeliver")
    assert r.status == 405, r

    # Leave nothing dead behind: c goes out too, without a key.
    r = redeliver(base, events(stack, c)[0]["event_id"])
    assert r.status == 200, r
    wait_until(lambda: events(stack, c)[0]["delivered"], 20, "c delivered", interval=0.1)


def test_retryable_answers_never_make_an_event_dead(stack, rx, dead_relay):
    base = dead_relay.base
    scripts = {408: [408, 408, 408, 200], 429: [429, 429, 429, 200],
               503: [503, 503, 503, 200],
               # one permanent refusal among retryable ones: below the limit
               400: [400, 503, 503, 200]}
    orders = {}
    for status, answers in scripts.items():
        uid, oid = placed_order(base)
        rx.script(answers, order_id=oid)
        orders[status] = (uid, oid)
    for uid, oid in orders.values():
        assert ok(pay(base, uid, oid))["status"] == "PAID"
    oids = [oid for _, oid in orders.values()]

    def done():
        rows = [events(stack, oid)[0] for oid in oids]
        assert not any(r["dead"] for r in rows), rows
        return rows if all(r["delivered"] for r in rows) else None
    rows = wait_until(done, 30, "delivery after retryable refusals", interval=0.1)
    assert all(r["attempts"] == 4 and r["last_status"] == 200 for r in rows), rows
    for status, (_, oid) in orders.items():
        assert [h.status for h in hits(rx, oid, "ORDER_PAID")] == scripts[status]
    check_retries_only(rx.for_orders(oids), TIMEOUT)


def test_cancelled_never_overtakes_a_failing_paid(stack, rx, dead_relay):
    base = dead_relay.base
    uid, oid = placed_order(base)
    rx.script([500, 500, 500, 200], order_id=oid, type="ORDER_PAID")
    assert ok(pay(base, uid, oid))["status"] == "PAID"
    assert ok(cancel(base, uid, oid))["status"] == "CANCELLED"
    wait_until(lambda: all(e["delivered"] for e in events(stack, oid)), 30,
               "both events delivered", interval=0.1)
    paid, cancelled = events(stack, oid)
    assert (paid["sequence"], cancelled["sequence"]) == (1, 2)
    assert paid["attempts"] == 4 and cancelled["attempts"] == 1
    paid_hits, canc_hits = hits(rx, oid, "ORDER_PAID"), hits(rx, oid, "ORDER_CANCELLED")
    assert [h.status for h in paid_hits] == [500, 500, 500, 200], paid_hits
    assert [h.status for h in canc_hits] == [200], canc_hits
    # The receiver saw ORDER_PAID (delivered) before any ORDER_CANCELLED.
    assert paid_hits[-1].end <= canc_hits[0].start, (paid_hits, canc_hits)
    assert [h.json["sequence"] for h in paid_hits] == [1, 1, 1, 1]
    assert canc_hits[0].json["sequence"] == 2
    check_retries_only(rx.for_orders([oid]), TIMEOUT)
