#include "common/proxy_protocol.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>

namespace riptide::apps::proxy {

std::string_view to_string(ProxyProtocol p) noexcept {
  switch (p) {
    case ProxyProtocol::Off: return "off";
    case ProxyProtocol::V1: return "v1";
    case ProxyProtocol::V2: return "v2";
  }
  return "?";
}

namespace {

constexpr std::array<std::uint8_t, 12> kSignature{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                  0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::size_t kV1MaxLine = 107;  // the specification's bound, CRLF included

void put_be16(std::vector<std::byte>& out, std::uint16_t v) {
  out.push_back(static_cast<std::byte>(v >> 8));
  out.push_back(static_cast<std::byte>(v & 0xFF));
}

void put_be32(std::vector<std::byte>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::byte>((v >> shift) & 0xFF));
}

}  // namespace

std::vector<std::byte> proxy_header(ProxyProtocol version, const ProxiedFlow& flow) {
  std::vector<std::byte> out;
  switch (version) {
    case ProxyProtocol::Off:
      break;
    case ProxyProtocol::V1: {
      // "PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP sport SP dport CRLF; IPv4
      // addresses in dotted decimal, IPv6 ones as RFC 4291 2.2 writes them (we
      // write RFC 5952's form, one of those), ports in decimal without leading
      // zeros (section 2.1). Two families: "UNKNOWN", the rest of the line empty.
      std::array<char, 108> line{};  // the specification's maximum for any v1 line
      const bool v4 = flow.src.is_v4();
      const int n = v4 != flow.dst.is_v4()
                        ? std::snprintf(line.data(), line.size(), "PROXY UNKNOWN\r\n")
                        : std::snprintf(line.data(), line.size(), "PROXY %s %s %s %u %u\r\n", v4 ? "TCP4" : "TCP6",
                                        to_string(flow.src).c_str(), to_string(flow.dst).c_str(),
                                        static_cast<unsigned>(flow.src_port), static_cast<unsigned>(flow.dst_port));
      for (int i = 0; i < n && i < static_cast<int>(line.size()); ++i) out.push_back(static_cast<std::byte>(line[static_cast<std::size_t>(i)]));
      break;
    }
    case ProxyProtocol::V2: {
      out.reserve(52);
      for (std::uint8_t b : kSignature) out.push_back(static_cast<std::byte>(b));
      out.push_back(std::byte{0x21});  // version 2, command PROXY
      if (flow.src.is_v4() != flow.dst.is_v4()) {
        out.push_back(std::byte{0x00});  // AF_UNSPEC: the receiver uses the connection's addresses
        put_be16(out, 0);
      } else if (flow.src.is_v4()) {
        out.push_back(std::byte{0x11});  // AF_INET, SOCK_STREAM
        put_be16(out, 12);               // src addr, dst addr, src port, dst port
        put_be32(out, flow.src.v4().value);
        put_be32(out, flow.dst.v4().value);
        put_be16(out, flow.src_port);
        put_be16(out, flow.dst_port);
      } else {
        out.push_back(std::byte{0x21});  // AF_INET6, SOCK_STREAM
        put_be16(out, 36);               // 16 + 16 + 2 + 2 (section 2.2, proxy_addr.ipv6_addr)
        for (std::uint8_t b : flow.src.bytes) out.push_back(static_cast<std::byte>(b));
        for (std::uint8_t b : flow.dst.bytes) out.push_back(static_cast<std::byte>(b));
        put_be16(out, flow.src_port);
        put_be16(out, flow.dst_port);
      }
      break;
    }
  }
  return out;
}

namespace {

using Parsed = ParsedProxyHeader;

Parsed invalid(std::string_view why) { return Parsed{Parsed::Status::Invalid, 0, std::nullopt, why}; }

std::optional<std::uint16_t> parse_port(std::string_view t) {
  unsigned v = 0;
  if (t.empty() || t.size() > 5) return std::nullopt;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc{} || end != t.data() + t.size() || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

// Version 1: "PROXY" SP ( "TCP4" | "TCP6" | "UNKNOWN" ) [SP src SP dst SP sport SP dport] CRLF.
Parsed parse_v1(std::string_view text) {
  const std::size_t crlf = text.substr(0, kV1MaxLine).find("\r\n");
  if (crlf == std::string_view::npos) {
    if (text.size() >= kV1MaxLine) return invalid("v1 line longer than 107 bytes");
    if (text.find('\n') != std::string_view::npos) return invalid("v1 line not ended by CRLF");
    return Parsed{};
  }
  const std::string_view line = text.substr(kV1Prefix.size(), crlf - kV1Prefix.size());
  Parsed done{Parsed::Status::Done, crlf + 2, std::nullopt, {}};
  std::array<std::string_view, 5> f{};
  std::size_t n = 0, pos = 0;
  while (pos <= line.size() && n < f.size()) {
    const std::size_t sp = line.find(' ', pos);
    f[n++] = line.substr(pos, sp == std::string_view::npos ? std::string_view::npos : sp - pos);
    if (sp == std::string_view::npos) {
      pos = line.size() + 1;
      break;
    }
    pos = sp + 1;
  }
  if (n == 0) return invalid("v1 line without a protocol");
  if (f[0] == "UNKNOWN") return done;  // the rest of the line is to be ignored
  if (f[0] != "TCP4" && f[0] != "TCP6") return invalid("v1 protocol is not TCP4, TCP6 or UNKNOWN");
  if (n != 5 || pos <= line.size()) return invalid("v1 line does not have four address fields");
  // TCP4: dotted quads; TCP6: IPv6 addresses (an IPv4-mapped one, as a front on
  // a dual-stack socket may write, is the IPv4 address it maps: IpAddr holds
  // IPv4 that way).
  const bool tcp6 = f[0] == "TCP6";
  const auto address = [&](std::string_view t) -> std::optional<IpAddr> {
    if (tcp6) return t.find(':') != std::string_view::npos ? IpAddr::parse(t) : std::nullopt;
    const auto a = Ipv4Addr::parse(t);
    return a ? std::optional<IpAddr>(*a) : std::nullopt;
  };
  const auto src = address(f[1]);
  const auto dst = address(f[2]);
  const auto sport = parse_port(f[3]);
  const auto dport = parse_port(f[4]);
  if (!src || !dst || !sport || !dport) return invalid("v1 address or port malformed");
  done.flow = ProxiedFlow{*src, *dst, *sport, *dport};
  return done;
}

std::uint16_t be16(const std::byte* p) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(p[0]) << 8) | std::to_integer<unsigned>(p[1]));
}
std::uint32_t be32(const std::byte* p) {
  return (std::uint32_t{be16(p)} << 16) | be16(p + 2);
}

