// TIME-WAIT (RFC 9293 3.3.2, 3.10.7.4; RFC 1337; RFC 6191): the compact record,
// its 2*MSL timer, and its answers to RST, FIN, SYN and data.
#include <map>

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
    Out ack = h.expect(".", 2, 2);
    ASSERT_TRUE(ack.options.timestamps);
    last_tsval = ack.options.timestamps->tsval;
    ASSERT_EQ(h.stack.time_wait_count(), 1u);
  }
  std::uint32_t last_tsval = 0;  // of the connection's last ACK
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

TEST_F(TimeWaitWithTimestamps, AcksContinueTheConnectionsTimestampClock) {
  // The record keeps no TSval offset: it is the tuple's keyed hash, computed again.
  h.advance(std::chrono::milliseconds{250});
  h.in("P.", 2, 2, "late", 65535, ts(120));
  Out o = h.expect(".", 2, 2);
  ASSERT_TRUE(o.options.timestamps);
  EXPECT_EQ(o.options.timestamps->tsval - last_tsval, 250u) << "1 ms TSval clock, same offset";
}

TEST_F(TimeWaitWithTimestamps, SynWithOlderTimestampDrawsChallengeAck) {
  h.in("S", 100000, 0, {}, 65535, ts(50));
  Out o = h.expect(".", 2, 2);
  ASSERT_TRUE(o.options.timestamps);
  EXPECT_EQ(o.options.timestamps->tsecr, 110u);
  EXPECT_EQ(h.stack.time_wait_count(), 1u);
}


// ------------------------------------------------------------------------------------
// The TIME-WAIT table: a ring ordered by expiry, the oldest recycled when full

class TimeWaitTable : public ::testing::Test {
 protected:
  explicit TimeWaitTable(std::uint32_t capacity = 3) : h(config(capacity)) { h.listen(); }
  static StackConfig config(std::uint32_t capacity) {
    StackConfig c = default_config();
    c.max_time_wait = capacity;
    return c;
  }
  // A passive connection from `port` that we close first: TIME-WAIT on our side.
  void close_into_time_wait(std::uint16_t port) {
    h.remote_port = port;
    h.stack_isn = SeqNum{};
    h.in("S", 0);
    h.expect("S.", 0, 1);
    h.in(".", 1, 1);
    h.expect_nothing();
    ASSERT_EQ(h.handler.take(), std::vector<std::string>{"accept"});
    ASSERT_FALSE(h.stack.close(h.handler.last).has_value());
    h.expect("F.", 1, 1);
    h.in("F.", 1, 2);
    h.expect(".", 2, 2);
    ASSERT_EQ(h.stack.state_of(key(port)), State::TimeWait);
    isn_[port] = h.stack_isn;
  }
  // Script the peer of an earlier connection again.
  void peer(std::uint16_t port) {
    h.remote_port = port;
    h.stack_isn = isn_.at(port);
  }
  std::map<std::uint16_t, SeqNum> isn_;
  FlowKey key(std::uint16_t port) const { return FlowKey{h.local, h.remote, h.local_port, port}; }
  bool in_time_wait(std::uint16_t port) const { return h.stack.time_wait_exists(key(port)); }
  Harness h;
};

TEST_F(TimeWaitTable, RecordsExpireInOrderTwoMslAfterEach) {
  close_into_time_wait(40000);
  h.advance(std::chrono::seconds{10});
  close_into_time_wait(40001);
  h.advance(std::chrono::seconds{10});
  close_into_time_wait(40002);
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{40});
  EXPECT_FALSE(in_time_wait(40000));
  EXPECT_TRUE(in_time_wait(40001));
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{10});
  EXPECT_FALSE(in_time_wait(40001));
  EXPECT_TRUE(in_time_wait(40002));
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{10});
  EXPECT_EQ(h.stack.time_wait_count(), 0u);
  EXPECT_FALSE(h.stack.next_timer().has_value());
}

