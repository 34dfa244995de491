// Ethernet II frames (IEEE 802.3 with an EtherType): a checked view and a writer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/byte_order.hpp"
#include "common/result.hpp"
#include "riptide/mac_addr.hpp"
#include "wire/parse_error.hpp"

namespace riptide::wire {

// MacAddr (and its to_string / parse) is public: riptide/mac_addr.hpp.

inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeArp = 0x0806;
inline constexpr std::uint16_t kEtherTypeIpv6 = 0x86DD;  // RFC 2464 3
inline constexpr std::uint16_t kEtherTypeVlan = 0x8100;
inline constexpr std::size_t kEthernetHeaderLen = 14;

// Reads the 6-byte MAC at p (no bounds check: callers check once at parse time).
[[nodiscard]] inline MacAddr load_mac(const std::byte* p) noexcept {
  MacAddr m;
  std::memcpy(m.bytes.data(), p, 6);
  return m;
}
inline void store_mac(std::byte* p, const MacAddr& m) noexcept {
  static_assert(sizeof m.bytes == 6);
  std::memcpy(p, m.bytes.data(), 6);
}

// A checked view of an Ethernet II frame (without FCS). 802.1Q tags are not
// looked through: a tagged frame has ether_type() == kEtherTypeVlan and its
// payload() starts at the tag control field, 14 bytes in. The stack drops those.
class EthernetView {
 public:
  // Truncated if shorter than 14 bytes. Inline, as ether_type(): every received
  // frame's path (two calls a frame otherwise).
  static Result<EthernetView, ParseError> parse(std::span<const std::byte> frame) noexcept {
    if (frame.size() < kEthernetHeaderLen) return Unexpected{ParseError::Truncated};
    return EthernetView{frame};
  }

  [[nodiscard]] MacAddr dst() const noexcept { return load_mac(bytes_.data()); }
  [[nodiscard]] MacAddr src() const noexcept { return load_mac(bytes_.data() + 6); }
  // dst() == m, without copying the address out of the frame.
  [[nodiscard]] bool dst_is(const MacAddr& m) const noexcept {
    return std::memcmp(bytes_.data(), m.bytes.data(), 6) == 0;
  }
  [[nodiscard]] std::uint16_t ether_type() const noexcept { return load_be16(bytes_.data() + 12); }
  [[nodiscard]] std::span<const std::byte> payload() const noexcept {
    return bytes_.subspan(kEthernetHeaderLen);
  }
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return bytes_; }

 private:
  explicit EthernetView(std::span<const std::byte> b) noexcept : bytes_(b) {}
  std::span<const std::byte> bytes_;
};

struct EthernetHeader {
  MacAddr dst{};
  MacAddr src{};
  std::uint16_t ether_type = 0;

  constexpr bool operator==(const EthernetHeader&) const = default;
};

// Writes the 14-byte header. Returns 14, or 0 (writing nothing) if out is too small.
std::size_t write_ethernet_header(std::span<std::byte> out, const EthernetHeader& h) noexcept;

}  // namespace riptide::wire
