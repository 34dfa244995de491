// IPv4 and ICMP: decode golden packets, encode over a 0xAA pattern, round trips,
// every truncation, impossible version/IHL/total length.
#include <gtest/gtest.h>

#include <vector>

#include "golden_packets.hpp"
#include "wire/checksum.hpp"
#include "wire/icmp.hpp"
#include "wire/ipv4.hpp"

namespace riptide::wire {
namespace {

using namespace golden;

std::vector<std::byte> pattern(std::size_t n) { return std::vector<std::byte>(n, std::byte{0xAA}); }

std::vector<std::uint8_t> syn_ip() {
  return std::vector<std::uint8_t>(kSynFrame.begin() + kIpOffset, kSynFrame.end());
}

Result<Ipv4View, ParseError> parse_ip(const std::vector<std::uint8_t>& v) {
  return Ipv4View::parse(std::as_bytes(std::span(v)));
}

TEST(WireIpv4, DecodesGoldenSyn) {
  auto ip = Ipv4View::parse(bytes_of(kSynFrame).subspan(kIpOffset));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->header_length(), 20u);
  EXPECT_EQ(ip->tos(), 0);
  EXPECT_EQ(ip->total_length(), 60);
  EXPECT_EQ(ip->id(), 44919);
  EXPECT_TRUE(ip->dont_fragment());
  EXPECT_FALSE(ip->more_fragments());
  EXPECT_EQ(ip->fragment_offset(), 0u);
  EXPECT_FALSE(ip->is_fragment());
  EXPECT_EQ(ip->ttl(), 64);
  EXPECT_EQ(ip->protocol(), kIpProtoTcp);
  EXPECT_EQ(ip->header_checksum(), 0xff1c);
  EXPECT_TRUE(ip->checksum_valid());
  EXPECT_EQ(ip->src(), kClientIp);
  EXPECT_EQ(ip->dst(), kServerIp);
  EXPECT_TRUE(ip->options().empty());
  EXPECT_EQ(ip->payload().size(), 40u);
  EXPECT_EQ(ip->payload().data(), bytes_of(kSynFrame).data() + kL4Offset);
  EXPECT_EQ(ip->bytes().size(), 60u);
}

TEST(WireIpv4, DecodesGoldenIcmp) {
  auto ip = Ipv4View::parse(bytes_of(kIcmpEchoRequestFrame).subspan(kIpOffset));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->protocol(), kIpProtoIcmp);
  EXPECT_EQ(ip->id(), 10890);
  EXPECT_EQ(ip->total_length(), 84);
  EXPECT_TRUE(ip->checksum_valid());
}

TEST(WireIpv4, FragmentFields) {
  auto p = syn_ip();
  p[6] = 0x20;  // MF, offset 0
  p[7] = 0x00;
  auto ip = parse_ip(p);
  ASSERT_TRUE(ip);
  EXPECT_TRUE(ip->more_fragments());
  EXPECT_FALSE(ip->dont_fragment());
  EXPECT_TRUE(ip->is_fragment());
  EXPECT_EQ(ip->fragment_offset(), 0u);
  EXPECT_FALSE(ip->checksum_valid());  // we changed a header byte

  p[6] = 0x1f;  // no flags, offset 0x1fff * 8
  p[7] = 0xff;
  ip = parse_ip(p);
  ASSERT_TRUE(ip);
  EXPECT_FALSE(ip->more_fragments());
  EXPECT_TRUE(ip->is_fragment());
  EXPECT_EQ(ip->fragment_offset(), 0x1fffu * 8);
}

// IHL 6 with a 4-byte option (NOP x3, EOL), then 2 bytes of data; checksum set.
std::vector<std::uint8_t> ip_with_option() {
  std::vector<std::uint8_t> p = {0x46, 0x00, 0x00, 26, 0, 1, 0x40, 0, 64, 17, 0, 0,
                                 198,  18,   0,    2,  198, 18, 0, 1, 1, 1, 1, 0, 0xde, 0xad};
  const auto sum = internet_checksum(std::as_bytes(std::span(p)).first(24));
  p[10] = static_cast<std::uint8_t>(sum >> 8);
  p[11] = static_cast<std::uint8_t>(sum);
  return p;
}

TEST(WireIpv4, OptionsAndEthernetPaddingAreHandled) {
  // The option packet, then 10 bytes of Ethernet padding beyond total_length.
  std::vector<std::uint8_t> p = ip_with_option();
  p.resize(36, 0);
  auto ip = parse_ip(p);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->header_length(), 24u);
  EXPECT_EQ(ip->options().size(), 4u);
  EXPECT_EQ(ip->payload().size(), 2u);
  EXPECT_EQ(static_cast<std::uint8_t>(ip->payload()[1]), 0xad);
  EXPECT_EQ(ip->bytes().size(), 26u);
  EXPECT_TRUE(ip->checksum_valid());
}

