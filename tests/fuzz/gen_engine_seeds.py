#!/usr/bin/env python3
"""Writes the seed corpus for fuzz_engine (tests/fuzz/engine-corpus/).

Each seed is a step sequence in fuzz_engine.cpp's input format (docs/fuzzing.md),
after the shape of the tests/pkt scripts: passive and active opens, data both
ways, close sequences (active, passive, simultaneous), RSTs, zero windows,
keep-alives, loss on the two-stack link, SYN cookies. The encoder mirrors the
reader in fuzz_engine.cpp: change one, change the other.

Usage: tests/fuzz/gen_engine_seeds.py [OUT_DIR]   (default: tests/fuzz/engine-corpus)
"""
import os
import struct
import sys

# Step opcodes (op % 8).
PEER, APP, CLOCK, LINK, RAW = 0, 3, 5, 6, 7
# Segment templates (kind & 7).
T_SYN, T_SYNACK, T_ACK, T_PSH, T_FIN, T_RST, T_RSTACK, T_RAWFLAGS = range(8)
# Application calls ((op >> 1) % 16).
LISTEN, UNLISTEN, ACCEPT, CONNECT, SEND, SHUT_WR, CLOSE, ABORT, NODELAY, KEEPALIVE, \
    CONGESTION, BUFFERS, READ, READ2, REACT = 0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15


def u16(v):
    return struct.pack(">H", v & 0xFFFF)


def u32(v):
    return struct.pack(">I", v & 0xFFFFFFFF)


def config(a=0, b=0, c=0):
    """One stack's three configuration bytes (make_config)."""
    return bytes([a, b, c])


def peer(flow=0, stack=0, port_idx=0, peer_port_idx=0, new=False, isn=None, kind=T_ACK,
         flags=None, seq_mode=0, seq_arg=b"", ack_mode=0, ack_arg=b"", win_mode=0, win_arg=b"",
         payload_mode=0, payload_arg=b"", opts=0, opt_bytes=b""):
    """A segment from the scripted peer. flow: index of a known flow (when not new).
    New flows: stack, port_idx (80, 81, 443, 8080), peer_port_idx (1000..1003)."""
    out = bytes([PEER])
    if new or isn is not None:
        pick = 0x80 | (stack << 6) | (peer_port_idx << 2) | port_idx
        out += bytes([pick]) + u32(isn if isn is not None else 0x11110000)
    else:
        out += bytes([flow & 0x7F])
    out += bytes([(seq_mode << 3) | kind])
    if kind == T_RAWFLAGS:
        out += bytes([flags])
    out += seq_arg
    out += bytes([(payload_mode << 5) | (win_mode << 3) | ack_mode])
    out += ack_arg + win_arg + payload_arg
    out += bytes([opts]) + opt_bytes
    return out


def syn_opts(mss_idx=1, wscale=7, ts=True, sack=True):
    """MSS (index into 536, 1460, 88, ...), window scale, SACK-permitted, TS."""
    which = 1 | 2 | (4 if sack else 0) | (8 if ts else 0)
    b = bytes([mss_idx, wscale])
    if ts:
        b += bytes([1])
    return which, b


def ts_only():
    return 8, bytes([1])


def app(stack, call, arg=0, extra=b""):
    return bytes([APP, (call << 1) | stack, arg]) + extra


def clock_ms(ms):  # 0..63 ms
    return bytes([CLOCK, (ms << 2) | 0])


def clock_20ms(n):
    return bytes([CLOCK, 1, n])


def clock_s(s):
    return bytes([CLOCK, 2, s])


def clock_next():
    return bytes([CLOCK, 3])


def link(op, frm=0, x=0, y=0):  # 0 pump, 1 deliver oldest, 2 drop, 3 dup, 4 swap, 5 deliver x
    return bytes([LINK, (op << 1) | frm, x, y])


def pump():
    return link(0)


def send(stack, size_idx, arg=0):
    return app(stack, SEND, arg, bytes([size_idx]))


