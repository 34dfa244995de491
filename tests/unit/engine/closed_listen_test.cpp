// CLOSED (RFC 9293 3.10.7.1) and LISTEN (3.10.7.2): segments for no connection and
// for a listener, including the backlog and SYN-cookie rules (RFC 4987).
#include "harness.hpp"
#include "wire/checksum.hpp"
#include "wire/icmp.hpp"

namespace riptide::testing {
namespace {

TEST(Closed, SynToClosedPortAnsweredWithRstAck) {
  Harness h;
  h.in("S", 0);
  // ACK off: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
  h.expect("R.", 0, 1);
  EXPECT_EQ(h.counter(Counter::tcp_rst_no_connection), 1u);
}

TEST(Closed, DataWithFinToClosedPortCountsEveryOctet) {
  Harness h;
  h.in("FP", 0, 0, "abc");
  h.expect("R.", 0, 4);  // 3 data octets + FIN
}

TEST(Closed, AckToClosedPortAnsweredWithRstAtSegAck) {
  Harness h;
  h.in(".", 5, 99);
  // ACK on: <SEQ=SEG.ACK><CTL=RST>
  h.expect("R", 99, 0);
}

TEST(Closed, RstToClosedPortIsIgnored) {
  Harness h;
  h.in("R", 5);
  h.in("R.", 5, 7);
  h.expect_nothing();
}

TEST(Closed, ActiveOpenEntersSynSentAndSendsSyn) {
  Harness h;
  auto c = h.stack.connect(h.remote, h.remote_port, h.handler);
  ASSERT_TRUE(c.has_value());
  h.conn = *c;
  EXPECT_EQ(h.state(), State::SynSent);
  Out syn = h.expect("S", 0, 0);
  // Our SYN offers everything the config enables, in Linux's order.
  EXPECT_EQ(wire::format_tcp_options(syn.options), "mss 1460,sackOK,TS val " +
                                                       std::to_string(syn.options.timestamps->tsval) +
                                                       " ecr 0,nop,wscale 7");
}

TEST(Closed, ActiveOpenPicksDistinctEphemeralPorts) {
  Harness h;
  auto a = h.stack.connect(h.remote, 80, h.handler);
  auto b = h.stack.connect(h.remote, 80, h.handler);
  ASSERT_TRUE(a && b);
  EXPECT_NE(h.stack.info(*a)->key.local_port, h.stack.info(*b)->key.local_port);
}

TEST(Closed, ConnectToTakenTupleFails) {
  Harness h;
  ConnectOptions o;
  o.local_port = 5555;
  ASSERT_TRUE(h.stack.connect(h.remote, 80, h.handler, o).has_value());
  auto again = h.stack.connect(h.remote, 80, h.handler, o);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error(), Error::AddressInUse);
}

TEST(Config, BadConfigurationIsNamed) {
  StackConfig c = default_config();
  EXPECT_FALSE(validate(c).has_value());
  c.secret = {};
  EXPECT_NE(validate(c).value_or("").find("secret"), std::string::npos);
  c = default_config();
  c.tcp.mss = 9000;
  EXPECT_NE(validate(c).value_or("").find("tcp.mss"), std::string::npos);
  c = default_config();
  c.local_addrs.clear();
  EXPECT_NE(validate(c).value_or("").find("local_addrs"), std::string::npos);
  c = default_config();
  c.tcp.window_scale = 15;
  EXPECT_NE(validate(c).value_or("").find("window_scale"), std::string::npos);
}

TEST(Closed, PacketsToAnyLocalAddressAreOursAndToOthersAreNot) {
  // Stack::input checks the first local address before the list: a packet to a
  // later one must still reach TCP (here a SYN to a closed port, answered with a
  // RST, RFC 9293 3.10.7.1), and one to no local address must not.
  StackConfig two = default_config();
  two.local_addrs = {Ipv4Addr::from_octets(198, 18, 0, 9), Ipv4Addr::from_octets(198, 18, 0, 1)};
  Harness h(two);  // the harness sends to 198.18.0.1: the second address
  h.in("S", 0);
  EXPECT_EQ(h.counter(Counter::ip_drop_not_ours), 0u);
  EXPECT_EQ(h.counter(Counter::tcp_in), 1u);
  EXPECT_EQ(h.counter(Counter::tcp_rst_no_connection), 1u);

  StackConfig other = default_config();
  other.local_addrs = {Ipv4Addr::from_octets(198, 18, 0, 9)};
  Harness h2(other);
  h2.in("S", 0);
  EXPECT_EQ(h2.counter(Counter::ip_drop_not_ours), 1u);
  EXPECT_EQ(h2.counter(Counter::tcp_in), 0u);
  h2.expect_nothing();
}

TEST(Closed, EchoRequestFromBroadcastIsNotAnswered) {
  Harness h;
  std::array<std::byte, 64> buf{};
  wire::Ipv4Header ip;
  ip.protocol = wire::kIpProtoIcmp;
  ip.src = Ipv4Addr{0xFFFFFFFFu};
  ip.dst = h.local;
  const std::size_t hl = wire::write_ipv4_header(buf, ip, 8);
  wire::write_icmp_echo(std::span(buf).subspan(hl), wire::kIcmpEchoRequest, 1, 1, {});
  h.stack.input(std::span<const std::byte>(buf.data(), hl + 8), h.now);
  EXPECT_EQ(h.stack.tx_pending(), 0u);
}

TEST(Listen, SynAnsweredWithSynAckEchoingOptions) {
  Harness h;
  h.peer_syn_options.mss = 1460;
  h.peer_syn_options.sack_permitted = true;
  h.peer_syn_options.timestamps = wire::TcpTimestamps{100, 0};
  h.peer_syn_options.window_scale = 7;
  h.listen();
  h.in("S", 0, 0, {}, 65535, h.syn_options());
  Out synack = h.expect("S.", 0, 1);
  ASSERT_TRUE(synack.options.timestamps);
  EXPECT_EQ(synack.options.timestamps->tsecr, 100u);
  EXPECT_EQ(synack.options.mss, 1460);
  EXPECT_EQ(synack.options.window_scale, 7);
  EXPECT_TRUE(synack.options.sack_permitted);
  EXPECT_EQ(synack.win, 65535);  // RFC 7323 2.2: never scaled in a SYN-ACK
}

TEST(Listen, SynWithoutOptionsGetsOnlyMss) {
  Harness h;
  h.listen();
  h.in("S", 0);
  Out synack = h.expect("S.", 0, 1);
  // RFC 7323 / RFC 2018: options the peer did not offer are not sent back.
  EXPECT_EQ(wire::format_tcp_options(synack.options), "mss 1460");
}

TEST(Listen, RstIsIgnored) {
  Harness h;
  h.listen();
  h.in("R", 0);
  h.expect_nothing();
  EXPECT_EQ(h.stack.connection_count(), 0u);
}

TEST(Listen, AckIsAnsweredWithRst) {
  Harness h;
  h.listen({.backlog = 0, .auto_accept = true, .syn_cookies = tcp::SynCookieMode::Never});
  h.in(".", 0, 77);
  h.expect("R", 77, 0);
}

TEST(Listen, SegmentWithoutSynAckOrRstIsDropped) {
  Harness h;
  h.listen();
  h.in("F", 0);
  h.in("P", 0, 0, "data");
  h.expect_nothing();
  EXPECT_EQ(h.counter(Counter::tcp_drop_listen), 2u);
}

TEST(Listen, FullSynQueueAnswersWithCookieInAutoMode) {
  Harness h;
  h.listen({.backlog = 1, .auto_accept = true, .syn_cookies = std::nullopt});
  h.in("S", 0);
  h.expect("S.", 0, 1);
  EXPECT_EQ(h.stack.connection_count(), 1u);
  h.remote_port = 40001;
  h.stack_isn = SeqNum{};
  h.in("S", 0);
  h.expect("S.", 0, 1);
  EXPECT_EQ(h.stack.connection_count(), 1u) << "a cookie keeps no state";
  EXPECT_EQ(h.counter(Counter::tcp_cookie_sent), 1u);
  // The cookie ACK completes the handshake.
  h.in(".", 1, 1);
  h.expect_nothing();
  EXPECT_EQ(h.counter(Counter::tcp_cookie_accepted), 1u);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"accept"});
  h.conn = h.handler.last;
  EXPECT_EQ(h.state(), State::Established);
  EXPECT_EQ(h.stack.info(h.conn)->snd_mss, 536) << "no MSS option: 536";
}

