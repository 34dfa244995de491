// Several ports: the route table (longest prefix match, connected subnets, gateways;
// RFC 1812 5.2.4.3) and the Router in front of one Stack (the egress port, its own
// ARP cache and source address; RFC 1122 3.3.4.3).
#include "harness.hpp"
#include "ip/router.hpp"
#include "ip/routes.hpp"
#include "wire/arp.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"

namespace riptide::testing {
namespace {

Ipv4Addr ip(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) { return Ipv4Addr::from_octets(a, b, c, d); }

TEST(RouteTable, EmptyTableHasNoRoute) {
  RouteTable t;
  EXPECT_FALSE(t.lookup(ip(198, 18, 0, 1)));
}

TEST(RouteTable, ConnectedSubnetIsReachedDirectly) {
  RouteTable t;
  t.add_connected(1, ip(198, 18, 1, 1), 24);
  EXPECT_EQ(t.lookup(ip(198, 18, 1, 77)), (NextHop{1, ip(198, 18, 1, 77)}));
  EXPECT_FALSE(t.lookup(ip(198, 18, 2, 77)));
}

TEST(RouteTable, LongestPrefixWinsWhateverTheOrderAdded) {
  RouteTable t;
  t.add(Route{ip(0, 0, 0, 0), 0, 0, ip(198, 18, 0, 254)});        // default via port 0
  t.add(Route{ip(198, 19, 0, 0), 16, 1, ip(198, 18, 1, 254)});    // a /16 via port 1
  t.add(Route{ip(198, 19, 7, 0), 24, 2, std::nullopt});           // a /24 on port 2
  t.add(Route{ip(198, 19, 7, 8), 32, 0, ip(198, 18, 0, 253)});    // one host via port 0
  EXPECT_EQ(t.lookup(ip(10, 0, 0, 1)), (NextHop{0, ip(198, 18, 0, 254)}));
  EXPECT_EQ(t.lookup(ip(198, 19, 200, 1)), (NextHop{1, ip(198, 18, 1, 254)}));
  EXPECT_EQ(t.lookup(ip(198, 19, 7, 9)), (NextHop{2, ip(198, 19, 7, 9)}));
  EXPECT_EQ(t.lookup(ip(198, 19, 7, 8)), (NextHop{0, ip(198, 18, 0, 253)}));
  ASSERT_EQ(t.routes().size(), 4u);
  EXPECT_EQ(t.routes().front().prefix_len, 32);
  EXPECT_EQ(t.routes().back().prefix_len, 0);
}

TEST(RouteTable, HostBitsOfThePrefixAreIgnored) {
  RouteTable t;
  t.add(Route{ip(198, 19, 7, 99), 24, 3, std::nullopt});
  EXPECT_EQ(t.routes().front().prefix, ip(198, 19, 7, 0));
  EXPECT_EQ(t.lookup(ip(198, 19, 7, 1)), (NextHop{3, ip(198, 19, 7, 1)}));
}

TEST(RouteTable, AmongEqualPrefixesTheFirstAddedWins) {
  RouteTable t;
  t.add_connected(0, ip(198, 18, 0, 1), 24);
  t.add(Route{ip(198, 18, 0, 0), 24, 1, ip(198, 18, 1, 254)});
  EXPECT_EQ(t.lookup(ip(198, 18, 0, 5)), (NextHop{0, ip(198, 18, 0, 5)}));
}

TEST(RouteTable, SlashThirtyTwoAndSlashZeroMasks) {
  EXPECT_EQ(prefix_mask(0), 0u);
  EXPECT_EQ(prefix_mask(1), 0x80000000u);
  EXPECT_EQ(prefix_mask(24), 0xFFFFFF00u);
  EXPECT_EQ(prefix_mask(32), 0xFFFFFFFFu);
}

// Two ports in front of one Stack: port 0 is 198.18.0.1/24 (clients), port 1 is
// 198.18.1.1/24 (servers), and 198.19.0.0/16 lies behind a gateway on port 1.
const wire::MacAddr kMac0{{0x02, 0, 0, 0, 0, 0x10}};
const wire::MacAddr kMac1{{0x02, 0, 0, 0, 0, 0x11}};
const wire::MacAddr kClientMac{{0x02, 0, 0, 0, 0, 0x20}};
const wire::MacAddr kGwMac{{0x02, 0, 0, 0, 0, 0xfe}};

struct Out {
  std::uint16_t port;
  wire::MacAddr dst, src;
  std::uint16_t type;
  std::vector<std::byte> payload;
};

class RouterTest : public ::testing::Test {
 protected:
  static StackConfig two_addresses() {
    StackConfig c = default_config();
    c.local_addrs = {ip(198, 18, 0, 1), ip(198, 18, 1, 1)};
    return c;
  }
  static std::vector<InterfaceConfig> ports() {
    InterfaceConfig a, b;
    a.mac = kMac0;
    a.addr = ip(198, 18, 0, 1);
    a.addr_count = 1;
    b.mac = kMac1;
    b.addr = ip(198, 18, 1, 1);
    b.addr_count = 1;
    return {a, b};
  }
  static RouteTable routes() {
    RouteTable t;
    t.add(Route{ip(198, 19, 0, 0), 16, 1, ip(198, 18, 1, 254)});
    return t;
  }
  RouterTest() : h(two_addresses()), router(h.stack, ports(), routes()) {}

