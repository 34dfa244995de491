#!/usr/bin/env python3
"""A netem stand-in for kernels built without sch_netem (CONFIG_NET_SCH_NETEM is
not set on this project's machines, so `tc qdisc ... netem` fails with "Specified
qdisc kind is unknown").

  impair.py UPLINK DOWNLINK [--loss PCT] [--delay-ms MS] [--reorder PCT]
            [--duplicate PCT] [--seed N] [--both]

Bridges two interfaces in the peer namespace at layer 2 with AF_PACKET sockets:
UPLINK faces riptide (the suite's peer veth), DOWNLINK is one end of a veth pair
whose other end carries the Linux peer's 198.18.0.2. Frames from the Linux side
toward riptide get netem's treatment of `netem loss L delay D reorder R duplicate U`
on the peer veth's egress: each frame is lost with probability L; otherwise it is
delayed by D, except that with probability R it is sent at once (jumping the
delayed ones: netem's reordering); with probability U it is sent twice. Frames from
riptide are passed straight through, unless --both gives them the same treatment
(as a second netem on riptide's side would). The random stream is seeded, so a run is
repeatable. It forwards whatever arrives on the two interfaces of the suite's own
namespace and originates nothing. Prints counts on SIGTERM/SIGINT.
"""
import argparse
import heapq
import os
import random
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def open_raw(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    s.bind((ifname, 0))
    s.setblocking(False)
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("uplink")
    ap.add_argument("downlink")
    ap.add_argument("--loss", type=float, default=0.0)
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--reorder", type=float, default=0.0)
    ap.add_argument("--duplicate", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--both", action="store_true", help="impair frames from riptide too")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    up, down = open_raw(a.uplink), open_raw(a.downlink)
    delay = a.delay_ms / 1000.0
    pending = []  # (due, seq, socket, frame): frames waiting out the delay
    seq = 0
    n = {"to_riptide": 0, "from_riptide": 0, "lost": 0, "reordered": 0, "duplicated": 0}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    print("impair: bridging", a.uplink, "<->", a.downlink, flush=True)

    def send(sock, frame):
        try:
            sock.send(frame)
        except BlockingIOError:
            pass  # a full socket buffer drops, as a full qdisc would

    while not stop:
        timeout = 0.05
        if pending:
            timeout = max(0.0, min(timeout, pending[0][0] - time.monotonic()))
        try:
            ready, _, _ = select.select([up, down], [], [], timeout)
        except InterruptedError:
            continue
        for sock in ready:
            while True:
                try:
                    frame, addr = sock.recvfrom(65535)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue  # our own transmissions, seen by the tap
                if sock is up:
                    n["from_riptide"] += 1
                    out = down
                    if not a.both:
                        send(out, frame)
                        continue
                else:
                    n["to_riptide"] += 1
                    out = up
                if rng.random() * 100 < a.loss:
                    n["lost"] += 1
                    continue
                copies = 1
                if rng.random() * 100 < a.duplicate:
                    n["duplicated"] += 1
                    copies = 2
                for _ in range(copies):
                    if delay == 0 or rng.random() * 100 < a.reorder:
                        if delay:
                            n["reordered"] += 1
                        send(out, frame)
                    else:
                        seq += 1
                        heapq.heappush(pending, (time.monotonic() + delay, seq, out, frame))
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, out, frame = heapq.heappop(pending)
            send(out, frame)
    print("impair:", " ".join(f"{k} {v}" for k, v in n.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
