#include "io/mbuf_driver.hpp"

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <cassert>
#include <cstring>

#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"

namespace riptide::io {

MbufEngine::MbufEngine(rte_mempool* pool, const StackConfig& stack_cfg, const InterfaceConfig& if_cfg,
                       MbufDriverOptions opts, Instant now)
    : pool_(pool), opts_(opts), stack_(with_interface_addresses(stack_cfg, if_cfg), now), iface_(stack_, if_cfg) {
  // Segments are built in the mbufs that are sent (frame() claims them): the IP
  // packet at the mbuf's data start, the Ethernet header prepended into its headroom.
  const std::size_t room = pool_ != nullptr ? rte_pktmbuf_data_room_size(pool_) : 0;
  if (room >= RTE_PKTMBUF_HEADROOM + wire::kEthernetHeaderLen &&
      RTE_PKTMBUF_HEADROOM >= wire::kEthernetHeaderLen) {
    stack_.engine().set_tx_buffers({&MbufEngine::lend_tx, &MbufEngine::take_back_tx, this, room - RTE_PKTMBUF_HEADROOM});
  }
}

std::byte* MbufEngine::lend_tx(void* ctx, void** handle) {
  rte_mbuf* m = static_cast<MbufEngine*>(ctx)->alloc_tx();
  *handle = m;
  return m != nullptr ? rte_pktmbuf_mtod(m, std::byte*) : nullptr;
}

void MbufEngine::take_back_tx(void*, void* handle) { rte_pktmbuf_free(static_cast<rte_mbuf*>(handle)); }

MbufEngine::MbufEngine(rte_mempool* pool, const StackConfig& stack_cfg, const std::vector<InterfaceConfig>& ports,
                       const RouteTable& routes, MbufDriverOptions opts, Instant now)
    : MbufEngine(pool, stack_cfg, ports.at(0), opts, now) {
  router_ = std::make_unique<Router>(stack_, ports, routes, &iface_);
}

void MbufEngine::tag_port(rte_mbuf* m, std::uint16_t port) noexcept { m->port = port; }

MbufEngine::~MbufEngine() {
  stack_.engine().set_tx_buffers({});  // the mbufs its transmit queue holds go back
  for (std::size_t i = backlog_head_; i < backlog_.size(); ++i) rte_pktmbuf_free(backlog_[i]);
  if (spare_count_ > 0) rte_pktmbuf_free_bulk(spare_.data(), spare_count_);
}

void MbufEngine::input_one(const rte_mbuf* m, Instant now, bool answer_arp, std::uint16_t port) {
  if (m->nb_segs != 1) {
    stack_.shared_counters().inc(Counter::l2_drop_malformed);  // chained mbufs: not expected at MTU 1500
    return;
  }
  // RX checksum offload flags, where the port set them (RTE_MBUF_F_RX_*_CKSUM_*).
  RxChecksum rx;
  const auto ipf = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
  const auto l4f = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
  if (ipf == RTE_MBUF_F_RX_IP_CKSUM_GOOD) rx.ip = RxChecksum::Verdict::Good;
  if (ipf == RTE_MBUF_F_RX_IP_CKSUM_BAD) rx.ip = RxChecksum::Verdict::Bad;
  if (l4f == RTE_MBUF_F_RX_L4_CKSUM_GOOD) rx.l4 = RxChecksum::Verdict::Good;
  if (l4f == RTE_MBUF_F_RX_L4_CKSUM_BAD) rx.l4 = RxChecksum::Verdict::Bad;
  interface(port).input({rte_pktmbuf_mtod(m, const std::byte*), m->data_len}, now, answer_arp, rx);
}

void MbufEngine::input(rte_mbuf** pkts, std::uint16_t n, Instant now, bool answer_arp, std::uint16_t port) {
  for (std::uint16_t i = 0; i < n; ++i) {
    if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void*));
    input_one(pkts[i], now, answer_arp, port);
  }
  recycle(pkts, n);
}

