#include "common/ip_addr.hpp"

#include "common/hex.hpp"

#include <cstdio>

namespace riptide {

namespace {

// RFC 4291 2.2: x:x:x:x:x:x:x:x, one "::" for a run of zero groups, and the last
// 32 bits optionally as a dotted quad (forms 1 to 3).
std::optional<IpAddr> parse_v6(std::string_view s) {
  std::uint16_t groups[8] = {};
  int n = 0;          // groups written
  int gap = -1;       // where "::" stands, in groups
  std::size_t i = 0;
  if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
    gap = 0;
    i = 2;
    if (i == s.size()) return IpAddr{};
  } else if (!s.empty() && s[0] == ':') {
    return std::nullopt;  // a single leading colon
  }
  while (i < s.size()) {
    // A dotted quad may stand for the last two groups.
    const std::size_t next_colon = s.find(':', i);
    const std::string_view piece = s.substr(i, next_colon == std::string_view::npos ? s.npos : next_colon - i);
    if (piece.find('.') != std::string_view::npos) {
      if (next_colon != std::string_view::npos || n > 6) return std::nullopt;
      auto v4 = Ipv4Addr::parse(piece);
      if (!v4) return std::nullopt;
      groups[n++] = static_cast<std::uint16_t>(v4->value >> 16);
      groups[n++] = static_cast<std::uint16_t>(v4->value);
      i = s.size();
      break;
    }
    if (piece.empty() || piece.size() > 4 || n == 8) return std::nullopt;
    std::uint16_t g = 0;
    for (char c : piece) {
      const int v = hex_value(c);
      if (v < 0) return std::nullopt;
      g = static_cast<std::uint16_t>((g << 4) | v);
    }
    groups[n++] = g;
    i += piece.size();
    if (i == s.size()) break;
    ++i;  // the colon
    if (i < s.size() && s[i] == ':') {
      if (gap >= 0) return std::nullopt;  // a second "::"
      gap = n;
      ++i;
    } else if (i == s.size()) {
      return std::nullopt;  // a single trailing colon
    }
  }
  if (gap < 0 && n != 8) return std::nullopt;
  // "::" stands for at least one zero group (RFC 4291 2.2 item 2; RFC 5952 4.2.2
  // says not to write it for one, but it is valid input).
  if (gap >= 0 && n > 7) return std::nullopt;
  IpAddr a;
  const int tail = gap < 0 ? 0 : n - gap;
  for (int k = 0; k < n; ++k) {
    const int pos = (gap >= 0 && k >= gap) ? 8 - tail + (k - gap) : k;
    a.bytes[2 * pos] = static_cast<std::uint8_t>(groups[k] >> 8);
    a.bytes[2 * pos + 1] = static_cast<std::uint8_t>(groups[k]);
  }
  return a;
}

}  // namespace

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  if (text.find(':') == std::string_view::npos) {
    if (auto v4 = Ipv4Addr::parse(text)) return IpAddr{*v4};
    return std::nullopt;
  }
  return parse_v6(text);
}

std::string to_string(const IpAddr& a) {
  if (a.is_v4()) return to_string(a.v4());
  std::uint16_t g[8];
  for (int i = 0; i < 8; ++i) g[i] = static_cast<std::uint16_t>(a.bytes[2 * i] << 8 | a.bytes[2 * i + 1]);
  // RFC 5952 4.2: "::" replaces the longest run of zero groups, only if it is two
  // or more groups long (4.2.2), the first such run on a tie (4.2.3).
  int best = -1, best_len = 1;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) { ++i; continue; }
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len) { best = i; best_len = j - i; }
    i = j;
  }
  std::string out;
  char buf[8];
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    // RFC 5952 4.1 (no leading zeros), 4.3 (lower case).
    std::snprintf(buf, sizeof buf, "%x", g[i]);
    out += buf;
  }
  return out;
}

std::string to_string(const IpAddr& a, std::uint16_t port) {
  // RFC 5952 6: "[2001:db8::1]:80".
  if (a.is_v4()) return to_string(a.v4()) + ":" + std::to_string(port);
  return "[" + to_string(a) + "]:" + std::to_string(port);
}

std::string to_string(const FlowKey& k) {
  return to_string(k.local_addr, k.local_port) + " <- " + to_string(k.remote_addr, k.remote_port);
}

}  // namespace riptide
