"""bench/lib/targets.py — what each measured run is compared with, and the
verdicts: the routes against their ceilings, the purchase targets (ratios,
p99 limits, the relay, the retries), the errors that fail a bench run and
the warnings that only qualify its numbers.

Every target is a function named by what it checks; each returns the rows
it adds (a PASS/FAIL/SKIP row per concurrency, or one for the whole run).
"""
from measure import first, pg_numbers, without_kind, wrk_numbers
from render import fmt_ms, fmt_rate, thousands

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
    "pg_flash_hot": ("pgbench: flash-sale hot row",
                     "bench/pgbench/flash_hot.sql: one scratch stock row and an order row "
                     "per transaction (the flash sale's reference)"),
    "pg_tpcb": ("pgbench: TPC-B-like (built-in)",
                "pgbench -b tpcb-like -M prepared on the database pgbench of the same "
                "cluster (pgbench -i, scale in the dataset record)"),
}

# name -> route label, ceiling, target ratio (None: for information), p99 limit (ms)
ROUTES = [
    ("popular", "GET /products/popular", "static_default", 1.6, 10.0),
    ("popular_nginx_cache", "GET /products/popular through nginx's proxy_cache in front",
     "static_nginx", None, None),
    ("product", "GET /products/{id}", "static", 0.6, None),
    ("product_304", "GET /products/{id}, If-None-Match: its ETag (304)", "static", None, None),
    ("products", "GET /products", "static", None, None),
    ("coupon", "GET /coupons/{id}", "static", None, None),
    ("balance", "GET /users/{id}/points", "static", 0.6, None),
    ("product_nocache", "GET /products/{id}, catalog cache off (ShopCatalogCacheSize 0)",
     "static", None, None),
    ("balance_cached", "GET /users/{id}/points, ShopReadCacheTTL 1s (opt-in)", "static", None, None),
    ("charge", "POST /users/{id}/points/charge", "pg_charge", 0.6, None),
    ("order_pay", "POST .../orders + .../payment (1 op = both)", "pg_order_pay", 0.6, None),
    ("order_pay_relay", "the same, the relay working off a preloaded backlog", "pg_order_pay",
     None, None),
    ("nocache_order_pay", "the same, catalog cache off (ShopCatalogCacheSize 0)",
     "pg_order_pay", None, None),
    ("coupon_issue", "POST /users/{id}/coupons, coupons remain", "pg_hot_row", 2.0, None),
    ("coupon_soldout", "POST /users/{id}/coupons, sold out", "static", 0.6, None),
]

# The purchase targets (the results' "issue11" section) on top of the
# ROUTES ones, each with its own PASS/FAIL line. id -> the target as printed.
PURCHASE_TARGETS = dict([
    ("order_pay_vs_tpcb", "order_pay ops/s >= 0.5 x (pg_tpcb tps / 2): an order and its "
                          "payment are two TPC-B-sized transactions"),
    ("order_pay_p99", "order_pay p99 <= 150 ms at 64 connections"),
    ("popular_vs_nginx", "popular req/s >= 0.8 x static_nginx req/s"),
    ("popular_p99", "popular p99 < 5 ms at 64 connections"),
    ("popular_cache_hits", "through nginx's proxy_cache in front, GET /products/popular is "
                           "served by the cache: hit ratio >= 0.99 over the run"),
    ("product_vs_popular", "product by id (catalog cache, the default) req/s >= 0.8 x "
                           "popular req/s"),
    ("product_304_vs_popular", "a product revalidated (If-None-Match, 304 from the catalog "
                               "cache) req/s >= 1.0 x popular req/s"),
    ("products_vs_popular", "first page of GET /products req/s >= 0.5 x popular req/s"),
    ("coupon_vs_popular", "GET /coupons/{id} req/s >= 0.8 x popular req/s"),
    ("order_pay_vs_nocache", "order_pay ops/s >= 0.9 x order_pay with the catalog cache off "
                             "(the cache and its change log do not slow writes)"),
    ("balance_vs_popular", "balance req/s >= 0.45 x popular req/s"),
    ("balance_cached_vs_popular", "balance with the opt-in read cache (ShopReadCacheTTL 1s) "
                                  "req/s >= 0.45 x popular req/s"),
    ("relay_vs_payments", "relay events/s >= 2 x payments/s during each order_pay_relay run "
                          "(the order_pay load, the relay working off a preloaded backlog)"),
    ("relay_backlog", "relay backlog bounded: drained to 0 after the last order_pay run "
                      "within the bounded wait"),
    ("order_pay_retries", "0 deadlocks, serialization failures and mod_shop retries per "
                          "order_pay run"),
])


