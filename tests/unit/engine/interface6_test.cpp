// The Interface's IPv6 side: Neighbor Discovery answered and used (RFC 4861), the
// 7.1.1/7.1.2 validation (one row per malformed case, each counted by name),
// ICMPv6 echo and errors with RFC 4443 2.4(e)'s suppressions and 2.4(f)'s rate
// limit, Packet Too Big into the PMTU cache (RFC 8201), unsolicited NAs and DAD.
#include <vector>

#include "common/byte_order.hpp"
#include "harness.hpp"
#include "ip/interface.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/icmpv6.hpp"
#include "wire/tcp.hpp"

namespace riptide::testing {
namespace {

const wire::MacAddr kOurMac{{0x02, 0, 0, 0, 0, 1}};
const wire::MacAddr kPeerMac{{0x02, 0, 0, 0, 0, 2}};
const wire::MacAddr kGwMac{{0x02, 0, 0, 0, 0, 0xfe}};
const IpAddr kOur = IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const IpAddr kPeer = IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const IpAddr kGw = IpAddr::v6(0xfe80, 0, 0, 0, 0, 0, 0, 0xfe);
const IpAddr kFar = IpAddr::v6(0x2001, 0xdb8, 0x99, 0, 0, 0, 0, 5);
const IpAddr kOurLl = wire::link_local_from_mac(kOurMac);
const IpAddr kPeerLl = wire::link_local_from_mac(kPeerMac);

struct Frame {
  wire::MacAddr dst, src;
  std::uint16_t type = 0;
  std::vector<std::byte> ip;
  [[nodiscard]] IpAddr ip_src() const { return IpAddr::from_bytes(ip.data() + 8); }
  [[nodiscard]] IpAddr ip_dst() const { return IpAddr::from_bytes(ip.data() + 24); }
  [[nodiscard]] std::uint8_t hop_limit() const { return static_cast<std::uint8_t>(ip[7]); }
  [[nodiscard]] wire::Icmpv6View icmp() const {
    auto m = wire::Icmpv6View::parse(std::span<const std::byte>(ip).subspan(40));
    EXPECT_TRUE(m);
    EXPECT_TRUE(m->checksum_valid(ip_src(), ip_dst()));
    return *m;
  }
};

// An ICMPv6 message (checksum filled) in an IPv6 packet in an Ethernet frame.
std::vector<std::byte> frame(const wire::MacAddr& eth_dst, const wire::MacAddr& eth_src, const IpAddr& src,
                             const IpAddr& dst, std::uint8_t hop_limit, std::uint8_t nh,
                             std::vector<std::byte> payload, bool fix_icmp_checksum = true) {
  if (nh == wire::kIpProtoIcmpv6 && fix_icmp_checksum && payload.size() >= 4) {
    payload[2] = payload[3] = std::byte{0};
    const auto sum = wire::checksum_add(
        payload, wire::pseudo_header_sum_v6(src, dst, nh, static_cast<std::uint32_t>(payload.size())));
    store_be16(payload.data() + 2, wire::checksum_fold(sum));
  }
  std::vector<std::byte> f(14 + 40);
  wire::write_ethernet_header(f, wire::EthernetHeader{eth_dst, eth_src, kEtherTypeIpv6});
  store_be32(f.data() + 14, 0x60000000u);
  store_be16(f.data() + 18, static_cast<std::uint16_t>(payload.size()));
  f[20] = std::byte{nh};
  f[21] = std::byte{hop_limit};
  std::memcpy(f.data() + 22, src.bytes.data(), 16);
  std::memcpy(f.data() + 38, dst.bytes.data(), 16);
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

std::vector<std::byte> ns_body(const IpAddr& target, std::optional<wire::MacAddr> slla) {
  std::vector<std::byte> b(32);
  b.resize(wire::write_neighbor_solicitation(b, target, slla, IpAddr{}, IpAddr{}));
  return b;
}
std::vector<std::byte> na_body(std::uint8_t flags, const IpAddr& target, std::optional<wire::MacAddr> tlla) {
  std::vector<std::byte> b(32);
  b.resize(wire::write_neighbor_advertisement(b, flags, target, tlla, IpAddr{}, IpAddr{}));
  return b;
}
std::vector<std::byte> echo_body(std::uint16_t id, std::uint16_t seq, std::size_t len) {
  std::vector<std::byte> data(len, std::byte{0x5a});
  std::vector<std::byte> b(8 + len);
  wire::write_icmpv6_echo(b, wire::kIcmpv6EchoRequest, id, seq, data, IpAddr{}, IpAddr{});
  return b;
}

class Interface6Test : public ::testing::Test {
 protected:
  Interface6Test() : h(with_interface_addresses(default_config(), config())), iface(h.stack, config()) {}
  static InterfaceConfig config() {
    InterfaceConfig c;
    c.mac = kOurMac;
    c.addr = Ipv4Addr::from_octets(198, 18, 0, 1);
    c.ip6.address = kOur;
    c.ip6.prefix_len = 64;
    c.ip6.gateway = kGw;
    c.ip6.icmp_error_rate = 1;
    c.ip6.icmp_error_burst = 2;
    c.ip6.nd.pending_packets = 4;
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
  void in(const std::vector<std::byte>& f) { iface.input(f, h.now); }
  // A frame that must be dropped silently, counted under `counter`.
  struct DropCase {
    const char* name;
    std::vector<std::byte> frame;
    Counter counter;
  };
  void expect_each_dropped(const std::vector<DropCase>& cases) {
    for (const auto& c : cases) {
      SCOPED_TRACE(c.name);
      const auto before = h.counter(c.counter);
      in(c.frame);
      EXPECT_EQ(h.counter(c.counter), before + 1);
      EXPECT_TRUE(drain().empty());
    }
  }
  // A neighbour solicitation from the peer for our address, to our solicited-node group.
  void peer_solicits() {
    in(frame(wire::multicast_mac(wire::solicited_node(kOur)), kPeerMac, kPeer, wire::solicited_node(kOur), 255,
             wire::kIpProtoIcmpv6, ns_body(kOur, kPeerMac)));
  }
  Harness h;
  Interface iface;
};

TEST_F(Interface6Test, LinkLocalFromTheMac) {
  EXPECT_EQ(iface.link_local(), IpAddr::v6(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 1));
  EXPECT_TRUE(iface.joined6(IpAddr::v6(0xff02, 0, 0, 0, 0, 1, 0xff00, 1)));
  EXPECT_TRUE(iface.joined6(wire::kAllNodes));
  EXPECT_FALSE(iface.joined6(wire::kAllRouters));
}

TEST_F(Interface6Test, AnswersSolicitationToTheSolicitedNodeGroup) {
  peer_solicits();
  auto out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, kEtherTypeIpv6);
  EXPECT_EQ(out[0].dst, kPeerMac);  // from the SLLA just learned
  EXPECT_EQ(out[0].src, kOurMac);
  EXPECT_EQ(out[0].ip_src(), kOur);
  EXPECT_EQ(out[0].ip_dst(), kPeer);
  EXPECT_EQ(out[0].hop_limit(), 255);
  auto na = wire::parse_neighbor_advertisement(out[0].icmp());
  ASSERT_TRUE(na);
  EXPECT_TRUE(na->solicited);
  EXPECT_TRUE(na->override_flag);
  EXPECT_FALSE(na->router);
  EXPECT_EQ(na->target, kOur);
  EXPECT_EQ(na->options.target_link_addr, kOurMac);
  EXPECT_EQ(h.counter(Counter::nd_ns_in), 1u);
  EXPECT_EQ(h.counter(Counter::nd_na_out), 1u);
  // RFC 4861 7.2.3: the asker is learned, STALE (and DELAY once the NA used it).
  EXPECT_EQ(iface.neighbors()->mac(kPeer), kPeerMac);
  EXPECT_EQ(iface.neighbors()->state(kPeer), NdState::Delay);
}

TEST_F(Interface6Test, AnswersSolicitationForTheLinkLocalAddress) {
  in(frame(kOurMac, kPeerMac, kPeerLl, kOurLl, 255, wire::kIpProtoIcmpv6, ns_body(kOurLl, kPeerMac)));
  auto out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ip_src(), kOurLl);
  EXPECT_EQ(out[0].ip_dst(), kPeerLl);
}

TEST_F(Interface6Test, DadProbeAnsweredToAllNodes) {
  // RFC 4861 7.2.4: source unspecified: to all-nodes, Solicited clear.
  in(frame(wire::multicast_mac(wire::solicited_node(kOur)), kPeerMac, IpAddr{}, wire::solicited_node(kOur), 255,
           wire::kIpProtoIcmpv6, ns_body(kOur, std::nullopt)));
  auto out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dst, wire::multicast_mac(wire::kAllNodes));
  EXPECT_EQ(out[0].ip_dst(), wire::kAllNodes);
  auto na = wire::parse_neighbor_advertisement(out[0].icmp());
  ASSERT_TRUE(na);
  EXPECT_FALSE(na->solicited);
  EXPECT_FALSE(iface.neighbors()->state(IpAddr{}));
}

// RFC 4861 7.1.1: each invalid solicitation is dropped silently, under its own name.
TEST_F(Interface6Test, InvalidSolicitationsDroppedByReason) {
  const auto sn = wire::solicited_node(kOur);
  const auto sn_mac = wire::multicast_mac(sn);
  auto coded = [](std::vector<std::byte> b) {
    b[1] = std::byte{1};
    return b;
  };
  auto zero_opt = ns_body(kOur, kPeerMac);
  zero_opt[25] = std::byte{0};
  auto bad_sum = frame(sn_mac, kPeerMac, kPeer, sn, 255, wire::kIpProtoIcmpv6, ns_body(kOur, kPeerMac));
  bad_sum[54 + 2] ^= std::byte{0xff};
  const std::vector<DropCase> cases = {
      {"hop limit 254", frame(sn_mac, kPeerMac, kPeer, sn, 254, wire::kIpProtoIcmpv6, ns_body(kOur, kPeerMac)),
       Counter::nd_drop_hop_limit},
      {"code 1", frame(sn_mac, kPeerMac, kPeer, sn, 255, wire::kIpProtoIcmpv6, coded(ns_body(kOur, kPeerMac))),
       Counter::nd_drop_code},
      {"23 bytes", frame(sn_mac, kPeerMac, kPeer, sn, 255, wire::kIpProtoIcmpv6, [] {
         auto b = ns_body(kOur, std::nullopt);
         b.resize(23);
         return b;
       }()),
       Counter::nd_drop_malformed},
      {"option length 0", frame(sn_mac, kPeerMac, kPeer, sn, 255, wire::kIpProtoIcmpv6, zero_opt),
       Counter::nd_drop_malformed},
      {"multicast target",
       frame(kOurMac, kPeerMac, kPeer, kOur, 255, wire::kIpProtoIcmpv6, ns_body(wire::kAllNodes, kPeerMac)),
       Counter::nd_drop_target_multicast},
      {"unspecified source with SLLA",
       frame(sn_mac, kPeerMac, IpAddr{}, sn, 255, wire::kIpProtoIcmpv6, ns_body(kOur, kPeerMac)),
       Counter::nd_drop_unspecified_src},
      {"unspecified source to all-nodes",
       frame(wire::multicast_mac(wire::kAllNodes), kPeerMac, IpAddr{}, wire::kAllNodes, 255, wire::kIpProtoIcmpv6,
             ns_body(kOur, std::nullopt)),
       Counter::nd_drop_unspecified_src},
      {"target not ours", frame(kOurMac, kPeerMac, kPeer, kOur, 255, wire::kIpProtoIcmpv6, ns_body(kFar, kPeerMac)),
       Counter::nd_drop_not_ours},
      {"bad checksum", bad_sum, Counter::icmp6_drop_checksum},
      {"ICMPv6 of 7 bytes", frame(kOurMac, kPeerMac, kPeer, kOur, 255, wire::kIpProtoIcmpv6,
                                  std::vector<std::byte>(7, std::byte{135}), false),
       Counter::icmp6_drop_malformed},
      {"another node's solicited-node group",
       frame(wire::multicast_mac(wire::solicited_node(kPeer)), kPeerMac, kPeer, wire::solicited_node(kPeer), 255,
             wire::kIpProtoIcmpv6, ns_body(kPeer, kPeerMac)),
       Counter::icmp6_drop_not_joined},
      {"payload length past the frame", [&] {
         auto f = frame(sn_mac, kPeerMac, kPeer, sn, 255, wire::kIpProtoIcmpv6, ns_body(kOur, kPeerMac));
         store_be16(f.data() + 18, 200);
         return f;
       }(),
       Counter::ip6_drop_malformed},
      {"version 4 in an IPv6 frame", [&] {
         auto f = frame(sn_mac, kPeerMac, kPeer, sn, 255, wire::kIpProtoIcmpv6, ns_body(kOur, kPeerMac));
         f[14] = std::byte{0x40};
         return f;
       }(),
       Counter::ip6_drop_malformed},
  };
  expect_each_dropped(cases);
  EXPECT_EQ(h.counter(Counter::nd_ns_in), 0u);
  EXPECT_EQ(iface.neighbors()->size(), 0u);
}

TEST_F(Interface6Test, FramesForOtherMacsDropped) {
  in(frame(kPeerMac, kGwMac, kPeer, kOur, 255, wire::kIpProtoIcmpv6, ns_body(kOur, kGwMac)));
  EXPECT_EQ(h.counter(Counter::l2_drop_not_ours), 1u);
  EXPECT_TRUE(drain().empty());
}

TEST_F(Interface6Test, InvalidAdvertisementsDroppedByReason) {
  const std::vector<DropCase> cases = {
      {"hop limit 64",
       frame(kOurMac, kPeerMac, kPeer, kOur, 64, wire::kIpProtoIcmpv6, na_body(wire::kNaSolicited, kPeer, kPeerMac)),
       Counter::nd_drop_hop_limit},
      {"solicited to all-nodes",
       frame(wire::multicast_mac(wire::kAllNodes), kPeerMac, kPeer, wire::kAllNodes, 255, wire::kIpProtoIcmpv6,
             na_body(wire::kNaSolicited, kPeer, kPeerMac)),
       Counter::nd_drop_solicited_multicast},
      {"multicast target", frame(kOurMac, kPeerMac, kPeer, kOur, 255, wire::kIpProtoIcmpv6,
                                 na_body(wire::kNaSolicited, wire::kAllNodes, kPeerMac)),
       Counter::nd_drop_target_multicast},
      {"no entry", frame(kOurMac, kPeerMac, kPeer, kOur, 255, wire::kIpProtoIcmpv6,
                         na_body(wire::kNaSolicited, kPeer, kPeerMac)),
       Counter::nd_na_no_entry},
      {"our own address claimed", frame(kOurMac, kPeerMac, kPeer, kOur, 255, wire::kIpProtoIcmpv6,
                                        na_body(wire::kNaOverride, kOur, kPeerMac)),
       Counter::nd_dad_conflict},
  };
  expect_each_dropped(cases);
  EXPECT_EQ(iface.neighbors()->size(), 0u);
}

TEST_F(Interface6Test, EchoAnsweredAfterResolvingTheAsker) {
  // The request comes from a neighbour we do not know: the reply waits for ND
  // (riptide resolves the peer: multicast NS, then the NA releases the reply).
  in(frame(kOurMac, kPeerMac, kPeer, kOur, 64, wire::kIpProtoIcmpv6, echo_body(0x1234, 7, 56)));
  auto out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dst, wire::multicast_mac(wire::solicited_node(kPeer)));
  EXPECT_EQ(out[0].ip_dst(), wire::solicited_node(kPeer));
  EXPECT_EQ(out[0].ip_src(), kOur);
  EXPECT_EQ(out[0].hop_limit(), 255);
  auto ns = wire::parse_neighbor_solicitation(out[0].icmp());
  ASSERT_TRUE(ns);
  EXPECT_EQ(ns->target, kPeer);
  EXPECT_EQ(ns->options.source_link_addr, kOurMac);
  EXPECT_EQ(iface.neighbors()->state(kPeer), NdState::Incomplete);

