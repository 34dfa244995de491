// The Interface's IPv6 side: ICMPv6 (RFC 4443), Neighbor Discovery (RFC 4861), DAD
// (RFC 4862 5.4), PMTU (RFC 8201). IPv6 itself (RFC 8200) is the Stack's IpLayer,
// which hands ICMPv6 here through Icmpv6Hooks. Everything here is per core and on
// the Interface's core.
#include <algorithm>
#include <cstring>

#include "common/byte_order.hpp"
#include "ip/interface.hpp"

#include <cstdio>
#include <cstdlib>
#include "wire/icmpv6.hpp"

namespace riptide {

namespace {

constexpr std::size_t kIp6Len = wire::kIpv6HeaderLen;
constexpr std::uint8_t kNdHopLimit = 255;  // RFC 4861 7.1: ND messages carry 255

void write_ipv6_header(std::byte* p, std::size_t payload_len, std::uint8_t next_header, std::uint8_t hop_limit,
                       const IpAddr& src, const IpAddr& dst) noexcept {
  wire::Ipv6Header h;
  h.next_header = next_header;
  h.hop_limit = hop_limit;
  h.src = src;
  h.dst = dst;
  wire::write_ipv6_header(std::span<std::byte>(p, kIp6Len), h, static_cast<std::uint16_t>(payload_len));
}

}  // namespace

StackConfig with_interface_addresses(StackConfig s, const InterfaceConfig& c) {
  if (!c.ip6.address) return s;
  // RFC 6724 5 (IpLayer::select_source): the global address first.
  for (const IpAddr& a : {*c.ip6.address, c.ip6.link_local.value_or(wire::link_local_from_mac(c.mac))}) {
    if (std::find(s.local_addrs6.begin(), s.local_addrs6.end(), a) == s.local_addrs6.end()) s.local_addrs6.push_back(a);
  }
  return s;
}

void Interface::setup_ipv6() {
  const auto& c = cfg_.ip6;
  if (!c.address) return;
  v6_ = true;
  addr6_ = *c.address;
  // RFC 4862 5.3: fe80::/64 and the interface identifier, modified EUI-64 of the
  // MAC (RFC 4291 2.5.1, RFC 2464 4), unless configured.
  ll_ = c.link_local.value_or(wire::link_local_from_mac(cfg_.mac));
  for (const IpAddr* a : {&addr6_, &ll_}) {
    if (!stack_.is_local(*a)) {
      std::fprintf(stderr, "riptide: interface IPv6 address %s is not one of the stack's local_addrs6 "
                   "(with_interface_addresses() adds them)\n", to_string(*a).c_str());
      std::abort();
    }
  }
  stack_.set_icmpv6_hooks(ip::Icmpv6Hooks{&Interface::icmpv6_hook, &Interface::parameter_problem_hook, this});
  nd_.emplace(c.nd, counters_);
  pmtu_.emplace(c.pmtu);
  // New IPv6 connections take their MSS from the path MTU (RFC 8201 5.4).
  stack_.set_path_mtu_source(
      [](const void* ctx, const IpAddr& dst, Instant now) {
        return static_cast<const Interface*>(ctx)->path_mtu(dst, now);
      },
      this);
  icmp6_errors_ = TokenBucket{c.icmp_error_rate, c.icmp_error_burst};
  dad_running_ = c.dad;
}

bool Interface::joined6(const IpAddr& a) const noexcept {
  // RFC 4291 2.8: a node joins all-nodes and the solicited-node group of each of
  // its unicast addresses.
  return v6_ && (a == wire::kAllNodes || a == wire::solicited_node(addr6_) || a == wire::solicited_node(ll_));
}

bool Interface::tentative(const IpAddr& a) const noexcept {
  if (a == addr6_ && dad_conflict_addr6_) return true;
  if (a == ll_ && dad_conflict_ll_) return true;
  return dad_running_ && (a == addr6_ || a == ll_);
}

bool Interface::on_link6(const IpAddr& a) const noexcept {
  // RFC 4861 5.2: link-local destinations are on link; so is the configured prefix.
  if (a.is_v6_link_local()) return true;
  const unsigned len = std::min<unsigned>(cfg_.ip6.prefix_len, 128);
  for (unsigned i = 0; i < len / 8; ++i) {
    if (a.bytes[i] != addr6_.bytes[i]) return false;
  }
  if (len % 8 == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - len % 8));
  return (a.bytes[len / 8] & mask) == (addr6_.bytes[len / 8] & mask);
}

