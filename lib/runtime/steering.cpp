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

}  // namespace riptide::runtime
