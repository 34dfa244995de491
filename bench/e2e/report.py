#!/usr/bin/env python3
"""scripts/bench's report: reads one run's files, prints the table, writes the
results JSON (bench/results/<date>.json and latest.json) and the plots.

    report.py RUN_DIR OUT_DIR [--smoke]

RUN_DIR holds what scripts/bench collected:
  runs.tsv         workload, offered rate ("max" or a number), stack, JSON file[,
                   log, server log] (one line per load run; stack is
                   riptide-memif, riptide-ring or linux)
  micro.json       Google Benchmark's --benchmark_out (optional)
  callgrind.json   instructions per CRR transaction and the top functions (optional)
  env.json         machine and build facts

Every load JSON is in riptide-load's schema "riptide-load/1" (README
"riptide-load"), which linux-load writes too; normalise() takes what the table
and the plots need from it.

--smoke: checks that every run produced the fields with non-zero counts (exit 1
otherwise) and writes no results into OUT_DIR (only RUN_DIR/results.json): the
plumbing is tested, no figure is kept and no time is asserted.
"""
import json
import os
import re
import sys
import time

WORKLOADS = [
    ("crr", "CRR 64 B, 64 in flight"),
    ("crrsc", "CRR, server closes first"),
    ("rr1", "RR 64 B, 1 connection"),
    ("rr64", "RR 64 B, 64 connections"),
    ("stream", "STREAM, 1 connection"),
]


def normalise(d, log=None):
    """The common fields of a load run. riptide-load and linux-load both write the
    "riptide-load/1" schema (README "riptide-load")."""
    tot = d.get("totals", {})
    rates = d.get("rates", {})
    st = d.get("stack", {})
    lat = d.get("latency_us", {})
    err = d.get("errors", {})
    params = d.get("parameters", {})
    named = {k: int(err.get(k, 0) or 0) for k in ("refused", "reset", "timeout")}
    named["other"] = int(err.get("total", 0) or 0) - sum(named.values())
    # Both clients write the per-second progress ({t, connections_per_s,
    # transactions_per_s, active, errors}) and the latency histogram's non-empty
    # buckets ([upper_bound_us, count]) into the JSON.
    progress = [dict(p, rate=float(p.get("transactions_per_s", 0) or 0)) for p in d.get("progress") or []]
    return {
        "mode": d.get("mode"),
        "connections": int(params.get("concurrency", 0) or 0),
        "offered_rate": float(params.get("rate", 0) or 0),
        "duration_s": float(d.get("duration_s", 0) or 0),
        "transactions": int(tot.get("transactions", 0) or 0),
        "connections_opened": int(tot.get("connections", 0) or 0),
        "rate_per_s": float(rates.get("transactions_per_s", 0) or 0),
        "bytes": int(tot.get("bytes_sent", 0) or 0) + int(tot.get("bytes_received", 0) or 0),
        "gbit_per_s": max(float(rates.get("bits_per_s_in", 0) or 0), float(rates.get("bits_per_s_out", 0) or 0)) / 1e9,
        "latency_us": {k: float(lat.get(k, 0) or 0) for k in ("p50", "p90", "p99", "p999", "max")},
        "errors": named,
        "retransmissions": int(st.get("retransmitted_segments", 0) or 0),
        "drops": int(st.get("drops", 0) or 0),
        "packets": {"sent": int(st.get("packets_out", 0) or 0), "received": int(st.get("packets_in", 0) or 0)},
        "packets_per_connection": float(st.get("packets_per_connection", 0) or 0),
        "progress": progress,
        "latency_histogram_us": d.get("latency_histogram_us", []),
    }


SUMMARY = re.compile(r"^\s+([a-z0-9_]+)\s+(\d+)\s")


def add_server(r, d, server_log):
    """riptide's retransmissions and drops are per stack: riptide-load reports the
    client's; the server's come from its exit summary (riptide-echo/-httpd) or, for
    ring-bench, from its JSON. Linux's counters already cover both ends."""
    srv = {"retransmissions": 0, "drops": 0}
    if "server_stack" in d:
        srv = {"retransmissions": int(d["server_stack"].get("retransmitted_segments", 0)),
               "drops": int(d["server_stack"].get("drops", 0))}
    elif server_log and os.path.exists(server_log):
        for line in open(server_log, errors="replace"):
            m = SUMMARY.match(line)
            if not m:
                continue
            name, value = m[1], int(m[2])
            if name == "tcp_retransmit_segment":
                srv["retransmissions"] += value
            # As riptide-load's stack_figures(): counters that name a dropped
            # packet (tcp_time_wait_full is not one: a connection closed without
            # TIME-WAIT).
            elif "drop" in name or name in ("arp_pending_full", "arp_unresolved", "route_no_route",
                                            "tx_queue_full"):
                srv["drops"] += value
    else:
        return
    r["client_retransmissions"], r["client_drops"] = r["retransmissions"], r["drops"]
    r["server_retransmissions"], r["server_drops"] = srv["retransmissions"], srv["drops"]
    r["retransmissions"] += srv["retransmissions"]
    r["drops"] += srv["drops"]


