"""Database and log invariants the chaos suite checks after every fault.

Each function returns (ok, figure text). They read the database through psql
as postgres on the stack's private socket (no driver module), once the
workload has stopped, so the state is quiescent.

    balances      every user's balance == sum of its point_history
    stock         the suite's products: initial stock == stock + quantity of
                  their AWAITING_PAYMENT and PAID orders
    coupons       per campaign: issued <= total, slots taken == coupons issued,
                  at most one per user; USED coupons <-> PAID orders
    payments      per order: PAID = one USE row (of paid_amount) + one
                  ORDER_PAID event; refunded (CANCELLED after paid) = also one
                  REFUND row + one ORDER_CANCELLED event; never paid = none
    successes     every 2xx a client saw is in the database (charges by their
                  unique amount, exactly once; orders, payments, refunds,
                  issued coupons by id) and nothing was done twice (no charge
                  amount twice, no more orders/payments/coupons than answered
                  successes plus requests whose outcome the client never learnt)
    error_log     no crash in the httpd error log (except allowed pids)
"""

import subprocess

CRASH_MARKERS = ("Segmentation fault", "exit signal", "AH00052", "AH00051")


class PsqlError(RuntimeError):
    pass


def psql(stack, script):
    """Runs a psql script (stdin) as postgres on db shop; returns stdout lines."""
    r = subprocess.run(
        ["psql", "-X", "-At", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(stack.pgsock),
         "-p", "5432", "-U", "postgres", "-d", "shop", "-f", "-"],
        input=script, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise PsqlError(f"psql failed ({r.returncode}): {r.stderr.strip()[:2000]}")
    return [line for line in r.stdout.splitlines() if line]


def _ints(line):
    return [int(x) for x in line.split("|")]


def _arr(ids):
    return "ARRAY[" + ",".join(str(int(i)) for i in ids) + "]::bigint[]" if ids \
        else "ARRAY[]::bigint[]"


def balances(stack):
    users, bad = _ints(psql(stack, """
        SELECT count(*), count(*) FILTER (WHERE u.balance <> coalesce(h.s, 0))
          FROM users u
          LEFT JOIN (SELECT user_id, sum(amount) AS s FROM point_history GROUP BY user_id) h
            ON h.user_id = u.id;""")[0])
    return bad == 0, f"{users} users, {bad} with balance != sum(point_history)"


def stock(stack, initial):
    """initial: {product id: stock when created}."""
    rows = psql(stack, f"""
        SELECT p.id, shop_product_stock(p.id),
               coalesce(sum(i.quantity) FILTER (WHERE o.status IN ('AWAITING_PAYMENT', 'PAID')), 0)
          FROM products p
          LEFT JOIN order_items i ON i.product_id = p.id
          LEFT JOIN orders o ON o.id = i.order_id
         WHERE p.id = ANY ({_arr(initial)})
         GROUP BY p.id ORDER BY p.id;""")
    bad, parts = [], []
    for line in rows:
        pid, st, held = _ints(line)
        parts.append(f"#{pid} {initial[pid]}={st}+{held}" if st + held == initial[pid]
                     else f"#{pid} {initial[pid]}!={st}+{held}")
        if st + held != initial[pid]:
            bad.append(pid)
    ok = not bad and len(rows) == len(initial)
    return ok, "initial = stock + held: " + ", ".join(parts)


def coupons(stack, campaigns):
    out = psql(stack, f"""
        WITH c AS (
            SELECT c.id, c.total_quantity,
                   (SELECT count(*) FROM user_coupons uc WHERE uc.coupon_id = c.id) AS issued,
                   (SELECT count(*) FROM coupon_slots s WHERE s.coupon_id = c.id
                                                          AND s.user_id IS NOT NULL) AS taken,
                   (SELECT count(*) FROM coupon_slots s WHERE s.coupon_id = c.id) AS slots,
                   (SELECT coalesce(sum(i.issued), 0) FROM coupon_issued i
                     WHERE i.coupon_id = c.id) AS striped
              FROM coupons c)
        SELECT count(*) FILTER (WHERE issued > total_quantity OR issued <> taken
                                   OR slots <> total_quantity OR striped <> taken),
               (SELECT count(*) FROM (SELECT 1 FROM user_coupons GROUP BY coupon_id, user_id
                                       HAVING count(*) > 1) d),
               (SELECT count(*) FROM coupon_slots s WHERE s.user_id IS NOT NULL AND NOT EXISTS (
                    SELECT 1 FROM user_coupons uc
                     WHERE uc.coupon_id = s.coupon_id AND uc.user_id = s.user_id)),
               (SELECT count(*) FROM user_coupons uc WHERE uc.status = 'USED' AND NOT EXISTS (
                    SELECT 1 FROM orders o WHERE o.id = uc.order_id AND o.status = 'PAID'
                                             AND o.user_coupon_id = uc.id)),
               (SELECT count(*) FROM orders o WHERE o.status = 'PAID'
                   AND o.user_coupon_id IS NOT NULL AND NOT EXISTS (
                    SELECT 1 FROM user_coupons uc WHERE uc.id = o.user_coupon_id
                       AND uc.status = 'USED' AND uc.order_id = o.id))
          FROM c;
        SELECT id || ':' || issued || '/' || total_quantity
          FROM (SELECT c.id, c.total_quantity,
                       (SELECT count(*) FROM user_coupons uc WHERE uc.coupon_id = c.id) AS issued
                  FROM coupons c WHERE c.id = ANY ({_arr(campaigns)}) ORDER BY c.id) x;""")
    bad_campaigns, dup_users, stray_slots, used_unpaid, paid_unused = _ints(out[0])
    ok = not (bad_campaigns or dup_users or stray_slots or used_unpaid or paid_unused)
    text = (f"campaigns issued/total {' '.join(out[1:])}; bad campaigns {bad_campaigns}, "
            f"two per user {dup_users}, stray slots {stray_slots}, USED without PAID order "
            f"{used_unpaid}, PAID order without USED coupon {paid_unused}")
    return ok, text


def payments(stack):
    paid, refunded, bad, sample = psql(stack, """
        WITH h AS (
            SELECT order_id,
                   count(*) FILTER (WHERE type = 'USE') AS uses,
                   coalesce(-sum(amount) FILTER (WHERE type = 'USE'), 0) AS used,
                   count(*) FILTER (WHERE type = 'REFUND') AS refunds,
                   coalesce(sum(amount) FILTER (WHERE type = 'REFUND'), 0) AS refunded
              FROM point_history WHERE order_id IS NOT NULL GROUP BY order_id),
        e AS (
            SELECT order_id,
                   count(*) FILTER (WHERE type = 'ORDER_PAID') AS paid_ev,
                   count(*) FILTER (WHERE type = 'ORDER_CANCELLED') AS canc_ev
              FROM outbox GROUP BY order_id),
        x AS (
            SELECT o.id, o.status, o.paid_at IS NOT NULL AS was_paid, o.paid_amount,
                   coalesce(h.uses, 0) AS uses, coalesce(h.used, 0) AS used,
                   coalesce(h.refunds, 0) AS refunds, coalesce(h.refunded, 0) AS refunded,
                   coalesce(e.paid_ev, 0) AS paid_ev, coalesce(e.canc_ev, 0) AS canc_ev
              FROM orders o LEFT JOIN h ON h.order_id = o.id LEFT JOIN e ON e.order_id = o.id),
        v AS (
            SELECT *, CASE
                WHEN status = 'PAID' THEN was_paid AND uses = (paid_amount > 0)::int
                     AND used = paid_amount AND refunds = 0 AND paid_ev = 1 AND canc_ev = 0
                WHEN status = 'CANCELLED' AND was_paid THEN uses = (paid_amount > 0)::int
                     AND used = paid_amount AND refunds = (paid_amount > 0)::int
                     AND refunded = paid_amount AND paid_ev = 1 AND canc_ev = 1
                ELSE NOT was_paid AND uses = 0 AND refunds = 0 AND paid_ev = 0 AND canc_ev = 0
                END AS ok
              FROM x)
        SELECT count(*) FILTER (WHERE status = 'PAID'),
               count(*) FILTER (WHERE status = 'CANCELLED' AND was_paid),
               count(*) FILTER (WHERE NOT ok),
               coalesce((SELECT string_agg(id || ':' || status || ' use ' || uses || ' refund '
                                 || refunds || ' paid_ev ' || paid_ev || ' canc_ev ' || canc_ev,
                                 '; ')
                           FROM (SELECT * FROM v WHERE NOT ok ORDER BY id LIMIT 5) s), '-')
          FROM v;""")[0].split("|")
    ok = int(bad) == 0
    text = (f"{paid} PAID, {refunded} refunded; {bad} orders whose USE/REFUND rows or "
            f"ORDER_PAID/ORDER_CANCELLED events do not match" + ("" if ok else f" ({sample})"))
    return ok, text


def successes(stack, calls, users):
    """Every success the clients saw is in the database, and nothing twice."""
    seen = []           # (kind, user, ref, extra)
    unknown = {"charge": 0, "order": 0, "pay": 0, "issue": 0}
    answered_ok = {"charge": 0, "order": 0, "pay": 0, "cancel": 0, "issue": 0}
    for c in calls:
        if c.op == "get":
            continue
        if c.ok():
            answered_ok[c.op] += 1
            if c.op == "charge":
                seen.append(("charge", c.user, c.extra, 0))
            elif c.op == "order" and c.extra is not None:
                seen.append(("order", c.user, c.extra, 0))
            elif c.op == "pay":
                seen.append(("pay", c.user, c.extra[0], c.extra[1] or 0))
            elif c.op == "cancel":
                seen.append(("cancel", c.user, c.extra, 0))
            elif c.op == "issue" and c.extra[0] is not None:
                seen.append(("issue", c.user, c.extra[0], c.extra[1]))
        elif (not c.answered or c.status >= 500) and c.op in unknown:
            unknown[c.op] += 1      # may or may not have happened
    values = ",\n".join(f"('{k}',{u},{r},{x})" for k, u, r, x in seen)
    insert = f"INSERT INTO seen VALUES {values};" if seen else ""
    out = psql(stack, f"""
        CREATE TEMP TABLE seen (kind text, user_id bigint, ref bigint, extra bigint);
        {insert}
        ANALYZE seen;
        SELECT
          (SELECT count(*) FROM seen s WHERE kind = 'charge' AND (
              SELECT count(*) FROM point_history h WHERE h.user_id = s.user_id
                 AND h.type = 'CHARGE' AND h.amount = s.ref) <> 1),
          (SELECT count(*) FROM seen s WHERE kind = 'order' AND NOT EXISTS (
              SELECT 1 FROM orders o WHERE o.id = s.ref AND o.user_id = s.user_id
                 AND o.status <> 'FAILED')),
          (SELECT count(*) FROM seen s WHERE kind = 'pay' AND NOT EXISTS (
              SELECT 1 FROM orders o WHERE o.id = s.ref AND o.user_id = s.user_id
                 AND o.status IN ('PAID', 'CANCELLED') AND o.paid_at IS NOT NULL)),
          (SELECT count(*) FROM seen s WHERE kind = 'cancel' AND NOT EXISTS (
              SELECT 1 FROM orders o WHERE o.id = s.ref AND o.user_id = s.user_id
                 AND o.status = 'CANCELLED')),
          (SELECT count(*) FROM seen s WHERE kind = 'issue' AND NOT EXISTS (
              SELECT 1 FROM user_coupons uc WHERE uc.id = s.ref AND uc.user_id = s.user_id
                 AND uc.coupon_id = s.extra)),
          (SELECT count(*) FROM (SELECT amount FROM point_history
                                  WHERE type = 'CHARGE' AND user_id = ANY ({_arr(users)})
                                  GROUP BY amount HAVING count(*) > 1) d),
          (SELECT count(*) FROM point_history
            WHERE type = 'CHARGE' AND user_id = ANY ({_arr(users)})),
          (SELECT count(*) FROM orders
            WHERE user_id = ANY ({_arr(users)}) AND status <> 'FAILED'),
          (SELECT count(*) FROM orders
            WHERE user_id = ANY ({_arr(users)}) AND paid_at IS NOT NULL),
          (SELECT count(*) FROM user_coupons WHERE user_id = ANY ({_arr(users)}));""")
    (m_charge, m_order, m_pay, m_cancel, m_issue, dup_amounts,
     db_charges, db_orders, db_paid, db_coupons) = _ints(out[-1])
    # Upper bounds: what the database holds may exceed the successes seen only
    # by requests whose outcome the client never learnt (cut, timeout, 5xx).
    extra = {
        "charges": (db_charges, answered_ok["charge"] + unknown["charge"]),
        "orders": (db_orders, answered_ok["order"] + unknown["order"]),
        "paid": (db_paid, answered_ok["pay"] + unknown["pay"]),
        "coupons": (db_coupons, answered_ok["issue"] + unknown["issue"]),
    }
    over = {k: v for k, v in extra.items() if v[0] > v[1]}
    missing = m_charge + m_order + m_pay + m_cancel + m_issue
    ok = missing == 0 and dup_amounts == 0 and not over
    text = (f"{len(seen)} successes seen, missing in db: charge {m_charge} order {m_order} "
            f"pay {m_pay} refund {m_cancel} coupon {m_issue}; charge amounts applied twice "
            f"{dup_amounts}; db <= seen+unknown: " +
            ", ".join(f"{k} {a}<={b}" for k, (a, b) in extra.items()) +
            (f" EXCEEDED {sorted(over)}" if over else ""))
    return ok, text


def error_log(text, allowed_pids=()):
    """No crash markers in `text` (the error log since the fault began), except
    the exit lines of the pids in allowed_pids (a deliberate kill -9)."""
    bad = []
    for line in text.splitlines():
        if not any(m in line for m in CRASH_MARKERS):
            continue
        if any(f"child pid {p} exit signal" in line for p in allowed_pids):
            continue
        bad.append(line.strip())
    return not bad, ("no crash lines" if not bad else
                     f"{len(bad)} crash lines, first: {bad[0][:300]}")