def has_errors(n):
    return bool(n["http_5xx"] or n["socket_errors"] or n["unexpected"] or n["server_crashes"])


def error_summary(tag, n):
    return "%s: 5xx %d, unexpected %d, socket errors %d, crashes %d" % (
        tag, n["http_5xx"], n["unexpected"], n["socket_errors"], n["server_crashes"])


# ---------------------------------------------------------------------------
# The ceilings and the routes against them
# ---------------------------------------------------------------------------
def ceiling_results(runs):
    ceilings = {}
    for name in CEILINGS:
        found = {}
        for c in runs.conns:
            if (name, c) in runs.wrk:
                found[str(c)] = wrk_numbers(runs.wrk[(name, c)])
            elif (name, c) in runs.pg:
                found[str(c)] = pg_numbers(runs.pg[(name, c)])
        if found:
            ceilings[name] = {"label": CEILINGS[name][0], "what": CEILINGS[name][1],
                              "runs": found}
    return ceilings


def route_results(runs, ceilings, problems):
    routes = {}
    for name, label, ceil, target, p99_max in ROUTES:
        found = {}
        for c in runs.conns:
            rec = runs.wrk.get((name, c))
            if rec is not None:
                found[str(c)] = route_run(runs, ceilings, problems, rec,
                                          (name, ceil, target, p99_max))
        if found:
            routes[name] = {"route": label, "ceiling": ceil,
                            "ceiling_label": CEILINGS[ceil][0], "runs": found}
    return routes


def route_run(runs, ceilings, problems, rec, route):
    """One route's run: its numbers, its ceiling's, the ratio and verdict."""
    name, ceil, target, p99_max = route
    c = rec["conns"]
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
        ok_errors = coupon_race_exact(runs, problems, n, c) and ok_errors
    run_problems(problems, name, c, n)
    if target is None:
        n["pass"] = None
    else:
        ok = n["ratio"] is not None and n["ratio"] >= target
        if p99_max is not None:
            ok = ok and n["p99_ms"] < p99_max
        n["pass"] = bool(ok and ok_errors)
    return n


def coupon_race_exact(runs, problems, n, c):
    """The race issued exactly the campaign: 201s = rows = slots = quantity."""
    chk = runs.checks.get(("coupon_race", c))
    exact = bool(chk) and (chk["issued_rows"] == chk["slots_taken"] == chk["qty"]
                           == n["issued_201"])
    n["exact"] = exact
    n["campaign_quantity"] = chk["qty"] if chk else None
    n["issued_rows"] = chk["issued_rows"] if chk else None
    n["slots_taken"] = chk["slots_taken"] if chk else None
    if not exact:
        problems.append("%s c%d: coupon count not exact (201s %d, rows %s, "
                        "slots %s, campaign %s)" % (
                            "coupon_issue", c, n["issued_201"], n["issued_rows"],
                            n["slots_taken"], n["campaign_quantity"]))
    return exact


def run_problems(problems, name, c, n):
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


def other_run_problems(runs, problems):
    """Errors on the ceilings' own runs and on discarded attempts count as well."""
    for (name, c), rec in runs.wrk.items():
        if name in CEILINGS:
            n = wrk_numbers(rec)
            if has_errors(n):
                problems.append(error_summary("%s c%d" % (name, c), n))
    for (name, c), rec in runs.pg.items():
        if rec.get("failed"):
            problems.append("pgbench %s c%d: %d failed transactions" % (name, c, rec["failed"]))
    for rec in runs.discarded:
        tag = "%s c%d (discarded attempt %d)" % (rec["name"], rec["conns"], rec.get("attempt", 0))
        if rec["kind"] == "pgbench":
            if rec.get("failed"):
                problems.append("pgbench %s: %d failed transactions" % (tag, rec["failed"]))
            continue
        n = wrk_numbers(rec)
        if has_errors(n):
            problems.append(error_summary(tag, n))


