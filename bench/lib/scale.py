#!/usr/bin/env python3
"""bench/lib/scale.py — the measuring and reporting half of bench/scale.

  scale.py machine                       JSON line describing this box
  scale.py line RAW                      prints the last wrk record of RAW, short
  scale.py jobs PHASE PGSOCK BIG_COUPON  EXPLAIN (ANALYZE, BUFFERS) of the jobs'
                                         queries, 5 runs each (writes rolled
                                         back); one JSON line per query
  scale.py report RAW OUT [--docs MD]    bench/results/scale.json, the table,
                                         and the section of docs/performance.md
                                         between the bench/scale markers
"""
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = 5
GREW = 2.0          # a job query "grew" when large/small time passes this ...
GREW_MIN_MS = 1.0   # ... and it takes at least this long on the large set
TARGET = 0.8        # route req/s large/small

# The jobs' statements as the module sends them (mod_shop_*.c), parameters
# inlined: the default window (3 days) and sizes.
WINDOW_US = 3 * 86400 * 1000000
def code_sql(sql_id, *params):
    """The statement the module runs (mod_shop/mod_shop_sql.c, its one home),
    with $1, $2... replaced by the given literals, so the bench never
    measures a stale copy."""
    import re
    src = open(os.path.join(HERE, "..", "..", "mod_shop", "mod_shop_sql.c")).read()
    m = re.search(r"\[" + sql_id + r"\]\s*=\s*\{\s*\"[^\"]*\",((?:\s*\"(?:[^\"\\]|\\.)*\")+)\s*,\s*\d+\s*\}", src)
    if m is None:
        raise SystemExit(f"bench/lib/scale.py: {sql_id} not found in mod_shop_sql.c")
    text = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))
    for i in range(len(params), 0, -1):
        text = text.replace(f"${i}", params[i - 1])
    return text


JOBS = [
    ("popular_refresh", "mod_shop_sql.c SQL_JOB_POPULAR", False,
     "SELECT p.id, p.name, p.price,"
     " (SELECT coalesce(sum(st.stock), 0) FROM product_stock st WHERE st.product_id = p.id),"
     " s.sold FROM"
     " (SELECT product_id, sum(quantity) AS sold FROM sales"
     f"   WHERE paid_at >= now() - {WINDOW_US}::bigint * interval '1 microsecond'"
     "   GROUP BY product_id) s"
     " JOIN products p ON p.id = s.product_id AND p.on_sale"
     " ORDER BY s.sold DESC, p.id LIMIT 5"),
    ("expiry_sweep", "SELECT shop_expire_orders(500) (200 orders due)", True,
     "SELECT shop_expire_orders(500)"),
    ("expiry_select", "shop_expire_orders: the batch it locks", True,
     "SELECT id FROM orders WHERE status = 'AWAITING_PAYMENT' AND expires_at <= now()"
     " ORDER BY id LIMIT 500 FOR UPDATE SKIP LOCKED"),
    ("relay_lease", "mod_shop_sql.c SQL_JOB_RELAY_LEASE (1,000 pending events due)", True,
     code_sql("SQL_JOB_RELAY_LEASE", "50", "12000000")),
    ("status_outbox", "mod_shop_sql.c SQL_STATUS_OUTBOX", False,
     code_sql("SQL_STATUS_OUTBOX")),
    ("purge_outbox_steady", "shop_purge_outbox(7 days, 1000): nothing past retention", True,
     "SELECT shop_purge_outbox(interval '7 days', 1000)"),
    ("purge_outbox_batch", "shop_purge_outbox(3 days, 1000): a full batch", True,
     "SELECT shop_purge_outbox(interval '3 days', 1000)"),
    ("purge_outbox_select", "shop_purge_outbox: the batch it deletes", False,
     "SELECT ctid FROM outbox WHERE delivered_at < now() - interval '3 days'"
     " ORDER BY delivered_at LIMIT 1000"),
    ("purge_sales_batch", "shop_purge_sales(6 days, 1000): a full batch", True,
     "SELECT shop_purge_sales(interval '6 days', 1000)"),
    ("purge_sales_select", "shop_purge_sales: the batch it deletes", False,
     "SELECT ctid FROM sales WHERE paid_at < now() - interval '6 days'"
     " ORDER BY paid_at LIMIT 1000"),
    ("purge_idempotency", "shop_purge_idempotency_keys(24 h, 1000)", True,
     "SELECT shop_purge_idempotency_keys(interval '24 hours', 1000)"),
    ("coupon_remaining", "GET /coupons/{big}: shop_coupon_json (16 stripes)", False,
     "SELECT shop_coupon_json(c) FROM coupons c WHERE c.id = {big}"),
    ("coupon_remaining_before", "before issue 13: count(*) of the free slots", False,
     "SELECT count(*) FROM coupon_slots s WHERE s.coupon_id = {big} AND s.user_id IS NULL"),
]


