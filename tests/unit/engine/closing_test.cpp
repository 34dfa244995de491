// FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, CLOSING, LAST-ACK (RFC 9293 3.10.7.4, 3.6):
// every way into and out of the closing states, half-close in both directions.
#include "harness.hpp"

namespace riptide::testing {
namespace {

// Passive side, application closed first: FIN-WAIT-1 with our FIN at 1.
class FinWait1 : public ::testing::Test {
 protected:
  void SetUp() override {
    h.to_established_passive();
    ASSERT_FALSE(h.stack.shutdown_write(h.conn).has_value());
    h.expect("F.", 1, 1);
    ASSERT_EQ(h.state(), State::FinWait1);
  }
  Harness h;
};

TEST_F(FinWait1, AckOfFinEntersFinWait2) {
  h.in(".", 1, 2);
  h.expect_nothing();
  EXPECT_EQ(h.state(), State::FinWait2);
}

TEST_F(FinWait1, AckNotCoveringFinStays) {
  h.in(".", 1, 1);
  h.expect_nothing();
  EXPECT_EQ(h.state(), State::FinWait1);
}

TEST_F(FinWait1, FinEntersClosing) {
  // Simultaneous close: the peer's FIN does not acknowledge ours.
  h.in("F.", 1, 1);
  h.expect(".", 2, 2);
  EXPECT_EQ(h.state(), State::Closing);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"peer_closed"});
}

TEST_F(FinWait1, FinAckingOurFinEntersTimeWait) {
  h.in("F.", 1, 2);
  h.expect(".", 2, 2);
  EXPECT_EQ(h.handler.take(), (std::vector<std::string>{"peer_closed", "closed:normal"}));
  EXPECT_EQ(h.stack.time_wait_count(), 1u);
  EXPECT_EQ(h.stack.connection_count(), 0u) << "TIME-WAIT is a compact record";
}

TEST_F(FinWait1, FinRetransmittedOnTimeout) {
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{1});
  h.expect("F.", 1, 1);
}

TEST_F(FinWait1, DataStillArrivesAfterShutdownWrite) {
  h.in("P.", 1, 2, "more");
  h.expect(".", 2, 5);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"data:more"});
  EXPECT_EQ(h.state(), State::FinWait2);
}

TEST_F(FinWait1, RstResets) {
  h.in("R", 1);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"closed:reset"});
  EXPECT_FALSE(h.stack.alive(h.conn));
}

TEST_F(FinWait1, RstInWindowDrawsChallenge) {
  h.in("R", 50);
  h.expect(".", 2, 1);
  EXPECT_EQ(h.state(), State::FinWait1);
}

TEST_F(FinWait1, SynDrawsChallenge) {
  h.in("S", 50);
  h.expect(".", 2, 1);
  EXPECT_EQ(h.state(), State::FinWait1);
}

TEST(FinWait1Closed, DataAfterCloseIsAnsweredWithRst) {
  Harness h;
  h.to_established_passive();
  ASSERT_FALSE(h.stack.close(h.conn).has_value());
  h.expect("F.", 1, 1);
  h.in("P.", 1, 1, "late");
  h.expect("R", 2, 0);  // RFC 1122 4.2.2.13
  EXPECT_EQ(h.stack.connection_count(), 0u);
  EXPECT_EQ(h.counter(Counter::tcp_drop_after_close), 1u);
}

class FinWait2 : public FinWait1 {
 protected:
  void SetUp() override {
    FinWait1::SetUp();
    h.in(".", 1, 2);
    ASSERT_EQ(h.state(), State::FinWait2);
  }
};

TEST_F(FinWait2, FinEntersTimeWait) {
  h.in("F.", 1, 2);
  h.expect(".", 2, 2);
  EXPECT_EQ(h.handler.take(), (std::vector<std::string>{"peer_closed", "closed:normal"}));
  EXPECT_EQ(h.stack.time_wait_count(), 1u);
}

TEST_F(FinWait2, HalfCloseKeepsDeliveringData) {
  for (int i = 0; i < 3; ++i) {
    h.in("P.", 1 + 4 * i, 2, "data");
    h.expect(".", 2, 5 + 4 * i);
  }
  EXPECT_EQ(h.handler.take().size(), 3u);
  h.in("F.", 13, 2);
  h.expect(".", 2, 14);
}

TEST_F(FinWait2, RstResets) {
  h.in("R", 1);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"closed:reset"});
}

