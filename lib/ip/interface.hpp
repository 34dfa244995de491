/// \file
/// Interface: one port's link layer in front of a Stack, per core. Ethernet in and
/// out, ARP (RFC 826) answered for our addresses (every local address of the Stack) and used to resolve next hops, with
/// a per-core cache that expires entries and a bounded queue of packets waiting for
/// a resolution; a static route (on-link subnet + default gateway); gratuitous ARP
/// at start-up (RFC 5227 3's announcement).
///
/// IPv6 (when `ip6.address` is configured; interface6.cpp): the link-local address
/// (configured, or fe80::/64 with the MAC's modified EUI-64, RFC 4862 5.3), the
/// all-nodes and solicited-node groups joined (RFC 4291 2.7.1, their 33:33 MACs per
/// RFC 2464 7 accepted), ICMPv6 (RFC 4443: echo answered, errors rate-limited),
/// Neighbor Discovery (RFC 4861: solicitations answered, next hops resolved by a
/// NeighborCache, unsolicited advertisements at start, optional DAD per RFC 4862
/// 5.4), and the Path MTU per destination from Packet Too Big (RFC 8201, PmtuCache).
/// IPv6 packets go to the Stack (Stack::input_ipv6: the IpLayer checks the header
/// and extension headers and hands TCP to the Stack); the Stack's IpLayer hands
/// ICMPv6 and its Parameter Problems back here through the Icmpv6Hooks this
/// Interface installs. The Stack must hold our IPv6 addresses (StackConfig::
/// local_addrs6): with_interface_addresses() adds them.
///
/// input(frame, now) takes a received Ethernet frame; drain(now, f) pulls what the
/// Stack wants sent and hands f(eth_header, ipv4_packet) ready-to-send frames (the
/// caller copies both into its transmit buffer: one copy into the mbuf).
///
/// Layering: DESIGN.md puts lib/ip below lib/stack; this class still holds a Stack&
/// (input, drain_tx, is_local, the shared counters), so lib/ip depends on lib/stack
/// until IPv4 input/output moves into lib/ip (issue 13; lib/ip/meson.build).
///
/// Allocation: the ICMPv6 and ND messages built here (replies, solicitations,
/// errors) and the packets waiting for a resolution are held in heap buffers, as
/// ARP's are: control traffic and the first packets to a neighbour, not TCP's path.
///
/// Thread-safety: none; on the Stack's core.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "common/byte_order.hpp"
#include "common/ip_addr.hpp"
#include "common/ipv4_addr.hpp"
#include "common/time.hpp"
#include "ip/neighbor_cache.hpp"
#include "ip/pmtu.hpp"
#include "ip/rate_limit.hpp"
#include "riptide/interface.hpp"
#include "stack/stack.hpp"
#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"

namespace riptide {

inline constexpr std::uint16_t kEtherTypeIpv6 = wire::kEtherTypeIpv6;

// Ipv6InterfaceConfig, InterfaceConfig, with_interface_addresses() and PmtuListener
// are public: riptide/interface.hpp.

class Interface {
 public:
  Interface(Stack& stack, InterfaceConfig cfg);

  /// One received Ethernet frame: ARP handled here, IPv4 for us passed to the Stack,
  /// IPv6 (when configured) handled here (ICMPv6, ND) or passed to the upper hook.
  /// answer_arp = false: learn from ARP and ND but do not reply (a copy another
  /// worker already answered).
  /// Inline for the frame nearly every received one is, IPv4 to our own MAC: the
  /// driver's burst loop calls the Stack with no call in between (callgrind, issue
  /// 11). Everything else, with the same checks in the same order, is input_other().
  void input(std::span<const std::byte> frame, Instant now, bool answer_arp = true, RxChecksum rx = {}) {
    counters_.inc(Counter::l2_in);
    auto eth = wire::EthernetView::parse(frame);
    if (eth && eth->dst_is(cfg_.mac) && eth->ether_type() == wire::kEtherTypeIpv4) {
      stack_.input_ipv4(eth->payload(), now, rx);
      return;
    }
    input_other(frame, now, answer_arp, rx);
  }

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

