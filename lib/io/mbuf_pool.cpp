#include "io/mbuf_pool.hpp"

#include "io/eth_port.hpp"

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>
#include <rte_memzone.h>

#include <cstring>

namespace riptide::io {
namespace {

constexpr std::size_t kPageSlot = 4096;

std::string why() { return rte_strerror(rte_errno); }

/// What rte_pktmbuf_pool_create_by_ops does, with mempool flags and memory of our
/// own: a page-aligned zone that holds exactly `count` one-page objects.
Result<rte_mempool*, std::string> create_page_slots(const MbufPoolOptions& o) {
  // Objects exactly one page: no spreading over memory channels (it would pad
  // them), and the data room is what is left after the object header and rte_mbuf.
  const unsigned flags = RTE_MEMPOOL_F_NO_SPREAD;
  rte_mempool_objsz sz{};
  rte_mempool_calc_obj_size(sizeof(rte_mbuf), flags, &sz);
  if (sz.header_size + sizeof(rte_mbuf) >= kPageSlot) return Unexpected{std::string("mbuf object header too large")};
  const auto data_room = static_cast<std::uint16_t>(kPageSlot - sz.header_size - sizeof(rte_mbuf));
  const std::uint32_t elt = static_cast<std::uint32_t>(sizeof(rte_mbuf)) + data_room;
  if (rte_mempool_calc_obj_size(elt, flags, &sz) != kPageSlot) {
    return Unexpected{"an mbuf object is " + std::to_string(sz.total_size) + " bytes, not one page"};
  }

  rte_mempool* mp = rte_mempool_create_empty(o.name.c_str(), o.count, elt, o.cache,
                                             sizeof(rte_pktmbuf_pool_private), o.socket, flags);
  if (mp == nullptr) return Unexpected{"rte_mempool_create_empty: " + why()};
  if (int rc = rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), nullptr); rc != 0) {
    rte_mempool_free(mp);
    return Unexpected{std::string("rte_mempool_set_ops_byname: ") + rte_strerror(-rc)};
  }
  rte_pktmbuf_pool_private priv{};
  priv.mbuf_data_room_size = data_room;
  priv.mbuf_priv_size = 0;
  rte_pktmbuf_pool_init(mp, &priv);

  const std::string zone = o.name + "_mz";
  const rte_memzone* mz = rte_memzone_reserve_aligned(zone.c_str(), std::size_t{o.count} * kPageSlot, o.socket,
                                                      RTE_MEMZONE_SIZE_HINT_ONLY, kPageSlot);
  if (mz == nullptr) {
    rte_mempool_free(mp);
    return Unexpected{"memory for " + std::to_string(o.count) + " page-sized mbufs: " + why()};
  }
  // Split where the zone's IOVA is not contiguous (4 KiB pages): one object per
  // page either way. The zone goes with the pool (the callback runs for the first
  // chunk only).
  const int added = rte_mempool_populate_virt(
      mp, static_cast<char*>(mz->addr), mz->len, kPageSlot,
      [](rte_mempool_memhdr*, void* zone_ptr) { rte_memzone_free(static_cast<const rte_memzone*>(zone_ptr)); },
      const_cast<rte_memzone*>(mz));
  if (added < 0 || static_cast<unsigned>(added) != o.count) {
    if (added <= 0) rte_memzone_free(mz);
    rte_mempool_free(mp);
    return Unexpected{"rte_mempool_populate_virt placed " + std::to_string(added) + " of " +
                      std::to_string(o.count) + " mbufs"};
  }
  rte_mempool_obj_iter(mp, rte_pktmbuf_init, nullptr);
  return mp;
}

}  // namespace

Result<rte_mempool*, std::string> create_mbuf_pool(const MbufPoolOptions& o) {
  if (o.layout == MbufPoolLayout::PageSlots) return create_page_slots(o);
  rte_mempool* mp = rte_pktmbuf_pool_create(o.name.c_str(), o.count, o.cache, 0, RTE_MBUF_DEFAULT_BUF_SIZE, o.socket);
  if (mp == nullptr) return Unexpected{why()};
  return mp;
}

bool device_is_af_xdp(const std::string& device) {
  const auto id = EthPort::find(device);
  if (!id) return false;  // opening the port reports it
  rte_eth_dev_info info{};
  if (rte_eth_dev_info_get(*id, &info) != 0 || info.driver_name == nullptr) return false;
  return std::strcmp(info.driver_name, "net_af_xdp") == 0;
}

}  // namespace riptide::io