TEST(Listen, FullSynQueueDropsSynWhenCookiesAreOff) {
  Harness h;
  h.listen({.backlog = 1, .auto_accept = true, .syn_cookies = tcp::SynCookieMode::Never});
  h.in("S", 0);
  h.expect("S.", 0, 1);
  h.remote_port = 40001;
  h.in("S", 0);
  h.expect_nothing();
  EXPECT_EQ(h.counter(Counter::tcp_syn_queue_full), 1u);
  EXPECT_EQ(h.counter(Counter::tcp_cookie_sent), 0u);
}

TEST(Listen, AlwaysModeKeepsNoStateForAnySyn) {
  Harness h;
  h.listen({.backlog = 16, .auto_accept = true, .syn_cookies = tcp::SynCookieMode::Always});
  h.peer_syn_options.mss = 1460;
  h.peer_syn_options.timestamps = wire::TcpTimestamps{5, 0};
  h.peer_syn_options.window_scale = 3;
  h.peer_syn_options.sack_permitted = true;
  h.in("S", 0, 0, {}, 65535, h.syn_options());
  Out synack = h.expect("S.", 0, 1);
  EXPECT_EQ(h.stack.connection_count(), 0u);
  // The ACK echoes the cookie TSval: window scale and SACK-permitted survive.
  wire::TcpOptions ack_opts;
  ack_opts.timestamps = wire::TcpTimestamps{6, synack.options.timestamps->tsval};
  h.in(".", 1, 1, {}, 1000, ack_opts);
  h.expect_nothing();
  h.conn = h.handler.last;
  auto info = h.stack.info(h.conn);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->state, State::Established);
  EXPECT_EQ(info->snd_mss, 1460 - 12);
  EXPECT_EQ(info->snd_wscale, 3);
  EXPECT_TRUE(info->sack_ok);
  EXPECT_TRUE(info->ts_ok);
  EXPECT_EQ(info->snd_wnd, 1000u << 3);
}

