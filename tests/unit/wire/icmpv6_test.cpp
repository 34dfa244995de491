// ICMPv6 and Neighbor Discovery (RFC 4443, RFC 4861): decode golden frames,
// encode over a 0xAA pattern and compare with them, round trips, each malformed
// case of each message (table-driven), multicast and EUI-64 helpers.
//
// Golden frames: captured from Linux 6.18 with an AF_PACKET socket on
// one end of a veth pair between two network namespaces (MACs 02:00:00:00:00:01
// and :02, addresses 2001:db8::1 and ::2/64, DAD off) while one pinged the other
// with `ping -6 -c 1 -s 8`; tests/unit/wire/testdata/capture_icmpv6.sh.
#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "wire/checksum.hpp"
#include "wire/icmpv6.hpp"

namespace riptide::wire {
namespace {

std::vector<std::byte> from_hex(std::string_view h) {
  std::vector<std::byte> out;
  auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(std::byte(nib(h[i]) << 4 | nib(h[i + 1])));
  return out;
}

// Ethernet (14) + IPv6 (40) + ICMPv6.
constexpr std::size_t kIcmpOffset = 54;

// NS from 2001:db8::1 to ff02::1:ff00:2 for target 2001:db8::2, SLLA 02:..:01.
const auto kNsMulticast = from_hex(
    "3333ff00000202000000000186dd6000000000203aff20010db8000000000000000000000001ff0200000000000000000001ff0000"
    "0287001c270000000020010db80000000000000000000000020101020000000001");
// Echo request 2001:db8::1 -> ::2, id 0x2f89, seq 1, 8 bytes 00..07.
const auto kEchoRequest = from_hex(
    "02000000000202000000000186dd6005390a00103a4020010db800000000000000000000000120010db80000000000000000000000"
    "028000e8a52f8900010001020304050607");
// NA from 2001:db8::1 to fe80::ff:fe00:2, Solicited only, target 2001:db8::1, no option.
const auto kNaFrame = from_hex(
    "02000000000202000000000186dd6000000000183aff20010db8000000000000000000000001fe80000000000000000000fffe0000"
    "028800deb54000000020010db8000000000000000000000001");

IpAddr ip_at(const std::vector<std::byte>& f, std::size_t off) { return IpAddr::from_bytes(f.data() + off); }
IpAddr src_of(const std::vector<std::byte>& f) { return ip_at(f, 22); }
IpAddr dst_of(const std::vector<std::byte>& f) { return ip_at(f, 38); }
std::span<const std::byte> icmp_of(const std::vector<std::byte>& f) {
  return std::span<const std::byte>(f).subspan(kIcmpOffset);
}

const IpAddr kA = IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const IpAddr kB = IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const MacAddr kMacA{{0x02, 0, 0, 0, 0, 0x01}};
const MacAddr kMacB{{0x02, 0, 0, 0, 0, 0x02}};

std::vector<std::byte> pattern(std::size_t n) { return std::vector<std::byte>(n, std::byte{0xAA}); }

TEST(WireIcmpv6, DecodesGoldenNeighborSolicitation) {
  auto m = Icmpv6View::parse(icmp_of(kNsMulticast));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type(), kNdNeighborSolicit);
  EXPECT_EQ(m->code(), 0);
  EXPECT_EQ(m->checksum(), 0x1c27);
  EXPECT_FALSE(m->is_error());
  EXPECT_TRUE(m->checksum_valid(src_of(kNsMulticast), dst_of(kNsMulticast)));
  EXPECT_FALSE(m->checksum_valid(kB, dst_of(kNsMulticast)));  // the pseudo-header counts
  auto ns = parse_neighbor_solicitation(*m);
  ASSERT_TRUE(ns);
  EXPECT_EQ(ns->target, kB);
  ASSERT_TRUE(ns->options.source_link_addr);
  EXPECT_EQ(*ns->options.source_link_addr, kMacA);
  EXPECT_FALSE(ns->options.target_link_addr);
  EXPECT_EQ(dst_of(kNsMulticast), solicited_node(kB));
  EXPECT_EQ(load_mac(kNsMulticast.data()), multicast_mac(solicited_node(kB)));
}

TEST(WireIcmpv6, DecodesGoldenEcho) {
  auto m = Icmpv6View::parse(icmp_of(kEchoRequest));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type(), kIcmpv6EchoRequest);
  EXPECT_EQ(m->identifier(), 0x2f89);
  EXPECT_EQ(m->sequence(), 1);
  EXPECT_EQ(m->payload().size(), 8u);
  EXPECT_TRUE(m->checksum_valid(kA, kB));
}

