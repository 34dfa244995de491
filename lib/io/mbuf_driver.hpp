/// \file
/// MbufEngine: the engine behind the public io::MbufDriver (include/riptide/mbuf.hpp,
/// a facade owning one through a pointer, lib/io/mbuf_api.cpp); riptide's Worker
/// holds an MbufEngine itself, so its per-frame build_tx() sink is inlined. Not
/// installed.
///
/// A Stack and its Interface driven with DPDK mbufs. The embedding glue
/// (issue 13): riptide's own Worker uses it, and so does an appliance that owns its
/// DPDK loop and gives riptide only the frames it wants terminated, as TLDK's
/// tle_tcp_rx_bulk / tle_tcp_tx_bulk do:
///
///   driver.input(pkts, n, now);          // frames in (consumed: freed by the driver)
///   driver.advance(now);                 // timers that are due
///   n = driver.take_tx(out, max, now);   // frames out, as mbufs the caller now owns
///
/// Received mbufs: one segment each (a chained mbuf is dropped and counted,
/// l2_drop_malformed); the port's RX checksum flags (RTE_MBUF_F_RX_IP_CKSUM_*,
/// RTE_MBUF_F_RX_L4_CKSUM_*) become the Stack's RxChecksum, so a sum the NIC checked
/// is not computed again. Frames out: the Stack builds each packet in an mbuf from
/// `pool` (its transmit queue borrows them: ip::TxBufferSource), and frame() only
/// prepends the Ethernet header into the headroom; a packet built elsewhere (ARP,
/// one held for resolution, the queue's own memory when the pool ran low) is
/// copied into one. An af_xdp port needs its pool made by io::create_mbuf_pool
/// with MbufPoolLayout::PageSlots (lib/io/mbuf_pool.hpp: DPDK 22.11's UMEM
/// misses part of a default pool). With tx_checksum_offload the IPv4 and TCP
/// sums are left to the port and the mbuf carries RTE_MBUF_F_TX_IPV4 | _IP_CKSUM |
/// _TCP_CKSUM with l2_len/l3_len.
///
/// Thread-safety: none. A driver, its Stack and every mbuf it hands out belong to the
/// one lcore that calls it; the pool may be shared (DPDK mempools are thread-safe
/// with a per-lcore cache).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/time.hpp"
#include "ip/interface.hpp"
#include "ip/router.hpp"
#include "ip/routes.hpp"
#include "riptide/mbuf.hpp"  // MbufDriver (the public facade), MbufDriverOptions
#include "stack/stack.hpp"

struct rte_mbuf;
struct rte_mempool;

namespace riptide::io {

class MbufEngine {
 public:
  /// `pool`: where transmit mbufs come from (data room >= 2048 bytes).
  MbufEngine(rte_mempool* pool, const StackConfig& stack_cfg, const InterfaceConfig& if_cfg,
             MbufDriverOptions opts, Instant now);
  /// Several ports: ports[i] is port i's link layer (ports[0] is interface()), the
  /// Router's table (the ports' connected subnets, then `routes`) picks each
  /// packet's egress port, and every frame build_tx()/take_tx() hands out carries
  /// its port's index in m->port. input() takes the port a burst arrived on.
  MbufEngine(rte_mempool* pool, const StackConfig& stack_cfg, const std::vector<InterfaceConfig>& ports,
             const RouteTable& routes, MbufDriverOptions opts, Instant now);
  ~MbufEngine();  ///< frees the mbufs still held (take_tx backlog, spares)
  MbufEngine(const MbufEngine&) = delete;
  MbufEngine& operator=(const MbufEngine&) = delete;

  [[nodiscard]] Stack& stack() noexcept { return stack_; }
  [[nodiscard]] Interface& interface() noexcept { return iface_; }
  /// Port i's link layer (0: interface()); port_count() is 1 unless built with several.
  [[nodiscard]] Interface& interface(std::size_t port) noexcept { return router_ ? router_->port(port) : iface_; }
  [[nodiscard]] std::size_t port_count() const noexcept { return router_ ? router_->port_count() : 1; }