TEST(Listen, ForgedCookieAckIsAnsweredWithRst) {
  Harness h;
  h.listen({.backlog = 16, .auto_accept = true, .syn_cookies = tcp::SynCookieMode::Always});
  h.in("S", 0);
  h.expect("S.", 0, 1);
  h.in(".", 1, 2);  // the cookie is SEG.ACK - 1: off by one
  h.expect("R", 2, 0);
  EXPECT_EQ(h.counter(Counter::tcp_cookie_rejected), 1u);
  EXPECT_EQ(h.stack.connection_count(), 0u);
}

TEST(Listen, StaleCookieIsRejected) {
  Harness h;
  h.listen({.backlog = 16, .auto_accept = true, .syn_cookies = tcp::SynCookieMode::Always});
  h.in("S", 0);
  h.expect("S.", 0, 1);
  h.advance(std::chrono::seconds{200});
  h.in(".", 1, 1);
  h.expect("R", 1, 0);
  EXPECT_EQ(h.counter(Counter::tcp_cookie_rejected), 1u);
}

TEST(Listen, FullAcceptQueueDropsNewSyns) {
  Harness h;
  h.listen({.backlog = 1, .auto_accept = false, .syn_cookies = std::nullopt});
  h.in("S", 0);
  h.expect("S.", 0, 1);
  h.in(".", 1, 1);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"acceptable"});
  EXPECT_EQ(h.stack.accept_queue_length(h.listener), 1u);
  h.remote_port = 40001;
  h.in("S", 0);
  h.expect_nothing();
  EXPECT_EQ(h.counter(Counter::tcp_accept_queue_full), 1u);
  auto c = h.stack.accept(h.listener);
  ASSERT_TRUE(c);
  EXPECT_EQ(h.stack.info(*c)->state, State::Established);
}

