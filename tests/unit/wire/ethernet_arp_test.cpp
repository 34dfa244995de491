// Ethernet II and ARP: decode golden frames, encode over a 0xAA pattern, round trips,
// every truncation, and the ARP type/length checks.
#include <gtest/gtest.h>

#include <vector>

#include "golden_packets.hpp"
#include "wire/arp.hpp"
#include "wire/ethernet.hpp"

namespace riptide::wire {
namespace {

using namespace golden;

constexpr MacAddr kClientMac{{0x02, 0, 0, 0, 0, 0x02}};
constexpr MacAddr kServerMac{{0x02, 0, 0, 0, 0, 0x01}};

std::vector<std::byte> pattern(std::size_t n) { return std::vector<std::byte>(n, std::byte{0xAA}); }

TEST(WireMac, ToStringAndParse) {
  EXPECT_EQ(kServerMac.to_string(), "02:00:00:00:00:01");
  EXPECT_EQ(to_string(MacAddr{{0xde, 0xad, 0xbe, 0xef, 0x0a, 0xff}}), "de:ad:be:ef:0a:ff");
  EXPECT_EQ(MacAddr::parse("02:00:00:00:00:01"), kServerMac);
  EXPECT_EQ(MacAddr::parse("DE:AD:be:EF:0a:fF"), (MacAddr{{0xde, 0xad, 0xbe, 0xef, 0x0a, 0xff}}));
  EXPECT_EQ(MacAddr::parse("ff:ff:ff:ff:ff:ff"), MacAddr::broadcast());
}

TEST(WireMac, ParseRejectsMalformed) {
  for (const char* bad : {"", "02:00:00:00:00", "02:00:00:00:00:01:", "02-00-00-00-00-01",
                          "2:00:00:00:00:01", "02:00:00:00:00:0g", "02:00:00:00:00:001",
                          " 02:00:00:00:00:01", "02:00:00:00:00:1 "}) {
    EXPECT_FALSE(MacAddr::parse(bad).has_value()) << bad;
  }
}

TEST(WireMac, BroadcastAndMulticast) {
  EXPECT_TRUE(MacAddr::broadcast().is_broadcast());
  EXPECT_TRUE(MacAddr::broadcast().is_multicast());
  EXPECT_TRUE((MacAddr{{0x01, 0x00, 0x5e, 0, 0, 1}}).is_multicast());
  EXPECT_FALSE(kServerMac.is_multicast());
  EXPECT_FALSE(kServerMac.is_broadcast());
}

TEST(WireEthernet, DecodesGoldenFrame) {
  auto eth = EthernetView::parse(bytes_of(kSynFrame));
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->dst(), kServerMac);
  EXPECT_EQ(eth->src(), kClientMac);
  EXPECT_EQ(eth->ether_type(), kEtherTypeIpv4);
  EXPECT_EQ(eth->payload().size(), kSynFrame.size() - 14);
  EXPECT_EQ(eth->payload().data(), bytes_of(kSynFrame).data() + 14);
  EXPECT_EQ(eth->bytes().size(), kSynFrame.size());

  auto arp = EthernetView::parse(bytes_of(kArpRequestFrame));
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->dst(), MacAddr::broadcast());
  EXPECT_EQ(arp->ether_type(), kEtherTypeArp);
}

TEST(WireEthernet, DstIsComparesAllSixBytesOfTheDestination) {
  auto eth = EthernetView::parse(bytes_of(kSynFrame));
  ASSERT_TRUE(eth);
  EXPECT_TRUE(eth->dst_is(kServerMac));
  EXPECT_FALSE(eth->dst_is(kClientMac));  // the source is not the destination
  EXPECT_FALSE(eth->dst_is(MacAddr::broadcast()));
  for (std::size_t i = 0; i < 6; ++i) {
    MacAddr other = kServerMac;
    other.bytes[i] ^= 1;
    EXPECT_FALSE(eth->dst_is(other)) << i;
  }
  auto arp = EthernetView::parse(bytes_of(kArpRequestFrame));
  ASSERT_TRUE(arp);
  EXPECT_TRUE(arp->dst_is(MacAddr::broadcast()));
}

TEST(WireEthernet, VlanTagIsNotLookedThrough) {
  std::vector<std::uint8_t> f(kSynFrame.begin(), kSynFrame.end());
  f.insert(f.begin() + 12, {0x81, 0x00, 0x00, 0x05});
  auto eth = EthernetView::parse(std::as_bytes(std::span(f)));
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->ether_type(), kEtherTypeVlan);
  EXPECT_EQ(static_cast<std::uint8_t>(eth->payload()[0]), 0x00);  // TCI
  EXPECT_EQ(static_cast<std::uint8_t>(eth->payload()[2]), 0x08);  // inner EtherType
}

TEST(WireEthernet, EveryTruncation) {
  const auto frame = bytes_of(kSynFrame);
  for (std::size_t n = 0; n <= frame.size(); ++n) {
    const auto copy = heap_copy(frame.first(n));
    auto eth = EthernetView::parse(copy);
    if (n < kEthernetHeaderLen) {
      ASSERT_FALSE(eth) << n;
      EXPECT_EQ(eth.error(), ParseError::Truncated);
    } else {
      ASSERT_TRUE(eth) << n;
      EXPECT_EQ(eth->src(), kClientMac);
      EXPECT_EQ(eth->payload().size(), n - 14);
    }
  }
}

