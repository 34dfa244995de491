// ICMP errors and TCP (RFC 9293 3.9.2.2): the error reaches the connection whose
// segment it quotes (MUST-54); hard errors end an opening connection (SHLD-26),
// soft ones never abort (MUST-56) but say why an opening that times out failed
// (SHLD-25); hard errors in a synchronized state count as soft (RFC 5461 4); a
// quote whose sequence number is not in flight is ignored (RFC 5927 4.1); and
// "fragmentation needed" lowers the MSS and resends in segments that fit (RFC
// 1191, as RFC 8201 5.4 does for IPv6). The errors come from a router at
// 198.18.0.254 as real IPv4 ICMP packets through Stack::input.
#include <vector>

#include "common/byte_order.hpp"
#include "harness.hpp"
#include "ip/ip_layer.hpp"
#include "wire/checksum.hpp"
#include "wire/icmp.hpp"
#include "wire/icmpv6.hpp"

namespace riptide::testing {
namespace {

const Ipv4Addr kRouter = Ipv4Addr::from_octets(198, 18, 0, 254);

class IcmpTest : public ::testing::Test {
 protected:
  // What a router quotes of one of our segments (RFC 792: the IP header and the
  // first 8 bytes of TCP): ports and the sequence number, relative to our ISN.
  std::vector<std::byte> quote(std::uint32_t rel_seq, std::uint16_t total_len = 1500) const {
    std::vector<std::byte> q(28);
    wire::Ipv4Header ip;
    ip.protocol = wire::kIpProtoTcp;
    ip.src = h.local;
    ip.dst = h.remote;
    wire::write_ipv4_header(q, ip, static_cast<std::uint16_t>(total_len - 20));
    store_be16(q.data() + 20, h.local_port);
    store_be16(q.data() + 22, h.remote_port);
    store_be32(q.data() + 24, (h.stack_isn + rel_seq).raw());
    return q;
  }
  // An ICMP error from the router to us, about `quoted`.
  void error_in(std::uint8_t type, std::uint8_t code, std::uint32_t word, const std::vector<std::byte>& quoted) {
    std::vector<std::byte> pkt(20 + 8 + quoted.size());
    wire::Ipv4Header ip;
    ip.protocol = wire::kIpProtoIcmp;
    ip.src = kRouter;
    ip.dst = h.local;
    wire::write_ipv4_header(pkt, ip, static_cast<std::uint16_t>(8 + quoted.size()));
    std::byte* m = pkt.data() + 20;
    m[0] = std::byte{type};
    m[1] = std::byte{code};
    store_be32(m + 4, word);
    std::memcpy(m + 8, quoted.data(), quoted.size());
    store_be16(m + 2, wire::checksum_fold(wire::checksum_add(std::span<const std::byte>(m, 8 + quoted.size()))));
    h.stack.input(pkt, h.now);
  }
  void unreachable(std::uint8_t code, std::uint32_t rel_seq) {
    error_in(wire::kIcmpDestUnreachable, code, 0, quote(rel_seq));
  }
  // connect(): SYN-SENT, our SYN out.
  void open_active() {
    auto c = h.stack.connect(h.remote, h.remote_port, h.handler);
    ASSERT_TRUE(c);
    h.conn = *c;
    h.local_port = h.stack.info(h.conn)->key.local_port;
    h.expect("S", 0, 0);
  }
  // Payload sizes of what the stack sent.
  std::vector<std::size_t> sizes() {
    std::vector<std::size_t> v;
    for (const Out& o : h.take()) v.push_back(o.data.size());
    return v;
  }
  Harness h;
};

TEST_F(IcmpTest, PortUnreachableRefusesAnActiveOpen) {
  open_active();
  unreachable(3, 0);  // port unreachable, quoting our SYN: a refusal, as a RST (Linux: ECONNREFUSED)
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"closed:refused"});
  EXPECT_FALSE(h.stack.alive(h.conn));
  EXPECT_EQ(h.counter(Counter::icmp_error_in), 1u);
  EXPECT_EQ(h.counter(Counter::tcp_icmp_in), 1u);
  EXPECT_EQ(h.counter(Counter::tcp_icmp_aborted), 1u);
  h.expect_nothing();  // no RST for an error
}

TEST_F(IcmpTest, ProtocolUnreachableEndsAnActiveOpen) {
  open_active();
  unreachable(2, 0);  // hard (RFC 9293 3.9.2.2)
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"closed:unreachable"});
  EXPECT_EQ(h.counter(Counter::tcp_icmp_aborted), 1u);
}

TEST_F(IcmpTest, HostUnreachableIsSoftAndNamesTheTimeout) {
  open_active();
  unreachable(1, 0);  // host unreachable: MUST-56, no abort
  EXPECT_TRUE(h.handler.take().empty());
  EXPECT_EQ(h.state(), State::SynSent);
  EXPECT_EQ(h.counter(Counter::tcp_icmp_soft), 1u);
  // The SYN is retried as usual; when the open gives up, the error says why.
  for (int i = 0; i < 20 && h.stack.alive(h.conn); ++i) h.run_to_next_timer();
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"closed:unreachable"});
}