void Interface::icmpv6_hook(void* ctx, const wire::Ipv6View& ip, std::span<const std::byte> message) {
  auto* self = static_cast<Interface*>(ctx);
  self->icmpv6_input(ip.src(), ip.dst(), ip.hop_limit(), message, self->now6_, self->answer6_);
}

void Interface::parameter_problem_hook(void* ctx, const wire::Ipv6View& ip, std::uint8_t code,
                                       std::uint32_t pointer) {
  // RFC 8200 4 (the IpLayer decided): Parameter Problem, rate-limited here.
  auto* self = static_cast<Interface*>(ctx);
  if (!self->answer6_) return;
  self->send_icmpv6_error(wire::kIcmpv6ParamProblem, code, pointer, ip.bytes(), self->now6_);
}

void Interface::icmpv6_input(const IpAddr& src, const IpAddr& dst, std::uint8_t hop_limit,
                             std::span<const std::byte> message, Instant now, bool answer) {
  // The IpLayer passes unicast to our addresses and every multicast destination:
  // RFC 4291 2.8, only the groups we joined (all-nodes, our solicited-node groups).
  if (dst.is_v6_multicast() && !joined6(dst)) {
    counters_.inc(Counter::icmp6_drop_not_joined);
    return;
  }
  auto m = wire::Icmpv6View::parse(message);
  if (!m) {
    counters_.inc(Counter::icmp6_drop_malformed);
    return;
  }
  // RFC 4443 2.3: the checksum covers the pseudo-header; a wrong one: discard.
  if (!m->checksum_valid(src, dst)) {
    counters_.inc(Counter::icmp6_drop_checksum);
    return;
  }
  counters_.inc(Counter::icmp6_in);
  switch (m->type()) {
    case wire::kIcmpv6EchoRequest:
      if (answer) echo_input(src, dst, &*m, now);
      return;
    case wire::kNdNeighborSolicit:
      nd_solicitation_input(src, dst, hop_limit, &*m, now, answer);
      return;
    case wire::kNdNeighborAdvert:
      nd_advertisement_input(dst, hop_limit, &*m, now);
      return;
    case wire::kIcmpv6PacketTooBig:
      counters_.inc(Counter::icmp6_error_in);
      counters_.inc(Counter::icmp6_ptb_in);
      packet_too_big_input(&*m, now);
      return;
    case wire::kNdRouterSolicit:
    case wire::kNdRouterAdvert:
    case wire::kNdRedirect: {
      // RFC 4861 6.1.1, 6.1.2, 8.1: hop limit 255, code 0, the length, the options;
      // then ignored: a host with a configured address and a static default router
      // (no Default Router List, no SLAAC, no redirects followed).
      if (hop_limit != kNdHopLimit) {
        counters_.inc(Counter::nd_drop_hop_limit);
        return;
      }
      if (m->code() != 0) {
        counters_.inc(Counter::nd_drop_code);
        return;
      }
      const bool ok = m->type() == wire::kNdRouterSolicit  ? wire::parse_router_solicitation(*m).has_value()
                      : m->type() == wire::kNdRouterAdvert ? wire::parse_router_advertisement(*m).has_value()
                                                           : wire::parse_redirect(*m).has_value();
      counters_.inc(ok ? Counter::nd_router_ignored : Counter::nd_drop_malformed);
      return;
    }
    default:
      if (m->is_error()) {
        // RFC 4443 2.4(a): errors go to the upper layer of the invoking packet
        // (2.4(d): an unknown error type too, as Soft).
        counters_.inc(Counter::icmp6_error_in);
        stack_.icmp_error(ip::classify_icmpv6_error(m->type(), m->code()), m->payload(), now);
        return;
      }
      // RFC 4443 2.4(b): an unknown informational message MUST be silently
      // discarded (an Echo Reply too: we send no requests).
      counters_.inc(Counter::icmp6_drop_type);
      return;
  }
}