# ---------------------------------------------------------------------------
# Warnings: numbers to read with care
# ---------------------------------------------------------------------------
def latency_consistency(runs):
    out = []
    for (name, c), rec in sorted(runs.wrk.items()):
        if name == "coupon_issue":
            continue    # its threads stop early: the check does not apply
        chk = wrk_numbers(rec).get("inflight_check")
        if chk is not None and not 0.5 <= chk <= 3.0:
            out.append("%s c%d: wrk's latencies are inconsistent with its throughput "
                       "(mean latency x req/s / conns = %.1f, expected ~1): its p50/p99 "
                       "are not reliable for this run" % (name, c, chk))
    return out


def disturbed_runs(runs, limit):
    out = []
    for table in (runs.wrk, runs.pg):
        for (name, c), rec in sorted(table.items()):
            f = rec.get("foreign_cpu_pct")
            if f is not None and f > limit and name != "coupon_issue":
                out.append("%s c%d: %d%% of the machine's CPU went to other work even in the "
                           "least disturbed of %d attempts: its numbers are low" % (
                               name, c, f, rec.get("attempts", 1)))
            elif rec.get("attempts", 1) > 1:
                out.append("%s c%d: repeated (%d attempts) because other work took over "
                           "%d%% of the CPU; the kept attempt had %d%%" % (
                               name, c, rec["attempts"], limit, f))
    return out


def busy_machine(machine):
    try:
        load = float((machine.get("loadavg_start") or ["0"])[0])
        if load > (machine.get("cores") or 1) / 2:
            return ["load average %.2f on %s cores when the run started: other work on "
                    "the machine competed for the CPU" % (load, machine.get("cores"))]
    except ValueError:
        pass
    return []


def relay_findings(section, problems, warnings):
    chk = section["relay"]["receiver"]
    if chk.get("delivered_not_received"):
        problems.append("relay: %d events marked delivered in the outbox were never received "
                        "by the receiver" % chk["delivered_not_received"])
    if chk.get("duplicates"):
        warnings.append("relay: the receiver got %d duplicate events (same Idempotency-Key); "
                        "allowed only as retries" % chk["duplicates"])
    for c, rl in section["relay"]["runs"].items():
        if rl["samples"] < max(1, int(rl["window_s"] / 0.5) - 2):
            warnings.append("order_pay c%s: only %d outbox samples in %.1f s (one every 0.5 s "
                            "expected)" % (c, rl["samples"], rl["window_s"]))


# ---------------------------------------------------------------------------
# The purchase targets: every row has pass True / False, or None when its
# run is not in this bench run (the p99 targets are at 64 connections,
# which smoke mode does not run).
# ---------------------------------------------------------------------------
def row(tid, c, value, reference, ratio, threshold, ok, detail, unit="", text=None):
    return {"id": tid, "conns": c, "target": text or PURCHASE_TARGETS[tid], "value": value,
            "reference": reference, "ratio": ratio, "threshold": threshold,
            "unit": unit, "pass": ok, "detail": detail}


def rate_of(routes, ceilings, name, c):
    """req/s (ops/s, tps) of a route or a ceiling at concurrency c, or None."""
    for table in (routes, ceilings):
        run = table.get(name, {}).get("runs", {}).get(str(c))
        if run is not None:
            return run
    return None


def ratio_rows(tid, ctx, name, ref, factor, threshold, unit, what):
    """name's rate >= threshold x (factor x ref's rate), at each concurrency."""
    routes, ceilings, conns = ctx
    T = []
    for c in conns:
        a = rate_of(routes, ceilings, name, c)
        b = rate_of(routes, ceilings, ref, c)
        if a is None or b is None:
            T.append(row(tid, c, None, None, None, threshold, None,
                         "not measured (%s or %s missing)" % (name, ref)))
            continue
        refv = b["rps"] * factor
        r = a["rps"] / refv if refv else None
        T.append(row(tid, c, a["rps"], refv, r, threshold, r is not None and r >= threshold,
                     what % {"a": fmt_rate(a["rps"]), "b": fmt_rate(b["rps"]),
                             "ref": fmt_rate(refv)}, unit))
    return T