def read_all(stack, arg=0):
    return app(stack, READ, arg, bytes([0x80]))


def listen(stack, port_idx=0, backlog=0, cookies=None, auto_accept=True):
    arg = port_idx | (0 if auto_accept else 0x10) | (0x20 if cookies is not None else 0)
    extra = bytes([backlog])
    if cookies is not None:
        extra += bytes([cookies])
    return app(stack, LISTEN, arg, extra)


def connect_peer(stack, peer_port_idx=0):
    return app(stack, CONNECT, 0x10 | (peer_port_idx << 5))


def connect_other(stack, port_idx=0):
    return app(stack, CONNECT, port_idx << 5)


def timers_out():
    return clock_s(200) + clock_s(200) + clock_next() * 4


HDR = config(0, 0, 0) + config(0, 0, 0)
TS = ts_only()


def passive_open(stack=0, ts=True):
    which, ob = syn_opts(ts=ts)
    return (listen(stack) +
            peer(new=True, stack=stack, kind=T_SYN, opts=which, opt_bytes=ob, isn=0x1000) +
            peer(flow=0, kind=T_ACK, opts=TS[0], opt_bytes=TS[1]))


SEEDS = {}

# Passive open, data in, data out, the peer closes first (tests/pkt/close, half-close).
SEEDS["passive-data-close"] = HDR + passive_open() + \
    peer(kind=T_PSH, payload_mode=3, payload_arg=bytes([99]), opts=TS[0], opt_bytes=TS[1]) + \
    read_all(0) + send(0, 1) + \
    peer(kind=T_ACK, opts=TS[0], opt_bytes=TS[1]) + \
    peer(kind=T_FIN, opts=TS[0], opt_bytes=TS[1]) + \
    app(0, CLOSE) + peer(kind=T_ACK, opts=TS[0], opt_bytes=TS[1]) + timers_out()

# Passive open; we close first; the peer's FIN; TIME-WAIT runs out.
SEEDS["passive-active-close"] = HDR + passive_open() + send(0, 3) + app(0, CLOSE) + \
    peer(kind=T_ACK, opts=TS[0], opt_bytes=TS[1]) + \
    peer(kind=T_FIN, opts=TS[0], opt_bytes=TS[1]) + clock_s(30) + \
    peer(kind=T_FIN, seq_mode=3, seq_arg=bytes([0xFF]), opts=TS[0], opt_bytes=TS[1]) + \
    timers_out()

# Active open to the peer, data, close; FIN-WAIT-2 then TIME-WAIT.
which, ob = syn_opts()
SEEDS["active-open-close"] = HDR + connect_peer(0) + \
    peer(flow=0, kind=T_SYNACK, opts=which, opt_bytes=ob) + send(0, 2) + \
    peer(kind=T_ACK, opts=TS[0], opt_bytes=TS[1]) + app(0, CLOSE) + \
    peer(kind=T_ACK, opts=TS[0], opt_bytes=TS[1]) + clock_s(10) + \
    peer(kind=T_FIN, opts=TS[0], opt_bytes=TS[1]) + timers_out()

# Active open with no answer: SYN retransmissions until connect fails.
SEEDS["active-open-timeout"] = HDR + connect_peer(0) + clock_next() * 8 + timers_out()

# RST answers our SYN (refused).
SEEDS["active-open-refused"] = HDR + connect_peer(0) + peer(flow=0, kind=T_RSTACK) + timers_out()

# Simultaneous open: our SYN crosses the peer's SYN.
which, ob = syn_opts()
SEEDS["simultaneous-open"] = HDR + connect_peer(0) + \
    peer(flow=0, kind=T_SYN, opts=which, opt_bytes=ob) + \
    peer(flow=0, kind=T_SYNACK, opts=which, opt_bytes=ob) + send(0, 1) + \
    peer(kind=T_ACK, opts=TS[0], opt_bytes=TS[1]) + timers_out()

