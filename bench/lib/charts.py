#!/usr/bin/python3
"""bench/lib/charts.py — the charts of docs/performance.md, from latest.json.

  /usr/bin/python3 bench/lib/charts.py RESULTS.json OUT_DIR

writes OUT_DIR/bench-throughput.png (each route's req/s or ops/s against
the reference it is judged by, one panel per concurrency, log scale) and
OUT_DIR/bench-latency.png (p50 / p90 / p99 per route and reference, one
panel per concurrency, log scale) and OUT_DIR/bench-flash.png (the flash
sale: orders/s and p99 against connections, one product vs spread). bench/lib/report.py runs it with
Debian's python3 (python3-matplotlib, Agg backend: no display needed);
`make bench` draws into docs/img/, smoke mode into its temp directory.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

# (route, reference, factor applied to the reference, label, target ratio)
PAIRS = [
    ("popular", "static_nginx", 1.0, "popular vs nginx static", 0.8),
    ("popular", "static_default", 1.0, "popular vs default-config httpd static", 1.6),
    ("product", "popular", 1.0, "product by id (catalog cache) vs popular", 0.8),
    ("products", "popular", 1.0, "first product page vs popular", 0.5),
    ("coupon", "popular", 1.0, "campaign by id vs popular", 0.8),
    ("balance", "popular", 1.0, "balance vs popular", 0.45),
    ("balance_cached", "popular", 1.0, "balance, opt-in read cache, vs popular", 0.45),
    ("product", "static", 1.0, "product by id vs static (same httpd)", 0.6),
    ("balance", "static", 1.0, "balance vs static (same httpd)", 0.6),
    ("charge", "pg_charge", 1.0, "charge vs pgbench charge SQL", 0.6),
    ("order_pay", "pg_order_pay", 1.0, "order+pay vs pgbench create+pay SQL", 0.6),
    ("order_pay", "pg_tpcb", 0.5, "order+pay vs pgbench TPC-B-like / 2", 0.5),
    ("relay", "payments", 1.0, "relay events/s vs payments/s", 2.0),
    ("coupon_issue", "pg_hot_row", 1.0, "coupon issue vs pgbench hot row", 2.0),
    ("coupon_soldout", "static", 1.0, "coupon sold out vs static (same httpd)", 0.6),
]

# runs in the latency chart, in this order
LATENCY = ["static", "static_default", "static_nginx", "popular", "product", "products",
           "coupon", "balance", "product_nocache", "balance_cached", "coupon_soldout", "charge", "order_pay", "coupon_issue",
           "pg_order_pay", "pg_tpcb"]


def run_of(res, name, c):
    c = str(c)
    if name in ("relay", "payments"):
        route = "order_pay_relay" if res["routes"].get("order_pay_relay") else "order_pay"
        r = res["routes"].get(route, {}).get("runs", {}).get(c, {}).get("relay")
        if not r:
            return None
        return r["events_per_s" if name == "relay" else "payments_per_s"]
    for table in ("routes", "ceilings"):
        run = res.get(table, {}).get(name, {}).get("runs", {}).get(c)
        if run is not None:
            return run
    return None


def rate_of(res, name, c):
    run = run_of(res, name, c)
    if run is None:
        return None
    return run if isinstance(run, (int, float)) else run.get("rps")


def finish(fig, res, title, path, rect):
    """Titles a chart with the run it shows, lays it out and writes it."""
    fig.suptitle("%s (%s, %s)" % (title, res.get("generated_at", ""), res.get("mode", "")),
                 fontsize=10)
    fig.tight_layout(rect=rect)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def throughput(res, path):
    conns = res["concurrency"]
    pairs = [p for p in PAIRS if any(rate_of(res, p[0], c) is not None
                                     and rate_of(res, p[1], c) is not None for c in conns)]
    if not pairs:
        return False
    fig, axes = plt.subplots(1, len(conns), figsize=(7 * len(conns), 0.55 * len(pairs) + 1.8),
                             sharey=True, squeeze=False)
    for ax, c in zip(axes[0], conns):
        ys = list(range(len(pairs)))
        for y, (route, ref, factor, label, target) in zip(ys, pairs):
            a, b = rate_of(res, route, c), rate_of(res, ref, c)
            if a is None or b is None:
                continue
            b *= factor
            ratio = a / b if b else 0
            ok = ratio >= target
            ax.barh(y - 0.2, a, height=0.38, color="#2b7bba" if ok else "#d95f02")
            ax.barh(y + 0.2, b, height=0.38, color="#bbbbbb")
            ax.text(max(a, b) * 1.08, y, "%.2fx (target %.2gx)" % (ratio, target),
                    va="center", fontsize=8)
        ax.set_yticks(ys)
        ax.set_yticklabels([p[3] for p in pairs], fontsize=8)
        ax.set_xscale("log")
        lo, hi = ax.get_xlim()
        ax.set_xlim(lo, hi * 6)
        ax.set_xlabel("req/s, ops/s, tps or events/s (log scale)")
        ax.set_title("%s connections" % c)
        ax.grid(axis="x", which="both", alpha=0.25)
    axes[0][0].invert_yaxis()     # shared y axis: once, first pair on top
    handles = [plt.Rectangle((0, 0), 1, 1, color=k) for k in ("#2b7bba", "#d95f02", "#bbbbbb")]
    fig.legend(handles, ["route, ratio target met", "route, ratio target missed", "reference"],
               loc="lower center", ncol=3, fontsize=8, frameon=False)
    return finish(fig, res, "mod_shop: each route against its reference", path,
                  (0, 0.05, 1, 0.96))


def latency(res, path):
    conns = res["concurrency"]
    names = [n for n in LATENCY if any(run_of(res, n, c) is not None for c in conns)]
    if not names:
        return False
    fig, axes = plt.subplots(len(conns), 1, figsize=(max(8, 0.75 * len(names) + 2), 3.6 * len(conns)),
                             squeeze=False)
    colors = {"p50_ms": "#9ecae1", "p90_ms": "#4292c6", "p99_ms": "#08519c"}
    for ax, c in zip(axes[:, 0], conns):
        xs = list(range(len(names)))
        for i, key in enumerate(("p50_ms", "p90_ms", "p99_ms")):
            vals = []
            for n in names:
                run = run_of(res, n, c)
                vals.append((run or {}).get(key) or 0)
            ax.bar([x + (i - 1) * 0.27 for x in xs], vals, width=0.27, color=colors[key],
                   label=key[:-3])
        ax.set_xticks(xs)
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("ms (log scale)")
        ax.set_title("%s connections" % c, fontsize=10)
        ax.grid(axis="y", which="both", alpha=0.25)
        ax.legend(fontsize=8, ncol=3)
    return finish(fig, res, "latency per run: wrk (HTTP) and pgbench (pg_*)", path,
                  (0, 0, 1, 0.97))


def flash_points(res, name):
    """[(connections, run)] of a flash-sale run, by connections."""
    runs = res.get("flash_sale", {}).get("runs", {}).get(name, {})
    return sorted((int(c), run) for c, run in runs.items())


def flash(res, path):
    """Orders/s and p99 against connections: one product (its overload run
    included) vs the same orders spread over many products."""
    one = flash_points(res, "flash_one") + flash_points(res, "flash_overload")
    spread = flash_points(res, "flash_spread")
    if not one or not spread:
        return False
    fig, (rate_ax, p99_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for points, label, color in ((spread, "spread over many products", "#bbbbbb"),
                                 (one, "one product", "#2b7bba")):
        xs = [c for c, _ in points]
        rate_ax.plot(xs, [run["rps"] for _, run in points], "o-", color=color, label=label)
        p99_ax.plot(xs, [run["p99_ms"] for _, run in points], "o-", color=color, label=label)
    for ax, ylabel in ((rate_ax, "orders/s (201s)"), (p99_ax, "p99 ms")):
        ax.set_xscale("log")
        ax.set_xticks(sorted({c for c, _ in one + spread}))
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_xlabel("connections (log scale; the last one-product point is the overload run)")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.25)
        ax.legend(fontsize=8)
    return finish(fig, res, "flash sale: one product vs spread", path, (0, 0, 1, 0.94))


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        res = json.load(f)
    os.makedirs(argv[2], exist_ok=True)
    for name, fn in (("bench-throughput.png", throughput), ("bench-latency.png", latency),
                     ("bench-flash.png", flash)):
        path = os.path.join(argv[2], name)
        if fn(res, path):
            print("chart: %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