  in(frame(kOurMac, kPeerMac, kPeer, kOur, 255, wire::kIpProtoIcmpv6,
           na_body(wire::kNaSolicited | wire::kNaOverride, kPeer, kPeerMac)));
  EXPECT_EQ(iface.neighbors()->state(kPeer), NdState::Reachable);
  out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dst, kPeerMac);
  EXPECT_EQ(out[0].ip_src(), kOur);
  EXPECT_EQ(out[0].ip_dst(), kPeer);
  auto reply = out[0].icmp();
  EXPECT_EQ(reply.type(), wire::kIcmpv6EchoReply);
  EXPECT_EQ(reply.identifier(), 0x1234);
  EXPECT_EQ(reply.sequence(), 7);
  EXPECT_EQ(reply.payload().size(), 56u);
  EXPECT_EQ(h.counter(Counter::icmp6_echo_in), 1u);

  // Known now: the next reply goes at once.
  in(frame(kOurMac, kPeerMac, kPeer, kOur, 64, wire::kIpProtoIcmpv6, echo_body(0x1234, 8, 8)));
  out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].icmp().sequence(), 8);
}

TEST_F(Interface6Test, EchoToAllNodesAnsweredFromAUnicastAddress) {
  // RFC 4443 4.2: the reply's source is a unicast address of ours.
  peer_solicits();
  drain();
  in(frame(wire::multicast_mac(wire::kAllNodes), kPeerMac, kPeer, wire::kAllNodes, 64, wire::kIpProtoIcmpv6,
           echo_body(1, 1, 0)));
  auto out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ip_src(), kOur);
  EXPECT_EQ(out[0].icmp().type(), wire::kIcmpv6EchoReply);
}