# RSTs in ESTABLISHED: out of window (ignored), in window not exact (challenge
# ACK), exact RCV.NXT (reset).
SEEDS["rst-established"] = HDR + passive_open() + \
    peer(kind=T_RST, seq_mode=4, seq_arg=u16(0x7000)) + \
    peer(kind=T_RST, seq_mode=3, seq_arg=bytes([10])) + \
    peer(kind=T_RST) + timers_out()

# SYN in ESTABLISHED (RFC 5961 4: challenge ACK), then data below the window.
which, ob = syn_opts()
SEEDS["syn-in-established"] = HDR + passive_open() + \
    peer(kind=T_SYN, seq_mode=3, seq_arg=bytes([5]), opts=which, opt_bytes=ob) + \
    peer(kind=T_PSH, seq_mode=3, seq_arg=bytes([0xF0]), payload_mode=3, payload_arg=bytes([40])) + \
    timers_out()

# Zero window from the peer: persist probes; then it opens.
SEEDS["zero-window"] = HDR + passive_open() + \
    peer(kind=T_ACK, win_mode=1, opts=TS[0], opt_bytes=TS[1]) + send(0, 5) + \
    clock_next() * 6 + peer(kind=T_ACK, opts=TS[0], opt_bytes=TS[1]) + \
    peer(kind=T_ACK, opts=TS[0], opt_bytes=TS[1]) + timers_out()

# Keep-alive on an idle connection with a silent peer.
SEEDS["keepalive"] = HDR + passive_open() + \
    app(0, KEEPALIVE, 0, bytes([5, 2, 3])) + clock_s(10) + clock_next() * 6 + timers_out()

# A large send to the peer; the peer SACKs around a hole, then ACKs everything.
sack = bytes([0,      # one block
              30]) + u16(3000)  # left = SND.MAX - 3000, right = left + 3000
SEEDS["sack-recovery"] = HDR + passive_open() + send(0, 6) + \
    peer(kind=T_ACK, ack_mode=6, ack_arg=u16(18000), opts=0x10 | 8, opt_bytes=bytes([1]) + sack) * 4 + \
    clock_next() * 3 + peer(kind=T_ACK, opts=TS[0], opt_bytes=TS[1]) + timers_out()

# Out-of-order data into our receive buffer: a hole, then the fill.
SEEDS["out-of-order"] = HDR + passive_open() + \
    peer(kind=T_PSH, seq_mode=4, seq_arg=u16(1000), payload_mode=4, payload_arg=u16(500)) + \
    peer(kind=T_PSH, seq_mode=4, seq_arg=u16(3000), payload_mode=4, payload_arg=u16(500)) + \
    peer(kind=T_PSH, payload_mode=4, payload_arg=u16(1000)) + read_all(0) + timers_out()

# SYN cookies: a listener that always answers with a cookie.
which, ob = syn_opts()
SEEDS["syn-cookie"] = HDR + listen(0, cookies=1) + \
    peer(new=True, kind=T_SYN, opts=which, opt_bytes=ob, isn=0x2000) + \
    peer(flow=0, kind=T_ACK, opts=TS[0], opt_bytes=TS[1]) + send(0, 1) + timers_out()

# Accept queue: a listener without auto-accept, two connections, accept one.
SEEDS["accept-queue"] = HDR + listen(0, backlog=1, auto_accept=False) + \
    peer(new=True, kind=T_SYN, isn=0x3000) + peer(flow=0, kind=T_ACK) + \
    peer(new=True, peer_port_idx=1, kind=T_SYN, isn=0x4000) + peer(flow=1, kind=T_ACK) + \
    app(0, ACCEPT) + app(0, UNLISTEN) + timers_out()

# Two stacks: B connects to A, data both ways, A closes, B closes.
SEEDS["two-stack-echo"] = HDR + listen(0) + connect_other(1) + pump() + send(1, 2) + pump() + \
    read_all(0) + send(0, 2) + pump() + app(0, CLOSE) + pump() + app(1, CLOSE) + pump() + timers_out()

