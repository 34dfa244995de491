#!/usr/bin/env bash
# The overload bench (issue 14; `scripts/bench --overload` runs it): does
# riptide-httpd hold its ceiling when offered more than it can serve?
#
#   bench/e2e/overload.sh BUILD_DIR RUN_DIR [DURATION] [MULTIPLIERS]
#
# Same machinery as scripts/bench's memif pair: riptide-httpd (--body-size 64,
# lcore 0, memif server) <- riptide-load (lcore 1, memif client, 16 client
# addresses), HTTP CRR with "Connection: close" (the server closes first, as
# scripts/bench's crrsc row). First the ceiling: flat out, 64 in flight. Then paced
# runs offering MULTIPLIERS (default "1 1.5 2 4") times that ceiling, with enough
# connections allowed in flight that the pacing, not the concurrency, sets the
# offered rate (50 ms worth, at least 256). Per run: offered rate, connects
# attempted/s, served transactions/s, served/ceiling, errors, the client's and the
# server's retransmissions and drops (the server's from its exit summary), p50/p99
# latency, the server's resident memory before and after. Then a SYN flood beside
# legitimate CRR: riptide-load paces CRR at a quarter of the ceiling and, on the
# same core (memif joins exactly two processes), sends SYNs from 65,536 spoofed
# sources at each of FLOOD_RATES (default "0 20000 50000 100000") packets/s
# (--flood syn --flood-beside-rate): legitimate success ratio and latency, the
# server's cookies, drops and resident memory before/after.
#
# OVERLOAD_SERVER_SETS="KEY=VALUE ...": configuration keys for riptide-httpd
# (--set each), e.g. "lcores.shed_when_behind=true".
#
# Writes RUN_DIR/overload.json and RUN_DIR/overload.txt (the table); figures, not
# assertions. Traffic: the memif pair only (a UNIX socket in RUN_DIR).
set -euo pipefail
B=$1
run=$2
duration=${3:-5}
mults=${4:-"1 1.5 2 4"}
mkdir -p "$run"
server_sets=()
for kv in ${OVERLOAD_SERVER_SETS:-}; do server_sets+=(--set "$kv"); done

eal=(--no-huge -m 512 --no-pci --log-level=error)
srv_addr=198.18.0.1
cli_addr=198.18.0.2
cli_last=198.18.0.17
port=80
# shellcheck source=bench/e2e/procs.sh
procs_name=overload
source "$(dirname "$0")/procs.sh"
pids=()
cleanup() {
  stop_all
  rm -rf "/var/run/dpdk/ov-srv-$$" "/var/run/dpdk/ov-cli-$$"  # the EAL runtime directories
}
trap cleanup EXIT

n=0
# one TAG RATE CONCURRENCY: a server, a client run, the server's summary.
one() {
  local tag=$1 rate=$2 conc=$3 sock="$run/ov-memif-$n.sock"
  shift 3  # the rest: more riptide-load flags
  n=$((n + 1))
  "$B/apps/riptide-httpd" "${eal[@]}" -l 0 --file-prefix "ov-srv-$$" \
    --vdev "net_memif0,role=server,socket=$sock" -- --set port.device=net_memif0 --set ip.address=$srv_addr \
    --port $port --body-size 64 "${server_sets[@]}" >"$run/$tag.server.log" 2>&1 &
  local spid=$!
  pids+=("$spid")
  wait_line "$run/$tag.server.log" listening 60
  local rss0
  rss0=$(awk '/^VmRSS:/ { print $2 }' "/proc/$spid/status")
  "$B/apps/riptide-load" "${eal[@]}" -l 1 --file-prefix "ov-cli-$$" \
    --vdev "net_memif0,role=client,socket=$sock" -- --set port.device=net_memif0 \
    --local-addrs $cli_addr-$cli_last --local-ports 1024-65535 --server $srv_addr:$port \
    --http --mode crr --closer server --concurrency "$conc" --rate "$rate" --duration "$duration" \
    --timeout-ms 3000 --quiet --json "$run/$tag.json" "$@" >"$run/$tag.log" 2>&1 || true
  local rss1
  rss1=$(awk '/^VmRSS:/ { print $2 }' "/proc/$spid/status" 2>/dev/null || echo 0)
  stop_pid "$spid"
  echo "$rss0 $rss1" >"$run/$tag.rss"
}

echo "== overload: the ceiling (flat out, 64 in flight), ${duration}s"
one ov-ceiling 0 64
ceiling=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["rates"]["transactions_per_s"]))' \
  "$run/ov-ceiling.json" 2>/dev/null || echo 0)
