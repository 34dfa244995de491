/// \file
/// <riptide/mac_addr.hpp>: an Ethernet address (riptide::wire::MacAddr), for
/// InterfaceConfig and the configuration. A plain value: any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace riptide::wire {

struct MacAddr {
  std::array<std::uint8_t, 6> bytes{};

  constexpr bool operator==(const MacAddr&) const = default;

  /// "02:00:00:00:00:01": lower-case hex, colon separated.
  [[nodiscard]] std::string to_string() const;
  /// Exactly six two-digit hex octets separated by ':' (either case), nothing else.
  static std::optional<MacAddr> parse(std::string_view text);

  static constexpr MacAddr broadcast() noexcept {
    return MacAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
  }
  [[nodiscard]] constexpr bool is_broadcast() const noexcept { return *this == broadcast(); }
  /// Group bit (I/G) set: broadcast or multicast.
  [[nodiscard]] constexpr bool is_multicast() const noexcept { return (bytes[0] & 0x01) != 0; }
};

std::string to_string(const MacAddr& m);

}  // namespace riptide::wire