  /// Gratuitous ARP: announce our address (RFC 5227 3); with IPv6, an unsolicited
  /// Neighbor Advertisement for each address to all-nodes (RFC 4861 7.2.6), or,
  /// with ip6.dad, Duplicate Address Detection first (RFC 4862 5.4) and the
  /// advertisements once it passes. Queued for the next drain.
  void announce();

  /// --- IPv6 ------------------------------------------------------------------------------
  [[nodiscard]] bool ipv6_enabled() const noexcept { return v6_; }
  [[nodiscard]] const IpAddr& ipv6_address() const noexcept { return addr6_; }
  [[nodiscard]] const IpAddr& link_local() const noexcept { return ll_; }
  /// One of our IPv6 unicast addresses (global or link-local).
  [[nodiscard]] bool is_local6(const IpAddr& a) const noexcept { return v6_ && (a == addr6_ || a == ll_); }
  /// A group this interface joined: all-nodes, the solicited-node groups of ours.
  [[nodiscard]] bool joined6(const IpAddr& a) const noexcept;
  /// Told when a Packet Too Big lowers a destination's path MTU.
  void set_pmtu_listener(PmtuListener l, void* ctx) noexcept {
    pmtu_listener_ = l;
    pmtu_ctx_ = ctx;
  }
  /// RFC 8201: the path MTU to `dst` (the link MTU unless a Packet Too Big lowered
  /// it), and the TCP MSS that fits it (PMTU - 60). For the Stack's connect/accept
  /// over IPv6; thread-safety: the Interface's core only.
  [[nodiscard]] std::uint32_t path_mtu(const IpAddr& dst, Instant now) const noexcept {
    return pmtu_ ? pmtu_->path_mtu(dst, cfg_.ip6.mtu, now) : cfg_.ip6.mtu;
  }
  [[nodiscard]] std::uint16_t mss_for(const IpAddr& dst, Instant now) const noexcept {
    return static_cast<std::uint16_t>(path_mtu(dst, now) - 60);
  }
  /// An ICMPv6 error about `invoking` (an IPv6 packet we received), subject to
  /// RFC 4443 2.4(e) and the rate limit (2.4(f)). For the upper layer and the
  /// extension-header walk: Parameter Problem code 1 for an unknown next header
  /// (RFC 8200 4), pointer = the offset of that Next Header field.
  void send_icmpv6_error(std::uint8_t type, std::uint8_t code, std::uint32_t word,
                         std::span<const std::byte> invoking, Instant now);
  [[nodiscard]] NeighborCache* neighbors() noexcept { return nd_ ? &*nd_ : nullptr; }
  [[nodiscard]] const PmtuCache* pmtu() const noexcept { return pmtu_ ? &*pmtu_ : nullptr; }
  /// RFC 4862 5.4: true while Duplicate Address Detection is running or found a
  /// duplicate for `a` (the address is not answered for then).
  [[nodiscard]] bool tentative(const IpAddr& a) const noexcept;

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
    if (!ip.empty() && (static_cast<std::uint8_t>(ip[0]) >> 4) == 6) return route_out6(ip, now, f);
    const auto hop = next_hop(ip);
    if (!hop) {
      counters_.inc(Counter::route_no_route);
      return 0;
    }
    return send_to(*hop, ip, now, f);
  }

  template <class F>
  std::size_t send_to(Ipv4Addr hop, std::span<const std::byte> ip, Instant now, F& f) {
    HopSlot& h = hop_slot(hop);
    if (h.hop == hop && now < h.expires) {  ///< the common case: a neighbour sent to lately
      counters_.inc(Counter::l2_out);
      f(std::span<const std::byte>(h.eth), ip);
      return 1;
    }
    if (const Entry* e = resolved(hop, now)) {
      remember_hop(h, hop, *e);
      counters_.inc(Counter::l2_out);
      f(std::span<const std::byte>(h.eth), ip);
      return 1;
    }
    wait_for_arp(hop, ip, now);
    return 0;
  }

