#!/usr/bin/env python3
"""scripts/soak's sampler and judge (runs in the root namespace, as root).

  soak_monitor.py --pid PID --prefix EAL_PREFIX --client-status FILE --minutes N
                  [--json OUT] [--warmup 3] [--drain-timeout 180]

Every minute: riptide's resident memory (VmRSS of PID), its CPU time, and from
its telemetry (/riptide/stats) the gauges (connection records, TIME-WAIT records,
send chunks, mbufs in use) and counters; the client's status file gives what the
clients did that minute. One line per minute. When the client writes "done", waits
(up to --drain-timeout s) for riptide's connection records to reach 0, takes the
final snapshot and checks:
  flat       after the first --warmup minutes, no gauge grows: the mean of the last
             third of the samples is at most the mean of the first third plus 10%
             and a fixed slack (RSS 2 MiB, records 64, TIME-WAIT 1000, chunks 256,
             mbufs 256), and RSS never rises more than 4 MiB above its value at the
             end of warm-up;
  balance    tcp_passive_open + tcp_active_open = tcp_conn_closed + records in use
             (after the drain: records 0, so opened = closed);
  integrity  every STREAM download's SHA-256 right, every CRR/RR body right
             (sha_mismatch = bad_body = bad_status = 0);
  errors     no resets, refusals or early closes (reset = refused = eof = other = 0);
             timeouts at most 0.1% of the operations of each kind (a timeout is
             the one failure impairment can explain: repeated losses of the same
             segment back its retransmission off past --timeout);
  alive      riptide still running and answering telemetry.
Exit status 0 when every check passed, 1 otherwise.
"""
import argparse
import importlib.machinery
import importlib.util
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_loader = importlib.machinery.SourceFileLoader("riptide_telemetry", os.path.join(HERE, "..", "riptide-telemetry"))
_spec = importlib.util.spec_from_loader("riptide_telemetry", _loader)
telemetry = importlib.util.module_from_spec(_spec)
_loader.exec_module(telemetry)

GAUGES = ("rss_kib", "gauge_conn_records", "gauge_time_wait_records", "gauge_send_chunks", "gauge_mbufs_in_use")
SLACK = {"rss_kib": 2048, "gauge_conn_records": 64, "gauge_time_wait_records": 1000, "gauge_send_chunks": 256,
         "gauge_mbufs_in_use": 256}
LIMITS = ("tcp_drop_no_memory", "tcp_syn_queue_full", "tcp_accept_queue_full", "tcp_time_wait_recycled",
          "tcp_time_wait_full", "tcp_send_no_chunks", "tx_no_mbuf", "tx_queue_full", "tcp_drop_out_of_order",
          "tcp_syn_cookie_pressure", "tcp_syn_shed_overload")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stats(prefix):
    return telemetry.query(prefix, "/riptide/stats")["/riptide/stats"]


