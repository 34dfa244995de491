// SYN-SENT (RFC 9293 3.10.7.3): the active opener's answers to every segment kind,
// SYN retransmission with back-off, and the connect timeout.
#include "harness.hpp"

namespace riptide::testing {
namespace {

class SynSentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = h.stack.connect(h.remote, h.remote_port, h.handler);
    ASSERT_TRUE(c.has_value());
    h.conn = *c;
    h.local_port = h.stack.info(h.conn)->key.local_port;
    h.expect("S", 0, 0);
  }
  Harness h;
};

using SynSent = SynSentTest;

TEST_F(SynSent, SynAckEntersEstablished) {
  h.in("S.", 0, 1);
  h.expect(".", 1, 1);
  EXPECT_EQ(h.state(), State::Established);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"connected"});
}

TEST_F(SynSent, SynAckWithoutOptionsMeansMss536NoScalingNoTimestamps) {
  h.in("S.", 0, 1, {}, 5000);
  h.expect(".", 1, 1);
  auto i = h.stack.info(h.conn);
  EXPECT_EQ(i->snd_mss, 536);  // RFC 9293 3.7.1
  EXPECT_EQ(i->snd_wscale, 0);
  EXPECT_EQ(i->rcv_wscale, 0) << "RFC 7323 2.2: both sides or neither";
  EXPECT_FALSE(i->ts_ok);
  EXPECT_EQ(i->snd_wnd, 5000u);
}

TEST_F(SynSent, SynAckOptionsAreNegotiated) {
  wire::TcpOptions o;
  o.mss = 1000;
  o.window_scale = 2;
  o.sack_permitted = true;
  o.timestamps = wire::TcpTimestamps{77, 0};
  h.in("S.", 0, 1, {}, 5000, o);
  Out ack = h.expect(".", 1, 1);
  ASSERT_TRUE(ack.options.timestamps);
  EXPECT_EQ(ack.options.timestamps->tsecr, 77u);
  auto i = h.stack.info(h.conn);
  EXPECT_EQ(i->snd_mss, 1000 - 12) << "room for the timestamp option";
  EXPECT_EQ(i->snd_wscale, 2);
  EXPECT_EQ(i->rcv_wscale, 7);
  EXPECT_TRUE(i->ts_ok);
  EXPECT_TRUE(i->sack_ok);
  EXPECT_EQ(i->snd_wnd, 5000u) << "the SYN-ACK window is never scaled";
}

TEST_F(SynSent, TinyMssWithTimestampsIsClampedNotWrapped) {
  // An MSS option below the timestamp option's 12 bytes must not wrap the
  // effective MSS around to 65524 (and overrun a transmit buffer).
  wire::TcpOptions o;
  o.mss = 4;
  o.timestamps = wire::TcpTimestamps{1, 0};
  h.in("S.", 0, 1, {}, 65535, o);
  h.expect(".", 1, 1);
  EXPECT_EQ(h.stack.info(h.conn)->snd_mss, 88 - 12);
  h.send(std::string(1000, 'z'));
  for (const Out& seg : h.take()) EXPECT_LE(seg.data.size(), 76u);
}

TEST_F(SynSent, WindowScaleAbove14IsTakenAs14) {
  wire::TcpOptions o;
  o.window_scale = 20;
  h.in("S.", 0, 1, {}, 5000, o);
  h.expect(".", 1, 1);
  EXPECT_EQ(h.stack.info(h.conn)->snd_wscale, 14);  // RFC 7323 2.3
}

TEST_F(SynSent, RstWithAcceptableAckMeansRefused) {
  h.in("R.", 0, 1);
  h.expect_nothing();
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"closed:refused"});
  EXPECT_FALSE(h.stack.alive(h.conn));
}

TEST_F(SynSent, RstWithoutAckIsIgnored) {
  h.in("R", 0);
  h.expect_nothing();
  EXPECT_EQ(h.state(), State::SynSent);
}

TEST_F(SynSent, RstWithUnacceptableAckIsIgnored) {
  h.in("R.", 0, 5);
  h.expect_nothing();
  EXPECT_EQ(h.state(), State::SynSent);
}

TEST_F(SynSent, SynAckWithBadAckIsAnsweredWithRst) {
  h.in("S.", 0, 5);
  h.expect("R", 5, 0);  // <SEQ=SEG.ACK><CTL=RST>
  EXPECT_EQ(h.state(), State::SynSent);
}

TEST_F(SynSent, AckOfIssIsUnacceptable) {
  h.in(".", 0, 0);  // SEG.ACK =< ISS
  h.expect("R", 0, 0);
  EXPECT_EQ(h.state(), State::SynSent);
}

TEST_F(SynSent, AcceptableAckWithoutSynIsDropped) {
  h.in(".", 0, 1);
  h.expect_nothing();
  EXPECT_EQ(h.state(), State::SynSent);
}

TEST_F(SynSent, SynEntersSynReceivedThenAckEstablishes) {
  // Simultaneous open (RFC 9293 figure 8).
  h.in("S", 0);
  h.expect("S.", 0, 1);
  EXPECT_EQ(h.state(), State::SynReceived);
  h.in(".", 1, 1);
  h.expect_nothing();
  EXPECT_EQ(h.state(), State::Established);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"connected"});
}

TEST_F(SynSent, DataOnSynAckIsDelivered) {
  h.in("SP.", 0, 1, "early");
  h.expect(".", 1, 6);
  EXPECT_EQ(h.handler.take(), (std::vector<std::string>{"connected", "data:early"}));
}

TEST_F(SynSent, CloseDeletesTheTcbWithoutRst) {
  ASSERT_FALSE(h.stack.close(h.conn).has_value());
  h.expect_nothing();  // RFC 9293 3.10.4: no RST from SYN-SENT
  EXPECT_FALSE(h.stack.alive(h.conn));
  h.advance(std::chrono::seconds{10});
  h.expect_nothing();
}

TEST_F(SynSent, AbortSendsNoRst) {
  ASSERT_FALSE(h.stack.abort(h.conn).has_value());
  h.expect_nothing();
  EXPECT_FALSE(h.stack.alive(h.conn));
}

TEST_F(SynSent, SynRetransmittedWithExponentialBackoffThenTimesOut) {
  // Linux's defaults: 6 retries, RTO 1 s doubling: 1, 2, 4, 8, 16, 32, then 64 s.
  const std::vector<int> waits = {1, 2, 4, 8, 16, 32};
  for (int w : waits) {
    EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{w});
    h.expect("S", 0, 0);
  }
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{64});
  h.expect_nothing();
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"closed:timed out"});
  EXPECT_EQ(h.counter(Counter::tcp_connect_timeout), 1u);
  EXPECT_FALSE(h.stack.next_timer().has_value());
}

TEST(SynSentConfig, ConnectTimeoutCutsTheBackoffShort) {
  StackConfig cfg = default_config();
  cfg.tcp.connect_timeout = std::chrono::seconds{5};
  Harness h(cfg);
  auto c = h.stack.connect(h.remote, h.remote_port, h.handler);
  ASSERT_TRUE(c);
  h.expect("S", 0, 0);
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{1});
  h.expect("S", 0, 0);
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{2});
  h.expect("S", 0, 0);
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{2}) << "deadline at 5 s";
  h.expect_nothing();
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"closed:timed out"});
}

TEST_F(SynSent, SynAckAfterRetransmissionStillEstablishes) {
  h.run_to_next_timer();
  h.expect("S", 0, 0);
  h.in("S.", 0, 1);
  h.expect(".", 1, 1);
  EXPECT_EQ(h.state(), State::Established);
}

}  // namespace
}  // namespace riptide::testing