  std::vector<Out> drain() {
    std::vector<Out> out;
    router.drain(h.now, [&](std::uint16_t port, std::span<const std::byte> eth, std::span<const std::byte> body) {
      auto e = wire::EthernetView::parse(eth);
      EXPECT_TRUE(e.has_value());
      out.push_back(Out{port, e->dst(), e->src(), e->ether_type(), {body.begin(), body.end()}});
    });
    return out;
  }
  void arp_in(std::uint16_t port, std::uint16_t op, const wire::MacAddr& smac, Ipv4Addr sip, Ipv4Addr tip,
              const wire::MacAddr& dst = wire::MacAddr::broadcast()) {
    std::array<std::byte, 64> f{};
    wire::write_ethernet_header(f, wire::EthernetHeader{dst, smac, wire::kEtherTypeArp});
    wire::write_arp(std::span(f).subspan(14), wire::ArpPacket{op, smac, sip, wire::MacAddr{}, tip});
    router.input(port, std::span<const std::byte>(f.data(), 14 + wire::kArpLen), h.now);
  }
  static Ipv4Addr src_of(const Out& o) { return Ipv4Addr{load_be32(o.payload.data() + 12)}; }
  static Ipv4Addr dst_of(const Out& o) { return Ipv4Addr{load_be32(o.payload.data() + 16)}; }

  Harness h;
  Router router;
};

TEST_F(RouterTest, ConnectedSubnetsAddedFirst) {
  ASSERT_EQ(router.port_count(), 2u);
  EXPECT_EQ(router.routes().lookup(ip(198, 18, 0, 9)), (NextHop{0, ip(198, 18, 0, 9)}));
  EXPECT_EQ(router.routes().lookup(ip(198, 18, 1, 9)), (NextHop{1, ip(198, 18, 1, 9)}));
  EXPECT_EQ(router.routes().lookup(ip(198, 19, 3, 4)), (NextHop{1, ip(198, 18, 1, 254)}));
  EXPECT_FALSE(router.routes().lookup(ip(10, 0, 0, 1)));
}

TEST_F(RouterTest, EachPortAnswersArpForItsOwnAddressOnly) {
  arp_in(0, wire::kArpRequest, kClientMac, ip(198, 18, 0, 2), ip(198, 18, 1, 1));
  EXPECT_TRUE(drain().empty()) << "port 0 does not answer for port 1's address";
  EXPECT_EQ(h.counter(Counter::arp_drop_not_ours), 1u);
  arp_in(0, wire::kArpRequest, kClientMac, ip(198, 18, 0, 2), ip(198, 18, 0, 1));
  auto out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].port, 0u);
  EXPECT_EQ(out[0].src, kMac0);
  EXPECT_EQ(out[0].dst, kClientMac);
  EXPECT_EQ(router.port(0).lookup(ip(198, 18, 0, 2), h.now), kClientMac);
  EXPECT_FALSE(router.port(1).lookup(ip(198, 18, 0, 2), h.now)) << "ARP caches are per port";
}

