#include "common/http_connect.hpp"

#include <algorithm>
#include <charconv>

namespace riptide::apps::proxy {

namespace {

using Status = ParsedConnect::Status;

// RFC 9110 5.6.2: tchar.
constexpr bool is_tchar(unsigned char c) noexcept {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

constexpr bool is_token(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_tchar(static_cast<unsigned char>(c)); });
}

// RFC 3986 3.2.2 reg-name and IPv4address characters (unreserved, pct-encoded,
// sub-delims); "[" starts an IP-literal.
constexpr bool is_host_char(unsigned char c) noexcept {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("-._~%!$&'()*+,;=").find(static_cast<char>(c)) != std::string_view::npos;
}

// RFC 9110 5.5: field-value bytes are VCHAR, SP, HTAB or obs-text.
constexpr bool is_field_byte(unsigned char c) noexcept { return c == '\t' || (c >= 0x20 && c != 0x7F); }

// Dotted quad, decimal, each octet 0..255 without leading zeros.
std::optional<Ipv4Addr> strict_ipv4(std::string_view s) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (s.empty() || s.front() != '.') return std::nullopt;
      s.remove_prefix(1);
    }
    std::size_t n = 0;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
    if (n == 0 || n > 3 || (n > 1 && s[0] == '0')) return std::nullopt;
    unsigned octet = 0;
    std::from_chars(s.data(), s.data() + n, octet);
    if (octet > 255) return std::nullopt;
    value = (value << 8) | octet;
    s.remove_prefix(n);
  }
  if (!s.empty()) return std::nullopt;
  return Ipv4Addr{value};
}

// The request-line (RFC 9112 3): method SP request-target SP HTTP-version.
ParsedConnect request_line(std::string_view line) {
  ParsedConnect r;
  const auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return {Status::Malformed};
  const auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return {Status::Malformed};
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method) || target.empty()) return {Status::Malformed};
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return {Status::Malformed};
  for (const char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) return {Status::Malformed};  // (a second space lands here)
  }
  // RFC 9110 9.1: the method token is case-sensitive.
  if (method != "CONNECT") return {Status::MethodNotAllowed};
  // RFC 9112 3.2.3: authority-form, uri-host ":" port; no userinfo, port required.
  const auto colon = target.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return {Status::Malformed};
  const std::string_view host = target.substr(0, colon);
  const std::string_view port_text = target.substr(colon + 1);
  unsigned port = 0;
  const auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || port_text.size() > 5 || ec != std::errc{} || p != port_text.data() + port_text.size() ||
      port == 0 || port > 65535) {
    return {Status::Malformed};
  }
  if (host.front() == '[') {
    // An IP-literal (IPv6): well-formed enough to say so, but not ours.
    return {host.back() == ']' ? Status::NotIpv4 : Status::Malformed};
  }
  if (!std::all_of(host.begin(), host.end(), [](char c) { return is_host_char(static_cast<unsigned char>(c)); })) {
    return {Status::Malformed};
  }
  const auto addr = strict_ipv4(host);
  if (!addr) return {Status::NotIpv4};  // a name: riptide has no resolver
  r.status = Status::NeedMore;          // the header fields are still to come
  r.target = Endpoint{*addr, static_cast<std::uint16_t>(port)};
  return r;
}

// A field line (RFC 9112 5): field-name ":" OWS field-value OWS.
bool field_line(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') return false;  // RFC 9112 5.2 obs-fold: rejected
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  // RFC 9112 5.1: no whitespace between the name and the colon (the token check).
  if (!is_token(line.substr(0, colon))) return false;
  const std::string_view value = line.substr(colon + 1);
  return std::all_of(value.begin(), value.end(), [](char c) { return is_field_byte(static_cast<unsigned char>(c)); });
}

}  // namespace

ParsedConnect parse_connect_request(std::span<const std::byte> in, std::size_t max_bytes) {
  const std::string_view all(reinterpret_cast<const char*>(in.data()), std::min(in.size(), max_bytes));
  std::size_t pos = 0;
  bool have_request_line = false;
  ParsedConnect r;
  for (;;) {
    const auto lf = all.find('\n', pos);
    if (lf == std::string_view::npos) {
      // No whole line more: wait, unless the limit is what stops us.
      return {in.size() >= max_bytes ? Status::TooLarge : Status::NeedMore};
    }
    std::string_view line = all.substr(pos, lf - pos);
    pos = lf + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // RFC 9112 2.2: CRLF, or a bare LF
    if (line.find('\r') != std::string_view::npos) return {Status::Malformed};  // RFC 9112 2.2: bare CR
    if (!have_request_line) {
      if (line.empty()) continue;  // RFC 9112 2.2: empty lines before the request-line
      r = request_line(line);
      if (r.status != Status::NeedMore) return r;
      have_request_line = true;
      continue;
    }
    if (line.empty()) {  // the end of the fields: what follows is the tunnel's
      r.status = Status::Done;
      r.length = pos;
      return r;
    }
    if (!field_line(line)) return {Status::Malformed};
  }
}