// Version 2: signature, ver_cmd, fam, len (big-endian), then len bytes.
Parsed parse_v2(std::span<const std::byte> b) {
  if (b.size() < 16) return Parsed{};
  const auto ver_cmd = std::to_integer<std::uint8_t>(b[12]);
  const auto fam = std::to_integer<std::uint8_t>(b[13]);
  const std::size_t total = 16 + std::size_t{be16(b.data() + 14)};
  if ((ver_cmd >> 4) != 2) return invalid("v2 version is not 2");
  const unsigned cmd = ver_cmd & 0x0F;
  if (cmd > 1) return invalid("v2 command is neither LOCAL nor PROXY");
  if (total > kMaxProxyHeader) return invalid("v2 header longer than the limit");
  if (b.size() < total) return Parsed{};
  Parsed done{Parsed::Status::Done, total, std::nullopt, {}};
  if (cmd == 0) return done;  // LOCAL: the front speaking for itself
  if (fam == 0x11) {          // AF_INET, STREAM: 4 + 4 + 2 + 2 bytes
    if (total - 16 < 12) return invalid("v2 IPv4 addresses truncated");
    const std::byte* a = b.data() + 16;
    done.flow = ProxiedFlow{Ipv4Addr{be32(a)}, Ipv4Addr{be32(a + 4)}, be16(a + 8), be16(a + 10)};
  } else if (fam == 0x21) {  // AF_INET6, STREAM: 16 + 16 + 2 + 2 bytes
    if (total - 16 < 36) return invalid("v2 IPv6 addresses truncated");
    const std::byte* a = b.data() + 16;
    // (An IPv4-mapped address is the IPv4 address it maps, as in v1.)
    done.flow = ProxiedFlow{IpAddr::from_bytes(a), IpAddr::from_bytes(a + 16), be16(a + 32), be16(a + 34)};
  }
  return done;  // other families (and TLVs after the addresses) are skipped
}

}  // namespace

ParsedProxyHeader parse_proxy_header(std::span<const std::byte> bytes) noexcept {
  if (bytes.empty()) return Parsed{};
  // Which version: as much of either signature as has arrived must match.
  const std::size_t v2n = std::min(bytes.size(), kSignature.size());
  bool v2 = v2n > 0;
  for (std::size_t i = 0; i < v2n; ++i) v2 = v2 && std::to_integer<std::uint8_t>(bytes[i]) == kSignature[i];
  if (v2) return v2n < kSignature.size() ? Parsed{} : parse_v2(bytes);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const std::size_t v1n = std::min(text.size(), kV1Prefix.size());
  if (v1n == 0 || text.substr(0, v1n) != kV1Prefix.substr(0, v1n)) return invalid("not a PROXY protocol header");
  if (v1n < kV1Prefix.size()) return Parsed{};
  return parse_v1(text);
}

}  // namespace riptide::apps::proxy