TEST_F(Interface6Test, OffLinkRepliesGoThroughTheGateway) {
  in(frame(kOurMac, kGwMac, kFar, kOur, 60, wire::kIpProtoIcmpv6, echo_body(1, 1, 0)));
  auto out = drain();
  ASSERT_EQ(out.size(), 1u);
  auto ns = wire::parse_neighbor_solicitation(out[0].icmp());
  ASSERT_TRUE(ns);
  EXPECT_EQ(ns->target, kGw);
  EXPECT_EQ(out[0].ip_src(), kOurLl);  // the gateway is link-local: so is the NS
  in(frame(kOurMac, kGwMac, kGw, kOurLl, 255, wire::kIpProtoIcmpv6,
           na_body(wire::kNaSolicited | wire::kNaRouter, kGw, kGwMac)));
  out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dst, kGwMac);
  EXPECT_EQ(out[0].ip_dst(), kFar);
}

TEST_F(Interface6Test, UnknownNextHeaderGetsParameterProblem) {
  peer_solicits();
  drain();
  const std::vector<std::byte> body(16, std::byte{1});
  auto f = frame(kOurMac, kPeerMac, kPeer, kOur, 64, 200, body);
  in(f);
  auto out = drain();
  ASSERT_EQ(out.size(), 1u);
  auto m = out[0].icmp();
  EXPECT_EQ(m.type(), wire::kIcmpv6ParamProblem);
  EXPECT_EQ(m.code(), wire::kIcmpv6UnknownNextHeader);
  EXPECT_EQ(m.word(), 6u);  // RFC 8200 4: the pointer to the Next Header field
  EXPECT_EQ(m.payload().size(), f.size() - 14);
  EXPECT_EQ(h.counter(Counter::ip6_drop_protocol), 1u);
  EXPECT_EQ(h.counter(Counter::icmp6_error_out), 1u);
}

