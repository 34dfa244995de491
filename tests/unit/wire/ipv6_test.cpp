// IPv6 (RFC 8200): the fixed-header view, the writer, the extension-header walk and
// the TCP checksum over the IPv6 pseudo-header (8.1).
#include "wire/ipv6.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace riptide::wire {
namespace {

std::vector<std::byte> from_hex(const std::string& hex) {
  std::vector<std::byte> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::byte>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// A SYN from Linux 6.x, 2001:db8::1.40000 > 2001:db8::2.80, MSS 1440: read from a
// tun device (no offloads, so the kernel finished the checksum, 0xfcd4) in a
// private network namespace: Python connect() on a tun holding 2001:db8::1/64.
const std::string kLinuxSyn =
    "60046d440028064020010db800000000000000000000000120010db800000000000000000000"
    "00029c400050aea0875e00000000a002fd20fcd40000020405a00402080a28fcf71a00000000"
    "0103030a";

TEST(Ipv6View, DecodesEveryFieldOfALinuxSyn) {
  const auto pkt = from_hex(kLinuxSyn);
  auto ip = Ipv6View::parse(pkt);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->traffic_class(), 0);
  EXPECT_EQ(ip->flow_label(), 0x46d44u);
  EXPECT_EQ(ip->payload_length(), 40);
  EXPECT_EQ(ip->next_header(), kIpProtoTcp);
  EXPECT_EQ(ip->hop_limit(), 64);
  EXPECT_EQ(ip->src(), *IpAddr::parse("2001:db8::1"));
  EXPECT_EQ(ip->dst(), *IpAddr::parse("2001:db8::2"));
  EXPECT_EQ(ip->payload().size(), 40u);
  EXPECT_EQ(ip->bytes().size(), pkt.size());
}

// RFC 8200 8.1: the TCP checksum Linux computed verifies over the IPv6 pseudo-header,
// and finish_tcp_checksum() computes the same value.
TEST(Ipv6View, PseudoHeaderChecksumMatchesLinux) {
  auto pkt = from_hex(kLinuxSyn);
  auto ip = Ipv6View::parse(pkt);
  ASSERT_TRUE(ip);
  EXPECT_TRUE(tcp_checksum_valid(ip->payload(), ip->src(), ip->dst()));
  std::span<std::byte> seg = std::span(pkt).subspan(kIpv6HeaderLen);
  seg[16] = std::byte{0xAA};
  seg[17] = std::byte{0x55};
  finish_tcp_checksum(seg, ip->src(), ip->dst());
  EXPECT_EQ(static_cast<int>(seg[16]), 0xfc);
  EXPECT_EQ(static_cast<int>(seg[17]), 0xd4);
  // The same bytes under IPv4 addresses do not verify (a different pseudo-header).
  EXPECT_FALSE(tcp_checksum_valid(ip->payload(), IpAddr{Ipv4Addr{1}}, IpAddr{Ipv4Addr{2}}));
  // The pseudo-header sum by hand: addresses, length 40, next header 6.
  const std::uint32_t ph = pseudo_header_sum_v6(ip->src(), ip->dst(), 6, 40);
  EXPECT_EQ(ph, 2u * (0x2001 + 0x0db8) + 1 + 2 + 40 + 6);
}

TEST(Ipv6View, RejectsEachMalformedHeader) {
  const auto good = from_hex(kLinuxSyn);
  // Truncated: shorter than 40 bytes.
  EXPECT_EQ(Ipv6View::parse(std::span(good).first(39)).error(), ParseError::Truncated);
  EXPECT_EQ(Ipv6View::parse({}).error(), ParseError::Truncated);
  // BadVersion: 4 (an IPv4 packet) and 7.
  auto v = good;
  v[0] = std::byte{0x45};
  EXPECT_EQ(Ipv6View::parse(v).error(), ParseError::BadVersion);
  v[0] = std::byte{0x70};
  EXPECT_EQ(Ipv6View::parse(v).error(), ParseError::BadVersion);
  // BadPayloadLength: past the buffer by one.
  auto l = good;
  l[5] = std::byte{41};
  EXPECT_EQ(Ipv6View::parse(l).error(), ParseError::BadPayloadLength);
  // Payload length 0 with Hop-by-Hop: a jumbogram (RFC 2675), not supported.
  auto j = good;
  j[4] = j[5] = std::byte{0};
  j[6] = std::byte{kIpv6NextHopByHop};
  EXPECT_EQ(Ipv6View::parse(j).error(), ParseError::BadPayloadLength);
  // Payload length 0 otherwise: an empty payload.
  j[6] = std::byte{kIpv6NextNone};
  ASSERT_TRUE(Ipv6View::parse(j));
  EXPECT_TRUE(Ipv6View::parse(j)->payload().empty());
  // Trailing bytes (Ethernet padding) are trimmed off.
  auto padded = good;
  padded.resize(good.size() + 6);
  ASSERT_TRUE(Ipv6View::parse(padded));
  EXPECT_EQ(Ipv6View::parse(padded)->bytes().size(), good.size());
}

TEST(Ipv6Header, WritesIntoAPatternFilledBufferAndRoundTrips) {
  std::vector<std::byte> buf(48, std::byte{0xEE});
  Ipv6Header h;
  h.traffic_class = 0xB8;
  h.flow_label = 0x12345;
  h.next_header = kIpProtoTcp;
  h.hop_limit = 255;
  h.src = *IpAddr::parse("2001:db8::1");
  h.dst = *IpAddr::parse("fe80::2");
  EXPECT_EQ(write_ipv6_header(std::span(buf).first(39), h, 8), 0u);  // too small
  ASSERT_EQ(write_ipv6_header(buf, h, 8), kIpv6HeaderLen);
  EXPECT_EQ(buf[0], std::byte{0x6B});
  EXPECT_EQ(buf[1], std::byte{0x81});
  EXPECT_EQ(buf[40], std::byte{0xEE});  // nothing past the header
  auto ip = Ipv6View::parse(buf);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->traffic_class(), 0xB8);
  EXPECT_EQ(ip->flow_label(), 0x12345u);
  EXPECT_EQ(ip->payload_length(), 8);
  EXPECT_EQ(ip->next_header(), kIpProtoTcp);
  EXPECT_EQ(ip->hop_limit(), 255);
  EXPECT_EQ(ip->src(), h.src);
  EXPECT_EQ(ip->dst(), h.dst);
}

