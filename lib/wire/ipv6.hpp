// IPv6 (RFC 8200): a checked view of the fixed header, a header writer, and the
// extension-header walk of RFC 8200 4 that finds the upper-layer header.
//
// All functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/ip_addr.hpp"
#include "common/result.hpp"
#include "wire/parse_error.hpp"

namespace riptide::wire {

inline constexpr std::size_t kIpv6HeaderLen = 40;
// RFC 8200 4.1 and IANA "Assigned Internet Protocol Numbers" (Next Header values).
inline constexpr std::uint8_t kIpv6NextHopByHop = 0;
inline constexpr std::uint8_t kIpv6NextRouting = 43;
inline constexpr std::uint8_t kIpv6NextFragment = 44;
inline constexpr std::uint8_t kIpv6NextIcmpv6 = 58;
inline constexpr std::uint8_t kIpv6NextNone = 59;
inline constexpr std::uint8_t kIpv6NextDestOptions = 60;
// RFC 8200 5: every link carries at least 1280-byte packets.
inline constexpr std::size_t kIpv6MinMtu = 1280;

class Ipv6View {
 public:
  // The buffer may be longer than 40 + payload length (Ethernet pads short frames);
  // the view is trimmed to it. Errors, checked in this order: Truncated (< 40 bytes),
  // BadVersion (!= 6), BadPayloadLength (40 + payload length > buffer, or a payload
  // length of 0 with a Hop-by-Hop header: a jumbogram, RFC 2675, not supported).
  static Result<Ipv6View, ParseError> parse(std::span<const std::byte> packet) noexcept;

  [[nodiscard]] std::uint8_t traffic_class() const noexcept;
  [[nodiscard]] std::uint32_t flow_label() const noexcept;
  [[nodiscard]] std::uint16_t payload_length() const noexcept;
  [[nodiscard]] std::uint8_t next_header() const noexcept;
  [[nodiscard]] std::uint8_t hop_limit() const noexcept;
  [[nodiscard]] IpAddr src() const noexcept { return IpAddr::from_bytes(bytes_.data() + 8); }
  [[nodiscard]] IpAddr dst() const noexcept { return IpAddr::from_bytes(bytes_.data() + 24); }
  // Bytes after the fixed header, up to the payload length (extension headers
  // included).
  [[nodiscard]] std::span<const std::byte> payload() const noexcept { return bytes_.subspan(kIpv6HeaderLen); }
  // Header and payload: exactly 40 + payload length bytes.
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return bytes_; }

 private:
  explicit Ipv6View(std::span<const std::byte> b) noexcept : bytes_(b) {}
  std::span<const std::byte> bytes_;
};

struct Ipv6Header {
  std::uint8_t traffic_class = 0;
  std::uint32_t flow_label = 0;  // 20 bits
  std::uint8_t next_header = 0;
  std::uint8_t hop_limit = 64;
  IpAddr src{};
  IpAddr dst{};

  constexpr bool operator==(const Ipv6Header&) const = default;
};

// Writes the 40-byte fixed header with payload length `payload_length`. Returns 40,
// or 0 if out is too small.
std::size_t write_ipv6_header(std::span<std::byte> out, const Ipv6Header& h,
                              std::uint16_t payload_length) noexcept;

// What the extension-header walk (RFC 8200 4) found.
struct Ipv6Walk {
  enum class Verdict : std::uint8_t {
    Upper,             // upper_layer/offset name the upper-layer header
    NoNextHeader,      // Next Header 59 (RFC 8200 4.7): nothing follows; drop silently
    Fragment,          // a fragment (not reassembled here): drop, counted
    Malformed,         // an extension header runs past the payload: drop, counted
    Discard,           // an option says discard silently (RFC 8200 4.2, action 01)
    ParameterProblem,  // drop and send ICMPv6 Parameter Problem (RFC 4443 3.4)
  };
  Verdict verdict = Verdict::Malformed;
  std::uint8_t upper_layer = 0;  // Upper: the Next Header value of the upper layer
  std::size_t offset = 0;        // Upper: its header's offset from the IPv6 header's start
  // ParameterProblem: RFC 4443 3.4's code (0 erroneous header field, 1 unrecognized
  // Next Header, 2 unrecognized IPv6 option) and pointer (offset of the problem from
  // the start of the IPv6 header).
  std::uint8_t code = 0;
  std::uint32_t pointer = 0;
};

// Walks the extension headers after the fixed header (RFC 8200 4):
// - Hop-by-Hop Options (4.3) only straight after the fixed header; anywhere else it
//   is an unrecognized Next Header (Parameter Problem code 1, as Linux answers).
// - Hop-by-Hop and Destination Options (4.3, 4.6): each option is checked by the
//   two high-order bits of its type (4.2): Pad1 and PadN are known; any other is
//   unknown (riptide implements no IPv6 option) and is skipped (00), discarded (01),
//   or discarded with Parameter Problem code 2 pointing at it (10; 11 likewise
//   unless the destination is multicast).
// - Routing (4.4): with Segments Left 0 it is ignored; otherwise its type is
//   unrecognized (riptide implements none; type 0 is deprecated by RFC 5095) and
//   the answer is Parameter Problem code 0 pointing at the Routing Type field.
// - Fragment (4.5): an atomic fragment (offset 0, M clear) is processed as a whole
//   packet (RFC 6946 4); any other fragment is Fragment (no reassembly).
// - Next Header 59: NoNextHeader (4.7).
// - anything else ends the walk as the upper layer (Upper); whether the upper
//   layer is one riptide speaks is the caller's question (RFC 8200 4: an
//   unrecognized one gets Parameter Problem code 1 pointing at its Next Header
//   field, whose offset is in pointer for Upper too).
// Extension headers may repeat and come in any order but Hop-by-Hop's (4.1).
[[nodiscard]] Ipv6Walk walk_extension_headers(const Ipv6View& ip) noexcept;

}  // namespace riptide::wire