// Found by fuzz_engine: a child waiting in the accept queue that the application
// closed (its handle came with on_data before accept()) leaves the queue; accept()
// handed it out again, and the application then never heard of its end.
TEST(Listen, ClosedChildLeavesTheAcceptQueue) {
  Harness h;
  h.listen({.backlog = 4, .auto_accept = false, .syn_cookies = std::nullopt});
  h.in("S", 0);
  h.expect("S.", 0, 1);
  h.in(".", 1, 1);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"acceptable"});
  ASSERT_EQ(h.stack.accept_queue_length(h.listener), 1u);
  ConnId child{};
  for (std::uint32_t slot = 0; slot < h.stack.config().max_connections; ++slot) {
    if (h.stack.engine().connection_at(slot, &child) != nullptr) break;
  }
  ASSERT_TRUE(h.stack.alive(child));
  EXPECT_FALSE(h.stack.close(child).has_value());
  h.expect("F.", 1, 1);
  EXPECT_EQ(h.stack.accept_queue_length(h.listener), 0u);
  EXPECT_FALSE(h.stack.accept(h.listener).has_value());
}

// Which listener a SYN reaches: the most specific (the address, then 0.0.0.0,
// then `::`), with few listeners (a flat array is searched) and with more than
// eight (a hash map), and none once unlisten() took it away.
TEST(Listen, MostSpecificListenerTakesTheSynWithFewOrManyListeners) {
  for (const std::uint16_t others : {0, 5, 12}) {
    SCOPED_TRACE(others);
    Harness h;
    // Listeners on other ports, specific and wildcard in turn.
    for (std::uint16_t i = 0; i < others; ++i) {
      ASSERT_TRUE(h.stack.listen(i % 2 ? IpAddr{h.local} : IpAddr{Ipv4Addr{}}, 9000 + i, h.handler));
    }
    const ListenOptions syn_only{.backlog = 16, .auto_accept = true, .syn_cookies = tcp::SynCookieMode::Never};
    auto any6 = h.stack.listen(IpAddr{}, h.local_port, h.handler, syn_only);
    auto any4 = h.stack.listen(Ipv4Addr{}, h.local_port, h.handler, syn_only);
    auto exact = h.stack.listen(h.local, h.local_port, h.handler, syn_only);
    ASSERT_TRUE(any6 && any4 && exact);
    // What a SYN from a new source port is answered with (the unlisten()s before
    // reset their children: those RSTs are taken first).
    auto answer_to_syn = [&h]() -> std::uint8_t {
      h.take();
      ++h.remote_port;
      h.in("S", 0);
      auto outs = h.take();
      return outs.size() == 1 ? outs.front().flags : 0;
    };
    EXPECT_EQ(answer_to_syn(), kSyn | kAck);
    EXPECT_EQ(h.stack.syn_queue_length(*exact), 1u);
    h.stack.unlisten(*exact);
    EXPECT_EQ(answer_to_syn(), kSyn | kAck);
    EXPECT_EQ(h.stack.syn_queue_length(*any4), 1u);
    h.stack.unlisten(*any4);
    EXPECT_EQ(answer_to_syn(), kSyn | kAck);
    EXPECT_EQ(h.stack.syn_queue_length(*any6), 1u);
    h.stack.unlisten(*any6);
    EXPECT_EQ(answer_to_syn(), kRst | kAck);  // RFC 9293 3.10.7.1: no listener left
    // The other ports' listeners are all still there.
    for (std::uint16_t i = 0; i < others; ++i) {
      h.local_port = static_cast<std::uint16_t>(9000 + i);
      EXPECT_EQ(answer_to_syn(), kSyn | kAck) << "port " << h.local_port;
    }
  }
}