bool Cidr::contains(Ipv4Addr a) const noexcept {
  if (prefix == 0) return true;
  const std::uint32_t mask = prefix >= 32 ? 0xFFFFFFFFu : ~(0xFFFFFFFFu >> prefix);
  return (a.value & mask) == network.value;
}

bool AllowRule::admits(const Endpoint& e) const noexcept {
  // IPv4 rules: an IPv6 destination (the parser never gives one) is in none.
  return e.addr.is_v4() && Cidr{network, prefix}.contains(e.addr.v4()) && e.port >= port_lo && e.port <= port_hi;
}

bool allowed(const std::vector<AllowRule>& rules, const Endpoint& e) noexcept {
  return std::any_of(rules.begin(), rules.end(), [&](const AllowRule& r) { return r.admits(e); });
}

CidrParse parse_cidr(std::string_view text) {
  const auto slash = text.find('/');
  const auto addr = Ipv4Addr::parse(text.substr(0, slash));
  if (!addr) return {std::nullopt, "\"" + std::string(text) + "\" is not an IPv4 address or CIDR block"};
  unsigned prefix = 32;
  if (slash != std::string_view::npos) {
    const std::string_view len = text.substr(slash + 1);
    const auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), prefix);
    if (len.empty() || ec != std::errc{} || p != len.data() + len.size() || prefix > 32) {
      return {std::nullopt, "\"" + std::string(text) + "\": the prefix length must be 0..32"};
    }
  }
  const Cidr c{*addr, static_cast<std::uint8_t>(prefix)};
  const std::uint32_t mask = prefix == 0 ? 0 : prefix >= 32 ? 0xFFFFFFFFu : ~(0xFFFFFFFFu >> prefix);
  if ((addr->value & mask) != addr->value) {
    return {std::nullopt, "\"" + std::string(text) + "\" has host bits set (did you mean \"" +
                              to_string(Cidr{Ipv4Addr{addr->value & mask}, c.prefix}) + "\"?)"};
  }
  return {c, {}};
}

std::string to_string(const Cidr& c) { return riptide::to_string(c.network) + "/" + std::to_string(c.prefix); }

AllowParse parse_allow_rule(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return {std::nullopt, "\"" + std::string(text) +
                              "\" has no port (\"CIDR:PORTS\", e.g. \"198.18.0.0/16:443\", "
                              "\"198.18.0.2:8000-8100\" or \"198.18.0.0/15:*\")"};
  }
  const CidrParse c = parse_cidr(text.substr(0, colon));
  if (!c.cidr) return {std::nullopt, c.error};
  const std::string_view ports = text.substr(colon + 1);
  AllowRule r{c.cidr->network, c.cidr->prefix, 1, 65535};
  if (ports != "*") {
    const auto number = [](std::string_view s) -> std::optional<std::uint16_t> {
      unsigned v = 0;
      const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (s.empty() || ec != std::errc{} || p != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
      return static_cast<std::uint16_t>(v);
    };
    const auto dash = ports.find('-');
    const auto lo = number(ports.substr(0, dash));
    const auto hi = dash == std::string_view::npos ? lo : number(ports.substr(dash + 1));
    if (!lo || !hi || *hi < *lo) {
      return {std::nullopt, "\"" + std::string(text) + "\": the port must be N or N-M (1..65535, N <= M) or *"};
    }
    r.port_lo = *lo;
    r.port_hi = *hi;
  }
  return {r, {}};
}

std::string to_string(const AllowRule& r) {
  std::string s = to_string(Cidr{r.network, r.prefix}) + ":";
  if (r.port_lo == 1 && r.port_hi == 65535) return s + "*";
  s += std::to_string(r.port_lo);
  if (r.port_hi != r.port_lo) s += "-" + std::to_string(r.port_hi);
  return s;
}

std::string_view connect_established() noexcept { return "HTTP/1.1 200 Connection established\r\n\r\n"; }

std::string connect_error_response(unsigned status) {
  std::string_view reason;
  switch (status) {
    case 400: reason = "Bad Request"; break;
    case 403: reason = "Forbidden"; break;
    case 405: reason = "Method Not Allowed"; break;
    case 408: reason = "Request Timeout"; break;
    case 502: reason = "Bad Gateway"; break;
    case 504: reason = "Gateway Timeout"; break;
    default: reason = "Error"; break;
  }
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  if (status == 405) out += "Allow: CONNECT\r\n";  // RFC 9110 15.5.6: a 405 MUST carry Allow
  out += "Content-Length: 0\r\nConnection: close\r\n\r\n";
  return out;
}

}  // namespace riptide::apps::proxy
