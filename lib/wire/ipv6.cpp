// IPv6 fixed header (RFC 8200 3):
//   0 version(4) traffic class(8) flow label(20)   4 payload length   6 next header
//   7 hop limit   8 source (16)   24 destination (16)   40 payload
#include "wire/ipv6.hpp"

#include <cstring>

#include "common/byte_order.hpp"

namespace riptide::wire {

Result<Ipv6View, ParseError> Ipv6View::parse(std::span<const std::byte> packet) noexcept {
  if (packet.size() < kIpv6HeaderLen) return Unexpected{ParseError::Truncated};
  if ((load_u8(packet.data()) >> 4) != 6) return Unexpected{ParseError::BadVersion};
  const std::uint16_t len = load_be16(packet.data() + 4);
  if (kIpv6HeaderLen + len > packet.size()) return Unexpected{ParseError::BadPayloadLength};
  // RFC 2675 3: payload length 0 with a Hop-by-Hop header is a jumbogram; riptide
  // takes no packet larger than a link's MTU, so it is refused here.
  if (len == 0 && load_u8(packet.data() + 6) == kIpv6NextHopByHop) {
    return Unexpected{ParseError::BadPayloadLength};
  }
  return Ipv6View{packet.first(kIpv6HeaderLen + len)};
}

std::uint8_t Ipv6View::traffic_class() const noexcept {
  return static_cast<std::uint8_t>(load_be16(bytes_.data()) >> 4);
}
std::uint32_t Ipv6View::flow_label() const noexcept { return load_be32(bytes_.data()) & 0xFFFFFu; }
std::uint16_t Ipv6View::payload_length() const noexcept { return load_be16(bytes_.data() + 4); }
std::uint8_t Ipv6View::next_header() const noexcept { return load_u8(bytes_.data() + 6); }
std::uint8_t Ipv6View::hop_limit() const noexcept { return load_u8(bytes_.data() + 7); }

std::size_t write_ipv6_header(std::span<std::byte> out, const Ipv6Header& h,
                              std::uint16_t payload_length) noexcept {
  if (out.size() < kIpv6HeaderLen) return 0;
  store_be32(out.data(), (6u << 28) | (std::uint32_t{h.traffic_class} << 20) | (h.flow_label & 0xFFFFFu));
  store_be16(out.data() + 4, payload_length);
  store_u8(out.data() + 6, h.next_header);
  store_u8(out.data() + 7, h.hop_limit);
  std::memcpy(out.data() + 8, h.src.bytes.data(), 16);
  std::memcpy(out.data() + 24, h.dst.bytes.data(), 16);
  return kIpv6HeaderLen;
}

namespace {

using Verdict = Ipv6Walk::Verdict;

Ipv6Walk problem(std::uint8_t code, std::size_t pointer) noexcept {
  Ipv6Walk w;
  w.verdict = Verdict::ParameterProblem;
  w.code = code;
  w.pointer = static_cast<std::uint32_t>(pointer);
  return w;
}

Ipv6Walk verdict(Verdict v) noexcept {
  Ipv6Walk w;
  w.verdict = v;
  return w;
}

// RFC 8200 4.2: the TLV-encoded options of a Hop-by-Hop or Destination Options
// header at [start, end) of the packet. True when every option may be skipped;
// otherwise *out says what to do.
bool options_ok(std::span<const std::byte> pkt, std::size_t start, std::size_t end, bool dst_multicast,
                Ipv6Walk* out) noexcept {
  std::size_t i = start;
  while (i < end) {
    const std::uint8_t type = load_u8(pkt.data() + i);
    if (type == 0) {  // Pad1: one byte, no length
      ++i;
      continue;
    }
    if (i + 2 > end) {
      *out = verdict(Verdict::Malformed);
      return false;
    }
    const std::size_t len = load_u8(pkt.data() + i + 1);
    if (i + 2 + len > end) {
      *out = verdict(Verdict::Malformed);
      return false;
    }
    if (type != 1) {  // not PadN: an option riptide does not implement
      // RFC 8200 4.2: the action is in the two high-order bits of the type.
      switch (type >> 6) {
        case 0: break;  // 00: skip over this option
        case 1:         // 01: discard the packet
          *out = verdict(Verdict::Discard);
          return false;
        case 2:  // 10: discard, Parameter Problem code 2 pointing at the type
          *out = problem(2, i);
          return false;
        case 3:  // 11: the same, only if the destination was not multicast
          *out = dst_multicast ? verdict(Verdict::Discard) : problem(2, i);
          return false;
      }
    }
    i += 2 + len;
  }
  return true;
}

}  // namespace

Ipv6Walk walk_extension_headers(const Ipv6View& ip) noexcept {
  const std::span<const std::byte> pkt = ip.bytes();
  const bool dst_multicast = load_u8(pkt.data() + 24) == 0xff;
  std::uint8_t next = ip.next_header();
  std::size_t next_field = 6;  // where `next` was read: the pointer of a code-1 problem
  std::size_t off = kIpv6HeaderLen;
  for (;;) {
    switch (next) {
      case kIpv6NextHopByHop:
        // RFC 8200 4.1: only immediately after the IPv6 header.
        if (off != kIpv6HeaderLen) return problem(1, next_field);
        [[fallthrough]];
      case kIpv6NextDestOptions: {
        // RFC 8200 4.3 / 4.6: Next Header, Hdr Ext Len (8-octet units past the
        // first 8), options.
        if (off + 8 > pkt.size()) return verdict(Verdict::Malformed);
        const std::size_t len = (std::size_t{load_u8(pkt.data() + off + 1)} + 1) * 8;
        if (off + len > pkt.size()) return verdict(Verdict::Malformed);
        Ipv6Walk w;
        if (!options_ok(pkt, off + 2, off + len, dst_multicast, &w)) return w;
        next = load_u8(pkt.data() + off);
        next_field = off;
        off += len;
        break;
      }
      case kIpv6NextRouting: {
        // RFC 8200 4.4: Next Header, Hdr Ext Len, Routing Type, Segments Left.
        if (off + 8 > pkt.size()) return verdict(Verdict::Malformed);
        const std::size_t len = (std::size_t{load_u8(pkt.data() + off + 1)} + 1) * 8;
        if (off + len > pkt.size()) return verdict(Verdict::Malformed);
        // Segments Left 0: "ignore the Routing header and proceed". Otherwise the
        // type is unrecognized (riptide implements none): code 0 at Routing Type.
        if (load_u8(pkt.data() + off + 3) != 0) return problem(0, off + 2);
        next = load_u8(pkt.data() + off);
        next_field = off;
        off += len;
        break;
      }
      case kIpv6NextFragment: {
        // RFC 8200 4.5: Next Header, reserved, Fragment Offset (13 bits), Res, M;
        // Identification. 8 bytes.
        if (off + 8 > pkt.size()) return verdict(Verdict::Malformed);
        const std::uint16_t off_m = load_be16(pkt.data() + off + 2);
        // RFC 6946 4: an atomic fragment (offset 0, M 0) is the whole packet.
        if ((off_m & 0xFFF9u) != 0) return verdict(Verdict::Fragment);
        next = load_u8(pkt.data() + off);
        next_field = off;
        off += 8;
        break;
      }
      case kIpv6NextNone:
        return verdict(Verdict::NoNextHeader);  // RFC 8200 4.7
      default: {
        Ipv6Walk w;
        w.verdict = Verdict::Upper;
        w.upper_layer = next;
        w.offset = off;
        w.pointer = static_cast<std::uint32_t>(next_field);
        return w;
      }
    }
  }
}

}  // namespace riptide::wire
