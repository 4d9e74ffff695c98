#!/usr/bin/env python3
"""bench/lib/report.py — the bookkeeping half of bench/run.

bench/run appends one JSON object per line to a raw file while it measures
(kind = machine | dataset | wrk | pgbench | check | end). This script turns
that into results:

  report.py machine                 JSON line describing this box (start of run)
  report.py line RAW                one human line for the last record of RAW
  report.py pglat LOG...            p50/p99 of pgbench per-transaction logs (-l)
  report.py report RAW OUT.json [--docs docs/performance.md]
                    [--charts DIR] [--chart-python /usr/bin/python3]
                                    latest.json + the tables and the issue 11
                                    targets on stdout (+ the docs section; +
                                    the PNG charts of bench/lib/charts.py in
                                    DIR, docs/img/ by default with --docs);
                                    exit 1 if any run had a 5xx, an unexpected
                                    status, a socket error other than
                                    keep-alive closes, the coupon race was not
                                    exact, or the relay marked an event
                                    delivered that the receiver never got

Standard library only (python3 is a dependency of the checkout anyway); the
charts run in a separate interpreter (Debian's, with python3-matplotlib).
"""
import json
import os
import platform
import re
import subprocess
import sys
import time

# ---------------------------------------------------------------------------
# What is compared with what
# ---------------------------------------------------------------------------
# name -> (label, what it is)
CEILINGS = {
    "static": ("static file, same httpd",
               "the popular response's bytes as a file, served by the benchmarked "
               "httpd (core handler) at the same concurrency"),
    "static_default": ("static file, default-config httpd",
                       "the same file from a second httpd with Debian's default event "
                       "MPM, keep-alive and access-log settings"),
    "static_nginx": ("static file, nginx",
                     "the same file from a private nginx (Debian's nginx-light, "
                     "bench/conf/nginx.conf.in: 2 workers, keep-alive, no access log)"),
    "pg_product_get": ("pgbench: product SQL", "bench/pgbench/product_get.sql"),
    "pg_balance": ("pgbench: balance SQL", "bench/pgbench/balance.sql"),
    "pg_charge": ("pgbench: charge SQL", "bench/pgbench/charge.sql"),
    "pg_order_pay": ("pgbench: create+pay SQL", "bench/pgbench/order_pay.sql"),
    "pg_hot_row": ("pgbench: hot-row update", "bench/pgbench/hot_row.sql (one row)"),
    "pg_random_row": ("pgbench: random-row update", "bench/pgbench/random_row.sql"),
    "pg_tpcb": ("pgbench: TPC-B-like (built-in)",
                "pgbench -b tpcb-like -M prepared on the database pgbench of the same "
                "cluster (pgbench -i, scale in the dataset record)"),
}

# name -> route label, ceiling, target ratio (None: for information), p99 limit (ms)
ROUTES = [
    ("popular", "GET /products/popular", "static_default", 1.6, 10.0),
    ("product", "GET /products/{id}", "static", 0.6, None),
    ("products", "GET /products", "static", None, None),
    ("balance", "GET /users/{id}/points", "static", 0.6, None),
    ("product_cached", "GET /products/{id}, ShopReadCacheTTL 1s (opt-in)", "static", None, None),
    ("balance_cached", "GET /users/{id}/points, ShopReadCacheTTL 1s (opt-in)", "static", None, None),
    ("charge", "POST /users/{id}/points/charge", "pg_charge", 0.6, None),
    ("order_pay", "POST .../orders + .../payment (1 op = both)", "pg_order_pay", 0.6, None),
    ("order_pay_relay", "the same, the relay working off a preloaded backlog", "pg_order_pay",
     None, None),
    ("coupon_issue", "POST /users/{id}/coupons, coupons remain", "pg_hot_row", 2.0, None),
    ("coupon_soldout", "POST /users/{id}/coupons, sold out", "static", 0.6, None),
]

# Statuses each wrk run is expected to see; anything else is "unexpected".
EXPECTED = {
    "popular": {200}, "product": {200}, "products": {200}, "balance": {200},
    "product_cached": {200}, "balance_cached": {200},
    "charge": {200}, "order_pay": {200, 201}, "order_pay_relay": {200, 201}, "coupon_issue": {201, 409},
    "coupon_soldout": {409}, "static": {200}, "static_default": {200},
    "static_nginx": {200},
}

# Issue 11 ("purchase speed"): targets on top of the ROUTES ones, each with
# its own PASS/FAIL line. id -> the target as printed.
ISSUE11 = [
    ("order_pay_vs_tpcb", "order_pay ops/s >= 0.5 x (pg_tpcb tps / 2): an order and its "
                          "payment are two TPC-B-sized transactions"),
    ("order_pay_p99", "order_pay p99 <= 150 ms at 64 connections"),
    ("popular_vs_nginx", "popular req/s >= 0.8 x static_nginx req/s"),
    ("popular_p99", "popular p99 < 5 ms at 64 connections"),
    ("product_vs_popular", "product by id req/s >= 0.45 x popular req/s"),
    ("balance_vs_popular", "balance req/s >= 0.45 x popular req/s"),
    ("product_cached_vs_popular", "product by id with the opt-in read cache (ShopReadCacheTTL 1s) "
                                  "req/s >= 0.45 x popular req/s"),
    ("balance_cached_vs_popular", "balance with the opt-in read cache (ShopReadCacheTTL 1s) "
                                  "req/s >= 0.45 x popular req/s"),
    ("relay_vs_payments", "relay events/s >= 2 x payments/s during each order_pay_relay run "
                          "(the order_pay load, the relay working off a preloaded backlog)"),
    ("relay_backlog", "relay backlog bounded: drained to 0 after the last order_pay run "
                      "within the bounded wait"),
    ("order_pay_retries", "0 deadlocks, serialization failures and mod_shop retries per "
                          "order_pay run"),
]
ISSUE11_TEXT = dict(ISSUE11)


