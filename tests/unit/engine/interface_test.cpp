// The link layer in front of a Stack: ARP answered and used (RFC 826), the route
// (on-link subnet, default gateway), the bounded queue of packets waiting for ARP.
#include "harness.hpp"
#include "ip/interface.hpp"
#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmp.hpp"

namespace riptide::testing {
namespace {

const wire::MacAddr kOurMac{{0x02, 0, 0, 0, 0, 1}};
const wire::MacAddr kPeerMac{{0x02, 0, 0, 0, 0, 2}};
const wire::MacAddr kGwMac{{0x02, 0, 0, 0, 0, 0xfe}};

struct Frame {
  wire::MacAddr dst, src;
  std::uint16_t type = 0;
  std::vector<std::byte> payload;
};

class InterfaceTest : public ::testing::Test {
 protected:
  InterfaceTest() : iface(h.stack, config()) {}
  static InterfaceConfig config() {
    InterfaceConfig c;
    c.mac = kOurMac;
    c.addr = Ipv4Addr::from_octets(198, 18, 0, 1);
    c.prefix_len = 24;
    c.gateway = Ipv4Addr::from_octets(198, 18, 0, 254);
    c.pending_packets = 4;
    return c;
  }
  std::vector<Frame> drain() {
    std::vector<Frame> out;
    iface.drain(h.now, [&](std::span<const std::byte> eth, std::span<const std::byte> body) {
      auto e = wire::EthernetView::parse(eth);
      EXPECT_TRUE(e.has_value());
      out.push_back(Frame{e->dst(), e->src(), e->ether_type(), {body.begin(), body.end()}});
    });
    return out;
  }
  void arp_in(std::uint16_t op, const wire::MacAddr& smac, Ipv4Addr sip, Ipv4Addr tip,
              const wire::MacAddr& dst = wire::MacAddr::broadcast()) {
    std::array<std::byte, 64> f{};
    wire::write_ethernet_header(f, wire::EthernetHeader{dst, smac, wire::kEtherTypeArp});
    wire::write_arp(std::span(f).subspan(14), wire::ArpPacket{op, smac, sip, wire::MacAddr{}, tip});
    iface.input(std::span<const std::byte>(f.data(), 14 + wire::kArpLen), h.now);
  }
  // An ICMP echo request from `src` through the interface (the stack answers it).
  void ping_from(Ipv4Addr src, const wire::MacAddr& smac) {
    std::array<std::byte, 64> f{};
    wire::write_ethernet_header(f, wire::EthernetHeader{kOurMac, smac, wire::kEtherTypeIpv4});
    wire::Ipv4Header ip;
    ip.protocol = wire::kIpProtoIcmp;
    ip.src = src;
    ip.dst = h.local;
    const std::size_t hl = wire::write_ipv4_header(std::span(f).subspan(14), ip, 8);
    wire::write_icmp_echo(std::span(f).subspan(14 + hl), wire::kIcmpEchoRequest, 7, 1, {});
    iface.input(std::span<const std::byte>(f.data(), 14 + hl + 8), h.now);
  }
  Harness h;
  Interface iface;
};

TEST_F(InterfaceTest, AnswersArpForOurAddressAndLearnsTheAsker) {
  arp_in(wire::kArpRequest, kPeerMac, h.remote, h.local);
  auto out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, wire::kEtherTypeArp);
  EXPECT_EQ(out[0].dst, kPeerMac);
  auto arp = wire::ArpView::parse(out[0].payload);
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->operation(), wire::kArpReply);
  EXPECT_EQ(arp->sender_mac(), kOurMac);
  EXPECT_EQ(arp->sender_ip(), h.local);
  EXPECT_EQ(arp->target_ip(), h.remote);
  EXPECT_EQ(iface.lookup(h.remote, h.now), kPeerMac);
}

TEST_F(InterfaceTest, IgnoresArpForOtherAddresses) {
  arp_in(wire::kArpRequest, kPeerMac, h.remote, Ipv4Addr::from_octets(198, 18, 0, 9));
  EXPECT_TRUE(drain().empty());
  EXPECT_FALSE(iface.lookup(h.remote, h.now));
  EXPECT_EQ(h.counter(Counter::arp_drop_not_ours), 1u);
}