TEST(WireIcmpv6, DecodesGoldenNeighborAdvertisement) {
  auto m = Icmpv6View::parse(icmp_of(kNaFrame));
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->checksum_valid(src_of(kNaFrame), dst_of(kNaFrame)));
  auto na = parse_neighbor_advertisement(*m);
  ASSERT_TRUE(na);
  EXPECT_FALSE(na->router);
  EXPECT_TRUE(na->solicited);
  EXPECT_FALSE(na->override_flag);
  EXPECT_EQ(na->target, kA);
  EXPECT_FALSE(na->options.target_link_addr);
}

// The writers reproduce Linux's bytes exactly (over a pattern, so every byte is written).
TEST(WireIcmpv6, WritesGoldenNeighborSolicitation) {
  auto out = pattern(64);
  const std::size_t n = write_neighbor_solicitation(out, kB, kMacA, kA, solicited_node(kB));
  ASSERT_EQ(n, 32u);
  EXPECT_TRUE(std::equal(out.begin(), out.begin() + 32, icmp_of(kNsMulticast).begin()));
  EXPECT_EQ(out[32], std::byte{0xAA});
}

TEST(WireIcmpv6, WritesGoldenEcho) {
  auto out = pattern(64);
  const auto data = icmp_of(kEchoRequest).subspan(8);
  const std::size_t n = write_icmpv6_echo(out, kIcmpv6EchoRequest, 0x2f89, 1, data, kA, kB);
  ASSERT_EQ(n, 16u);
  EXPECT_TRUE(std::equal(out.begin(), out.begin() + 16, icmp_of(kEchoRequest).begin()));
}

TEST(WireIcmpv6, WritesGoldenNeighborAdvertisement) {
  auto out = pattern(64);
  const std::size_t n =
      write_neighbor_advertisement(out, kNaSolicited, kA, std::nullopt, kA, dst_of(kNaFrame));
  ASSERT_EQ(n, 24u);
  EXPECT_TRUE(std::equal(out.begin(), out.begin() + 24, icmp_of(kNaFrame).begin()));
}

TEST(WireIcmpv6, EchoReplyInPlace) {
  // Answering in place: the data already sits at out[8..].
  std::vector<std::byte> buf(icmp_of(kEchoRequest).begin(), icmp_of(kEchoRequest).end());
  const std::size_t n = write_icmpv6_echo(buf, kIcmpv6EchoReply, 0x2f89, 1, std::span(buf).subspan(8), kB, kA);
  ASSERT_EQ(n, 16u);
  auto m = Icmpv6View::parse(std::span(buf).first(n));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->type(), kIcmpv6EchoReply);
  EXPECT_TRUE(m->checksum_valid(kB, kA));
  EXPECT_TRUE(std::equal(buf.begin() + 8, buf.begin() + 16, icmp_of(kEchoRequest).begin() + 8));
}

TEST(WireIcmpv6, NeighborAdvertisementRoundTrip) {
  auto out = pattern(64);
  const std::size_t n =
      write_neighbor_advertisement(out, kNaSolicited | kNaOverride, kB, kMacB, kB, kA);
  ASSERT_EQ(n, 32u);
  auto m = Icmpv6View::parse(std::span(out).first(n));
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->checksum_valid(kB, kA));
  auto na = parse_neighbor_advertisement(*m);
  ASSERT_TRUE(na);
  EXPECT_TRUE(na->solicited);
  EXPECT_TRUE(na->override_flag);
  EXPECT_FALSE(na->router);
  EXPECT_EQ(na->target, kB);
  ASSERT_TRUE(na->options.target_link_addr);
  EXPECT_EQ(*na->options.target_link_addr, kMacB);
}

