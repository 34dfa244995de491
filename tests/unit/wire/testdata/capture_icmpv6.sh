#!/bin/bash
# Captures the golden ICMPv6/ND frames of tests/unit/wire/icmpv6_test.cpp: two
# namespaces joined by a veth (2001:db8::1 and ::2, documentation prefix), one pings
# the other; an AF_PACKET socket on the second end writes each ICMPv6 frame as hex
# to /tmp/wt6l-frames.txt. Needs root.
set -e
A=rtl6gA$$; B=rtl6gB$$
cleanup() { ip netns del $A 2>/dev/null || true; ip netns del $B 2>/dev/null || true; }
trap cleanup EXIT
ip netns add $A; ip netns add $B
ip -n $A link add va type veth peer name vb netns $B
ip -n $A link set va address 02:00:00:00:00:01; ip -n $B link set vb address 02:00:00:00:00:02
ip -n $A link set lo up; ip -n $B link set lo up
ip netns exec $A sysctl -qw net.ipv6.conf.va.accept_dad=0 net.ipv6.conf.va.router_solicitations=0
ip netns exec $B sysctl -qw net.ipv6.conf.vb.accept_dad=0 net.ipv6.conf.vb.router_solicitations=0
ip -n $A addr add 2001:db8::1/64 dev va nodad; ip -n $B addr add 2001:db8::2/64 dev vb nodad
ip -n $A link set va up; ip -n $B link set vb up
ip netns exec $B python3 - <<'PY' &
import socket, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86DD))
s.bind(("vb", 0)); s.settimeout(8)
end = time.time() + 8
out = open("/tmp/wt6l-frames.txt", "w")
n = 0
while time.time() < end and n < 6:
    try: f, addr = s.recvfrom(2000)
    except socket.timeout: break
    if f[20] != 58: continue
    out.write(("OUT " if addr[2] == socket.PACKET_OUTGOING else "IN ") + f.hex() + "\n"); out.flush(); n += 1
PY
sleep 1
ip netns exec $A ping -6 -c 1 -s 8 -W 3 2001:db8::2 || true
wait
