// TCP segments (RFC 9293 3.1) and options (RFC 9293 3.2, RFC 7323, RFC 2018):
// a checked view, a plain header value, and a writer whose option layout matches
// Linux's tcp_options_write() byte for byte.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "common/byte_order.hpp"
#include "common/ip_addr.hpp"
#include "common/result.hpp"
#include "common/seq_num.hpp"
#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"
#include "wire/parse_error.hpp"

namespace riptide::wire {

namespace tcp_flags {
inline constexpr std::uint8_t kFin = 0x01;
inline constexpr std::uint8_t kSyn = 0x02;
inline constexpr std::uint8_t kRst = 0x04;
inline constexpr std::uint8_t kPsh = 0x08;
inline constexpr std::uint8_t kAck = 0x10;
inline constexpr std::uint8_t kUrg = 0x20;
inline constexpr std::uint8_t kEce = 0x40;
inline constexpr std::uint8_t kCwr = 0x80;
}  // namespace tcp_flags

inline constexpr std::size_t kTcpMinHeaderLen = 20;
inline constexpr std::size_t kTcpMaxOptionsLen = 40;
inline constexpr std::size_t kTcpMaxHeaderLen = kTcpMinHeaderLen + kTcpMaxOptionsLen;
inline constexpr std::size_t kTcpMaxSackBlocks = 4;

// Option kinds (IANA "TCP Option Kind Numbers").
namespace tcp_option {
inline constexpr std::uint8_t kEol = 0;
inline constexpr std::uint8_t kNop = 1;
inline constexpr std::uint8_t kMss = 2;
inline constexpr std::uint8_t kWindowScale = 3;
inline constexpr std::uint8_t kSackPermitted = 4;
inline constexpr std::uint8_t kSack = 5;
inline constexpr std::uint8_t kTimestamps = 8;
}  // namespace tcp_option

struct SackBlock {
  SeqNum left{};   // first sequence number of the block
  SeqNum right{};  // sequence number just after the block
  constexpr bool operator==(const SackBlock&) const = default;
};

struct TcpTimestamps {
  std::uint32_t tsval = 0;
  std::uint32_t tsecr = 0;
  constexpr bool operator==(const TcpTimestamps&) const = default;
};

// The options of one segment, decoded. A duplicated option (legal only for NOP and
// unknown kinds, but seen in the wild) is not an error: the last one wins, for SACK
// too (its blocks replace the earlier ones).
struct TcpOptions {
  std::optional<std::uint16_t> mss{};
  std::optional<std::uint8_t> window_scale{};  // raw value as received (clamping to 14 is the TCP layer's job)
  bool sack_permitted = false;
  std::optional<TcpTimestamps> timestamps{};
  std::uint8_t sack_count = 0;  // valid entries in sack_blocks; unused entries stay {}
  std::array<SackBlock, kTcpMaxSackBlocks> sack_blocks{};
  std::uint8_t unknown_count = 0;  // options skipped by length (saturates at 255); never written

  constexpr bool operator==(const TcpOptions&) const = default;
};

// Decodes an option area (the bytes between the fixed header and the data).
// Rules: kind 0 (EOL) stops; kind 1 (NOP) is one byte; kinds 2 MSS (len 4),
// 3 WS (len 3), 4 SACK-permitted (len 2), 5 SACK (len 2+8n, n 1..4), 8 TS (len 10);
// any other kind is skipped by its length byte. Errors: OptionOverrun (length byte
// missing or option past the area), ZeroLengthOption (length 0 or 1),
// BadOptionLength (known kind, wrong length).
Result<TcpOptions, ParseError> parse_tcp_options(std::span<const std::byte> area) noexcept;

// The same decoder without its shortcuts for the common layouts (below): every
// area goes through the general walk. For tests, which check that both agree.
Result<TcpOptions, ParseError> parse_tcp_options_general(std::span<const std::byte> area) noexcept;

namespace detail {
// parse_tcp_options() into `o` (which starts default): false with `err` set on
// malformed options. Linux's SYN and SYN-ACK layouts are decoded without the walk.
bool decode_tcp_options(std::span<const std::byte> area, TcpOptions& o, ParseError& err) noexcept;
// NOP NOP TS(8,10): the first word of the timestamp-only option area.
inline constexpr std::uint32_t kNopNopTimestamps = 0x0101080a;
}  // namespace detail

// The receive path's parse, for callers that keep the fields in a structure of
// their own (tcp::Segment): checks the data offset as TcpView::parse does and
// decodes the options straight into `o` (which must start default), so nothing is
// copied after. Returns the header length, or 0 with `err` set (the errors of
// TcpView::parse). Inline, with the timestamp-only layout decoded here: every
// received segment's path.
inline std::size_t parse_tcp_header_into(std::span<const std::byte> segment, TcpOptions& o,
                                         ParseError& err) noexcept {
  if (segment.size() < kTcpMinHeaderLen) {
    err = ParseError::Truncated;
    return 0;
  }
  const std::byte* p = segment.data();
  const std::size_t header_len = (std::size_t{load_u8(p + 12)} >> 4) * 4;
  if (header_len < kTcpMinHeaderLen || header_len > segment.size()) {
    err = ParseError::BadDataOffset;
    return 0;
  }
  // RFC 7323 appendix A's layout for segments other than SYNs, which nearly every
  // segment after the handshake has: exactly NOP NOP TS. Decoded as Linux's
  // tcp_parse_aligned_timestamp() does, the general walk otherwise.
  if (header_len == kTcpMinHeaderLen + 12 && load_be32(p + kTcpMinHeaderLen) == detail::kNopNopTimestamps) {
    o.timestamps = TcpTimestamps{load_be32(p + 24), load_be32(p + 28)};
    return header_len;
  }
  if (header_len > kTcpMinHeaderLen &&
      !detail::decode_tcp_options(segment.subspan(kTcpMinHeaderLen, header_len - kTcpMinHeaderLen), o, err)) {
    return 0;
  }
  return header_len;
}

// Checksum over the IPv4 pseudo header and the whole segment (header, options,
// data); false for a segment longer than 65535 bytes, which IPv4 cannot carry.
// Inline: every received segment's path without checksum offload.
[[nodiscard]] inline bool tcp_checksum_valid(std::span<const std::byte> segment, Ipv4Addr src,
                                             Ipv4Addr dst) noexcept {
  if (segment.size() > 0xffff) return false;
  const std::uint32_t pseudo =
      pseudo_header_sum(src, dst, kIpProtoTcp, static_cast<std::uint16_t>(segment.size()));
  return checksum_fold(checksum_add(segment, pseudo)) == 0;
}
// Either family: an IPv6 pair uses the IPv6 pseudo header (RFC 8200 8.1).
[[nodiscard]] bool tcp_checksum_valid(std::span<const std::byte> segment, const IpAddr& src,
                                      const IpAddr& dst) noexcept;

class TcpView {
 public:
  // `segment` is the whole TCP segment (the IP payload): header, options, data.
  // Errors: Truncated (< 20 bytes), BadDataOffset (offset < 5 or header longer than
  // the segment), and the option errors of parse_tcp_options(). Options are decoded
  // once here. The checksum is not checked here: see checksum_valid().
  static Result<TcpView, ParseError> parse(std::span<const std::byte> segment) noexcept;

