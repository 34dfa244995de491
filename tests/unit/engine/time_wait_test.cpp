// TIME-WAIT (RFC 9293 3.3.2, 3.10.7.4; RFC 1337; RFC 6191): the compact record,
// its 2*MSL timer, and its answers to RST, FIN, SYN and data.
#include "harness.hpp"

namespace riptide::testing {
namespace {

// Passive side closed first, then the peer: TIME-WAIT, our FIN at 1, theirs at 1.
class TimeWait : public ::testing::Test {
 protected:
  void SetUp() override {
    h.to_established_passive();
    ASSERT_FALSE(h.stack.close(h.conn).has_value());
    h.expect("F.", 1, 1);
    h.in("F.", 1, 2);
    h.expect(".", 2, 2);
    ASSERT_EQ(h.stack.time_wait_count(), 1u);
    ASSERT_EQ(h.stack.connections_by_state()[static_cast<std::size_t>(State::TimeWait)], 1u);
  }
  Harness h;
};

TEST_F(TimeWait, ExpiresAfterTwoMsl) {
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{60});
  EXPECT_EQ(h.stack.time_wait_count(), 0u);
  h.in(".", 2, 2);
  h.expect("R", 2, 0);  // the tuple is free again
}

TEST_F(TimeWait, LengthIsConfigurable) {
  StackConfig cfg = default_config();
  cfg.tcp.time_wait = std::chrono::seconds{2};
  Harness h2(cfg);
  h2.to_established_passive();
  h2.stack.close(h2.conn);
  h2.take();
  h2.in("F.", 1, 2);
  h2.take();
  EXPECT_EQ(h2.run_to_next_timer(), std::chrono::seconds{2});
  EXPECT_EQ(h2.stack.time_wait_count(), 0u);
}

TEST_F(TimeWait, RstDoesNotEndTimeWait) {
  h.in("R", 2);
  h.in("R.", 2, 2);
  h.expect_nothing();
  EXPECT_EQ(h.stack.time_wait_count(), 1u);  // RFC 1337
  EXPECT_EQ(h.counter(Counter::tcp_drop_rst_in_time_wait), 2u);
}

TEST_F(TimeWait, RetransmittedFinIsAckedAndRestartsTimer) {
  h.advance(std::chrono::seconds{30});
  h.in("F.", 1, 2);
  h.expect(".", 2, 2);
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{60}) << "restarted at the FIN";
}

TEST_F(TimeWait, PureAckIsIgnored) {
  h.in(".", 2, 2);
  h.expect_nothing();
}

TEST_F(TimeWait, DataIsAnsweredWithAck) {
  h.in("P.", 2, 2, "zombie");
  h.expect(".", 2, 2);
}

TEST_F(TimeWait, OldSynDrawsChallengeAck) {
  h.in("S", 0);
  h.expect(".", 2, 2);
  EXPECT_EQ(h.stack.time_wait_count(), 1u);
}

TEST_F(TimeWait, NewerSynReusesTheTuple) {
  // RFC 6191 (no timestamps): SEG.SEQ beyond RCV.NXT may reuse the tuple.
  const SeqNum old_isn = h.stack_isn;
  h.in("S", 100000);
  auto outs = h.take();
  ASSERT_EQ(outs.size(), 1u);
  EXPECT_EQ(wire::format_tcp_flags(outs[0].flags), "S.");
  EXPECT_EQ(outs[0].ack, 100001u);
  EXPECT_GT(static_cast<std::int32_t>(outs[0].seq), 65535) << "new ISN beyond the old stream";
  EXPECT_EQ(h.stack.time_wait_count(), 0u);
  EXPECT_EQ(h.counter(Counter::tcp_time_wait_reused), 1u);
  (void)old_isn;
}

class TimeWaitWithTimestamps : public ::testing::Test {
 protected:
  void SetUp() override {
    h.peer_syn_options.timestamps = wire::TcpTimestamps{100, 0};
    h.to_established_passive();
    h.stack.close(h.conn);
    h.take();
    h.in("F.", 1, 2, {}, 65535, ts(110));
    h.expect(".", 2, 2);
    ASSERT_EQ(h.stack.time_wait_count(), 1u);
  }
  static wire::TcpOptions ts(std::uint32_t v) {
    wire::TcpOptions o;
    o.timestamps = wire::TcpTimestamps{v, 0};
    return o;
  }
  Harness h;
};

TEST_F(TimeWaitWithTimestamps, SynWithNewerTimestampReusesEvenWithOldSequence) {
  h.in("S", 0, 0, {}, 65535, ts(200));
  auto outs = h.take();
  ASSERT_EQ(outs.size(), 1u);
  EXPECT_EQ(wire::format_tcp_flags(outs[0].flags), "S.");
  EXPECT_EQ(h.stack.time_wait_count(), 0u);
}

TEST_F(TimeWaitWithTimestamps, SynWithOlderTimestampDrawsChallengeAck) {
  h.in("S", 100000, 0, {}, 65535, ts(50));
  Out o = h.expect(".", 2, 2);
  ASSERT_TRUE(o.options.timestamps);
  EXPECT_EQ(o.options.timestamps->tsecr, 110u);
  EXPECT_EQ(h.stack.time_wait_count(), 1u);
}

}  // namespace
}  // namespace riptide::testing