TEST(WireIcmpv6, RouterMessagesRoundTrip) {
  auto out = pattern(64);
  std::size_t n = write_router_solicitation(out, kMacA, kA, kAllRouters);
  ASSERT_EQ(n, 16u);
  auto m = Icmpv6View::parse(std::span(out).first(n));
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->checksum_valid(kA, kAllRouters));
  auto rs = parse_router_solicitation(*m);
  ASSERT_TRUE(rs);
  EXPECT_EQ(*rs->options.source_link_addr, kMacA);

  RouterAdvertisement ra;
  ra.cur_hop_limit = 64;
  ra.managed = true;
  ra.router_lifetime = 1800;
  ra.reachable_time = 30000;
  ra.retrans_timer = 1000;
  n = write_router_advertisement(out, ra, kMacB, 1400, kB, kAllNodes);
  ASSERT_EQ(n, 32u);
  m = Icmpv6View::parse(std::span(out).first(n));
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->checksum_valid(kB, kAllNodes));
  auto back = parse_router_advertisement(*m);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->cur_hop_limit, 64);
  EXPECT_TRUE(back->managed);
  EXPECT_FALSE(back->other);
  EXPECT_EQ(back->router_lifetime, 1800);
  EXPECT_EQ(back->reachable_time, 30000u);
  EXPECT_EQ(back->retrans_timer, 1000u);
  EXPECT_EQ(*back->options.source_link_addr, kMacB);
  EXPECT_EQ(back->options.mtu, 1400u);
}

TEST(WireIcmpv6, ErrorMessagesCarryTheInvokingPacket) {
  struct Case {
    std::uint8_t type, code;
    std::uint32_t word;
  };
  for (const Case c : {Case{kIcmpv6DestUnreachable, kIcmpv6PortUnreachable, 0},
                       Case{kIcmpv6PacketTooBig, 0, 1400}, Case{kIcmpv6TimeExceeded, kIcmpv6HopLimitExceeded, 0},
                       Case{kIcmpv6ParamProblem, kIcmpv6UnknownNextHeader, 6}}) {
    SCOPED_TRACE(int{c.type});
    const std::vector<std::byte> invoking(kEchoRequest.begin() + 14, kEchoRequest.end());
    auto out = pattern(200);
    const std::size_t n = write_icmpv6_error(out, c.type, c.code, c.word, invoking, kB, kA);
    ASSERT_EQ(n, 8 + invoking.size());
    auto m = Icmpv6View::parse(std::span(out).first(n));
    ASSERT_TRUE(m);
    EXPECT_TRUE(m->is_error());
    EXPECT_EQ(m->type(), c.type);
    EXPECT_EQ(m->code(), c.code);
    EXPECT_EQ(m->word(), c.word);
    EXPECT_TRUE(m->checksum_valid(kB, kA));
    EXPECT_TRUE(std::equal(invoking.begin(), invoking.end(), m->payload().begin()));
  }
}

TEST(WireIcmpv6, ErrorIsCutToTheMinimumMtu) {
  // RFC 4443 2.4(c): the whole IPv6 packet stays within 1280 bytes.
  const std::vector<std::byte> invoking(3000, std::byte{7});
  std::vector<std::byte> out(4000);
  EXPECT_EQ(write_icmpv6_error(out, kIcmpv6PacketTooBig, 0, 1280, invoking, kB, kA), kIcmpv6ErrorMaxLen);
  EXPECT_EQ(kIcmpv6ErrorMaxLen + kIpv6HeaderLen, 1280u);
  std::vector<std::byte> small(100);
  EXPECT_EQ(write_icmpv6_error(small, kIcmpv6PacketTooBig, 0, 1280, invoking, kB, kA), 100u);
}

TEST(WireIcmpv6, WritersRefuseShortBuffers) {
  std::vector<std::byte> out(7);
  EXPECT_EQ(write_icmpv6_echo(out, kIcmpv6EchoReply, 1, 1, {}, kA, kB), 0u);
  EXPECT_EQ(write_icmpv6_error(out, kIcmpv6TimeExceeded, 0, 0, {}, kA, kB), 0u);
  std::vector<std::byte> out31(31);
  EXPECT_EQ(write_neighbor_solicitation(out31, kB, kMacA, kA, kB), 0u);
  EXPECT_EQ(write_neighbor_advertisement(out31, 0, kB, kMacA, kA, kB), 0u);
  EXPECT_EQ(write_neighbor_solicitation(out31, kB, std::nullopt, kA, kB), 24u);
  std::vector<std::byte> out8(8);
  EXPECT_EQ(write_icmpv6_echo(out8, kIcmpv6EchoReply, 1, 1, {}, kA, kB), 8u);
}