// checksum_valid() sums the 20-byte header in line and longer ones in a loop:
// both cover every header byte (each changed alone fails), and no payload byte.
TEST(WireIpv4, ChecksumCoversEveryHeaderByteAndNoMore) {
  for (const auto& packet : {syn_ip(), ip_with_option()}) {
    auto ip = parse_ip(packet);
    ASSERT_TRUE(ip);
    ASSERT_TRUE(ip->checksum_valid());
    const std::size_t header = ip->header_length();
    // The version/IHL and total length bytes are left alone: parse() checks those.
    for (std::size_t i = 0; i < packet.size(); ++i) {
      if (i == 0 || i == 2 || i == 3) continue;
      auto changed = packet;
      changed[i] ^= 0x10;
      auto v = parse_ip(changed);
      ASSERT_TRUE(v) << i;
      EXPECT_EQ(v->checksum_valid(), i >= header) << "byte " << i << " of a " << header << "-byte header";
    }
  }
}

TEST(WireIpv4, EveryTruncation) {
  const auto packet = bytes_of(kDataFrame).subspan(kIpOffset);
  for (std::size_t n = 0; n <= packet.size(); ++n) {
    const auto copy = heap_copy(packet.first(n));
    auto ip = Ipv4View::parse(copy);
    if (n < 20) {
      ASSERT_FALSE(ip) << n;
      EXPECT_EQ(ip.error(), ParseError::Truncated);
    } else if (n < packet.size()) {
      ASSERT_FALSE(ip) << n;
      EXPECT_EQ(ip.error(), ParseError::BadTotalLength);
    } else {
      ASSERT_TRUE(ip) << n;
      EXPECT_EQ(ip->payload().size(), 96u);
    }
  }
}

TEST(WireIpv4, RejectsImpossibleHeaders) {
  auto p = syn_ip();
  p[0] = 0x65;  // version 6
  EXPECT_EQ(parse_ip(p).error(), ParseError::BadVersion);
  p[0] = 0x44;  // IHL 4
  EXPECT_EQ(parse_ip(p).error(), ParseError::BadHeaderLength);
  p[0] = 0x40;  // IHL 0
  EXPECT_EQ(parse_ip(p).error(), ParseError::BadHeaderLength);
  p = syn_ip();
  p.resize(40);
  p[0] = 0x4f;  // IHL 15 = 60 bytes > 40 in the buffer
  p[3] = 40;
  EXPECT_EQ(parse_ip(p).error(), ParseError::BadHeaderLength);
  p = syn_ip();
  p[2] = 0;
  p[3] = 61;  // total_length one past the buffer
  EXPECT_EQ(parse_ip(p).error(), ParseError::BadTotalLength);
  p[3] = 19;  // total_length < header length
  EXPECT_EQ(parse_ip(p).error(), ParseError::BadTotalLength);
  p[3] = 20;  // header only: fine
  auto ip = parse_ip(p);
  ASSERT_TRUE(ip);
  EXPECT_TRUE(ip->payload().empty());
}

TEST(WireIpv4, EncodesGoldenSynHeaderOverPattern) {
  auto buf = pattern(24);
  const Ipv4Header h{.tos = 0, .id = 44919, .dont_fragment = true, .ttl = 64,
                     .protocol = kIpProtoTcp, .src = kClientIp, .dst = kServerIp};
  ASSERT_EQ(write_ipv4_header(buf, h, 40), 20u);
  const auto golden = bytes_of(kSynFrame).subspan(kIpOffset, 20);
  EXPECT_TRUE(std::equal(golden.begin(), golden.end(), buf.begin()));
  for (std::size_t i = 20; i < buf.size(); ++i) EXPECT_EQ(buf[i], std::byte{0xAA});
}

TEST(WireIpv4, WriteRejectsSmallBufferAndHugePayload) {
  auto buf = pattern(19);
  const Ipv4Header h{.protocol = kIpProtoTcp, .src = kClientIp, .dst = kServerIp};
  EXPECT_EQ(write_ipv4_header(buf, h, 0), 0u);
  for (auto b : buf) EXPECT_EQ(b, std::byte{0xAA});
  auto big = pattern(20);
  EXPECT_EQ(write_ipv4_header(big, h, 65516), 0u);
  EXPECT_EQ(write_ipv4_header(big, h, 65515), 20u);
}

