# Test hosts in network namespaces (TESTING.md "Test hosts in network namespaces").
# Source this file, then:
#   testhosts_up           creates $RT_DUT (riptide's side, no kernel IP) and
#                          $RT_PEER (Linux, 198.18.0.2/24) joined by a veth
#                          ($RT_VETH_DUT <-> $RT_VETH_PEER); registers teardown
#   riptide_start PROGRAM [program args...]
#                          starts PROGRAM in $RT_DUT on the veth (af_xdp, falling
#                          back to af_packet) with config/riptide.toml; waits for
#                          "listening" (or $RT_READY_PATTERN); sets RT_PID, RT_PMD, RT_LOG
#   riptide_stop           SIGINT, wait, print the summary
#   peer CMD...            runs CMD in the Linux peer's namespace
#   testhosts_down         stops everything and deletes both namespaces (also run
#                          by the EXIT trap testhosts_up installs)
# Addresses are 198.18.0.1 (riptide) and 198.18.0.2 (Linux): nothing else is ever
# a target. Requires root.

RT_ROOT=${RT_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
RT_BUILD=${RT_BUILD:-build}  # the build directory the programs come from, under RT_ROOT
RT_ID=${RT_ID:-$$}
RT_DUT=rt-dut-$RT_ID
RT_PEER=rt-peer-$RT_ID
RT_VETH_DUT=rtd$RT_ID
RT_VETH_PEER=rtp$RT_ID
RT_PID=""
RT_PMD=""
RT_LOG=""

# wait_until SECONDS CMD...: runs CMD every 0.1 s until it succeeds (returns 0) or
# SECONDS have passed (returns 1). Deadlines are generous on purpose: on a loaded
# 2-core machine a program's start can take seconds (TESTING.md: wait for
# conditions, never a fixed sleep); a condition met early costs nothing.
wait_until() {
  local deadline=$(($(date +%s) + $1))
  shift
  while :; do
    "$@" && return 0
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}
# How long a program may take to start (print its ready line) or to stop.
RT_START_TIMEOUT=${RT_START_TIMEOUT:-60}
RT_STOP_TIMEOUT=${RT_STOP_TIMEOUT:-30}
_gone() { ! kill -0 "$1" 2>/dev/null; }

testhosts_down() {
  if [ -n "$RT_PID" ] && kill -0 "$RT_PID" 2>/dev/null; then
    kill -INT "$RT_PID" 2>/dev/null || true
    wait_until "$RT_STOP_TIMEOUT" _gone "$RT_PID" || true
    kill -KILL "$RT_PID" 2>/dev/null || true
  fi
  RT_PID=""
  ip netns del "$RT_DUT" 2>/dev/null || true
  ip netns del "$RT_PEER" 2>/dev/null || true
  if [ -n "$RT_LOG" ]; then rm -f "$RT_LOG"; fi
}

testhosts_up() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "testhosts: root is needed to create network namespaces" >&2
    return 1
  fi
  trap testhosts_down EXIT
  ip netns add "$RT_DUT"
  ip netns add "$RT_PEER"
  ip link add "$RT_VETH_DUT" type veth peer name "$RT_VETH_PEER"
  ip link set "$RT_VETH_DUT" netns "$RT_DUT"
  ip link set "$RT_VETH_PEER" netns "$RT_PEER"
  local ns
  for ns in "$RT_DUT" "$RT_PEER"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip netns exec "$ns" ip link set lo up
  done
  ip netns exec "$RT_DUT" ip link set "$RT_VETH_DUT" up
  ip netns exec "$RT_PEER" ip addr add 198.18.0.2/24 dev "$RT_VETH_PEER"
  ip netns exec "$RT_PEER" ip link set "$RT_VETH_PEER" up
  # Without this the kernel leaves TCP checksums to an offload a veth never does
  # (every SYN would arrive with a bad checksum), and GRO/TSO make super-segments.
  ip netns exec "$RT_PEER" ethtool -K "$RT_VETH_PEER" tx off gro off tso off >/dev/null
  ip netns exec "$RT_DUT" ethtool -K "$RT_VETH_DUT" tx off gro off tso off >/dev/null
  RT_LOG=$(mktemp /tmp/riptide-testhosts.XXXXXX)
}

peer() { ip netns exec "$RT_PEER" "$@"; }

_ready_or_gone() { grep -q "${RT_READY_PATTERN:-listening}" "$RT_LOG" || _gone "$RT_PID"; }

_riptide_try() {  # _riptide_try PMD PROGRAM ARGS...
  local pmd=$1 program=$2
  shift 2
  local mem=(--no-huge -m 512)
  if [ "$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)" -gt 256 ] 2>/dev/null; then mem=(-m 512); fi
  : >"$RT_LOG"
  ip netns exec "$RT_DUT" "$RT_ROOT/$RT_BUILD/apps/$program" "${mem[@]}" --no-pci --file-prefix="$RT_DUT" \
    --vdev="net_${pmd}0,iface=$RT_VETH_DUT" --log-level=error -- \
    --config "$RT_ROOT/config/riptide.toml" --set port.device="net_${pmd}0" "$@" >>"$RT_LOG" 2>&1 &
  RT_PID=$!
  # Ready once it prints its ready line; a PMD that cannot open the port makes the
  # program exit, which ends the wait at once (and the next PMD is tried).
  if wait_until "$RT_START_TIMEOUT" _ready_or_gone && grep -q "${RT_READY_PATTERN:-listening}" "$RT_LOG"; then
    RT_PMD=$pmd
    return 0
  fi
  kill -KILL "$RT_PID" 2>/dev/null || true
  wait "$RT_PID" 2>/dev/null || true
  RT_PID=""
  return 1
}

riptide_start() {
  _riptide_try af_xdp "$@" || _riptide_try af_packet "$@" || {
    echo "testhosts: $1 did not start:" >&2
    cat "$RT_LOG" >&2
    return 1
  }
}

riptide_stop() {
  if [ -n "$RT_PID" ]; then
    kill -INT "$RT_PID" 2>/dev/null || true
    wait "$RT_PID" 2>/dev/null || true
    RT_PID=""
  fi
}

riptide_stats() {  # riptide_stats: /riptide/stats as "name value" lines
  "$RT_ROOT/scripts/riptide-telemetry" "$RT_DUT" /riptide/stats |
    python3 -c 'import json,sys; d=json.load(sys.stdin)["/riptide/stats"]; [print(k, v) for k, v in d.items()]'
}