def packets_per_connection(r, stack):
    """Packets on the wire per CRR connection: riptide-load counts the client's
    frames sent + received (every frame on the link is one or the other);
    linux-load, segments sent by both ends over loopback."""
    return r["packets_per_connection"]


def figure(r, workload):
    return r["gbit_per_s"] if workload == "stream" else r["rate_per_s"]


def fmt_rate(v, workload):
    if workload == "stream":
        return f"{v:.2f} Gbit/s"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M/s"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k/s"
    return f"{v:.0f}/s"


def load_runs(run_dir):
    runs = []
    path = os.path.join(run_dir, "runs.tsv")
    if not os.path.exists(path):
        return runs
    for line in open(path):
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 4:
            continue
        workload, offered, stack, f = parts[:4]
        log = os.path.join(run_dir, parts[4]) if len(parts) > 4 and parts[4] else None
        server_log = os.path.join(run_dir, parts[5]) if len(parts) > 5 and parts[5] else None
        entry = {"workload": workload, "offered": offered, "stack": stack, "file": f}
        try:
            d = json.load(open(os.path.join(run_dir, f)))
            entry["result"] = normalise(d, log)
            add_server(entry["result"], d, server_log)
        except (OSError, ValueError) as e:
            entry["error"] = f"{f}: {e}"
        runs.append(entry)
    return runs


def table(runs, callgrind):
    lines = []
    hdr = (f"{'workload':26} {'offered':>8} | {'riptide':>13} {'retx':>5} {'drops':>5} {'p99 us':>8} | "
           f"{'Linux':>13} {'retx':>5} {'drops':>5} {'p99 us':>8} | {'ratio':>6}")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    by_key = {}
    for e in runs:
        by_key[(e["workload"], e["offered"], e["stack"])] = e
    for workload, title in WORKLOADS:
        offers = []
        for e in runs:
            if e["workload"] == workload and e["offered"] not in offers:
                offers.append(e["offered"])
        for offered in offers:
            cells = []
            vals = {}
            for stack in ("riptide-memif", "linux"):
                e = by_key.get((workload, offered, stack))
                if e is None or "result" not in e:
                    cells.append(f"{'-':>13} {'':>5} {'':>5} {'':>8}")
                    continue
                r = e["result"]
                vals[stack] = figure(r, workload)
                cells.append(f"{fmt_rate(vals[stack], workload):>13} {r['retransmissions']:>5} {r['drops']:>5} "
                             f"{r['latency_us']['p99']:>8.0f}")
            ratio = (f"{vals['riptide-memif'] / vals['linux']:.2f}x"
                     if vals.get("linux") and "riptide-memif" in vals else "-")
            off = "max" if offered == "max" else fmt_rate(float(offered), workload)
            lines.append(f"{title:26} {off:>8} | {cells[0]} | {cells[1]} | {ratio:>6}")
    # riptide on rte_ring ports, in one process (no memif in between).
    ring = [e for e in runs if e["stack"] == "riptide-ring" and "result" in e]
    for e in ring:
        r = e["result"]
        title = dict(WORKLOADS).get(e["workload"], e["workload"])
        lines.append(f"riptide, two lcores on net_ring: {title}, {e['offered']}: "
                     f"{fmt_rate(figure(r, e['workload']), e['workload'])}, "
                     f"retx {r['retransmissions']}, drops {r['drops']}")
    # Packets per CRR connection, counted on the wire, for both closing orders.
    for workload, order in (("crr", "client closes first"), ("crrsc", "server closes first")):
        for stack in ("riptide-memif", "riptide-ring", "linux"):
            e = by_key.get((workload, "max", stack))
            if e and "result" in e:
                lines.append(f"packets per CRR connection, {order} ({stack}): "
                             f"{packets_per_connection(e['result'], stack):.2f}")
    if callgrind:
        lines.append(f"server instructions per CRR transaction (callgrind, {callgrind.get('link', '?')}): "
                     f"{callgrind.get('instructions_per_transaction', 0):.0f}")
        if callgrind.get("client_instructions_per_transaction"):
            lines.append(f"client instructions per CRR transaction (callgrind, riptide-load's engine): "
                         f"{callgrind['client_instructions_per_transaction']:.0f}")
        for f in callgrind.get("top", [])[:15]:
            lines.append(f"  {f['share'] * 100:5.1f}%  {f['instructions_per_transaction']:8.0f}  {f['function']}")
    return "\n".join(lines)


