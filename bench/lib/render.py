"""bench/lib/render.py — the report's text: the line printed after each run,
the Markdown tables, the target lines, the generated section of
docs/performance.md and the charts (bench/lib/charts.py, run in Debian's
python3). It computes nothing: the numbers come from bench/lib/measure.py
and the verdicts from bench/lib/targets.py.
"""
import os
import subprocess
import sys

from measure import FLASH_ORDER_RUNS, ORDER_PAY_RUNS, RACE_RUNS, pg_numbers, wrk_numbers


def fmt_rate(x):
    if x is None:
        return "—"
    return "{:,.0f}".format(x)


def fmt_ms(x):
    if x is None:
        return "—"
    return "%.2f" % x if x < 100 else "%.0f" % x


def thousands(n):
    return "{:,}".format(n)


def verdict_word(ok):
    return "PASS" if ok is True else ("FAIL" if ok is False else "SKIP")


def fmt_value(x, unit):
    if x is None:
        return "—"
    if unit == "ms":
        return fmt_ms(x) + " ms"
    if unit in ("errors", "events pending"):
        return thousands(int(x))
    return fmt_rate(x)


# ---------------------------------------------------------------------------
# The line after each run (report.py line RAW: the last record)
# ---------------------------------------------------------------------------
def record_line(rec):
    """The human lines for one raw record (none for kinds without one)."""
    out = []
    if rec.get("attempts", 1) > 1:
        out.append("%-16s c%-3d %d attempts (other work on the machine); keeping attempt %d "
                   "(%d%% foreign CPU)" % (rec["name"], rec["conns"], rec["attempts"],
                                           rec["attempt"], rec["foreign_cpu_pct"]))
    line = LINES.get(rec["kind"])
    if line:
        out.append(line(rec))
    return out


def order_pay_extra(n):
    extra = " (%.0f req/s)" % n["rps_requests"]
    if n.get("relay"):
        rl = n["relay"]
        extra += "; relay %.0f events/s (%d received), pending %d -> max %d -> %d%s" % (
            rl["events_per_s"], rl["events_received"], rl["pending_start"],
            rl["pending_max"], rl["pending_end"],
            "" if rl["saturated"] else ", relay idle in %d samples" % rl["idle_samples"])
    if n.get("pg_errors"):
        e = n["pg_errors"]
        extra += "; deadlocks %d, serialization failures %d, retries %d" % (
            e["deadlocks_log"], e["serialization_failures_log"], e["module_retries"])
    return extra


def run_errors_text(n):
    errs = ""
    if n["socket_errors"]:
        errs += " SOCKET ERRORS %d" % n["socket_errors"]
    if n["keepalive_closes"]:
        errs += " keep-alive closes %d" % n["keepalive_closes"]
    if n["unexpected"]:
        errs += " UNEXPECTED %d" % n["unexpected"]
    return errs


def wrk_line(rec):
    n = wrk_numbers(rec)
    extra = ""
    if rec["name"] in RACE_RUNS:
        extra = " issue phase %.2fs, %d x 201, %d x SOLD_OUT" % (
            n["issue_phase_s"] or 0, n["issued_201"], n["sold_out_409"])
    if rec["name"] in ORDER_PAY_RUNS:
        extra = order_pay_extra(n)
    if rec["name"] in FLASH_ORDER_RUNS:
        extra = " (%.0f req/s; %d x 503 with Retry-After, %d without; %d timeouts)" % (
            n["rps_requests"], n["shed_503"], n["retry_after_missing"], n["errors"]["timeout"])
    cpu = ""
    if n.get("cpu"):
        cpu = "  [cpu us/op: client %.0f httpd %.0f pg %.0f; machine busy %s%%]" % (
            n["cpu"]["client_us"], n["cpu"]["httpd_us"], n["cpu"]["pg_us"],
            n["cpu"]["machine_busy_pct"])
    return "%-16s c%-3d %9.0f /s  p50 %7.2f ms  p99 %7.2f ms  %s%s%s%s" % (
        rec["name"], rec["conns"], n["rps"], n["p50_ms"], n["p99_ms"],
        " ".join("%s:%d" % kv for kv in n["status"].items()), extra, run_errors_text(n), cpu)


