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
                                    latest.json + the tables, the issue 11
                                    and flash-sale targets on stdout (+ the docs section; +
                                    the PNG charts of bench/lib/charts.py in
                                    DIR, docs/img/ by default with --docs);
                                    exit 1 if any run had a 5xx, an unexpected
                                    status, a socket error other than
                                    keep-alive closes, the coupon race was not
                                    exact, the relay marked an event
                                    delivered that the receiver never got,
                                    or a flash-sale invariant broke

The work is in three modules beside it: measure.py reads the raw records
into numbers, targets.py judges them (the ceilings, the routes' and the
purchase targets, problems and warnings), flash_targets.py judges the
flash-sale section (issue 20), render.py writes the text (run lines,
tables, target lines, the docs section, the charts).

Standard library only (python3 is a dependency of the checkout anyway); the
charts run in a separate interpreter (Debian's, with python3-matplotlib).
"""
import json
import os
import sys
import time

import flash_targets
import measure
import render
import targets
from measure import first, without_kind


def findings(runs, recs, problems):
    """problems (errors that fail the bench) and warnings, in report order."""
    targets.other_run_problems(runs, problems)
    config = first(recs, "config", {})
    warnings = targets.latency_consistency(runs)
    warnings += targets.disturbed_runs(runs, config.get("max_foreign_cpu_pct", 20))
    warnings += targets.busy_machine(first(recs, "machine", {}))
    return warnings


def summary(routes, purchase, flash, problems, warnings):
    verdicts = [r["pass"] for v in routes.values() for r in v["runs"].values()
                if r["pass"] is not None]
    passed, missed, unmeasured = targets.count_verdicts([t["pass"] for t in purchase["targets"]])
    s = {"targets_passed": sum(1 for v in verdicts if v),
         "targets_missed": sum(1 for v in verdicts if not v),
         "issue11_passed": passed, "issue11_missed": missed,
         "issue11_not_measured": unmeasured}
    if flash:
        passed, missed, unmeasured = targets.count_verdicts([t["pass"] for t in flash["targets"]])
        s.update({"flash_sale_passed": passed, "flash_sale_missed": missed,
                  "flash_sale_not_measured": unmeasured})
    s.update({"problems": problems, "warnings": warnings})
    return s


def build(recs):
    """The results (latest.json) of one bench run's raw records."""
    runs = measure.Runs(recs)
    problems = []
    ceilings = targets.ceiling_results(runs)
    routes = targets.route_results(runs, ceilings, problems)
    warnings = findings(runs, recs, problems)
    purchase = targets.purchase_targets(routes, ceilings, recs, runs.conns)
    targets.relay_findings(purchase, problems, warnings)
    flash = flash_targets.flash_sale(runs, routes, ceilings, problems)
    config, end = first(recs, "config", {}), first(recs, "end", {})
    res = {
        "generated_at": end.get("finished_at") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "mode": config.get("mode"),
        "seconds_per_run": config.get("seconds"),
        "wrk_threads": config.get("threads"),
        "concurrency": runs.conns,
        "machine": without_kind(first(recs, "machine", {})),
        "loadavg_end": end.get("loadavg_end"),
        "duration_s": end.get("duration_s"),
        "dataset": without_kind(first(recs, "dataset", {})),
        "config": without_kind(config),
        "routes": routes,
        "ceilings": ceilings,
        "issue11": purchase,
    }
    if flash:
        res["flash_sale"] = flash
    res["summary"] = summary(routes, purchase, flash, problems, warnings)
    return res


def write_json(res, out):
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, out)


def charts_for(res, out, docs, charts_dir, chart_python):
    """Draws the charts where asked (beside the docs by default); returns the
    directory and the charts drawn, or a warning in the summary."""
    if docs and not charts_dir:
        charts_dir = os.path.join(os.path.dirname(os.path.abspath(docs)), "img")
    if not charts_dir:
        return charts_dir, None
    err = render.draw_charts(out, charts_dir, chart_python or "/usr/bin/python3")
    if err:
        res["summary"]["warnings"].append(err)
        return charts_dir, None
    return charts_dir, render.CHARTS


def cmd_report(raw, out, docs, charts_dir=None, chart_python=None):
    res = build(measure.read_raw(raw))
    write_json(res, out)
    render.print_report(res)
    render.print_flash_sale(res)
    charts_dir, drawn = charts_for(res, out, docs, charts_dir, chart_python)
    render.print_findings(res["summary"])
    if docs:
        # links relative to the docs page
        rel = os.path.relpath(charts_dir, os.path.dirname(os.path.abspath(docs)))
        render.update_docs(docs, render.docs_section(
            res, [(os.path.join(rel, n), a) for n, a in drawn or []]))
    return 1 if res["summary"]["problems"] else 0


def cmd_machine():
    print(json.dumps(measure.machine_record()))


def main(argv):
    cmd = argv[1] if len(argv) >= 2 else None
    if cmd == "machine":
        cmd_machine()
    elif cmd == "line":
        for line in render.record_line(measure.read_raw(argv[2])[-1]):
            print(line)
    elif cmd == "pglat":
        print(json.dumps(measure.pg_latencies(argv[2:])))
    elif cmd == "report":
        def opt(name):
            return argv[argv.index(name) + 1] if name in argv else None
        return cmd_report(argv[2], argv[3], opt("--docs"), opt("--charts"),
                          opt("--chart-python"))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
