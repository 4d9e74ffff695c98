"""bench/lib/measure.py — reading bench/run's raw measurements.

bench/run appends one JSON object per line to a raw file while it measures
(kind = machine | dataset | config | wrk | pgbench | check | relay_* | end).
This module reads those records and turns one wrk or pgbench record into
the numbers the report uses (rates, latencies, statuses, the error
classification, the relay, CPU per op). It judges nothing against a target:
that is bench/lib/targets.py.
"""
import json
import os
import platform
import subprocess
import time

# Statuses each wrk run is expected to see; anything else is "unexpected".
EXPECTED = {
    "popular": {200}, "product": {200}, "product_304": {304}, "products": {200}, "balance": {200},
    "coupon": {200}, "product_nocache": {200}, "balance_cached": {200},
    "nocache_order_pay": {200, 201},
    "charge": {200}, "order_pay": {200, 201}, "order_pay_relay": {200, 201}, "coupon_issue": {201, 409},
    "coupon_soldout": {409}, "static": {200}, "static_default": {200},
    "static_nginx": {200}, "popular_nginx_cache": {200},
    # the flash sale (issue 20): a 503 must carry Retry-After (checked in
    # flash_order.lua); 409 OUT_OF_STOCK only when overloaded (the stock
    # is 10^9: a 409 elsewhere is a bug), SOLD_OUT in the coupon drop
    "flash_spread": {201, 503}, "flash_one": {201, 503}, "flash_overload": {201, 409, 503},
    "flash_probe": {200}, "flash_probe_spread": {200}, "flash_probe_drop": {200},
    "flash_coupon_drop": {201, 409, 503}, "flash_coupon_drop_probed": {201, 409, 503},
}
ORDER_PAY_RUNS = ("order_pay", "order_pay_relay", "nocache_order_pay")
FLASH_ORDER_RUNS = ("flash_spread", "flash_one", "flash_overload")
OVERLOAD_RUNS = ("flash_overload",)     # socket errors there are a target, not an error
# The coupon drop, measured alone and again with the probe beside it.
DROP_RUNS = ("flash_coupon_drop", "flash_coupon_drop_probed")
RACE_RUNS = ("coupon_issue",) + DROP_RUNS


def read_raw(path):
    recs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                recs.append(json.loads(line))
    return recs


def first(recs, kind, default=None):
    """The first record of a kind (machine, dataset, end, ...)."""
    return next((r for r in recs if r["kind"] == kind), default)


def without_kind(rec):
    return {k: v for k, v in (rec or {}).items() if k != "kind"}


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


class Runs:
    """The measured runs of a raw file. Repeated runs: the results use the
    kept attempt; the discarded ones are only checked for errors."""

    def __init__(self, recs):
        self.recs = recs
        self.wrk = {(r["name"], r["conns"]): r for r in recs
                    if r["kind"] == "wrk" and r.get("kept", True)}
        self.pg = {(r["name"], r["conns"]): r for r in recs
                   if r["kind"] == "pgbench" and r.get("kept", True)}
        self.discarded = [r for r in recs
                          if r["kind"] in ("wrk", "pgbench") and not r.get("kept", True)]
        self.checks = {(r["name"], r["conns"]): r for r in recs if r["kind"] == "check"}
        self.conns = sorted({c for (_, c) in list(self.wrk) + list(self.pg)})


