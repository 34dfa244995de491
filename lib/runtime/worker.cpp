#include "runtime/worker.hpp"

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include <array>
#include <cstring>

#include "io/eth_port.hpp"

namespace riptide::runtime {

Worker::Worker(io::EthPort& port, rte_mempool* pool, const StackConfig& stack_cfg, const InterfaceConfig& if_cfg,
               const WorkerOptions& opts, Instant now)
    : port_(port), pool_(pool), opts_(opts), stack_(stack_cfg, now), iface_(stack_, if_cfg) {
  tx_.reserve(opts_.burst);
}

Worker::~Worker() {
  for (rte_mbuf* m : tx_) rte_pktmbuf_free(m);
}

void Worker::flush_tx(Instant now, bool force) {
  if (tx_.empty()) return;
  if (!force && tx_.size() < opts_.burst && now - tx_oldest_ < microseconds{opts_.tx_drain_us}) return;
  const auto n = static_cast<std::uint16_t>(tx_.size());
  std::uint16_t sent = 0;
  // A few retries while the ring is momentarily full; then drop and count.
  for (int tries = 0; tries < 4 && sent < n; ++tries) sent += port_.tx_burst(opts_.queue, tx_.data() + sent, n - sent);
  for (std::uint16_t i = sent; i < n; ++i) rte_pktmbuf_free(tx_[i]);
  if (sent < n) stack_.shared_counters().inc(Counter::tx_queue_full, n - sent);
  tx_.clear();
}

std::uint16_t Worker::poll_once(Instant now) {
  std::array<rte_mbuf*, 512> rx{};
  const std::uint16_t n = port_.rx_burst(opts_.queue, rx.data(), std::min<std::uint16_t>(opts_.burst, 512));
  for (std::uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = rx[i];
    if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(rx[i + 1], void*));
    if (m->nb_segs == 1) {
      iface_.input({rte_pktmbuf_mtod(m, const std::byte*), m->data_len}, now);
    } else {
      stack_.shared_counters().inc(Counter::l2_drop_malformed);  // chained mbufs: not expected at MTU 1500
    }
  }
  if (n > 0) rte_pktmbuf_free_bulk(rx.data(), n);
  stack_.advance(now);
  iface_.drain(now, [&](std::span<const std::byte> eth, std::span<const std::byte> ip) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    char* p = m ? rte_pktmbuf_append(m, static_cast<std::uint16_t>(eth.size() + ip.size())) : nullptr;
    if (p == nullptr) {
      if (m) rte_pktmbuf_free(m);
      stack_.shared_counters().inc(Counter::tx_queue_full);
      return;
    }
    std::memcpy(p, eth.data(), eth.size());
    std::memcpy(p + eth.size(), ip.data(), ip.size());
    if (tx_.empty()) tx_oldest_ = now;
    tx_.push_back(m);
    if (tx_.size() >= opts_.burst) flush_tx(now, true);
  });
  // An idle poll flushes at once; a busy one batches up to the drain deadline.
  flush_tx(now, n == 0);
  return n;
}

}  // namespace riptide::runtime