TEST_F(Interface6Test, TcpOverIpv6GoesToTheStack) {
  // A SYN to a port nobody listens on: the Stack answers RST (RFC 9293 3.10.7.1),
  // and the RST leaves through this Interface's neighbour resolution.
  std::vector<std::byte> syn(20);
  wire::TcpHeader t;
  t.src_port = 40000;
  t.dst_port = 9;
  t.seq = SeqNum{1000};
  t.flags = wire::tcp_flags::kSyn;
  t.window = 65535;
  wire::write_tcp_header(syn, t);
  wire::finish_tcp_checksum(syn, kPeer, kOur);
  peer_solicits();
  drain();
  in(frame(kOurMac, kPeerMac, kPeer, kOur, 64, 6, syn));
  auto out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dst, kPeerMac);
  EXPECT_EQ(out[0].ip_src(), kOur);
  EXPECT_EQ(out[0].ip_dst(), kPeer);
  EXPECT_EQ(static_cast<std::uint8_t>(out[0].ip[6]), 6);
  auto rst = wire::TcpView::parse(std::span<const std::byte>(out[0].ip).subspan(40));
  ASSERT_TRUE(rst);
  EXPECT_TRUE(rst->has(wire::tcp_flags::kRst));
  EXPECT_EQ(rst->dst_port(), 40000);
}

