#!/usr/bin/env bash
# The proxy benchmark over memif (issue 12; `scripts/bench --proxy-memif` runs it):
#
#   riptide-load --memif--> riptide-proxy --memif--> riptide-echo / riptide-httpd
#   (client, lcore 0)       (two ports, lcore 1)     (backend, lcore 0)
#
#   bench/e2e/proxy_memif.sh BUILD_DIR RUN_DIR [DURATION] [SMOKE]
#
# riptide-proxy runs with two ports ([[ports]], docs/config.md "Several ports"): a
# memif server socket towards the client (198.18.0.1/24) and a memif client socket
# towards the backend (198.18.1.1/24). Beside it, the same client and backend
# joined by one memif without a proxy ("direct"), so the table says what the
# proxy costs ("direct": each on its own lcore; "shared": the backend on the
# client's lcore, as in the proxied run). Workloads as scripts/bench spells them: CRR (64-byte request, 64
# back, a new connection each, the client closes first; riptide-echo), and STREAM
# (one connection; riptide-httpd sends STREAM_BYTES, default 500 MB, to the
# client). Per run: transactions/s or MB/s, p50/p99 latency, errors, the client's
# retransmissions, the proxy's drops. Then proxied CRR at fixed offered rates
# (PROXY_MEMIF_RATES, default "500 1000 2000" connections/s; riptide-load --rate):
# served against offered, latency without the queueing of a flat-out run, and the
# retransmissions and drops at each (not in the smoke run).
#
# CAVEAT, printed with the table: three busy-polling processes on a 2-core machine
# (shared with others): the proxy has lcore 1 to itself only as far as the OS lets
# it, the client and the backend share lcore 0. Figures, not assertions.
#
# Writes RUN_DIR/proxy-memif.json and RUN_DIR/proxy-memif.txt. Traffic: the memif
# UNIX sockets in RUN_DIR only.
set -euo pipefail
B=$1
run=$2
duration=${3:-5}
smoke=${4:-0}
stream_bytes=${STREAM_BYTES:-500000000}
rates=${PROXY_MEMIF_RATES:-500 1000 2000}
[ "$smoke" = 1 ] && rates=""
[ "$smoke" = 1 ] && stream_bytes=20000000
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$run"

eal=(--no-huge -m 512 --no-pci --log-level=error)
# shellcheck source=bench/e2e/procs.sh
procs_name=proxy-memif
source "$(dirname "$0")/procs.sh"
pids=()
cleanup() {
  stop_all
  rm -rf "/var/run/dpdk/pm-cli-$$" "/var/run/dpdk/pm-prx-$$" "/var/run/dpdk/pm-srv-$$"
}
trap cleanup EXIT

# The proxy's configuration: the shipped file without its single-port [port] and
# [ip] sections, two [[ports]] on memif.
cfg="$run/proxy-memif.toml"
awk '/^\[port\]$|^\[ip\]$/ { skip = 1; next } /^\[/ { skip = 0 } !skip' "$root/config/riptide.toml" >"$cfg"
cat >>"$cfg" <<EOT

[[ports]]
name = "clients"
device = "net_memif0"
address = "198.18.0.1"
prefix_len = 24

[[ports]]
name = "servers"
device = "net_memif1"
address = "198.18.1.1"
prefix_len = 24
EOT

# WORKLOAD: crr, stream, or crr@R (CRR offered at R connections/s).
client_args() {
  case $1 in
    crr) echo "--mode crr --concurrency 64 --request-size 64 --response-size 64 --duration $duration" ;;
    crr@*) echo "--mode crr --concurrency 64 --request-size 64 --response-size 64 --duration $duration --rate ${1#crr@}" ;;
    stream) echo "--mode stream --stream receive --http --concurrency 1 --count 1" ;;
  esac
}
backend() {
  case $1 in
    crr*) echo "riptide-echo" ;;
    stream) echo "riptide-httpd --body-size $stream_bytes" ;;
  esac
}

n=0
# one WORKLOAD VIA (proxy|direct)
one() {
  local w=$1 via=$2 tag="pm-$1-$2" s1="$run/pm-$n-a.sock" s2="$run/pm-$n-b.sock"
  n=$((n + 1))
  local srv_addr=198.18.1.2 target=198.18.1.2:7000 prx=""
  # shellcheck disable=SC2046
  set -- $(backend "$w")
  if [ "$via" = proxy ]; then
    "$B/apps/$1" "${eal[@]}" -l 0 --file-prefix "pm-srv-$$" --vdev "net_memif0,role=server,socket=$s2" -- \
      --set port.device=net_memif0 --set ip.address=$srv_addr --port 7000 "${@:2}" >"$run/$tag.server.log" 2>&1 &
    pids+=($!)
    local spid=$!
    wait_line "$run/$tag.server.log" listening 60
    "$B/apps/riptide-proxy" "${eal[@]}" -l 1 --file-prefix "pm-prx-$$" \
      --vdev "net_memif0,role=server,socket=$s1" --vdev "net_memif1,role=client,socket=$s2" -- \
      --config "$cfg" --set proxy.listener.0.bind=198.18.0.1:8080 --set proxy.listener.0.backends=$target \
      >"$run/$tag.proxy.log" 2>&1 &
    pids+=($!)
    prx=$!
    wait_line "$run/$tag.proxy.log" listening 60
    target=198.18.0.1:8080
  else
    # No proxy: the backend on the client's memif, at the proxy's client-side
    # address; on lcore 1 ("direct"), or on lcore 0 beside the client as in the
    # proxied run ("shared": what sharing a core costs, without the proxy).
    srv_addr=198.18.0.1
    target=198.18.0.1:7000
    local lcore=1
    [ "$via" = shared ] && lcore=0
    "$B/apps/$1" "${eal[@]}" -l $lcore --file-prefix "pm-srv-$$" --vdev "net_memif0,role=server,socket=$s1" -- \
      --set port.device=net_memif0 --set ip.address=$srv_addr --port 7000 "${@:2}" >"$run/$tag.server.log" 2>&1 &
    pids+=($!)
    local spid=$!
    wait_line "$run/$tag.server.log" listening 60
  fi
  # shellcheck disable=SC2046
  "$B/apps/riptide-load" "${eal[@]}" -l 0 --file-prefix "pm-cli-$$" --vdev "net_memif0,role=client,socket=$s1" -- \
    --set port.device=net_memif0 --local-addrs 198.18.0.2-198.18.0.17 --server $target $(client_args "$w") \
    --timeout-ms 3000 --json "$run/$tag.json" >"$run/$tag.log" 2>&1 || true
  [ -n "$prx" ] && stop_pid "$prx"
  stop_pid "$spid"
  echo "   $w via $via: $(grep -m1 ' transactions (' "$run/$tag.log" | cut -c15-140)"
}