void MbufEngine::recycle(rte_mbuf** pkts, std::uint16_t n) noexcept {
  // A received mbuf of our own pool, used by nobody else, becomes one of the next
  // transmit mbufs (reset as rte_pktmbuf_alloc would): a segment sent in reply
  // costs no pool put and get, and reuses memory the cache already holds. The
  // rest are freed once, in bulk, after the burst.
  std::uint16_t to_free = 0;
  for (std::uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    if (spare_count_ < kSpareMbufs && m->pool == pool_ && RTE_MBUF_DIRECT(m) && m->nb_segs == 1 &&
        rte_mbuf_refcnt_read(m) == 1) {
      rte_pktmbuf_reset(m);
      spare_[spare_count_++] = m;
    } else {
      pkts[to_free++] = m;
    }
  }
  if (to_free > 0) rte_pktmbuf_free_bulk(pkts, to_free);
}

rte_mbuf* MbufEngine::refill_tx() noexcept {
  if (rte_pktmbuf_alloc_bulk(pool_, spare_.data(), kAllocBurst) != 0) {
    return rte_pktmbuf_alloc(pool_);  // the pool is low: one at a time (may be null)
  }
  spare_count_ = kAllocBurst;
  return spare_[--spare_count_];
}

rte_mbuf* MbufEngine::frame(std::span<const std::byte> eth, std::span<const std::byte> ip) {
  rte_mbuf* m = static_cast<rte_mbuf*>(stack_.engine().claim_tx(ip));
  if (m != nullptr) {
    // Built in this mbuf (the Stack's transmit queue lent it): only the Ethernet
    // header is written, into the headroom in front of the IP packet. The
    // interfaces' headers are all 14 bytes (no VLAN tag): a fixed-size copy, inline,
    // not a memcpy call.
    constexpr std::size_t kEth = wire::kEthernetHeaderLen;
    assert(eth.size() == kEth);
    m->data_off = static_cast<std::uint16_t>(m->data_off - kEth);
    m->data_len = static_cast<std::uint16_t>(kEth + ip.size());
    m->pkt_len = m->data_len;
    std::memcpy(rte_pktmbuf_mtod(m, std::byte*), eth.data(), kEth);
  } else {
    m = frame_copy(eth, ip);
    if (m == nullptr) return nullptr;
  }
  if (opts_.tx_checksum_offload && ip.size() >= 20 && static_cast<std::uint8_t>(ip[9]) == wire::kIpProtoTcp) {
    // The stack left the sums to the port (StackConfig::tx_checksum_offload).
    m->l2_len = wire::kEthernetHeaderLen;
    m->l3_len = (static_cast<std::uint8_t>(ip[0]) & 0xF) * 4u;
    m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
  }
  return m;
}

rte_mbuf* MbufEngine::frame_copy(std::span<const std::byte> eth, std::span<const std::byte> ip) {
  // Built elsewhere (ARP, a packet held for resolution, the queue's own memory
  // when the pool ran low): copied.
  rte_mbuf* m = alloc_tx();
  char* p = m ? rte_pktmbuf_append(m, static_cast<std::uint16_t>(eth.size() + ip.size())) : nullptr;
  if (p == nullptr) {
    if (m) rte_pktmbuf_free(m);
    stack_.shared_counters().inc(Counter::tx_no_mbuf);
    return nullptr;
  }
  std::memcpy(p, eth.data(), eth.size());
  std::memcpy(p + eth.size(), ip.data(), ip.size());
  return m;
}

std::uint16_t MbufEngine::take_tx(rte_mbuf** out, std::uint16_t max, Instant now) {
  build_tx(now, [&](rte_mbuf* m) { backlog_.push_back(m); });
  std::uint16_t n = 0;
  while (n < max && backlog_head_ < backlog_.size()) out[n++] = backlog_[backlog_head_++];
  if (backlog_head_ == backlog_.size()) {
    backlog_.clear();
    backlog_head_ = 0;
  }
  return n;
}

}  // namespace riptide::io
