// The PROXY protocol header (HAProxy's specification, versions 1 and 2; Debian's
// haproxy package ships it as doc/proxy-protocol.txt) that riptide-proxy can send to
// a backend before the client's bytes, so the backend learns the client's address
// and port and the address the client connected to.
//
// Pure functions: no allocation beyond the returned vector; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/ipv4_addr.hpp"

namespace riptide::apps::proxy {

enum class ProxyProtocol : std::uint8_t { Off, V1, V2 };
[[nodiscard]] std::string_view to_string(ProxyProtocol p) noexcept;

// What the header tells the backend: the client (source) and the address and port
// it connected to on the proxy (destination), both TCP over IPv4.
struct ProxiedFlow {
  Ipv4Addr src;
  Ipv4Addr dst;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
};

// Version 1 (section 2.1): the text line "PROXY TCP4 <src> <dst> <sport> <dport>\r\n"
// (at most 56 bytes for TCP4). Version 2 (section 2.2): the 12-byte signature, then
// version 2 / command PROXY (0x21), AF_INET + STREAM (0x11), the address length
// (12, big-endian), the two addresses and the two ports, network byte order: 28
// bytes. Off: empty.
[[nodiscard]] std::vector<std::byte> proxy_header(ProxyProtocol version, const ProxiedFlow& flow);

}  // namespace riptide::apps::proxy