def pgbench_line(rec):
    n = pg_numbers(rec)
    cpu = ""
    if n.get("cpu"):
        cpu = "  [cpu us/tx: client %.0f pg %.0f; machine busy %s%%]" % (
            n["cpu"]["client_us"], n["cpu"]["pg_us"], n["cpu"]["machine_busy_pct"])
    return "%-16s c%-3d %9.0f tps p50 %7.2f ms  p99 %7.2f ms  failed:%d%s" % (
        rec["name"], rec["conns"], n["rps"], n["p50_ms"] or 0, n["p99_ms"] or 0,
        n["failed"] or 0, cpu)


def check_line(rec):
    return "%-16s c%-3d issued rows %d, slots taken %d, campaign %d: %s" % (
        rec["name"], rec["conns"], rec["issued_rows"], rec["slots_taken"], rec["qty"],
        "exact" if rec["issued_rows"] == rec["slots_taken"] == rec["qty"] else "NOT EXACT")


def relay_drain_line(rec):
    return "%-16s      %d pending at the end of the last order_pay run: %s (%d events received)" % (
        "relay_drain", rec["pending_start"],
        ("0 after %.1f s" % rec["wait_s"]) if rec["drained"]
        else "still %d after %.0f s" % (rec["pending_end"], rec["wait_s"]),
        rec["events_received"])


def relay_check_line(rec):
    return ("%-16s      received %d events, %d distinct keys (%d duplicates); %d delivered "
            "since the warm-up, %d of them never received" % (
                "relay_check", rec["received"], rec["distinct_keys"], rec["duplicates"],
                rec["delivered_since_mark"], rec["delivered_not_received"]))


def pg_errors_line(rec):
    return ("%-16s      since the first order_pay run: deadlocks %d (pg_stat_database %d), "
            "serialization failures %d, mod_shop retries %d" % (
                "pg_errors", rec["deadlocks_log"], rec["deadlocks_stat"],
                rec["serialization_failures_log"], rec["module_retries"]))


def invariants_line(rec):
    import flash_targets    # beside this file; it imports this module
    return "%-16s      %s" % ("invariants", flash_targets.invariant_text(rec))


LINES = {"wrk": wrk_line, "pgbench": pgbench_line, "check": check_line,
         "relay_drain": relay_drain_line, "relay_check": relay_check_line,
         "pg_errors_total": pg_errors_line, "invariants": invariants_line}


# ---------------------------------------------------------------------------
# The tables
# ---------------------------------------------------------------------------
def route_row(v, c, n, coupon_issue):
    st = " ".join("%s×%s" % (k, thousands(x)) for k, x in n["status"].items())
    se = "%d" % n["socket_errors"]
    if n["keepalive_closes"]:
        se += " (+%d keep-alive closes)" % n["keepalive_closes"]
    if coupon_issue:
        st += "; rows %s/%s %s" % (n.get("issued_rows"), n.get("campaign_quantity"),
                                  "exact" if n.get("exact") else "NOT EXACT")
    verdict = "—" if n["pass"] is None else ("pass" if n["pass"] else "**miss**")
    return "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        v["route"], c, fmt_rate(n["rps"]), fmt_ms(n["p50_ms"]), fmt_ms(n["p99_ms"]), st, se,
        v["ceiling_label"], fmt_rate(n["ceiling_rps"]),
        "—" if n["ratio"] is None else "%.2f" % n["ratio"],
        n["target"] or "(info)", verdict)


def route_table(res):
    L = ["| route | conns | req/s | p50 ms | p99 ms | statuses | socket errors | "
         "ceiling | ceiling req/s | ratio | target | result |",
         "|---|---:|---:|---:|---:|---|---|---|---:|---:|---|---|"]
    for name, v in res["routes"].items():
        for c, n in v["runs"].items():
            L.append(route_row(v, c, n, name == "coupon_issue"))
    return "\n".join(L)


def ceiling_table(res):
    C = ["| ceiling | conns | req/s or tps | p50 ms | p99 ms | errors |",
         "|---|---:|---:|---:|---:|---|"]
    for v in res["ceilings"].values():
        for c, n in v["runs"].items():
            if "status" in n:
                e = "%d socket" % n["socket_errors"]
                if n["keepalive_closes"]:
                    e += " (+%d keep-alive closes)" % n["keepalive_closes"]
                if n["http_5xx"] or n["unexpected"]:
                    e += ", %d unexpected" % n["unexpected"]
            else:
                e = "%d failed" % (n["failed"] or 0)
            C.append("| %s | %s | %s | %s | %s | %s |" % (
                v["label"], c, fmt_rate(n["rps"]), fmt_ms(n["p50_ms"]), fmt_ms(n["p99_ms"]), e))
    return "\n".join(C)


