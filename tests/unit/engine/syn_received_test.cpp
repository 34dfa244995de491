// SYN-RECEIVED (RFC 9293 3.10.7.4 on a passive child): completing, refusing and
// abandoning the handshake, SYN-ACK retransmission, RFC 5961 rules.
#include "harness.hpp"

namespace riptide::testing {
namespace {

class SynReceived : public ::testing::Test {
 protected:
  void SetUp() override { h.to_syn_received(); }
  Harness h;
};

TEST_F(SynReceived, AckEntersEstablished) {
  h.in(".", 1, 1);
  h.expect_nothing();
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"accept"});
  h.conn = h.handler.last;
  EXPECT_EQ(h.state(), State::Established);
}

TEST_F(SynReceived, AckWithDataEstablishesAndDelivers) {
  h.in("P.", 1, 1, "GET /");
  h.expect(".", 1, 6);
  EXPECT_EQ(h.handler.take(), (std::vector<std::string>{"accept", "data:GET /"}));
}

TEST_F(SynReceived, AckWithFinEstablishesThenCloseWait) {
  h.in("F.", 1, 1);
  h.expect(".", 1, 2);
  EXPECT_EQ(h.handler.take(), (std::vector<std::string>{"accept", "peer_closed"}));
  h.conn = h.handler.last;
  EXPECT_EQ(h.state(), State::CloseWait);
}

TEST_F(SynReceived, UnacceptableAckIsAnsweredWithRst) {
  h.in(".", 1, 5);
  h.expect("R", 5, 0);  // <SEQ=SEG.ACK><CTL=RST>
  EXPECT_EQ(h.stack.connection_count(), 1u);
  EXPECT_TRUE(h.handler.take().empty());
}

TEST_F(SynReceived, SegmentWithoutAckIsDropped) {
  h.in("P", 1, 0, "x");
  h.expect_nothing();
  EXPECT_EQ(h.counter(Counter::tcp_drop_no_ack), 1u);
}

TEST_F(SynReceived, RstReturnsToListen) {
  h.in("R", 1);
  h.expect_nothing();
  EXPECT_EQ(h.stack.connection_count(), 0u);
  EXPECT_TRUE(h.handler.take().empty()) << "the application never saw it";
  // The listener is still there.
  h.stack_isn = SeqNum{};
  h.in("S", 0);
  h.expect("S.", 0, 1);
}

TEST_F(SynReceived, RstInWindowButNotExactDrawsChallenge) {
  h.in("R", 100);
  // RFC 5961 3.2 / RFC 9293 3.10.7.4 second: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
  h.expect(".", 1, 1);
  EXPECT_EQ(h.stack.connection_count(), 1u);
  EXPECT_EQ(h.counter(Counter::tcp_challenge_ack), 1u);
}

TEST_F(SynReceived, RetransmittedSynResendsSynAck) {
  h.in("S", 0);
  h.expect("S.", 0, 1);
  EXPECT_EQ(h.stack.connection_count(), 1u);
}

TEST_F(SynReceived, NewSynInWindowReturnsToListen) {
  h.in("S", 10);
  h.expect_nothing();
  EXPECT_EQ(h.stack.connection_count(), 0u);  // RFC 9293 3.10.7.4 fourth, passive OPEN
}

TEST_F(SynReceived, SynAckRetransmittedWithBackoffThenDropped) {
  for (int w : {1, 2, 4, 8, 16}) {
    EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{w});
    h.expect("S.", 0, 1);
  }
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{32});
  h.expect_nothing();
  EXPECT_EQ(h.stack.connection_count(), 0u);
  EXPECT_TRUE(h.handler.take().empty());
}

TEST_F(SynReceived, AckAfterSynAckRetransmissionEstablishes) {
  h.run_to_next_timer();
  h.expect("S.", 0, 1);
  h.in(".", 1, 1);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"accept"});
}

}  // namespace
}  // namespace riptide::testing
