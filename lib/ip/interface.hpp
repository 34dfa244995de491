/// \file
/// Interface: one port's link layer in front of a Stack, per core. Ethernet in and
/// out, ARP (RFC 826) answered for our addresses (every local address of the Stack) and used to resolve next hops, with
/// a per-core cache that expires entries and a bounded queue of packets waiting for
/// a resolution; a static route (on-link subnet + default gateway); gratuitous ARP
/// at start-up (RFC 5227 3's announcement).
///
/// input(frame, now) takes a received Ethernet frame; drain(now, f) pulls what the
/// Stack wants sent and hands f(eth_header, ipv4_packet) ready-to-send frames (the
/// caller copies both into its transmit buffer: one copy into the mbuf).
///
/// Layering: DESIGN.md puts lib/ip below lib/stack; this class still holds a Stack&
/// (input, drain_tx, is_local, the shared counters), so lib/ip depends on lib/stack
/// until IPv4 input/output moves into lib/ip (issue 13; lib/ip/meson.build).
///
/// Thread-safety: none; on the Stack's core.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "common/ip_addr.hpp"
#include "common/time.hpp"
#include "stack/stack.hpp"
#include "wire/arp.hpp"
#include "wire/ethernet.hpp"

namespace riptide {

struct InterfaceConfig {
  wire::MacAddr mac{};
  Ipv4Addr addr{};                   ///< must be one of the Stack's local_addrs
  /// ARP is answered for addr .. addr+addr_count-1 (this port's addresses, with
  /// several ports: Router). 0: for every local address of the Stack (one port).
  std::uint32_t addr_count = 0;
  std::uint8_t prefix_len = 24;      ///< the on-link subnet
  std::optional<Ipv4Addr> gateway;   ///< default route; none: only the subnet is reachable
  Duration arp_reachable = std::chrono::seconds{60};  ///< a learned entry's lifetime
  Duration arp_retry = std::chrono::seconds{1};       ///< between requests while unresolved
  std::uint32_t arp_attempts = 3;                     ///< requests before the waiting packets drop
  std::uint32_t arp_cache_size = 1024;
  std::uint32_t pending_packets = 256;                ///< waiting for ARP, all next hops together
};

class Interface {
 public:
  Interface(Stack& stack, InterfaceConfig cfg);

  /// One received Ethernet frame: ARP handled here, IPv4 for us passed to the Stack.
  /// answer_arp = false: learn from ARP but do not reply (a copy another worker
  /// already answered).
  void input(std::span<const std::byte> frame, Instant now, bool answer_arp = true, RxChecksum rx = {});

  /// Calls f(std::span<const std::byte> eth_header, std::span<const std::byte> ipv4)
  /// for every frame ready to go: the Stack's output with next hops resolved, ARP
  /// requests and replies, and packets whose resolution just completed.
  template <class F>
  std::size_t drain(Instant now, F&& f) {
    std::size_t n = flush_ready(f);
    stack_.drain_tx([&](std::span<const std::byte> ip) { n += route_out(ip, now, f); });
    expire(now);
    n += flush_ready(f);
    return n;
  }

  /// Several ports (Router): the caller drained the Stack and routed `ip` to this
  /// interface with next hop `hop` (a gateway, or the destination on our link).
  /// Calls f(eth_header, ipv4) now if `hop` is resolved, else queues it for ARP.
  template <class F>
  std::size_t output(std::span<const std::byte> ip, Ipv4Addr hop, Instant now, F&& f) {
    return send_to(hop, ip, now, f);
  }
  /// Several ports (Router): ARP retries and expiry due by `now`, then every frame
  /// built here (ARP requests and replies, packets whose resolution completed).
  template <class F>
  std::size_t flush(Instant now, F&& f) {
    expire(now);
    return flush_ready(f);
  }

  /// Several ports (Router): only the frames built here since the last drain.
  template <class F>
  std::size_t flush_ready_frames(F&& f) {
    return flush_ready(f);
  }