TEST_F(IcmpTest, HardErrorInEstablishedDoesNotAbort) {
  h.to_established_active();
  h.send("hello");
  h.expect("P.", 1, 1, "hello");
  unreachable(3, 1);  // RFC 5461 4: a synchronized connection lives on
  EXPECT_EQ(h.state(), State::Established);
  EXPECT_TRUE(h.handler.take().empty());
  EXPECT_EQ(h.counter(Counter::tcp_icmp_soft), 1u);
  EXPECT_EQ(h.counter(Counter::tcp_icmp_aborted), 0u);
}

TEST_F(IcmpTest, QuotesThatNameNothingInFlightAreIgnored) {
  open_active();
  // RFC 5927 4.1: only SND.UNA <= seq < SND.NXT (here the ISS alone).
  unreachable(3, 1);
  unreachable(3, 0x40000000);
  EXPECT_EQ(h.counter(Counter::tcp_icmp_drop_out_of_window), 2u);
  // Another tuple: no connection.
  h.local_port = static_cast<std::uint16_t>(h.local_port + 1);
  unreachable(3, 0);
  EXPECT_EQ(h.counter(Counter::tcp_icmp_drop_no_conn), 1u);
  // Too little quoted to name a connection.
  auto short_quote = quote(0);
  short_quote.resize(24);  // the ports, not the sequence number
  error_in(wire::kIcmpDestUnreachable, 3, 0, short_quote);
  EXPECT_EQ(h.counter(Counter::tcp_icmp_drop_malformed), 1u);
  EXPECT_EQ(h.state(), State::SynSent);
  EXPECT_TRUE(h.handler.take().empty());
  // ICMP quotes IPv4: a quote of an IPv6 header is not taken (nor would ICMPv6's of IPv4).
  std::vector<std::byte> v6_quote(48);
  v6_quote[0] = std::byte{0x60};
  v6_quote[6] = std::byte{6};
  error_in(wire::kIcmpDestUnreachable, 3, 0, v6_quote);
  EXPECT_EQ(h.counter(Counter::tcp_icmp_drop_malformed), 2u);
  // RFC 9293 MUST-55: Source Quench silently discarded.
  h.local_port = static_cast<std::uint16_t>(h.local_port - 1);
  error_in(4, 0, 0, quote(0));
  EXPECT_EQ(h.state(), State::SynSent);
  EXPECT_EQ(h.counter(Counter::icmp_error_in), 5u);
}

TEST_F(IcmpTest, FragmentationNeededShrinksTheSegmentsInFlight) {
  h.peer_syn_options.mss = 1460;
  h.to_established_active();
  ASSERT_EQ(h.stack.info(h.conn)->snd_mss, 1460);
  h.send(std::string(3000, 'x'));
  EXPECT_EQ(sizes(), (std::vector<std::size_t>{1460, 1460, 80}));
  const std::uint32_t cwnd = h.stack.info(h.conn)->cwnd;
  h.now += std::chrono::milliseconds{150};  // the refusal comes back a while later
  // A quote of a packet that fit the MTU claimed was not refused for its size.
  error_in(wire::kIcmpDestUnreachable, 4, 1000, quote(1, 576));
  EXPECT_EQ(h.counter(Counter::tcp_pmtu_drop_fits), 1u);
  EXPECT_EQ(h.stack.info(h.conn)->snd_mss, 1460);
  // A router with a 1000-byte next hop refused the first (RFC 1191 4).
  error_in(wire::kIcmpDestUnreachable, 4, 1000, quote(1));
  EXPECT_EQ(h.stack.info(h.conn)->snd_mss, 960);
  EXPECT_EQ(h.counter(Counter::tcp_pmtu_mss_lowered), 1u);
  // Everything in flight again from SND.UNA, in segments that fit; cwnd untouched,
  // and a whole RTO from the resend before the timer fires.
  EXPECT_EQ(sizes(), (std::vector<std::size_t>{960, 960, 960, 120}));
  EXPECT_EQ(h.stack.info(h.conn)->cwnd, cwnd);
  EXPECT_EQ(*h.stack.next_timer(), h.now + h.stack.info(h.conn)->rto);
  EXPECT_EQ(h.state(), State::Established);
  // A later error about the same path changes nothing more.
  error_in(wire::kIcmpDestUnreachable, 4, 1200, quote(1));
  EXPECT_EQ(h.stack.info(h.conn)->snd_mss, 960);
  EXPECT_EQ(h.counter(Counter::tcp_pmtu_mss_lowered), 1u);
  h.expect_nothing();
}

