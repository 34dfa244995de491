#!/usr/bin/env bash
# `scripts/demo proxy`: riptide-proxy on DPDK, on a veth into a test namespace,
# relaying a Linux client's requests (curl) to a Linux backend (python's
# http.server); both Linux ends share the peer namespace, so one veth carries both
# legs of every proxied connection.
#
#   namespace rt-dut-N  (no kernel IP)  riptide-proxy, 198.18.0.1: :8080 -> backend,
#        | veth                         :3128 HTTP CONNECT (allowed: 198.18.0.2:9000)
#   namespace rt-peer-N 198.18.0.2/24   curl (client); http.server :9000 (backend)
#
# Prints what happened: curl through the proxy (a page, then 20 MiB checked by
# SHA-256), 200 requests one connection each, a CONNECT tunnel (curl -p) and a
# refused CONNECT destination, the proxy's /riptide/proxy counters from
# rte_telemetry, and its summary on exit. Torn down on exit, also on failure.
# Traffic stays between the two namespaces, on 198.18.0.0/15, bounded in time.
# RT_BUILD=DIR picks the build directory (default build).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
if [ "$(id -u)" -ne 0 ]; then
  echo "demo: run as root (it creates network namespaces)" >&2
  exit 1
fi
export RT_BUILD=${RT_BUILD:-build}
scripts/install-deps --quiet
[ -f "$RT_BUILD/build.ninja" ] || meson setup "$RT_BUILD" >/dev/null
ninja -C "$RT_BUILD" apps/riptide-proxy >/dev/null

source scripts/lib/testhosts.sh
web=$(mktemp -d /tmp/riptide-demo-proxy.XXXXXX)
web_pid=""
demo_down() {
  if [ -n "$web_pid" ]; then kill "$web_pid" 2>/dev/null || true; wait "$web_pid" 2>/dev/null || true; fi
  testhosts_down
  rm -rf "$web" "$web.http.log"
}
echo "== test hosts: $RT_DUT (riptide-proxy, 198.18.0.1) <-veth-> $RT_PEER (Linux client and backend, 198.18.0.2)"
testhosts_up
trap demo_down EXIT

echo "hello from the Linux backend behind riptide-proxy" >"$web/index.html"
head -c $((20 * 1024 * 1024)) /dev/urandom >"$web/blob"
ip netns exec "$RT_PEER" python3 -m http.server 9000 --bind 198.18.0.2 --directory "$web" >"$web.http.log" 2>&1 &
web_pid=$!
backend_up() { peer curl -s -o /dev/null -m 2 http://198.18.0.2:9000/; }
wait_until 30 backend_up || { echo "demo: the backend (http.server) did not start" >&2; cat "$web.http.log" >&2; exit 1; }
echo "== backend: python3 -m http.server on 198.18.0.2:9000"

riptide_start riptide-proxy --set proxy.listener.0.backends=198.18.0.2:9000 \
  --set proxy.listener.1.bind=198.18.0.1:3128 --set proxy.listener.1.mode=connect \
  --set proxy.listener.1.connect_allow=198.18.0.2:9000
log=$RT_LOG
echo "== riptide-proxy up on the $RT_PMD PMD:"
grep '^riptide-proxy: \(listener\|listening\)' "$log" | sed 's/^/   /'

echo
echo "== curl http://198.18.0.1:8080/ (relayed to 198.18.0.2:9000)"
peer curl -sS -m 10 -i http://198.18.0.1:8080/
echo
echo "== 20 MiB through the proxy, SHA-256 checked"
want=$(sha256sum <"$web/blob" | cut -d' ' -f1)
got=$(peer curl -sS -m 60 http://198.18.0.1:8080/blob | sha256sum | cut -d' ' -f1)
echo "   sent $want"
echo "   got  $got"
[ "$want" = "$got" ] || { echo "demo: the bytes differ" >&2; exit 1; }

echo
echo "== 200 requests, a new connection each (curl, sequential)"
ok=0
for _ in $(seq 200); do
  peer curl -s -o /dev/null -m 5 -w '%{http_code}\n' http://198.18.0.1:8080/ | grep -q 200 && ok=$((ok + 1))
done
echo "   $ok of 200 answered 200"

echo
echo "== HTTP CONNECT: curl -p -x http://198.18.0.1:3128 http://198.18.0.2:9000/"
peer curl -sS -m 10 -p -x http://198.18.0.1:3128 http://198.18.0.2:9000/
echo "== HTTP CONNECT to a destination not allowed (198.18.0.2:22): refused"
peer curl -sS -m 10 -o /dev/null -p -x http://198.18.0.1:3128 http://198.18.0.2:22/ 2>&1 | sed 's/^/   /' || true

echo
echo "== /riptide/proxy (rte_telemetry), non-zero entries"
scripts/riptide-telemetry "$RT_DUT" /riptide/proxy | python3 -c '
import json, sys
d = json.load(sys.stdin)["/riptide/proxy"]
for name, v in d.items():
    if isinstance(v, dict):
        items = [f"{k}={x}" for k, x in v.items() if x not in (0, "", None, False)]
        print(f"  {name}: " + " ".join(items))
    elif v:
        print(f"  {name}: {v}")'

echo
echo "== stopping riptide-proxy (SIGINT): its summary"
riptide_stop
grep '^riptide-proxy:' "$log" | sed -n '/listener [0-9]* .*accepted/,$p' | grep -v '^libxdp:'
echo
echo "demo: riptide-proxy relayed curl's requests from the Linux client to the Linux backend over a veth ($RT_PMD PMD)."