# ---------------------------------------------------------------------------
# One wrk record
# ---------------------------------------------------------------------------
def wrk_numbers(rec):
    """rps, latencies, statuses and the error classification of a wrk run."""
    res = rec["result"]
    name = rec["name"]
    dur = res["duration_us"] / 1e6
    st = {int(k): v for k, v in res.get("status", {}).items()}
    out = wrk_basics(res, dur, st)
    if "lat_n" in res.get("extra", {}):
        timed_latencies(out, res["extra"])
    if name in FLASH_ORDER_RUNS or name in DROP_RUNS:
        shed_load(out, st, res.get("extra", {}))
    out["unexpected"] = unexpected_statuses(name, st, res.get("extra", {}))
    out.update(socket_errors(rec, out["http_5xx"]))
    mean_us = res["latency_us"]["mean"]
    if out.get("timed_by_script"):
        mean_us = res["extra"]["lat_sum_ms"] * 1000.0 / max(res["extra"]["lat_n"], 1)
    out.update(wrk_context(rec, out["rps"], mean_us))
    if name in ORDER_PAY_RUNS:
        order_pay_numbers(rec, out, st, dur)
    if name in FLASH_ORDER_RUNS:
        flash_order_numbers(out, st, dur, res.get("extra", {}))
    if name in RACE_RUNS:
        coupon_issue_numbers(out, st, res.get("extra", {}))
    if name == "coupon_soldout":
        out["sold_out_409"] = res.get("extra", {}).get("sold_out", 0)
    # per op: a create+pay pair for order_pay, a request otherwise
    # (not for the race: its run includes the drain and bench/run's polling)
    out["cpu"] = None if name in RACE_RUNS else cpu_numbers(
        rec, out.get("ops") if name in ORDER_PAY_RUNS else res["requests"])
    return out


def timed_percentile(ex, p):
    """The bucket edge (ms) under which p % of the reads a script timed
    itself finished (bench/lua/flash_probe.lua: lat_le_<ms>, lat_n)."""
    edges = sorted((float(k[7:]), v) for k, v in ex.items()
                   if k.startswith("lat_le_") and k != "lat_le_inf")
    done = 0
    for edge, n in edges:
        done += n
        if done >= ex["lat_n"] * p / 100.0:
            return edge
    return ex.get("lat_max", float("inf"))


def timed_latencies(out, ex):
    """The script's own latencies replace wrk's (kept as wrk_*)."""
    out["wrk_p50_ms"], out["wrk_p99_ms"] = out["p50_ms"], out["p99_ms"]
    out["p50_ms"] = timed_percentile(ex, 50)
    out["p90_ms"] = timed_percentile(ex, 90)
    out["p99_ms"] = timed_percentile(ex, 99)
    out["max_ms"] = ex.get("lat_max", out["max_ms"])
    out["timed_by_script"] = True


def wrk_basics(res, dur, st):
    lat = res["latency_us"]
    return {
        "requests": res["requests"],
        "duration_s": r2(dur, 3),
        "rps": res["requests"] / dur if dur > 0 else 0.0,
        "p50_ms": lat["p50"] / 1000.0,
        "p90_ms": lat["p90"] / 1000.0 if "p90" in lat else None,
        "p99_ms": lat["p99"] / 1000.0,
        "max_ms": lat["max"] / 1000.0,
        "status": {str(k): v for k, v in sorted(st.items())},
        "http_5xx": sum(v for k, v in st.items() if k >= 500),
        "errors": dict(res["errors"]),
    }


def unexpected_statuses(name, st, ex):
    expected = EXPECTED.get(name, {200})
    unexpected = sum(v for k, v in st.items() if k not in expected)
    if name in RACE_RUNS:
        # a 409 must be SOLD_OUT (each request is a new user)
        unexpected += st.get(409, 0) - ex.get("sold_out", 0)
    # a 503 without Retry-After (flash_order.lua) is an error
    unexpected += ex.get("retry_after_missing", 0)
    if name == "coupon_soldout":
        # random users: the race's winners hold one and hear ALREADY_ISSUED,
        # which the contract puts before SOLD_OUT; every other 409 is SOLD_OUT
        unexpected += st.get(409, 0) - ex.get("sold_out", 0) - ex.get("already_issued", 0)
    return unexpected


def socket_errors(rec, http_5xx):
    """Socket errors. wrk counts a connection the server closed before
    answering as a read error. The event MPM closes idle keep-alive
    connections of a child whose workers are all busy, which can only
    happen when the connections outnumber the threads of a child; the
    default-config instance also ends connections after 100 requests
    (MaxKeepAliveRequests) and reaps idle children (MaxSpareThreads).
    Read errors are counted as keep-alive closes where that is possible
    (conns > threads per child, or the default-config instance) and
    nothing else went wrong: no connect/write/timeout errors, no 5xx, no
    crashed child in the error log. Anything else is a socket error."""
    err = rec["result"]["errors"]
    sock = err["connect"] + err["read"] + err["write"] + err["timeout"]
    ka_possible = (rec["conns"] > rec.get("threads_per_child", 0)
                   or rec.get("instance") == "default")
    clean = (err["connect"] == 0 and err["write"] == 0 and err["timeout"] == 0
             and http_5xx == 0 and rec.get("server_crashes", 0) == 0)
    if err["read"] and ka_possible and clean:
        return {"keepalive_closes": err["read"], "socket_errors": 0}
    return {"keepalive_closes": 0, "socket_errors": sock}