TEST_F(TimeWaitTable, FullTableRecyclesTheOldest) {
  for (std::uint16_t p = 40000; p < 40003; ++p) {
    close_into_time_wait(p);
    h.advance(std::chrono::seconds{1});
  }
  EXPECT_EQ(h.stack.time_wait_count(), 3u);
  close_into_time_wait(40003);
  EXPECT_EQ(h.counter(Counter::tcp_time_wait_recycled), 1u);
  EXPECT_EQ(h.counter(Counter::tcp_time_wait_full), 0u);
  EXPECT_EQ(h.stack.time_wait_count(), 3u);
  EXPECT_FALSE(in_time_wait(40000)) << "the oldest made room";
  EXPECT_TRUE(in_time_wait(40001));
  EXPECT_TRUE(in_time_wait(40003));
  // The recycled tuple is free: a stray segment for it is answered as for no connection.
  peer(40000);
  h.in(".", 2, 2);
  h.expect("R", 2, 0);
  // The others still expire on time: 40001 entered 1 s after the start, it is 3 s.
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{58});
  EXPECT_FALSE(in_time_wait(40001));
}

TEST_F(TimeWaitTable, RetransmittedFinMovesTheRecordBehindYoungerOnes) {
  close_into_time_wait(40000);
  h.advance(std::chrono::seconds{10});
  close_into_time_wait(40001);
  h.advance(std::chrono::seconds{10});
  peer(40000);
  h.in("F.", 1, 2);  // our ACK of its FIN was lost
  h.expect(".", 2, 2);
  // 40001 ends at 70 s, 40000 now at 80 s.
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{50});
  EXPECT_FALSE(in_time_wait(40001));
  EXPECT_TRUE(in_time_wait(40000));
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{10});
  EXPECT_FALSE(in_time_wait(40000));
  EXPECT_EQ(h.stack.time_wait_count(), 0u);
}

TEST_F(TimeWaitTable, RestartInAFullTableLosesNoRecord) {
  for (std::uint16_t p = 40000; p < 40003; ++p) close_into_time_wait(p);
  // The table is full and the record restarted is the oldest: it moves to the tail
  // without pushing anything out.
  peer(40000);
  h.in("F.", 1, 2);
  h.expect(".", 2, 2);
  EXPECT_EQ(h.counter(Counter::tcp_time_wait_recycled), 0u);
  EXPECT_EQ(h.stack.time_wait_count(), 3u);
  // 40001 is the oldest now: the next close recycles it, not 40000.
  close_into_time_wait(40003);
  EXPECT_EQ(h.counter(Counter::tcp_time_wait_recycled), 1u);
  EXPECT_FALSE(in_time_wait(40001));
  EXPECT_TRUE(in_time_wait(40000));
  EXPECT_TRUE(in_time_wait(40002));
  EXPECT_TRUE(in_time_wait(40003));
}

TEST_F(TimeWaitTable, ReusedRecordsSlotIsSkippedWhenItsTurnComes) {
  for (std::uint16_t p = 40000; p < 40003; ++p) {
    close_into_time_wait(p);
    h.advance(std::chrono::seconds{1});
  }
  // RFC 6191: a newer SYN on the middle tuple ends its record early; its slot
  // stays a hole in the ring until the head passes it.
  h.remote_port = 40001;
  h.stack_isn = SeqNum{};
  h.in("S", 100000);
  h.expect("S.", 0, 100001);
  h.in(".", 100001, 1);
  h.expect_nothing();
  EXPECT_EQ(h.stack.time_wait_count(), 2u);
  EXPECT_EQ(h.counter(Counter::tcp_time_wait_reused), 1u);
  EXPECT_EQ(h.stack.state_of(key(40001)), State::Established);
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{57});
  EXPECT_FALSE(in_time_wait(40000));
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{2});
  EXPECT_FALSE(in_time_wait(40002));
  EXPECT_EQ(h.stack.time_wait_count(), 0u);
  EXPECT_EQ(h.stack.state_of(key(40001)), State::Established) << "the new incarnation is untouched";
}

TEST(TimeWaitTableOff, ZeroCapacityClosesWithoutTimeWait) {
  StackConfig cfg = default_config();
  cfg.max_time_wait = 0;
  Harness h(cfg);
  h.to_established_passive();
  ASSERT_FALSE(h.stack.close(h.conn).has_value());
  h.expect("F.", 1, 1);
  h.in("F.", 1, 2);
  h.expect(".", 2, 2);
  EXPECT_EQ(h.counter(Counter::tcp_time_wait_full), 1u);
  EXPECT_EQ(h.stack.time_wait_count(), 0u);
  EXPECT_EQ(h.stack.connection_count(), 0u);
}

}  // namespace
}  // namespace riptide::testing
