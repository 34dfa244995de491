#!/usr/bin/python3
"""Malformed-packet burst for the interop suite (issue 5): broken Ethernet, ARP,
IPv4, ICMP and TCP frames sent with scapy's sendp() from the Linux peer's veth
straight at riptide (198.18.0.2 -> 198.18.0.1 only; nothing else is addressed).

  malformed.py IFACE RIPTIDE_MAC [COPIES]

Sends COPIES (default 5) of each kind below and prints, for the suite to compare
with /riptide/stats, one line per counter: "expect COUNTER N" (the increase the
burst must cause), after one line per kind: "kind NAME -> COUNTER".

Runs under the system python (/usr/bin/python3), which has python3-scapy.
"""
import struct
import sys

from scapy.all import ARP, ICMP, IP, Ether, Raw, conf, get_if_hwaddr, sendp  # noqa: F401
from scapy.utils import checksum

SRC_IP, DST_IP = "198.18.0.2", "198.18.0.1"


def ip_addr(a):
    return bytes(int(x) for x in a.split("."))


def tcp_segment(sport=40000, dport=80, flags=0x02, seq=1000, ack=0, doff=None, options=b"", payload=b"",
                csum=None):
    """Raw TCP bytes; the checksum is right unless csum is given."""
    if doff is None:
        doff = (20 + len(options)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, 65535, 0, 0)
    seg = hdr + options + payload
    if csum is None:
        pseudo = ip_addr(SRC_IP) + ip_addr(DST_IP) + struct.pack("!BBH", 0, 6, len(seg))
        csum = checksum(pseudo + seg)
    return seg[:16] + struct.pack("!H", csum) + seg[18:]


def ipv4(payload, proto=6, **kw):
    return IP(src=SRC_IP, dst=DST_IP, proto=proto, ttl=64, **kw) / Raw(payload)


def raw_ipv4(pkt, patch=None):
    """Serialises a scapy IP packet (checksums filled in), then overwrites bytes."""
    b = bytearray(bytes(pkt))
    for off, val in (patch or {}).items():
        b[off] = val
    return bytes(b)


def main():
    iface, dst_mac = sys.argv[1], sys.argv[2]
    copies = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    src_mac = get_if_hwaddr(iface)
    eth = Ether(src=src_mac, dst=dst_mac, type=0x0800)
    syn = tcp_segment()
    good_ip = raw_ipv4(ipv4(syn))

    def ip_frame(b):
        return eth / Raw(b)

    kinds = []  # (name, frame, counter)

    # Ethernet and ARP.
    kinds.append(("eth-unknown-ethertype", Ether(src=src_mac, dst=dst_mac, type=0x88B5) / Raw(b"\0" * 46),
                  "l2_drop_ethertype"))
    kinds.append(("arp-truncated", Ether(src=src_mac, dst=dst_mac, type=0x0806) / Raw(b"\x00\x01\x08\x00\x06"),
                  "arp_drop_malformed"))
    # IPv4 header. Every frame is shorter than the total length field claims or
    # broken within the first 20 bytes, so Ethernet padding cannot make it valid.
    kinds.append(("ip-truncated", ip_frame(good_ip[:12]), "ip_drop_malformed"))
    kinds.append(("ip-bad-version", ip_frame(raw_ipv4(ipv4(syn), {0: 0x65})), "ip_drop_malformed"))
    kinds.append(("ip-ihl-too-small", ip_frame(raw_ipv4(ipv4(syn), {0: 0x44})), "ip_drop_malformed"))
    kinds.append(("ip-ihl-past-end", ip_frame(raw_ipv4(ipv4(syn), {0: 0x4F})), "ip_drop_malformed"))
    kinds.append(("ip-total-length-past-end", ip_frame(raw_ipv4(ipv4(syn, len=1500))), "ip_drop_malformed"))
    kinds.append(("ip-total-length-below-header", ip_frame(raw_ipv4(ipv4(syn, len=12))), "ip_drop_malformed"))
    kinds.append(("ip-bad-header-checksum", ip_frame(raw_ipv4(ipv4(syn, chksum=0x1234))), "ip_drop_checksum"))
    kinds.append(("ip-fragment-first", ip_frame(raw_ipv4(ipv4(syn, flags="MF", id=7))), "ip_drop_fragment"))
    kinds.append(("ip-fragment-later", ip_frame(raw_ipv4(ipv4(b"\0" * 24, frag=185, id=7))), "ip_drop_fragment"))
    kinds.append(("ip-unknown-protocol", ip_frame(raw_ipv4(ipv4(b"\0" * 24, proto=253))), "ip_drop_protocol"))
    kinds.append(("icmp-bad-checksum",
                  ip_frame(raw_ipv4(IP(src=SRC_IP, dst=DST_IP) / ICMP(type=8, id=1, seq=1, chksum=0x4321) /
                                    Raw(b"riptide"))),
                  "ip_drop_protocol"))
    # TCP header and options (options are parsed before the checksum is checked).
    kinds.append(("tcp-truncated", ip_frame(raw_ipv4(ipv4(syn[:12]))), "tcp_drop_malformed"))
    kinds.append(("tcp-data-offset-too-small", ip_frame(raw_ipv4(ipv4(tcp_segment(doff=4)))),
                  "tcp_drop_malformed"))
    kinds.append(("tcp-data-offset-past-end", ip_frame(raw_ipv4(ipv4(tcp_segment(doff=15)))),
                  "tcp_drop_malformed"))
    kinds.append(("tcp-option-overrun", ip_frame(raw_ipv4(ipv4(tcp_segment(options=b"\x02\x28\x05\xb4")))),
                  "tcp_drop_malformed"))
    kinds.append(("tcp-option-zero-length", ip_frame(raw_ipv4(ipv4(tcp_segment(options=b"\x08\x00\x00\x00")))),
                  "tcp_drop_malformed"))
    kinds.append(("tcp-option-bad-length", ip_frame(raw_ipv4(ipv4(tcp_segment(options=b"\x02\x03\x05\x00")))),
                  "tcp_drop_malformed"))
    kinds.append(("tcp-bad-checksum", ip_frame(raw_ipv4(ipv4(tcp_segment(csum=0xBEEF)))), "tcp_drop_checksum"))
    kinds.append(("tcp-port-zero", ip_frame(raw_ipv4(ipv4(tcp_segment(dport=0)))), "tcp_drop_bad_port"))
    kinds.append(("tcp-syn-closed-port", ip_frame(raw_ipv4(ipv4(tcp_segment(sport=40001, dport=81)))),
                  "tcp_rst_no_connection"))

    expect = {}
    frames = []
    for name, frame, counter in kinds:
        print(f"kind {name} -> {counter}")
        expect[counter] = expect.get(counter, 0) + copies
        frames.extend([frame] * copies)
    conf.verb = 0
    sendp(frames, iface=iface, verbose=False)
    for counter, n in expect.items():
        print(f"expect {counter} {n}")
    print(f"sent {len(frames)} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
