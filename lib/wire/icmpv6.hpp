// ICMPv6 (RFC 4443) and the Neighbor Discovery messages (RFC 4861 4): checked views
// and writers, and the ICMPv6 checksum over the IPv6 pseudo-header (RFC 4443 2.3,
// RFC 8200 8.1: wire::pseudo_header_sum_v6).
//
// What the views check is the format only (lengths, option lengths); the rules
// that need the IPv6 header (hop limit 255, source and destination addresses,
// RFC 4861 7.1.1 and 7.1.2) are lib/ip's (lib/ip/icmpv6.hpp).
//
// All functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "common/ip_addr.hpp"
#include "common/result.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv6.hpp"  // kIpv6HeaderLen, kIpv6MinMtu
#include "wire/parse_error.hpp"

namespace riptide::wire {

inline constexpr std::uint8_t kIpProtoIcmpv6 = 58;  // IPv6 Next Header (RFC 4443 1)

// RFC 4443 2.1: error messages have types 0..127, informational 128..255.
inline constexpr std::uint8_t kIcmpv6DestUnreachable = 1;
inline constexpr std::uint8_t kIcmpv6PacketTooBig = 2;
inline constexpr std::uint8_t kIcmpv6TimeExceeded = 3;
inline constexpr std::uint8_t kIcmpv6ParamProblem = 4;
inline constexpr std::uint8_t kIcmpv6EchoRequest = 128;
inline constexpr std::uint8_t kIcmpv6EchoReply = 129;
// RFC 4861 4.1-4.5.
inline constexpr std::uint8_t kNdRouterSolicit = 133;
inline constexpr std::uint8_t kNdRouterAdvert = 134;
inline constexpr std::uint8_t kNdNeighborSolicit = 135;
inline constexpr std::uint8_t kNdNeighborAdvert = 136;
inline constexpr std::uint8_t kNdRedirect = 137;

// RFC 4443 3.1 Destination Unreachable codes.
inline constexpr std::uint8_t kIcmpv6NoRoute = 0;
inline constexpr std::uint8_t kIcmpv6AdminProhibited = 1;
inline constexpr std::uint8_t kIcmpv6BeyondScope = 2;
inline constexpr std::uint8_t kIcmpv6AddrUnreachable = 3;
inline constexpr std::uint8_t kIcmpv6PortUnreachable = 4;
// RFC 4443 3.3 Time Exceeded codes.
inline constexpr std::uint8_t kIcmpv6HopLimitExceeded = 0;
inline constexpr std::uint8_t kIcmpv6ReassemblyTimeExceeded = 1;
// RFC 4443 3.4 Parameter Problem codes.
inline constexpr std::uint8_t kIcmpv6ErroneousHeader = 0;
inline constexpr std::uint8_t kIcmpv6UnknownNextHeader = 1;
inline constexpr std::uint8_t kIcmpv6UnknownOption = 2;

// RFC 4861 4.6 option types.
inline constexpr std::uint8_t kNdOptSourceLinkAddr = 1;
inline constexpr std::uint8_t kNdOptTargetLinkAddr = 2;
inline constexpr std::uint8_t kNdOptPrefixInfo = 3;
inline constexpr std::uint8_t kNdOptRedirectedHeader = 4;
inline constexpr std::uint8_t kNdOptMtu = 5;

inline constexpr std::size_t kIcmpv6HeaderLen = 8;     // type, code, checksum, 4 bytes
inline constexpr std::size_t kNdRsLen = 8;             // RFC 4861 4.1
inline constexpr std::size_t kNdRaLen = 16;            // RFC 4861 4.2
inline constexpr std::size_t kNdNsLen = 24;            // RFC 4861 4.3
inline constexpr std::size_t kNdNaLen = 24;            // RFC 4861 4.4
inline constexpr std::size_t kNdRedirectLen = 40;      // RFC 4861 4.5
inline constexpr std::size_t kNdLinkAddrOptLen = 8;    // RFC 4861 4.6.1, Ethernet (RFC 2464 8)
inline constexpr std::size_t kNdPrefixInfoOptLen = 32; // RFC 4861 4.6.2
inline constexpr std::size_t kNdMtuOptLen = 8;         // RFC 4861 4.6.4
// RFC 8200 5: every link carries 1280-byte packets; RFC 4443 2.4(c): an error
// message holds as much of the invoking packet as fits in that.
inline constexpr std::size_t kIcmpv6ErrorMaxLen = kIpv6MinMtu - kIpv6HeaderLen;

// RFC 4861 4.4 Neighbor Advertisement flags (the first byte after the checksum).
inline constexpr std::uint8_t kNaRouter = 0x80;
inline constexpr std::uint8_t kNaSolicited = 0x40;
inline constexpr std::uint8_t kNaOverride = 0x20;

// One ICMPv6 message (the upper-layer payload of an IPv6 packet).
class Icmpv6View {
 public:
  // Truncated if shorter than 8 bytes: RFC 4443 2.1 gives the 4-byte header, and
  // every message type defined there and in RFC 4861 has at least 4 more.
  static Result<Icmpv6View, ParseError> parse(std::span<const std::byte> message) noexcept;