def smoke_check(runs, callgrind):
    problems = []
    if not runs:
        problems.append("no load runs recorded")
    for e in runs:
        name = f"{e['stack']} {e['workload']} {e['offered']}"
        if "error" in e:
            problems.append(e["error"])
            continue
        r = e["result"]
        for key in ("mode", "connections", "duration_s", "transactions", "rate_per_s", "bytes", "gbit_per_s"):
            if r.get(key) is None:
                problems.append(f"{name}: no {key}")
        if e["workload"] == "stream":
            if r["bytes"] <= 0:
                problems.append(f"{name}: no bytes moved")
        elif r["transactions"] <= 0 or r["rate_per_s"] <= 0:
            problems.append(f"{name}: no transactions")
        if e["workload"] != "stream" and r["latency_us"]["p50"] <= 0:
            problems.append(f"{name}: no latency percentiles")
        if r["packets"]["sent"] <= 0 or r["packets"]["received"] <= 0:
            problems.append(f"{name}: no packet counts")
        if not r["progress"] and r["duration_s"] >= 2.5:
            problems.append(f"{name}: no progress in the JSON")
        if e["workload"] != "stream" and sum(n for _, n in r["latency_histogram_us"]) != r["transactions"]:
            problems.append(f"{name}: the latency histogram does not add up to the transactions")
    if callgrind is not None and callgrind.get("instructions_per_transaction", 0) <= 0:
        problems.append("callgrind: no instruction count")
    return problems


