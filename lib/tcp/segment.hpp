// An inbound TCP segment as the state machine sees it: header fields already
// decoded by wire::TcpView, payload still in the packet buffer (zero copy).
#pragma once

#include <cstdint>
#include <span>

#include "common/byte_order.hpp"
#include "common/seq_num.hpp"
#include "wire/tcp.hpp"

namespace riptide::tcp {

using namespace riptide::wire::tcp_flags;

struct Segment {
  // Member by member (each from its initializer below), not as one 88-byte block:
  // GCC clears a block that size with `rep stos`, 11 stores a received segment
  // (callgrind, issue 11); the members take a few vector stores.
  Segment() noexcept {}  // not `= default`: that is the block clear

  SeqNum seq;
  SeqNum ack;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;  // as on the wire, unscaled
  wire::TcpOptions options;
  std::span<const std::byte> payload;

  [[nodiscard]] bool has(std::uint8_t f) const noexcept { return (flags & f) != 0; }
  // RFC 9293 3.4: SEG.LEN counts SYN and FIN.
  [[nodiscard]] std::uint32_t seg_len() const noexcept {
    return static_cast<std::uint32_t>(payload.size()) + (has(kSyn) ? 1u : 0u) +
           (has(kFin) ? 1u : 0u);
  }

  static Segment from(const wire::TcpView& v) noexcept {
    Segment s;
    s.seq = v.seq();
    s.ack = v.ack();
    s.flags = v.flags();
    s.window = v.window();
    s.options = v.options();
    s.payload = v.payload();
    return s;
  }

  // The receive path: parses a whole TCP segment (the IP payload) straight into
  // `out`, which must start default (options decoded in place, no view to copy
  // from). False, with `err` set, on what TcpView::parse rejects. The checksum is
  // not checked (wire::tcp_checksum_valid); the ports are bytes 0-3.
  static bool parse(std::span<const std::byte> bytes, Segment& out, wire::ParseError& err) noexcept {
    const std::size_t header_len = wire::parse_tcp_header_into(bytes, out.options, err);
    if (header_len == 0) return false;
    const std::byte* p = bytes.data();
    out.seq = SeqNum{load_be32(p + 4)};
    out.ack = SeqNum{load_be32(p + 8)};
    out.flags = load_u8(p + 13);
    out.window = load_be16(p + 14);
    out.payload = bytes.subspan(header_len);
    return true;
  }
};

}  // namespace riptide::tcp