TEST_F(IcmpTest, FragmentationNeededFloorsAndPlateaus) {
  h.peer_syn_options.mss = 1460;
  h.to_established_active();
  h.send(std::string(100, 'x'));
  (void)h.take();
  // An old router (next-hop MTU 0): RFC 1191 5's plateau below the quoted 1500: 1492.
  error_in(wire::kIcmpDestUnreachable, 4, 0, quote(1, 1500));
  EXPECT_EQ(h.stack.info(h.conn)->snd_mss, 1452);
  (void)h.take();
  // A forged tiny MTU is floored at 552 (Linux's min_pmtu; RFC 5927 7.1).
  error_in(wire::kIcmpDestUnreachable, 4, 68, quote(1));
  EXPECT_EQ(h.stack.info(h.conn)->snd_mss, 512);
}

// After a timeout rewound SND.NXT (go-back-N), a segment beyond it is still in
// flight: the check runs to SND.MAX.
TEST_F(IcmpTest, QuotesUpToSndMaxAfterATimeout) {
  h.peer_syn_options.mss = 1460;
  h.to_established_active();
  h.send(std::string(3000, 'x'));
  (void)h.take();
  h.run_to_next_timer();  // RTO: the first segment again, SND.NXT back at 1461
  EXPECT_EQ(sizes(), (std::vector<std::size_t>{1460}));
  error_in(wire::kIcmpDestUnreachable, 4, 1000, quote(1461));
  EXPECT_EQ(h.counter(Counter::tcp_icmp_drop_out_of_window), 0u);
  EXPECT_EQ(h.stack.info(h.conn)->snd_mss, 960);
}

// NewReno fast recovery (no SACK) inflates cwnd with each duplicate; an MSS change
// ends recovery like a timeout would, deflated to ssthresh, so the resend is no burst.
TEST_F(IcmpTest, FragmentationNeededInRecoveryDeflatesTheWindow) {
  h.peer_syn_options.mss = 1460;
  h.to_established_active();
  h.send(std::string(12 * 1460, 'x'));
  ASSERT_EQ(sizes().size(), 3u);  // the initial window (RFC 3390)
  h.in(".", 1, 1 + 3 * 1460);     // slow start: the window doubles
  ASSERT_GE(sizes().size(), 4u);  // enough in flight for three duplicates
  for (int i = 0; i < 5; ++i) h.in(".", 1, 1 + 3 * 1460);  // duplicates: the fourth segment was lost
  ASSERT_TRUE(h.stack.info(h.conn)->in_recovery);
  ASSERT_GT(h.stack.info(h.conn)->cwnd, h.stack.info(h.conn)->ssthresh);
  (void)h.take();
  error_in(wire::kIcmpDestUnreachable, 4, 1000, quote(1 + 3 * 1460));
  const ConnInfo i = *h.stack.info(h.conn);
  EXPECT_FALSE(i.in_recovery);
  EXPECT_LE(i.cwnd, i.ssthresh);
  std::size_t sent = 0;
  for (std::size_t n : sizes()) sent += n;
  EXPECT_LE(sent, i.ssthresh);  // no more than the deflated window at once
}

// RFC 9293 3.9.2.2's table, both families.
TEST(IcmpClassify, SoftHardAndPacketTooBig) {
  using Kind = ip::IcmpError::Kind;
  struct Row {  // Destination Unreachable, by code
    std::uint8_t code;
    Kind v4, v6;
  };
  const Row rows[] = {
      {0, Kind::Soft, Kind::Soft},  // net / no route
      {1, Kind::Soft, Kind::Hard},  // host / admin prohibited
      {2, Kind::Hard, Kind::Hard},  // protocol / beyond scope
      {3, Kind::PortUnreachable, Kind::Soft},  // port / address unreachable
      {4, Kind::PacketTooBig, Kind::PortUnreachable},  // frag needed / port
      {5, Kind::Soft, Kind::Hard},  // source route / policy
      {13, Kind::Soft, Kind::Soft},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(ip::classify_icmp_error(wire::kIcmpDestUnreachable, r.code, 1400, {}).kind, r.v4) << int(r.code);
    EXPECT_EQ(ip::classify_icmpv6_error(wire::kIcmpv6DestUnreachable, r.code).kind, r.v6) << int(r.code);
  }
  EXPECT_EQ(ip::classify_icmp_error(wire::kIcmpTimeExceeded, 0, 0, {}).kind, Kind::Soft);
  EXPECT_EQ(ip::classify_icmp_error(wire::kIcmpParamProblem, 0, 0, {}).kind, Kind::Soft);
  EXPECT_EQ(ip::classify_icmpv6_error(wire::kIcmpv6TimeExceeded, 1).kind, Kind::Soft);
  EXPECT_EQ(ip::classify_icmpv6_error(wire::kIcmpv6ParamProblem, 2).kind, Kind::Soft);
  EXPECT_EQ(ip::classify_icmpv6_error(200, 0).kind, Kind::Soft);  // RFC 4443 2.4(d): unknown error type
}

}  // namespace
}  // namespace riptide::testing