void Interface::echo_input(const IpAddr& src, const IpAddr& dst, const void* view, Instant now) {
  const auto& m = *static_cast<const wire::Icmpv6View*>(view);
  // RFC 4443 4.2: a reply to every request; to a multicast destination the reply
  // goes from a unicast address of ours. No reply to the unspecified source.
  if (src == IpAddr{}) {
    counters_.inc(Counter::icmp6_drop_type);
    return;
  }
  counters_.inc(Counter::icmp6_echo_in);
  const IpAddr& from = dst.is_v6_multicast() ? source_for6(src) : dst;
  const auto data = m.payload();
  send_icmpv6(
      from, src, cfg_.ip6.hop_limit, wire::kIcmpv6HeaderLen + data.size(),
      [&](std::span<std::byte> out) {
        return wire::write_icmpv6_echo(out, wire::kIcmpv6EchoReply, m.identifier(), m.sequence(), data, from, src);
      },
      now);
}

void Interface::nd_solicitation_input(const IpAddr& src, const IpAddr& dst, std::uint8_t hop_limit,
                                      const void* view, Instant now, bool answer) {
  const auto& m = *static_cast<const wire::Icmpv6View*>(view);
  // RFC 4861 7.1.1 validation, each failure counted by name.
  if (hop_limit != kNdHopLimit) {  // "The IP Hop Limit field has a value of 255"
    counters_.inc(Counter::nd_drop_hop_limit);
    return;
  }
  if (m.code() != 0) {  // "ICMP Code is 0"
    counters_.inc(Counter::nd_drop_code);
    return;
  }
  // "ICMP length ... is 24 or more octets", "All included options have a length
  // that is greater than zero."
  auto ns = wire::parse_neighbor_solicitation(m);
  if (!ns) {
    counters_.inc(Counter::nd_drop_malformed);
    return;
  }
  if (ns->target.is_v6_multicast()) {  // "Target Address is not a multicast address"
    counters_.inc(Counter::nd_drop_target_multicast);
    return;
  }
  const bool from_unspecified = src == IpAddr{};
  // "If the IP source address is the unspecified address, the IP destination
  // address is a solicited-node multicast address" and "there is no source
  // link-layer address option in the message."
  if (from_unspecified && (ns->options.source_link_addr || dst != wire::solicited_node(ns->target))) {
    counters_.inc(Counter::nd_drop_unspecified_src);
    return;
  }
  if (!is_local6(ns->target)) {
    counters_.inc(Counter::nd_drop_not_ours);
    return;
  }
  if (tentative(ns->target)) {
    // RFC 4862 5.4.3: an NS for a tentative address from :: is another node's DAD:
    // the address is a duplicate. From a unicast source: silently ignored.
    if (from_unspecified && dad_running_) {
      counters_.inc(Counter::nd_dad_conflict);
      (ns->target == addr6_ ? dad_conflict_addr6_ : dad_conflict_ll_) = true;
    }
    return;
  }
  // RFC 4861 7.2.3: learn the sender (STALE) when it gave its link-layer address.
  if (!from_unspecified && ns->options.source_link_addr) {
    nd_->on_solicitation(src, *ns->options.source_link_addr, now);
    last_expires6_ = Instant{};
  }
  if (!answer) return;
  counters_.inc(Counter::nd_ns_in);
  // RFC 4861 7.2.4: a solicited NA to the source, or to all-nodes with Solicited
  // clear when the source was unspecified (DAD, RFC 4862 5.4.3 with 7.2.4).
  send_neighbor_advertisement(ns->target, from_unspecified ? wire::kAllNodes : src, !from_unspecified, now);
}