  /// IPv6 from the Stack (RFC 4861 5.2 next-hop determination, then 7.2.2).
  template <class F>
  std::size_t route_out6(std::span<const std::byte> ip, Instant now, F& f) {
    if (!v6_ || ip.size() < 40) {
      counters_.inc(Counter::route_no_route);
      return 0;
    }
    const IpAddr dst = IpAddr::from_bytes(ip.data() + 24);
    if (dst == last_hop6_ && now < last_expires6_) {  // the common case: same neighbour
      counters_.inc(Counter::l2_out);
      f(std::span<const std::byte>(last_eth6_), ip);
      return 1;
    }
    return send6_slow(ip, dst, now, f);
  }
  template <class F>
  std::size_t send6_slow(std::span<const std::byte> ip, const IpAddr& dst, Instant now, F& f) {
    const auto eth = resolve6(ip, dst, now);
    if (!eth) return 0;
    counters_.inc(Counter::l2_out);
    f(std::span<const std::byte>(*eth), ip);
    return 1;
  }

  /// Frames built here (ARP, released packets) waiting for the next drain.
  template <class F>
  std::size_t flush_ready(F& f) {
    if (v6_ && nd_->has_actions()) pump_nd();
    std::size_t n = 0;
    for (const Ready& r : ready_) {
      counters_.inc(Counter::l2_out);
      f(std::span<const std::byte>(r.eth), std::span<const std::byte>(r.payload));
      ++n;
    }
    ready_.clear();
    return n;
  }

  /// The next hop of a packet the Stack built (a valid IPv4 header: not parsed
  /// again): its destination when on our link, else the default gateway (the static
  /// route). Inline: every IPv4 packet sent passes here.
  [[nodiscard]] std::optional<Ipv4Addr> next_hop(std::span<const std::byte> ip) const noexcept {
    if (ip.size() < wire::kIpv4MinHeaderLen) return std::nullopt;
    const Ipv4Addr dst{load_be32(ip.data() + 16)};
    if (on_link(dst)) return dst;
    return cfg_.gateway;
  }
  /// The neighbours packets went to lately, with their Ethernet headers built, in
  /// a small direct-mapped table (by the address's low bits: the hosts of a subnet
  /// spread over it), so that packets to a gateway or to the peers on the link cost
  /// no map lookup and no header build; an entry is forgotten whenever its cache
  /// entry changes. One remembered hop missed on nearly every packet when a client
  /// used several addresses (issue 11: ~250 instructions per CRR).
  struct HopSlot {
    Ipv4Addr hop{};
    Instant expires{};  ///< Instant{}: nothing remembered
    std::array<std::byte, wire::kEthernetHeaderLen> eth{};
  };
  static constexpr std::size_t kHopSlots = 64;
  [[nodiscard]] HopSlot& hop_slot(Ipv4Addr hop) noexcept { return hops_[hop.value % kHopSlots]; }
  void remember_hop(HopSlot& slot, Ipv4Addr hop, const Entry& e);
  [[nodiscard]] const Entry* resolved(Ipv4Addr ip, Instant now) const;
  void forget_hop(Ipv4Addr hop) noexcept {
    HopSlot& h = hop_slot(hop);
    if (h.hop == hop) h.expires = Instant{};
  }
  void wait_for_arp(Ipv4Addr hop, std::span<const std::byte> ip, Instant now);
  void handle_arp(std::span<const std::byte> body, Instant now, bool answer);
  void learn(Ipv4Addr ip, const wire::MacAddr& mac, Instant now);
  void queue_arp(std::uint16_t op, const wire::MacAddr& dst_mac, const wire::MacAddr& target_mac,
                 Ipv4Addr target_ip, std::optional<Ipv4Addr> sender_ip = std::nullopt);
  void expire(Instant now);
  /// Whether `a` is in our subnet (the configured prefix; prefix 0: everything).
  [[nodiscard]] bool on_link(Ipv4Addr a) const noexcept { return (a.value & link_mask_) == link_net_; }