def histogram_percentile(hist, q):
    """The q-th percentile (0-100) of a [[upper_bound_us, count], ...] histogram:
    the upper bound of the bucket holding the ceil(q% of n)-th value."""
    n = sum(c for _, c in hist)
    if n == 0:
        return 0.0
    rank = max(1, -(-q * n // 100))
    seen = 0
    for upper, c in hist:
        seen += c
        if seen >= rank:
            return upper
    return hist[-1][0]


def plot(runs, out_dir, stamp):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report: matplotlib missing (python3-matplotlib): no plots", file=sys.stderr)
        return []
    written = []
    styles = {"riptide-memif": ("riptide (memif, 2 processes)", "tab:blue"),
              "riptide-ring": ("riptide (net_ring, 1 process)", "tab:green"),
              "linux": ("Linux kernel (loopback)", "tab:red")}
    # CRR rate over time, flat out, from the per-second progress in the JSON.
    fig, ax = plt.subplots(figsize=(7, 4))
    for stack, (label, colour) in styles.items():
        for e in runs:
            if e["workload"] == "crr" and e["offered"] == "max" and e["stack"] == stack and "result" in e:
                pr = e["result"]["progress"]
                if pr:
                    ax.plot([p["t"] for p in pr], [max(p["rate"], 1) for p in pr], marker="o", label=label,
                            color=colour)
    ax.set_xlabel("seconds into the run")
    ax.set_ylabel("connections/s (CRR, 64 connections in flight)")
    ax.set_yscale("log")
    ax.set_title(f"CRR rate over time, flat out ({stamp})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    p = os.path.join(out_dir, "crr-rate.svg")
    fig.savefig(p)
    fig.savefig(p[:-4] + ".png", dpi=80)
    plt.close(fig)
    written.append(p)
    # Latency distribution, from each run's histogram: the percentiles of every run,
    # flat out (solid) and at the highest fixed offered rate (dashed).
    quantiles = [50, 90, 99, 99.9, 99.99, 100]
    workloads = [w for w, _ in WORKLOADS if w != "stream"]
    fig, axes = plt.subplots(1, len(workloads), figsize=(4 * len(workloads), 4), sharey=True)
    for ax, workload in zip(axes, workloads):
        for stack, (label, colour) in styles.items():
            cand = [e for e in runs if e["workload"] == workload and e["stack"] == stack and "result" in e]
            fixed = [e for e in cand if e["offered"] != "max"]
            picks = [(e, "-", "flat out") for e in cand if e["offered"] == "max"]
            if fixed:
                top = max(fixed, key=lambda e: float(e["offered"]))
                picks.append((top, "--", f"{fmt_rate(float(top['offered']), workload)} offered"))
            for e, ls, what in picks:
                hist = e["result"]["latency_histogram_us"]
                if not hist:
                    continue
                ys = [max(histogram_percentile(hist, q), 0.1) for q in quantiles]
                ax.plot(range(len(quantiles)), ys, ls, marker="o", color=colour, label=f"{label}, {what}")
        ax.set_xticks(range(len(quantiles)), [f"{q:g}" if q < 100 else "max" for q in quantiles])
        ax.set_xlabel("percentile")
        ax.set_yscale("log")
        ax.set_title(dict(WORKLOADS)[workload], fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    axes[0].set_ylabel("latency, us")
    fig.tight_layout()
    p = os.path.join(out_dir, "latency.svg")
    fig.savefig(p)
    fig.savefig(p[:-4] + ".png", dpi=80)
    plt.close(fig)
    written.append(p)
    return written


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    smoke = "--smoke" in sys.argv
    run_dir, out_dir = args[0], args[1]
    runs = load_runs(run_dir)
    callgrind = None
    cg = os.path.join(run_dir, "callgrind.json")
    if os.path.exists(cg):
        callgrind = json.load(open(cg))
    micro = None
    mp = os.path.join(run_dir, "micro.json")
    if os.path.exists(mp):
        try:
            micro = [{"name": b["name"], "real_time": b["real_time"], "cpu_time": b["cpu_time"],
                      "time_unit": b["time_unit"], "items_per_second": b.get("items_per_second")}
                     for b in json.load(open(mp))["benchmarks"]]
        except (OSError, ValueError, KeyError) as e:
            print(f"report: {mp}: {e}", file=sys.stderr)
    env = {}
    ep = os.path.join(run_dir, "env.json")
    if os.path.exists(ep):
        env = json.load(open(ep))
    stamp = time.strftime("%Y-%m-%d")
    results = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "smoke": smoke,
        "env": env,
        "micro": micro,
        "callgrind": callgrind,
        "runs": [{k: v for k, v in e.items() if k != "file"} for e in runs],
        "packets_per_crr": {order: {e["stack"]: packets_per_connection(e["result"], e["stack"]) for e in runs
                                    if e["workload"] == w and e["offered"] == "max" and "result" in e}
                            for w, order in (("crr", "client_closes"), ("crrsc", "server_closes"))},
    }
    print(table(runs, callgrind))
    if smoke:
        json.dump(results, open(os.path.join(run_dir, "results.json"), "w"), indent=1)
        # One check per load run and one for callgrind, counted in the closing line
        # scripts/test adds up.
        checks = [(f"{e['stack']} {e['workload']} {e['offered']}", smoke_check([e], None)) for e in runs]
        if callgrind is not None:
            checks.append(("callgrind", smoke_check([], callgrind)[1:]))
        if os.path.exists(mp):
            checks.append(("microbenchmarks", [] if micro else ["no benchmark results in micro.json"]))
        if not runs:
            checks.append(("runs", ["no load runs recorded"]))
        failed = 0
        for name, problems in checks:
            print(f"{'PASS' if not problems else 'FAIL'} bench smoke {name}" + (": " + "; ".join(problems) if problems else ""))
            failed += 1 if problems else 0
        print(f"{len(checks) - failed} passed, {failed} failed, 0 skipped")
        return 0 if failed == 0 else 1
    os.makedirs(out_dir, exist_ok=True)
    results["plots"] = [os.path.basename(p) for p in plot(runs, out_dir, stamp)]
    # Indented, but a histogram bucket [upper_us, count] stays on one line.
    text = re.sub(r"\[\n\s*([-\d.e+]+),\n\s*(\d+)\n\s*\]", r"[\1, \2]", json.dumps(results, indent=1))
    dated = os.path.join(out_dir, f"{time.strftime('%Y-%m-%d-%H%M')}.json")
    open(dated, "w").write(text)
    open(os.path.join(out_dir, "latest.json"), "w").write(text)
    open(os.path.join(out_dir, "latest.txt"), "w").write(table(runs, callgrind) + "\n")
    print(f"report: wrote {dated}, {out_dir}/latest.json, latest.txt and {', '.join(results['plots'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
