// The PROXY protocol header (HAProxy's specification, versions 1 and 2; Debian's
// haproxy package ships it as doc/proxy-protocol.txt) that riptide-proxy can send to
// a backend before the client's bytes, so the backend learns the client's address
// and port and the address the client connected to.
//
// Pure functions: no allocation beyond the returned vector; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/ip_addr.hpp"

namespace riptide::apps::proxy {

enum class ProxyProtocol : std::uint8_t { Off, V1, V2 };
[[nodiscard]] std::string_view to_string(ProxyProtocol p) noexcept;

// What the header tells the backend: the client (source) and the address and port
// it connected to on the proxy (destination), TCP over IPv4 or over IPv6 (both
// addresses of one family, as a connection's are).
struct ProxiedFlow {
  IpAddr src;
  IpAddr dst;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
};

// Version 1 (section 2.1): the text line "PROXY TCP4 <src> <dst> <sport> <dport>\r\n"
// (at most 56 bytes for TCP4), or "PROXY TCP6 ..." with the IPv6 addresses in
// RFC 5952 form (at most 104 bytes). Version 2 (section 2.2): the 12-byte
// signature, then version 2 / command PROXY (0x21), the family and protocol
// (AF_INET + STREAM 0x11, or AF_INET6 + STREAM 0x21), the address length
// (big-endian: 12, or 36), the two addresses and the two ports, network byte
// order: 28 bytes for IPv4, 52 for IPv6. A flow whose addresses are of two
// families (not a connection's) gives v1 "PROXY UNKNOWN\r\n" and v2 AF_UNSPEC
// (0x00, no addresses): the backend then uses the connection's own. Off: empty.
[[nodiscard]] std::vector<std::byte> proxy_header(ProxyProtocol version, const ProxiedFlow& flow);

// Reading a header a trusted front (a load balancer in front of riptide-proxy) put
// at the start of a connection: either version, told apart by the first bytes.
// NeedMore: a valid prefix, wait for more bytes; Invalid: not a PROXY header (or
// one too long: v1 lines over 107 bytes, v2 headers over kMaxProxyHeader);
// Done: `length` bytes are the header, the rest is the client's data. `flow` is set
// for TCP over IPv4 or IPv6 (v1 TCP4/TCP6, v2 AF_INET/AF_INET6 STREAM) with the
// PROXY command; empty for v1 "UNKNOWN", v2 LOCAL (the front's own health check),
// and other families (AF_UNSPEC, UNIX, UDP), where the connection's own addresses
// stand.
inline constexpr std::size_t kMaxProxyHeader = 1024;
struct ParsedProxyHeader {
  enum class Status : std::uint8_t { NeedMore, Invalid, Done };
  Status status = Status::NeedMore;
  std::size_t length = 0;
  std::optional<ProxiedFlow> flow;
  std::string_view error;  // for Invalid: what was wrong
};
[[nodiscard]] ParsedProxyHeader parse_proxy_header(std::span<const std::byte> bytes) noexcept;

}  // namespace riptide::apps::proxy