  [[nodiscard]] std::uint8_t type() const noexcept;
  [[nodiscard]] std::uint8_t code() const noexcept;
  [[nodiscard]] std::uint16_t checksum() const noexcept;
  // RFC 4443 2.1: types below 128 are errors.
  [[nodiscard]] bool is_error() const noexcept { return type() < 128; }
  // Echo (RFC 4443 4.1, 4.2).
  [[nodiscard]] std::uint16_t identifier() const noexcept;
  [[nodiscard]] std::uint16_t sequence() const noexcept;
  // Bytes 4..7: Packet Too Big's MTU (3.2), Parameter Problem's pointer (3.4).
  [[nodiscard]] std::uint32_t word() const noexcept;
  // After the 8 bytes: echo data, or the invoking packet of an error.
  [[nodiscard]] std::span<const std::byte> payload() const noexcept { return bytes_.subspan(kIcmpv6HeaderLen); }
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return bytes_; }
  // RFC 4443 2.3: the message and the pseudo-header sum to 0xffff.
  [[nodiscard]] bool checksum_valid(const IpAddr& src, const IpAddr& dst) const noexcept;

 private:
  explicit Icmpv6View(std::span<const std::byte> b) noexcept : bytes_(b) {}
  std::span<const std::byte> bytes_;
};

// The options of an ND message (RFC 4861 4.6), read once. Of each option the
// stack uses, the first is kept (RFC 4861 7.1.1 and 7.1.2 say nothing of repeats;
// Linux keeps the first of source/target link-layer address too). Unknown
// options are skipped (4.6: "silently ignore"). Prefix Information: the count and
// the first one (a host with a configured address uses neither; parsed so that
// a Router Advertisement is checked).
struct NdOptions {
  std::optional<MacAddr> source_link_addr;
  std::optional<MacAddr> target_link_addr;
  std::optional<std::uint32_t> mtu;
  std::uint32_t prefix_info_count = 0;
  struct PrefixInfo {
    std::uint8_t prefix_len = 0;
    bool on_link = false;     ///< L flag
    bool autonomous = false;  ///< A flag
    std::uint32_t valid_lifetime = 0;
    std::uint32_t preferred_lifetime = 0;
    IpAddr prefix{};
  };
  std::optional<PrefixInfo> first_prefix;
};

// Reads `options` into `out`. RFC 4861 4.6: an option of length 0 is invalid and
// the whole message is discarded (ZeroLengthOption); one that runs past the end
// (OptionOverrun); a link-layer address option shorter than 8 bytes, a prefix
// information option other than 32, an MTU option other than 8 (BadOptionLength).
// A link-layer address option longer than 8 bytes (another link type) is skipped.
[[nodiscard]] Result<NdOptions, ParseError> parse_nd_options(std::span<const std::byte> options) noexcept;

// Neighbor Solicitation (RFC 4861 4.3): reserved, target, options.
struct NeighborSolicitation {
  IpAddr target{};
  NdOptions options;
};
// Neighbor Advertisement (4.4): R, S, O flags, target, options.
struct NeighborAdvertisement {
  bool router = false;
  bool solicited = false;
  bool override_flag = false;
  IpAddr target{};
  NdOptions options;
};
// Router Solicitation (4.1): reserved, options.
struct RouterSolicitation {
  NdOptions options;
};
// Router Advertisement (4.2).
struct RouterAdvertisement {
  std::uint8_t cur_hop_limit = 0;
  bool managed = false;  ///< M
  bool other = false;    ///< O
  std::uint16_t router_lifetime = 0;   ///< seconds
  std::uint32_t reachable_time = 0;    ///< milliseconds
  std::uint32_t retrans_timer = 0;     ///< milliseconds
  NdOptions options;
};
// Redirect (4.5): read so that it can be validated and ignored.
struct Redirect {
  IpAddr target{};
  IpAddr destination{};
  NdOptions options;
};

// Each takes a parsed message of its type (the caller dispatched on type()) and
// checks RFC 4861's length (7.1.1 "ICMP length (derived from the IP length) is 24
// or more octets", 6.1.1 and 6.1.2 for RS and RA, 8.1 for Redirect: Truncated)
// and the options (parse_nd_options).
[[nodiscard]] Result<NeighborSolicitation, ParseError> parse_neighbor_solicitation(const Icmpv6View& m) noexcept;
[[nodiscard]] Result<NeighborAdvertisement, ParseError> parse_neighbor_advertisement(const Icmpv6View& m) noexcept;
[[nodiscard]] Result<RouterSolicitation, ParseError> parse_router_solicitation(const Icmpv6View& m) noexcept;
[[nodiscard]] Result<RouterAdvertisement, ParseError> parse_router_advertisement(const Icmpv6View& m) noexcept;
[[nodiscard]] Result<Redirect, ParseError> parse_redirect(const Icmpv6View& m) noexcept;

