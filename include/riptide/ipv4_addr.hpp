/// \file
/// Ipv4Addr: an IPv4 address held in host byte order (ARP, the IPv4 header,
/// configuration). IpAddr and FlowKey (either family) are in common/ip_addr.hpp.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace riptide {

struct Ipv4Addr {
  std::uint32_t value = 0;  ///< host byte order: 198.18.0.1 is 0xC6120001

  constexpr auto operator<=>(const Ipv4Addr&) const = default;

  static constexpr Ipv4Addr from_octets(std::uint8_t a, std::uint8_t b, std::uint8_t c,
                                        std::uint8_t d) noexcept {
    return Ipv4Addr{(std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) |
                    (std::uint32_t{c} << 8) | std::uint32_t{d}};
  }
  /// Dotted quad, strictly: four decimal octets 0..255, nothing else.
  static std::optional<Ipv4Addr> parse(std::string_view text);
};

std::string to_string(Ipv4Addr a);

}  // namespace riptide
