"""Flat cost as data grows (issue 13).

- GET /coupons/{id}: remaining_quantity comes from the campaign's 16 striped
  counters (coupon_issued) and stays exact through issues, refusals, a user
  racing itself (the slot and its count are given back) and order
  payment / cancel (which never give a coupon back to the campaign).
- Retention: delivered outbox events past ShopOutboxRetention and sales
  ledger lines past ShopSalesRetention are purged by the jobs in batches,
  while undelivered events and sales still inside the retention stay.
- The coupon reads' JSON functions are inlined into the module's statements
  (migration 009): a LANGUAGE sql function that is not is planned again on
  every call, which halved those routes' rate.
"""

import re
import subprocess
from pathlib import Path
import threading

from shopclient import (assert_problem, bulk_users, cancel, funded_user, issue, issued,
                        new_campaign, new_user, ok, parallel, pay, pid_alive, place, product,
                        remaining, request, rows, scalar, until_answered, until_shown,
                        wait_until)


def counts(stack, cid):
    """(sum of the stripes, taken slots, user_coupons rows) of a campaign."""
    a, b, c = rows(stack, f"""SELECT (SELECT coalesce(sum(issued), 0) FROM coupon_issued
                                       WHERE coupon_id = {cid}),
                                     (SELECT count(*) FROM coupon_slots
                                       WHERE coupon_id = {cid} AND user_id IS NOT NULL),
                                     (SELECT count(*) FROM user_coupons
                                       WHERE coupon_id = {cid})""")[0]
    return int(a), int(b), int(c)


def assert_exact(stack, cid, total, n):
    assert counts(stack, cid) == (n, n, n)
    until_shown(lambda: remaining(stack, cid), total - n, "remaining")


def test_new_campaign_has_16_stripes(stack):
    c = new_campaign(stack, total_quantity=40)
    assert scalar(stack, f"SELECT count(*) FROM coupon_issued WHERE coupon_id = {c['id']}") == 16
    assert c["remaining_quantity"] == 40
    assert_exact(stack, c["id"], 40, 0)


def test_remaining_exact_through_issues_and_refusals(stack):
    cid = new_campaign(stack, total_quantity=20)["id"]
    users = [new_user(stack) for _ in range(5)]
    for i, u in enumerate(users):
        issued(stack, u, cid)
        assert_exact(stack, cid, 20, i + 1)
    # one at a time, each issue counts on the stripe of its slot (slot % 16)
    assert rows(stack, f"""SELECT i.stripe, i.issued FROM coupon_issued i
                            WHERE i.coupon_id = {cid} AND i.issued <>
                                  (SELECT count(*) FROM coupon_slots s
                                    WHERE s.coupon_id = {cid} AND s.user_id IS NOT NULL
                                      AND s.slot % 16 = i.stripe)""") == []
    # refusals move nothing
    assert_problem(issue(stack, users[0], cid), 409, "ALREADY_ISSUED")
    assert_problem(issue(stack, 99_999_999, cid), 404, "USER_NOT_FOUND")
    assert_exact(stack, cid, 20, 5)
    # the rest concurrently, with more users than coupons: exact at 0
    more = bulk_users(stack, 40, "flat")
    rs = parallel(40, lambda i: until_answered(lambda: issue(stack, more[i], cid, timeout=60)),
                  timeout=120)
    assert sorted(r.status for r in rs) == [201] * 15 + [409] * 25
    assert_exact(stack, cid, 20, 20)
    # the sum of the stripes moved with the slots (assert_exact); a batch
    # counts all its claims on one stripe, so no stripe-by-stripe check here