echo "   ceiling: $ceiling transactions/s"
[ "$ceiling" -gt 0 ] || { echo "overload: no ceiling measured:"; tail -20 "$run/ov-ceiling.log"; exit 1; }
tags="ov-ceiling:0:max"
for m in $mults; do
  rate=$(python3 -c "print(round($ceiling * $m))")
  conc=$(python3 -c "print(min(16384, max(256, round($rate * 0.05))))")
  tag="ov-x$m"
  echo "== offered ${m}x the ceiling: $rate/s (up to $conc in flight)"
  one "$tag" "$rate" "$conc"
  tags="$tags $tag:$rate:$m"
done

# A SYN flood beside legitimate CRR: riptide-load runs a paced CRR workload at a
# quarter of the ceiling and, on the same core, a SYN flood from 65,536 spoofed
# sources (198.19.0.0/16) at each of FLOOD_RATES packets/s (0: the baseline).
legit=$(python3 -c "print(round($ceiling * 0.25))")
ftags=""
for fr in ${FLOOD_RATES:-0 20000 50000 100000}; do
  tag="ov-flood-$fr"
  echo "== SYN flood at $fr/s beside CRR at $legit/s"
  if [ "$fr" = 0 ]; then
    one "$tag" "$legit" 256
  else
    one "$tag" "$legit" 256 --flood syn --flood-beside-rate "$fr" --flood-json "$run/$tag.flood.json"
  fi
  ftags="$ftags $tag:$legit:$fr"
done

python3 - "$run" "$ceiling" "$duration" "$ftags" $tags <<'PY'
import json, os, re, sys
run, ceiling, duration, ftags = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4].split()
SUMMARY = re.compile(r"^\s+([a-z0-9_]+)\s+(\d+)\s")
DROPS_EXTRA = ("arp_pending_full", "arp_unresolved", "route_no_route", "tx_queue_full")
rows = []
def server_summary(tag):
    srv = {}
    try:
        for line in open(os.path.join(run, tag + ".server.log"), errors="replace"):
            m = SUMMARY.match(line)
            if m:
                srv[m[1]] = int(m[2])
    except OSError:
        pass
    return srv

for spec in sys.argv[5:]:
    tag, rate, mult = spec.split(":")
    row = {"run": tag, "multiplier": mult, "offered_per_s": int(rate)}
    try:
        d = json.load(open(os.path.join(run, tag + ".json")))
    except (OSError, ValueError):
        row["error"] = "no JSON (see %s.log)" % tag
        rows.append(row)
        continue
    t, st, lat, err = d["totals"], d["stack"], d["latency_us"], d["errors"]
    secs = d["duration_s"] or duration
    row.update({
        "connects_per_s": round(t["connects"] / secs),
        "served_per_s": round(d["rates"]["transactions_per_s"]),
        "served_of_ceiling": round(d["rates"]["transactions_per_s"] / ceiling, 3) if ceiling else 0,
        "transactions": t["transactions"],
        "errors": err,
        "client_retransmitted": st["retransmitted_segments"],
        "client_drops": st["drops"],
        "p50_us": lat["p50"], "p99_us": lat["p99"], "max_us": lat["max"],
    })
    srv = server_summary(tag)
    row["server_retransmitted"] = srv.get("tcp_retransmit_segment", 0)
    row["server_drops"] = sum(v for k, v in srv.items() if "drop" in k or k in DROPS_EXTRA)
    row["server_drop_reasons"] = {k: v for k, v in srv.items() if ("drop" in k or k in DROPS_EXTRA) and v}
    row["server_cookies_sent"] = srv.get("tcp_syn_cookie_pressure", 0) + srv.get("tcp_cookie_sent", 0)
    row["server_time_wait_recycled"] = srv.get("tcp_time_wait_recycled", 0)
    row["server_syns_deferred"] = srv.get("rx_syn_deferred", 0)
    row["server_syns_shed"] = srv.get("tcp_syn_shed_overload", 0)
    try:
        rss0, rss1 = open(os.path.join(run, tag + ".rss")).read().split()
        row["server_rss_kib_before"], row["server_rss_kib_after"] = int(rss0), int(rss1)
    except (OSError, ValueError):
        pass
    rows.append(row)
