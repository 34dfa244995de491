#include "runtime/worker.hpp"

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_pcapng.h>

#include <array>

#include "common/byte_order.hpp"
#include "io/eth_port.hpp"
#include "runtime/steering.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ipv4.hpp"

namespace riptide::runtime {

Worker::Worker(io::EthPort& port, rte_mempool* pool, const StackConfig& stack_cfg, const InterfaceConfig& if_cfg,
               const WorkerOptions& opts, Instant now)
    : ports_{&port},
      pool_(pool),
      opts_(opts),
      driver_(pool, stack_cfg, if_cfg, io::MbufDriverOptions{opts.tx_checksum_offload}, now),
      tx_(1),
      traffic_(1) {
  tx_[0].frames.reserve(opts_.burst);
}

Worker::Worker(std::vector<io::EthPort*> ports, rte_mempool* pool, const StackConfig& stack_cfg,
               const std::vector<InterfaceConfig>& if_cfgs, const RouteTable& routes, const WorkerOptions& opts,
               Instant now)
    : ports_(std::move(ports)),
      pool_(pool),
      opts_(opts),
      driver_(pool, stack_cfg, if_cfgs, routes, io::MbufDriverOptions{opts.tx_checksum_offload}, now),
      tx_(ports_.size()),
      traffic_(ports_.size()) {
  for (TxBatch& b : tx_) b.frames.reserve(opts_.burst);
}

Worker::~Worker() {
  for (TxBatch& b : tx_) {
    for (rte_mbuf* m : b.frames) rte_pktmbuf_free(m);
  }
  for (Mailbox* in : inbox_) {
    if (in == nullptr) continue;
    in->consume_all([](rte_mbuf* m) { rte_pktmbuf_free(m); });
  }
}

void Worker::connect_mailboxes(std::vector<Mailbox*> outbox, std::vector<Mailbox*> inbox) {
  outbox_ = std::move(outbox);
  inbox_ = std::move(inbox);
}

void Worker::capture(std::size_t port, rte_mbuf* const* pkts, std::uint16_t n, bool outbound) noexcept {
  std::array<rte_mbuf*, 512> copies;
  std::uint16_t k = 0;
  const std::uint64_t ts = rte_get_tsc_cycles();
  for (std::uint16_t i = 0; i < n && k < copies.size(); ++i) {
    rte_mbuf* c = rte_pcapng_copy(ports_[port]->id(), opts_.queue, pkts[i], capture_pool_, UINT32_MAX, ts,
                                  outbound ? RTE_PCAPNG_DIRECTION_OUT : RTE_PCAPNG_DIRECTION_IN);
    if (c != nullptr) copies[k++] = c;
  }
  if (k > 0) rte_pcapng_write_packets(capture_, copies.data(), k);  // frees the copies
}

void Worker::serve_snapshot() {
  std::uint64_t want = 0;
  commands_.consume_all([&](const Command& c) {
    if (c.kind == Command::Kind::SnapshotConnections) want = std::max(want, c.ticket);
  });
  if (want == 0) return;
  snapshot_.clear();
  stack().for_each_connection([&](const ConnInfo& c) {
    if (snapshot_.size() < 4096) snapshot_.push_back(c);
  });
  snapshot_served_.store(want, std::memory_order_release);
}

void Worker::flush_tx(Instant now, bool force) {
  for (std::size_t p = 0; p < tx_.size(); ++p) flush_port(p, now, force);
}

void Worker::flush_port(std::size_t p, Instant now, bool force) {
  std::vector<rte_mbuf*>& tx = tx_[p].frames;
  if (tx.empty()) return;
  if (!force && tx.size() < opts_.burst && now - tx_[p].oldest < microseconds{opts_.tx_drain_us}) return;
  const auto n = static_cast<std::uint16_t>(tx.size());
  if (capture_ != nullptr) capture(p, tx.data(), n, true);
  std::uint16_t sent = 0;
  // A few retries while the ring is momentarily full; then drop and count.
  for (int tries = 0; tries < 4 && sent < n; ++tries) {
    sent += ports_[p]->tx_burst(opts_.queue, tx.data() + sent, n - sent);
  }
  for (std::uint16_t i = sent; i < n; ++i) rte_pktmbuf_free(tx[i]);
  if (sent < n) stack().shared_counters().inc(Counter::tx_queue_full, n - sent);
  traffic_[p].tx += sent;
  traffic_[p].tx_dropped += n - sent;
  tx.clear();
}

bool Worker::steer(rte_mbuf* m) {
  if (opts_.steering == nullptr || outbox_.empty() || m->nb_segs != 1) return false;
  const std::span<const std::byte> f{rte_pktmbuf_mtod(m, const std::byte*), m->data_len};
  const Steering::Route r = opts_.steering->route(f, /*tcp=*/!opts_.rss_places_tcp);
  switch (r.kind) {
    case Steering::Route::Kind::Local:
      return false;
    case Steering::Route::Kind::Everyone:
      // Every worker keeps its own neighbour cache: each gets the ARP (or ND) frame.
      for (std::size_t k = 0; k < outbox_.size(); ++k) {
        if (outbox_[k] == nullptr) continue;
        rte_mbuf_refcnt_update(m, 1);
        if (!outbox_[k]->push(m)) {
          rte_mbuf_refcnt_update(m, -1);
          stack().shared_counters().inc(Counter::steer_drop_mailbox_full);
        }
      }
      return false;  // and we handle it too
    case Steering::Route::Kind::Owner:
      break;
  }
  if (r.owner == opts_.queue || r.owner >= outbox_.size() || outbox_[r.owner] == nullptr) return false;
  if (outbox_[r.owner]->push(m)) {
    stack().shared_counters().inc(Counter::steer_forwarded);
  } else {
    stack().shared_counters().inc(Counter::steer_drop_mailbox_full);
    rte_pktmbuf_free(m);
  }
  return true;
}

namespace {

// A pure SYN (SYN without ACK or RST) in an untagged IPv4 frame: a new connection
// request for a listener. Anything else is a segment of an existing connection
// (or not TCP) and keeps its place.
bool pure_syn(const rte_mbuf* m) noexcept {
  const auto* f = rte_pktmbuf_mtod(m, const std::byte*);
  if (m->data_len < wire::kEthernetHeaderLen + 20 + 14) return false;
  if (load_be16(f + 12) != wire::kEtherTypeIpv4) return false;
  const std::byte* ip = f + wire::kEthernetHeaderLen;
  const std::size_t ihl = (load_u8(ip) & 0xF) * 4u;
  if (m->data_len < wire::kEthernetHeaderLen + ihl + 14) return false;
  // The flags byte first: most frames of a burst are not SYNs and stop here, before
  // the protocol and fragment are looked at (a non-TCP frame's byte there is
  // only data, in bounds).
  const std::uint8_t flags = load_u8(ip + ihl + 13);
  if ((flags & 0x16) != 0x02) return false;  // SYN, not ACK, not RST
  return load_u8(ip + 9) == wire::kIpProtoTcp && (load_be16(ip + 6) & 0x3FFF) == 0;
}

}  // namespace

std::uint16_t Worker::syns_last(rte_mbuf** pkts, std::uint16_t n) noexcept {
  // Stable: the other frames keep their order, the SYNs theirs, after them.
  std::array<rte_mbuf*, 512> syns;
  std::uint16_t kept = 0, moved = 0, deferred = 0;
  for (std::uint16_t i = 0; i < n; ++i) {
    if (pure_syn(pkts[i])) {
      syns[moved++] = pkts[i];
    } else {
      deferred = moved;  // the SYNs seen so far now go after this frame
      pkts[kept++] = pkts[i];
    }
  }
  for (std::uint16_t i = 0; i < moved; ++i) pkts[kept + i] = syns[i];
  return deferred;
}

std::uint16_t Worker::poll_once(Instant now) {
  std::array<rte_mbuf*, 512> rx;  // not zeroed: rx_burst fills what it returns
  const std::uint16_t want = std::min<std::uint16_t>(opts_.burst, 512);
  std::uint16_t received = 0;
  bool behind = false;
  for (std::size_t p = 0; p < ports_.size(); ++p) {
    const std::uint16_t n = ports_[p]->rx_burst(opts_.queue, rx.data(), want);
    received += n;
    // A full burst: more is waiting in the ring, the core is behind. New handshakes
    // get cookies only (no record, no timer) until a burst comes back short, so the
    // segments of established connections keep their records (issue 14). Set
    // before the burst is processed, so the SYNs in it are the ones shed.
    behind = behind || n == want;
    stack().engine().set_shedding(opts_.shed_when_behind && behind);
    if (n == 0) continue;
    traffic_[p].rx += n;
    if (capture_ != nullptr) capture(p, rx.data(), n, false);
    const auto port = static_cast<std::uint16_t>(p);
    // Frames for flows another worker owns go to it (m->port tells it which of
    // our ports the frame came in on); ours go to the driver, which frees them in
    // bulk after the burst.
    std::uint16_t local = n;
    if (opts_.steering != nullptr) {
      local = 0;
      for (std::uint16_t i = 0; i < n; ++i) {
        rx[i]->port = port;
        if (!steer(rx[i])) rx[local++] = rx[i];
      }
    }
    // Behind (a full burst): the segments of established connections go to the
    // stack before new connection requests, so a burst of SYNs cannot delay them,
    // and (with shed_when_behind) those SYNs get cookies, not records (issue 14).
    // Only pure SYNs move, to the end: every other frame keeps its order, so each
    // flow's does.
    if (n == want && opts_.syns_last) {
      const std::uint16_t deferred = syns_last(rx.data(), local);
      if (deferred > 0) stack().shared_counters().inc(Counter::rx_syn_deferred, deferred);
    }
    driver_.input(rx.data(), local, now, true, port);
  }
  // Frames other workers received for flows we own.
  std::uint16_t from_others = 0;
  for (Mailbox* in : inbox_) {
    if (in == nullptr) continue;
    from_others += static_cast<std::uint16_t>(in->consume_all([&](rte_mbuf* m) {
      stack().shared_counters().inc(Counter::steer_received);
      // An ARP or ND copy from another worker: that worker answered; we only learn.
      driver_.input(&m, 1, now, /*answer_arp=*/false, ports_.size() == 1 ? 0 : m->port);
    }));
  }
  driver_.advance(now);
  if (poll_hook_ != nullptr) poll_hook_(poll_hook_ctx_, stack(), now);
  driver_.build_tx(now, [&](rte_mbuf* m) {
    // Several ports: the driver tagged each frame with its egress port.
    const std::size_t p = ports_.size() == 1 ? 0 : m->port;
    TxBatch& b = tx_[p];
    if (b.frames.empty()) b.oldest = now;
    b.frames.push_back(m);
    if (b.frames.size() >= opts_.burst) flush_port(p, now, true);
  });
  // An idle poll flushes at once; a busy one batches up to the drain deadline.
  flush_tx(now, received == 0 && from_others == 0);
  serve_snapshot();
  return static_cast<std::uint16_t>(received + from_others);
}

}  // namespace riptide::runtime
