#!/usr/bin/env python3
"""The proxy benchmark's report (bench/e2e/proxy.sh, `scripts/bench --proxy`).

    proxy_report.py RUN_DIR OUT_DIR [--smoke]
    proxy_report.py --table RESULTS.json   (prints a kept run's table again)

Reads RUN_DIR/proxy (runs.tsv: target, workload, load JSON, CPU JSON, PMD; the
proxies' counters) and RUN_DIR/env.json, prints the table and writes
OUT_DIR/proxy-<date>.json, proxy-latest.json and proxy-latest.txt.

--smoke: checks that every run has its fields with non-zero counts (exit 1
otherwise), writes only RUN_DIR/proxy/results.json, keeps no figure and asserts no
time. Ends with "N passed, N failed, N skipped".
"""
import csv
import io
import json
import os
import sys
import time

TARGETS = [("riptide", "riptide-proxy"), ("haproxy", "HAProxy"), ("linux", "no proxy")]
WORKLOADS = [("crr", "CRR 64 B, 64 in flight"), ("stream", "STREAM, 1 connection")]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def one_run(d, cpu, target, workload, pmd):
    tot = d.get("totals", {})
    rates = d.get("rates", {})
    lat = d.get("latency_us", {})
    err = d.get("errors", {})
    st = d.get("stack", {})
    secs = float(d.get("duration_s", 0) or 0)
    conns = int(tot.get("connections", 0) or 0)
    sent = int(tot.get("bytes_sent", 0) or 0)
    r = {
        "target": target,
        "workload": workload,
        "pmd": pmd,
        "duration_s": secs,
        "transactions": int(tot.get("transactions", 0) or 0),
        "connections": conns,
        "connections_per_s": float(rates.get("connections_per_s", 0) or 0),
        "transactions_per_s": float(rates.get("transactions_per_s", 0) or 0),
        "bytes_sent": sent,
        "megabytes_per_s": sent / secs / 1e6 if secs > 0 else 0.0,
        "latency_us": {k: float(lat.get(k, 0) or 0) for k in ("p50", "p99", "max")},
        "errors": int(err.get("total", 0) or 0),
        "client_retransmitted_segments": int(st.get("retransmitted_segments", 0) or 0),
    }
    if cpu:
        r["cpu"] = cpu
        wall = cpu.get("wall_s") or 1.0
        r["proxy_cpu_percent"] = 100.0 * cpu["proxy_cpu_s"] / wall if target != "linux" else 0.0
        # The CPU of the three programs of the run (client, backend, proxy); the
        # kernel's network work (veths, bridge, TCP) is in it, charged to whichever of
        # them was running (this kernel has no IRQ time accounting). cpuN_busy is
        # the whole CPU's, other tenants of a shared machine included: a noise gauge.
        r["programs_cpu_s"] = cpu["proxy_cpu_s"] + cpu.get("client_cpu_s", 0) + cpu.get("backend_cpu_s", 0)
        r["cpu0_busy_percent"] = 100.0 * cpu["cpu0_busy_s"] / cpu["cpu0_total_s"] if cpu["cpu0_total_s"] else 0.0
        r["cpu1_busy_percent"] = 100.0 * cpu["cpu1_busy_s"] / cpu["cpu1_total_s"] if cpu["cpu1_total_s"] else 0.0
        if workload == "crr" and conns:
            r["proxy_cpu_us_per_connection"] = 1e6 * cpu["proxy_cpu_s"] / conns if target != "linux" else 0.0
            r["programs_cpu_us_per_connection"] = 1e6 * r["programs_cpu_s"] / conns
        if workload == "stream" and sent:
            r["proxy_cpu_s_per_gb"] = 1e9 * cpu["proxy_cpu_s"] / sent if target != "linux" else 0.0
    return r


def perf_split(path):
    """The proxy's sampled time by where it ran (perf report --sort dso): kernel
    share and the top objects, or None without a profile."""
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return None
    objs = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith("%"):
            objs.append((" ".join(parts[1:]), float(parts[0].rstrip("%"))))
    if not objs:
        return None
    kernel = sum(p for o, p in objs if "kernel" in o)
    return {"kernel_percent": kernel, "top": objs[:6]}


