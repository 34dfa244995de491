#!/usr/bin/env bash
# The proxy benchmark (issue 12), run by `scripts/bench --proxy` (and, short, by
# `scripts/bench --smoke`): riptide-proxy beside HAProxy and beside no proxy at all,
# in the same run, with the same client, the same backend and the same workloads.
#
#   bench/e2e/proxy.sh BUILD_DIR RUN_DIR SMOKE(0|1) DURATION_S
#
# PROXY_BENCH_PERF=1 (scripts/bench --proxy --perf): also samples each proxy process
# with `perf record -e cpu-clock` for the middle half of each run and keeps the
# split of its time between the kernel and user space (.perf.txt beside the JSON).
#
# Topology: five network namespaces made here (removed on exit, also on failure),
# joined by veths to a Linux bridge; addresses only in 198.18.0.0/24, routed nowhere.
#
#   rpb-cli-N  198.18.0.2 + .16-.31  linux-load (the client), CPU 0 -+
#   rpb-srv-N  198.18.0.3            linux-server x2 (backend), CPU 0 |
#   rpb-rt-N   198.18.0.1 (DPDK)     riptide-proxy, lcore 1 (CPU 1)   +- veth - br0 in rpb-sw-N
#   rpb-hap-N  198.18.0.4            haproxy, nbthread 1, CPU 1      -+
#
# Targets: riptide (client -> 198.18.0.1 -> backend), haproxy (client -> 198.18.0.4
# -> backend) and linux (client -> 198.18.0.3 straight: no proxy). Each proxy has
# one veth into the bridge and carries both legs over it (riptide-proxy has one
# ethdev port), so both proxies see the same path. Only one proxy runs at a time
# (riptide-proxy polls its core flat out and would starve HAProxy).
#
# Workloads (linux-load, the repository's epoll client, one thread):
#   crr     connect, 64-byte request, 64-byte response, client closes; 64 in flight,
#           16 client addresses; backend: linux-server --request 64 --response 64
#   stream  one connection sending flat out through the proxy to a linux-server sink
#
# Written to RUN_DIR/proxy: one riptide-load/1 JSON per run (linux-load's), a
# .cpu.json beside it (the proxy process's utime+stime from /proc/PID/stat and each
# CPU's busy time from /proc/stat, read just before and after the client), the
# proxies' own counters, and runs.tsv; bench/e2e/proxy_report.py turns them into the
# table. Nothing is asserted about time.
#
# Time and fairness knobs, the same for both proxies: TIME-WAIT on the proxy's
# backend leg (the proxy relays the client's FIN, so it closes first there) is
# shortened, riptide by tcp.time_wait_ms=1000 and Linux by tcp_tw_reuse=1 (reuse
# after 1 s), or a proxy runs out of ports to one backend after ~28k connections.
set -euo pipefail

B=$1
out=$2/proxy
smoke=$3
duration=$4
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"

id=$$
ns_sw=rpb-sw-$id ns_cli=rpb-cli-$id ns_srv=rpb-srv-$id ns_rt=rpb-rt-$id ns_hap=rpb-hap-$id
cli=198.18.0.2 srv=198.18.0.3 rt=198.18.0.1 hap=198.18.0.4
src_first=198.18.0.16 src_count=16
crr_port=9000 sink_port=9001 front_crr=8080 front_stream=8081
prefix=rpb-$id  # DPDK file prefix (telemetry socket)