  [[nodiscard]] std::uint16_t src_port() const noexcept;
  [[nodiscard]] std::uint16_t dst_port() const noexcept;
  [[nodiscard]] SeqNum seq() const noexcept;
  [[nodiscard]] SeqNum ack() const noexcept;
  [[nodiscard]] std::size_t header_length() const noexcept { return header_len_; }
  [[nodiscard]] std::uint8_t flags() const noexcept;
  // Any of the bits in `flag` set.
  [[nodiscard]] bool has(std::uint8_t flag) const noexcept { return (flags() & flag) != 0; }
  [[nodiscard]] std::uint16_t window() const noexcept;  // unscaled, as on the wire
  [[nodiscard]] std::uint16_t checksum() const noexcept;
  [[nodiscard]] std::uint16_t urgent_pointer() const noexcept;
  [[nodiscard]] const TcpOptions& options() const noexcept { return options_; }
  // The raw option area (header_length() - 20 bytes).
  [[nodiscard]] std::span<const std::byte> option_bytes() const noexcept {
    return bytes_.subspan(kTcpMinHeaderLen, header_len_ - kTcpMinHeaderLen);
  }
  [[nodiscard]] std::span<const std::byte> payload() const noexcept {
    return bytes_.subspan(header_len_);
  }
  // The whole segment.
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return bytes_; }
  // Checksum over the IPv4 pseudo header and the whole segment. False for a
  // segment longer than 65535 bytes, which IPv4 cannot carry.
  [[nodiscard]] bool checksum_valid(Ipv4Addr src, Ipv4Addr dst) const noexcept;

 private:
  TcpView(std::span<const std::byte> b, std::size_t header_len) noexcept
      : bytes_(b), header_len_(header_len) {}
  std::span<const std::byte> bytes_;
  std::size_t header_len_;
  TcpOptions options_{};
};

struct TcpHeader {
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  SeqNum seq{};
  SeqNum ack{};
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  std::uint16_t urgent_pointer = 0;
  TcpOptions options{};

  constexpr bool operator==(const TcpHeader&) const = default;
};

// How many of o.sack_blocks write_tcp_header() emits: min(sack_count, 4), then
// fewer if the other options leave no room in 40 bytes (as Linux does; the first
// blocks are kept, RFC 2018 s4 puts the most recent first).
[[nodiscard]] std::size_t tcp_sack_blocks_written(const TcpOptions& o) noexcept;

// Bytes of options write_tcp_header() emits: a multiple of 4, at most 40.
[[nodiscard]] std::size_t tcp_options_length(const TcpOptions& o) noexcept;

// Writes the header and options with the checksum field 0. Option layout, as in
// Linux's tcp_options_write():
//   MSS(2,4)
//   TS with SACK-permitted: SACKOK(4,2) TS(8,10)   TS alone: NOP NOP TS(8,10)
//   SACK-permitted without TS: NOP NOP SACKOK(4,2)
//   WS: NOP WS(3,3)
//   SACK blocks: NOP NOP SACK(5,2+8n)
// Unknown options are never written. Returns the header length, or 0 (writing
// nothing) if out is too small.
std::size_t write_tcp_header(std::span<std::byte> out, const TcpHeader& h) noexcept;

// Computes and stores the checksum of `segment` (header + payload), given the
// IPv4 addresses of the pseudo header. Does nothing if segment is shorter than 20
// bytes or longer than 65535.
void finish_tcp_checksum(std::span<std::byte> segment, Ipv4Addr src, Ipv4Addr dst) noexcept;
// Either family (RFC 8200 8.1 for IPv6).
void finish_tcp_checksum(std::span<std::byte> segment, const IpAddr& src, const IpAddr& dst) noexcept;

}  // namespace riptide::wire
