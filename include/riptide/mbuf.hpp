/// \file
/// <riptide/mbuf.hpp>: the embedding glue for an appliance that owns its DPDK loop
/// (riptide::io::MbufDriver): received mbufs in, due timers, frames out as mbufs.
///
///   riptide::io::MbufDriver driver(pool, stack_cfg, if_cfg, {}, now);
///   driver.stack().listen(addr, port, handler);
///   for (;;) {
///     n = rte_eth_rx_burst(port, 0, pkts, 32);
///     ... keep the frames the appliance handles itself ...
///     driver.input(rest, k, now);           // takes ownership, frees in bulk
///     driver.advance(now);
///     m = driver.take_tx(out, 32, now);     // the caller owns out[0..m)
///     rte_eth_tx_burst(port, 0, out, m);    // free what was not sent
///   }
///
/// Slim (issue 13): it includes <riptide/...> and the standard library only;
/// rte_mbuf and rte_mempool are declared, not defined (include <rte_mbuf.h> to use
/// them). The driver is a facade over a private engine (pimpl): one out-of-line
/// call per burst.
/// Linking needs libdpdk (pkg-config's riptide requires it).
///
/// Received mbufs: one segment each (a chained mbuf is dropped and counted,
/// l2_drop_malformed); the port's RX checksum flags (RTE_MBUF_F_RX_IP_CKSUM_*,
/// RTE_MBUF_F_RX_L4_CKSUM_*) become the Stack's RxChecksum, so a sum the NIC checked
/// is not computed again. Frames out: Ethernet + IPv4/IPv6 + TCP (or ARP, ICMP, ND)
/// in mbufs from `pool`: a segment is built in the mbuf it is sent in (the Stack's
/// transmit queue borrows them), so its payload is copied once, from the send
/// buffer; a frame built elsewhere (ARP, one held for resolution) is copied into one.
/// Over af_xdp, make `pool` with create_mbuf_pool(MbufPoolLayout::PageSlots) (below).
/// With tx_checksum_offload the IPv4 and TCP sums are left
/// to the port and the mbuf carries RTE_MBUF_F_TX_IPV4 | _IP_CKSUM | _TCP_CKSUM with
/// l2_len/l3_len.
///
/// Thread-safety: none, for every member. A driver, its Stack and every mbuf it
/// hands out belong to the one lcore that calls it; the pool may be shared (DPDK
/// mempools are thread-safe with a per-lcore cache).
///
/// Ownership: the driver owns its Stack and Interface(s) (the Stack& it gives out
/// lives as long as the driver) and the mbufs it has not handed out; it does not own the
/// pool, which must outlive it. input() takes the mbufs it is given; take_tx() and
/// build_tx() give theirs away.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "riptide/interface.hpp"
#include "riptide/result.hpp"
#include "riptide/routes.hpp"
#include "riptide/stack.hpp"

struct rte_mbuf;
struct rte_mempool;

