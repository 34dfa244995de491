#!/usr/bin/env bash
# riptide-proxy's instructions per proxied connection (issue 12), counted by
# callgrind the same way run after run (TESTING.md "Measuring speed").
#
#   bench/e2e/proxy_callgrind.sh BUILD_DIR RUN_DIR [SMOKE]
#
# bench/e2e/proxy-cost runs CRR (64 B each way, 64 in flight, the client closes)
# from a client Stack through the proxy's Stack and ProxyWorker to an echoing
# backend Stack, in memory on a virtual clock; callgrind counts only
# proxy_step_measured() (the proxy's input, timers, relay poll and output) after
# the warm-up. Instructions per proxied connection = collected Ir / measured
# transactions. Both legs' TCP and the relay are in it; Ethernet, ARP, mbufs and
# the PMD are not (bench/e2e/callgrind.sh's server figure has them: compare with
# care). Writes RUN_DIR/proxy-callgrind.json and the top functions by self cost
# in RUN_DIR/proxy-callgrind.self.txt.
set -euo pipefail
B=$1
run=$2
smoke=${3:-0}
warmup=2000
count=20000
if [ "$smoke" = 1 ]; then
  warmup=100
  count=400
fi
mkdir -p "$run"
out="$run/proxy-callgrind.out"
"$B/bench/e2e/proxy-cost" --warmup "$warmup" --count "$count" >"$run/proxy-cost.log"
valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect='*proxy_step_measured*' \
  "$B/bench/e2e/proxy-cost" --warmup "$warmup" --count "$count" >"$run/proxy-callgrind.log" 2>&1 ||
  { tail -20 "$run/proxy-callgrind.log"; exit 1; }
callgrind_annotate --inclusive=no "$out" >"$run/proxy-callgrind.self.txt" 2>/dev/null
python3 - "$run" <<'PY'
import json, re, sys
run = sys.argv[1]
measured = int(re.search(r"^measured_transactions (\d+)", open(f"{run}/proxy-callgrind.log").read(), re.M)[1])
collected = int(re.search(r"Collected : (\d+)", open(f"{run}/proxy-callgrind.log").read())[1])
line = re.compile(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(.*)$")
top = []
for l in open(f"{run}/proxy-callgrind.self.txt"):
    m = line.match(l)
    if m and "PROGRAM TOTALS" not in m[3] and len(top) < 15:
        raw = m[3].replace("(anonymous namespace)", "{anon}")
        name = raw.split(":", 1)[-1].split("(")[0].strip() or raw.strip()[:80]
        top.append({"function": name, "per_connection": round(int(m[1].replace(",", "")) / measured)})
per = collected / measured if measured else 0
json.dump({"measured_transactions": measured, "instructions": collected, "per_proxied_connection": round(per),
           "top": top}, open(f"{run}/proxy-callgrind.json", "w"), indent=1)
print(f"   proxy: {per:,.0f} instructions per proxied CRR connection ({collected:,} over {measured:,})")
for t in top[:10]:
    print(f"     {t['per_connection']:>7,}  {t['function']}")
PY