// --- malformed ND messages, one per row -----------------------------------------------

enum class Msg { Ns, Na, Rs, Ra, Redirect };

struct Malformed {
  const char* name;
  Msg msg;
  std::vector<std::byte> bytes;  // the ICMPv6 message (checksum not checked here)
  ParseError error;
};

std::vector<std::byte> ns_with(std::vector<std::byte> options) {
  std::vector<std::byte> m(24);
  m[0] = std::byte{kNdNeighborSolicit};
  m.insert(m.end(), options.begin(), options.end());
  return m;
}
std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(std::byte(b));
  return out;
}
std::vector<std::byte> zeros(std::size_t n, int type) {
  std::vector<std::byte> m(n);
  if (n) m[0] = std::byte(type);
  return m;
}

ParseError parse_as(Msg msg, const std::vector<std::byte>& b) {
  auto m = Icmpv6View::parse(b);
  if (!m) return m.error();
  switch (msg) {
    case Msg::Ns: {
      auto r = parse_neighbor_solicitation(*m);
      return r ? ParseError::Unsupported : r.error();
    }
    case Msg::Na: {
      auto r = parse_neighbor_advertisement(*m);
      return r ? ParseError::Unsupported : r.error();
    }
    case Msg::Rs: {
      auto r = parse_router_solicitation(*m);
      return r ? ParseError::Unsupported : r.error();
    }
    case Msg::Ra: {
      auto r = parse_router_advertisement(*m);
      return r ? ParseError::Unsupported : r.error();
    }
    case Msg::Redirect: {
      auto r = parse_redirect(*m);
      return r ? ParseError::Unsupported : r.error();
    }
  }
  return ParseError::Unsupported;
}

TEST(WireIcmpv6, MalformedNdMessages) {
  const std::vector<Malformed> cases = {
      {"header only 7 bytes", Msg::Ns, zeros(7, kNdNeighborSolicit), ParseError::Truncated},
      {"NS 23 bytes", Msg::Ns, zeros(23, kNdNeighborSolicit), ParseError::Truncated},
      {"NA 23 bytes", Msg::Na, zeros(23, kNdNeighborAdvert), ParseError::Truncated},
      {"RA 15 bytes", Msg::Ra, zeros(15, kNdRouterAdvert), ParseError::Truncated},
      {"Redirect 39 bytes", Msg::Redirect, zeros(39, kNdRedirect), ParseError::Truncated},
      {"option length 0", Msg::Ns, ns_with(bytes({1, 0, 0, 0, 0, 0, 0, 0})), ParseError::ZeroLengthOption},
      {"option type byte only", Msg::Ns, ns_with(bytes({1})), ParseError::OptionOverrun},
      {"option past the end", Msg::Ns, ns_with(bytes({1, 2, 2, 0, 0, 0, 0, 1})), ParseError::OptionOverrun},
      {"zero length after a good option", Msg::Ns,
       ns_with(bytes({1, 1, 2, 0, 0, 0, 0, 1, 14, 0, 0, 0, 0, 0, 0, 0})), ParseError::ZeroLengthOption},
      {"MTU option of 16 bytes", Msg::Ra,
       [] {
         auto m = zeros(16, kNdRouterAdvert);
         auto o = bytes({5, 2, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0});
         m.insert(m.end(), o.begin(), o.end());
         return m;
       }(),
       ParseError::BadOptionLength},
      {"prefix info of 8 bytes", Msg::Ra,
       [] {
         auto m = zeros(16, kNdRouterAdvert);
         auto o = bytes({3, 1, 64, 0xc0, 0, 0, 0, 0});
         m.insert(m.end(), o.begin(), o.end());
         return m;
       }(),
       ParseError::BadOptionLength},
      {"RS option overrun", Msg::Rs,
       [] {
         auto m = zeros(8, kNdRouterSolicit);
         auto o = bytes({1, 1, 2, 0});
         m.insert(m.end(), o.begin(), o.end());
         return m;
       }(),
       ParseError::OptionOverrun},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(parse_as(c.msg, c.bytes), c.error);
  }
}