def cpu_table(res):
    P = ["| run | conns | ops/s | client µs/op | httpd µs/op | PostgreSQL µs/op | "
         "machine busy | not ours |",
         "|---|---:|---:|---:|---:|---:|---:|---:|"]
    rows = [(v["route"], v["runs"]) for v in res["routes"].values()]
    rows += [(v["label"], v["runs"]) for v in res["ceilings"].values()]
    for label, runs in rows:
        for c, n in runs.items():
            u = n.get("cpu")
            if not u:
                continue
            P.append("| %s | %s | %s | %.0f | %.0f | %.0f | %s%% | %s%% |" % (
                label, c, fmt_rate(n["rps"]), u["client_us"], u["httpd_us"], u["pg_us"],
                u["machine_busy_pct"], u["unattributed_pct"]))
    return "\n".join(P)


def tables(res):
    return route_table(res), ceiling_table(res), cpu_table(res)


# ---------------------------------------------------------------------------
# Target rows: a PASS/FAIL line each on stdout, a table in the docs
# ---------------------------------------------------------------------------
def target_limit(t):
    if "limit" in t:        # the flash-sale targets say it themselves
        return t["limit"]
    tid, th = t["id"], t["threshold"]
    if tid.endswith("_p99"):
        return ("<= %.0f ms" if tid == "order_pay_p99" else "< %.0f ms") % th
    if tid == "relay_backlog":
        return "0 within %s s" % th if th else "0"
    if tid == "order_pay_retries":
        return "0"
    return ">= %sx" % th


def target_lines(targets):
    """The stdout lines: one per target, PASS / FAIL / SKIP first."""
    out = []
    for t in targets:
        where = "c%d" % t["conns"] if t["conns"] is not None else "all"
        ratio = "" if t["ratio"] is None else ", ratio %.2f" % t["ratio"]
        out.append("%s %-19s %-4s %s (target %s%s)" % (
            verdict_word(t["pass"]), t["id"], where, t["detail"], target_limit(t), ratio))
    return out


def target_table(targets):
    L = ["| target | conns | measured | reference | ratio | limit | result | detail |",
         "|---|---:|---:|---:|---:|---|---|---|"]
    for t in targets:
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            t["id"], t["conns"] if t["conns"] is not None else "—",
            fmt_value(t["value"], t["unit"]),
            fmt_value(t["reference"], t["unit"]),
            "—" if t["ratio"] is None else "%.2f" % t["ratio"], target_limit(t),
            {"PASS": "pass", "FAIL": "**miss**", "SKIP": "not measured"}[verdict_word(t["pass"])],
            t["detail"]))
    return "\n".join(L)


