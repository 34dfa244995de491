// The packet pool's layouts (lib/io/mbuf_pool.hpp). DPDK 22.11's af_xdp PMD
// registers populated_size x object size bytes from the pool's first object (its
// first memory chunk, aligned down to a page) as the kernel's UMEM; an mbuf outside
// that range stalls the socket. These tests compute that range the way the PMD does
// (xdp_umem_configure) and check which objects fall in it. The suite's EAL runs
// with --no-huge: 4 KiB pages, the demo's and the interop suite's memory.
#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <unistd.h>

#include <cstdint>
#include <vector>

#include "io/mbuf_pool.hpp"

namespace riptide::io {
namespace {

struct Umem {
  std::uintptr_t base = 0;
  std::uint64_t size = 0;
};

// As xdp_umem_configure (drivers/net/af_xdp, DPDK 22.11, unaligned chunks) does.
Umem umem_of(const rte_mempool* mp) {
  const rte_mempool_memhdr* first = STAILQ_FIRST(&mp->mem_list);
  const auto addr = reinterpret_cast<std::uintptr_t>(first->addr);
  const auto page = static_cast<std::uintptr_t>(getpagesize());
  const std::uintptr_t base = addr & ~(page - 1);
  const std::uint64_t frame = rte_mempool_calc_obj_size(mp->elt_size, mp->flags, nullptr);
  return {base, std::uint64_t{mp->populated_size} * frame + (addr - base)};
}

// Every object's whole extent (header to trailer), as the kernel would check a
// descriptor's chunk.
std::vector<std::pair<std::uintptr_t, std::uintptr_t>> extents(rte_mempool* mp) {
  std::vector<std::pair<std::uintptr_t, std::uintptr_t>> out;
  rte_mempool_obj_iter(
      mp,
      [](rte_mempool* m, void* v, void* obj, unsigned) {
        const auto o = reinterpret_cast<std::uintptr_t>(obj);
        static_cast<decltype(out)*>(v)->emplace_back(o - m->header_size, o + m->elt_size + m->trailer_size);
      },
      &out);
  return out;
}

std::size_t outside(rte_mempool* mp) {
  const Umem u = umem_of(mp);
  std::size_t n = 0;
  for (const auto& [lo, hi] : extents(mp)) n += lo < u.base || hi > u.base + u.size;
  return n;
}

TEST(MbufPool, PageSlotsLieWhollyInTheUmemAnAfXdpPortRegisters) {
  MbufPoolOptions o;
  o.name = "test_page_slots";
  o.count = 3000;
  o.cache = 64;
  o.layout = MbufPoolLayout::PageSlots;
  auto pool = create_mbuf_pool(o);
  ASSERT_TRUE(pool) << pool.error();
  rte_mempool* mp = *pool;
  EXPECT_EQ(mp->populated_size, 3000u);
  EXPECT_EQ(rte_mempool_calc_obj_size(mp->elt_size, mp->flags, nullptr), 4096u);
  EXPECT_EQ(outside(mp), 0u);
  for (const auto& [lo, hi] : extents(mp)) {
    EXPECT_EQ(lo % 4096, 0u);  // one object per page: none crosses one
    EXPECT_EQ(hi - lo, 4096u);
  }
  // Room for a full Ethernet frame behind af_xdp's receive headroom (object header,
  // rte_mbuf, RTE_PKTMBUF_HEADROOM, then XDP_PACKET_HEADROOM = 256).
  const std::size_t rx_room = 4096 - (mp->header_size + sizeof(rte_mbuf) + RTE_PKTMBUF_HEADROOM) - 256;
  EXPECT_GE(rx_room, 1518u);
  EXPECT_EQ(rte_pktmbuf_data_room_size(mp), 4096 - mp->header_size - sizeof(rte_mbuf));

  // They are ordinary mbufs: the whole pool can be taken and given back.
  std::vector<rte_mbuf*> all(3000);
  ASSERT_EQ(rte_pktmbuf_alloc_bulk(mp, all.data(), 3000), 0);
  for (rte_mbuf* m : all) {
    EXPECT_EQ(m->data_off, RTE_PKTMBUF_HEADROOM);
    EXPECT_EQ(m->buf_len, rte_pktmbuf_data_room_size(mp));
    EXPECT_NE(rte_pktmbuf_append(m, 1514), nullptr);
  }
  rte_pktmbuf_free_bulk(all.data(), 3000);
  EXPECT_EQ(rte_mempool_avail_count(mp), 3000u);
  rte_mempool_free(mp);
}

TEST(MbufPool, TheDefaultLayoutLeavesMbufsOutsideThatUmemOnSmallPages) {
  // Why af_xdp ports get PageSlots: with 4 KiB pages the default 2,368-byte objects
  // sit one per page, so the PMD's populated_size x object size misses ~40% of them.
  if (getpagesize() != 4096) GTEST_SKIP() << "pages of " << getpagesize() << " bytes";
  MbufPoolOptions o;
  o.name = "test_default_layout";
  o.count = 3000;
  o.cache = 64;
  auto pool = create_mbuf_pool(o);
  ASSERT_TRUE(pool) << pool.error();
  EXPECT_GT(outside(*pool), 3000u / 4);
  rte_mempool_free(*pool);
}

TEST(MbufPool, OnlyAnAfXdpDeviceAsksForPageSlots) {
  EXPECT_FALSE(device_is_af_xdp("net_no_such_port"));
}

}  // namespace
}  // namespace riptide::io