def test_self_race_gives_the_slot_and_its_count_back(stack):
    """The user's own coupon row is written (uncommitted) by another session:
    the issue locks a free slot, then meets the unique index and waits; on
    the other session's commit its insert does nothing: the slot stays free,
    nothing is counted, the answer is ALREADY_ISSUED."""
    cid = new_campaign(stack, total_quantity=10)["id"]
    issued(stack, new_user(stack), cid)
    uid = new_user(stack)
    holder = subprocess.Popen(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(stack.pgsock), "-p", "5432",
         "-U", "postgres", "-d", "shop"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    try:
        holder.stdin.write("BEGIN;\nINSERT INTO user_coupons (coupon_id, user_id, expires_at)"
                           f" VALUES ({cid}, {uid}, now() + interval '1 day');\n"
                           "SELECT 'held';\n")
        holder.stdin.flush()
        wait_until(lambda: scalar(stack, "SELECT count(*) FROM pg_stat_activity WHERE"
                                       " query LIKE 'SELECT ''held''%'") == 1,
                 10, "the holding session")
        out = {}
        t = threading.Thread(target=lambda: out.setdefault("r", issue(stack, uid, cid,
                                                                      timeout=30)))
        t.start()
        # the issue waits on the unique index, with a free slot locked
        wait_until(lambda: scalar(stack, "SELECT count(*) FROM pg_stat_activity WHERE"
                                       " wait_event_type = 'Lock' AND query LIKE"
                                       " '%shop_issue_coupon%'") == 1,
                 10, "the issue waiting on the holder")
        holder.stdin.write("COMMIT;\n")
        holder.stdin.close()
        t.join(30)
        assert_problem(out["r"], 409, "ALREADY_ISSUED")
    finally:
        if holder.poll() is None:
            holder.stdin.close() if not holder.stdin.closed else None
            holder.wait(10)
    # 1 issued through the API, 1 row written behind its back, no slot for it
    assert counts(stack, cid) == (1, 1, 2)
    until_shown(lambda: remaining(stack, cid), 9, "remaining")
    assert scalar(stack, f"SELECT count(*) FROM coupon_slots WHERE coupon_id = {cid}"
                         " AND user_id IS NOT NULL") == 1


def test_paying_and_cancelling_leave_remaining_alone(stack):
    cid = new_campaign(stack, total_quantity=5, discount_value=100)["id"]
    uid = funded_user(stack, 100_000)
    ucid = issued(stack, uid, cid)
    assert_exact(stack, cid, 5, 1)
    pid = product(stack, price=1000, stock=10)
    oid = place(stack, uid, [(pid, 1)])["order_id"]
    assert ok(pay(stack, uid, oid, coupon=ucid))["discount_amount"] == 100
    assert_exact(stack, cid, 5, 1)
    ok(cancel(stack, uid, oid))          # the coupon goes back to the user, not the campaign
    assert_exact(stack, cid, 5, 1)
    assert_problem(issue(stack, uid, cid), 409, "ALREADY_ISSUED")
    assert_exact(stack, cid, 5, 1)


# --- retention ------------------------------------------------------------------

RETENTION_CONF = """
LogLevel warn shop:debug
ShopPopularWindow 1h
ShopSalesRetention 2h
ShopOutboxRetention 1h
"""

OLD_EVENTS = 25_000     # more than one tick's batches (20 x 1000)


def purge_lines(inst, table):
    return [(int(m.group(1)), int(m.group(2)))
            for m in re.finditer(r"purged (\d+) rows of " + table + r" in (\d+) batches",
                                 inst.error_log())]


def test_retention_purges_in_batches_and_keeps_the_rest(stack):
    uid = funded_user(stack, 100_000)
    pid = product(stack, price=10, stock=1000)
    oid = place(stack, uid, [(pid, 1)])["order_id"]
    tag = f"flat-{oid}"
    # outbox: old delivered (purged), old undelivered (kept), recently delivered (kept)
    stack.psql(f"""
        INSERT INTO outbox (type, order_id, payload, created_at, delivered_at, next_attempt_at)
        SELECT 'ORDER_PAID', {oid}, json_build_object('tag', '{tag}', 'kind', k),
               now() - interval '3 hours',
               CASE k WHEN 'old' THEN now() - interval '2 hours'
                      WHEN 'recent' THEN now() - interval '10 minutes' END,
               now() + interval '1 day'
          FROM (SELECT 'old' AS k, g FROM generate_series(1, {OLD_EVENTS}) g
                UNION ALL SELECT 'pending', g FROM generate_series(1, 30) g
                UNION ALL SELECT 'recent', g FROM generate_series(1, 20) g) x""")
    # sales: older than the retention (purged), past the window but within the
    # retention (kept), inside the window (kept)
    stack.psql(f"""
        INSERT INTO sales (order_id, product_id, quantity, paid_at)
        SELECT {oid}, {pid}, q, now() - a
          FROM (VALUES (1, interval '3 hours'), (2, interval '5 hours'),
                       (10, interval '90 minutes'), (20, interval '10 minutes')) v (q, a),
               generate_series(1, 1500) g""")

    def outbox_left():
        return dict((k, int(n)) for k, n in rows(
            stack, f"SELECT payload->>'kind', count(*) FROM outbox"
                   f" WHERE payload->>'tag' = '{tag}' GROUP BY 1"))

    def sales_left():
        return dict((int(q), int(n)) for q, n in rows(
            stack, f"SELECT quantity, count(*) FROM sales WHERE order_id = {oid}"
                   f" AND product_id = {pid} GROUP BY 1"))

    with stack.httpd(RETENTION_CONF, "retention") as inst:
        jobs = ok(request("GET", inst.base + "/admin/status"))["jobs_pid"]
        wait_until(lambda: outbox_left().get("old", 0) == 0 and sales_left().get(1, 0) == 0,
                 60, "the old events and sales lines purged")
        assert outbox_left() == {"pending": 30, "recent": 20}
        assert sales_left() == {10: 1500, 20: 1500}
        # in batches: no tick purged more than 20 batches of 1000, so the
        # 25,000 old events took more than one tick
        outbox_purges = purge_lines(inst, "outbox")
        assert sum(n for n, _ in outbox_purges) >= OLD_EVENTS, outbox_purges
        assert len(outbox_purges) >= 2, outbox_purges
        assert all(b <= 20 and n <= 1000 * b for n, b in outbox_purges), outbox_purges
        sales_purges = purge_lines(inst, "sales")
        assert sum(n for n, _ in sales_purges) >= 3000, sales_purges
        assert all(b <= 20 for _, b in sales_purges), sales_purges
        assert "more left" in inst.error_log()
    # The default retention (outbox 7 days; sales twice the 3-day window), the
    # main instance's, keeps what is left. Once the retention instance's jobs
    # are gone, a default instance purges on its first tick: a canary past the
    # default retentions (a delivered event 8 days old, a sale 7 days old)
    # goes, and what is left stays.
    wait_until(lambda: not pid_alive(jobs), 10, f"the retention jobs process {jobs} gone")
    stack.psql(f"""
        INSERT INTO outbox (type, order_id, payload, created_at, delivered_at, next_attempt_at)
        VALUES ('ORDER_PAID', {oid}, json_build_object('tag', '{tag}', 'kind', 'canary'),
                now() - interval '8 days', now() - interval '8 days', now() + interval '1 day')""")
    stack.psql(f"INSERT INTO sales (order_id, product_id, quantity, paid_at)"
               f" VALUES ({oid}, {pid}, 99, now() - interval '7 days')")
    assert outbox_left()["canary"] == 1 and sales_left()[99] == 1
    with stack.httpd("", "default-retention"):
        wait_until(lambda: "canary" not in outbox_left() and 99 not in sales_left(), 30,
                   "the canary purged by an instance with the default retention")
    assert outbox_left() == {"pending": 30, "recent": 20}
    assert sales_left() == {10: 1500, 20: 1500}
    stack.psql(f"DELETE FROM sales WHERE order_id = {oid}")
    stack.psql(f"DELETE FROM outbox WHERE payload->>'tag' = '{tag}'")


def test_the_claim_reads_free_slots_only_in_the_generic_plan(stack):
    """Issue 13: with the statistics saying every slot is free (campaigns
    analyzed when created), the planner must still claim through the
    partial index of free slots, also in PL/pgSQL's generic plan (from the
    sixth call on): through the primary key each issue walked every slot
    claimed so far.  auto_explain shows the plans of the function's own
    statements."""
    a = new_campaign(stack, total_quantity=3000)["id"]
    b = new_campaign(stack, total_quantity=3000)["id"]
    users = bulk_users(stack, 8, "plan")
    stack.psql("ANALYZE coupon_slots")
    calls = "\n".join(f"SELECT outcome FROM shop_issue_coupon({u}, {a if i % 2 else b});"
                      for i, u in enumerate(users))
    r = subprocess.run(
        ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", str(stack.pgsock), "-p", "5432",
         "-U", "postgres", "-d", "shop"],
        input="LOAD 'auto_explain';\nSET auto_explain.log_min_duration = 0;\n"
              "SET auto_explain.log_nested_statements = on;\n"
              "SET auto_explain.log_level = notice;\n" + calls + "\n",
        capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert [x for x in r.stdout.split() if x not in ("LOAD", "SET")] == ["OK"] * 8, r.stdout
    claims = [p for p in r.stderr.split("NOTICE:") if "FROM coupon_slots" in p
              and "FOR UPDATE SKIP LOCKED" in p]
    assert len(claims) == 8, r.stderr
    for plan in claims:
        assert "coupon_slots_free" in plan and "coupon_slots_pkey" not in plan, plan


SQL_C = Path(__file__).resolve().parents[2] / "mod_shop" / "mod_shop_sql.c"


def module_statement(name):
    """The text of one of the module's statements, as mod_shop_sql.c has it."""
    src = SQL_C.read_text()
    m = re.search(r'\[' + name + r'\]\s*=\s*\{"\w+",\s*((?:"(?:[^"\\]|\\.)*"\s*)+),\s*(\d+)\}', src)
    assert m, name
    text = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1))).replace('\\"', '"')
    return text, int(m.group(2))