def psql(sock, sql):
    p = subprocess.run(["psql", "-X", "-At", "-q", "-v", "ON_ERROR_STOP=1", "-h", sock,
                        "-p", "5432", "-U", "postgres", "-d", "shop"],
                       input=sql, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise SystemExit(f"scale.py: psql failed: {p.stderr.strip()}\nSQL: {sql}")
    return p.stdout


def buffers(plan):
    return (plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0))


def cmd_jobs(phase, sock, big):
    for name, what, writes, sql in JOBS:
        sql = sql.replace("{big}", str(int(big)))
        runs = []
        for _ in range(RUNS):
            body = f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql};"
            if writes:
                body = f"BEGIN;\n{body}\nROLLBACK;"
            out = psql(sock, body)
            doc = json.loads(out[out.index("["):out.rindex("]") + 1])[0]
            runs.append((doc["Execution Time"] + doc.get("Planning Time", 0),
                         buffers(doc["Plan"]) + buffers(doc.get("Planning", {}))))
        ms = statistics.median(r[0] for r in runs)
        bufs = statistics.median(r[1] for r in runs)
        text_body = f"EXPLAIN (ANALYZE, BUFFERS) {sql};"
        if writes:
            text_body = f"BEGIN;\n{text_body}\nROLLBACK;"
        plan = psql(sock, text_body).strip()
        print(json.dumps({"kind": "job", "phase": phase, "name": name, "what": what,
                          "sql": sql, "ms_median": round(ms, 3),
                          "ms_runs": [round(r[0], 3) for r in runs],
                          "buffers_median": bufs, "explain": plan}))
        sys.stdout.flush()


def load(raw):
    with open(raw) as f:
        return [json.loads(line) for line in f if line.strip()]


def rps(rec):
    r = rec["result"]
    return r["requests"] / (r["duration_us"] / 1e6) if r.get("duration_us") else 0.0


def issue_rate(rec):
    ex = rec["result"].get("extra", {})
    issued = ex.get("issued", 0)
    t0, t1 = ex.get("t_start_min"), ex.get("t_issue_end_max")
    if not issued or t0 is None or t1 is None or t1 <= t0:
        return None
    return issued / (t1 - t0)


def bad_statuses(rec):
    st = rec["result"].get("status", {})
    errs = rec["result"].get("errors", {})
    five = sum(n for code, n in st.items() if code.startswith("5"))
    sock = sum(v for k, v in errs.items() if k in ("connect", "read", "write", "timeout"))
    return five, sock


def cmd_line(raw):
    rec = [r for r in load(raw) if r["kind"] == "wrk"][-1]
    ir = issue_rate(rec)
    five, sock = bad_statuses(rec)
    print(f"  {rec['phase']:5} {rec['name']:20} {rps(rec):9.0f} req/s"
          + (f"  issue {ir:7.0f}/s" if ir else "")
          + f"  p99 {rec['result']['latency_us']['p99'] / 1000:.1f} ms"
          + (f"  5xx {five}" if five else "") + (f"  socket errors {sock}" if sock else "")
          + f"  (load {rec['loadavg']})", file=sys.stderr)