TEST_F(InterfaceTest, FramesForOtherMacsAndOtherEtherTypesAreDropped) {
  std::array<std::byte, 60> f{};
  wire::write_ethernet_header(f, wire::EthernetHeader{kPeerMac, kGwMac, wire::kEtherTypeIpv4});
  iface.input(f, h.now);
  wire::write_ethernet_header(f, wire::EthernetHeader{kOurMac, kGwMac, 0x86DD});
  iface.input(f, h.now);
  iface.input(std::span<const std::byte>(f.data(), 10), h.now);
  EXPECT_EQ(h.counter(Counter::l2_drop_not_ours), 1u);
  EXPECT_EQ(h.counter(Counter::l2_drop_ethertype), 1u);
  EXPECT_EQ(h.counter(Counter::l2_drop_malformed), 1u);
}

TEST_F(InterfaceTest, ReplyToUnknownNeighbourWaitsForArpThenGoes) {
  ping_from(h.remote, kPeerMac);
  auto out = drain();
  ASSERT_EQ(out.size(), 1u) << "the echo reply waits; an ARP request goes";
  EXPECT_EQ(out[0].type, wire::kEtherTypeArp);
  EXPECT_EQ(out[0].dst, wire::MacAddr::broadcast());
  EXPECT_EQ(iface.pending(), 1u);
  arp_in(wire::kArpReply, kPeerMac, h.remote, h.local, kOurMac);
  out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, wire::kEtherTypeIpv4);
  EXPECT_EQ(out[0].dst, kPeerMac);
  EXPECT_EQ(iface.pending(), 0u);
}

TEST_F(InterfaceTest, OffLinkDestinationsGoThroughTheGateway) {
  const Ipv4Addr far = Ipv4Addr::from_octets(198, 19, 7, 7);
  arp_in(wire::kArpRequest, kGwMac, Ipv4Addr::from_octets(198, 18, 0, 254), h.local);
  drain();
  ping_from(far, kGwMac);
  auto out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dst, kGwMac);
}

TEST_F(InterfaceTest, UnansweredArpRetriesThenDropsAndCounts) {
  ping_from(h.remote, kPeerMac);
  EXPECT_EQ(drain().size(), 1u);
  for (int i = 0; i < 2; ++i) {
    h.now += std::chrono::seconds{1};
    auto out = drain();
    ASSERT_EQ(out.size(), 1u) << "retry " << i;
    EXPECT_EQ(out[0].type, wire::kEtherTypeArp);
  }
  h.now += std::chrono::seconds{1};
  EXPECT_TRUE(drain().empty());
  EXPECT_EQ(h.counter(Counter::arp_unresolved), 1u);
  EXPECT_EQ(iface.pending(), 0u);
}

TEST_F(InterfaceTest, WaitingQueueIsBounded) {
  for (int i = 0; i < 6; ++i) ping_from(h.remote, kPeerMac);
  drain();
  EXPECT_EQ(iface.pending(), 4u);
  EXPECT_EQ(h.counter(Counter::arp_pending_full), 2u);
}

TEST_F(InterfaceTest, WaitingQueueIsBoundedAndRecovers) {
  // Issue 14: the queue fills (counted, the extra replies dropped), the neighbour
  // answers, the four waiting go, and later packets go at once with nothing lost.
  for (int i = 0; i < 6; ++i) ping_from(h.remote, kPeerMac);
  drain();
  ASSERT_EQ(iface.pending(), 4u);
  ASSERT_EQ(h.counter(Counter::arp_pending_full), 2u);
  arp_in(wire::kArpReply, kPeerMac, h.remote, h.local, kOurMac);
  auto out = drain();
  EXPECT_EQ(out.size(), 4u) << "the waiting packets went";
  EXPECT_EQ(iface.pending(), 0u);
  for (int i = 0; i < 6; ++i) ping_from(h.remote, kPeerMac);
  out = drain();
  EXPECT_EQ(out.size(), 6u) << "served again: nothing waits, nothing dropped";
  EXPECT_EQ(h.counter(Counter::arp_pending_full), 2u);
}