def p99_rows(tid, ctx, name, limit, strict):
    """name's p99 at 64 connections below limit (strict: <, else <=)."""
    run = rate_of(ctx[0], ctx[1], name, 64)
    if run is None:
        return [row(tid, 64, None, None, None, limit, None, "not measured (no 64-connection run)")]
    p = run["p99_ms"]
    ok = p < limit if strict else p <= limit
    return [row(tid, 64, p, None, None, limit, ok, "p99 %s ms" % fmt_ms(p), "ms")]


VS_POPULAR = "%(a)s req/s vs popular %(b)s req/s"


def order_pay_vs_tpcb(ctx):
    return ratio_rows("order_pay_vs_tpcb", ctx, "order_pay", "pg_tpcb", 0.5, 0.5, "ops/s",
                      "%(a)s create+pay ops/s vs pg_tpcb %(b)s tps / 2 = %(ref)s")


def order_pay_p99(ctx):
    return p99_rows("order_pay_p99", ctx, "order_pay", 150.0, False)


def popular_vs_nginx(ctx):
    return ratio_rows("popular_vs_nginx", ctx, "popular", "static_nginx", 1.0, 0.8, "req/s",
                      "%(a)s req/s vs nginx %(b)s req/s")


def popular_p99(ctx):
    return p99_rows("popular_p99", ctx, "popular", 5.0, True)


def popular_cache_hits(ctx, checks):
    """The cache in front answers popular itself (its log's HITs), its rate
    beside mod_shop's own."""
    routes, ceilings, conns = ctx
    T = []
    for c in conns:
        chk = checks.get(("nginx_cache", c))
        run = rate_of(routes, ceilings, "popular_nginx_cache", c)
        own = rate_of(routes, ceilings, "popular", c)
        if chk is None or not chk["requests"] or run is None:
            T.append(row("popular_cache_hits", c, None, None, None, 0.99, None, "not measured"))
            continue
        r = chk["hits"] / chk["requests"]
        T.append(row("popular_cache_hits", c, r, None, r, 0.99, r >= 0.99,
                     "%s hits of %s requests; %s req/s through the cache vs mod_shop's own "
                     "%s req/s" % (thousands(chk["hits"]), thousands(chk["requests"]),
                                   fmt_rate(run["rps"]), fmt_rate(own["rps"]) if own else "?"),
                     "hit ratio"))
    return T


def reads_vs_popular(ctx):
    """The catalog reads (from memory by default), balance and its opt-in
    read cache, each against popular; order_pay against itself without the
    catalog cache."""
    T = []
    for name, threshold in (("product", 0.8), ("product_304", 1.0), ("products", 0.5), ("coupon", 0.8),
                            ("balance", 0.45), ("balance_cached", 0.45)):
        T += ratio_rows(name + "_vs_popular", ctx, name, "popular", 1.0, threshold, "req/s",
                        VS_POPULAR)
    T += ratio_rows("order_pay_vs_nocache", ctx, "order_pay", "nocache_order_pay", 1.0, 0.9,
                    "ops/s", "%(a)s ops/s vs %(b)s ops/s with the catalog cache off")
    return T


def relay_detail(rl):
    if rl.get("preloaded") and rl.get("busy_s"):
        got = "%s in the %.1f s it had a backlog; %s preloaded" % (
            thousands(rl["busy_events"]), rl["busy_s"], thousands(rl["preloaded"]))
    else:
        got = "%s in %.1f s" % (thousands(rl["events_received"]), rl["window_s"])
    d = "relay %s events/s (%s) vs payments %s/s; pending %s -> max %s -> %s" % (
        fmt_rate(rl["events_per_s"]), got, fmt_rate(rl["payments_per_s"]),
        thousands(rl["pending_start"]), thousands(rl["pending_max"]),
        thousands(rl["pending_end"]))
    if not rl["saturated"]:
        d += ("; the relay ran out of events in %d of %d samples, so its rate was "
              "bounded by the payments, not by the relay" % (rl["idle_samples"], rl["samples"]))
    return d