TEST(WireIpv4, RoundTrip) {
  const Ipv4Header h{.tos = 0x10, .id = 0xbeef, .dont_fragment = false, .ttl = 3,
                     .protocol = kIpProtoUdp, .src = kServerIp, .dst = kClientIp};
  std::vector<std::byte> buf(20 + 5);
  ASSERT_EQ(write_ipv4_header(buf, h, 5), 20u);
  auto ip = Ipv4View::parse(buf);
  ASSERT_TRUE(ip);
  EXPECT_TRUE(ip->checksum_valid());
  EXPECT_EQ((Ipv4Header{ip->tos(), ip->id(), ip->dont_fragment(), ip->ttl(), ip->protocol(),
                        ip->src(), ip->dst()}),
            h);
  EXPECT_EQ(ip->payload().size(), 5u);
  EXPECT_FALSE(ip->is_fragment());
}

TEST(WireIcmp, DecodesGoldenEchoRequest) {
  auto icmp = IcmpView::parse(bytes_of(kIcmpEchoRequestFrame).subspan(kL4Offset));
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp->type(), kIcmpEchoRequest);
  EXPECT_EQ(icmp->code(), 0);
  EXPECT_EQ(icmp->checksum(), 0x7d8d);
  EXPECT_EQ(icmp->identifier(), 6433);
  EXPECT_EQ(icmp->sequence(), 1);
  EXPECT_EQ(icmp->rest_of_header(), (6433u << 16) | 1u);
  EXPECT_EQ(icmp->payload().size(), 56u);
  EXPECT_EQ(static_cast<std::uint8_t>(icmp->payload()[55]), 0x37);
  EXPECT_EQ(icmp->bytes().size(), 64u);
  EXPECT_TRUE(icmp->checksum_valid());
}

TEST(WireIcmp, EncodesGoldenEchoRequestOverPattern) {
  const auto golden = bytes_of(kIcmpEchoRequestFrame).subspan(kL4Offset);
  auto buf = pattern(70);
  ASSERT_EQ(write_icmp_echo(buf, kIcmpEchoRequest, 6433, 1, golden.subspan(8)), 64u);
  EXPECT_TRUE(std::equal(golden.begin(), golden.end(), buf.begin()));
  for (std::size_t i = 64; i < buf.size(); ++i) EXPECT_EQ(buf[i], std::byte{0xAA});
  auto small = pattern(63);
  EXPECT_EQ(write_icmp_echo(small, kIcmpEchoRequest, 6433, 1, golden.subspan(8)), 0u);
  for (auto b : small) EXPECT_EQ(b, std::byte{0xAA});
}

TEST(WireIcmp, ReplyInPlaceOverTheRequest) {
  auto buf = heap_copy(bytes_of(kIcmpEchoRequestFrame).subspan(kL4Offset));
  auto req = IcmpView::parse(buf);
  ASSERT_TRUE(req);
  const auto id = req->identifier();
  const auto seq = req->sequence();
  const auto data = req->payload();
  ASSERT_EQ(write_icmp_echo(buf, kIcmpEchoReply, id, seq, data), 64u);
  auto rep = IcmpView::parse(buf);
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->type(), kIcmpEchoReply);
  EXPECT_TRUE(rep->checksum_valid());
  EXPECT_EQ(rep->identifier(), 6433);
  EXPECT_EQ(static_cast<std::uint8_t>(rep->payload()[16]), 0x10);  // after ping's timestamp
}

TEST(WireIcmp, RoundTripOddLength) {
  const std::array<std::uint8_t, 3> data = {1, 2, 3};
  std::array<std::byte, 11> buf{};
  ASSERT_EQ(write_icmp_echo(buf, kIcmpEchoRequest, 7, 9, bytes_of(data)), 11u);
  auto v = IcmpView::parse(buf);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->checksum_valid());
  EXPECT_EQ(v->identifier(), 7);
  EXPECT_EQ(v->sequence(), 9);
  EXPECT_EQ(v->payload().size(), 3u);
}

TEST(WireIcmp, EveryTruncation) {
  const auto msg = bytes_of(kIcmpEchoRequestFrame).subspan(kL4Offset);
  for (std::size_t n = 0; n <= msg.size(); ++n) {
    const auto copy = heap_copy(msg.first(n));
    auto v = IcmpView::parse(copy);
    if (n < kIcmpHeaderLen) {
      ASSERT_FALSE(v) << n;
      EXPECT_EQ(v.error(), ParseError::Truncated);
    } else {
      ASSERT_TRUE(v) << n;
      EXPECT_EQ(v->payload().size(), n - 8);
      EXPECT_EQ(v->checksum_valid(), n == msg.size());
    }
  }
}

}  // namespace
}  // namespace riptide::wire