TEST_F(InterfaceTest, EntriesExpire) {
  arp_in(wire::kArpRequest, kPeerMac, h.remote, h.local);
  drain();
  EXPECT_TRUE(iface.lookup(h.remote, h.now));
  h.now += std::chrono::seconds{61};
  EXPECT_FALSE(iface.lookup(h.remote, h.now));
}

TEST_F(InterfaceTest, ANeighbourThatChangesItsMacIsSentToAtTheNewOne) {
  // A neighbour's Ethernet header is remembered (one map lookup saved per packet);
  // an ARP packet that changes the entry must not leave it stale.
  const wire::MacAddr moved{{0x02, 0, 0, 0, 0, 3}};
  arp_in(wire::kArpRequest, kPeerMac, h.remote, h.local);
  drain();
  ping_from(h.remote, kPeerMac);
  auto out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dst, kPeerMac);
  arp_in(wire::kArpReply, moved, h.remote, h.local, kOurMac);  // RFC 826: merge
  ping_from(h.remote, moved);
  out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dst, moved);
}

TEST_F(InterfaceTest, ManyNeighboursEachGetTheirOwnHeader) {
  // Neighbours' Ethernet headers are remembered in a small direct-mapped table:
  // peers sent to in turn (a client with several addresses), two of them sharing a
  // slot (.2 and .66, 64 apart), each frame goes to its own peer's MAC, and one
  // that changes its MAC is sent to at the new one.
  const auto mac_of = [](std::uint8_t host, std::uint8_t gen) { return wire::MacAddr{{0x02, 0, 0, gen, 0, host}}; };
  const std::uint8_t hosts[] = {2, 3, 4, 66, 130};
  for (std::uint8_t host : hosts) arp_in(wire::kArpRequest, mac_of(host, 0), Ipv4Addr::from_octets(198, 18, 0, host), h.local);
  drain();
  for (int round = 0; round < 3; ++round) {
    if (round == 2) {
      arp_in(wire::kArpReply, mac_of(66, 1), Ipv4Addr::from_octets(198, 18, 0, 66), h.local, kOurMac);
    }
    for (std::uint8_t host : hosts) {
      const wire::MacAddr expect = mac_of(host, round == 2 && host == 66 ? 1 : 0);
      ping_from(Ipv4Addr::from_octets(198, 18, 0, host), expect);
      auto out = drain();
      ASSERT_EQ(out.size(), 1u);
      EXPECT_EQ(out[0].dst, expect) << "round " << round << ", host ." << int{host};
    }
  }
}

TEST_F(InterfaceTest, AnExpiredNeighbourIsResolvedAgainNotServedFromTheLastHeader) {
  arp_in(wire::kArpRequest, kPeerMac, h.remote, h.local);
  drain();
  ping_from(h.remote, kPeerMac);
  ASSERT_EQ(drain().size(), 1u);
  h.now += std::chrono::seconds{61};
  ping_from(h.remote, kPeerMac);
  auto out = drain();
  ASSERT_EQ(out.size(), 1u) << "the reply waits for a fresh ARP answer";
  EXPECT_EQ(out[0].type, wire::kEtherTypeArp);
  EXPECT_EQ(iface.pending(), 1u);
}

TEST_F(InterfaceTest, GratuitousArpAnnouncesOurAddress) {
  iface.announce();
  auto out = drain();
  ASSERT_EQ(out.size(), 1u);
  auto arp = wire::ArpView::parse(out[0].payload);
  ASSERT_TRUE(arp);
  EXPECT_EQ(arp->sender_ip(), h.local);
  EXPECT_EQ(arp->target_ip(), h.local);
  EXPECT_EQ(out[0].dst, wire::MacAddr::broadcast());
}

}  // namespace
}  // namespace riptide::testing
