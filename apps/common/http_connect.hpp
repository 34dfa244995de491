// HTTP CONNECT tunnels for riptide-proxy (issue 12): the request parser, the
// destination allow-list and the responses. Pure functions over bytes: no DPDK, no
// stack, no allocation in the parser (it returns views into its input).
//
// The request (RFC 9110 9.3.6, RFC 9112 3):
//
//   CONNECT 198.18.0.2:443 HTTP/1.1\r\n
//   Host: 198.18.0.2:443\r\n          any header fields, ignored
//   \r\n
//   ...tunnel bytes (may follow in the same segment: they belong to the tunnel)
//
// What the parser takes and refuses:
// - The method is case-sensitive (RFC 9110 9.1): "connect" or "GET" is another
//   method (MethodNotAllowed: 405 with Allow: CONNECT).
// - The request-target is authority-form, host ":" port, the port required and
//   1..65535 (RFC 9112 3.2.3). riptide has no resolver, so the host must be an IPv4
//   literal (dotted quad, decimal, no leading zeros: "010.0.0.1" reads as octal to
//   inet_aton, so it is refused rather than guessed); a name or an IPv6 literal is
//   NotIpv4 (answered 400).
// - HTTP-version "HTTP/1.0" or "HTTP/1.1" (RFC 9112 2.3); single spaces between the
//   three parts (RFC 9112 3: no other whitespace).
// - Lines end in CRLF; a bare LF is taken as one too (RFC 9112 2.2 allows it).
//   Empty lines before the request-line are skipped (RFC 9112 2.2 SHOULD).
// - Header fields: a token, ":" with no space before it (RFC 9112 5.1: MUST be
//   rejected with 400), then any visible text; obsolete line folding (a line that
//   starts with a space or tab) is rejected (RFC 9112 5.2 allows rejecting it).
//   A control byte other than HTAB in a line is rejected. Their values are not
//   used: a CONNECT request has no content (RFC 9110 9.3.6), whatever
//   Content-Length says, and what follows the empty line is the tunnel's.
// - The whole request (request-line, fields and the empty line) must fit in
//   `max_bytes`; beyond it, TooLarge (answered 400), even before the end is seen.
//
// A request that arrives in pieces is parsed again from its start each time
// (the caller keeps the bytes; at most max_bytes, 4 KiB by default: cheap).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/endpoint.hpp"

namespace riptide::apps::proxy {

struct ParsedConnect {
  enum class Status : std::uint8_t {
    NeedMore,          // no empty line yet, nothing wrong so far
    Done,              // a CONNECT to an IPv4 literal: `target`, `length`
    Malformed,         // not an HTTP/1.x request (400)
    MethodNotAllowed,  // a well-formed request with another method (405)
    NotIpv4,           // CONNECT to a name or an IPv6 literal: no resolver here (400)
    TooLarge,          // more than max_bytes without the end of the request (400)
  };
  Status status = Status::NeedMore;
  Endpoint target{};        // Done
  std::size_t length = 0;   // Done: bytes of the request, its empty line included
};

[[nodiscard]] ParsedConnect parse_connect_request(std::span<const std::byte> in, std::size_t max_bytes);

// A destination the allow-list admits: a CIDR block and a port range.
struct AllowRule {
  Ipv4Addr network{};
  std::uint8_t prefix = 32;  // 0..32
  std::uint16_t port_lo = 1;
  std::uint16_t port_hi = 65535;
  bool operator==(const AllowRule&) const = default;
  [[nodiscard]] bool admits(const Endpoint& e) const noexcept;
};

// An IPv4 CIDR block as a network and a prefix length ("198.18.0.0/15"; a bare
// address is /32).
struct Cidr {
  Ipv4Addr network{};
  std::uint8_t prefix = 32;
  bool operator==(const Cidr&) const = default;
  [[nodiscard]] bool contains(Ipv4Addr a) const noexcept;
};

// "ADDR[/LEN]": the block, or what is wrong with the text. Host bits set below the
// prefix ("198.18.0.1/16") are an error (a typo more often than a wish).
struct CidrParse {
  std::optional<Cidr> cidr;
  std::string error;
};
[[nodiscard]] CidrParse parse_cidr(std::string_view text);
[[nodiscard]] std::string to_string(const Cidr& c);

// "CIDR:PORTS", PORTS one port N, a range N-M or "*" (1-65535); or what is wrong
// with the text. (One range per rule, so a list of rules splits on commas.)
struct AllowParse {
  std::optional<AllowRule> rule;
  std::string error;
};
[[nodiscard]] AllowParse parse_allow_rule(std::string_view text);
// One rule as parse_allow_rule() reads it back ("198.18.0.0/16:443",
// "198.18.0.2/32:8000-8100", "198.18.0.0/15:*").
[[nodiscard]] std::string to_string(const AllowRule& r);

[[nodiscard]] bool allowed(const std::vector<AllowRule>& rules, const Endpoint& e) noexcept;

// The responses (RFC 9112 4 status-line); errors carry Content-Length: 0 and
// Connection: close (the proxy closes after sending one).
[[nodiscard]] std::string_view connect_established() noexcept;  // "HTTP/1.1 200 Connection established\r\n\r\n"
[[nodiscard]] std::string connect_error_response(unsigned status);

}  // namespace riptide::apps::proxy