TEST_F(Interface6Test, ErrorsAreRateLimited) {
  // RFC 4443 2.4(f): burst 2, 1 a second (config()).
  peer_solicits();
  drain();
  for (int i = 0; i < 5; ++i) in(frame(kOurMac, kPeerMac, kPeer, kOur, 64, 200, std::vector<std::byte>(8)));
  EXPECT_EQ(drain().size(), 2u);
  EXPECT_EQ(h.counter(Counter::icmp6_error_out), 2u);
  EXPECT_EQ(h.counter(Counter::icmp6_error_rate_limited), 3u);
  h.advance(std::chrono::seconds{1});
  in(frame(kOurMac, kPeerMac, kPeer, kOur, 64, 200, std::vector<std::byte>(8)));
  EXPECT_EQ(drain().size(), 1u);
}

TEST_F(Interface6Test, NoErrorAboutAnErrorOrAMulticastPacket) {
  peer_solicits();
  drain();
  // RFC 4443 2.4(e.3): a packet to a multicast group (not PTB, not code 2): the
  // IpLayer does not ask, and asked directly the Interface refuses.
  const auto mc = frame(wire::multicast_mac(wire::kAllNodes), kPeerMac, kPeer, wire::kAllNodes, 64, 200,
                        std::vector<std::byte>(8));
  in(mc);
  EXPECT_EQ(h.counter(Counter::ip6_drop_protocol), 1u);
  iface.send_icmpv6_error(wire::kIcmpv6ParamProblem, 1, 6, std::span(mc).subspan(14), h.now);
  EXPECT_EQ(h.counter(Counter::icmp6_error_suppressed), 1u);
  // RFC 4443 2.4(e.1): an ICMPv6 error as the invoking packet.
  std::vector<std::byte> err(48);
  err.resize(wire::write_icmpv6_error(err, wire::kIcmpv6DestUnreachable, 0, 0, std::vector<std::byte>(40), kPeer,
                                      kOur));
  const auto pkt = frame(kOurMac, kPeerMac, kPeer, kOur, 64, wire::kIpProtoIcmpv6, err);
  iface.send_icmpv6_error(wire::kIcmpv6ParamProblem, 0, 40, std::span(pkt).subspan(14), h.now);
  EXPECT_EQ(h.counter(Counter::icmp6_error_suppressed), 2u);
  // From the unspecified address (e.6).
  const auto anon = frame(kOurMac, kPeerMac, IpAddr{}, kOur, 64, 200, std::vector<std::byte>(8));
  iface.send_icmpv6_error(wire::kIcmpv6ParamProblem, 1, 6, std::span(anon).subspan(14), h.now);
  EXPECT_EQ(h.counter(Counter::icmp6_error_suppressed), 3u);
  EXPECT_TRUE(drain().empty());
  EXPECT_EQ(h.counter(Counter::icmp6_error_in), 0u);
}

