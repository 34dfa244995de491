// An IPv4 "IP:PORT" endpoint as the programs take it on the command line
// (riptide-load --server, the proxy's backends), and IpEndpoint, either family
// (riptide-client --connect).
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/ip_addr.hpp"

namespace riptide::apps {

struct Endpoint {
  Ipv4Addr addr{};
  std::uint16_t port = 0;
  constexpr bool operator==(const Endpoint&) const = default;
};

// "IP:PORT" with a port in 1..65535; nullopt when it does not parse.
[[nodiscard]] inline std::optional<Endpoint> parse_endpoint(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto a = Ipv4Addr::parse(text.substr(0, colon));
  if (!a) return std::nullopt;
  unsigned port = 0;
  const char* b = text.data() + colon + 1;
  const char* e = text.data() + text.size();
  auto [p, ec] = std::from_chars(b, e, port);
  if (ec != std::errc{} || p != e || port == 0 || port > 65535) return std::nullopt;
  return Endpoint{*a, static_cast<std::uint16_t>(port)};
}

// Either family (riptide-client --connect): "IPv4:PORT" or "[IPv6]:PORT" (RFC 5952 6:
// the brackets keep the port apart from the address's colons).
struct IpEndpoint {
  IpAddr addr{};
  std::uint16_t port = 0;
  constexpr bool operator==(const IpEndpoint&) const = default;
};

[[nodiscard]] inline std::optional<IpEndpoint> parse_ip_endpoint(std::string_view text) {
  if (text.empty() || text.front() != '[') {
    const auto e = parse_endpoint(text);
    if (!e) return std::nullopt;
    return IpEndpoint{e->addr, e->port};
  }
  const auto close = text.find(']');
  if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
  const auto a = IpAddr::parse(text.substr(1, close - 1));
  if (!a || a->is_v4()) return std::nullopt;  // [a.b.c.d]: not an IPv6 address
  unsigned port = 0;
  const char* b = text.data() + close + 2;
  const char* e = text.data() + text.size();
  auto [p, ec] = std::from_chars(b, e, port);
  if (ec != std::errc{} || p != e || port == 0 || port > 65535) return std::nullopt;
  return IpEndpoint{*a, static_cast<std::uint16_t>(port)};
}

[[nodiscard]] inline std::string to_string(const Endpoint& e) {
  return riptide::to_string(e.addr) + ":" + std::to_string(e.port);
}

}  // namespace riptide::apps