def client(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def sample(a):
    s = stats(a.prefix)
    s["rss_kib"] = rss_kib(a.pid)
    s["cpu_s"] = cpu_s(a.pid)
    s["time"] = time.time()
    return s


def total_errors(c, kind):
    return sum(c["errors"][kind].values())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--client-status", required=True)
    ap.add_argument("--minutes", type=float, required=True)
    ap.add_argument("--json")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--drain-timeout", type=float, default=180)
    a = ap.parse_args()

    samples, clients = [], []
    first = sample(a)
    prev_s, prev_c = first, {"ok": {"crr": 0, "rr": 0, "stream": 0}, "errors": {}, "bytes": 0}
    start = time.monotonic()
    print(f"{'min':>3} {'rss_MiB':>8} {'cpu%':>5} {'records':>7} {'tw':>6} {'chunks':>6} {'mbufs':>5} "
          f"{'opened':>8} {'closed':>8} {'crr/s':>6} {'rr/s':>6} {'streams':>7} {'errs':>4} {'late':>5} "
          f"{'crr_p99':>8} limits", flush=True)
    minute = 0
    done = False
    while not done:
        minute += 1
        # Sample on the minute; the client's "done" ends the loop early.
        while time.monotonic() < start + 60 * minute:
            time.sleep(1)
            c = client(a.client_status)
            if c and c.get("done"):
                done = True
                break
            if not os.path.exists(f"/proc/{a.pid}"):
                print("soak: riptide exited", flush=True)
                return 1
        s = sample(a)
        c = client(a.client_status) or prev_c
        dt = s["time"] - prev_s["time"]
        if dt < 30 and done:
            break  # a part minute at the end: the final snapshot covers it
        opened = s["tcp_passive_open"] + s["tcp_active_open"]
        limits = " ".join(f"{k}+{s[k] - prev_s[k]}" for k in LIMITS if s.get(k, 0) != prev_s.get(k, 0))
        errs = sum(total_errors(c, k) for k in ("crr", "rr", "stream")) if c.get("errors") else 0
        p99 = c.get("latency_last_60s", {}).get("crr", {}).get("p99_ms", 0)
        print(f"{minute:>3} {s['rss_kib'] / 1024:>8.1f} {100 * (s['cpu_s'] - prev_s['cpu_s']) / dt:>5.1f} "
              f"{s['gauge_conn_records']:>7} {s['gauge_time_wait_records']:>6} {s['gauge_send_chunks']:>6} "
              f"{s['gauge_mbufs_in_use']:>5} {opened:>8} {s['tcp_conn_closed']:>8} "
              f"{(c['ok']['crr'] - prev_c['ok']['crr']) / dt:>6.1f} {(c['ok']['rr'] - prev_c['ok']['rr']) / dt:>6.1f} "
              f"{c['ok']['stream'] - prev_c['ok']['stream']:>7} {errs:>4} {c.get('late', 0):>5} {p99:>8.1f} {limits}",
              flush=True)
        samples.append({k: s.get(k, 0) for k in GAUGES + ("cpu_s", "time", "tcp_passive_open", "tcp_active_open",
                                                           "tcp_conn_closed") + LIMITS})
        clients.append(c)
        prev_s, prev_c = s, c

    # The clients are done: wait for every connection record to be released.
    deadline = time.monotonic() + a.drain_timeout
    while True:
        end = sample(a)
        if end["gauge_conn_records"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    c = client(a.client_status)
    checks = []
    if not c or not c.get("done"):
        print(f"soak: FAIL the client did not finish: {c}", flush=True)
        return 1

    def check(name, ok, text):
        checks.append({"check": name, "ok": bool(ok), "detail": text})
        print(f"soak: {'PASS' if ok else 'FAIL'} {name}: {text}", flush=True)

    # flat
    steady = samples[a.warmup:]
    if len(steady) >= 3:
        third = max(1, len(steady) // 3)
        for g in GAUGES:
            head = sum(x[g] for x in steady[:third]) / third
            tail = sum(x[g] for x in steady[-third:]) / third
            bound = head * 1.10 + SLACK[g]
            check(f"flat {g}", tail <= bound,
                  f"first third mean {head:.0f}, last third mean {tail:.0f} (bound {bound:.0f}); "
                  f"min {min(x[g] for x in steady)}, max {max(x[g] for x in steady)} over minutes {a.warmup + 1}..{len(samples)}")
        base = steady[0]["rss_kib"]
        peak = max(x["rss_kib"] for x in steady)
        check("rss peak", peak - base <= 4096, f"{base} KiB at minute {a.warmup + 1}, peak {peak} KiB (+{peak - base} KiB; bound +4096)")
    else:
        print(f"soak: SKIP flat: only {len(steady)} samples after {a.warmup} minutes of warm-up "
              f"(not judged below --minutes {a.warmup + 3})", flush=True)
    # balance
    opened = end["tcp_passive_open"] + end["tcp_active_open"]
    closed = end["tcp_conn_closed"]
    records = end["gauge_conn_records"]
    check("balance", opened == closed + records and records == 0,
          f"opened {opened} (passive {end['tcp_passive_open']}, active {end['tcp_active_open']}) = closed {closed} + "
          f"records {records}; TIME-WAIT records {end['gauge_time_wait_records']}")
    ops = {k: c["ok"][k] + total_errors(c, k) for k in ("crr", "rr", "stream")}
    e = {k: c["errors"][k] for k in ("crr", "rr", "stream")}
    # integrity
    bad = {k: e[k]["sha_mismatch"] + e[k]["bad_body"] + e[k]["bad_status"] for k in e}
    check("integrity", sum(bad.values()) == 0 and c["ok"]["stream"] > 0,
          f"{c['ok']['stream']} STREAM downloads SHA-256 right, {c['ok']['crr']} CRR and {c['ok']['rr']} RR bodies right; "
          f"wrong: {bad}")
    # errors
    hard = {k: e[k]["reset"] + e[k]["refused"] + e[k]["eof"] + e[k]["other"] for k in e}
    timeouts = {k: e[k]["timeout"] for k in e}
    tol = {k: ops[k] // 1000 for k in ops}
    check("errors", sum(hard.values()) == 0 and all(timeouts[k] <= tol[k] for k in ops),
          f"operations {ops}; resets/refusals/early closes {hard}; timeouts {timeouts} (allowed {tol}); "
          f"late CRR starts {c.get('late', 0)}; last error: {c.get('last_error') or 'none'}")
    check("alive", os.path.exists(f"/proc/{a.pid}"), f"riptide pid {a.pid} running, telemetry answering")
    lim = {k: end.get(k, 0) for k in LIMITS if end.get(k, 0)}
    print(f"soak: limits counted over the run: {lim or 'none'}; retransmission timeouts {end.get('tcp_retransmit_timeout', 0)}, "
          f"SACK recoveries {end.get('tcp_sack_recovery', 0)}, RFC 6191 reuses {end.get('tcp_time_wait_reused', 0)}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"samples": samples, "client": c, "end": {k: v for k, v in end.items()}, "checks": checks}, f, indent=1)
    failed = [x["check"] for x in checks if not x["ok"]]
    print(f"soak: {'FAILED: ' + ', '.join(failed) if failed else 'all checks passed'}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
