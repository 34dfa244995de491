// An "IP:PORT" endpoint as the programs take it on the command line and in the
// configuration (riptide-load --server, riptide-client --connect, the proxy's
// listeners and backends), of either family: "198.18.0.2:80" or
// "[2001:db8::2]:80" (RFC 5952 6: the brackets keep the port apart from the
// address's colons). IPv4 is held as IPv4-mapped (common/ip_addr.hpp).
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/ip_addr.hpp"

namespace riptide::apps {

struct Endpoint {
  IpAddr addr{};
  std::uint16_t port = 0;
  constexpr bool operator==(const Endpoint&) const = default;
};

// "IPv4:PORT" or "[IPv6]:PORT" with a port in 1..65535; nullopt when it does not
// parse. An IPv6 address without brackets, "[a.b.c.d]", a zone or a prefix
// length are refused.
[[nodiscard]] inline std::optional<Endpoint> parse_endpoint(std::string_view text) {
  std::optional<IpAddr> a;
  std::size_t port_at = 0;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    a = IpAddr::parse(text.substr(1, close - 1));
    if (!a || a->is_v4()) return std::nullopt;  // [a.b.c.d]: not an IPv6 address
    port_at = close + 2;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const auto v4 = Ipv4Addr::parse(text.substr(0, colon));
    if (!v4) return std::nullopt;
    a = *v4;
    port_at = colon + 1;
  }
  unsigned port = 0;
  const char* b = text.data() + port_at;
  const char* e = text.data() + text.size();
  auto [p, ec] = std::from_chars(b, e, port);
  if (ec != std::errc{} || p != e || port == 0 || port > 65535) return std::nullopt;
  return Endpoint{*a, static_cast<std::uint16_t>(port)};
}

// "198.18.0.2:80" or "[2001:db8::2]:80" (what parse_endpoint() reads back).
[[nodiscard]] inline std::string to_string(const Endpoint& e) { return riptide::to_string(e.addr, e.port); }

}  // namespace riptide::apps
