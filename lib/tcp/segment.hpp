// An inbound TCP segment as the state machine sees it: header fields already
// decoded by wire::TcpView, payload still in the packet buffer (zero copy).
#pragma once

#include <cstdint>
#include <span>

#include "common/seq_num.hpp"
#include "wire/tcp.hpp"

namespace riptide::tcp {

using namespace riptide::wire::tcp_flags;

struct Segment {
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
    return Segment{v.seq(), v.ack(), v.flags(), v.window(), v.options(), v.payload()};
  }
};

}  // namespace riptide::tcp
