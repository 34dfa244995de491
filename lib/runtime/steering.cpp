#include "runtime/steering.hpp"

#include <rte_thash.h>

#include <cassert>
#include <optional>

#include "common/byte_order.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ipv4.hpp"

namespace riptide::runtime {

Steering::Steering(std::uint16_t workers, std::uint16_t reta_size) : workers_(workers), reta_(reta_size) {
  assert((reta_size & (reta_size - 1)) == 0 && "RETA size is a power of two");
  for (std::size_t i = 0; i < reta_.size(); ++i) reta_[i] = static_cast<std::uint16_t>(i % workers);
}

std::uint32_t Steering::hash(Ipv4Addr src, Ipv4Addr dst, std::uint16_t sport, std::uint16_t dport) const noexcept {
  rte_ipv4_tuple t{};
  t.src_addr = src.value;  // CPU byte order, as rte_softrss wants
  t.dst_addr = dst.value;
  t.sport = sport;
  t.dport = dport;
  return rte_softrss(reinterpret_cast<std::uint32_t*>(&t), RTE_THASH_V4_L4_LEN, kSymmetricRssKey.data());
}

std::uint32_t Steering::hash(const IpAddr& src, const IpAddr& dst, std::uint16_t sport,
                             std::uint16_t dport) const noexcept {
  if (src.is_v4() && dst.is_v4()) return hash(src.v4(), dst.v4(), sport, dport);
  // rte_softrss reads the tuple as CPU-order 32-bit words (rte_thash_load_v6_addrs).
  std::uint32_t t[RTE_THASH_V6_L4_LEN] = {};
  for (int i = 0; i < 4; ++i) {
    t[i] = (std::uint32_t{src.bytes[4 * i]} << 24) | (std::uint32_t{src.bytes[4 * i + 1]} << 16) |
           (std::uint32_t{src.bytes[4 * i + 2]} << 8) | src.bytes[4 * i + 3];
    t[4 + i] = (std::uint32_t{dst.bytes[4 * i]} << 24) | (std::uint32_t{dst.bytes[4 * i + 1]} << 16) |
               (std::uint32_t{dst.bytes[4 * i + 2]} << 8) | dst.bytes[4 * i + 3];
  }
  t[8] = (std::uint32_t{sport} << 16) | dport;
  return rte_softrss(t, RTE_THASH_V6_L4_LEN, kSymmetricRssKey.data());
}

namespace {

constexpr std::size_t kEth = wire::kEthernetHeaderLen;
constexpr std::size_t kIp6 = 40;

std::uint8_t u8(std::span<const std::byte> b, std::size_t i) noexcept { return static_cast<std::uint8_t>(b[i]); }

// The IPv4 header at `ip` carries TCP and is no fragment; its header length.
std::optional<std::size_t> ipv4_tcp(std::span<const std::byte> ip) noexcept {
  if (ip.size() < 20 || (u8(ip, 0) >> 4) != 4 || u8(ip, 9) != wire::kIpProtoTcp) return std::nullopt;
  const std::size_t ihl = (u8(ip, 0) & 0xF) * 4u;
  if (ihl < 20 || (load_be16(ip.data() + 6) & 0x3FFF) != 0 || ip.size() < ihl + 4) return std::nullopt;
  return ihl;
}

// The IPv6 header at `ip` is followed by TCP directly (what riptide sends; a packet
// with extension headers stays where it arrived and is walked there).
bool ipv6_tcp(std::span<const std::byte> ip) noexcept {
  return ip.size() >= kIp6 + 4 && (u8(ip, 0) >> 4) == 6 && u8(ip, 6) == wire::kIpProtoTcp;
}

}  // namespace

Steering::Route Steering::route(std::span<const std::byte> f) const noexcept {
  using Kind = Route::Kind;
  if (f.size() < kEth) return {};
  const std::uint16_t type = load_be16(f.data() + 12);
  const auto ip = f.subspan(kEth);
  if (type == wire::kEtherTypeArp) return {Kind::Everyone, 0};
  if (type == wire::kEtherTypeIpv4) {
    if (const auto ihl = ipv4_tcp(ip)) {
      return {Kind::Owner, owner(Ipv4Addr{load_be32(ip.data() + 12)}, Ipv4Addr{load_be32(ip.data() + 16)},
                                 load_be16(ip.data() + *ihl), load_be16(ip.data() + *ihl + 2))};
    }
    // An ICMP error: to the owner of the segment it quotes (ours: source local).
    if (ip.size() < 20 || u8(ip, 9) != wire::kIpProtoIcmp || (load_be16(ip.data() + 6) & 0x3FFF) != 0) return {};
    const std::size_t ihl = (u8(ip, 0) & 0xF) * 4u;
    if (ip.size() < ihl + 8) return {};
    const std::uint8_t icmp_type = u8(ip, ihl);
    if (icmp_type != wire::kIcmpDestUnreachable && icmp_type != wire::kIcmpTimeExceeded &&
        icmp_type != wire::kIcmpParamProblem) {
      return {};
    }
    const auto q = ip.subspan(ihl + 8);
    const auto qihl = ipv4_tcp(q);
    if (!qihl) return {};
    return {Kind::Owner, owner(Ipv4Addr{load_be32(q.data() + 12)}, Ipv4Addr{load_be32(q.data() + 16)},
                               load_be16(q.data() + *qihl), load_be16(q.data() + *qihl + 2))};
  }
  if (type != wire::kEtherTypeIpv6 || ip.size() < kIp6) return {};
  if (ipv6_tcp(ip)) {
    return {Kind::Owner, owner(IpAddr::from_bytes(ip.data() + 8), IpAddr::from_bytes(ip.data() + 24),
                               load_be16(ip.data() + kIp6), load_be16(ip.data() + kIp6 + 2))};
  }
  if (u8(ip, 6) != wire::kIpProtoIcmpv6 || ip.size() < kIp6 + 8) return {};
  const std::uint8_t icmp_type = u8(ip, kIp6);
  // RFC 4861 4: Neighbor Discovery (types 133..137) is shared like ARP.
  if (icmp_type >= wire::kNdRouterSolicit && icmp_type <= wire::kNdRedirect) return {Kind::Everyone, 0};
  if (icmp_type >= 128) return {};  // echo and other informational messages
  const auto q = ip.subspan(kIp6 + 8);
  if (!ipv6_tcp(q)) return {};
  return {Kind::Owner, owner(IpAddr::from_bytes(q.data() + 8), IpAddr::from_bytes(q.data() + 24),
                             load_be16(q.data() + kIp6), load_be16(q.data() + kIp6 + 2))};
}

}  // namespace riptide::runtime