def cmd_report(raw, out, docs):
    recs = load(raw)
    problems_any = []
    machine = next((r for r in recs if r["kind"] == "machine"), {})
    end = next((r for r in recs if r["kind"] == "end"), {})
    ds = {r["phase"]: r for r in recs if r["kind"] == "dataset"}
    wrk = {}
    for r in recs:      # of repeated runs, the fastest
        if r["kind"] == "wrk":
            k = (r["phase"], r["name"])
            if k not in wrk or rps(r) > rps(wrk[k]):
                wrk[k] = r
    for r in recs:      # errors of any run count
        if r["kind"] == "wrk":
            five, sock = bad_statuses(r)
            if five or sock:
                problems_any.append(f"{r['phase']} {r['name']} run {r.get('attempt', 1)}:"
                                    f" {five} 5xx, {sock} socket errors")
    jobs = {(r["phase"], r["name"]): r for r in recs if r["kind"] == "job"}
    checks = [r for r in recs if r["kind"] == "check"]
    names = [n for (p, n) in wrk if p == "small"]
    problems = problems_any

    routes = []
    for n in names:
        s, l = wrk.get(("small", n)), wrk.get(("large", n))
        if not s or not l:
            continue
        row = {"route": n, "small_rps": round(rps(s)), "large_rps": round(rps(l)),
               "ratio": round(rps(l) / rps(s), 2) if rps(s) else None,
               "small_p99_ms": round(s["result"]["latency_us"]["p99"] / 1000, 2),
               "large_p99_ms": round(l["result"]["latency_us"]["p99"] / 1000, 2),
               "loadavg_small": s["loadavg"], "loadavg_large": l["loadavg"]}
        si, li = issue_rate(s), issue_rate(l)
        if si and li:
            # an issue run is judged by its issues per second while coupons
            # remain (its req/s also counts the refusals after they ran out)
            row.update(small_issue_per_s=round(si), large_issue_per_s=round(li),
                       issue_ratio=round(li / si, 2), ratio=round(li / si, 2))
        routes.append(row)

    def ratio_of(a, b):
        x, y = wrk.get(a), wrk.get(b)
        return round(rps(x) / rps(y), 2) if x and y and rps(y) else None

    coupon = {
        "get_big_vs_small_campaign_large_set": ratio_of(("large", "coupon_get_big"),
                                                        ("large", "coupon_get_small")),
        "get_big_rps": round(rps(wrk[("large", "coupon_get_big")])) if ("large", "coupon_get_big") in wrk else None,
        "get_small_rps": round(rps(wrk[("large", "coupon_get_small")])) if ("large", "coupon_get_small") in wrk else None,
    }
    ib = wrk.get(("large", "coupon_issue_big"))
    isml = wrk.get(("large", "coupon_issue_small"))
    if ib and isml and issue_rate(ib) and issue_rate(isml):
        coupon.update(issue_big_per_s=round(issue_rate(ib)),
                      issue_small_per_s=round(issue_rate(isml)),
                      issue_big_vs_small=round(issue_rate(ib) / issue_rate(isml), 2))

    for ph in ("small", "large"):
        a, b = wrk.get((ph, "coupon_issue_small")), wrk.get((ph, "coupon_issue_small_before_stripes"))
        if a and b and issue_rate(a) and issue_rate(b):
            coupon[f"issue_{ph}_set_with_stripes_per_s"] = round(issue_rate(a))
            coupon[f"issue_{ph}_set_before_stripes_per_s"] = round(issue_rate(b))
    jobrows = []
    for name, what, _, _ in JOBS:
        s, l = jobs.get(("small", name)), jobs.get(("large", name))
        if not s or not l:
            continue
        ratio = l["ms_median"] / s["ms_median"] if s["ms_median"] else None
        grew = bool(ratio and ratio > GREW and l["ms_median"] >= GREW_MIN_MS)
        jobrows.append({"job": name, "what": what, "small_ms": s["ms_median"],
                        "large_ms": l["ms_median"], "ratio": round(ratio, 2) if ratio else None,
                        "small_buffers": s["buffers_median"], "large_buffers": l["buffers_median"],
                        "grew": grew, "explain_large": l["explain"], "sql": l["sql"]})
    for c in checks:
        if c["name"] == "error_log" and c["errors"]:
            problems.append(f"{c['phase']}: {c['errors']} error lines in the httpd error log")
    result = {"machine": machine, "datasets": ds, "routes": routes, "coupons": coupon,
              "jobs": jobrows, "checks": checks, "end": end, "target_ratio": TARGET,
              "problems": problems}
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    text = render(result)
    print(text)
    if docs:
        with open(docs) as f:
            md = f.read()
        begin, stop = "<!-- BEGIN bench/scale results", "<!-- END bench/scale results -->"
        block = ("<!-- BEGIN bench/scale results (generated: edit bench/lib/scale.py,"
                 " not this) -->\n" + text + "\n" + stop)
        if begin in md:
            md = md[:md.index(begin)] + block + md[md.index(stop) + len(stop):]
        else:
            md = md.rstrip("\n") + "\n\n" + block + "\n"
        with open(docs, "w") as f:
            f.write(md)
    if problems:
        print("PROBLEMS: " + "; ".join(problems), file=sys.stderr)
        sys.exit(1)


