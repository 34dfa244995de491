#include "runtime/steering.hpp"

#include <rte_thash.h>

#include <cassert>

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

}  // namespace riptide::runtime