def read_raw(path):
    recs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                recs.append(json.loads(line))
    return recs


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    k = (len(values) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def r2(x, nd=2):
    return None if x is None else round(x, nd)


# ---------------------------------------------------------------------------
# One wrk / pgbench record -> the numbers we report
# ---------------------------------------------------------------------------
def wrk_numbers(rec):
    """rps, latencies, statuses and the error classification of a wrk run."""
    res = rec["result"]
    name = rec["name"]
    dur = res["duration_us"] / 1e6
    st = {int(k): v for k, v in res.get("status", {}).items()}
    ex = res.get("extra", {})
    err = res["errors"]
    lat = res["latency_us"]
    out = {
        "requests": res["requests"],
        "duration_s": r2(dur, 3),
        "rps": res["requests"] / dur if dur > 0 else 0.0,
        "p50_ms": lat["p50"] / 1000.0,
        "p90_ms": lat["p90"] / 1000.0 if "p90" in lat else None,
        "p99_ms": lat["p99"] / 1000.0,
        "max_ms": lat["max"] / 1000.0,
        "status": {str(k): v for k, v in sorted(st.items())},
        "http_5xx": sum(v for k, v in st.items() if k >= 500),
        "errors": dict(err),
    }
    expected = EXPECTED.get(name, {200})
    unexpected = sum(v for k, v in st.items() if k not in expected)
    if name == "coupon_issue":
        # a 409 must be SOLD_OUT (each request is a new user)
        unexpected += st.get(409, 0) - ex.get("sold_out", 0)
    if name == "coupon_soldout":
        # random users: the race's winners hold one and hear ALREADY_ISSUED,
        # which the contract puts before SOLD_OUT; every other 409 is SOLD_OUT
        unexpected += st.get(409, 0) - ex.get("sold_out", 0) - ex.get("already_issued", 0)
    out["unexpected"] = unexpected

    # Socket errors. wrk counts a connection the server closed before
    # answering as a read error. The event MPM closes idle keep-alive
    # connections of a child whose workers are all busy, which can only
    # happen when the connections outnumber the threads of a child; the
    # default-config instance also ends connections after 100 requests
    # (MaxKeepAliveRequests) and reaps idle children (MaxSpareThreads).
    # Read errors are counted as keep-alive closes where that is possible
    # (conns > threads per child, or the default-config instance) and
    # nothing else went wrong: no connect/write/timeout errors, no 5xx, no
    # crashed child in the error log. Anything else is a socket error.
    sock = err["connect"] + err["read"] + err["write"] + err["timeout"]
    ka_possible = (rec["conns"] > rec.get("threads_per_child", 0)
                   or rec.get("instance") == "default")
    clean = (err["connect"] == 0 and err["write"] == 0 and err["timeout"] == 0
             and out["http_5xx"] == 0 and rec.get("server_crashes", 0) == 0)
    if err["read"] and ka_possible and clean:
        out["keepalive_closes"] = err["read"]
        out["socket_errors"] = 0
    else:
        out["keepalive_closes"] = 0
        out["socket_errors"] = sock
    # Little's law: mean latency x throughput = requests in flight = conns.
    # Far off means wrk's latency numbers are not trustworthy for this run
    # (seen once: a 10 s run reported p99 = 1.1 s at 7,500 req/s, 16 conns).
    out["inflight_check"] = r2(lat["mean"] / 1e6 * out["rps"] / rec["conns"], 2) if rec["conns"] else None
    out["server_crashes"] = rec.get("server_crashes", 0)
    out["server_log_errors"] = rec.get("server_log_errors", 0)
    out["attempts"] = rec.get("attempts", 1)
    out["foreign_cpu_pct"] = rec.get("foreign_cpu_pct")

    if name in ("order_pay", "order_pay_relay"):
        paid = st.get(200, 0)
        out["ops"] = paid
        out["rps_requests"] = out["rps"]
        out["rps"] = paid / dur if dur > 0 else 0.0
        out["unit"] = "create+pay pairs/s (one op = the 201 create and the 200 payment)"
        if rec.get("relay"):
            out["relay"] = relay_numbers(rec["relay"], out["rps"])
        if rec.get("pg_errors"):
            e = dict(rec["pg_errors"])
            e["total"] = (e.get("deadlocks_log", 0) + e.get("serialization_failures_log", 0)
                          + e.get("module_retries", 0))
            out["pg_errors"] = e
    if name == "coupon_issue":
        t0, t1 = ex.get("t_start_min"), ex.get("t_issue_end_max")
        n = ex.get("in_phase", 0)
        phase = (t1 - t0) if (t0 is not None and t1 is not None) else None
        out["issue_phase_s"] = r2(phase, 3)
        out["issue_phase_requests"] = n
        out["rps"] = n / phase if phase else 0.0
        out["issued_201"] = st.get(201, 0)
        out["sold_out_409"] = ex.get("sold_out", 0)
        out["unit"] = ("requests/s from the first request to the last 201 "
                       "(wrk's latency covers the whole race run)")
    if name == "coupon_soldout":
        out["sold_out_409"] = ex.get("sold_out", 0)
    # per op: a create+pay pair for order_pay, a request otherwise
    # (not for the race: its run includes the drain and bench/run's polling)
    out["cpu"] = None if name == "coupon_issue" else cpu_numbers(
        rec, out.get("ops") if name in ("order_pay", "order_pay_relay") else res["requests"])
    return out


def relay_numbers(rel, payments_per_s):
    """The relay during one order_pay run (bench/run's relay_begin/relay_end)."""
    samples = rel.get("samples") or []
    pend = [p for _, p in samples] + [rel["pending_start"], rel["pending_end"]]
    window = rel.get("window_s") or 0
    busy = rel.get("busy_s") or 0
    if rel.get("preloaded") and busy > 0:
        # The run started with a backlog (bench/run's relay_preload): the
        # rate while the relay still had it is its capacity under the load.
        eps = rel["busy_events"] / busy
        idle = 0 if busy >= window - 0.5 else None
    else:
        eps = rel["events_received"] / window if window else 0.0
        # A sample of 0 after the first second means the relay ran out of
        # events, so its rate was the payments', not its own capacity.
        idle = sum(1 for t, p in samples if t >= 1.0 and p == 0)
    return {
        "events_received": rel["events_received"],
        "window_s": window,
        "preloaded": rel.get("preloaded", 0),
        "busy_s": busy,
        "busy_events": rel.get("busy_events", 0),
        "events_per_s": eps,
        "payments_per_s": payments_per_s,
        "ratio": eps / payments_per_s if payments_per_s else None,
        "pending_start": rel["pending_start"],
        "pending_end": rel["pending_end"],
        "pending_max": max(pend),
        "samples": len(samples),
        "idle_samples": idle or 0,
        # preloaded: the rate is over the busy time, saturated by construction
        "saturated": idle is None or idle == 0,
        "pending_samples": samples,
    }


def cpu_numbers(rec, ops):
    """CPU per op (microseconds) by component, from bench/run's snapshots."""
    c = rec.get("cpu_ms")
    if not c or not ops:
        return None
    ours = c["client"] + c["httpd"] + c["pg"]
    return {
        "client_us": round(c["client"] * 1000.0 / ops, 1),
        "httpd_us": round(c["httpd"] * 1000.0 / ops, 1),
        "pg_us": round(c["pg"] * 1000.0 / ops, 1),
        "machine_busy_pct": round(100.0 * c["machine_busy"] / c["machine_total"], 1)
        if c["machine_total"] else None,
        # busy CPU not charged to our processes: softirq (loopback TCP) and
        # everything else running on the machine at the time
        "unattributed_pct": round(100.0 * (c["machine_busy"] - ours) / c["machine_total"], 1)
        if c["machine_total"] else None,
    }


def pg_numbers(rec):
    return {
        "rps": rec["tps"],
        "transactions": rec.get("processed"),
        "failed": rec.get("failed", 0),
        "p50_ms": rec.get("p50_ms"),
        "p90_ms": rec.get("p90_ms"),
        "p99_ms": rec.get("p99_ms"),
        "script": rec.get("script"),
        "unit": "transactions/s (pgbench, without connection time)",
        "cpu": cpu_numbers(rec, rec.get("processed")),
        "attempts": rec.get("attempts", 1),
        "foreign_cpu_pct": rec.get("foreign_cpu_pct"),
    }


# ---------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------
def cmd_machine():
    def first(cmd):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (p.stdout or p.stderr).strip().splitlines()[0]
        except Exception:
            return None
    cpu = None
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    commit = first(["git", "-C", root, "rev-parse", "--short", "HEAD"])
    try:
        dirty = bool(subprocess.run(["git", "-C", root, "status", "--porcelain"],
                                    capture_output=True, text=True).stdout.strip())
    except Exception:
        dirty = None
    print(json.dumps({
        "kind": "machine",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": cpu, "cores": os.cpu_count(), "mem_gb": mem,
        "kernel": platform.release(), "os": first(["sh", "-c", ". /etc/os-release; echo $PRETTY_NAME"]),
        "httpd": first(["apache2", "-v"]),
        "postgres": first(["/usr/lib/postgresql/15/bin/postgres", "--version"]),
        "wrk": first(["wrk", "-v"]),
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
        "commit": commit, "dirty": dirty,
    }))


def cmd_line(raw):
    recs = read_raw(raw)
    rec = recs[-1]
    if rec.get("attempts", 1) > 1:
        print("%-16s c%-3d %d attempts (other work on the machine); keeping attempt %d "
              "(%d%% foreign CPU)" % (rec["name"], rec["conns"], rec["attempts"],
                                      rec["attempt"], rec["foreign_cpu_pct"]))
    if rec["kind"] == "wrk":
        n = wrk_numbers(rec)
        extra = ""
        if rec["name"] == "coupon_issue":
            extra = " issue phase %.2fs, %d x 201, %d x SOLD_OUT" % (
                n["issue_phase_s"] or 0, n["issued_201"], n["sold_out_409"])
        if rec["name"] in ("order_pay", "order_pay_relay"):
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
        errs = ""
        if n["socket_errors"]:
            errs += " SOCKET ERRORS %d" % n["socket_errors"]
        if n["keepalive_closes"]:
            errs += " keep-alive closes %d" % n["keepalive_closes"]
        if n["unexpected"]:
            errs += " UNEXPECTED %d" % n["unexpected"]
        cpu = ""
        if n.get("cpu"):
            cpu = "  [cpu us/op: client %.0f httpd %.0f pg %.0f; machine busy %s%%]" % (
                n["cpu"]["client_us"], n["cpu"]["httpd_us"], n["cpu"]["pg_us"],
                n["cpu"]["machine_busy_pct"])
        print("%-16s c%-3d %9.0f /s  p50 %7.2f ms  p99 %7.2f ms  %s%s%s%s" % (
            rec["name"], rec["conns"], n["rps"], n["p50_ms"], n["p99_ms"],
            " ".join("%s:%d" % kv for kv in n["status"].items()), extra, errs, cpu))
    elif rec["kind"] == "pgbench":
        n = pg_numbers(rec)
        cpu = ""
        if n.get("cpu"):
            cpu = "  [cpu us/tx: client %.0f pg %.0f; machine busy %s%%]" % (
                n["cpu"]["client_us"], n["cpu"]["pg_us"], n["cpu"]["machine_busy_pct"])
        print("%-16s c%-3d %9.0f tps p50 %7.2f ms  p99 %7.2f ms  failed:%d%s" % (
            rec["name"], rec["conns"], n["rps"], n["p50_ms"] or 0, n["p99_ms"] or 0,
            n["failed"] or 0, cpu))
    elif rec["kind"] == "check":
        print("%-16s c%-3d issued rows %d, slots taken %d, campaign %d: %s" % (
            rec["name"], rec["conns"], rec["issued_rows"], rec["slots_taken"], rec["qty"],
            "exact" if rec["issued_rows"] == rec["slots_taken"] == rec["qty"] else "NOT EXACT"))
    elif rec["kind"] == "relay_drain":
        print("%-16s      %d pending at the end of the last order_pay run: %s (%d events received)" % (
            "relay_drain", rec["pending_start"],
            ("0 after %.1f s" % rec["wait_s"]) if rec["drained"]
            else "still %d after %.0f s" % (rec["pending_end"], rec["wait_s"]),
            rec["events_received"]))
    elif rec["kind"] == "relay_check":
        print("%-16s      received %d events, %d distinct keys (%d duplicates); %d delivered "
              "since the warm-up, %d of them never received" % (
                  "relay_check", rec["received"], rec["distinct_keys"], rec["duplicates"],
                  rec["delivered_since_mark"], rec["delivered_not_received"]))
    elif rec["kind"] == "pg_errors_total":
        print("%-16s      since the first order_pay run: deadlocks %d (pg_stat_database %d), "
              "serialization failures %d, mod_shop retries %d" % (
                  "pg_errors", rec["deadlocks_log"], rec["deadlocks_stat"],
                  rec["serialization_failures_log"], rec["module_retries"]))


def cmd_pglat(paths):
    lat = []
    for p in paths:
        with open(p) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    lat.append(int(parts[2]))
    print(json.dumps({"n": len(lat),
                      "p50_ms": r2((pct(lat, 50) or 0) / 1000.0, 3),
                      "p90_ms": r2((pct(lat, 90) or 0) / 1000.0, 3),
                      "p99_ms": r2((pct(lat, 99) or 0) / 1000.0, 3)}))


def fmt_rate(x):
    if x is None:
        return "—"
    return "{:,.0f}".format(x)


def fmt_ms(x):
    if x is None:
        return "—"
    return "%.2f" % x if x < 100 else "%.0f" % x


def rate_of(routes, ceilings, name, c):
    """req/s (ops/s, tps) of a route or a ceiling at concurrency c, or None."""
    for table in (routes, ceilings):
        run = table.get(name, {}).get("runs", {}).get(str(c))
        if run is not None:
            return run
    return None


def issue11(routes, ceilings, recs, conns):
    """The issue 11 targets, the relay and the retries; every target row
    has pass True / False, or None when its run is not in this bench run
    (the p99 targets are at 64 connections, which smoke mode does not run)."""
    T = []

    def row(tid, c, value, reference, ratio, threshold, ok, detail, unit=""):
        T.append({"id": tid, "conns": c, "target": ISSUE11_TEXT[tid], "value": value,
                  "reference": reference, "ratio": ratio, "threshold": threshold,
                  "unit": unit, "pass": ok, "detail": detail})

    def ratio_target(tid, name, ref, factor, threshold, unit, what):
        for c in conns:
            a = rate_of(routes, ceilings, name, c)
            b = rate_of(routes, ceilings, ref, c)
            if a is None or b is None:
                row(tid, c, None, None, None, threshold, None,
                    "not measured (%s or %s missing)" % (name, ref))
                continue
            refv = b["rps"] * factor
            r = a["rps"] / refv if refv else None
            row(tid, c, a["rps"], refv, r, threshold, r is not None and r >= threshold,
                what % {"a": fmt_rate(a["rps"]), "b": fmt_rate(b["rps"]), "ref": fmt_rate(refv)},
                unit)

    def p99_target(tid, name, limit, strict):
        run = rate_of(routes, ceilings, name, 64)
        if run is None:
            row(tid, 64, None, None, None, limit, None, "not measured (no 64-connection run)")
            return
        p = run["p99_ms"]
        ok = p < limit if strict else p <= limit
        row(tid, 64, p, None, None, limit, ok, "p99 %s ms" % fmt_ms(p), "ms")

    ratio_target("order_pay_vs_tpcb", "order_pay", "pg_tpcb", 0.5, 0.5, "ops/s",
                 "%(a)s create+pay ops/s vs pg_tpcb %(b)s tps / 2 = %(ref)s")
    p99_target("order_pay_p99", "order_pay", 150.0, False)
    ratio_target("popular_vs_nginx", "popular", "static_nginx", 1.0, 0.8, "req/s",
                 "%(a)s req/s vs nginx %(b)s req/s")
    p99_target("popular_p99", "popular", 5.0, True)
    ratio_target("product_vs_popular", "product", "popular", 1.0, 0.45, "req/s",
                 "%(a)s req/s vs popular %(b)s req/s")
    ratio_target("balance_vs_popular", "balance", "popular", 1.0, 0.45, "req/s",
                 "%(a)s req/s vs popular %(b)s req/s")
    ratio_target("product_cached_vs_popular", "product_cached", "popular", 1.0, 0.45, "req/s",
                 "%(a)s req/s vs popular %(b)s req/s")
    ratio_target("balance_cached_vs_popular", "balance_cached", "popular", 1.0, 0.45, "req/s",
                 "%(a)s req/s vs popular %(b)s req/s")

    relay_runs, retry_runs = {}, {}
    # the capacity runs (a preloaded backlog) when the bench made them
    relay_route = "order_pay_relay" if routes.get("order_pay_relay") else "order_pay"
    for c in conns:
        run = routes.get(relay_route, {}).get("runs", {}).get(str(c))
        rl = run.get("relay") if run else None
        if rl is None:
            row("relay_vs_payments", c, None, None, None, 2.0, None, "not measured")
        else:
            relay_runs[str(c)] = rl
            if rl.get("preloaded") and rl.get("busy_s"):
                got = "%s in the %.1f s it had a backlog; %s preloaded" % (
                    "{:,}".format(rl["busy_events"]), rl["busy_s"],
                    "{:,}".format(rl["preloaded"]))
            else:
                got = "%s in %.1f s" % ("{:,}".format(rl["events_received"]), rl["window_s"])
            d = "relay %s events/s (%s) vs payments %s/s; pending %s -> max %s -> %s" % (
                fmt_rate(rl["events_per_s"]), got, fmt_rate(rl["payments_per_s"]),
                "{:,}".format(rl["pending_start"]), "{:,}".format(rl["pending_max"]),
                "{:,}".format(rl["pending_end"]))
            if not rl["saturated"]:
                d += ("; the relay ran out of events in %d of %d samples, so its rate was "
                      "bounded by the payments, not by the relay" % (rl["idle_samples"],
                                                                     rl["samples"]))
            row("relay_vs_payments", c, rl["events_per_s"], rl["payments_per_s"], rl["ratio"],
                2.0, rl["ratio"] is not None and rl["ratio"] >= 2.0, d, "events/s")
    drain = next((r for r in recs if r["kind"] == "relay_drain"), None)
    check = next((r for r in recs if r["kind"] == "relay_check"), None)
    setup = next((r for r in recs if r["kind"] == "relay_setup"), None)
    max_pending = max([rl["pending_max"] for rl in relay_runs.values()] or [0])
    # the plain order_pay runs: no preload, the relay only keeps up
    kept_up = [r.get("relay", {}).get("pending_max") for r in
               routes.get("order_pay", {}).get("runs", {}).values()]
    kept_up = max([k for k in kept_up if k is not None] or [0])
    if drain is None:
        row("relay_backlog", None, None, None, None, None, None, "not measured")
    else:
        d = ("max pending %s during the order_pay runs (no preload), %s in the relay capacity "
             "runs; %s pending at the end of the last one: %s") % (
            "{:,}".format(kept_up), "{:,}".format(max_pending), "{:,}".format(drain["pending_start"]),
            ("drained %.1f s after it" % drain["wait_s"]) if drain["drained"]
            else "%s still pending after %.0f s" % ("{:,}".format(drain["pending_end"]),
                                                    drain["wait_s"]))
        if drain["drained"] and drain["wait_s"] > 0:
            d += " (%s events/s with no load)" % fmt_rate(drain["pending_start"] / drain["wait_s"])
        row("relay_backlog", None, max_pending, None, None, drain["max_wait_s"],
            bool(drain["drained"]), d, "events pending")
    for c in conns:
        run = routes.get("order_pay", {}).get("runs", {}).get(str(c))
        e = run.get("pg_errors") if run else None
        if e is None:
            row("order_pay_retries", c, None, None, None, 0, None, "not measured")
            continue
        retry_runs[str(c)] = e
        row("order_pay_retries", c, e["total"], None, None, 0, e["total"] == 0,
            "deadlocks %d (pg_stat_database: %d), serialization failures %d, mod_shop "
            "retries %d" % (e["deadlocks_log"], e["deadlocks_stat"],
                            e["serialization_failures_log"], e["module_retries"]), "errors")
    keys = ("deadlocks_log", "serialization_failures_log", "deadlocks_stat", "module_retries", "total")
    total = {k: sum(e.get(k, 0) for e in retry_runs.values()) for k in keys}
    since = next((r for r in recs if r["kind"] == "pg_errors_total"), None)
    section = {
        "targets": T,
        "relay": {"setup": {k: v for k, v in (setup or {}).items() if k != "kind"},
                  "runs": relay_runs, "max_pending": max_pending,
                  "drain": {k: v for k, v in (drain or {}).items() if k != "kind"},
                  "receiver": {k: v for k, v in (check or {}).items() if k != "kind"}},
        "retries": {"runs": retry_runs, "order_pay_runs_total": total,
                    "since_first_order_pay_run": {k: v for k, v in (since or {}).items()
                                                  if k != "kind"}},
    }
    return section


def build(recs):
    machine = next((r for r in recs if r["kind"] == "machine"), {})
    end = next((r for r in recs if r["kind"] == "end"), {})
    dataset = next((r for r in recs if r["kind"] == "dataset"), {})
    config = next((r for r in recs if r["kind"] == "config"), {})
    # repeated runs: the results use the kept attempt; the others are only
    # checked for errors below
    wrk = {(r["name"], r["conns"]): r for r in recs if r["kind"] == "wrk" and r.get("kept", True)}
    pg = {(r["name"], r["conns"]): r for r in recs if r["kind"] == "pgbench" and r.get("kept", True)}
    discarded = [r for r in recs if r["kind"] in ("wrk", "pgbench") and not r.get("kept", True)]
    checks = {(r["name"], r["conns"]): r for r in recs if r["kind"] == "check"}
    conns = sorted({c for (_, c) in list(wrk) + list(pg)})

    ceilings = {}
    for name in CEILINGS:
        runs = {}
        for c in conns:
            if (name, c) in wrk:
                n = wrk_numbers(wrk[(name, c)])
            elif (name, c) in pg:
                n = pg_numbers(pg[(name, c)])
            else:
                continue
            runs[str(c)] = n
        if runs:
            ceilings[name] = {"label": CEILINGS[name][0], "what": CEILINGS[name][1],
                              "runs": runs}

    problems = []
    routes = {}
    for name, label, ceil, target, p99_max in ROUTES:
        runs = {}
        for c in conns:
            rec = wrk.get((name, c))
            if rec is None:
                continue
            n = wrk_numbers(rec)
            crun = ceilings.get(ceil, {}).get("runs", {}).get(str(c))
            n["ceiling"] = ceil
            n["ceiling_rps"] = crun["rps"] if crun else None
            n["ratio"] = (n["rps"] / crun["rps"]) if crun and crun["rps"] else None
            n["target"] = None
            if target is not None:
                n["target"] = ">= %.1fx %s" % (target, ceil) + (
                    ", p99 < %.0f ms" % p99_max if p99_max else "")
            ok_errors = (n["http_5xx"] == 0 and n["socket_errors"] == 0
                         and n["unexpected"] == 0 and n["server_crashes"] == 0)
            if name == "coupon_issue":
                chk = checks.get(("coupon_race", c))
                exact = bool(chk) and (chk["issued_rows"] == chk["slots_taken"] == chk["qty"]
                                       == n["issued_201"])
                n["exact"] = exact
                n["campaign_quantity"] = chk["qty"] if chk else None
                n["issued_rows"] = chk["issued_rows"] if chk else None
                n["slots_taken"] = chk["slots_taken"] if chk else None
                if not exact:
                    problems.append("%s c%d: coupon count not exact (201s %d, rows %s, "
                                    "slots %s, campaign %s)" % (
                                        name, c, n["issued_201"], n["issued_rows"],
                                        n["slots_taken"], n["campaign_quantity"]))
                ok_errors = ok_errors and exact
            if n["http_5xx"]:
                problems.append("%s c%d: %d x 5xx" % (name, c, n["http_5xx"]))
            if n["unexpected"] - n["http_5xx"] > 0:
                problems.append("%s c%d: %d unexpected statuses %s" % (
                    name, c, n["unexpected"] - n["http_5xx"], n["status"]))
            if n["socket_errors"]:
                problems.append("%s c%d: %d socket errors %s" % (
                    name, c, n["socket_errors"], n["errors"]))
            if n["server_crashes"]:
                problems.append("%s c%d: %d httpd child crash(es) in the error log" % (
                    name, c, n["server_crashes"]))
            if target is None:
                n["pass"] = None
            else:
                ok = n["ratio"] is not None and n["ratio"] >= target
                if p99_max is not None:
                    ok = ok and n["p99_ms"] < p99_max
                n["pass"] = bool(ok and ok_errors)
            runs[str(c)] = n
        if runs:
            routes[name] = {"route": label, "ceiling": ceil,
                            "ceiling_label": CEILINGS[ceil][0], "runs": runs}
    # errors on the ceilings' own runs count as well
    for (name, c), rec in wrk.items():
        if name in CEILINGS:
            n = wrk_numbers(rec)
            if n["http_5xx"] or n["socket_errors"] or n["unexpected"] or n["server_crashes"]:
                problems.append("%s c%d: 5xx %d, unexpected %d, socket errors %d, crashes %d" % (
                    name, c, n["http_5xx"], n["unexpected"], n["socket_errors"],
                    n["server_crashes"]))
    for (name, c), rec in pg.items():
        if rec.get("failed"):
            problems.append("pgbench %s c%d: %d failed transactions" % (name, c, rec["failed"]))
    for rec in discarded:
        tag = "%s c%d (discarded attempt %d)" % (rec["name"], rec["conns"], rec.get("attempt", 0))
        if rec["kind"] == "pgbench":
            if rec.get("failed"):
                problems.append("pgbench %s: %d failed transactions" % (tag, rec["failed"]))
            continue
        n = wrk_numbers(rec)
        if n["http_5xx"] or n["socket_errors"] or n["unexpected"] or n["server_crashes"]:
            problems.append("%s: 5xx %d, unexpected %d, socket errors %d, crashes %d" % (
                tag, n["http_5xx"], n["unexpected"], n["socket_errors"], n["server_crashes"]))

    warnings = []
    for (name, c), rec in sorted(wrk.items()):
        if name == "coupon_issue":
            continue    # its threads stop early: the check does not apply
        n = wrk_numbers(rec)
        chk = n.get("inflight_check")
        if chk is not None and not 0.5 <= chk <= 3.0:
            warnings.append("%s c%d: wrk's latencies are inconsistent with its throughput "
                            "(mean latency x req/s / conns = %.1f, expected ~1): its p50/p99 "
                            "are not reliable for this run" % (name, c, chk))
    limit = config.get("max_foreign_cpu_pct", 20)
    for kind, table in (("wrk", wrk), ("pgbench", pg)):
        for (name, c), rec in sorted(table.items()):
            f = rec.get("foreign_cpu_pct")
            if f is not None and f > limit and name != "coupon_issue":
                warnings.append("%s c%d: %d%% of the machine's CPU went to other work even in the "
                                "least disturbed of %d attempts: its numbers are low" % (
                                    name, c, f, rec.get("attempts", 1)))
            elif rec.get("attempts", 1) > 1:
                warnings.append("%s c%d: repeated (%d attempts) because other work took over "
                                "%d%% of the CPU; the kept attempt had %d%%" % (
                                    name, c, rec["attempts"], limit, f))
    try:
        load = float((machine.get("loadavg_start") or ["0"])[0])
        if load > (machine.get("cores") or 1) / 2:
            warnings.append("load average %.2f on %s cores when the run started: other work on "
                            "the machine competed for the CPU" % (load, machine.get("cores")))
    except ValueError:
        pass

    i11 = issue11(routes, ceilings, recs, conns)
    chk = i11["relay"]["receiver"]
    if chk.get("delivered_not_received"):
        problems.append("relay: %d events marked delivered in the outbox were never received "
                        "by the receiver" % chk["delivered_not_received"])
    if chk.get("duplicates"):
        warnings.append("relay: the receiver got %d duplicate events (same Idempotency-Key); "
                        "allowed only as retries" % chk["duplicates"])
    for c, rl in i11["relay"]["runs"].items():
        if rl["samples"] < max(1, int(rl["window_s"] / 0.5) - 2):
            warnings.append("order_pay c%s: only %d outbox samples in %.1f s (one every 0.5 s "
                            "expected)" % (c, rl["samples"], rl["window_s"]))

    verdicts = [r["pass"] for v in routes.values() for r in v["runs"].values()
                if r["pass"] is not None]
    v11 = [t["pass"] for t in i11["targets"]]
    return {
        "generated_at": end.get("finished_at") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "mode": config.get("mode"),
        "seconds_per_run": config.get("seconds"),
        "wrk_threads": config.get("threads"),
        "concurrency": conns,
        "machine": {k: v for k, v in machine.items() if k != "kind"},
        "loadavg_end": end.get("loadavg_end"),
        "duration_s": end.get("duration_s"),
        "dataset": {k: v for k, v in dataset.items() if k != "kind"},
        "config": {k: v for k, v in config.items() if k != "kind"},
        "routes": routes,
        "ceilings": ceilings,
        "issue11": i11,
        "summary": {"targets_passed": sum(1 for v in verdicts if v),
                    "targets_missed": sum(1 for v in verdicts if not v),
                    "issue11_passed": sum(1 for v in v11 if v is True),
                    "issue11_missed": sum(1 for v in v11 if v is False),
                    "issue11_not_measured": sum(1 for v in v11 if v is None),
                    "problems": problems, "warnings": warnings},
    }


def tables(res):
    L = []
    L.append("| route | conns | req/s | p50 ms | p99 ms | statuses | socket errors | "
             "ceiling | ceiling req/s | ratio | target | result |")
    L.append("|---|---:|---:|---:|---:|---|---|---|---:|---:|---|---|")
    for name, label, *_ in ROUTES:
        v = res["routes"].get(name)
        if not v:
            continue
        for c, n in v["runs"].items():
            st = " ".join("%s×%s" % (k, "{:,}".format(x)) for k, x in n["status"].items())
            se = "%d" % n["socket_errors"]
            if n["keepalive_closes"]:
                se += " (+%d keep-alive closes)" % n["keepalive_closes"]
            if name == "coupon_issue":
                st += "; rows %s/%s %s" % (n.get("issued_rows"), n.get("campaign_quantity"),
                                          "exact" if n.get("exact") else "NOT EXACT")
            verdict = "—" if n["pass"] is None else ("pass" if n["pass"] else "**miss**")
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                label, c, fmt_rate(n["rps"]), fmt_ms(n["p50_ms"]), fmt_ms(n["p99_ms"]), st, se,
                v["ceiling_label"], fmt_rate(n["ceiling_rps"]),
                "—" if n["ratio"] is None else "%.2f" % n["ratio"],
                n["target"] or "(info)", verdict))
    C = []
    C.append("| ceiling | conns | req/s or tps | p50 ms | p99 ms | errors |")
    C.append("|---|---:|---:|---:|---:|---|")
    for name, v in res["ceilings"].items():
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
    P = []
    P.append("| run | conns | ops/s | client µs/op | httpd µs/op | PostgreSQL µs/op | "
             "machine busy | not ours |")
    P.append("|---|---:|---:|---:|---:|---:|---:|---:|")
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
    return "\n".join(L), "\n".join(C), "\n".join(P)