// The start of a TCP segment we sent from `our` to `dst`, as errors quote it (80
// bytes: the IPv6 header and 40 of TCP): its ports, sequence number and the
// length it had (`payload_len` after the IPv6 header).
struct Quote {
  std::uint16_t sport = 0, dport = 0;
  std::uint32_t seq = 0;
  std::uint16_t payload_len = 1440;
};
std::vector<std::byte> our_tcp_packet(const IpAddr& our, const IpAddr& dst, const Quote& q = {}) {
  std::vector<std::byte> p(80);
  store_be32(p.data(), 0x60000000u);
  store_be16(p.data() + 4, q.payload_len);
  p[6] = std::byte{6};
  p[7] = std::byte{64};
  std::memcpy(p.data() + 8, our.bytes.data(), 16);
  std::memcpy(p.data() + 24, dst.bytes.data(), 16);
  store_be16(p.data() + 40, q.sport);
  store_be16(p.data() + 42, q.dport);
  store_be32(p.data() + 44, q.seq);
  return p;
}

// A Packet Too Big about a packet we sent to `dst`.
std::vector<std::byte> ptb(std::uint32_t mtu, const IpAddr& our, const IpAddr& dst, const Quote& q = {}) {
  const std::vector<std::byte> invoking = our_tcp_packet(our, dst, q);
  std::vector<std::byte> m(8 + invoking.size());
  m.resize(wire::write_icmpv6_error(m, wire::kIcmpv6PacketTooBig, 0, mtu, invoking, IpAddr{}, IpAddr{}));
  return m;
}

TEST_F(Interface6Test, PacketTooBigLowersThePathMtu) {
  struct Heard {
    IpAddr dst{};
    std::uint32_t mtu = 0;
  } heard;
  iface.set_pmtu_listener(
      [](void* ctx, const IpAddr& dst, std::uint32_t mtu) {
        static_cast<Heard*>(ctx)->dst = dst;
        static_cast<Heard*>(ctx)->mtu = mtu;
      },
      &heard);
  EXPECT_EQ(iface.path_mtu(kFar, h.now), 1500u);
  // A quote that names no connection of ours: TCP refuses it, and so does the cache
  // (RFC 5927 4.1: a blind forger knows the address, not a sequence number).
  in(frame(kOurMac, kGwMac, kGw, kOur, 64, wire::kIpProtoIcmpv6, ptb(1400, kOur, kFar)));
  EXPECT_EQ(h.counter(Counter::icmp6_ptb_in), 1u);
  EXPECT_EQ(h.counter(Counter::tcp_icmp_drop_no_conn), 1u);
  EXPECT_EQ(h.counter(Counter::pmtu_lowered), 0u);
  EXPECT_EQ(iface.path_mtu(kFar, h.now), 1500u);
  // About a segment of ours in flight: TCP takes it, the cache learns it.
  auto c = h.stack.connect(kFar, 80, h.handler);
  ASSERT_TRUE(c);
  const Quote q{h.stack.info(*c)->key.local_port, 80, h.stack.info(*c)->iss.raw()};
  in(frame(kOurMac, kGwMac, kGw, kOur, 64, wire::kIpProtoIcmpv6, ptb(1400, kOur, kFar, q)));
  EXPECT_EQ(h.counter(Counter::tcp_icmp_in), 1u);
  EXPECT_EQ(h.counter(Counter::pmtu_lowered), 1u);
  EXPECT_EQ(iface.path_mtu(kFar, h.now), 1400u);
  EXPECT_EQ(iface.mss_for(kFar, h.now), 1340);
  EXPECT_EQ(iface.mss_for(kPeer, h.now), 1440);
  EXPECT_EQ(heard.dst, kFar);
  EXPECT_EQ(heard.mtu, 1400u);
  // RFC 8201 4: below 1280: discarded, before TCP sees it.
  in(frame(kOurMac, kGwMac, kGw, kOur, 64, wire::kIpProtoIcmpv6, ptb(1000, kOur, kFar, q)));
  EXPECT_EQ(h.counter(Counter::pmtu_drop_below_min), 1u);
  EXPECT_EQ(h.counter(Counter::tcp_icmp_in), 1u);
  EXPECT_EQ(iface.path_mtu(kFar, h.now), 1400u);
  // About a packet that was not ours: ignored.
  in(frame(kOurMac, kGwMac, kGw, kOur, 64, wire::kIpProtoIcmpv6, ptb(1300, kPeer, kFar)));
  EXPECT_EQ(h.counter(Counter::pmtu_drop_invalid), 1u);
  EXPECT_EQ(iface.path_mtu(kFar, h.now), 1400u);
  std::erase_if(h.handler.events, [](const std::string&) { return true; });
}