def riptide_counters(run):
    d = load(os.path.join(run, "riptide-proxy.counters.json")) or {}
    p = d.get("/riptide/proxy", {})
    out = {}
    for k in ("listener_0", "listener_1"):
        lst = p.get(k, {})
        out[k] = {f: lst.get(f) for f in ("accepted", "connected", "refused", "timeouts", "client_aborts",
                                            "backend_aborts", "bytes_to_backend", "bytes_to_client")}
    out["relay"] = p.get("relay", {})
    s = (load(os.path.join(run, "riptide-stats.json")) or {}).get("/riptide/stats", {})
    out["stats"] = {k: v for k, v in s.items() if v and ("retrans" in k or "drop" in k or "no_mbuf" in k)}
    return out


def haproxy_counters(run):
    try:
        text = open(os.path.join(run, "haproxy-stat.csv")).read().lstrip("# ")
    except OSError:
        return {}
    out = {}
    for row in csv.DictReader(io.StringIO(text)):
        if row.get("svname") in ("FRONTEND", "BACKEND"):
            key = f"{row['pxname']}_{row['svname'].lower()}"
            out[key] = {f: int(row.get(f) or 0) for f in ("stot", "bin", "bout", "econ", "eresp", "ereq")}
    return out


def table(res):
    lines = []
    env = res["env"]
    lines.append(f"riptide proxy benchmark {res['date']} ({env.get('cpu', '?')}, {env.get('cores', '?')} cores, "
                 f"kernel {env.get('kernel', '?')}, commit {env.get('commit', '?')}, {res.get('haproxy_version', '')})")
    lines.append("client linux-load (CPU 0) -> proxy (CPU 1) -> backend linux-server (CPU 0); veths + bridge; "
                 f"riptide-proxy on {res.get('riptide_pmd', '?')}")
    hdr = f"{'workload':24} {'target':14} {'conn/s':>9} {'MB/s':>8} {'p50 us':>8} {'p99 us':>8} {'errors':>6} {'retx':>5} " \
          f"{'proxy cpu%':>10} {'proxy us/conn':>13} {'all us/conn':>11} {'cpu0%':>6} {'cpu1%':>6}"
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for w, wname in WORKLOADS:
        for t, tname in TARGETS:
            r = next((x for x in res["runs"] if x["target"] == t and x["workload"] == w), None)
            if r is None:
                lines.append(f"{wname:24} {tname:14} (no result)")
                continue
            rate = f"{r['connections_per_s']:9.0f}" if w == "crr" else f"{'':9}"
            mbs = f"{r['megabytes_per_s']:8.1f}"
            pc = f"{r.get('proxy_cpu_percent', 0):10.0f}" if t != "linux" else f"{'-':>10}"
            pu = f"{r.get('proxy_cpu_us_per_connection', 0):13.1f}" if w == "crr" and t != "linux" else f"{'-':>13}"
            mu = f"{r.get('programs_cpu_us_per_connection', 0):11.1f}" if w == "crr" else f"{'-':>11}"
            lat = f"{r['latency_us']['p50']:8.0f} {r['latency_us']['p99']:8.0f}" if w == "crr" else f"{'-':>8} {'-':>8}"
            lines.append(f"{wname:24} {tname:14} {rate} {mbs} {lat} "
                         f"{r['errors']:6d} {r['client_retransmitted_segments']:5d} {pc} {pu} {mu} {r.get('cpu0_busy_percent', 0):6.0f} "
                         f"{r.get('cpu1_busy_percent', 0):6.0f}")
    profiled = [x for x in res["runs"] if x.get("proxy_profile")]
    if profiled:
        lines.append("")
        lines.append("where the proxy's time went (perf cpu-clock samples, the middle half of each run):")
        for x in profiled:
            top = ", ".join(f"{o} {p:.0f}%" for o, p in x["proxy_profile"]["top"][:4])
            lines.append(f"  {x['target']:8} {x['workload']:7} kernel {x['proxy_profile']['kernel_percent']:.0f}%: {top}")
    lines.append("")
    for k, v in res["ratios"].items():
        lines.append(f"{k}: {v:.2f}" if v is not None else f"{k}: n/a")
    lines.append("conn/s: CRR transactions (connections) per second at the client. MB/s: the client's bytes "
                 "sent per second. errors, retx: the client's failed transactions and retransmitted segments.")
    lines.append("proxy cpu%: the proxy process's utime+stime over the run (100 = one core); riptide-proxy polls, "
                 "so it takes all the core it is given at any load (below 100: the core was shared with other "
                 "tenants), and its us/conn is 1/rate, not work done.")
    lines.append("all us/conn: client + backend + proxy CPU per connection (kernel network work included). "
                 "cpu0%/cpu1%: whole-CPU busy, other tenants of this shared machine included.")
    return "\n".join(lines)