def verdict_word(ok):
    return "PASS" if ok is True else ("FAIL" if ok is False else "SKIP")


def fmt_value(x, unit):
    if x is None:
        return "—"
    if unit == "ms":
        return fmt_ms(x) + " ms"
    if unit in ("errors", "events pending"):
        return "{:,}".format(int(x))
    return fmt_rate(x)


def target_limit(t):
    tid, th = t["id"], t["threshold"]
    if tid.endswith("_p99"):
        return ("<= %.0f ms" if tid == "order_pay_p99" else "< %.0f ms") % th
    if tid == "relay_backlog":
        return "0 within %s s" % th if th else "0"
    if tid == "order_pay_retries":
        return "0"
    return ">= %sx" % th


def issue11_lines(res):
    """The stdout lines: one per target, PASS / FAIL / SKIP first."""
    out = []
    for t in res["issue11"]["targets"]:
        where = "c%d" % t["conns"] if t["conns"] is not None else "all"
        ratio = "" if t["ratio"] is None else ", ratio %.2f" % t["ratio"]
        out.append("%s %-19s %-4s %s (target %s%s)" % (
            verdict_word(t["pass"]), t["id"], where, t["detail"], target_limit(t), ratio))
    return out


def issue11_tables(res):
    i11 = res["issue11"]
    L = ["| target | conns | measured | reference | ratio | limit | result | detail |",
         "|---|---:|---:|---:|---:|---|---|---|"]
    for t in i11["targets"]:
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            t["id"], t["conns"] if t["conns"] is not None else "—",
            fmt_value(t["value"], t["unit"]),
            fmt_value(t["reference"], t["unit"]),
            "—" if t["ratio"] is None else "%.2f" % t["ratio"], target_limit(t),
            {"PASS": "pass", "FAIL": "**miss**", "SKIP": "not measured"}[verdict_word(t["pass"])],
            t["detail"]))
    R = ["| order_pay run | payments/s | relay events/s | events received | pending at start | "
         "max pending | pending at end | samples (relay idle) | deadlocks | serialization "
         "failures | mod_shop retries |",
         "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
    for c, rl in i11["relay"]["runs"].items():
        e = i11["retries"]["runs"].get(c, {})
        R.append("| c%s | %s | %s | %s | %s | %s | %s | %d (%d) | %s | %s | %s |" % (
            c, fmt_rate(rl["payments_per_s"]), fmt_rate(rl["events_per_s"]),
            "{:,}".format(rl["events_received"]), "{:,}".format(rl["pending_start"]),
            "{:,}".format(rl["pending_max"]), "{:,}".format(rl["pending_end"]),
            rl["samples"], rl["idle_samples"], e.get("deadlocks_log", "—"),
            e.get("serialization_failures_log", "—"), e.get("module_retries", "—")))
    return "\n".join(L), "\n".join(R)


def relay_summary(res):
    i11 = res["issue11"]
    d, k, t = i11["relay"]["drain"], i11["relay"]["receiver"], i11["retries"]
    out = []
    if d:
        out.append("Backlog at the end of the last order_pay run: %s pending, %s (bounded wait %s s)." % (
            "{:,}".format(d["pending_start"]),
            ("0 after %.1f s" % d["wait_s"]) if d["drained"]
            else "%s still pending after %.0f s" % ("{:,}".format(d["pending_end"]), d["wait_s"]),
            d["max_wait_s"]))
    if k:
        out.append("Receiver: %s events, %s distinct Idempotency-Keys (%d duplicates); "
                   "%s events delivered since the warm-up, %d of them not received." % (
                       "{:,}".format(k["received"]), "{:,}".format(k["distinct_keys"]),
                       k["duplicates"], "{:,}".format(k["delivered_since_mark"]),
                       k["delivered_not_received"]))
    nice = res.get("config", {}).get("receiver_nice")
    if nice:
        out.append("The receiver (nginx) ran at nice %d during the order_pay runs: it stands in "
                   "for a data platform on its own machine, which would not compete with the "
                   "load for these cores (bench/run, receiver_priority)." % nice)
    tot, since = t["order_pay_runs_total"], t["since_first_order_pay_run"]
    if t["runs"]:
        out.append("Deadlocks / serialization failures / mod_shop retries in the order_pay runs: "
                   "%d / %d / %d (pg_stat_database.deadlocks: %d)%s." % (
                       tot["deadlocks_log"], tot["serialization_failures_log"],
                       tot["module_retries"], tot["deadlocks_stat"],
                       "; from the first order_pay run to the end of the bench: %d / %d / %d "
                       "(pg_stat_database: %d)" % (
                           since["deadlocks_log"], since["serialization_failures_log"],
                           since["module_retries"], since["deadlocks_stat"]) if since else ""))
    return out


def docs_section(res, routes_t, ceil_t, cpu_t, charts=None):
    m = res["machine"]
    d = res["dataset"]
    s = res["summary"]
    out = []
    out.append("Generated by `bench/run` (%s mode, %s s per run, wrk %s threads) on %s." % (
        res["mode"], res["seconds_per_run"], res["wrk_threads"], res["generated_at"]))
    out.append("")
    out.append("- Machine: %s, %s cores, %s GB RAM, %s, kernel %s; load average at start %s, at end %s." % (
        m.get("cpu"), m.get("cores"), m.get("mem_gb"), m.get("os"), m.get("kernel"),
        " ".join(m.get("loadavg_start") or []), " ".join(res.get("loadavg_end") or [])))
    out.append("- Software: %s; %s; %s." % (m.get("httpd"), m.get("postgres"), m.get("wrk")))
    out.append("- Code: commit `%s`%s." % (m.get("commit"), " plus uncommitted changes" if m.get("dirty") else ""))
    out.append("- Data set: %s users, %s products, %s PAID orders (%s order items) over the last 3 days, "
               "%s point-history rows, %s coupon campaigns; a race campaign of %s coupons per concurrency." % (
                   "{:,}".format(d.get("users", 0)), "{:,}".format(d.get("products", 0)),
                   "{:,}".format(d.get("orders", 0)), "{:,}".format(d.get("order_items", 0)),
                   "{:,}".format(d.get("point_history", 0)), d.get("coupons"),
                   "{:,}".format(d.get("race_qty", 0))))
    out.append("- TPC-B-like reference: `pgbench -i -s %s` (database pgbench, same cluster), "
               "loaded in %s s." % (d.get("tpcb_scale"), d.get("tpcb_init_s")))
    out.append("- Whole run: %s s. Targets: %d passed, %d missed; issue 11 targets: %d passed, "
               "%d missed%s." % (
                   res.get("duration_s"), s["targets_passed"], s["targets_missed"],
                   s["issue11_passed"], s["issue11_missed"],
                   ", %d not measured" % s["issue11_not_measured"]
                   if s["issue11_not_measured"] else ""))
    out.append("")
    out.append(routes_t)
    out.append("")
    out.append("Ceilings measured in the same run:")
    out.append("")
    out.append(ceil_t)
    out.append("")
    if charts:
        out.append("Throughput against each route's reference, and latency percentiles "
                   "(bench/lib/charts.py):")
        out.append("")
        for name, alt in charts:
            out.append("![%s](%s)" % (alt, name))
        out.append("")
    out.append("Where the CPU went (CPU time per op over the whole run, by process group; "
               "\"not ours\" = busy CPU not charged to wrk/pgbench, httpd or PostgreSQL: "
               "loopback softirq and anything else running on the machine):")
    out.append("")
    out.append(cpu_t)
    out.append("")
    if s["problems"]:
        out.append("Problems flagged:")
        out.append("")
        for p in s["problems"]:
            out.append("- " + p)
    else:
        out.append("No 5xx, no unexpected status, no socket error other than keep-alive "
                   "closes, coupon counts exact.")
    if s.get("warnings"):
        out.append("")
        out.append("Warnings:")
        out.append("")
        for w in s["warnings"]:
            out.append("- " + w)
    t11, relay_t = issue11_tables(res)
    out.append("")
    out.append("### Issue 11 targets")
    out.append("")
    out.append("Issue 11 targets: %d passed, %d missed%s (see [the targets](#issue-11-purchase-speed-"
               "targets) for what each one measures)." % (
                   s["issue11_passed"], s["issue11_missed"],
                   ", %d not measured in this mode" % s["issue11_not_measured"]
                   if s["issue11_not_measured"] else ""))
    out.append("")
    out.append(t11)
    out.append("")
    out.append("The relay and the retries during the order+payment runs (outbox backlog sampled "
               "every 0.5 s; errors from the PostgreSQL log and mod_shop's error log):")
    out.append("")
    out.append(relay_t)
    out.append("")
    for line in relay_summary(res):
        out.append("- " + line)
    return "\n".join(out)


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


def cmd_report(raw, out, docs, charts_dir=None, chart_python=None):
    res = build(read_raw(raw))
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, out)
    routes_t, ceil_t, cpu_t = tables(res)
    t11, relay_t = issue11_tables(res)
    print()
    print(routes_t)
    print()
    print(ceil_t)
    print()
    print(cpu_t)
    print()
    print(relay_t)
    print()
    for line in relay_summary(res):
        print(line)
    print()
    s = res["summary"]
    print("targets: %d passed, %d missed" % (s["targets_passed"], s["targets_missed"]))
    print("issue 11 targets: %d passed, %d missed, %d not measured" % (
        s["issue11_passed"], s["issue11_missed"], s["issue11_not_measured"]))
    for line in issue11_lines(res):
        print("  " + line)
    drawn = None
    if docs and not charts_dir:
        charts_dir = os.path.join(os.path.dirname(os.path.abspath(docs)), "img")
    if charts_dir:
        err = draw_charts(out, charts_dir, chart_python or "/usr/bin/python3")
        if err:
            s["warnings"].append(err)
        else:
            drawn = CHARTS
    for p in s["problems"]:
        print("PROBLEM: " + p)
    for w in s["warnings"]:
        print("warning: " + w)
    if docs:
        # links relative to the docs page
        rel = os.path.relpath(charts_dir, os.path.dirname(os.path.abspath(docs)))
        update_docs(docs, docs_section(res, routes_t, ceil_t, cpu_t,
                                       [(os.path.join(rel, n), a) for n, a in drawn or []]))
    return 1 if s["problems"] else 0


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "machine":
        cmd_machine()
        return 0
    if cmd == "line":
        cmd_line(argv[2])
        return 0
    if cmd == "pglat":
        cmd_pglat(argv[2:])
        return 0
    if cmd == "report":
        def opt(name):
            return argv[argv.index(name) + 1] if name in argv else None
        return cmd_report(argv[2], argv[3], opt("--docs"), opt("--charts"),
                          opt("--chart-python"))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