def relay_vs_payments(routes, conns, relay_runs):
    """The relay's rate >= 2x the payments', in the capacity runs (a
    preloaded backlog) when the bench made them. Fills relay_runs."""
    route = "order_pay_relay" if routes.get("order_pay_relay") else "order_pay"
    T = []
    for c in conns:
        run = routes.get(route, {}).get("runs", {}).get(str(c))
        rl = run.get("relay") if run else None
        if rl is None:
            T.append(row("relay_vs_payments", c, None, None, None, 2.0, None, "not measured"))
            continue
        relay_runs[str(c)] = rl
        T.append(row("relay_vs_payments", c, rl["events_per_s"], rl["payments_per_s"],
                     rl["ratio"], 2.0, rl["ratio"] is not None and rl["ratio"] >= 2.0,
                     relay_detail(rl), "events/s"))
    return T


def relay_backlog(routes, relay_runs, drain):
    """The backlog drained to 0 within the bounded wait after the last run."""
    max_pending = max([rl["pending_max"] for rl in relay_runs.values()] or [0])
    if drain is None:
        return [row("relay_backlog", None, None, None, None, None, None, "not measured")], max_pending
    # the plain order_pay runs: no preload, the relay only keeps up
    kept_up = [r.get("relay", {}).get("pending_max") for r in
               routes.get("order_pay", {}).get("runs", {}).values()]
    kept_up = max([k for k in kept_up if k is not None] or [0])
    d = ("max pending %s during the order_pay runs (no preload), %s in the relay capacity "
         "runs; %s pending at the end of the last one: %s") % (
        thousands(kept_up), thousands(max_pending), thousands(drain["pending_start"]),
        ("drained %.1f s after it" % drain["wait_s"]) if drain["drained"]
        else "%s still pending after %.0f s" % (thousands(drain["pending_end"]), drain["wait_s"]))
    if drain["drained"] and drain["wait_s"] > 0:
        d += " (%s events/s with no load)" % fmt_rate(drain["pending_start"] / drain["wait_s"])
    return [row("relay_backlog", None, max_pending, None, None, drain["max_wait_s"],
                bool(drain["drained"]), d, "events pending")], max_pending


def order_pay_retries(routes, conns, retry_runs):
    """No deadlock, serialization failure or retry in an order_pay run.
    Fills retry_runs."""
    T = []
    for c in conns:
        run = routes.get("order_pay", {}).get("runs", {}).get(str(c))
        e = run.get("pg_errors") if run else None
        if e is None:
            T.append(row("order_pay_retries", c, None, None, None, 0, None, "not measured"))
            continue
        retry_runs[str(c)] = e
        T.append(row("order_pay_retries", c, e["total"], None, None, 0, e["total"] == 0,
                     "deadlocks %d (pg_stat_database: %d), serialization failures %d, mod_shop "
                     "retries %d" % (e["deadlocks_log"], e["deadlocks_stat"],
                                     e["serialization_failures_log"], e["module_retries"]),
                     "errors"))
    return T


def purchase_targets(routes, ceilings, recs, conns):
    """The purchase targets, the relay and the retries (the results'
    "issue11" section)."""
    ctx = (routes, ceilings, conns)
    relay_runs, retry_runs = {}, {}
    drain = first(recs, "relay_drain")
    T = order_pay_vs_tpcb(ctx) + order_pay_p99(ctx) + popular_vs_nginx(ctx) + popular_p99(ctx)
    T += popular_cache_hits(ctx, {(r["name"], r["conns"]): r for r in recs
                                  if r["kind"] == "check"})
    T += reads_vs_popular(ctx)
    T += relay_vs_payments(routes, conns, relay_runs)
    backlog, max_pending = relay_backlog(routes, relay_runs, drain)
    T += backlog
    T += order_pay_retries(routes, conns, retry_runs)
    keys = ("deadlocks_log", "serialization_failures_log", "deadlocks_stat", "module_retries", "total")
    total = {k: sum(e.get(k, 0) for e in retry_runs.values()) for k in keys}
    return {
        "targets": T,
        "relay": {"setup": without_kind(first(recs, "relay_setup")),
                  "runs": relay_runs, "max_pending": max_pending,
                  "drain": without_kind(drain),
                  "receiver": without_kind(first(recs, "relay_check"))},
        "retries": {"runs": retry_runs, "order_pay_runs_total": total,
                    "since_first_order_pay_run": without_kind(first(recs, "pg_errors_total"))},
    }


def count_verdicts(rows):
    return (sum(1 for v in rows if v is True), sum(1 for v in rows if v is False),
            sum(1 for v in rows if v is None))