# Two stacks: simultaneous close (both FINs cross: CLOSING on both sides).
SEEDS["two-stack-simultaneous-close"] = HDR + listen(0) + connect_other(1) + pump() + \
    app(0, CLOSE) + app(1, CLOSE) + pump() + timers_out()

# Two stacks: a bulk transfer with a dropped, a duplicated and a reordered packet.
SEEDS["two-stack-loss"] = HDR + listen(0) + connect_other(1) + pump() + send(1, 6) + \
    link(2, frm=1, x=1) + link(3, frm=1, x=2) + link(4, frm=1, x=0, y=3) + pump() + \
    read_all(0) + pump() + clock_next() * 3 + pump() + app(1, SHUT_WR) + pump() + \
    app(0, CLOSE) + pump() + timers_out()

# Two stacks: handlers that act inside callbacks (echo on data, close on accept).
SEEDS["two-stack-reentrant"] = HDR + app(0, REACT, 0, bytes([1, 0]) + u16(300)) + listen(0) + \
    connect_other(1) + pump() + send(1, 1) + pump() + app(1, REACT, 0, bytes([3, 0]) + u16(1)) + \
    send(0, 1) + pump() + timers_out()

# Small buffers, small MSS, delayed ACK, CUBIC, few chunks (config bytes).
SEEDS["two-stack-small"] = config(0x3A, 0x9D, 0x04) + config(0x2A, 0x81, 0x04) + listen(0) + \
    connect_other(1) + pump() + send(1, 6) + pump() + read_all(0) + pump() + clock_next() * 4 + \
    pump() + app(1, ABORT) + pump() + timers_out()

# Half-close: the peer's FIN, then we keep sending (CLOSE-WAIT), then close (LAST-ACK).
SEEDS["half-close"] = HDR + passive_open() + peer(kind=T_FIN, opts=TS[0], opt_bytes=TS[1]) + \
    send(0, 3) + peer(kind=T_ACK, opts=TS[0], opt_bytes=TS[1]) + app(0, CLOSE) + \
    clock_next() * 2 + peer(kind=T_ACK, opts=TS[0], opt_bytes=TS[1]) + timers_out()

# Raw bytes: a truncated IPv4 header, raw TCP bytes in a valid IPv4 header.
SEEDS["raw"] = HDR + listen(0) + bytes([RAW, 10]) + b"\x45\x00\x00\x28" + b"\x00" * 6 + \
    bytes([RAW | 0x20 | 0x40, 20]) + u16(1000) + u16(80) + u32(1) + u32(0) + bytes([0x50, 0x02]) + \
    u16(1024) + u16(0) + u16(0) + timers_out()


def inet_sum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xFFFF) + (t >> 16)
    return ~t & 0xFFFF


def raw_ip(proto, payload, flags_frag=0x4000, stack=0):
    """A whole IPv4 packet from the peer; the fuzzer sets the destination and fixes
    the header checksum (raw op bit 6)."""
    hdr = bytes([0x45, 0]) + u16(20 + len(payload)) + u16(7) + u16(flags_frag) + \
        bytes([64, proto]) + u16(0) + bytes([198, 18, 0, 3]) + bytes(4)
    pkt = hdr + payload
    return bytes([RAW | 0x40 | (stack << 3), len(pkt)]) + pkt


echo = bytes([8, 0]) + u16(0) + u16(1) + u16(2) + b"ping"
echo = echo[:2] + u16(inet_sum(echo)) + echo[4:]
# IP-level paths: an ICMP echo (answered), a fragment, an unknown protocol.
SEEDS["ip-icmp-fragment"] = HDR + raw_ip(1, echo) + raw_ip(1, echo, flags_frag=0x2000) + \
    raw_ip(17, b"\0" * 8) + raw_ip(1, echo, stack=1) + timers_out()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "engine-corpus")
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print(f"{len(SEEDS)} seeds in {out}")


if __name__ == "__main__":
    main()