// A packet: the fixed header (payload length from `ext`), Next Header `first`,
// then `ext` (extension headers and whatever follows them).
std::vector<std::byte> packet(std::uint8_t first, std::initializer_list<int> ext, bool multicast = false) {
  std::vector<std::byte> p(kIpv6HeaderLen);
  for (int x : ext) p.push_back(static_cast<std::byte>(x));
  Ipv6Header h;
  h.next_header = first;
  h.src = *IpAddr::parse("2001:db8::1");
  h.dst = *IpAddr::parse(multicast ? "ff02::1" : "2001:db8::2");
  write_ipv6_header(p, h, static_cast<std::uint16_t>(p.size() - kIpv6HeaderLen));
  return p;
}

struct WalkCase {
  const char* name;
  std::vector<std::byte> pkt;
  Ipv6Walk::Verdict verdict;
  std::uint8_t upper_or_code;  // Upper: the upper layer; ParameterProblem: the code
  std::size_t offset_or_pointer;  // Upper: the offset; ParameterProblem: the pointer
};

TEST(Ipv6Walk, FollowsRfc8200Section4) {
  using V = Ipv6Walk::Verdict;
  const WalkCase cases[] = {
      {"no extension headers", packet(6, {}), V::Upper, 6, 40},
      {"hop-by-hop with Pad1s", packet(0, {6, 0, 0, 0, 0, 0, 0, 0}), V::Upper, 6, 48},
      {"hop-by-hop, dest opts, routing sl=0, dest opts",
       packet(0, {60, 0, 1, 4, 0, 0, 0, 0, 43, 0, 1, 4, 0, 0, 0, 0, 60, 0, 4, 0, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0}),
       V::Upper, 6, 72},
      {"dest opts of 16 bytes (Hdr Ext Len 1)", packet(60, {58, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
       V::Upper, 58, 56},
      {"option 00 (skip)", packet(60, {6, 0, 0x3e, 4, 0, 0, 0, 0}), V::Upper, 6, 48},
      {"option 01 (discard)", packet(60, {6, 0, 0x40, 4, 0, 0, 0, 0}), V::Discard, 0, 0},
      {"option 10 (problem, code 2)", packet(60, {6, 0, 0, 0x9f, 2, 0, 0, 0}), V::ParameterProblem, 2, 43},
      {"option 11 (problem, code 2)", packet(60, {6, 0, 0xc2, 4, 0, 0, 0, 0}), V::ParameterProblem, 2, 42},
      {"option 11 to multicast (discard)", packet(60, {6, 0, 0xc2, 4, 0, 0, 0, 0}, true), V::Discard, 0, 0},
      {"option past the header", packet(60, {6, 0, 1, 5, 0, 0, 0, 0}), V::Malformed, 0, 0},
      {"option length byte missing", packet(60, {6, 0, 0, 0, 0, 0, 0, 1}), V::Malformed, 0, 0},
      {"hop-by-hop not first", packet(60, {0, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0}), V::ParameterProblem, 1, 40},
      {"routing, segments left 1", packet(43, {6, 0, 0, 1, 0, 0, 0, 0}), V::ParameterProblem, 0, 42},
      {"routing type 2, segments left 1", packet(43, {6, 2, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
       V::ParameterProblem, 0, 42},
      {"fragment, first (M)", packet(44, {6, 0, 0, 1, 0, 0, 0, 1}), V::Fragment, 0, 0},
      {"fragment, later (offset)", packet(44, {6, 0, 0, 8, 0, 0, 0, 1}), V::Fragment, 0, 0},
      {"atomic fragment (RFC 6946)", packet(44, {6, 0, 0, 0, 0, 0, 0, 1}), V::Upper, 6, 48},
      {"atomic fragment with reserved bits", packet(44, {6, 0, 0, 6, 0, 0, 0, 1}), V::Upper, 6, 48},
      {"no next header", packet(59, {}), V::NoNextHeader, 0, 0},
      {"no next header after dest opts", packet(60, {59, 0, 1, 4, 0, 0, 0, 0}), V::NoNextHeader, 0, 0},
      {"unknown upper layer", packet(253, {}), V::Upper, 253, 40},
      {"dest opts truncated", packet(60, {6, 0, 1, 4}), V::Malformed, 0, 0},
      {"dest opts length past the payload", packet(60, {6, 1, 1, 4, 0, 0, 0, 0}), V::Malformed, 0, 0},
      {"fragment truncated", packet(44, {6, 0, 0, 0}), V::Malformed, 0, 0},
      {"routing truncated", packet(43, {6, 0, 0, 0}), V::Malformed, 0, 0},
  };
  for (const WalkCase& c : cases) {
    auto ip = Ipv6View::parse(c.pkt);
    ASSERT_TRUE(ip) << c.name;
    const Ipv6Walk w = walk_extension_headers(*ip);
    EXPECT_EQ(w.verdict, c.verdict) << c.name;
    if (c.verdict == V::Upper) {
      EXPECT_EQ(w.upper_layer, c.upper_or_code) << c.name;
      EXPECT_EQ(w.offset, c.offset_or_pointer) << c.name;
    } else if (c.verdict == V::ParameterProblem) {
      EXPECT_EQ(w.code, c.upper_or_code) << c.name;
      EXPECT_EQ(w.pointer, c.offset_or_pointer) << c.name;
    }
  }
}

// For an unrecognized upper layer the pointer names the Next Header field that
// named it (RFC 8200 4: Parameter Problem code 1's pointer): the fixed header's
// (6) or the last extension header's first byte.
TEST(Ipv6Walk, UpperLayerPointerIsTheNamingField) {
  auto a = packet(253, {});
  EXPECT_EQ(walk_extension_headers(*Ipv6View::parse(a)).pointer, 6u);
  auto b = packet(60, {253, 0, 1, 4, 0, 0, 0, 0});
  EXPECT_EQ(walk_extension_headers(*Ipv6View::parse(b)).pointer, 40u);
}

}  // namespace
}  // namespace riptide::wire
