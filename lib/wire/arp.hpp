// ARP for IPv4 over Ethernet (RFC 826): a checked view and a writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/ipv4_addr.hpp"
#include "common/result.hpp"
#include "wire/ethernet.hpp"
#include "wire/parse_error.hpp"

namespace riptide::wire {

inline constexpr std::uint16_t kArpRequest = 1;
inline constexpr std::uint16_t kArpReply = 2;
inline constexpr std::size_t kArpLen = 28;
inline constexpr std::uint16_t kArpHardwareEthernet = 1;

// The view accepts only Ethernet/IPv4 ARP. Any operation code is accepted: the
// stack decides what to do with ones other than request and reply. The buffer may
// be longer than 28 bytes (Ethernet padding); the rest is ignored.
class ArpView {
 public:
  // Truncated (< 28 bytes), BadHardwareType (htype != 1), BadProtocolType
  // (ptype != 0x0800), BadAddressLength (hlen != 6 or plen != 4).
  static Result<ArpView, ParseError> parse(std::span<const std::byte> packet) noexcept;

  [[nodiscard]] std::uint16_t operation() const noexcept;
  [[nodiscard]] MacAddr sender_mac() const noexcept { return load_mac(bytes_.data() + 8); }
  [[nodiscard]] Ipv4Addr sender_ip() const noexcept;
  [[nodiscard]] MacAddr target_mac() const noexcept { return load_mac(bytes_.data() + 18); }
  [[nodiscard]] Ipv4Addr target_ip() const noexcept;
  // The 28 ARP bytes.
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return bytes_; }

 private:
  explicit ArpView(std::span<const std::byte> b) noexcept : bytes_(b) {}
  std::span<const std::byte> bytes_;
};

struct ArpPacket {
  std::uint16_t op = kArpRequest;
  MacAddr sender_mac{};
  Ipv4Addr sender_ip{};
  MacAddr target_mac{};
  Ipv4Addr target_ip{};

  constexpr bool operator==(const ArpPacket&) const = default;
};

// Writes 28 bytes of Ethernet/IPv4 ARP. Returns 28, or 0 if out is too small.
std::size_t write_arp(std::span<std::byte> out, const ArpPacket& p) noexcept;

}  // namespace riptide::wire
