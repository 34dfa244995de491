#include "ip/ip_layer.hpp"

#include <algorithm>

#include "wire/icmp.hpp"
#include "wire/icmpv6.hpp"

namespace riptide::ip {

namespace {

bool is_broadcast_or_multicast(Ipv4Addr a) noexcept {
  return a.value == 0xFFFFFFFFu || (a.value >> 28) == 0xE || a.value == 0;
}

}  // namespace

IpLayer::IpLayer(IpConfig cfg, Counters& counters, TxQueue& tx)
    : cfg_(std::move(cfg)), counters_(counters), tx_(tx) {}

bool IpLayer::is_local_v4(Ipv4Addr a) const noexcept {
  return std::find(cfg_.v4.begin(), cfg_.v4.end(), a) != cfg_.v4.end();
}

bool IpLayer::is_local_v6(const IpAddr& a) const noexcept {
  return std::find(cfg_.v6.begin(), cfg_.v6.end(), a) != cfg_.v6.end();
}

bool IpLayer::is_local(const IpAddr& a) const noexcept {
  return a.is_v4() ? is_local_v4(a.v4()) : is_local_v6(a);
}

IpAddr IpLayer::select_source(const IpAddr& dst) const noexcept {
  if (dst.is_v4()) return cfg_.v4.empty() ? IpAddr{} : IpAddr{cfg_.v4.front()};
  // RFC 6724 5 rule 2 (prefer appropriate scope): link-local to link-local,
  // global to global; a link-local source for a global destination only when it
  // is all we have (the peer may still be on-link).
  const bool want_ll = dst.is_v6_link_local();
  for (const IpAddr& a : cfg_.v6) {
    if (a.is_v6_link_local() == want_ll) return a;
  }
  return cfg_.v6.empty() || want_ll ? IpAddr{} : cfg_.v6.front();
}

// ------------------------------------------------------------------------------------
// ICMP errors for the transport (RFC 9293 3.9.2.2)

IcmpError classify_icmp_error(std::uint8_t type, std::uint8_t code, std::uint32_t word,
                              std::span<const std::byte> quoted) noexcept {
  using Kind = IcmpError::Kind;
  if (type != wire::kIcmpDestUnreachable) return {Kind::Soft, 0};  // Time Exceeded, Parameter Problem
  if (code == 2) return {Kind::Hard, 0};  // protocol unreachable
  if (code == 3) return {Kind::PortUnreachable, 0};
  if (code != 4) return {Kind::Soft, 0};  // net, host, source route failed, and the rest
  // Fragmentation needed and DF set: we set DF on everything (RFC 1191 3).
  std::uint32_t mtu = word & 0xFFFF;
  if (mtu == 0) {
    // RFC 1191 5: a router predating it: the next plateau of its table 7 below
    // the quoted packet's total length.
    static constexpr std::uint16_t kPlateaus[] = {32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68};
    const std::uint32_t total = quoted.size() >= 4 ? (std::to_integer<std::uint32_t>(quoted[2]) << 8 |
                                                      std::to_integer<std::uint32_t>(quoted[3]))
                                                   : 0;
    for (const std::uint16_t p : kPlateaus) {
      if (p < total) {
        mtu = p;
        break;
      }
    }
  }
  return {Kind::PacketTooBig, std::max(mtu, kMinPathMtu4)};
}

IcmpError classify_icmpv6_error(std::uint8_t type, std::uint8_t code) noexcept {
  // RFC 9293 3.9.2.2 lists the ICMPv6 soft errors: Destination Unreachable codes 0
  // (no route) and 3 (address unreachable), Time Exceeded 0 and 1, Parameter
  // Problem 0, 1 and 2. The other Destination Unreachable codes are hard: 1
  // (administratively prohibited), 2 (beyond the scope of the source), 4 (port
  // unreachable), 5 and 6 (policy, reject route; RFC 4443 3.1). Anything else
  // (new codes, unknown error types, RFC 4443 2.4(d)) is taken as soft: MUST-56
  // forbids aborting on a soft error, so doubt must not abort.
  using Kind = IcmpError::Kind;
  if (type == wire::kIcmpv6DestUnreachable && code == 4) return {Kind::PortUnreachable, 0, true};
  if (type == wire::kIcmpv6DestUnreachable && code != 0 && code != 3 && code <= 6) return {Kind::Hard, 0, true};
  return {Kind::Soft, 0, true};
}

// ------------------------------------------------------------------------------------
// IPv4 (RFC 791, RFC 1122 3.2.1)

void IpLayer::icmp_input(Ipv4Addr src, Ipv4Addr dst, std::span<const std::byte> message) noexcept {
  if (is_broadcast_or_multicast(src)) {  // RFC 1122 3.2.2.6: no replies to these
    counters_.inc(Counter::ip_drop_protocol);
    return;
  }
  auto icmp = wire::IcmpView::parse(message);
  if (!icmp || !icmp->checksum_valid()) {
    counters_.inc(Counter::ip_drop_protocol);
    return;
  }
  switch (icmp->type()) {
    case wire::kIcmpEchoRequest:
      break;
    case wire::kIcmpDestUnreachable:
    case wire::kIcmpTimeExceeded:
    case wire::kIcmpParamProblem:
      // RFC 1122 3.2.2: errors go to the transport named in the quoted header.
      counters_.inc(Counter::icmp_error_in);
      if (error_sink_ != nullptr) {
        error_sink_(error_sink_ctx_,
                    classify_icmp_error(icmp->type(), icmp->code(), icmp->rest_of_header(), icmp->payload()),
                    icmp->payload());
      }
      return;
    default:
      // RFC 9293 MUST-55: Source Quench silently discarded; so is every other
      // type we do not serve (echo replies: we send no requests).
      counters_.inc(Counter::ip_drop_protocol);
      return;
  }
  // RFC 792 / RFC 1122 3.2.2.6: answer echo requests with the same data.
  std::span<std::byte> buf = tx_.reserve();
  if (buf.empty()) return;
  const std::size_t icmp_len = wire::kIcmpHeaderLen + icmp->payload().size();
  if (icmp_len + wire::kIpv4MinHeaderLen > buf.size()) return;
  wire::Ipv4Header iph;
  iph.protocol = wire::kIpProtoIcmp;
  iph.src = dst;
  iph.dst = src;
  iph.ttl = cfg_.ttl;
  iph.id = ip_id_++;
  const std::size_t hl = wire::write_ipv4_header(buf, iph, static_cast<std::uint16_t>(icmp_len));
  wire::write_icmp_echo(buf.subspan(hl), wire::kIcmpEchoReply, icmp->identifier(), icmp->sequence(),
                        icmp->payload());
  tx_.commit(hl + icmp_len);
}

// ------------------------------------------------------------------------------------
// IPv6 (RFC 8200)

bool IpLayer::input_v6(std::span<const std::byte> packet, RxChecksum, Transport& out) noexcept {
  counters_.inc(Counter::ip6_in);
  // RFC 8200 3: version 6, payload length within what arrived.
  auto ip = wire::Ipv6View::parse(packet);
  if (!ip) {
    counters_.inc(Counter::ip6_drop_malformed);
    return false;
  }
  const IpAddr src = ip->src();
  const IpAddr dst = ip->dst();
  // RFC 4291 2.7: a multicast address is never a source. RFC 4291 2.5.5.2: an
  // IPv4-mapped address does not appear in an IPv6 header (here it would also
  // alias an IPv4 flow in the flow table).
  if (src.is_v6_multicast() || src.is_v4() || dst.is_v4()) {
    counters_.inc(Counter::ip6_drop_bad_address);
    return false;
  }
  const bool multicast = dst.is_v6_multicast();
  if (!multicast && !is_local_v6(dst)) {
    counters_.inc(Counter::ip6_drop_not_ours);
    return false;
  }
  // RFC 8200 4: extension headers in order, to the upper layer.
  const wire::Ipv6Walk w = wire::walk_extension_headers(*ip);
  switch (w.verdict) {
    case wire::Ipv6Walk::Verdict::Upper:
      break;
    case wire::Ipv6Walk::Verdict::NoNextHeader:
      counters_.inc(Counter::ip6_drop_no_next_header);
      return false;
    case wire::Ipv6Walk::Verdict::Fragment:
      // DEVIATION(RFC 8200 4.5): no reassembly. TCP sizes its segments from the
      // MSS and PMTU, so TCP peers do not fragment; other fragments are dropped.
      counters_.inc(Counter::ip6_drop_fragment);
      return false;
    case wire::Ipv6Walk::Verdict::Malformed:
    case wire::Ipv6Walk::Verdict::Discard:
      counters_.inc(Counter::ip6_drop_ext_header);
      return false;
    case wire::Ipv6Walk::Verdict::ParameterProblem:
      counters_.inc(Counter::ip6_drop_param_problem);
      parameter_problem(*ip, w.code, w.pointer);
      return false;
  }
  const std::span<const std::byte> upper = ip->bytes().subspan(w.offset);
  switch (w.upper_layer) {
    case wire::kIpProtoTcp:
      // RFC 9293 3.9.1 (and RFC 8200 2's multicast): TCP is unicast only.
      if (multicast) {
        counters_.inc(Counter::ip6_drop_not_ours);
        return false;
      }
      out.key.local_addr = dst;
      out.key.remote_addr = src;
      out.v4 = false;
      out.segment = upper;
      return true;
    case wire::kIpv6NextIcmpv6:
      if (hooks_.input == nullptr) {
        counters_.inc(Counter::ip6_drop_icmpv6);
        return false;
      }
      hooks_.input(hooks_.ctx, *ip, upper);
      return false;
    default:
      // RFC 8200 4: an unrecognized Next Header: discard, and Parameter Problem
      // code 1 pointing at the Next Header field that named it. Not for a
      // multicast destination (RFC 4443 2.4 (e.3)); the hook checks that too.
      counters_.inc(Counter::ip6_drop_protocol);
      if (!multicast) parameter_problem(*ip, 1, w.pointer);
      return false;
  }
}

void IpLayer::parameter_problem(const wire::Ipv6View& ip, std::uint8_t code, std::uint32_t pointer) noexcept {
  if (hooks_.parameter_problem != nullptr) hooks_.parameter_problem(hooks_.ctx, ip, code, pointer);
}

void IpLayer::write_ipv6(std::span<std::byte> out, const IpAddr& src, const IpAddr& dst, std::uint8_t next_header,
                         std::size_t payload_len) noexcept {
  // RFC 8200 3: no extension headers of our own, flow label 0 (RFC 6437 allows a
  // source that does not label flows to send 0), traffic class 0.
  wire::Ipv6Header h;
  h.next_header = next_header;
  h.hop_limit = cfg_.hop_limit;
  h.src = src;
  h.dst = dst;
  wire::write_ipv6_header(out, h, static_cast<std::uint16_t>(payload_len));
}

}  // namespace riptide::ip
