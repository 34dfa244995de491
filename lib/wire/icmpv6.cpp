// RFC 4443 2.1 layout: 0 type  1 code  2 checksum  4 message body.
// RFC 4861 4.1-4.5 bodies and 4.6 options: 0 type  1 length (units of 8 bytes).
#include "wire/icmpv6.hpp"

#include <algorithm>
#include <cstring>

#include "common/byte_order.hpp"
#include "wire/checksum.hpp"

namespace riptide::wire {

Result<Icmpv6View, ParseError> Icmpv6View::parse(std::span<const std::byte> message) noexcept {
  if (message.size() < kIcmpv6HeaderLen) return Unexpected{ParseError::Truncated};
  return Icmpv6View{message};
}

std::uint8_t Icmpv6View::type() const noexcept { return load_u8(bytes_.data()); }
std::uint8_t Icmpv6View::code() const noexcept { return load_u8(bytes_.data() + 1); }
std::uint16_t Icmpv6View::checksum() const noexcept { return load_be16(bytes_.data() + 2); }
std::uint16_t Icmpv6View::identifier() const noexcept { return load_be16(bytes_.data() + 4); }
std::uint16_t Icmpv6View::sequence() const noexcept { return load_be16(bytes_.data() + 6); }
std::uint32_t Icmpv6View::word() const noexcept { return load_be32(bytes_.data() + 4); }

bool Icmpv6View::checksum_valid(const IpAddr& src, const IpAddr& dst) const noexcept {
  const auto len = static_cast<std::uint32_t>(bytes_.size());
  return checksum_fold(checksum_add(bytes_, pseudo_header_sum_v6(src, dst, kIpProtoIcmpv6, len))) == 0;
}

Result<NdOptions, ParseError> parse_nd_options(std::span<const std::byte> options) noexcept {
  NdOptions out;
  std::size_t at = 0;
  while (at < options.size()) {
    // RFC 4861 4.6: type and length bytes must be there; length counts 8 octets.
    if (options.size() - at < 2) return Unexpected{ParseError::OptionOverrun};
    const std::uint8_t type = load_u8(options.data() + at);
    const std::size_t len = std::size_t{load_u8(options.data() + at + 1)} * 8;
    // RFC 4861 4.6: "The value 0 is invalid. Nodes MUST silently discard an ND
    // packet that contains an option with length zero."
    if (len == 0) return Unexpected{ParseError::ZeroLengthOption};
    if (len > options.size() - at) return Unexpected{ParseError::OptionOverrun};
    const std::byte* p = options.data() + at;
    switch (type) {
      case kNdOptSourceLinkAddr:
      case kNdOptTargetLinkAddr: {
        // RFC 2464 8: on Ethernet the option is exactly 8 bytes; a longer one is
        // another link type's, not ours to read.
        if (len != kNdLinkAddrOptLen) break;
        auto& slot = type == kNdOptSourceLinkAddr ? out.source_link_addr : out.target_link_addr;
        if (!slot) slot = load_mac(p + 2);
        break;
      }
      case kNdOptPrefixInfo: {
        // RFC 4861 4.6.2: Length 4.
        if (len != kNdPrefixInfoOptLen) return Unexpected{ParseError::BadOptionLength};
        ++out.prefix_info_count;
        if (!out.first_prefix) {
          NdOptions::PrefixInfo pi;
          pi.prefix_len = load_u8(p + 2);
          pi.on_link = (load_u8(p + 3) & 0x80) != 0;
          pi.autonomous = (load_u8(p + 3) & 0x40) != 0;
          pi.valid_lifetime = load_be32(p + 4);
          pi.preferred_lifetime = load_be32(p + 8);
          pi.prefix = IpAddr::from_bytes(p + 16);
          out.first_prefix = pi;
        }
        break;
      }
      case kNdOptMtu:
        // RFC 4861 4.6.4: Length 1.
        if (len != kNdMtuOptLen) return Unexpected{ParseError::BadOptionLength};
        if (!out.mtu) out.mtu = load_be32(p + 4);
        break;
      default:
        // RFC 4861 4.6: unknown options (and Redirected Header) are skipped.
        break;
    }
    at += len;
  }
  return out;
}

Result<NeighborSolicitation, ParseError> parse_neighbor_solicitation(const Icmpv6View& m) noexcept {
  const auto b = m.bytes();
  if (b.size() < kNdNsLen) return Unexpected{ParseError::Truncated};  // RFC 4861 7.1.1
  auto opts = parse_nd_options(b.subspan(kNdNsLen));
  if (!opts) return Unexpected{opts.error()};
  return NeighborSolicitation{IpAddr::from_bytes(b.data() + 8), *opts};
}

Result<NeighborAdvertisement, ParseError> parse_neighbor_advertisement(const Icmpv6View& m) noexcept {
  const auto b = m.bytes();
  if (b.size() < kNdNaLen) return Unexpected{ParseError::Truncated};  // RFC 4861 7.1.2
  auto opts = parse_nd_options(b.subspan(kNdNaLen));
  if (!opts) return Unexpected{opts.error()};
  const std::uint8_t flags = load_u8(b.data() + 4);
  NeighborAdvertisement na;
  na.router = (flags & kNaRouter) != 0;
  na.solicited = (flags & kNaSolicited) != 0;
  na.override_flag = (flags & kNaOverride) != 0;
  na.target = IpAddr::from_bytes(b.data() + 8);
  na.options = *opts;
  return na;
}

Result<RouterSolicitation, ParseError> parse_router_solicitation(const Icmpv6View& m) noexcept {
  const auto b = m.bytes();
  if (b.size() < kNdRsLen) return Unexpected{ParseError::Truncated};  // RFC 4861 6.1.1
  auto opts = parse_nd_options(b.subspan(kNdRsLen));
  if (!opts) return Unexpected{opts.error()};
  return RouterSolicitation{*opts};
}

Result<RouterAdvertisement, ParseError> parse_router_advertisement(const Icmpv6View& m) noexcept {
  const auto b = m.bytes();
  if (b.size() < kNdRaLen) return Unexpected{ParseError::Truncated};  // RFC 4861 6.1.2
  auto opts = parse_nd_options(b.subspan(kNdRaLen));
  if (!opts) return Unexpected{opts.error()};
  RouterAdvertisement ra;
  ra.cur_hop_limit = load_u8(b.data() + 4);
  ra.managed = (load_u8(b.data() + 5) & 0x80) != 0;
  ra.other = (load_u8(b.data() + 5) & 0x40) != 0;
  ra.router_lifetime = load_be16(b.data() + 6);
  ra.reachable_time = load_be32(b.data() + 8);
  ra.retrans_timer = load_be32(b.data() + 12);
  ra.options = *opts;
  return ra;
}

Result<Redirect, ParseError> parse_redirect(const Icmpv6View& m) noexcept {
  const auto b = m.bytes();
  if (b.size() < kNdRedirectLen) return Unexpected{ParseError::Truncated};  // RFC 4861 8.1
  auto opts = parse_nd_options(b.subspan(kNdRedirectLen));
  if (!opts) return Unexpected{opts.error()};
  return Redirect{IpAddr::from_bytes(b.data() + 8), IpAddr::from_bytes(b.data() + 24), *opts};
}

namespace {

void store_addr(std::byte* p, const IpAddr& a) noexcept { std::memcpy(p, a.bytes.data(), 16); }

// Type, code, zero checksum and the 32-bit word.
void store_header(std::byte* p, std::uint8_t type, std::uint8_t code, std::uint32_t word) noexcept {
  store_u8(p, type);
  store_u8(p + 1, code);
  store_be16(p + 2, 0);
  store_be32(p + 4, word);
}

std::size_t store_link_addr_option(std::byte* p, std::uint8_t type, const MacAddr& mac) noexcept {
  store_u8(p, type);
  store_u8(p + 1, 1);  // 8 bytes
  store_mac(p + 2, mac);
  return kNdLinkAddrOptLen;
}

// RFC 4443 2.3: the checksum over the pseudo-header and the message.
std::size_t finish(std::span<std::byte> out, std::size_t len, const IpAddr& src, const IpAddr& dst) noexcept {
  const std::uint32_t sum =
      checksum_add(out.first(len), pseudo_header_sum_v6(src, dst, kIpProtoIcmpv6, static_cast<std::uint32_t>(len)));
  store_be16(out.data() + 2, checksum_fold(sum));
  return len;
}

}  // namespace

std::size_t write_icmpv6_echo(std::span<std::byte> out, std::uint8_t type, std::uint16_t id, std::uint16_t seq,
                              std::span<const std::byte> data, const IpAddr& src, const IpAddr& dst) noexcept {
  if (out.size() < kIcmpv6HeaderLen || out.size() - kIcmpv6HeaderLen < data.size()) return 0;
  // Data first: it may alias out's data area (memmove handles the overlap).
  if (!data.empty()) std::memmove(out.data() + kIcmpv6HeaderLen, data.data(), data.size());
  store_header(out.data(), type, 0, std::uint32_t{id} << 16 | seq);
  return finish(out, kIcmpv6HeaderLen + data.size(), src, dst);
}

std::size_t write_icmpv6_error(std::span<std::byte> out, std::uint8_t type, std::uint8_t code, std::uint32_t word,
                               std::span<const std::byte> invoking, const IpAddr& src, const IpAddr& dst) noexcept {
  if (out.size() < kIcmpv6HeaderLen) return 0;
  // RFC 4443 2.4(c): as much of the invoking packet as fits without the error
  // message exceeding the minimum IPv6 MTU.
  const std::size_t room = std::min(out.size(), kIcmpv6ErrorMaxLen) - kIcmpv6HeaderLen;
  const std::size_t n = std::min(room, invoking.size());
  if (n != 0) std::memmove(out.data() + kIcmpv6HeaderLen, invoking.data(), n);
  store_header(out.data(), type, code, word);
  return finish(out, kIcmpv6HeaderLen + n, src, dst);
}

std::size_t write_neighbor_solicitation(std::span<std::byte> out, const IpAddr& target,
                                        std::optional<MacAddr> source_link_addr, const IpAddr& src,
                                        const IpAddr& dst) noexcept {
  const std::size_t len = kNdNsLen + (source_link_addr ? kNdLinkAddrOptLen : 0);
  if (out.size() < len) return 0;
  store_header(out.data(), kNdNeighborSolicit, 0, 0);  // RFC 4861 4.3: Reserved 0
  store_addr(out.data() + 8, target);
  if (source_link_addr) store_link_addr_option(out.data() + kNdNsLen, kNdOptSourceLinkAddr, *source_link_addr);
  return finish(out, len, src, dst);
}

std::size_t write_neighbor_advertisement(std::span<std::byte> out, std::uint8_t flags, const IpAddr& target,
                                         std::optional<MacAddr> target_link_addr, const IpAddr& src,
                                         const IpAddr& dst) noexcept {
  const std::size_t len = kNdNaLen + (target_link_addr ? kNdLinkAddrOptLen : 0);
  if (out.size() < len) return 0;
  // RFC 4861 4.4: R, S, O in the top bits, the rest of the 32 bits reserved.
  store_header(out.data(), kNdNeighborAdvert, 0, std::uint32_t{flags} << 24);
  store_addr(out.data() + 8, target);
  if (target_link_addr) store_link_addr_option(out.data() + kNdNaLen, kNdOptTargetLinkAddr, *target_link_addr);
  return finish(out, len, src, dst);
}

std::size_t write_router_solicitation(std::span<std::byte> out, std::optional<MacAddr> source_link_addr,
                                      const IpAddr& src, const IpAddr& dst) noexcept {
  const std::size_t len = kNdRsLen + (source_link_addr ? kNdLinkAddrOptLen : 0);
  if (out.size() < len) return 0;
  store_header(out.data(), kNdRouterSolicit, 0, 0);
  if (source_link_addr) store_link_addr_option(out.data() + kNdRsLen, kNdOptSourceLinkAddr, *source_link_addr);
  return finish(out, len, src, dst);
}

std::size_t write_router_advertisement(std::span<std::byte> out, const RouterAdvertisement& ra,
                                       std::optional<MacAddr> source_link_addr, std::optional<std::uint32_t> mtu,
                                       const IpAddr& src, const IpAddr& dst) noexcept {
  const std::size_t len = kNdRaLen + (source_link_addr ? kNdLinkAddrOptLen : 0) + (mtu ? kNdMtuOptLen : 0);
  if (out.size() < len) return 0;
  std::byte* p = out.data();
  const auto flags = static_cast<std::uint8_t>((ra.managed ? 0x80 : 0) | (ra.other ? 0x40 : 0));
  store_header(p, kNdRouterAdvert, 0,
               std::uint32_t{ra.cur_hop_limit} << 24 | std::uint32_t{flags} << 16 | ra.router_lifetime);
  store_be32(p + 8, ra.reachable_time);
  store_be32(p + 12, ra.retrans_timer);
  std::size_t at = kNdRaLen;
  if (source_link_addr) at += store_link_addr_option(p + at, kNdOptSourceLinkAddr, *source_link_addr);
  if (mtu) {
    store_u8(p + at, kNdOptMtu);
    store_u8(p + at + 1, 1);
    store_be16(p + at + 2, 0);
    store_be32(p + at + 4, *mtu);
    at += kNdMtuOptLen;
  }
  return finish(out, at, src, dst);
}

}  // namespace riptide::wire
