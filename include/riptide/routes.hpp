/// \file
/// <riptide/routes.hpp>: RouteTable, static IPv4 routes for a host with several ports (a proxy's
/// client-facing and server-facing NICs). Each route is prefix/length -> port, with
/// an optional gateway; the connected subnet of each port is a route without a
/// gateway. lookup() is a longest-prefix match (RFC 1812 5.2.4.3, "the longest
/// match"), and among routes of equal length the one added first wins: the
/// connected subnets are added before the static routes, so a static route cannot
/// shadow a port's own subnet.
///
/// Sized for a handful of routes (a linear walk over entries sorted longest prefix
/// first, a few instructions each); not a forwarding table for a router.
///
/// Thread-safety: none needed once built; lookup() is const and reads only.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "riptide/ip_addr.hpp"

namespace riptide {

struct Route {
  Ipv4Addr prefix{};              ///< host bits are ignored (masked when added)
  std::uint8_t prefix_len = 0;    ///< 0..32; 0 is the default route
  std::uint16_t port = 0;         ///< the egress port's index
  std::optional<Ipv4Addr> gateway;  ///< none: the destination is on the port's link
};

struct NextHop {
  std::uint16_t port = 0;  ///< the egress port's index
  Ipv4Addr addr{};         ///< whose MAC to resolve: the gateway, or the destination
  constexpr bool operator==(const NextHop&) const = default;
};

[[nodiscard]] constexpr std::uint32_t prefix_mask(std::uint8_t len) noexcept {
  return len == 0 ? 0u : len >= 32 ? 0xFFFFFFFFu : ~(0xFFFFFFFFu >> len);
}

class RouteTable {
 public:
  /// Adds a route (its prefix masked to its length). Order matters only between
  /// routes of equal length: the first added wins.
  void add(Route r);
  /// The connected subnet of a port: `addr`/`prefix_len` reached directly.
  void add_connected(std::uint16_t port, Ipv4Addr addr, std::uint8_t prefix_len) {
    add(Route{addr, prefix_len, port, std::nullopt});
  }
  /// The longest matching route's port and next hop; none: no route.
  [[nodiscard]] std::optional<NextHop> lookup(Ipv4Addr dst) const noexcept {
    for (const Route& r : routes_) {
      if ((dst.value & prefix_mask(r.prefix_len)) == r.prefix.value) {
        return NextHop{r.port, r.gateway.value_or(dst)};
      }
    }
    return std::nullopt;
  }
  [[nodiscard]] const std::vector<Route>& routes() const noexcept { return routes_; }
  [[nodiscard]] bool empty() const noexcept { return routes_.empty(); }

 private:
  std::vector<Route> routes_;  ///< longest prefix first; stable within a length
};

}  // namespace riptide
