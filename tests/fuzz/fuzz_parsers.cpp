// libFuzzer target for every lib/wire parser. Runs the input as an Ethernet frame
// (-> IPv4 -> TCP/ICMP, or ARP), and also raw as ARP, IPv4, TCP and ICMPv6/ND, touching every
// accessor of each successful parse. TCP headers are written back and re-parsed:
// what comes back must equal what was written. Built with libFuzzer under clang
// (tests/fuzz/meson.build) and, everywhere, as fuzz_parsers_replay over corpus/.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "wire/arp.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/format.hpp"
#include "wire/icmp.hpp"
#include "wire/icmpv6.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace riptide::wire {
namespace {

// Keeps accessor results alive so the reads are not optimised away.
volatile std::uint64_t g_sink = 0;

void sink(std::uint64_t v) { g_sink = g_sink + v; }
void sink(std::span<const std::byte> s) {
  sink(s.size());
  if (!s.empty()) sink(static_cast<std::uint64_t>(s.front()) + static_cast<std::uint64_t>(s.back()));
}
void sink(const MacAddr& m) { sink(m.bytes[0] + m.bytes[5]); }

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond)) std::abort(); \
  } while (0)

// RFC 1071 section 4.1's loop, to cross-check the 8-bytes-at-a-time version.
std::uint16_t reference_checksum(std::span<const std::byte> d) {
  std::uint64_t sum = 0;
  std::size_t i = 0;
  for (; i + 1 < d.size(); i += 2) {
    sum += (static_cast<unsigned>(d[i]) << 8) | static_cast<unsigned>(d[i + 1]);
  }
  if (i < d.size()) sum += static_cast<unsigned>(d[i]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

void fuzz_tcp(std::span<const std::byte> segment, Ipv4Addr src, Ipv4Addr dst) {
  auto t = TcpView::parse(segment);
  if (!t) {
    sink(std::string_view(to_string(t.error())).size());
    return;
  }
  FUZZ_CHECK(t->header_length() >= kTcpMinHeaderLen && t->header_length() <= kTcpMaxHeaderLen);
  FUZZ_CHECK(t->header_length() % 4 == 0);
  FUZZ_CHECK(t->header_length() + t->payload().size() == segment.size());
  FUZZ_CHECK(t->bytes().size() == segment.size());
  FUZZ_CHECK(t->option_bytes().size() == t->header_length() - kTcpMinHeaderLen);
  const TcpOptions& o = t->options();
  FUZZ_CHECK(o.sack_count <= kTcpMaxSackBlocks);
  sink(t->src_port() + t->dst_port() + t->seq().raw() + t->ack().raw() + t->flags() +
       t->window() + t->checksum() + t->urgent_pointer() + (t->has(tcp_flags::kSyn) ? 1 : 0));
  sink(t->payload());
  sink(t->option_bytes());
  sink(t->checksum_valid(src, dst) ? 1 : 0);
  sink(format_tcp(src, dst, *t).size());

  // Write back and re-parse: the options that come back are the ones written
  // (unknown options dropped, SACK blocks limited to the room left).
  const TcpHeader h = header_of(*t);
  std::byte buf[kTcpMaxHeaderLen];
  const std::size_t n = write_tcp_header(buf, h);
  FUZZ_CHECK(n == kTcpMinHeaderLen + tcp_options_length(h.options));
  FUZZ_CHECK(n <= kTcpMaxHeaderLen);
  auto again = TcpView::parse(std::span<const std::byte>(buf, n));
  FUZZ_CHECK(again.has_value());
  TcpHeader want = h;
  want.options.unknown_count = 0;
  want.options.sack_count = static_cast<std::uint8_t>(tcp_sack_blocks_written(h.options));
  for (std::size_t i = want.options.sack_count; i < kTcpMaxSackBlocks; ++i) {
    want.options.sack_blocks[i] = {};
  }
  FUZZ_CHECK(header_of(*again) == want);
  FUZZ_CHECK(format_tcp_options(again->options()) == format_tcp_options(want.options));
}

void fuzz_icmp(std::span<const std::byte> message) {
  auto v = IcmpView::parse(message);
  if (!v) return;
  FUZZ_CHECK(v->payload().size() + kIcmpHeaderLen == message.size());
  sink(v->type() + v->code() + v->checksum() + v->identifier() + v->sequence() +
       v->rest_of_header() + (v->checksum_valid() ? 1u : 0u));
  sink(v->payload());
  sink(v->bytes());
}

// ICMPv6 and ND (raw, as the payload after an IPv6 header): every view, and NS/NA
// written back from what was parsed must parse to the same fields.
void fuzz_icmpv6(std::span<const std::byte> message) {
  auto v = Icmpv6View::parse(message);
  if (!v) return;
  FUZZ_CHECK(v->payload().size() + kIcmpv6HeaderLen == message.size());
  const IpAddr a = IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
  const IpAddr b = IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
  sink(v->type() + v->code() + v->checksum() + v->word() + (v->checksum_valid(a, b) ? 1u : 0u));
  if (auto ns = parse_neighbor_solicitation(*v)) {
    std::byte buf[kNdNsLen + kNdLinkAddrOptLen];
    const std::size_t n = write_neighbor_solicitation(buf, ns->target, ns->options.source_link_addr, a, b);
    FUZZ_CHECK(n != 0);
    auto again = Icmpv6View::parse(std::span<const std::byte>(buf, n));
    FUZZ_CHECK(again && again->checksum_valid(a, b));
    auto back = parse_neighbor_solicitation(*again);
    FUZZ_CHECK(back && back->target == ns->target && back->options.source_link_addr == ns->options.source_link_addr);
  }
  if (auto na = parse_neighbor_advertisement(*v)) {
    const auto flags = static_cast<std::uint8_t>((na->router ? kNaRouter : 0) | (na->solicited ? kNaSolicited : 0) |
                                                 (na->override_flag ? kNaOverride : 0));
    std::byte buf[kNdNaLen + kNdLinkAddrOptLen];
    const std::size_t n = write_neighbor_advertisement(buf, flags, na->target, na->options.target_link_addr, a, b);
    auto back = parse_neighbor_advertisement(*Icmpv6View::parse(std::span<const std::byte>(buf, n)));
    FUZZ_CHECK(back && back->target == na->target && back->router == na->router &&
               back->solicited == na->solicited && back->override_flag == na->override_flag &&
               back->options.target_link_addr == na->options.target_link_addr);
  }
  if (auto rs = parse_router_solicitation(*v)) sink(rs->options.prefix_info_count);
  if (auto ra = parse_router_advertisement(*v)) {
    sink(ra->cur_hop_limit + ra->router_lifetime + ra->reachable_time + ra->retrans_timer +
         ra->options.prefix_info_count + ra->options.mtu.value_or(0));
    if (ra->options.first_prefix) FUZZ_CHECK(ra->options.prefix_info_count >= 1);
  }
  if (auto r = parse_redirect(*v)) sink(r->target.bytes[15] + r->destination.bytes[15]);
  std::byte err[kIcmpv6ErrorMaxLen];
  FUZZ_CHECK(write_icmpv6_error(err, kIcmpv6ParamProblem, 1, 6, message, a, b) ==
             kIcmpv6HeaderLen + std::min(message.size(), kIcmpv6ErrorMaxLen - kIcmpv6HeaderLen));
}

void fuzz_ipv4(std::span<const std::byte> packet) {
  auto ip = Ipv4View::parse(packet);
  if (!ip) return;
  FUZZ_CHECK(ip->bytes().size() == ip->total_length());
  FUZZ_CHECK(ip->total_length() <= packet.size());
  FUZZ_CHECK(ip->header_length() + ip->payload().size() == ip->total_length());
  FUZZ_CHECK(ip->options().size() + kIpv4MinHeaderLen == ip->header_length());
  sink(ip->tos() + ip->id() + ip->ttl() + ip->protocol() + ip->header_checksum() +
       ip->src().value + ip->dst().value + ip->fragment_offset() + (ip->dont_fragment() ? 1u : 0u) +
       (ip->more_fragments() ? 2u : 0u) + (ip->is_fragment() ? 4u : 0u) +
       (ip->checksum_valid() ? 8u : 0u));
  sink(ip->options());
  if (ip->protocol() == kIpProtoTcp) fuzz_tcp(ip->payload(), ip->src(), ip->dst());
  if (ip->protocol() == kIpProtoIcmp) fuzz_icmp(ip->payload());
}

void fuzz_arp(std::span<const std::byte> packet) {
  auto a = ArpView::parse(packet);
  if (!a) return;
  FUZZ_CHECK(a->bytes().size() == kArpLen);
  sink(a->operation() + a->sender_ip().value + a->target_ip().value);
  sink(a->sender_mac());
  sink(a->target_mac());
  // Write back: identical bytes.
  std::byte buf[kArpLen];
  FUZZ_CHECK(write_arp(buf, ArpPacket{a->operation(), a->sender_mac(), a->sender_ip(),
                                      a->target_mac(), a->target_ip()}) == kArpLen);
  for (std::size_t i = 0; i < kArpLen; ++i) FUZZ_CHECK(buf[i] == a->bytes()[i]);
}

void fuzz_ethernet(std::span<const std::byte> frame) {
  auto eth = EthernetView::parse(frame);
  if (!eth) return;
  FUZZ_CHECK(eth->payload().size() + kEthernetHeaderLen == frame.size());
  sink(eth->dst());
  sink(eth->src());
  sink(eth->dst().is_multicast() ? 1 : 0);
  sink(eth->src().to_string().size());
  if (eth->ether_type() == kEtherTypeIpv4) fuzz_ipv4(eth->payload());
  if (eth->ether_type() == kEtherTypeArp) fuzz_arp(eth->payload());
}

}  // namespace
}  // namespace riptide::wire

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace riptide::wire;
  const auto in = std::as_bytes(std::span<const std::uint8_t>(data, size));
  FUZZ_CHECK(internet_checksum(in) == reference_checksum(in));
  fuzz_ethernet(in);
  fuzz_arp(in);
  fuzz_ipv4(in);
  fuzz_tcp(in, riptide::Ipv4Addr::from_octets(198, 18, 0, 2),
           riptide::Ipv4Addr::from_octets(198, 18, 0, 1));
  fuzz_icmp(in);
  fuzz_icmpv6(in);
  return 0;
}