void Interface::nd_advertisement_input(const IpAddr& dst, std::uint8_t hop_limit, const void* view, Instant now) {
  const auto& m = *static_cast<const wire::Icmpv6View*>(view);
  // RFC 4861 7.1.2 validation.
  if (hop_limit != kNdHopLimit) {
    counters_.inc(Counter::nd_drop_hop_limit);
    return;
  }
  if (m.code() != 0) {
    counters_.inc(Counter::nd_drop_code);
    return;
  }
  auto na = wire::parse_neighbor_advertisement(m);
  if (!na) {
    counters_.inc(Counter::nd_drop_malformed);
    return;
  }
  if (na->target.is_v6_multicast()) {
    counters_.inc(Counter::nd_drop_target_multicast);
    return;
  }
  // "If the IP Destination Address is a multicast address the Solicited flag is zero."
  if (dst.is_v6_multicast() && na->solicited) {
    counters_.inc(Counter::nd_drop_solicited_multicast);
    return;
  }
  if (is_local6(na->target)) {
    // RFC 4862 5.4.4: an NA for a tentative address: a duplicate. For an address
    // in use: another node claims it; counted, nothing changes (RFC 4861 7.2.5
    // has no rule for it).
    counters_.inc(Counter::nd_dad_conflict);
    if (dad_running_) (na->target == addr6_ ? dad_conflict_addr6_ : dad_conflict_ll_) = true;
    return;
  }
  counters_.inc(Counter::nd_na_in);
  nd_->on_advertisement(na->target, na->options.target_link_addr, na->solicited, na->override_flag, now);
  last_expires6_ = Instant{};
}

void Interface::packet_too_big_input(const void* view, Instant now) {
  const auto& m = *static_cast<const wire::Icmpv6View*>(view);
  // RFC 4443 3.2: the MTU in bytes 4..7; the code is ignored by the receiver.
  // RFC 8201 4 and 5.2: the invoking packet's header names the destination; it must be
  // a packet we sent (its source one of ours), else the message is not for a path
  // of ours (RFC 4443 5.2's check against forged errors).
  const auto invoking = m.payload();
  if (invoking.size() < kIp6Len || (static_cast<std::uint8_t>(invoking[0]) >> 4) != 6 ||
      !is_local6(IpAddr::from_bytes(invoking.data() + 8))) {
    counters_.inc(Counter::pmtu_drop_invalid);
    return;
  }
  const IpAddr dest = IpAddr::from_bytes(invoking.data() + 24);
  // RFC 8201 4: an MTU below 1280 is not believed (nor one above the link's).
  if (m.word() < PmtuCache::kMinMtu) {
    counters_.inc(Counter::pmtu_drop_below_min);
    return;
  }
  // RFC 8201 5.4: the packetization layer of the quoted packet shrinks its
  // segments. The cache learns only what a connection took, i.e. a quote whose
  // sequence number is in flight (RFC 5927 4.1): a blind forger who knows an
  // address but no sequence number cannot shrink every later connection to it.
  const std::uint32_t mtu = std::min<std::uint32_t>(m.word(), cfg_.ip6.mtu);
  if (!stack_.icmp_error(ip::IcmpError{ip::IcmpError::Kind::PacketTooBig, mtu, true}, invoking, now)) return;
  switch (pmtu_->on_packet_too_big(dest, m.word(), cfg_.ip6.mtu, now)) {
    case PmtuCache::Update::Lowered:
      counters_.inc(Counter::pmtu_lowered);
      if (pmtu_listener_ != nullptr) pmtu_listener_(pmtu_ctx_, dest, pmtu_->path_mtu(dest, cfg_.ip6.mtu, now));
      break;
    case PmtuCache::Update::BelowMinimum:
    case PmtuCache::Update::Unchanged:
    case PmtuCache::Update::AboveLink:
      break;
  }
}