TEST(WireIcmpv6, OptionsSkippedAndFirstKept) {
  // An unknown option (type 14, nonce) is skipped; a 16-byte link-layer option (not
  // Ethernet) is skipped; of two SLLAs the first counts.
  auto m = ns_with(bytes({14, 1, 1, 2, 3, 4, 5, 6,                                     //
                          1, 2, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,             //
                          1, 1, 2, 0, 0, 0, 0, 7,                                     //
                          1, 1, 2, 0, 0, 0, 0, 8}));
  auto v = Icmpv6View::parse(m);
  ASSERT_TRUE(v);
  auto ns = parse_neighbor_solicitation(*v);
  ASSERT_TRUE(ns);
  ASSERT_TRUE(ns->options.source_link_addr);
  EXPECT_EQ(ns->options.source_link_addr->bytes[5], 7);
}

TEST(WireIcmpv6, PrefixInformation) {
  auto m = zeros(16, kNdRouterAdvert);
  auto o = bytes({3, 4, 64, 0xc0, 0, 0, 0x0e, 0x10, 0, 0, 0x07, 0x08, 0, 0, 0, 0,  //
                  0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  m.insert(m.end(), o.begin(), o.end());
  auto v = Icmpv6View::parse(m);
  ASSERT_TRUE(v);
  auto ra = parse_router_advertisement(*v);
  ASSERT_TRUE(ra);
  EXPECT_EQ(ra->options.prefix_info_count, 1u);
  ASSERT_TRUE(ra->options.first_prefix);
  EXPECT_EQ(ra->options.first_prefix->prefix_len, 64);
  EXPECT_TRUE(ra->options.first_prefix->on_link);
  EXPECT_TRUE(ra->options.first_prefix->autonomous);
  EXPECT_EQ(ra->options.first_prefix->valid_lifetime, 3600u);
  EXPECT_EQ(ra->options.first_prefix->preferred_lifetime, 1800u);
  EXPECT_EQ(ra->options.first_prefix->prefix, IpAddr::v6(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0));
}

TEST(WireIcmpv6, RedirectParsed) {
  auto m = zeros(40, kNdRedirect);
  std::copy(kA.bytes.begin(), kA.bytes.end(), reinterpret_cast<std::uint8_t*>(m.data()) + 8);
  std::copy(kB.bytes.begin(), kB.bytes.end(), reinterpret_cast<std::uint8_t*>(m.data()) + 24);
  auto v = Icmpv6View::parse(m);
  ASSERT_TRUE(v);
  auto r = parse_redirect(*v);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->target, kA);
  EXPECT_EQ(r->destination, kB);
}

TEST(WireIcmpv6, MulticastAndLinkLocalHelpers) {
  // RFC 4291 2.7.1's example form: ff02::1:ff + the low 24 bits.
  EXPECT_EQ(solicited_node(IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0x1234, 0x5678)),
            IpAddr::v6(0xff02, 0, 0, 0, 0, 1, 0xff34, 0x5678));
  EXPECT_EQ(multicast_mac(kAllNodes), (MacAddr{{0x33, 0x33, 0, 0, 0, 1}}));
  // RFC 4291 Appendix A: 34-56-78-9A-BC-DE -> 3656:78ff:fe9a:bcde; the golden frames'
  // Linux link-local for 02:00:00:00:00:02 is fe80::ff:fe00:2.
  EXPECT_EQ(link_local_from_mac(MacAddr{{0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde}}),
            IpAddr::v6(0xfe80, 0, 0, 0, 0x3656, 0x78ff, 0xfe9a, 0xbcde));
  EXPECT_EQ(link_local_from_mac(kMacB), dst_of(kNaFrame));
}

TEST(WireIcmpv6, PseudoHeaderSumMatchesASumOverTheBytes) {
  // RFC 8200 8.1: src, dst, 32-bit length, 3 zero bytes, next header.
  std::vector<std::byte> ph(40);
  std::memcpy(ph.data(), kA.bytes.data(), 16);
  std::memcpy(ph.data() + 16, kB.bytes.data(), 16);
  ph[34] = std::byte{0x01};
  ph[35] = std::byte{0x02};
  ph[39] = std::byte{58};
  EXPECT_EQ(checksum_fold(pseudo_header_sum_v6(kA, kB, 58, 0x0102)), checksum_fold(checksum_add(ph)));
}

}  // namespace
}  // namespace riptide::wire