pids=()
stop_pid() {  # stop_pid PID [SIGNAL]: signal, wait up to 30 s, then KILL
  local p=$1 sig=${2:-INT} i
  kill -"$sig" "$p" 2>/dev/null || true
  for i in $(seq 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
cleanup() {
  local p n
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && stop_pid "$p" INT; done
  # Anything still inside the namespaces made here (started by this script) goes too,
  # or the namespace would outlive its deletion.
  for n in "$ns_cli" "$ns_srv" "$ns_rt" "$ns_hap" "$ns_sw"; do
    for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    ip netns del "$n" 2>/dev/null || true
  done
}
trap cleanup EXIT

# wait_until SECONDS CMD... (scripts/lib/testhosts.sh: conditions, never fixed sleeps)
source "$root/scripts/lib/testhosts.sh"
# in_ns NS CMD... (foreground only: a background `in_ns ... &` would make $! a
# subshell rather than the program, and signals would miss it)
in_ns() { local n=$1; shift; ip netns exec "$n" "$@"; }

# ---- topology ------------------------------------------------------------------
for n in "$ns_sw" "$ns_cli" "$ns_srv" "$ns_rt" "$ns_hap"; do
  ip netns add "$n"
  in_ns "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  in_ns "$n" ip link set lo up
done
in_ns "$ns_sw" ip link add br0 type bridge
in_ns "$ns_sw" ip link set br0 up
# Bridged frames skip iptables (if br_netfilter is loaded on this kernel, it would
# run the netfilter hooks on every frame of every target alike).
in_ns "$ns_sw" sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-arptables=0 \
  2>/dev/null || true
for x in cli srv rt hap; do
  var=ns_$x
  host=pb$id$x sw=pb${id}${x}b
  ip link add "$host" type veth peer name "$sw"
  ip link set "$host" netns "${!var}"
  ip link set "$sw" netns "$ns_sw"
  in_ns "$ns_sw" ip link set "$sw" master br0
  in_ns "$ns_sw" ip link set "$sw" up
  # TESTING.md: without tx off the kernel leaves TCP checksums to an offload a veth
  # never does; no GRO/TSO super-segments either.
  in_ns "$ns_sw" ethtool -K "$sw" tx off gro off tso off >/dev/null
  in_ns "${!var}" ethtool -K "$host" tx off gro off tso off >/dev/null
  in_ns "${!var}" ip link set "$host" up
done
in_ns "$ns_cli" ip addr add $cli/24 dev "pb${id}cli"
for i in $(seq 0 $((src_count - 1))); do in_ns "$ns_cli" ip addr add 198.18.0.$((16 + i))/24 dev "pb${id}cli"; done
in_ns "$ns_srv" ip addr add $srv/24 dev "pb${id}srv"
in_ns "$ns_hap" ip addr add $hap/24 dev "pb${id}hap"
in_ns "$ns_cli" sysctl -qw net.ipv4.tcp_tw_reuse=1
in_ns "$ns_hap" sysctl -qw net.ipv4.tcp_tw_reuse=1

# ---- backend -------------------------------------------------------------------
backend_pids=()
start_server() {  # start_server PORT ARGS...
  local port=$1 log=$out/backend-$1.log
  shift
  ip netns exec "$ns_srv" taskset -c 0 "$B/bench/linux/linux-server" --addr $srv --port "$port" "$@" >"$log" 2>&1 &
  pids+=($!)
  backend_pids+=($!)
  wait_until 30 grep -q listening "$log" || { echo "proxy bench: backend :$port did not start:"; cat "$log"; exit 1; }
}
start_server $crr_port --request 64 --response 64
start_server $sink_port --request 0

# ---- measurement ---------------------------------------------------------------
# cpu_snapshot PID: "proxy_ticks backend_ticks cpu0_busy cpu0_total cpu1_busy cpu1_total
# softirq_ticks" (clock ticks; utime+stime from /proc/PID/stat, the rest from /proc/stat)
cpu_snapshot() {
  local p=$1 t=0 b=0 q
  [ "$p" = 0 ] || t=$(awk '{print $14 + $15}' "/proc/$p/stat")
  for q in "${backend_pids[@]}"; do b=$((b + $(awk '{print $14 + $15}' "/proc/$q/stat"))); done
  echo "$t $b $(awk '/^cpu[01] / {busy = $2 + $3 + $4 + $7 + $8; printf "%d %d ", busy, busy + $5 + $6 + $9}
                     /^cpu / {sirq = $8} END {print sirq}' /proc/stat)"
}
# The shell's reaped children's user+sys seconds (bash `times`, second line): taken
# right around the client, the difference is the client's CPU.
# (`times` must run in this shell, not in a $(...) subshell, which has no children:
# run_load writes it to a file; children_cpu FILE reads the second line.)
children_cpu() {
  python3 -c 'import re, sys; print(sum(int(m) * 60 + float(s) for m, s in re.findall(r"(\d+)m([\d.]+)s", open(sys.argv[1]).readlines()[1])))' "$1"
}

runs=$out/runs.tsv
: >"$runs"
# run_load TARGET WORKLOAD ADDR PORT PROXY_PID PMD
run_load() {
  local target=$1 w=$2 addr=$3 port=$4 ppid=$5 pmd=$6 tag="$1-$2" args
  case $w in
    crr) args=(--mode crr --connections 64 --request 64 --response 64 --source "$src_first" --sources "$src_count") ;;
    stream) args=(--mode stream --connections 1) ;;
  esac
  local before after t0 t1 c0 c1
  local perf_pid=""
  if [ "${PROXY_BENCH_PERF:-0}" = 1 ] && [ "$ppid" != 0 ]; then
    # From a quarter of the run to three quarters: the steady state.
    (sleep "$(python3 -c "print($duration / 4)")" &&
      exec perf record -q -e cpu-clock -F 999 -o "$out/$tag.perf.data" -p "$ppid" -- \
        sleep "$(python3 -c "print($duration / 2)")") >"$out/$tag.perf.log" 2>&1 &
    perf_pid=$!
  fi
  before=$(cpu_snapshot "$ppid")
  t0=$(date +%s.%N)
  times >"$out/.times0"
  in_ns "$ns_cli" timeout -s INT $((duration + 60)) taskset -c 0 "$B/bench/linux/linux-load" "${args[@]}" --connect "$addr:$port" \
    --duration "$duration" --timeout-ms 5000 --json "$out/$tag.json" >"$out/$tag.log" 2>&1 || true
  times >"$out/.times1"
  t1=$(date +%s.%N)
  after=$(cpu_snapshot "$ppid")
  c0=$(children_cpu "$out/.times0")
  c1=$(children_cpu "$out/.times1")
  python3 - "$out/$tag.cpu.json" "$before" "$after" "$t0" "$t1" "$(getconf CLK_TCK)" "$c0" "$c1" <<'PY'
import json, sys
b = [int(x) for x in sys.argv[2].split()]
a = [int(x) for x in sys.argv[3].split()]
tck = float(sys.argv[6])
d = [(x - y) / tck for x, y in zip(a, b)]
json.dump({"wall_s": float(sys.argv[5]) - float(sys.argv[4]),
           "proxy_cpu_s": d[0], "backend_cpu_s": d[1],
           "client_cpu_s": float(sys.argv[8]) - float(sys.argv[7]),
           "cpu0_busy_s": d[2], "cpu0_total_s": d[3], "cpu1_busy_s": d[4], "cpu1_total_s": d[5],
           "softirq_s": d[6]}, open(sys.argv[1], "w"))
PY
  if [ -n "$perf_pid" ]; then
    wait "$perf_pid" || true
    perf report -i "$out/$tag.perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -v '^#' |
      grep -v '^$' >"$out/$tag.perf.txt" || true
    perf report -i "$out/$tag.perf.data" --no-children --sort dso,sym --stdio 2>/dev/null | grep -v '^#' |
      grep -v '^$' | head -40 >"$out/$tag.perf-symbols.txt" || true
    rm -f "$out/$tag.perf.data"
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$target" "$w" "$tag.json" "$tag.cpu.json" "$pmd" >>"$runs"
  echo "   $target $w: $(grep -m1 '^linux-load:' "$out/$tag.log" | cut -c13-150)"
}