TEST(Listen, SecondListenOnSamePortFails) {
  Harness h;
  h.listen();
  auto again = h.stack.listen(h.local, h.local_port, h.handler);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error(), Error::AddressInUse);
}

}  // namespace
}  // namespace riptide::testing

namespace riptide::testing {
namespace {

// RX checksum offload flags: what the NIC verified is not checked again; what it
// found bad is dropped and counted.
TEST(Closed, RxChecksumVerdictsFromTheNicAreHonoured) {
  Harness h;
  std::array<std::byte, 64> buf{};
  wire::TcpHeader th;
  th.src_port = h.remote_port;
  th.dst_port = h.local_port;
  th.flags = kSyn;
  th.seq = SeqNum{kPeerIsn + 5};
  wire::Ipv4Header ip;
  ip.protocol = wire::kIpProtoTcp;
  ip.src = h.remote;
  ip.dst = h.local;
  const std::size_t hl = wire::write_ipv4_header(buf, ip, 20);
  wire::write_tcp_header(std::span(buf).subspan(hl, 20), th);  // checksum left 0: wrong
  const auto pkt = std::span<const std::byte>(buf.data(), hl + 20);
  h.stack.input(pkt, h.now);
  EXPECT_EQ(h.counter(Counter::tcp_drop_checksum), 1u);
  h.stack.input(pkt, h.now, RxChecksum{RxChecksum::Verdict::Good, RxChecksum::Verdict::Good});
  h.expect("R.", 0, 6);  // taken as verified
  wire::finish_tcp_checksum(std::span(buf).subspan(hl, 20), h.remote, h.local);
  h.stack.input(pkt, h.now, RxChecksum{RxChecksum::Verdict::Unknown, RxChecksum::Verdict::Bad});
  EXPECT_EQ(h.counter(Counter::tcp_drop_checksum), 2u);
  h.stack.input(pkt, h.now, RxChecksum{RxChecksum::Verdict::Bad, RxChecksum::Verdict::Unknown});
  EXPECT_EQ(h.counter(Counter::ip_drop_checksum), 1u);
  h.expect_nothing();
}

}  // namespace
}  // namespace riptide::testing

namespace riptide::testing {
namespace {

// TX checksum offload: segments leave with IP checksum 0 and the pseudo-header sum
// in the TCP checksum field (what DPDK's offload expects: rte_ipv4_phdr_cksum).
TEST(Closed, TxChecksumOffloadLeavesTheSumsToTheNic) {
  StackConfig cfg = default_config();
  cfg.tx_checksum_offload = true;
  Harness h(cfg);
  std::array<std::byte, 64> buf{};
  wire::TcpHeader th;
  th.src_port = h.remote_port;
  th.dst_port = h.local_port;
  th.flags = kSyn;
  th.seq = SeqNum{5};
  wire::Ipv4Header ip;
  ip.protocol = wire::kIpProtoTcp;
  ip.src = h.remote;
  ip.dst = h.local;
  const std::size_t hl = wire::write_ipv4_header(buf, ip, 20);
  wire::write_tcp_header(std::span(buf).subspan(hl, 20), th);
  wire::finish_tcp_checksum(std::span(buf).subspan(hl, 20), h.remote, h.local);
  h.stack.input(std::span<const std::byte>(buf.data(), hl + 20), h.now);
  int n = 0;
  h.stack.drain_tx([&](std::span<const std::byte> pkt) {
    ++n;
    auto v = wire::Ipv4View::parse(pkt);
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(v->header_checksum(), 0);
    auto t = wire::TcpView::parse(v->payload());
    ASSERT_TRUE(t.has_value());
    const std::uint32_t ph = wire::pseudo_header_sum(v->src(), v->dst(), wire::kIpProtoTcp,
                                                     static_cast<std::uint16_t>(v->payload().size()));
    EXPECT_EQ(t->checksum(), static_cast<std::uint16_t>(~wire::checksum_fold(ph)));
  });
  EXPECT_EQ(n, 1);
}

}  // namespace
}  // namespace riptide::testing