def test_the_coupon_reads_plan_no_function_call(stack):
    """GET /coupons/{id}, a user's coupons, an order's usable coupons and the
    sold-out answer: the functions that build their JSON (or judge SOLD_OUT)
    are inlined, so the plan of the prepared statement names none of them.
    Before migration 009 each was a LANGUAGE sql function with a sub-select
    or a FROM clause, planned again per call."""
    for name in ("SQL_COUPON_GET", "SQL_USER_COUPONS", "SQL_ORDER_COUPONS",
                 "SQL_COUPON_PLAINLY_SOLD_OUT"):
        text, nparams = module_statement(name)
        args = ", ".join(["1"] * nparams)
        plan = stack.psql(f"PREPARE s AS {text}; EXPLAIN (VERBOSE, COSTS OFF) EXECUTE s({args})")
        for fn in ("shop_coupon_json", "shop_user_coupon_json", "shop_plainly_sold_out"):
            assert fn not in plan, f"{name} calls {fn}, not inlined:\n{plan}"


def test_the_old_json_signatures_still_answer_the_same(stack):
    """A module of the previous release (during an upgrade) still calls
    shop_coupon_json(c) and shop_user_coupon_json(uc, c, amount): both exist
    after 009 and give what the new forms give."""
    c = new_campaign(stack, total_quantity=5)
    uid = funded_user(stack, 0)
    issued(stack, uid, c["id"])
    same = rows(stack, f"""
        SELECT shop_coupon_json(c)::text = shop_coupon_json(c, 1)::text,
               shop_user_coupon_json(uc, c, NULL)::text = shop_user_coupon_json(uc, c)::text,
               shop_user_coupon_json(uc, c, 700)::jsonb
                   = shop_user_coupon_json(uc, c)::jsonb || '{{"discount_amount": 700}}'
          FROM user_coupons uc JOIN coupons c ON c.id = uc.coupon_id
         WHERE uc.user_id = {uid} AND c.id = {c['id']}""")
    assert same == [["t", "t", "t"]]
