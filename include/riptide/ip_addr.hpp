/// \file
/// IpAddr: an IPv4 or IPv6 address in one 16-byte layout; FlowKey: a TCP 4-tuple
/// over either family.
///
/// An IPv4 address is held as its IPv4-mapped IPv6 form `::ffff:a.b.c.d` (RFC 4291
/// 2.5.5.2), so a FlowKey has one layout, one equality and one hash whatever the
/// family, and an IPv4 flow never compares equal to an IPv6 one. The mapped form is
/// internal: on the wire an IPv4 packet carries the 4 bytes (v4()), and an IPv6
/// packet whose addresses are IPv4-mapped is not ours (lib/ip drops it, RFC 4291
/// 2.5.5.2 says such addresses are not used in IPv6 headers).
///
/// Thread-safety: plain values, no shared state.
#pragma once

#include <array>
#include <bit>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "riptide/ipv4_addr.hpp"

namespace riptide {

struct IpAddr {
  /// Network byte order: 2001:db8::1 is 20 01 0d b8 00 .. 00 01.
  std::array<std::uint8_t, 16> bytes{};

  /// `::`, the IPv6 unspecified address.
  constexpr IpAddr() noexcept = default;
  /// Implicit: an IPv4 address as `::ffff:a.b.c.d`, so code written for IPv4 keeps
  /// compiling where an IpAddr is wanted.
  constexpr IpAddr(Ipv4Addr a) noexcept {  // NOLINT(google-explicit-constructor)
    if (std::is_constant_evaluated()) {
      bytes = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, static_cast<std::uint8_t>(a.value >> 24),
               static_cast<std::uint8_t>(a.value >> 16), static_cast<std::uint8_t>(a.value >> 8),
               static_cast<std::uint8_t>(a.value)};
    } else {
      // Three stores on the IPv4 fast path (this runs for every IPv4 packet).
      const std::uint64_t zero = 0;
      const std::uint32_t be = to_big_endian(a.value);
      std::memcpy(bytes.data(), &zero, 8);
      std::memcpy(bytes.data() + 8, &kMappedWord, 4);
      std::memcpy(bytes.data() + 12, &be, 4);
    }
  }

  constexpr auto operator<=>(const IpAddr&) const = default;

  /// From the 16 bytes of an IPv6 header field.
  [[nodiscard]] static IpAddr from_bytes(const std::byte* p) noexcept {
    IpAddr a;
    std::memcpy(a.bytes.data(), p, 16);
    return a;
  }
  /// From eight 16-bit groups, as written: v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).
  [[nodiscard]] static constexpr IpAddr v6(std::uint16_t g0, std::uint16_t g1, std::uint16_t g2,
                                           std::uint16_t g3, std::uint16_t g4, std::uint16_t g5,
                                           std::uint16_t g6, std::uint16_t g7) noexcept {
    IpAddr a;
    const std::uint16_t g[8] = {g0, g1, g2, g3, g4, g5, g6, g7};
    for (int i = 0; i < 8; ++i) {
      a.bytes[2 * i] = static_cast<std::uint8_t>(g[i] >> 8);
      a.bytes[2 * i + 1] = static_cast<std::uint8_t>(g[i]);
    }
    return a;
  }