echo "== proxy over memif: riptide-load -> riptide-proxy -> riptide-echo/httpd, ${duration}s per CRR run"
for w in crr stream; do
  one "$w" proxy
  one "$w" direct
  one "$w" shared
done
for r in $rates; do
  one "crr@$r" proxy
done

python3 - "$run" "$smoke" $rates <<'PY'
import json, os, re, sys
run, smoke, rates = sys.argv[1], sys.argv[2] == "1", sys.argv[3:]
rows, out = [], {}
runs = [(w, via) for w in ("crr", "stream") for via in ("proxy", "direct", "shared")]
runs += [(f"crr@{r}", "proxy") for r in rates]
for w, via in runs:
    tag = f"pm-{w}-{via}"
    try:
        j = json.load(open(os.path.join(run, tag + ".json")))
    except (OSError, ValueError):
        rows.append((w, via, "FAILED (no JSON; see " + tag + ".log)", "", "", "", ""))
        out[tag] = None
        continue
    crr = w.startswith("crr")
    rate = j["rates"]["transactions_per_s"] if crr else j["rates"]["bits_per_s_in"] / 8e6
    lat = j["latency_us"]
    drops, by_name = "", {}
    plog = os.path.join(run, tag + ".proxy.log")
    if os.path.exists(plog):
        text = open(plog).read()
        # Lost or refused packets; not a neighbour's gratuitous ARP (arp_drop_not_ours).
        m = re.findall(r"^\s+(\S*drop\S*|tx_queue_full|route_no_route)\s+(\d+)", text, re.M)
        by_name = {k: int(v) for k, v in m if k != "arp_drop_not_ours"}
        drops = sum(by_name.values())
    out[tag] = {"rate": rate, "unit": "transactions/s" if crr else "MB/s", "p50_us": lat["p50"],
                "p99_us": lat["p99"], "errors": j["errors"]["total"],
                "client_retransmitted": j["stack"]["retransmitted_segments"], "proxy_drops": drops,
                "proxy_drops_by_counter": by_name if drops != "" else {}}
    if "@" in w:
        out[tag]["offered"] = int(w.split("@")[1])
    rows.append((w, via, f"{rate:,.0f} {'tx/s' if crr else 'MB/s'}", f"{lat['p50']:.0f}",
                 f"{lat['p99']:.0f}", str(j["errors"]["total"]), f"{j['stack']['retransmitted_segments']} / {drops}"))
lines = ["riptide-load -> riptide-proxy (two memif ports, one lcore) -> riptide-echo (CRR) / riptide-httpd (STREAM);",
         "'direct' is the same client and backend on one memif, no proxy, each on its own lcore; 'shared' the same",
         "with the backend on the client's lcore 0, as in the proxied run.",
         "CAVEAT: three busy-polling processes on a 2-core machine shared with other work: client and backend",
         "share lcore 0, the proxy has lcore 1; the figures are what this box gave, not the proxy's ceiling.",
         "crr@R: proxied CRR offered at R connections/s (riptide-load --rate R).",
         "",
         f"{'workload':<10}{'path':<8}{'rate':>19}{'p50 us':>9}{'p99 us':>9}{'errors':>8}  retrans (client) / drops (proxy)"]
for w, via, rate, p50, p99, err, rd in rows:
    lines.append(f"{w:<10}{via:<8}{rate:>19}{p50:>9}{p99:>9}{err:>8}  {rd}")
for w in ("crr", "stream"):
    p = out.get(f"pm-{w}-proxy")
    for via in ("direct", "shared"):
        d = out.get(f"pm-{w}-{via}")
        if p and d and d["rate"]:
            lines.append(f"{w}: proxied / {via} = {p['rate'] / d['rate']:.2f}")
    if p and p["proxy_drops_by_counter"]:
        lines.append(f"{w}: proxy drops by counter: " +
                     ", ".join(f"{k} {v}" for k, v in p["proxy_drops_by_counter"].items()))
for r in rates:
    p = out.get(f"pm-crr@{r}-proxy")
    if p:
        lines.append(f"crr@{r}: served {p['rate']:,.0f} of {int(r):,} offered ({100 * p['rate'] / int(r):.0f}%)")
text = "\n".join(lines) + "\n"
open(os.path.join(run, "proxy-memif.txt"), "w").write(text)
json.dump(out, open(os.path.join(run, "proxy-memif.json"), "w"), indent=1)
print(text)
if smoke:
    bad = [k for k, v in out.items() if not v or v["rate"] <= 0]
    print(f"{len(out) - len(bad)} passed, {len(bad)} failed, 0 skipped" + (f" ({', '.join(bad)})" if bad else ""))
    sys.exit(1 if bad else 0)
PY
