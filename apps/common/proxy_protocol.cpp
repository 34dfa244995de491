#include "common/proxy_protocol.hpp"

#include <array>
#include <cstdio>

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
      // "PROXY" SP "TCP4" SP src SP dst SP sport SP dport CRLF; addresses in dotted
      // decimal, ports in decimal without leading zeros (section 2.1).
      std::array<char, 108> line{};  // the specification's maximum for any v1 line
      const int n = std::snprintf(line.data(), line.size(), "PROXY TCP4 %s %s %u %u\r\n",
                                  to_string(flow.src).c_str(), to_string(flow.dst).c_str(),
                                  static_cast<unsigned>(flow.src_port), static_cast<unsigned>(flow.dst_port));
      for (int i = 0; i < n && i < static_cast<int>(line.size()); ++i) out.push_back(static_cast<std::byte>(line[static_cast<std::size_t>(i)]));
      break;
    }
    case ProxyProtocol::V2: {
      static constexpr std::array<std::uint8_t, 12> kSignature{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                              0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
      out.reserve(28);
      for (std::uint8_t b : kSignature) out.push_back(static_cast<std::byte>(b));
      out.push_back(std::byte{0x21});  // version 2, command PROXY
      out.push_back(std::byte{0x11});  // AF_INET, SOCK_STREAM
      put_be16(out, 12);               // src addr, dst addr, src port, dst port
      put_be32(out, flow.src.value);
      put_be32(out, flow.dst.value);
      put_be16(out, flow.src_port);
      put_be16(out, flow.dst_port);
      break;
    }
  }
  return out;
}

}  // namespace riptide::apps::proxy