# ---- riptide-proxy ----------------------------------------------------------------
rt_log=$out/riptide-proxy.log
rt_pid=0
rt_pmd=""
rt_ready_or_gone() { grep -q "listening on" "$rt_log" || ! kill -0 "$rt_pid" 2>/dev/null; }
start_riptide() {
  local pmd mem=(--no-huge -m 512)
  for pmd in af_xdp af_packet; do
    : >"$rt_log"
    ip netns exec "$ns_rt" "$B/apps/riptide-proxy" "${mem[@]}" --no-pci -l 1 --file-prefix=$prefix \
      --vdev="net_${pmd}0,iface=pb${id}rt" --log-level=error -- \
      --config "$root/config/riptide.toml" --set port.device="net_${pmd}0" --set ip.address=$rt \
      --set tcp.time_wait_ms=1000 \
      --set proxy.listener.0.bind=$rt:$front_crr --set proxy.listener.0.backends=$srv:$crr_port \
      --set proxy.listener.1.bind=$rt:$front_stream --set proxy.listener.1.backends=$srv:$sink_port \
      >>"$rt_log" 2>&1 &
    rt_pid=$!
    pids+=("$rt_pid")
    if wait_until 60 rt_ready_or_gone && grep -q "listening on" "$rt_log"; then
      rt_pmd=$pmd
      return 0
    fi
    stop_pid "$rt_pid" KILL
  done
  echo "proxy bench: riptide-proxy did not start:"
  cat "$rt_log"
  exit 1
}

