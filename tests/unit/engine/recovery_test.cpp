// Loss recovery in ESTABLISHED with SACK negotiated: RFC 6675's scoreboard,
// IsLost(), SetPipe() and NextSeg() as packet traces. The scripted peer offers
// SACK-permitted (no timestamps, MSS 536); sequence numbers are relative.
#include "harness.hpp"

namespace riptide::testing {
namespace {

constexpr std::uint32_t kMss = 536;

class SackRecovery : public ::testing::Test {
 protected:
  void SetUp() override {
    h.peer_syn_options.sack_permitted = true;
    h.to_established_passive();
    ASSERT_FALSE(h.stack.set_nodelay(h.conn, true).has_value());
    // Open cwnd to 8 segments: 4 segments, each ACKed on its own (slow start).
    h.send(std::string(4 * kMss, '-'));
    ASSERT_EQ(h.take().size(), 4u);
    for (std::uint32_t k = 1; k <= 4; ++k) h.in(".", 1, 1 + k * kMss);
    ASSERT_EQ(h.stack.info(h.conn)->cwnd, 8 * kMss);
    base = 1 + 4 * kMss;  // 2145: where the data of each test starts
    // 16 segments queued, segment k filled with the letter 'A' + k; 8 go out.
    for (int k = 0; k < 16; ++k) data += std::string(kMss, static_cast<char>('A' + k));
    h.send(data);
    auto outs = h.take();
    ASSERT_EQ(outs.size(), 8u);
    for (std::uint32_t k = 0; k < 8; ++k) Harness::check(outs[k], ".", seg(k), 1, payload(k));
  }

  [[nodiscard]] std::uint32_t seg(std::uint32_t k) const { return base + k * kMss; }
  [[nodiscard]] std::string payload(std::uint32_t k) const { return data.substr(k * kMss, kMss); }
  // A duplicate ACK at `ack` SACKing [seg(from), seg(to)) (and a second block if given).
  void dup_ack(std::uint32_t ack, std::uint32_t from, std::uint32_t to, std::uint32_t from2 = 0,
               std::uint32_t to2 = 0) {
    wire::TcpOptions o;
    o.sack_count = 1;
    o.sack_blocks[0] = wire::SackBlock{h.stack_isn + seg(from), h.stack_isn + seg(to)};
    if (to2 > from2) {
      o.sack_count = 2;
      o.sack_blocks[1] = wire::SackBlock{h.stack_isn + seg(from2), h.stack_isn + seg(to2)};
    }
    h.in(".", 1, ack, {}, 65535, o);
  }