TEST(FinWait2Orphan, ClosedApplicationTimesOutWithoutPeerFin) {
  Harness h;
  h.to_established_passive();
  ASSERT_FALSE(h.stack.close(h.conn).has_value());
  h.expect("F.", 1, 1);
  h.in(".", 1, 2);
  EXPECT_EQ(h.stack.connection_count(), 1u);
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{60});
  EXPECT_EQ(h.stack.connection_count(), 0u);
  h.expect_nothing();
}

class CloseWait : public ::testing::Test {
 protected:
  void SetUp() override {
    h.to_established_passive();
    h.in("F.", 1, 1);
    h.expect(".", 1, 2);
    h.handler.take();
    ASSERT_EQ(h.state(), State::CloseWait);
  }
  Harness h;
};

TEST_F(CloseWait, ApplicationKeepsSending) {
  h.send("response");
  h.expect("P.", 1, 2, "response");
  h.in(".", 2, 9);
  h.expect_nothing();
}

TEST_F(CloseWait, CloseSendsFinAndEntersLastAck) {
  ASSERT_FALSE(h.stack.close(h.conn).has_value());
  h.expect("F.", 1, 2);
  EXPECT_EQ(h.state(), State::LastAck);
}

TEST_F(CloseWait, RetransmittedFinIsAcked) {
  h.in("F.", 1, 1);
  h.expect(".", 1, 2);
  EXPECT_EQ(h.state(), State::CloseWait);
}

TEST_F(CloseWait, RstResets) {
  h.in("R", 2);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"closed:reset"});
}

TEST_F(CloseWait, RstInWindowDrawsChallenge) {
  h.in("R", 10);
  h.expect(".", 1, 2);
}

class Closing : public FinWait1 {
 protected:
  void SetUp() override {
    FinWait1::SetUp();
    h.in("F.", 1, 1);
    h.expect(".", 2, 2);
    h.handler.take();
    ASSERT_EQ(h.state(), State::Closing);
  }
};

TEST_F(Closing, AckOfFinEntersTimeWait) {
  h.in(".", 2, 2);
  h.expect_nothing();
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"closed:normal"});
  EXPECT_EQ(h.stack.time_wait_count(), 1u);
}

TEST_F(Closing, FinRetransmittedOnTimeout) {
  h.run_to_next_timer();
  h.expect("F.", 1, 2);
}

TEST_F(Closing, RstClosesAsReset) {
  // Our FIN was never acknowledged: reported as a reset, as Linux and FreeBSD do.
  h.in("R", 2);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"closed:reset"});
  EXPECT_EQ(h.stack.connection_count(), 0u);
  EXPECT_EQ(h.stack.time_wait_count(), 0u);
}

TEST_F(Closing, UserDataIsStillThereInOnClosedAndGoneAfter) {
  // A handler finds its per-connection state through user_data() in every
  // callback, on_closed() included (the proxy frees a pair there).
  int marker = 0;
  h.stack.set_user_data(h.conn, &marker);
  h.in("R", 2);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"closed:reset"});
  EXPECT_EQ(h.handler.user_data_at_close, &marker);
  EXPECT_EQ(h.stack.user_data(h.conn), nullptr) << "the slot is released after on_closed()";
}

class LastAck : public CloseWait {
 protected:
  void SetUp() override {
    CloseWait::SetUp();
    ASSERT_FALSE(h.stack.shutdown_write(h.conn).has_value());
    h.expect("F.", 1, 2);
    ASSERT_EQ(h.state(), State::LastAck);
  }
};

TEST_F(LastAck, AckOfFinClosesWithoutTimeWait) {
  h.in(".", 2, 2);
  h.expect_nothing();
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"closed:normal"});
  EXPECT_EQ(h.stack.connection_count(), 0u);
  EXPECT_EQ(h.stack.time_wait_count(), 0u);
}

TEST_F(LastAck, FinRetransmittedOnTimeout) {
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{1});
  h.expect("F.", 1, 2);
}

TEST_F(LastAck, RstClosesAsReset) {
  h.in("R", 2);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"closed:reset"});
  EXPECT_EQ(h.stack.connection_count(), 0u);
}

TEST_F(LastAck, AfterAckThePortAnswersRst) {
  h.in(".", 2, 2);
  h.in(".", 2, 2);
  h.expect("R", 2, 0);
}

}  // namespace
}  // namespace riptide::testing