[ "$smoke" = 1 ] && echo "   (smoke: the same runs, ${duration} s each; only the plumbing is checked)"
echo "== riptide-proxy (lcore 1), client and backend on CPU 0"
start_riptide
echo "   $(grep -m1 'listening on' "$rt_log") [$rt_pmd PMD]"
run_load riptide crr $rt $front_crr "$rt_pid" "$rt_pmd"
run_load riptide stream $rt $front_stream "$rt_pid" "$rt_pmd"
"$root/scripts/riptide-telemetry" "$prefix" /riptide/proxy >"$out/riptide-proxy.counters.json" 2>/dev/null || true
"$root/scripts/riptide-telemetry" "$prefix" /riptide/stats >"$out/riptide-stats.json" 2>/dev/null || true
stop_pid "$rt_pid" INT

# ---- HAProxy ---------------------------------------------------------------------
hap_sock=$out/haproxy.sock
cat >"$out/haproxy.cfg" <<EOF
# riptide's proxy benchmark: HAProxy in mode tcp, one thread (bench/e2e/proxy.sh)
global
  nbthread 1
  maxconn 8000
  stats socket $hap_sock mode 600 level admin
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend crr
  bind $hap:$front_crr
  default_backend crr
frontend stream
  bind $hap:$front_stream
  default_backend stream
backend crr
  server s0 $srv:$crr_port
backend stream
  server s0 $srv:$sink_port
EOF
hap_stat() {  # hap_stat COMMAND: HAProxy's stats socket
  python3 - "$hap_sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(3)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
sys.stdout.write(out.decode())
PY
}
hap_ready() { [ -S "$hap_sock" ] && in_ns "$ns_hap" ss -Hltn "sport = :$front_stream" | grep -q LISTEN; }
hap_ready_or_gone() { hap_ready || ! kill -0 "$hap_pid" 2>/dev/null; }
echo "== HAProxy $(haproxy -v | sed -n 1p | awk '{print $3}') (mode tcp, nbthread 1, CPU 1), client and backend on CPU 0"
ip netns exec "$ns_hap" taskset -c 1 haproxy -db -f "$out/haproxy.cfg" >"$out/haproxy.log" 2>&1 &
hap_pid=$!
pids+=("$hap_pid")
wait_until 60 hap_ready_or_gone && hap_ready || { echo "proxy bench: haproxy did not start:"; cat "$out/haproxy.log"; exit 1; }
run_load haproxy crr $hap $front_crr "$hap_pid" kernel
run_load haproxy stream $hap $front_stream "$hap_pid" kernel
hap_stat "show stat" >"$out/haproxy-stat.csv" || true
stop_pid "$hap_pid" TERM

# ---- no proxy ----------------------------------------------------------------------
echo "== no proxy: the client straight to the backend (both on CPU 0)"
run_load linux crr $srv $crr_port 0 kernel
run_load linux stream $srv $sink_port 0 kernel

for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && stop_pid "$p" INT; done
pids=()
haproxy -v | sed -n 1p >"$out/haproxy.version"
echo "   (proxy runs took $SECONDS s)"