  /// Gratuitous ARP: announce our address (RFC 5227 3). Queued for the next drain.
  void announce();

  [[nodiscard]] const InterfaceConfig& config() const noexcept { return cfg_; }
  [[nodiscard]] std::optional<wire::MacAddr> lookup(Ipv4Addr ip, Instant now) const;
  [[nodiscard]] std::size_t pending() const noexcept { return pending_count_; }

 private:
  struct Entry {
    wire::MacAddr mac{};
    bool resolved = false;
    Instant expires{};        ///< resolved: when to forget; unresolved: next retry
    std::uint32_t attempts = 0;
    std::vector<std::vector<std::byte>> waiting;  ///< IPv4 packets (bounded overall)
  };

  template <class F>
  std::size_t route_out(std::span<const std::byte> ip, Instant now, F& f) {
    const auto hop = next_hop(ip);
    if (!hop) {
      counters_.inc(Counter::route_no_route);
      return 0;
    }
    return send_to(*hop, ip, now, f);
  }

  template <class F>
  std::size_t send_to(Ipv4Addr hop, std::span<const std::byte> ip, Instant now, F& f) {
    if (hop == last_hop_ && now < last_expires_) {  ///< the common case: same neighbour
      counters_.inc(Counter::l2_out);
      f(std::span<const std::byte>(last_eth_), ip);
      return 1;
    }
    if (const Entry* e = resolved(hop, now)) {
      remember_hop(hop, *e);
      counters_.inc(Counter::l2_out);
      f(std::span<const std::byte>(last_eth_), ip);
      return 1;
    }
    wait_for_arp(hop, ip, now);
    return 0;
  }

  /// Frames built here (ARP, released packets) waiting for the next drain.
  template <class F>
  std::size_t flush_ready(F& f) {
    std::size_t n = 0;
    for (const Ready& r : ready_) {
      counters_.inc(Counter::l2_out);
      f(std::span<const std::byte>(r.eth), std::span<const std::byte>(r.payload));
      ++n;
    }
    ready_.clear();
    return n;
  }

  std::optional<Ipv4Addr> next_hop(std::span<const std::byte> ip) const;
  /// The last neighbour a packet went to, with its Ethernet header built, so that a
  /// run of packets to one neighbour (a server's gateway, a test peer) costs no map
  /// lookup; forgotten whenever the cache entry changes.
  void remember_hop(Ipv4Addr hop, const Entry& e);
  [[nodiscard]] const Entry* resolved(Ipv4Addr ip, Instant now) const;
  void forget_hop(Ipv4Addr hop) noexcept {
    if (hop == last_hop_) last_expires_ = Instant{};
  }
  void wait_for_arp(Ipv4Addr hop, std::span<const std::byte> ip, Instant now);
  void handle_arp(std::span<const std::byte> body, Instant now, bool answer);
  void learn(Ipv4Addr ip, const wire::MacAddr& mac, Instant now);
  void queue_arp(std::uint16_t op, const wire::MacAddr& dst_mac, const wire::MacAddr& target_mac,
                 Ipv4Addr target_ip, std::optional<Ipv4Addr> sender_ip = std::nullopt);
  void expire(Instant now);
  [[nodiscard]] bool on_link(Ipv4Addr a) const noexcept;

  struct Ready {
    std::array<std::byte, wire::kEthernetHeaderLen> eth{};
    std::vector<std::byte> payload;
  };

  Stack& stack_;
  InterfaceConfig cfg_;
  Counters& counters_;
  std::unordered_map<std::uint32_t, Entry> cache_;  ///< control-path sized; bounded by arp_cache_size
  std::vector<Ready> ready_;
  std::size_t pending_count_ = 0;
  Ipv4Addr last_hop_{};
  Instant last_expires_{};  ///< Instant{}: nothing remembered
  std::array<std::byte, wire::kEthernetHeaderLen> last_eth_{};
  Instant next_expire_{};   ///< expire() has nothing to do before this
};

}  // namespace riptide