  // IPv6 (interface6.cpp).
  void setup_ipv6();
  // The Stack's IpLayer calls these (ip::Icmpv6Hooks), inside input() below.
  static void icmpv6_hook(void* ctx, const wire::Ipv6View& ip, std::span<const std::byte> message);
  static void parameter_problem_hook(void* ctx, const wire::Ipv6View& ip, std::uint8_t code, std::uint32_t pointer);
  void icmpv6_input(const IpAddr& src, const IpAddr& dst, std::uint8_t hop_limit,
                    std::span<const std::byte> message, Instant now, bool answer);
  void nd_solicitation_input(const IpAddr& src, const IpAddr& dst, std::uint8_t hop_limit, const void* view,
                             Instant now, bool answer);
  void nd_advertisement_input(const IpAddr& dst, std::uint8_t hop_limit, const void* view, Instant now);
  void packet_too_big_input(const void* view, Instant now);
  void echo_input(const IpAddr& src, const IpAddr& dst, const void* view, Instant now);
  /// The Ethernet header for an IPv6 packet to `dst` (on-link, via the gateway, or
  /// multicast), or nullopt if it waits for ND (then queued) or has no route.
  std::optional<std::array<std::byte, wire::kEthernetHeaderLen>> resolve6(std::span<const std::byte> ip,
                                                                          const IpAddr& dst, Instant now);
  /// Sends an IPv6 packet built here: resolved now (into ready_) or queued for ND.
  void send6(std::vector<std::byte> packet, Instant now);
  /// Builds an IPv6 packet around an ICMPv6 message written by `write(out)` (which
  /// returns its length) and sends it.
  template <class W>
  void send_icmpv6(const IpAddr& src, const IpAddr& dst, std::uint8_t hop_limit, std::size_t max_len, W&& write,
                   Instant now);
  void send_neighbor_advertisement(const IpAddr& target, const IpAddr& dst, bool solicited, Instant now);
  void send_neighbor_solicitation(const IpAddr& target, const IpAddr& src, const IpAddr& dst,
                                  const wire::MacAddr& eth_dst, bool with_source_link_addr);
  void pump_nd();
  void expire6(Instant now);
  [[nodiscard]] bool on_link6(const IpAddr& a) const noexcept;
  /// The address a message to `dst` goes from: link-local to link-local, else ours.
  [[nodiscard]] const IpAddr& source_for6(const IpAddr& dst) const noexcept {
    return dst.is_v6_link_local() ? ll_ : addr6_;
  }

  struct Ready {
    std::array<std::byte, wire::kEthernetHeaderLen> eth{};
    std::vector<std::byte> payload;
  };

  /// input() for every frame but IPv4 to our MAC (l2_in already counted).
  void input_other(std::span<const std::byte> frame, Instant now, bool answer_arp, RxChecksum rx);

  StackEngine& stack_;  ///< the Stack's engine: input and drain_tx without the facade
  InterfaceConfig cfg_;
  Counters& counters_;
  /// cfg_'s subnet, worked out once (on_link() runs for every packet sent).
  std::uint32_t link_mask_ = 0;
  std::uint32_t link_net_ = 0;
  std::unordered_map<std::uint32_t, Entry> cache_;  ///< control-path sized; bounded by arp_cache_size
  std::vector<Ready> ready_;
  std::size_t pending_count_ = 0;
  std::array<HopSlot, kHopSlots> hops_{};
  Instant next_expire_{};   ///< expire() has nothing to do before this

  // IPv6.
  bool v6_ = false;
  IpAddr addr6_{};
  IpAddr ll_{};
  std::optional<NeighborCache> nd_;
  std::optional<PmtuCache> pmtu_;
  TokenBucket icmp6_errors_{0, 0};
  std::vector<NeighborCache::Action> nd_actions_;
  IpAddr last_hop6_{};
  Instant last_expires6_{};
  std::array<std::byte, wire::kEthernetHeaderLen> last_eth6_{};
  // What input() was called with, for the hooks the Stack calls inside it.
  Instant now6_{};
  bool answer6_ = true;
  PmtuListener pmtu_listener_ = nullptr;
  void* pmtu_ctx_ = nullptr;
  // RFC 4862 5.4: DAD state. dad_due_: when the wait for a reply ends (Instant{}:
  // not yet started, it starts at the first expire()).
  bool dad_running_ = false;
  bool dad_started_ = false;
  Instant dad_due_{};
  bool dad_conflict_addr6_ = false;
  bool dad_conflict_ll_ = false;
  bool announce6_pending_ = false;  ///< the unsolicited NAs go once DAD is done
};

}  // namespace riptide