def render(r):
    ds = r["datasets"]
    L = []
    s, l = ds.get("small", {}), ds.get("large", {})
    L.append(f"Run of {r['end'].get('duration_s', '?')} s on {r['machine'].get('cpu', '?')}"
             f" ({r['machine'].get('cores', '?')} cores), commit {r['machine'].get('commit', '?')};"
             f" load average at the end {r['end'].get('loadavg_end', '?')}.\n")
    L.append("| data set | scale | users | products | paid order lines | delivered events |"
             " big campaign | heavy user (history / orders) | load | VACUUM ANALYZE | database |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, d in (("small", s), ("large", l)):
        if d:
            L.append(f"| {name} | {d['scale']} | {d['users']:,} | {d['products']:,} |"
                     f" {d['order_lines']:,} | {d['events']:,} | {d['big_coupons']:,} |"
                     f" {d['heavy_history']:,} / {d['heavy_orders']:,} | {d['load_s']} s |"
                     f" {d['vacuum_s']} s | {d['db_bytes'] / 2**30:.2f} GiB |")
    L.append("")
    L.append(f"Routes, req/s (wrk, the same connections and seconds on both, best of the runs;"
             f" target large/small ≥ {r['target_ratio']}):\n")
    L.append("| route | small req/s | large req/s | large/small | p99 small | p99 large |"
             " load avg (small run / large run) |")
    L.append("|---|---|---|---|---|---|---|")
    for x in r["routes"]:
        mark = "" if x["ratio"] is None or x["ratio"] >= r["target_ratio"] else " ⚠"
        if "small_issue_per_s" in x:
            L.append(f"| {x['route']} (issues/s; req/s {x['small_rps']} / {x['large_rps']}) |"
                     f" {x['small_issue_per_s']} | {x['large_issue_per_s']} |"
                     f" {x['ratio']}{mark} | {x['small_p99_ms']} ms | {x['large_p99_ms']} ms |"
                     f" {x['loadavg_small']} / {x['loadavg_large']} |")
            continue
        L.append(f"| {x['route']} | {x['small_rps']} | {x['large_rps']} |"
                 f" {x['ratio']}{mark} | {x['small_p99_ms']} ms | {x['large_p99_ms']} ms |"
                 f" {x['loadavg_small']} / {x['loadavg_large']} |")
    L.append("\nRoutes marked ⚠ missed the target in this run; the load averages say how busy the"
             " machine was (other work shares it), and each route's two runs per set are in"
             " bench/results/scale.raw.jsonl.")
    c = r["coupons"]
    L.append("")
    L.append(f"On the large set: `GET /coupons/{{id}}` of the {l.get('big_coupons', 0):,}-coupon"
             f" campaign {c.get('get_big_rps')} req/s vs the 1,000-coupon one"
             f" {c.get('get_small_rps')} req/s (ratio {c.get('get_big_vs_small_campaign_large_set')});"
             f" coupon issue rate on the big campaign (half issued) {c.get('issue_big_per_s')}/s vs a"
             f" fresh 2,000-coupon one {c.get('issue_small_per_s')}/s (ratio"
             f" {c.get('issue_big_vs_small')}).  The striped count on the issue path, same"
             f" race with shop_issue_coupon before issue 13: small set"
             f" {c.get('issue_small_set_before_stripes_per_s')}/s before,"
             f" {c.get('issue_small_set_with_stripes_per_s')}/s with stripes; large set"
             f" {c.get('issue_large_set_before_stripes_per_s')}/s before,"
             f" {c.get('issue_large_set_with_stripes_per_s')}/s with stripes.\n")
    L.append("Jobs, cost of one run (median of 5, EXPLAIN ANALYZE execution + planning; writes"
             " rolled back):\n")
    L.append("| job query | small ms | large ms | large/small | buffers small → large | grew? |")
    L.append("|---|---|---|---|---|---|")
    for j in r["jobs"]:
        L.append(f"| `{j['job']}`: {j['what']} | {j['small_ms']} | {j['large_ms']} |"
                 f" {j['ratio']} | {j['small_buffers']:.0f} → {j['large_buffers']:.0f} |"
                 f" {'**yes**' if j['grew'] else 'no'} |")
    shown = [j for j in r["jobs"] if j["grew"]] + [
        j for j in r["jobs"] if j["job"] in ("popular_refresh", "relay_lease", "status_outbox",
                                             "purge_outbox_select", "purge_sales_select",
                                             "coupon_remaining_before") and not j["grew"]]
    L.append("")
    L.append("EXPLAIN (ANALYZE, BUFFERS) on the large set of the queries that grew, and of the"
             " ones whose plan is the point:\n")
    for j in shown:
        L.append(f"`{j['job']}`{' (grew)' if j['grew'] else ''}:\n")
        L.append("```")
        L.append(j["explain_large"])
        L.append("```")
    if r["problems"]:
        L.append("\nProblems: " + "; ".join(r["problems"]))
    return "\n".join(L)


def cmd_machine():
    import measure      # bench/lib/measure.py, beside this file
    print(json.dumps(measure.machine_record()))


def main(argv):
    if len(argv) >= 2 and argv[1] == "machine":
        cmd_machine()
    elif len(argv) == 3 and argv[1] == "line":
        cmd_line(argv[2])
    elif len(argv) == 5 and argv[1] == "jobs":
        cmd_jobs(argv[2], argv[3], argv[4])
    elif len(argv) >= 4 and argv[1] == "report":
        docs = argv[argv.index("--docs") + 1] if "--docs" in argv else None
        cmd_report(argv[2], argv[3], docs)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