  Harness h;
  std::uint32_t base = 0;
  std::string data;
};

TEST_F(SackRecovery, ThirdDupAckRetransmitsTheHoleAndThePipeClocksOutNewData) {
  // Segment 0 is lost; 1, 2, 3 arrive and are SACKed. RFC 3042 limited transmit:
  // each of the first two duplicates lets one new segment out.
  dup_ack(seg(0), 1, 2);
  h.expect(".", seg(8), 1, payload(8));
  dup_ack(seg(0), 1, 3);
  h.expect(".", seg(9), 1, payload(9));
  dup_ack(seg(0), 1, 4);
  // RFC 6675 5 (4.3): the first segment presumed lost goes at once.
  h.expect(".", seg(0), 1, payload(0));
  EXPECT_EQ(h.counter(Counter::tcp_sack_recovery), 1u);
  auto i = h.stack.info(h.conn);
  EXPECT_TRUE(i->in_recovery);
  EXPECT_EQ(i->ssthresh, 5 * kMss) << "FlightSize (segs 0..9) / 2";
  EXPECT_EQ(i->cwnd, 5 * kMss) << "RFC 6675: cwnd = ssthresh, no inflation";
  // pipe = seg 0 (resent) + segs 4..9 (not lost) = 7 segments > cwnd: quiet.
  dup_ack(seg(0), 1, 5);  // pipe 6
  dup_ack(seg(0), 1, 6);  // pipe 5: no room yet
  h.expect_nothing();
  dup_ack(seg(0), 1, 7);  // pipe 4: one segment of room -> NextSeg rule 2, new data
  h.expect(".", seg(10), 1, payload(10));
  dup_ack(seg(0), 1, 8);  // pipe 4 again (seg 10 went out): one more
  h.expect(".", seg(11), 1, payload(11));
  EXPECT_EQ(h.counter(Counter::tcp_retransmit_segment), 1u) << "only the hole was resent";
  // The retransmission arrives: everything up to seg 10 is acknowledged, the
  // recovery point (HighData at entry): recovery ends.
  h.in(".", 1, seg(10));
  EXPECT_FALSE(h.stack.info(h.conn)->in_recovery);
  EXPECT_EQ(h.stack.info(h.conn)->cwnd, 3 * kMss) << "min(ssthresh, FlightSize + SMSS)";
}

TEST_F(SackRecovery, TwoHolesAreBothRetransmittedWithoutWaitingForPartialAcks) {
  // Segments 0 and 2 are lost; 1, 3, 4, 5, 6, 7 arrive.
  dup_ack(seg(0), 1, 2);
  h.expect(".", seg(8), 1, payload(8));  // limited transmit
  dup_ack(seg(0), 3, 4, 1, 2);
  h.expect(".", seg(9), 1, payload(9));
  dup_ack(seg(0), 3, 5, 1, 2);  // 3rd duplicate: recovery, cwnd 5
  h.expect(".", seg(0), 1, payload(0));
  // pipe = seg 0 (resent) + seg 2 (2 SMSS SACKed above: not lost yet) + 5..9.
  dup_ack(seg(0), 3, 6, 1, 2);  // seg 2 now lost; pipe = 1 + 4 = 5: no room
  h.expect_nothing();
  dup_ack(seg(0), 3, 7, 1, 2);  // pipe 4: NextSeg rule 1, the lost seg 2
  h.expect(".", seg(2), 1, payload(2));
  dup_ack(seg(0), 3, 8, 1, 2);  // pipe 4: no lost hole left, rule 2: new data
  h.expect(".", seg(10), 1, payload(10));
  EXPECT_EQ(h.counter(Counter::tcp_sack_retransmit), 2u);
  EXPECT_EQ(h.counter(Counter::tcp_recovery_partial_ack), 0u);
  // The peer got seg 0: a partial ACK up to the second hole; seg 2 was already
  // resent, so nothing is sent again for it, only new data.
  h.in(".", 1, seg(2), {}, 65535, [&] {
    wire::TcpOptions o;
    o.sack_count = 1;
    o.sack_blocks[0] = wire::SackBlock{h.stack_isn + seg(3), h.stack_isn + seg(10)};
    return o;
  }());
  auto outs = h.take();
  EXPECT_FALSE(outs.empty());
  for (const Out& o : outs) EXPECT_GE(o.seq, seg(11)) << o.line;
  EXPECT_EQ(h.counter(Counter::tcp_recovery_partial_ack), 1u);
  EXPECT_EQ(h.counter(Counter::tcp_sack_retransmit), 2u);
  h.in(".", 1, seg(10));
  EXPECT_FALSE(h.stack.info(h.conn)->in_recovery);
  EXPECT_EQ(h.counter(Counter::tcp_retransmit_timeout), 0u);
}

TEST_F(SackRecovery, ScoreboardShowingLossStartsRecoveryBeforeThreeDupAcks) {
  // RFC 6675 5: IsLost(HighACK + 1) also starts recovery. One ACK SACKing three
  // segments above the hole (> (DupThresh - 1) * SMSS bytes) is enough.
  dup_ack(seg(0), 1, 4);
  h.expect(".", seg(0), 1, payload(0));
  EXPECT_EQ(h.counter(Counter::tcp_dup_ack), 1u);
  EXPECT_EQ(h.counter(Counter::tcp_sack_recovery), 1u);
}

TEST_F(SackRecovery, DataSegmentsWithNewSackBlocksCountAsDuplicates) {
  // RFC 6675's DupAck: a peer that sends data (an echo) has its ACKs ride on that
  // data; segments reporting newly SACKed octets count all the same.
  auto data_with_sack = [&](std::uint32_t peer_seq, std::string_view d, std::uint32_t to) {
    wire::TcpOptions o;
    o.sack_count = 1;
    o.sack_blocks[0] = wire::SackBlock{h.stack_isn + seg(1), h.stack_isn + seg(to)};
    h.in("P.", peer_seq, seg(0), d, 65535, o);
  };
  data_with_sack(1, "a", 2);
  data_with_sack(2, "b", 3);
  (void)h.take();  // ACKs of the data, limited transmit
  EXPECT_EQ(h.counter(Counter::tcp_dup_ack), 2u);
  data_with_sack(3, "c", 4);
  auto outs = h.take();
  ASSERT_FALSE(outs.empty());
  Harness::check(outs[0], ".", seg(0), 3, payload(0));  // the hole, at once (before "c" is read)
  EXPECT_EQ(h.counter(Counter::tcp_sack_recovery), 1u);
  // The same SACK information again is not a duplicate (nothing new SACKed).
  data_with_sack(4, "d", 4);
  EXPECT_EQ(h.counter(Counter::tcp_dup_ack), 3u);
}

TEST_F(SackRecovery, BogusSackBlocksAreIgnored) {
  // Blocks beyond what was sent, or inverted, are not recorded (RFC 2018 says
  // nothing about them; trusting them would hide real losses).
  wire::TcpOptions o;
  o.sack_count = 2;
  o.sack_blocks[0] = wire::SackBlock{h.stack_isn + seg(9), h.stack_isn + seg(12)};  // never sent
  o.sack_blocks[1] = wire::SackBlock{h.stack_isn + seg(3), h.stack_isn + seg(1)};   // inverted
  h.in(".", 1, seg(0), {}, 65535, o);
  h.in(".", 1, seg(0), {}, 65535, o);
  (void)h.take();  // limited transmit may send new data; nothing is resent
  EXPECT_EQ(h.counter(Counter::tcp_retransmit_segment), 0u);
  EXPECT_EQ(h.counter(Counter::tcp_sack_recovery), 0u);
}

TEST_F(SackRecovery, TimeoutDuringRecoveryFallsBackToSlowStartAndSkipsSackedData) {
  dup_ack(seg(0), 1, 2);
  dup_ack(seg(0), 1, 3);
  ASSERT_EQ(h.take().size(), 2u);  // limited transmit: segs 8, 9
  dup_ack(seg(0), 1, 4);
  h.expect(".", seg(0), 1, payload(0));
  // The retransmission is lost too: only the timer finds out (RFC 6675 5.1).
  h.run_to_next_timer();
  h.expect(".", seg(0), 1, payload(0));  // cwnd 1 SMSS
  EXPECT_EQ(h.counter(Counter::tcp_retransmit_timeout), 1u);
  EXPECT_FALSE(h.stack.info(h.conn)->in_recovery);
  h.in(".", 1, seg(1), {}, 65535, [&] {
    wire::TcpOptions o;
    o.sack_count = 1;
    o.sack_blocks[0] = wire::SackBlock{h.stack_isn + seg(1), h.stack_isn + seg(4)};
    return o;
  }());
  // SND.UNA moved to seg 1, which the peer SACKed: the resend continues at seg 4,
  // and SACKed data does not count as in flight: cwnd (2 SMSS) sends two.
  auto outs = h.take();
  ASSERT_EQ(outs.size(), 2u);
  Harness::check(outs[0], ".", seg(4), 1, payload(4));
  Harness::check(outs[1], ".", seg(5), 1, payload(5));
}

TEST(CubicConnection, TcpCongestionSelectsCubicPerConnection) {
  Harness h;
  h.to_established_passive();
  EXPECT_EQ(h.stack.info(h.conn)->congestion, tcp::CongestionAlgorithm::NewReno);
  ASSERT_FALSE(h.stack.set_congestion(h.conn, tcp::CongestionAlgorithm::Cubic).has_value());
  EXPECT_EQ(h.stack.info(h.conn)->congestion, tcp::CongestionAlgorithm::Cubic);
  ASSERT_FALSE(h.stack.set_nodelay(h.conn, true).has_value());
  // Three duplicate ACKs: CUBIC's beta (0.7) sets ssthresh, not FlightSize / 2.
  h.send(std::string(4 * kMss, 'c'));
  ASSERT_EQ(h.take().size(), 4u);
  h.in(".", 1, 1);
  h.in(".", 1, 1);
  h.in(".", 1, 1);
  h.expect(".", 1, 1, std::string(kMss, 'c'));
  EXPECT_EQ(h.stack.info(h.conn)->ssthresh, static_cast<std::uint32_t>(4 * kMss * 0.7));
}

TEST(BufferSizes, SoRcvbufGrowsTheWindowAndSoSndbufBoundsSend) {
  StackConfig cfg = default_config();
  cfg.tcp.rcv_buf = 2000;
  Harness h(cfg);
  h.to_established_passive();
  h.in("P.", 1, 1, "x");
  EXPECT_EQ(h.expect(".", 1, 2).win, 2000);
  // A larger receive buffer opens the window at once (a window update).
  ASSERT_FALSE(h.stack.set_buffer_sizes(h.conn, 6000, 3000).has_value());
  EXPECT_EQ(h.expect(".", 1, 2).win, 6000);
  // A smaller one never takes back what was advertised (RFC 9293 3.8.6.2.2).
  ASSERT_FALSE(h.stack.set_buffer_sizes(h.conn, 1500, 3000).has_value());
  h.in("P.", 2, 1, "y");
  EXPECT_EQ(h.expect(".", 1, 3).win, 5999);
  EXPECT_EQ(h.stack.set_buffer_sizes(h.conn, 0, 1000), Error::InvalidArgument);
  // The send buffer takes no more than asked.
  const std::string big(5000, 's');
  auto n = h.stack.send(h.conn, std::as_bytes(std::span(big.data(), big.size())));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 3000u);
}

}  // namespace
}  // namespace riptide::testing