  /// RFC 4291 2.5.5.2: `::ffff:0:0/96`, i.e. an IPv4 address.
  [[nodiscard]] constexpr bool is_v4() const noexcept {
    if (std::is_constant_evaluated()) {
      for (int i = 0; i < 10; ++i) {
        if (bytes[i] != 0) return false;
      }
      return bytes[10] == 0xff && bytes[11] == 0xff;
    }
    // Two loads and compares (the IPv4 path asks at every packet).
    std::uint64_t head;
    std::uint32_t mid;
    std::memcpy(&head, bytes.data(), 8);
    std::memcpy(&mid, bytes.data() + 8, 4);
    return head == 0 && mid == kMappedWord;
  }
  [[nodiscard]] constexpr bool is_v6() const noexcept { return !is_v4(); }
  /// The IPv4 address; meaningful only when is_v4().
  [[nodiscard]] constexpr Ipv4Addr v4() const noexcept {
    if (std::is_constant_evaluated()) {
      return Ipv4Addr{(std::uint32_t{bytes[12]} << 24) | (std::uint32_t{bytes[13]} << 16) |
                      (std::uint32_t{bytes[14]} << 8) | std::uint32_t{bytes[15]}};
    }
    std::uint32_t be;
    std::memcpy(&be, bytes.data() + 12, 4);
    return Ipv4Addr{to_big_endian(be)};
  }
  /// `::` (RFC 4291 2.5.2) or `0.0.0.0`: "any address" in listen(), "choose one"
  /// in connect().
  [[nodiscard]] constexpr bool is_unspecified() const noexcept {
    return *this == IpAddr{} || *this == IpAddr{Ipv4Addr{}};
  }
  /// `::` only (listen() on it takes both families).
  [[nodiscard]] constexpr bool is_v6_unspecified() const noexcept { return *this == IpAddr{}; }
  /// RFC 4291 2.5.3: `::1`.
  [[nodiscard]] constexpr bool is_v6_loopback() const noexcept { return *this == v6(0, 0, 0, 0, 0, 0, 0, 1); }
  /// RFC 4291 2.7: `ff00::/8`.
  [[nodiscard]] constexpr bool is_v6_multicast() const noexcept { return bytes[0] == 0xff; }
  /// RFC 4291 2.5.6: `fe80::/10`.
  [[nodiscard]] constexpr bool is_v6_link_local() const noexcept {
    return bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80;
  }

  /// Either textual form: a dotted quad (an IPv4 address, held mapped), or an IPv6
  /// address as RFC 4291 2.2 writes it (groups of 1-4 hex digits, one `::`, an
  /// embedded dotted quad in the last 32 bits). No zone (`%eth0`), no brackets, no
  /// prefix length. Nothing else is accepted.
  [[nodiscard]] static std::optional<IpAddr> parse(std::string_view text);

 private:
  // Bytes 8..11 of an IPv4-mapped address (00 00 ff ff) as a native 32-bit word.
  static constexpr std::uint32_t kMappedWord =
      std::endian::native == std::endian::little ? 0xFFFF0000u : 0x0000FFFFu;
  // Host <-> network order of a 32-bit word (its own inverse).
  static constexpr std::uint32_t to_big_endian(std::uint32_t v) noexcept {
    if constexpr (std::endian::native == std::endian::little) return __builtin_bswap32(v);
    return v;
  }
};

static_assert(sizeof(IpAddr) == 16);

/// IPv4 as a dotted quad; IPv6 in RFC 5952's canonical form (lower case, leading
/// zeros dropped, the longest run of two or more zero groups as `::`, the first
/// on a tie; `::ffff:a.b.c.d` is never produced, since that is an IPv4 address).
std::string to_string(const IpAddr& a);

/// A connection's identity as seen from this stack: local first. Both addresses
/// are of one family (the stack never mixes them in a tuple).
struct FlowKey {
  IpAddr local_addr;
  IpAddr remote_addr;
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;

  constexpr bool operator==(const FlowKey&) const = default;
  [[nodiscard]] constexpr bool is_v4() const noexcept { return remote_addr.is_v4(); }
};

/// "198.18.0.1:80 <- 198.18.0.2:40000", "[2001:db8::1]:80 <- [2001:db8::2]:40000"
/// (RFC 5952 6: brackets around an IPv6 address followed by a port).
std::string to_string(const FlowKey& k);
/// "198.18.0.1:80" or "[2001:db8::1]:80".
std::string to_string(const IpAddr& a, std::uint16_t port);

}  // namespace riptide