namespace riptide {

namespace io {

/// How create_mbuf_pool lays out the pool's objects.
enum class MbufPoolLayout {
  Default,    ///< rte_pktmbuf_pool_create with RTE_MBUF_DEFAULT_BUF_SIZE
  /// One 4 KiB page per mbuf (3,904-byte data room), no gaps, for an af_xdp port:
  /// DPDK 22.11's af_xdp registers only populated_size x object size of the pool
  /// as its UMEM, which misses part of a default pool, and a frame sent from an
  /// mbuf outside it stalls the socket (lib/io/mbuf_pool.hpp has the detail).
  PageSlots,
};

struct MbufPoolOptions {
  std::string name;       ///< the mempool's name (unique in the process)
  unsigned count = 8191;  ///< mbufs
  unsigned cache = 256;   ///< per-lcore cache
  int socket = 0;         ///< NUMA socket
  MbufPoolLayout layout = MbufPoolLayout::Default;
};

/// A packet mbuf pool (EAL initialised, main lcore), or what failed and why. Free
/// it with rte_mempool_free.
[[nodiscard]] Result<rte_mempool*, std::string> create_mbuf_pool(const MbufPoolOptions& opts);

/// True when `device` (an ethdev name; empty: the first port) is driven by the
/// af_xdp PMD, whose pool wants MbufPoolLayout::PageSlots. False when there is no
/// such port.
[[nodiscard]] bool device_is_af_xdp(const std::string& device);

struct MbufDriverOptions {
  /// Leave the IPv4 and TCP checksums of outgoing TCP segments to the port
  /// (PortCapabilities::tx_cksum_enabled); must match StackConfig::tx_checksum_offload.
  bool tx_checksum_offload = false;
};

class MbufEngine;  // the engine (lib/io/mbuf_driver.hpp): private to the library

class MbufDriver {
 public:
  /// `pool`: where transmit mbufs come from (data room >= 2048 bytes); not owned.
  /// Builds the Stack (with the Interface's addresses added, with_interface_addresses)
  /// and the Interface. Start-up, not the data path.
  MbufDriver(rte_mempool* pool, const StackConfig& stack_cfg, const InterfaceConfig& if_cfg,
             MbufDriverOptions opts, Instant now);
  /// Several ports: ports[i] is port i's link layer, the
  /// routing table (the ports' connected subnets, then `routes`) picks each
  /// packet's egress port, and every frame build_tx()/take_tx() hands out carries
  /// its port's index in m->port. input() takes the port a burst arrived on.
  MbufDriver(rte_mempool* pool, const StackConfig& stack_cfg, const std::vector<InterfaceConfig>& ports,
             const RouteTable& routes, MbufDriverOptions opts, Instant now);
  ~MbufDriver();  ///< frees the mbufs still held (take_tx backlog, spares)
  MbufDriver(const MbufDriver&) = delete;
  MbufDriver& operator=(const MbufDriver&) = delete;

  /// The driver's Stack (owned by the driver): listen(), connect(), ... on it.
  [[nodiscard]] Stack& stack() noexcept { return *stack_; }
  /// Ports (link layers, one Interface each, owned by the driver): 1 unless built
  /// with several.
  [[nodiscard]] std::size_t port_count() const noexcept;
  /// Announces every port's addresses: a gratuitous ARP (RFC 5227 3) and, with
  /// IPv6, unsolicited Neighbor Advertisements (RFC 4861 7.2.6), queued for
  /// take_tx(). Call once the port is up.
  void announce();

  /// Received frames, processed in order and then freed in bulk: the driver takes
  /// ownership of all n. answer_arp = false: learn from ARP and ND frames without
  /// replying (a copy another core already answered). `port`: the port they arrived
  /// on (several ports; 0 otherwise). Handler callbacks run from inside this call.
  void input(rte_mbuf** pkts, std::uint16_t n, Instant now, bool answer_arp = true, std::uint16_t port = 0);
  /// One frame, not freed: the caller keeps it (e.g. to pass it on after riptide saw it).
  void input_one(const rte_mbuf* m, Instant now, bool answer_arp = true, std::uint16_t port = 0);

  /// Runs the timers that are due (retransmissions, delayed ACKs, TIME-WAIT expiry).
  void advance(Instant now);

  /// Moves up to `max` frames ready to send into out[]; the caller owns them (and
  /// sends or frees them). What does not fit waits for the next call, in order.
  std::uint16_t take_tx(rte_mbuf** out, std::uint16_t max, Instant now);

  /// A function build_tx() hands each frame to; it takes ownership of the mbuf.
  using MbufSink = void (*)(void* ctx, rte_mbuf* m);
  /// Builds every frame ready to send and hands each to sink(ctx, m), which takes
  /// ownership; the zero-wait form take_tx() is built on. Returns how many.
  std::size_t build_tx(Instant now, MbufSink sink, void* ctx);
  /// The same with any callable sink(rte_mbuf*).
  template <class Sink>
  std::size_t build_tx(Instant now, Sink&& sink) {
    using Fn = std::remove_reference_t<Sink>;
    return build_tx(now, [](void* ctx, rte_mbuf* m) { (*static_cast<Fn*>(ctx))(m); },
                    const_cast<void*>(static_cast<const void*>(std::addressof(sink))));
  }

  /// Frames built but not yet taken by take_tx().
  [[nodiscard]] std::size_t tx_backlog() const noexcept;

  /// The engine, for code inside the library (an incomplete type here).
  [[nodiscard]] MbufEngine& engine() noexcept { return *engine_; }

 private:
  std::unique_ptr<MbufEngine> engine_;
  Stack* stack_;  ///< the engine's, cached: stack() is inline
};

}  // namespace io
}  // namespace riptide
