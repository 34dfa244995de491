#!/usr/bin/env bash
# The server's cost per CRR transaction, in instructions (callgrind counts them the
# same way run after run, unlike time on a shared machine: TESTING.md).
#
#   bench/e2e/callgrind.sh BUILD_DIR RUN_DIR [SMOKE]
#
# ring-bench --lockstep runs riptide-load's engine and riptide-echo's handler in one
# thread on a net_ring pair, polling them in turn; valgrind counts only what runs
# inside server_poll_measured(), i.e. the server's whole poll loop (ring PMD rx/tx,
# mbuf alloc/free, Ethernet/ARP, IPv4, TCP, timers, EchoServer) after a warm-up.
# Instructions per transaction = collected Ir / transactions measured. The top 15
# functions by self cost come from callgrind_annotate. A second run counts the
# client's side the same way (client_poll_measured(): riptide-load's engine, its
# Stack and PMD). Writes RUN_DIR/callgrind.json.
#
# Why net_ring and not the memif pair: under valgrind the memif server stops
# delivering after the handshake's first packets (its tx ring fills; checked with
# riptide-echo + riptide-client), and the lockstep run leaves out the idle polls a
# server makes while a native client thinks, which would otherwise be counted.
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
out="$run/callgrind.out"
log="$run/callgrind.log"
valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect='*server_poll_measured*' \
  "$B/bench/e2e/ring-bench" --no-huge -m 512 --no-pci --log-level=error -l 0 --file-prefix "rb-cg-$$" -- \
  --lockstep --mode crr --concurrency 64 --count "$count" --warmup "$warmup" --quiet \
  --max-connections 1024 --max-time-wait 4096 \
  --json "$run/callgrind-ring.json" >"$log" 2>&1 || { tail -30 "$log"; exit 1; }
valgrind --tool=callgrind --callgrind-out-file="$out.client" --toggle-collect='*client_poll_measured*' \
  "$B/bench/e2e/ring-bench" --no-huge -m 512 --no-pci --log-level=error -l 0 --file-prefix "rb-cgc-$$" -- \
  --lockstep --mode crr --concurrency 64 --count "$count" --warmup "$warmup" --quiet \
  --max-connections 1024 --max-time-wait 4096 \
  --json "$run/callgrind-ring-client.json" >>"$log" 2>&1 || { tail -30 "$log"; exit 1; }
callgrind_annotate --inclusive=no "$out.client" >"$run/callgrind.client.self.txt" 2>/dev/null
callgrind_annotate --inclusive=no "$out" >"$run/callgrind.self.txt" 2>/dev/null
callgrind_annotate --inclusive=yes "$out" >"$run/callgrind.incl.txt" 2>/dev/null
python3 - "$run" "$count" <<'PY'
import json, re, sys
run, count = sys.argv[1], int(sys.argv[2])
ring = json.load(open(f"{run}/callgrind-ring.json"))
measured = ring["lockstep"]["measured_transactions"]
line = re.compile(r"^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(.*)$")
total = 0
top = []
for l in open(f"{run}/callgrind.self.txt"):
    m = line.match(l)
    if not m:
        continue
    ir = int(m[1].replace(",", ""))
    name = m[3].strip()
    if "PROGRAM TOTALS" in name:
        total = ir
        continue
    # "file:function [object]" -> "function [object basename]"
    obj = ""
    om = re.search(r"\s\[([^\]]+)\]$", name)
    if om:
        obj = om[1].rsplit("/", 1)[-1]
        name = name[: om.start()]
    fn = name.split(":", 1)[1] if ":" in name and not name.startswith("::") else name
    fn = re.sub(r"\(.*\)$", "", fn) if len(fn) > 120 else fn
    top.append({"function": fn, "object": obj, "instructions": ir})
    if len(top) == 15:
        break
per = total / measured if measured else 0
client_total = 0
for l in open(f"{run}/callgrind.client.self.txt"):
    m = line.match(l)
    if m and "PROGRAM TOTALS" in m[3]:
        client_total = int(m[1].replace(",", ""))
client_measured = json.load(open(f"{run}/callgrind-ring-client.json"))["lockstep"]["measured_transactions"]
client_per = client_total / client_measured if client_measured else 0
# Inclusive costs of the main stages (a function's own cost plus its callees').
stages = [("Interface::input", "receive: Ethernet/ARP, IPv4, TCP and the callbacks it runs"),
          ("StackEngine::tcp_input", "TCP input: flow lookup, listener, state machine, callbacks"),
          ("StackEngine::listen_input", "listener: SYN -> SYN-RECEIVED (ISN, SYN-ACK)"),
          ("Connection::on_segment", "the state machine on an existing connection"),
          ("Connection::output", "building segments to send"),
          ("EchoServer::on_data", "the application: echo the request"),
          ("EchoServer::on_peer_closed", "the application: close after the peer's FIN"),
          ("wire::checksum_add", "Internet checksums (no offload on net_ring)"),
          ("crypto_shorthash_siphash24", "SipHash (ISN, flow hashing)"),
          ("rte_pktmbuf_free", "mbuf frees")]
inclusive = []
incl_lines = open(f"{run}/callgrind.incl.txt").read().splitlines()
for pattern, what in stages:
    for l in incl_lines:
        m = line.match(l)
        if m and pattern in m[3]:  # the first (costliest) line naming it
            ir = int(m[1].replace(",", ""))
            inclusive.append({"function": pattern, "what": what, "instructions_per_transaction": ir / measured if measured else 0,
                              "share": ir / total if total else 0})
            break
for t in top:
    t["share"] = t["instructions"] / total if total else 0
    t["instructions_per_transaction"] = t["instructions"] / measured if measured else 0
res = {"link": "net_ring, one process, lockstep", "server": "riptide-echo handler (EchoServer)",
       "client": "riptide-load engine (LoadGenerator), not counted", "transactions": measured,
       "warmup_transactions": ring["lockstep"]["warmup_transactions"], "server_polls": ring["lockstep"]["server_polls"],
       "instructions": total, "instructions_per_transaction": per,
       "client_instructions": client_total, "client_transactions": client_measured,
       "client_instructions_per_transaction": client_per,
       "packets_per_transaction": (ring["server_stack"]["packets_in"] + ring["server_stack"]["packets_out"]) /
                                  max(ring["totals"]["connections"], 1),
       "top": top, "inclusive": inclusive}
json.dump(res, open(f"{run}/callgrind.json", "w"), indent=1)
print(f"   {per:.0f} instructions per CRR transaction on the server ({measured} transactions, "
      f"{total:,} Ir, {res['server_polls'] / max(measured, 1):.2f} server polls each)")
print(f"   {client_per:.0f} instructions per CRR transaction on the client (riptide-load's engine and stack, "
      f"{client_measured} transactions)")
print("   top functions, self cost: share, instructions per transaction, function")
for t in top:
    print(f"   {t['share'] * 100:5.1f}%  {t['instructions_per_transaction']:7.0f}  {t['function'][:100]}")
print("   stages, inclusive cost:")
for t in inclusive:
    print(f"   {t['share'] * 100:5.1f}%  {t['instructions_per_transaction']:7.0f}  {t['function']}: {t['what']}")
PY