def shed_load(out, st, ex):
    """A flash-sale run (orders, the coupon drop) may shed load with 503 +
    Retry-After (BUSY): those 503s are answers, not server errors
    (http_5xx counts the rest)."""
    out["shed_503"] = st.get(503, 0) - ex.get("retry_after_missing", 0)
    out["http_5xx"] -= out["shed_503"]


def flash_order_numbers(out, st, dur, ex):
    """Orders accepted (201) per second; the requests' rate beside it."""
    out["orders"] = st.get(201, 0)
    out["rps_requests"] = out["rps"]
    out["rps"] = out["orders"] / dur if dur > 0 else 0.0
    out["out_of_stock_409"] = ex.get("out_of_stock", 0)
    out["retry_after_missing"] = ex.get("retry_after_missing", 0)
    out["unit"] = "orders accepted (201) per second"


def wrk_context(rec, rps, mean_us):
    # Little's law: mean latency x throughput = requests in flight = conns.
    # Far off means wrk's latency numbers are not trustworthy for this run
    # (seen once: a 10 s run reported p99 = 1.1 s at 7,500 req/s, 16 conns).
    return {
        "inflight_check": r2(mean_us / 1e6 * rps / rec["conns"], 2) if rec["conns"] else None,
        "server_crashes": rec.get("server_crashes", 0),
        "server_log_errors": rec.get("server_log_errors", 0),
        "attempts": rec.get("attempts", 1),
        "foreign_cpu_pct": rec.get("foreign_cpu_pct"),
    }


def order_pay_numbers(rec, out, st, dur):
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


def coupon_issue_numbers(out, st, ex):
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


# ---------------------------------------------------------------------------
# One pgbench record, pgbench's per-transaction logs
# ---------------------------------------------------------------------------
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


def pg_latencies(paths):
    """p50/p90/p99 of pgbench per-transaction logs (-l): the third field of
    each line is the transaction's latency in microseconds."""
    lat = []
    for p in paths:
        with open(p) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    lat.append(int(parts[2]))
    return {"n": len(lat),
            "p50_ms": r2((pct(lat, 50) or 0) / 1000.0, 3),
            "p90_ms": r2((pct(lat, 90) or 0) / 1000.0, 3),
            "p99_ms": r2((pct(lat, 99) or 0) / 1000.0, 3)}


# ---------------------------------------------------------------------------
# The machine (the first record of a run)
# ---------------------------------------------------------------------------
def first_line(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except Exception:
        return None


def proc_field(path, prefix):
    """The text after the colon of the first line of PATH starting with PREFIX."""
    try:
        for line in open(path):
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def git_state(root):
    commit = first_line(["git", "-C", root, "rev-parse", "--short", "HEAD"])
    try:
        dirty = bool(subprocess.run(["git", "-C", root, "status", "--porcelain"],
                                    capture_output=True, text=True).stdout.strip())
    except Exception:
        dirty = None
    return commit, dirty


def machine_record():
    """The JSON record describing this box, at the start of a run."""
    mem = proc_field("/proc/meminfo", "MemTotal")
    if mem is not None:
        mem = round(int(mem.split()[0]) / 1024 / 1024, 1)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    commit, dirty = git_state(root)
    return {
        "kind": "machine",
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": proc_field("/proc/cpuinfo", "model name"), "cores": os.cpu_count(), "mem_gb": mem,
        "kernel": platform.release(),
        "os": first_line(["sh", "-c", ". /etc/os-release; echo $PRETTY_NAME"]),
        "httpd": first_line(["apache2", "-v"]),
        "postgres": first_line(["/usr/lib/postgresql/15/bin/postgres", "--version"]),
        "wrk": first_line(["wrk", "-v"]),
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
        "commit": commit, "dirty": dirty,
    }