void Interface::send_icmpv6_error(std::uint8_t type, std::uint8_t code, std::uint32_t word,
                                  std::span<const std::byte> invoking, Instant now) {
  if (!v6_ || invoking.size() < kIp6Len) return;
  const IpAddr src = IpAddr::from_bytes(invoking.data() + 8);
  const IpAddr dst = IpAddr::from_bytes(invoking.data() + 24);
  const std::uint8_t nh = load_u8(invoking.data() + 6);
  // RFC 4443 2.4(e): no error message in response to
  //  (e.1) an ICMPv6 error message (the type just after the fixed header: an error
  //        behind extension headers is not looked for; those are not walked here);
  //  (e.3) a packet to a multicast address, except Packet Too Big and Parameter
  //        Problem code 2 (2.4(e.3) exceptions);
  //  (e.6) a packet whose source does not identify one node (unspecified,
  //        multicast).
  const bool invoking_is_error = nh == wire::kIpProtoIcmpv6 && invoking.size() > kIp6Len &&
                                 static_cast<std::uint8_t>(invoking[kIp6Len]) < 128;
  const bool multicast_exception = type == wire::kIcmpv6PacketTooBig ||
                                   (type == wire::kIcmpv6ParamProblem && code == wire::kIcmpv6UnknownOption);
  if (invoking_is_error || (dst.is_v6_multicast() && !multicast_exception) || src == IpAddr{} ||
      src.is_v6_multicast()) {
    counters_.inc(Counter::icmp6_error_suppressed);
    return;
  }
  // RFC 4443 2.4(f): rate-limited by a token bucket.
  // One bucket per worker for every destination (2.4(f) leaves the policy open).
  if (!icmp6_errors_.allow(now)) {
    counters_.inc(Counter::icmp6_error_rate_limited);
    return;
  }
  counters_.inc(Counter::icmp6_error_out);
  // RFC 4443 2.2: the source is the invoking packet's destination when that was
  // one of our unicast addresses, else one of ours.
  const IpAddr& from = is_local6(dst) ? dst : source_for6(src);
  send_icmpv6(
      from, src, cfg_.ip6.hop_limit, wire::kIcmpv6ErrorMaxLen,
      [&](std::span<std::byte> out) { return wire::write_icmpv6_error(out, type, code, word, invoking, from, src); },
      now);
}

template <class W>
void Interface::send_icmpv6(const IpAddr& src, const IpAddr& dst, std::uint8_t hop_limit, std::size_t max_len,
                            W&& write, Instant now) {
  std::vector<std::byte> pkt(kIp6Len + max_len);
  const std::size_t n = write(std::span<std::byte>(pkt).subspan(kIp6Len));
  if (n == 0) return;
  pkt.resize(kIp6Len + n);
  write_ipv6_header(pkt.data(), n, wire::kIpProtoIcmpv6, hop_limit, src, dst);
  send6(std::move(pkt), now);
}

void Interface::send_neighbor_advertisement(const IpAddr& target, const IpAddr& dst, bool solicited, Instant now) {
  counters_.inc(Counter::nd_na_out);
  // RFC 4861 7.2.4: Override set (not an anycast address), Router clear (a host),
  // the Target Link-Layer Address option included. Hop limit 255.
  const std::uint8_t flags = static_cast<std::uint8_t>(wire::kNaOverride | (solicited ? wire::kNaSolicited : 0));
  send_icmpv6(
      target, dst, kNdHopLimit, wire::kNdNaLen + wire::kNdLinkAddrOptLen,
      [&](std::span<std::byte> out) {
        return wire::write_neighbor_advertisement(out, flags, target, cfg_.mac, target, dst);
      },
      now);
}

void Interface::send_neighbor_solicitation(const IpAddr& target, const IpAddr& src, const IpAddr& dst,
                                           const wire::MacAddr& eth_dst, bool with_source_link_addr) {
  Ready r;
  wire::write_ethernet_header(r.eth, wire::EthernetHeader{eth_dst, cfg_.mac, kEtherTypeIpv6});
  const std::size_t len = wire::kNdNsLen + (with_source_link_addr ? wire::kNdLinkAddrOptLen : 0);
  r.payload.resize(kIp6Len + len);
  const std::size_t n = wire::write_neighbor_solicitation(
      std::span<std::byte>(r.payload).subspan(kIp6Len), target,
      with_source_link_addr ? std::optional<wire::MacAddr>{cfg_.mac} : std::nullopt, src, dst);
  write_ipv6_header(r.payload.data(), n, wire::kIpProtoIcmpv6, kNdHopLimit, src, dst);
  ready_.push_back(std::move(r));
}