  /// Received frames, processed in order and then freed in bulk: the driver takes
  /// ownership of all n. answer_arp = false: learn from ARP and ND frames without replying
  /// (a copy another core already answered).
  /// `port`: the port they arrived on (several ports; 0 otherwise).
  void input(rte_mbuf** pkts, std::uint16_t n, Instant now, bool answer_arp = true, std::uint16_t port = 0);
  /// One frame, not freed: the caller keeps it (e.g. to pass it on after riptide saw it).
  void input_one(const rte_mbuf* m, Instant now, bool answer_arp = true, std::uint16_t port = 0);

  /// Runs the timers that are due (retransmissions, delayed ACKs, TIME-WAIT expiry).
  void advance(Instant now) { stack_.engine().advance(now); }

  /// Moves up to `max` frames ready to send into out[]; the caller owns them (and
  /// sends or frees them). What does not fit waits for the next call, in order.
  std::uint16_t take_tx(rte_mbuf** out, std::uint16_t max, Instant now);

  /// Builds every frame ready to send and hands each to sink(rte_mbuf*), which takes
  /// ownership; the zero-wait form take_tx() is built on (the Worker batches itself).
  template <class Sink>
  std::size_t build_tx(Instant now, Sink&& sink) {
    if (router_) {
      return router_->drain(now, [&](std::uint16_t port, std::span<const std::byte> eth,
                                     std::span<const std::byte> ip) {
        if (rte_mbuf* m = frame(eth, ip)) {
          tag_port(m, port);
          sink(m);
        }
      });
    }
    return iface_.drain(now, [&](std::span<const std::byte> eth, std::span<const std::byte> ip) {
      if (rte_mbuf* m = frame(eth, ip)) sink(m);
    });
  }

  /// Frames built but not yet taken by take_tx().
  [[nodiscard]] std::size_t tx_backlog() const noexcept { return backlog_.size() - backlog_head_; }

 private:
  rte_mbuf* frame(std::span<const std::byte> eth, std::span<const std::byte> ip);  ///< null: counted
  /// frame() for a packet not built in a lent mbuf: copied into a new one. Out of
  /// line, so that frame()'s usual path saves no registers for it.
  [[gnu::noinline]] rte_mbuf* frame_copy(std::span<const std::byte> eth, std::span<const std::byte> ip);
  rte_mbuf* alloc_tx() noexcept { return spare_count_ > 0 ? spare_[--spare_count_] : refill_tx(); }
  rte_mbuf* refill_tx() noexcept;
  /// A received burst, done with: into the transmit spares where it can be, else freed.
  void recycle(rte_mbuf** pkts, std::uint16_t n) noexcept;
  /// The Stack's transmit-queue buffers (ip::TxBufferSource): mbufs from alloc_tx().
  static std::byte* lend_tx(void* ctx, void** handle);
  static void take_back_tx(void* ctx, void* handle);
  static void tag_port(rte_mbuf* m, std::uint16_t port) noexcept;

  rte_mempool* pool_;
  MbufDriverOptions opts_;
  Stack stack_;
  Interface iface_;
  std::unique_ptr<Router> router_;  ///< several ports only (iface_ is its port 0)
  /// Transmit mbufs taken from the pool a burst at a time (rte_pktmbuf_alloc_bulk):
  /// one pool operation per 32 segments instead of one per segment; and received
  /// mbufs kept for transmit (recycle()), up to a burst's worth.
  static constexpr unsigned kSpareMbufs = 64;
  static constexpr unsigned kAllocBurst = 32;
  std::array<rte_mbuf*, kSpareMbufs> spare_{};
  unsigned spare_count_ = 0;
  std::vector<rte_mbuf*> backlog_;  ///< built, waiting for take_tx (from backlog_head_)
  std::size_t backlog_head_ = 0;
};

}  // namespace riptide::io