TEST_F(RouterTest, ActiveOpenBehindTheGatewayLeavesPortOneWithPortOnesAddress) {
  auto c = h.stack.connect(ip(198, 19, 3, 4), 80, h.handler);
  ASSERT_TRUE(c.has_value());
  auto out = drain();
  ASSERT_EQ(out.size(), 1u) << "the SYN waits for the gateway's MAC";
  EXPECT_EQ(out[0].port, 1u);
  EXPECT_EQ(out[0].type, wire::kEtherTypeArp);
  EXPECT_EQ(out[0].src, kMac1);
  auto req = wire::ArpView::parse(out[0].payload);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->target_ip(), ip(198, 18, 1, 254));
  EXPECT_EQ(req->sender_ip(), ip(198, 18, 1, 1));
  arp_in(1, wire::kArpReply, kGwMac, ip(198, 18, 1, 254), ip(198, 18, 1, 1), kMac1);
  out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].port, 1u);
  EXPECT_EQ(out[0].type, wire::kEtherTypeIpv4);
  EXPECT_EQ(out[0].dst, kGwMac);
  EXPECT_EQ(out[0].src, kMac1);
  EXPECT_EQ(src_of(out[0]), ip(198, 18, 1, 1)) << "source address of the egress port (RFC 1122 3.3.4.3)";
  EXPECT_EQ(dst_of(out[0]), ip(198, 19, 3, 4));
}

TEST_F(RouterTest, ActiveOpenOnPortZerosSubnetUsesPortZero) {
  arp_in(0, wire::kArpRequest, kClientMac, ip(198, 18, 0, 2), ip(198, 18, 0, 1));
  drain();
  ASSERT_TRUE(h.stack.connect(ip(198, 18, 0, 2), 80, h.handler).has_value());
  auto out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].port, 0u);
  EXPECT_EQ(out[0].dst, kClientMac);
  EXPECT_EQ(src_of(out[0]), ip(198, 18, 0, 1));
}

TEST_F(RouterTest, NoRouteIsCountedAndNothingLeaves) {
  ASSERT_TRUE(h.stack.connect(ip(10, 0, 0, 1), 80, h.handler).has_value());
  EXPECT_TRUE(drain().empty());
  EXPECT_EQ(h.counter(Counter::route_no_route), 1u);
}

TEST_F(RouterTest, AnExplicitLocalAddressIsKept) {
  ASSERT_TRUE(h.stack.connect(ip(198, 19, 3, 4), 80, h.handler, ConnectOptions{ip(198, 18, 0, 1), 0}).has_value());
  arp_in(1, wire::kArpReply, kGwMac, ip(198, 18, 1, 254), ip(198, 18, 1, 1), kMac1);
  auto out = drain();
  ASSERT_FALSE(out.empty());
  const Out& syn = out.back();
  EXPECT_EQ(syn.port, 1u) << "the route, not the source address, picks the port";
  EXPECT_EQ(src_of(syn), ip(198, 18, 0, 1));
}

TEST_F(RouterTest, AnnounceSendsAGratuitousArpOnEveryPort) {
  router.announce();
  auto out = drain();
  ASSERT_EQ(out.size(), 2u);
  for (std::uint16_t p = 0; p < 2; ++p) {
    EXPECT_EQ(out[p].port, p);
    auto a = wire::ArpView::parse(out[p].payload);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->sender_ip(), p == 0 ? ip(198, 18, 0, 1) : ip(198, 18, 1, 1));
    EXPECT_EQ(a->target_ip(), a->sender_ip());
  }
}

}  // namespace
}  // namespace riptide::testing