// --- writers: each fills `out` from its start and returns the length written,
// checksum included, or 0 (nothing meaningful written) if `out` is too small.
// `src` and `dst` are the IPv6 addresses the message will carry (the checksum
// covers them).

// Echo Request or Reply (RFC 4443 4.1, 4.2) with `data` after the 8 bytes; `data`
// may alias out.subspan(8) (answering in place).
std::size_t write_icmpv6_echo(std::span<std::byte> out, std::uint8_t type, std::uint16_t id, std::uint16_t seq,
                              std::span<const std::byte> data, const IpAddr& src, const IpAddr& dst) noexcept;

// An error message (RFC 4443 3.1-3.4): type, code, the 32-bit word (PTB's MTU,
// Parameter Problem's pointer, 0 otherwise), then as much of `invoking` as keeps
// the message within kIcmpv6ErrorMaxLen and `out` (2.4(c)).
std::size_t write_icmpv6_error(std::span<std::byte> out, std::uint8_t type, std::uint8_t code, std::uint32_t word,
                               std::span<const std::byte> invoking, const IpAddr& src, const IpAddr& dst) noexcept;

// Neighbor Solicitation (RFC 4861 4.3) for `target`, with a Source Link-Layer
// Address option when `source_link_addr` is given (7.2.2: not from the
// unspecified address).
std::size_t write_neighbor_solicitation(std::span<std::byte> out, const IpAddr& target,
                                        std::optional<MacAddr> source_link_addr, const IpAddr& src,
                                        const IpAddr& dst) noexcept;

// Neighbor Advertisement (4.4) with `flags` (kNaRouter | kNaSolicited | kNaOverride)
// and a Target Link-Layer Address option when given.
std::size_t write_neighbor_advertisement(std::span<std::byte> out, std::uint8_t flags, const IpAddr& target,
                                         std::optional<MacAddr> target_link_addr, const IpAddr& src,
                                         const IpAddr& dst) noexcept;

// Router Solicitation (4.1), with a Source Link-Layer Address option when given.
std::size_t write_router_solicitation(std::span<std::byte> out, std::optional<MacAddr> source_link_addr,
                                      const IpAddr& src, const IpAddr& dst) noexcept;

// Router Advertisement (4.2) with a Source Link-Layer Address option and, when
// given, an MTU option (tests and tools: the stack is a host and sends none).
std::size_t write_router_advertisement(std::span<std::byte> out, const RouterAdvertisement& ra,
                                       std::optional<MacAddr> source_link_addr, std::optional<std::uint32_t> mtu,
                                       const IpAddr& src, const IpAddr& dst) noexcept;

// --- IPv6 multicast (RFC 4291 2.7) and its Ethernet mapping (RFC 2464 7).

// ff02::1, all nodes (RFC 4291 2.7.1).
inline constexpr IpAddr kAllNodes = IpAddr::v6(0xff02, 0, 0, 0, 0, 0, 0, 1);
// ff02::2, all routers.
inline constexpr IpAddr kAllRouters = IpAddr::v6(0xff02, 0, 0, 0, 0, 0, 0, 2);

// The solicited-node multicast address of `a`: ff02::1:ff00:0/104 with the low 24
// bits of `a` (RFC 4291 2.7.1).
[[nodiscard]] constexpr IpAddr solicited_node(const IpAddr& a) noexcept {
  IpAddr m = IpAddr::v6(0xff02, 0, 0, 0, 0, 1, 0xff00, 0);
  m.bytes[13] = a.bytes[13];
  m.bytes[14] = a.bytes[14];
  m.bytes[15] = a.bytes[15];
  return m;
}

// RFC 2464 7: 33:33 followed by the last four bytes of the IPv6 multicast address.
[[nodiscard]] constexpr MacAddr multicast_mac(const IpAddr& group) noexcept {
  return MacAddr{{0x33, 0x33, group.bytes[12], group.bytes[13], group.bytes[14], group.bytes[15]}};
}

// The modified EUI-64 interface identifier of a 48-bit MAC (RFC 4291 2.5.1 and
// Appendix A: ff:fe in the middle, the universal/local bit inverted) under
// fe80::/64 (RFC 4862 5.3).
[[nodiscard]] constexpr IpAddr link_local_from_mac(const MacAddr& mac) noexcept {
  IpAddr a = IpAddr::v6(0xfe80, 0, 0, 0, 0, 0, 0, 0);
  a.bytes[8] = static_cast<std::uint8_t>(mac.bytes[0] ^ 0x02);
  a.bytes[9] = mac.bytes[1];
  a.bytes[10] = mac.bytes[2];
  a.bytes[11] = 0xff;
  a.bytes[12] = 0xfe;
  a.bytes[13] = mac.bytes[3];
  a.bytes[14] = mac.bytes[4];
  a.bytes[15] = mac.bytes[5];
  return a;
}

}  // namespace riptide::wire