frows = []
for spec in ftags:
    tag, legit, fr = spec.split(":")
    row = {"run": tag, "legit_offered_per_s": int(legit), "flood_offered_per_s": int(fr)}
    try:
        d = json.load(open(os.path.join(run, tag + ".json")))
    except (OSError, ValueError):
        row["error"] = "no JSON (see %s.log)" % tag
        frows.append(row)
        continue
    t, lat, err = d["totals"], d["latency_us"], d["errors"]
    started = t["transactions"] + err["total"]
    row.update({"legit_served_per_s": round(d["rates"]["transactions_per_s"]),
                "legit_transactions": t["transactions"], "legit_errors": err["total"],
                "legit_success": round(t["transactions"] / started, 4) if started else 0,
                "p50_us": lat["p50"], "p99_us": lat["p99"]})
    try:
        f = json.load(open(os.path.join(run, tag + ".flood.json")))
        row["flood_sent"] = f["sent"]["syn"]
        row["flood_sent_per_s"] = round(f["sent"]["syn"] / f["seconds"]) if f["seconds"] else 0
    except (OSError, ValueError):
        row["flood_sent"], row["flood_sent_per_s"] = 0, 0
    srv = server_summary(tag)
    row["server_syn_in"] = srv.get("tcp_in", 0)
    row["server_cookies_sent"] = srv.get("tcp_cookie_sent", 0)
    row["server_syn_queue_full"] = srv.get("tcp_syn_queue_full", 0)
    row["server_drops"] = sum(v for k, v in srv.items() if "drop" in k or k in DROPS_EXTRA)
    try:
        rss0, rss1 = open(os.path.join(run, tag + ".rss")).read().split()
        row["server_rss_kib_before"], row["server_rss_kib_after"] = int(rss0), int(rss1)
    except (OSError, ValueError):
        pass
    frows.append(row)
json.dump({"schema": "riptide-overload/1", "ceiling_per_s": ceiling, "duration_s": duration, "runs": rows,
           "syn_flood": frows},
          open(os.path.join(run, "overload.json"), "w"), indent=2)
hdr = ("offered", "offered/s", "connects/s", "served/s", "of ceiling", "errors", "retx c/s",
       "drops c/s", "cookies", "p50 us", "p99 us")
lines = ["riptide-httpd under riptide-load HTTP CRR (server closes first), memif, one lcore each; "
         f"ceiling {ceiling}/s; {duration:g} s per run", " | ".join(hdr)]
for r in rows:
    if "error" in r:
        lines.append(f"{r['run']}: {r['error']}")
        continue
    e = r["errors"]
    lines.append(" | ".join(str(x) for x in (
        "max" if r["multiplier"] == "max" else r["multiplier"] + "x",
        "-" if r["multiplier"] == "max" else r["offered_per_s"], r["connects_per_s"], r["served_per_s"],
        f"{r['served_of_ceiling'] * 100:.0f}%", e["total"],
        f"{r['client_retransmitted']}/{r['server_retransmitted']}", f"{r['client_drops']}/{r['server_drops']}",
        r["server_cookies_sent"], round(r["p50_us"]), round(r["p99_us"]))))
    if r["server_syns_deferred"] or r["server_syns_shed"]:
        lines.append(f"    server SYNs behind established segments (rx_syn_deferred) {r['server_syns_deferred']}, "
                     f"shed to cookies (tcp_syn_shed_overload) {r['server_syns_shed']}")
    if r["server_drop_reasons"]:
        lines.append("    server drops: " + ", ".join(f"{k} {v}" for k, v in r["server_drop_reasons"].items()))
    if e["total"]:
        lines.append("    errors: " + ", ".join(f"{k} {v}" for k, v in e.items() if v and k != "total"))
lines += ["", "SYN flood (spoofed, 198.19.0.0/16) beside legitimate CRR, same client core",
          "flood offered/s | flood sent/s | legit offered/s | legit served/s | success | errors | p50 us | "
          "p99 us | srv cookies | srv drops | srv RSS KiB before/after"]
for r in frows:
    if "error" in r:
        lines.append(f"{r['run']}: {r['error']}")
        continue
    lines.append(" | ".join(str(x) for x in (
        r["flood_offered_per_s"], r["flood_sent_per_s"], r["legit_offered_per_s"], r["legit_served_per_s"],
        f"{r['legit_success'] * 100:.2f}%", r["legit_errors"], round(r["p50_us"]), round(r["p99_us"]),
        r["server_cookies_sent"], r["server_drops"],
        f"{r.get('server_rss_kib_before', '?')}/{r.get('server_rss_kib_after', '?')}")))
text = "\n".join(lines)
open(os.path.join(run, "overload.txt"), "w").write(text + "\n")
print(text)
PY