// RFC 4443 2.4(a) and RFC 9293 3.9.2.2: a Packet Too Big about a live
// connection's segment teaches the cache, and a later connection to that peer
// agrees an MSS that fits (RFC 8201 5.4); a Destination Unreachable, port
// unreachable (hard), quoting a SYN ends that active open as refused (as Linux).
TEST_F(Interface6Test, ErrorsReachTcp) {
  auto first = h.stack.connect(kPeer, 80, h.handler);
  ASSERT_TRUE(first);
  const ConnInfo a = *h.stack.info(*first);
  in(frame(kOurMac, kPeerMac, kPeer, kOur, 64, wire::kIpProtoIcmpv6,
           ptb(1400, kOur, kPeer, Quote{a.key.local_port, 80, a.iss.raw()})));
  EXPECT_EQ(iface.path_mtu(kPeer, h.now), 1400u);
  std::vector<std::byte> quoted = our_tcp_packet(kOur, kPeer, Quote{a.key.local_port, 80, a.iss.raw(), 40});
  std::vector<std::byte> m(8 + quoted.size());
  m.resize(wire::write_icmpv6_error(m, wire::kIcmpv6DestUnreachable, 4, 0, quoted, IpAddr{}, IpAddr{}));
  in(frame(kOurMac, kPeerMac, kPeer, kOur, 64, wire::kIpProtoIcmpv6, m));
  EXPECT_EQ(h.counter(Counter::tcp_icmp_in), 2u);
  EXPECT_EQ(h.counter(Counter::tcp_icmp_aborted), 1u);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"closed:refused"});
  EXPECT_FALSE(h.stack.alive(*first));
  // A new connection to the peer: its SYN-ACK offers MSS 1440, the path carries 1340.
  auto second = h.stack.connect(kPeer, 80, h.handler);
  ASSERT_TRUE(second);
  const ConnInfo b = *h.stack.info(*second);
  wire::TcpHeader synack;
  synack.src_port = 80;
  synack.dst_port = b.key.local_port;
  synack.seq = SeqNum{5000};
  synack.ack = b.iss + 1;
  synack.flags = wire::tcp_flags::kSyn | wire::tcp_flags::kAck;
  synack.window = 65535;
  synack.options.mss = 1440;
  std::vector<std::byte> seg(40);
  seg.resize(wire::write_tcp_header(seg, synack));
  wire::finish_tcp_checksum(seg, kPeer, kOur);
  in(frame(kOurMac, kPeerMac, kPeer, kOur, 64, wire::kIpProtoTcp, seg));
  ASSERT_EQ(h.stack.info(*second)->state, State::Established);
  EXPECT_EQ(h.stack.info(*second)->snd_mss, 1340);
}

TEST_F(Interface6Test, RouterMessagesValidatedAndIgnored) {
  wire::RouterAdvertisement adv;
  adv.cur_hop_limit = 64;
  adv.router_lifetime = 1800;
  std::vector<std::byte> ra(32);
  ra.resize(wire::write_router_advertisement(ra, adv, kGwMac, 1400, IpAddr{}, IpAddr{}));
  in(frame(wire::multicast_mac(wire::kAllNodes), kGwMac, kGw, wire::kAllNodes, 255, wire::kIpProtoIcmpv6, ra));
  EXPECT_EQ(h.counter(Counter::nd_router_ignored), 1u);
  in(frame(wire::multicast_mac(wire::kAllNodes), kGwMac, kGw, wire::kAllNodes, 64, wire::kIpProtoIcmpv6, ra));
  EXPECT_EQ(h.counter(Counter::nd_drop_hop_limit), 1u);
  EXPECT_TRUE(drain().empty());
  EXPECT_EQ(iface.path_mtu(kFar, h.now), 1500u);  // an RA's MTU option is not taken
}

TEST_F(Interface6Test, UnsolicitedAdvertisementsAtStart) {
  // RFC 4861 7.2.6: to all-nodes, Override set, Solicited clear, for each address.
  iface.announce();
  auto out = drain();
  std::vector<IpAddr> targets;
  for (const auto& f : out) {
    if (f.type != kEtherTypeIpv6) continue;
    EXPECT_EQ(f.dst, wire::multicast_mac(wire::kAllNodes));
    EXPECT_EQ(f.ip_dst(), wire::kAllNodes);
    EXPECT_EQ(f.hop_limit(), 255);
    auto na = wire::parse_neighbor_advertisement(f.icmp());
    ASSERT_TRUE(na);
    EXPECT_FALSE(na->solicited);
    EXPECT_TRUE(na->override_flag);
    EXPECT_EQ(na->options.target_link_addr, kOurMac);
    targets.push_back(na->target);
  }
  EXPECT_EQ(targets, (std::vector<IpAddr>{kOurLl, kOur}));
}