def main():
    if sys.argv[1] == "--table":
        print(table(load(sys.argv[2])))
        return 0
    run, outdir = sys.argv[1], sys.argv[2]
    smoke = "--smoke" in sys.argv
    pdir = os.path.join(run, "proxy")
    runs = []
    checks = []
    pmd = None
    try:
        rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(pdir, "runs.tsv")) if l.strip()]
    except OSError:
        rows = []
    for t, w, jf, cf, p in rows:
        d = load(os.path.join(pdir, jf))
        cpu = load(os.path.join(pdir, cf))
        problems = []
        if d is None:
            problems.append(f"no JSON {jf}")
        if cpu is None:
            problems.append(f"no CPU figures {cf}")
        if d is not None:
            r = one_run(d, cpu, t, w, p)
            prof = perf_split(os.path.join(pdir, jf.replace(".json", ".perf.txt")))
            if prof:
                r["proxy_profile"] = prof
            runs.append(r)
            if t == "riptide":
                pmd = p
            if w == "crr" and (r["transactions"] <= 0 or r["connections"] <= 0):
                problems.append(f"transactions {r['transactions']}, connections {r['connections']}")
            if w == "stream" and r["bytes_sent"] <= 0:
                problems.append("no bytes sent")
            if cpu is not None and t != "linux" and cpu.get("proxy_cpu_s", 0) <= 0:
                problems.append("proxy CPU time 0")
        checks.append((f"{t} {w}", problems))
    got = {(r["target"], r["workload"]) for r in runs}
    for t, _ in TARGETS:
        for w, _ in WORKLOADS:
            if (t, w) not in got and not any(n == f"{t} {w}" for n, _ in checks):
                checks.append((f"{t} {w}", ["not run"]))

    def ratio(w, field):
        a = next((r[field] for r in runs if r["target"] == "riptide" and r["workload"] == w), 0)
        b = next((r[field] for r in runs if r["target"] == "haproxy" and r["workload"] == w), 0)
        return a / b if b else None

    rc = riptide_counters(pdir)
    hc = haproxy_counters(pdir)
    if smoke:
        acc = (rc.get("listener_0") or {}).get("accepted") or 0
        checks.append(("riptide-proxy counters", [] if acc > 0 else ["listener_0 accepted 0"]))
        stot = (hc.get("crr_frontend") or {}).get("stot", 0)
        checks.append(("haproxy counters", [] if stot > 0 else ["crr frontend stot 0"]))
    env = load(os.path.join(run, "env.json")) or {}
    try:
        hv = open(os.path.join(pdir, "haproxy.version")).read().strip()
    except OSError:
        hv = ""
    res = {
        "schema": "riptide-proxy-bench/1",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "smoke": smoke,
        "env": env,
        "haproxy_version": hv,
        "riptide_pmd": pmd,
        "topology": "namespaces joined by veths to a Linux bridge (198.18.0.0/24); client linux-load and backend "
                    "linux-server on CPU 0; riptide-proxy (lcore 1) or haproxy (nbthread 1, taskset CPU 1); "
                    "one proxy running at a time",
        "runs": runs,
        "ratios": {
            "crr_connections_per_s_riptide_over_haproxy": ratio("crr", "connections_per_s"),
            "stream_megabytes_per_s_riptide_over_haproxy": ratio("stream", "megabytes_per_s"),
        },
        "riptide_proxy_counters": rc,
        "haproxy_counters": hc,
    }
    text = table(res)
    print(text)
    if smoke:
        with open(os.path.join(pdir, "results.json"), "w") as f:
            json.dump(res, f, indent=1)
        failed = 0
        for name, problems in checks:
            failed += bool(problems)
            print(f"{'PASS' if not problems else 'FAIL'} proxy bench smoke {name}" +
                  (": " + "; ".join(problems) if problems else ""))
        print(f"{len(checks) - failed} passed, {failed} failed, 0 skipped")
        return 1 if failed else 0
    os.makedirs(outdir, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d-%H%M", time.gmtime())
    for name in (f"proxy-{stamp}.json", "proxy-latest.json"):
        with open(os.path.join(outdir, name), "w") as f:
            json.dump(res, f, indent=1)
    with open(os.path.join(outdir, "proxy-latest.txt"), "w") as f:
        f.write(text + "\n")
    print(f"written: {outdir}/proxy-{stamp}.json, proxy-latest.json, proxy-latest.txt")
    bad = [n for n, p in checks if p]
    if bad:
        print("proxy bench: runs without figures: " + ", ".join(bad))
    return 0


if __name__ == "__main__":
    sys.exit(main())