TEST(WireEthernet, EncodesOverPattern) {
  auto buf = pattern(20);
  EXPECT_EQ(write_ethernet_header(buf, {kServerMac, kClientMac, kEtherTypeIpv4}), 14u);
  EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + 14, bytes_of(kSynFrame).begin()));
  for (std::size_t i = 14; i < buf.size(); ++i) EXPECT_EQ(buf[i], std::byte{0xAA}) << i;
}

TEST(WireEthernet, WriteIntoTooSmallBufferWritesNothing) {
  auto buf = pattern(13);
  EXPECT_EQ(write_ethernet_header(buf, {kServerMac, kClientMac, kEtherTypeIpv4}), 0u);
  for (auto b : buf) EXPECT_EQ(b, std::byte{0xAA});
}

TEST(WireEthernet, RoundTrip) {
  const EthernetHeader h{MacAddr{{1, 2, 3, 4, 5, 6}}, MacAddr{{7, 8, 9, 10, 11, 12}}, 0x1234};
  std::array<std::byte, 14> buf{};
  ASSERT_EQ(write_ethernet_header(buf, h), 14u);
  auto v = EthernetView::parse(buf);
  ASSERT_TRUE(v);
  EXPECT_EQ((EthernetHeader{v->dst(), v->src(), v->ether_type()}), h);
}

TEST(WireArp, DecodesGoldenRequestAndReply) {
  auto req = ArpView::parse(bytes_of(kArpRequestFrame).subspan(14));
  ASSERT_TRUE(req);
  EXPECT_EQ(req->operation(), kArpRequest);
  EXPECT_EQ(req->sender_mac(), kClientMac);
  EXPECT_EQ(req->sender_ip(), kClientIp);
  EXPECT_EQ(req->target_mac(), MacAddr{});
  EXPECT_EQ(req->target_ip(), kServerIp);
  EXPECT_EQ(req->bytes().size(), kArpLen);

  auto rep = ArpView::parse(bytes_of(kArpReplyFrame).subspan(14));
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->operation(), kArpReply);
  EXPECT_EQ(rep->sender_mac(), kServerMac);
  EXPECT_EQ(rep->sender_ip(), kServerIp);
  EXPECT_EQ(rep->target_mac(), kClientMac);
  EXPECT_EQ(rep->target_ip(), kClientIp);
}

TEST(WireArp, EncodesGoldenReplyOverPattern) {
  auto buf = pattern(32);
  const ArpPacket reply{kArpReply, kServerMac, kServerIp, kClientMac, kClientIp};
  ASSERT_EQ(write_arp(buf, reply), 28u);
  const auto golden = bytes_of(kArpReplyFrame).subspan(14);
  EXPECT_TRUE(std::equal(golden.begin(), golden.end(), buf.begin()));
  for (std::size_t i = 28; i < buf.size(); ++i) EXPECT_EQ(buf[i], std::byte{0xAA});
  auto small = pattern(27);
  EXPECT_EQ(write_arp(small, reply), 0u);
  for (auto b : small) EXPECT_EQ(b, std::byte{0xAA});
}

TEST(WireArp, RoundTrip) {
  const ArpPacket p{kArpRequest, kClientMac, kClientIp, MacAddr{}, kServerIp};
  std::array<std::byte, 28> buf{};
  ASSERT_EQ(write_arp(buf, p), 28u);
  auto v = ArpView::parse(buf);
  ASSERT_TRUE(v);
  EXPECT_EQ((ArpPacket{v->operation(), v->sender_mac(), v->sender_ip(), v->target_mac(),
                       v->target_ip()}),
            p);
}

TEST(WireArp, PaddedFrameIsTrimmedTo28) {
  std::vector<std::uint8_t> f(kArpRequestFrame.begin() + 14, kArpRequestFrame.end());
  f.resize(46, 0);  // Ethernet minimum payload
  auto v = ArpView::parse(std::as_bytes(std::span(f)));
  ASSERT_TRUE(v);
  EXPECT_EQ(v->bytes().size(), 28u);
}

TEST(WireArp, EveryTruncation) {
  const auto arp = bytes_of(kArpRequestFrame).subspan(14);
  for (std::size_t n = 0; n <= arp.size(); ++n) {
    const auto copy = heap_copy(arp.first(n));
    auto v = ArpView::parse(copy);
    if (n < kArpLen) {
      ASSERT_FALSE(v) << n;
      EXPECT_EQ(v.error(), ParseError::Truncated);
    } else {
      ASSERT_TRUE(v) << n;
      EXPECT_EQ(v->target_ip(), kServerIp);
    }
  }
}

TEST(WireArp, RejectsOtherHardwareProtocolAndLengths) {
  auto mutate = [](std::size_t at, std::uint8_t value) {
    std::vector<std::uint8_t> f(kArpRequestFrame.begin() + 14, kArpRequestFrame.end());
    f[at] = value;
    return ArpView::parse(std::as_bytes(std::span(f)));
  };
  EXPECT_EQ(mutate(1, 6).error(), ParseError::BadHardwareType);   // IEEE 802
  EXPECT_EQ(mutate(0, 1).error(), ParseError::BadHardwareType);
  EXPECT_EQ(mutate(2, 0x86).error(), ParseError::BadProtocolType);
  EXPECT_EQ(mutate(3, 0x06).error(), ParseError::BadProtocolType);
  EXPECT_EQ(mutate(4, 8).error(), ParseError::BadAddressLength);
  EXPECT_EQ(mutate(5, 16).error(), ParseError::BadAddressLength);
  EXPECT_TRUE(mutate(7, 3));  // RARP request: accepted, the stack decides
}

}  // namespace
}  // namespace riptide::wire