TEST(Interface6Off, Ipv6FramesCountedAsBefore) {
  Harness h;
  InterfaceConfig c;
  c.mac = kOurMac;
  c.addr = h.local;
  Interface iface(h.stack, c);
  EXPECT_FALSE(iface.ipv6_enabled());
  iface.input(frame(kOurMac, kPeerMac, kPeer, kOur, 64, wire::kIpProtoIcmpv6, echo_body(1, 1, 0)), h.now);
  EXPECT_EQ(h.counter(Counter::l2_drop_ethertype), 1u);
  iface.input(frame(wire::multicast_mac(wire::kAllNodes), kPeerMac, kPeer, wire::kAllNodes, 64,
                    wire::kIpProtoIcmpv6, echo_body(1, 1, 0)),
              h.now);
  EXPECT_EQ(h.counter(Counter::l2_drop_not_ours), 1u);
}

class Interface6DadTest : public Interface6Test {
 protected:
  Interface6DadTest() : dad_h(with_interface_addresses(default_config(), dad_config())), dad_iface(dad_h.stack, dad_config()) {}
  static InterfaceConfig dad_config() {
    InterfaceConfig c = config();
    c.ip6.dad = true;
    return c;
  }
  std::vector<Frame> dad_drain() {
    std::vector<Frame> out;
    dad_iface.drain(dad_h.now, [&](std::span<const std::byte> eth, std::span<const std::byte> body) {
      auto e = wire::EthernetView::parse(eth);
      if (e->ether_type() == kEtherTypeIpv6) out.push_back(Frame{e->dst(), e->src(), e->ether_type(), {body.begin(), body.end()}});
    });
    return out;
  }
  Harness dad_h;
  Interface dad_iface;
};

TEST_F(Interface6DadTest, ProbesThenAdvertises) {
  // RFC 4862 5.4.2: NS from ::, no SLLA, to each solicited-node group.
  dad_iface.announce();
  auto out = dad_drain();
  ASSERT_EQ(out.size(), 2u);
  for (const auto& f : out) {
    EXPECT_EQ(f.ip_src(), IpAddr{});
    auto ns = wire::parse_neighbor_solicitation(f.icmp());
    ASSERT_TRUE(ns);
    EXPECT_FALSE(ns->options.source_link_addr);
    EXPECT_EQ(f.ip_dst(), wire::solicited_node(ns->target));
  }
  EXPECT_TRUE(dad_iface.tentative(kOur));
  // While tentative, a solicitation for the address is not answered.
  dad_iface.input(frame(kOurMac, kPeerMac, kPeer, kOur, 255, wire::kIpProtoIcmpv6, ns_body(kOur, kPeerMac)), dad_h.now);
  EXPECT_TRUE(dad_drain().empty());
  dad_h.advance(std::chrono::seconds{1});
  out = dad_drain();
  ASSERT_EQ(out.size(), 2u);  // RetransTimer passed, no reply: the NAs go
  EXPECT_EQ(out[0].icmp().type(), wire::kNdNeighborAdvert);
  EXPECT_FALSE(dad_iface.tentative(kOur));
  EXPECT_EQ(dad_h.counter(Counter::nd_dad_conflict), 0u);
}

TEST_F(Interface6DadTest, ConflictKeepsTheAddressUnanswered) {
  dad_iface.announce();
  dad_drain();
  // RFC 4862 5.4.4: an NA for the tentative address: a duplicate.
  dad_iface.input(frame(wire::multicast_mac(wire::kAllNodes), kPeerMac, kOur, wire::kAllNodes, 255,
                        wire::kIpProtoIcmpv6, na_body(wire::kNaOverride, kOur, kPeerMac)),
                  dad_h.now);
  EXPECT_EQ(dad_h.counter(Counter::nd_dad_conflict), 1u);
  dad_h.advance(std::chrono::seconds{1});
  auto out = dad_drain();
  ASSERT_EQ(out.size(), 1u);  // only the link-local address is advertised
  EXPECT_EQ(wire::parse_neighbor_advertisement(out[0].icmp())->target, kOurLl);
  EXPECT_TRUE(dad_iface.tentative(kOur));
  dad_iface.input(frame(kOurMac, kPeerMac, kPeer, kOur, 255, wire::kIpProtoIcmpv6, ns_body(kOur, kPeerMac)), dad_h.now);
  EXPECT_TRUE(dad_drain().empty());
}

}  // namespace
}  // namespace riptide::testing