std::optional<std::array<std::byte, wire::kEthernetHeaderLen>> Interface::resolve6(std::span<const std::byte> ip,
                                                                                   const IpAddr& dst, Instant now) {
  std::array<std::byte, wire::kEthernetHeaderLen> eth{};
  if (dst.is_v6_multicast()) {
    // RFC 2464 7: no resolution for multicast.
    wire::write_ethernet_header(eth, wire::EthernetHeader{wire::multicast_mac(dst), cfg_.mac, kEtherTypeIpv6});
    return eth;
  }
  // RFC 4861 5.2: on-link destinations are their own next hop; the rest go to the
  // default router.
  IpAddr hop = dst;
  if (!on_link6(dst)) {
    if (!cfg_.ip6.gateway) {
      counters_.inc(Counter::route_no_route);
      return std::nullopt;
    }
    hop = *cfg_.ip6.gateway;
  }
  const auto mac = nd_->resolve(hop, ip, now);
  if (!mac) return std::nullopt;  // queued (or dropped, counted) until ND answers
  wire::write_ethernet_header(eth, wire::EthernetHeader{*mac, cfg_.mac, kEtherTypeIpv6});
  // The one-neighbour fast path, valid while the entry is REACHABLE.
  const Instant until = nd_->reachable_until(hop);
  if (until != Instant{}) {
    last_hop6_ = dst;
    last_expires6_ = until;
    last_eth6_ = eth;
  }
  return eth;
}

void Interface::send6(std::vector<std::byte> packet, Instant now) {
  const IpAddr dst = IpAddr::from_bytes(packet.data() + 24);
  const auto eth = resolve6(packet, dst, now);
  if (!eth) return;
  Ready r;
  r.eth = *eth;
  r.payload = std::move(packet);
  ready_.push_back(std::move(r));
}

void Interface::pump_nd() {
  nd_->take_actions(nd_actions_);
  for (auto& a : nd_actions_) {
    switch (a.kind) {
      case NeighborCache::Action::Kind::SolicitMulticast:
        // RFC 4861 7.2.2: to the target's solicited-node group, with our
        // link-layer address; from an address of ours of the target's scope.
        send_neighbor_solicitation(a.target, source_for6(a.target), wire::solicited_node(a.target),
                                   wire::multicast_mac(wire::solicited_node(a.target)), true);
        break;
      case NeighborCache::Action::Kind::SolicitUnicast:
        // RFC 4861 7.3.3 PROBE: unicast to the cached address.
        send_neighbor_solicitation(a.target, source_for6(a.target), a.target, a.mac, true);
        break;
      case NeighborCache::Action::Kind::Release: {
        Ready r;
        wire::write_ethernet_header(r.eth, wire::EthernetHeader{a.mac, cfg_.mac, kEtherTypeIpv6});
        r.payload = std::move(a.packet);
        ready_.push_back(std::move(r));
        break;
      }
    }
  }
  nd_actions_.clear();
}

void Interface::expire6(Instant now) {
  if (dad_running_) {
    if (!dad_started_) {
      // RFC 4862 5.4.2: an NS from the unspecified address to the solicited-node
      // group of each tentative address, no SLLA; DupAddrDetectTransmits = 1.
      dad_started_ = true;
      dad_due_ = now + cfg_.ip6.nd.retrans_timer;
      for (const IpAddr* a : {&ll_, &addr6_}) {
        counters_.inc(Counter::nd_ns_out);
        send_neighbor_solicitation(*a, IpAddr{}, wire::solicited_node(*a),
                                   wire::multicast_mac(wire::solicited_node(*a)), false);
      }
    } else if (now >= dad_due_) {
      // RFC 4862 5.4: no reply in RetransTimer: the addresses without a conflict
      // are ours (a conflicting one stays tentative: not answered for).
      dad_running_ = false;
    }
  }
  if (announce6_pending_ && !dad_running_) {
    // RFC 4861 7.2.6: unsolicited NAs to all-nodes, Override set, Solicited clear
    // (one each; the RFC allows up to MAX_NEIGHBOR_ADVERTISEMENT).
    announce6_pending_ = false;
    for (const IpAddr* a : {&ll_, &addr6_}) {
      if (tentative(*a)) continue;
      send_neighbor_advertisement(*a, wire::kAllNodes, false, now);
    }
  }
  nd_->expire(now);
}

}  // namespace riptide