def relay_table(res):
    i11 = res["issue11"]
    R = ["| order_pay run | payments/s | relay events/s | events received | pending at start | "
         "max pending | pending at end | samples (relay idle) | deadlocks | serialization "
         "failures | mod_shop retries |",
         "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
    for c, rl in i11["relay"]["runs"].items():
        e = i11["retries"]["runs"].get(c, {})
        R.append("| c%s | %s | %s | %s | %s | %s | %s | %d (%d) | %s | %s | %s |" % (
            c, fmt_rate(rl["payments_per_s"]), fmt_rate(rl["events_per_s"]),
            thousands(rl["events_received"]), thousands(rl["pending_start"]),
            thousands(rl["pending_max"]), thousands(rl["pending_end"]),
            rl["samples"], rl["idle_samples"], e.get("deadlocks_log", "—"),
            e.get("serialization_failures_log", "—"), e.get("module_retries", "—")))
    return "\n".join(R)


def drain_text(d):
    return ("0 after %.1f s" % d["wait_s"]) if d["drained"] else \
        "%s still pending after %.0f s" % (thousands(d["pending_end"]), d["wait_s"])


def retries_text(t):
    tot, since = t["order_pay_runs_total"], t["since_first_order_pay_run"]
    return ("Deadlocks / serialization failures / mod_shop retries in the order_pay runs: "
            "%d / %d / %d (pg_stat_database.deadlocks: %d)%s." % (
                tot["deadlocks_log"], tot["serialization_failures_log"],
                tot["module_retries"], tot["deadlocks_stat"],
                "; from the first order_pay run to the end of the bench: %d / %d / %d "
                "(pg_stat_database: %d)" % (
                    since["deadlocks_log"], since["serialization_failures_log"],
                    since["module_retries"], since["deadlocks_stat"]) if since else ""))


def relay_summary(res):
    i11 = res["issue11"]
    d, k, t = i11["relay"]["drain"], i11["relay"]["receiver"], i11["retries"]
    out = []
    if d:
        out.append("Backlog at the end of the last order_pay run: %s pending, %s (bounded "
                   "wait %s s)." % (thousands(d["pending_start"]), drain_text(d),
                                    d["max_wait_s"]))
    if k:
        out.append("Receiver: %s events, %s distinct Idempotency-Keys (%d duplicates); "
                   "%s events delivered since the warm-up, %d of them not received." % (
                       thousands(k["received"]), thousands(k["distinct_keys"]),
                       k["duplicates"], thousands(k["delivered_since_mark"]),
                       k["delivered_not_received"]))
    nice = res.get("config", {}).get("receiver_nice")
    if nice:
        out.append("The receiver (nginx) ran at nice %d during the order_pay runs: it stands in "
                   "for a data platform on its own machine, which would not compete with the "
                   "load for these cores (bench/run, receiver_priority)." % nice)
    if t["runs"]:
        out.append(retries_text(t))
    return out


# ---------------------------------------------------------------------------
# stdout
# ---------------------------------------------------------------------------
def print_report(res):
    routes_t, ceil_t, cpu_t = tables(res)
    for block in (routes_t, ceil_t, cpu_t, relay_table(res)):
        print()
        print(block)
    print()
    for line in relay_summary(res):
        print(line)
    print()
    s = res["summary"]
    print("targets: %d passed, %d missed" % (s["targets_passed"], s["targets_missed"]))
    print("issue 11 targets: %d passed, %d missed, %d not measured" % (
        s["issue11_passed"], s["issue11_missed"], s["issue11_not_measured"]))
    for line in target_lines(res["issue11"]["targets"]):
        print("  " + line)


def flash_table(flash):
    L = ["| flash-sale run | conns | orders/s (201) | req/s | p50 ms | p99 ms | statuses | "
         "socket errors (timeouts) |",
         "|---|---:|---:|---:|---:|---:|---|---|"]
    for name, by_conns in flash["runs"].items():
        for c, n in by_conns.items():
            L.append("| %s | %s | %s | %s | %s | %s | %s | %d (%d) |" % (
                name, c, fmt_rate(n["rps"]) if name in FLASH_ORDER_RUNS else "—",
                fmt_rate(n.get("rps_requests", n["rps"])), fmt_ms(n["p50_ms"]),
                fmt_ms(n["p99_ms"]),
                " ".join("%s×%s" % (k, thousands(x)) for k, x in n["status"].items()),
                n["socket_errors"], n["errors"]["timeout"]))
    return "\n".join(L)


def print_flash_sale(res):
    flash, s = res.get("flash_sale"), res["summary"]
    if not flash:
        return
    print()
    print(flash_table(flash))
    print()
    print("flash sale targets: %d passed, %d missed, %d not measured" % (
        s["flash_sale_passed"], s["flash_sale_missed"], s["flash_sale_not_measured"]))
    for line in target_lines(flash["targets"]):
        print("  " + line)


def print_findings(s):
    for p in s["problems"]:
        print("PROBLEM: " + p)
    for w in s["warnings"]:
        print("warning: " + w)


# ---------------------------------------------------------------------------
# docs/performance.md: the section between the markers
# ---------------------------------------------------------------------------
def docs_header(res):
    m, d, s = res["machine"], res["dataset"], res["summary"]
    return [
        "Generated by `bench/run` (%s mode, %s s per run, wrk %s threads) on %s." % (
            res["mode"], res["seconds_per_run"], res["wrk_threads"], res["generated_at"]),
        "",
        "- Machine: %s, %s cores, %s GB RAM, %s, kernel %s; load average at start %s, at end %s." % (
            m.get("cpu"), m.get("cores"), m.get("mem_gb"), m.get("os"), m.get("kernel"),
            " ".join(m.get("loadavg_start") or []), " ".join(res.get("loadavg_end") or [])),
        "- Software: %s; %s; %s." % (m.get("httpd"), m.get("postgres"), m.get("wrk")),
        "- Code: commit `%s`%s." % (m.get("commit"),
                                   " plus uncommitted changes" if m.get("dirty") else ""),
        "- Data set: %s users, %s products, %s PAID orders (%s order items) over the last 3 days, "
        "%s point-history rows, %s coupon campaigns; a race campaign of %s coupons per "
        "concurrency." % (
            thousands(d.get("users", 0)), thousands(d.get("products", 0)),
            thousands(d.get("orders", 0)), thousands(d.get("order_items", 0)),
            thousands(d.get("point_history", 0)), d.get("coupons"),
            thousands(d.get("race_qty", 0))),
        "- TPC-B-like reference: `pgbench -i -s %s` (database pgbench, same cluster), "
        "loaded in %s s." % (d.get("tpcb_scale"), d.get("tpcb_init_s")),
        "- Whole run: %s s. Targets: %d passed, %d missed; issue 11 targets: %d passed, "
        "%d missed%s." % (
            res.get("duration_s"), s["targets_passed"], s["targets_missed"],
            s["issue11_passed"], s["issue11_missed"],
            ", %d not measured" % s["issue11_not_measured"] if s["issue11_not_measured"] else ""),
        "",
    ]


def docs_results(res, charts):
    routes_t, ceil_t, cpu_t = tables(res)
    out = [routes_t, "", "Ceilings measured in the same run:", "", ceil_t, ""]
    if charts:
        out += ["Throughput against each route's reference, and latency percentiles "
                "(bench/lib/charts.py):", ""]
        out += ["![%s](%s)" % (alt, name) for name, alt in charts]
        out.append("")
    out += ["Where the CPU went (CPU time per op over the whole run, by process group; "
            "\"not ours\" = busy CPU not charged to wrk/pgbench, httpd or PostgreSQL: "
            "loopback softirq and anything else running on the machine):", "", cpu_t, ""]
    return out


def docs_findings(s):
    if s["problems"]:
        out = ["Problems flagged:", ""] + ["- " + p for p in s["problems"]]
    else:
        out = ["No 5xx, no unexpected status, no socket error other than keep-alive "
               "closes, coupon counts exact."]
    if s.get("warnings"):
        out += ["", "Warnings:", ""] + ["- " + w for w in s["warnings"]]
    return out


def docs_purchase_targets(res):
    s = res["summary"]
    out = ["", "### Issue 11 targets", "",
           "Issue 11 targets: %d passed, %d missed%s (see [the targets](#issue-11-purchase-speed-"
           "targets) for what each one measures)." % (
               s["issue11_passed"], s["issue11_missed"],
               ", %d not measured in this mode" % s["issue11_not_measured"]
               if s["issue11_not_measured"] else ""),
           "", target_table(res["issue11"]["targets"]), "",
           "The relay and the retries during the order+payment runs (outbox backlog sampled "
           "every 0.5 s; errors from the PostgreSQL log and mod_shop's error log):",
           "", relay_table(res), ""]
    return out + ["- " + line for line in relay_summary(res)]


def docs_flash_sale(res):
    flash, s = res.get("flash_sale"), res["summary"]
    if not flash:
        return []
    return ["", "### Flash sale targets", "",
            "Flash sale targets: %d passed, %d missed%s (see [the flash sale](#flash-sale-issue-20) "
            "for the method)." % (s["flash_sale_passed"], s["flash_sale_missed"],
                                  ", %d not measured" % s["flash_sale_not_measured"]
                                  if s["flash_sale_not_measured"] else ""),
            "", flash_table(flash), "", target_table(flash["targets"])]


def docs_section(res, charts=None):
    out = docs_header(res) + docs_results(res, charts) + docs_findings(res["summary"])
    return "\n".join(out + docs_purchase_targets(res) + docs_flash_sale(res))


BEGIN = "<!-- BEGIN bench/run results (generated: edit bench/lib/report.py, not this) -->"
END = "<!-- END bench/run results -->"


def update_docs(path, section):
    text = open(path).read() if os.path.exists(path) else "# Performance\n\n"
    block = BEGIN + "\n" + section + "\n" + END
    if BEGIN in text and END in text:
        a = text.index(BEGIN)
        b = text.index(END) + len(END)
        text = text[:a] + block + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n## Results\n\n" + block + "\n"
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------
# The charts
# ---------------------------------------------------------------------------
CHARTS = [("bench-throughput.png", "req/s of each route against its reference, 16 and 64 "
                                  "connections"),
          ("bench-latency.png", "p50 / p90 / p99 latency per route, 16 and 64 connections")]


def draw_charts(out_json, charts_dir, python):
    """bench/lib/charts.py in Debian's python (matplotlib); a failure is a
    warning, not a failed bench."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "charts.py")
    try:
        p = subprocess.run([python, script, out_json, charts_dir], capture_output=True,
                           text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "charts not drawn: %s" % e
    if p.returncode != 0:
        return "charts not drawn: %s" % (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
    sys.stdout.write(p.stdout)
    return None
