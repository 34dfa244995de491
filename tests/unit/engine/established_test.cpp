// ESTABLISHED (RFC 9293 3.10.7.4): data both ways, the acceptability test, the RST,
// SYN and ACK rules of RFC 5961, retransmission, PAWS (RFC 7323 5).
#include "harness.hpp"

namespace riptide::testing {
namespace {

class Established : public ::testing::Test {
 protected:
  void SetUp() override { h.to_established_passive(); }
  Harness h;
};

TEST_F(Established, DataIsDeliveredAndAcked) {
  h.in("P.", 1, 1, "hello");
  h.expect(".", 1, 6);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"data:hello"});
}

TEST_F(Established, SendSegmentsDataWithPush) {
  h.send("hi");
  h.expect("P.", 1, 1, "hi");
  h.in(".", 1, 3);
  h.expect_nothing();
  EXPECT_FALSE(h.stack.next_timer().has_value()) << "RFC 6298 5.2: all acked, timer off";
}

TEST_F(Established, LargeSendIsCutAtMss) {
  std::string big(1200, 'x');
  h.send(big);
  auto outs = h.take();
  ASSERT_EQ(outs.size(), 3u);  // MSS 536 (no option from the peer)
  Harness::check(outs[0], ".", 1, 1, big.substr(0, 536));
  Harness::check(outs[1], ".", 537, 1, big.substr(536, 536));
  Harness::check(outs[2], "P.", 1073, 1, big.substr(1072));
}

TEST_F(Established, SendRespectsPeerWindow) {
  h.in(".", 1, 1, {}, 100);  // window update: 100 bytes
  std::string big(300, 'y');
  h.send(big);
  h.expect(".", 1, 1, big.substr(0, 100));
  h.in(".", 1, 101, {}, 100);
  h.expect(".", 101, 1, big.substr(100, 100));
}

TEST_F(Established, NagleHoldsSmallSegmentWhileDataIsOutstanding) {
  h.send("a");
  h.expect("P.", 1, 1, "a");
  h.send("b");
  h.expect_nothing();  // RFC 9293 3.7.4
  h.in(".", 1, 2);
  h.expect("P.", 2, 1, "b");
}

TEST_F(Established, NodelaySendsSmallSegmentsAtOnce) {
  ASSERT_FALSE(h.stack.set_nodelay(h.conn, true).has_value());
  h.send("a");
  h.expect("P.", 1, 1, "a");
  h.send("b");
  h.expect("P.", 2, 1, "b");
}

TEST_F(Established, DataRetransmittedOnTimeoutWithBackoff) {
  h.send("abc");
  h.expect("P.", 1, 1, "abc");
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{1});
  h.expect("P.", 1, 1, "abc");
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{2});
  h.expect("P.", 1, 1, "abc");
  h.in(".", 1, 4);
  EXPECT_FALSE(h.stack.next_timer().has_value());
  EXPECT_EQ(h.counter(Counter::tcp_retransmit_timeout), 2u);
}

TEST_F(Established, RestartedRetransmitTimerIsReportedAtItsNewDeadline) {
  // RFC 6298 5.3: an ACK of new data restarts the timer. The stack keeps that
  // deadline lazily (the wheel entry stays at the old one until it fires), so
  // next_timer() must skip the stale entry: no early wake-up, nothing sent then.
  ASSERT_FALSE(h.stack.set_nodelay(h.conn, true).has_value());
  h.send("a");
  h.expect("P.", 1, 1, "a");
  h.advance(std::chrono::milliseconds{400});
  h.send("b");  // the timer is running already: not restarted (RFC 6298 5.1)
  h.expect("P.", 2, 1, "b");
  h.advance(std::chrono::milliseconds{200});
  h.in(".", 1, 2);  // "a" acknowledged: restart for "b"
  h.expect_nothing();
  const Duration rto = h.stack.info(h.conn)->rto;
  ASSERT_GT(rto, std::chrono::milliseconds{400}) << "the old deadline must come first for this test";
  EXPECT_EQ(h.run_to_next_timer(), rto);
  h.expect("P.", 2, 1, "b");
  EXPECT_EQ(h.counter(Counter::tcp_retransmit_timeout), 1u);
  h.in(".", 1, 3);
  EXPECT_FALSE(h.stack.next_timer().has_value()) << "stopped: the stale entry is not reported either";
}

TEST_F(Established, RetransmitEntryOfAClosedConnectionServesTheSlotsNextOne) {
  // The slot's retransmission entry outlives its connection (lazy, like a
  // restart): it is neither reported nor fired for the dead connection, and the
  // next connection's SYN-ACK timer still fires at that connection's own deadline.
  h.send("abc");
  h.expect("P.", 1, 1, "abc");
  ASSERT_FALSE(h.stack.abort(h.conn).has_value());
  h.take();
  EXPECT_FALSE(h.stack.next_timer().has_value()) << "the stale entry is not reported";
  h.advance(std::chrono::milliseconds{500});
  h.expect_nothing();
  h.remote_port = 40001;
  h.stack_isn = SeqNum{};
  h.in("S", 0, 0, {}, 65535, h.syn_options());
  h.expect("S.", 0, 1);
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{1}) << "RFC 6298 2.1: the new connection's 1 s";
  h.expect("S.", 0, 1);
  EXPECT_EQ(h.counter(Counter::tcp_retransmit_timeout), 1u);
}

TEST_F(Established, ConnectionDroppedAfterMaxRetries) {
  StackConfig cfg = default_config();
  cfg.tcp.max_retries = 2;
  Harness h2(cfg);
  h2.to_established_passive();
  h2.send("abc");
  h2.take();
  h2.run_to_next_timer();
  h2.run_to_next_timer();
  h2.take();
  h2.run_to_next_timer();
  h2.expect_nothing();  // RFC 1122 4.2.3.5: R2 exceeded, no RST
  EXPECT_EQ(h2.handler.take(), std::vector<std::string>{"closed:timed out"});
}

TEST_F(Established, FinEntersCloseWait) {
  h.in("F.", 1, 1);
  h.expect(".", 1, 2);
  EXPECT_EQ(h.state(), State::CloseWait);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"peer_closed"});
}

TEST_F(Established, DataAndFinTogether) {
  h.in("FP.", 1, 1, "bye");
  h.expect(".", 1, 5);
  EXPECT_EQ(h.handler.take(), (std::vector<std::string>{"data:bye", "peer_closed"}));
}

TEST_F(Established, CloseSendsFinAndEntersFinWait1) {
  ASSERT_FALSE(h.stack.close(h.conn).has_value());
  h.expect("F.", 1, 1);
  EXPECT_EQ(h.state(), State::FinWait1);
}

TEST_F(Established, FinFollowsQueuedData) {
  h.send("last");
  h.expect("P.", 1, 1, "last");
  ASSERT_FALSE(h.stack.shutdown_write(h.conn).has_value());
  h.expect("F.", 5, 1);
}

TEST_F(Established, SendAfterShutdownIsRefused) {
  ASSERT_FALSE(h.stack.shutdown_write(h.conn).has_value());
  auto r = h.stack.send(h.conn, std::as_bytes(std::span("x", 1)));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error(), Error::Closing);
}

TEST_F(Established, AbortSendsRst) {
  ASSERT_FALSE(h.stack.abort(h.conn).has_value());
  h.expect("R.", 1, 1);  // RFC 9293 3.10.5 <SEQ=SND.NXT><CTL=RST>, with ACK as Linux
  EXPECT_FALSE(h.stack.alive(h.conn));
}

TEST_F(Established, RstAtRcvNxtResets) {
  h.in("R", 1);
  h.expect_nothing();
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"closed:reset"});
  EXPECT_FALSE(h.stack.alive(h.conn));
}

TEST_F(Established, RstInsideWindowDrawsChallengeAck) {
  h.in("R", 2);
  h.expect(".", 1, 1);  // RFC 5961 3.2
  EXPECT_EQ(h.state(), State::Established);
  h.in("R", 65535);  // right edge - 1: still inside
  h.expect(".", 1, 1);
  EXPECT_EQ(h.counter(Counter::tcp_challenge_ack), 2u);
}

TEST_F(Established, RstAtOrBeyondRightEdgeIsIgnored) {
  h.in("R", 1 + 65535);  // RCV.NXT + RCV.WND: outside
  h.in("R", 1 + 100000);
  h.expect_nothing();
  EXPECT_EQ(h.state(), State::Established);
}

TEST_F(Established, RstLeftOfWindowIsIgnored) {
  h.in("R", 0);
  h.expect_nothing();
  EXPECT_EQ(h.state(), State::Established);
}

TEST_F(Established, SynInWindowDrawsChallengeAck) {
  h.in("S", 5);
  h.expect(".", 1, 1);  // RFC 5961 4.2
  EXPECT_EQ(h.state(), State::Established);
  EXPECT_EQ(h.counter(Counter::tcp_challenge_ack), 1u);
}

TEST_F(Established, HalfOpenPeerIsResetThroughChallengeAck) {
  // RFC 9293 3.5.2 / RFC 5961 4: the peer rebooted and opens again from a new ISN.
  // Our challenge ACK makes its SYN-SENT answer <SEQ=SEG.ACK><CTL=RST>, which
  // lands exactly on RCV.NXT and resets the stale connection.
  h.in("S", 500000);
  Out challenge = h.expect(".", 1, 1);
  h.in("R", challenge.ack);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"closed:reset"});
  EXPECT_FALSE(h.stack.alive(h.conn));
}

TEST_F(Established, SynAtRcvNxtDrawsChallengeAck) {
  h.in("S", 1);
  h.expect(".", 1, 1);
  EXPECT_EQ(h.state(), State::Established);
}

TEST_F(Established, OldSynIsAnsweredWithAck) {
  h.in("S", 0);  // the original SYN again: left of the window
  h.expect(".", 1, 1);
  EXPECT_EQ(h.state(), State::Established);
}

TEST_F(Established, ChallengeAcksAreRateLimited) {
  StackConfig cfg = default_config();
  cfg.tcp.challenge_ack_limit = 2;
  Harness h2(cfg);
  h2.to_established_passive();
  for (int i = 0; i < 10; ++i) h2.in("R", 10 + i);
  // The budget is the limit plus a secret jitter of up to half of it (against
  // CVE-2016-5696's counting side channel): 2 or 3 here.
  const std::size_t sent = h2.take().size();
  EXPECT_GE(sent, 2u);
  EXPECT_LE(sent, 3u);
  EXPECT_EQ(h2.counter(Counter::tcp_challenge_ack_limited), 10u - sent);
  h2.advance(std::chrono::seconds{1});
  h2.in("R", 20);
  EXPECT_EQ(h2.take().size(), 1u) << "the bucket refills each second";
}

TEST_F(Established, AckOfUnsentDataIsAckedAndDropped) {
  h.in("P.", 1, 100, "zz");
  h.expect(".", 1, 1);
  EXPECT_TRUE(h.handler.take().empty()) << "the segment is dropped, data too";
  EXPECT_EQ(h.counter(Counter::tcp_drop_bad_ack), 1u);
}

// Found by fuzz_engine: a peer ahead of us (its RCV.NXT past our SND.MAX) answers
// our ACK, below its window, with an ACK above our SND.MAX, which we answered at
// once: an ACK loop at line rate between two stacks. RFC 5961 5.2 / 7: throttled.
TEST_F(Established, AcksOfUnsentDataAreRateLimited) {
  StackConfig cfg = default_config();
  cfg.tcp.challenge_ack_limit = 2;
  Harness h2(cfg);
  h2.to_established_passive();
  for (int i = 0; i < 10; ++i) h2.in(".", 1, 100);
  const std::size_t sent = h2.take().size();
  EXPECT_GE(sent, 2u);
  EXPECT_LE(sent, 3u);
  EXPECT_EQ(h2.counter(Counter::tcp_drop_bad_ack), 10u);
  h2.advance(std::chrono::seconds{1});
  h2.in(".", 1, 100);
  EXPECT_EQ(h2.take().size(), 1u) << "the bucket refills each second";
}

TEST_F(Established, AckOlderThanMaxWindowDrawsChallenge) {
  h.in(".", 1, static_cast<std::uint32_t>(1 - 70000));
  h.expect(".", 1, 1);  // RFC 5961 5.2
  EXPECT_EQ(h.counter(Counter::tcp_drop_old_ack), 1u);
}

TEST_F(Established, DuplicateAckIsHarmless) {
  h.in(".", 1, 1);
  h.in(".", 1, 1);
  h.expect_nothing();
  EXPECT_EQ(h.state(), State::Established);
}

TEST_F(Established, SegmentBeyondWindowIsAckedAndDropped) {
  h.in("P.", 70000, 1, "far");
  h.expect(".", 1, 1);
  EXPECT_TRUE(h.handler.take().empty());
}

TEST_F(Established, DuplicateDataIsAckedNotDeliveredTwice) {
  h.in("P.", 1, 1, "once");
  h.expect(".", 1, 5);
  h.in("P.", 1, 1, "once");
  h.expect(".", 1, 5);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"data:once"});
}

TEST_F(Established, OverlappingDataDeliversOnlyNewBytes) {
  h.in("P.", 1, 1, "abc");
  h.expect(".", 1, 4);
  h.in("P.", 2, 1, "bcdef");
  h.expect(".", 1, 7);
  EXPECT_EQ(h.handler.take(), (std::vector<std::string>{"data:abc", "data:def"}));
}

TEST_F(Established, OutOfOrderDataIsHeldUntilTheHoleFills) {
  h.in("P.", 6, 1, "world");
  h.expect(".", 1, 1);  // duplicate ACK at once (RFC 5681 4.2)
  EXPECT_TRUE(h.handler.take().empty());
  EXPECT_EQ(h.counter(Counter::tcp_out_of_order), 1u);
  h.in("P.", 1, 1, "hello");
  h.expect(".", 1, 11);  // the ACK covers both
  EXPECT_EQ(h.handler.take(), (std::vector<std::string>{"data:hello", "data:world"}));
}

TEST_F(Established, EveryPermutationOfFiveSegmentsReassembles) {
  const std::array<std::string, 5> parts = {"aa", "bbb", "c", "dddd", "ee"};
  std::array<int, 5> order = {0, 1, 2, 3, 4};
  int permutations = 0;
  do {
    Harness hp;
    hp.to_established_passive();
    std::uint32_t offsets[5];
    std::uint32_t off = 1;
    for (int i = 0; i < 5; ++i) {
      offsets[i] = off;
      off += static_cast<std::uint32_t>(parts[static_cast<std::size_t>(i)].size());
    }
    for (int i : order) hp.in("P.", offsets[i], 1, parts[static_cast<std::size_t>(i)]);
    std::string got;
    for (const auto& e : hp.handler.take()) got += e.substr(5);  // strip "data:"
    ASSERT_EQ(got, "aabbbcddddee") << "order " << order[0] << order[1] << order[2] << order[3] << order[4];
    EXPECT_EQ(hp.stack.info(hp.conn)->rcv_nxt - hp.stack.info(hp.conn)->irs, static_cast<std::int32_t>(off));
    ++permutations;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(permutations, 120);
}

TEST_F(Established, OverlappingOutOfOrderSegmentsAreTrimmed) {
  h.in("P.", 4, 1, "defg");   // 4..8
  h.in("P.", 6, 1, "fghij");  // overlaps: only 8..11 new
  h.in("P.", 3, 1, "cd");     // overlaps the first on the right
  h.take();
  h.in("P.", 1, 1, "ab");
  h.expect(".", 1, 11);
  std::string got;
  for (const auto& e : h.handler.take()) got += e.substr(5);
  EXPECT_EQ(got, "abcdefghij");
}

TEST_F(Established, SegmentWithoutAckIsDropped) {
  h.in("P", 1, 0, "x");
  h.expect_nothing();
  EXPECT_TRUE(h.handler.take().empty());
}

TEST_F(Established, ZeroWindowAcceptsOnlyExactEmptySegments) {
  StackConfig cfg = default_config();
  cfg.tcp.rcv_buf = 4;
  Harness h2(cfg);
  h2.to_established_passive();
  // The application holds everything that arrives (a socket layer nobody reads).
  ASSERT_FALSE(h2.stack.set_receive_held(h2.conn, 4).has_value());
  h2.in("P.", 1, 1, "abcd");  // fills the window advertised in the SYN-ACK
  Out full = h2.expect(".", 1, 5);
  EXPECT_EQ(full.win, 0);
  h2.in("P.", 5, 1, "e");
  Out o = h2.expect(".", 1, 5);  // RFC 9293 3.10.7.4: zero window, data unacceptable
  EXPECT_EQ(o.win, 0);
  EXPECT_EQ(h2.handler.take(), std::vector<std::string>{"data:abcd"});
  ASSERT_FALSE(h2.stack.set_receive_held(h2.conn, 0).has_value());
  Out update = h2.expect(".", 1, 5);  // window update
  EXPECT_EQ(update.win, 4);
}

TEST_F(Established, AdvertisedWindowNeverShrinks) {
  StackConfig cfg = default_config();
  cfg.tcp.rcv_buf = 100;
  Harness h2(cfg);
  h2.to_established_passive();
  h2.in("P.", 1, 1, "abcd");
  EXPECT_EQ(h2.expect(".", 1, 5).win, 100) << "the callback consumed it";
  // Holding data now must not move the right edge (5 + 100) left (RFC 9293 3.8.6.2.2).
  ASSERT_FALSE(h2.stack.set_receive_held(h2.conn, 100).has_value());
  h2.in("P.", 5, 1, "efgh");
  EXPECT_EQ(h2.expect(".", 1, 9).win, 96);
}

TEST_F(Established, ZeroWindowIsProbedWithBackoffUntilItOpens) {
  // RFC 9293 3.8.6.1 / RFC 1122 4.2.2.17: with data waiting and the peer's window
  // shut, the persist timer probes (Linux's probe: an ACK at SND.UNA - 1).
  h.in(".", 1, 1, {}, 0);
  h.send("queued");
  h.expect_nothing();
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{1});  // RTO (no RTT sample)
  h.expect(".", 0, 1);
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{2});
  h.expect(".", 0, 1);
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{4});
  h.expect(".", 0, 1);
  EXPECT_EQ(h.counter(Counter::tcp_zero_window_probe), 3u);
  // The answer to a probe opens the window: the data goes, probing stops.
  h.in(".", 1, 1, {}, 100);
  h.expect("P.", 1, 1, "queued");
  h.in(".", 1, 7, {}, 100);
  EXPECT_FALSE(h.stack.next_timer().has_value());
}

TEST(EstablishedZeroWindow, AckOnAWindowProbeIsProcessed) {
  // RFC 9293 3.10.7.4: "special allowance should be made to accept valid ACKs" when
  // our window is zero. Linux probes a zero window with SEG.SEQ = RCV.NXT - 1; the
  // probe also acknowledges our data, and that must count.
  StackConfig cfg = default_config();
  cfg.tcp.rcv_buf = 4;
  Harness h(cfg);
  h.to_established_passive();
  ASSERT_FALSE(h.stack.set_receive_held(h.conn, 4).has_value());
  h.in("P.", 1, 1, "abcd");  // fills our window
  EXPECT_EQ(h.expect(".", 1, 5).win, 0);
  h.send("xyz");
  h.expect("P.", 1, 5, "xyz");
  h.in(".", 4, 4);  // the peer's probe, one before RCV.NXT, ACKing "xyz"
  h.expect(".", 4, 5);  // answered (the probe is not acceptable as such)
  EXPECT_EQ(h.stack.info(h.conn)->snd_una - h.stack.info(h.conn)->iss, 4u) << "the ACK counted";
  EXPECT_FALSE(h.stack.next_timer().has_value()) << "nothing left to retransmit";
}

TEST_F(Established, ThreeDuplicateAcksTriggerFastRetransmitAndNewRenoRecovery) {
  ASSERT_FALSE(h.stack.set_nodelay(h.conn, true).has_value());
  const std::string data(4 * 536, 'q');  // MSS 536; the initial window is 4 segments
  h.send(data);
  ASSERT_EQ(h.take().size(), 4u);
  h.in(".", 1, 1);  // 1st duplicate (same window, nothing new)
  h.in(".", 1, 1);
  h.expect_nothing();
  h.in(".", 1, 1);  // 3rd: RFC 5681 3.2 fast retransmit of the segment at SND.UNA
  h.expect(".", 1, 1, data.substr(0, 536));
  EXPECT_EQ(h.counter(Counter::tcp_fast_retransmit), 1u);
  EXPECT_EQ(h.stack.info(h.conn)->cwnd, 1072u + 3 * 536) << "ssthresh + 3*SMSS";
  // A partial ACK (RFC 6582): the next hole is retransmitted at once.
  h.in(".", 1, 537);
  h.expect(".", 537, 1, data.substr(536, 536));
  EXPECT_EQ(h.counter(Counter::tcp_recovery_partial_ack), 1u);
  // The full ACK ends recovery: cwnd = min(ssthresh, FlightSize + SMSS).
  h.in(".", 1, 2145);
  h.expect_nothing();
  EXPECT_EQ(h.stack.info(h.conn)->cwnd, 1072u);
  EXPECT_EQ(h.counter(Counter::tcp_dup_ack), 3u);
}

TEST_F(Established, KeepaliveProbesAnIdleConnectionAndDropsItWhenUnanswered) {
  // RFC 1122 4.2.3.6: after `idle`, probes every `interval`; `count` unanswered
  // probes end the connection (with a RST, as Linux does) and report a timeout.
  ASSERT_FALSE(h.stack.set_keepalive(h.conn, {true, std::chrono::seconds{10}, std::chrono::seconds{2}, 2}).has_value());
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{10});
  h.expect(".", 0, 1);  // SEG.SEQ = SND.NXT - 1, no data
  // The peer answers: the connection is alive; the idle clock restarts.
  h.in(".", 1, 1);
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{10});
  h.expect(".", 0, 1);
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{2});
  h.expect(".", 0, 1);
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{2});
  h.expect("R.", 1, 1);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"closed:timed out"});
  EXPECT_EQ(h.counter(Counter::tcp_keepalive_probe), 3u);
  EXPECT_EQ(h.counter(Counter::tcp_keepalive_timeout), 1u);
}

TEST_F(Established, NewSendsDoNotPostponeTheRetransmissionTimer) {
  // RFC 6298 5.1: start the timer only if it is not running.
  ASSERT_FALSE(h.stack.set_nodelay(h.conn, true).has_value());
  h.send("a");
  h.expect("P.", 1, 1, "a");
  h.advance(std::chrono::milliseconds{600});
  h.send("b");
  h.expect("P.", 2, 1, "b");
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::milliseconds{400});
  h.expect("P.", 1, 1, "ab");  // go back to SND.UNA
}

TEST_F(Established, ZeroWindowStillTakesTheAck) {
  StackConfig cfg = default_config();
  cfg.tcp.rcv_buf = 4;
  Harness h2(cfg);
  h2.to_established_passive();
  ASSERT_FALSE(h2.stack.set_receive_held(h2.conn, 4).has_value());
  h2.in("P.", 1, 1, "abcd");
  h2.expect(".", 1, 5);
  h2.send("xyz");
  h2.expect("P.", 1, 5, "xyz");
  // Data on a zero window is not acceptable, but its ACK is (RFC 9293 3.10.7.4).
  h2.in("P.", 5, 4, "e");
  h2.expect(".", 4, 5);
  EXPECT_EQ(h2.stack.info(h2.conn)->snd_una - h2.stack.info(h2.conn)->iss, 4);
}

TEST(EstablishedZeroWindow, ProbeCountsWithoutItsTextAndFin) {
  // RFC 9293 3.10.7.4: a segment on our zero window is taken for its ACK only; its
  // text and FIN are not. The ACK step sees it as bare: acknowledging nothing new
  // with data outstanding, it is a duplicate ACK (RFC 5681 2), text or not.
  StackConfig cfg = default_config();
  cfg.tcp.rcv_buf = 4;
  Harness h(cfg);
  h.to_established_passive();
  ASSERT_FALSE(h.stack.set_receive_held(h.conn, 4).has_value());
  h.in("P.", 1, 1, "abcd");
  EXPECT_EQ(h.expect(".", 1, 5).win, 0);
  h.send("xyz");
  h.expect("P.", 1, 5, "xyz");
  h.in("P.", 5, 1, "e");  // a probe with text, ACKing nothing new
  h.expect(".", 4, 5);
  EXPECT_EQ(h.counter(Counter::tcp_dup_ack), 1u) << "its text does not count";
  h.in("F.", 5, 1);  // a FIN on the zero window: not taken
  h.expect(".", 4, 5);
  EXPECT_EQ(h.counter(Counter::tcp_dup_ack), 2u) << "its FIN does not count";
  EXPECT_EQ(h.state(), State::Established);
  h.in(".", 5, 4);  // the ACK of "xyz"
  EXPECT_EQ(h.state(), State::Established);
}

TEST_F(Established, RetransmittedDataAfterCloseIsAckedNotReset) {
  h.in("P.", 1, 1, "abc");
  h.expect(".", 1, 4);
  ASSERT_FALSE(h.stack.close(h.conn).has_value());
  h.expect("F.", 1, 4);
  // Old data again (our ACK was lost) plus the FIN: nothing new, so no RST
  // (RFC 1122 4.2.2.13 is about new data).
  h.in("FP.", 1, 2, "abc");
  h.expect(".", 2, 5);
  EXPECT_EQ(h.stack.time_wait_count(), 1u);
}

class EstablishedWithTimestamps : public ::testing::Test {
 protected:
  void SetUp() override {
    h.peer_syn_options.timestamps = wire::TcpTimestamps{100, 0};
    h.to_established_passive();
  }
  wire::TcpOptions ts(std::uint32_t val) {
    wire::TcpOptions o;
    o.timestamps = wire::TcpTimestamps{val, 0};
    return o;
  }
  Harness h;
};

TEST_F(EstablishedWithTimestamps, EverySegmentCarriesTimestamps) {
  h.in("P.", 1, 1, "x", 65535, ts(101));
  Out ack = h.expect(".", 1, 2);
  ASSERT_TRUE(ack.options.timestamps);
  EXPECT_EQ(ack.options.timestamps->tsecr, 101u);  // RFC 7323 4.3: TS.Recent echoed
}

TEST_F(EstablishedWithTimestamps, PawsRejectsOldTimestamp) {
  h.in("P.", 1, 1, "x", 65535, ts(200));
  h.expect(".", 1, 2);
  h.in("P.", 2, 1, "y", 65535, ts(150));
  h.expect(".", 1, 2);  // RFC 7323 5.3: ACK and drop
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"data:x"});
  EXPECT_EQ(h.counter(Counter::tcp_paws_rejected), 1u);
}

TEST_F(EstablishedWithTimestamps, RetransmitTimerArmedBeforeItsStaleEntryFiresOnTime) {
  // RFC 6298 5.1 after a backoff: the lazily kept entry still waits for the
  // backed-off RTO; a timer armed with the new, shorter RTO must move it earlier.
  h.send("abc");
  h.expect("P.", 1, 1, "abc");
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{1});
  Out again = h.expect("P.", 1, 1, "abc");  // RFC 6298 5.5: the RTO doubles (2 s)
  ASSERT_TRUE(again.options.timestamps);
  h.advance(std::chrono::milliseconds{100});
  wire::TcpOptions echo;
  echo.timestamps = wire::TcpTimestamps{101, again.options.timestamps->tsval};
  h.in(".", 1, 4, {}, 65535, echo);  // RFC 7323 4.1: a 100 ms sample, all acknowledged
  const Duration rto = h.stack.info(h.conn)->rto;
  ASSERT_LT(rto, std::chrono::seconds{1});
  h.send("def");
  h.expect("P.", 4, 1, "def");
  EXPECT_EQ(h.run_to_next_timer(), rto);
  h.expect("P.", 4, 1, "def");
}

TEST_F(EstablishedWithTimestamps, RstIsNotSubjectToPaws) {
  h.in("P.", 1, 1, "x", 65535, ts(200));
  h.expect(".", 1, 2);
  h.in("R", 2, 0, {}, 0, ts(1));
  EXPECT_EQ(h.handler.take(), (std::vector<std::string>{"data:x", "closed:reset"}));
}

}  // namespace
}  // namespace riptide::testing

namespace riptide::testing {
namespace {

// RFC 2018 / RFC 2883 with SACK negotiated: held ranges are reported most recent
// first; a duplicate is reported first as a D-SACK block.
TEST(EstablishedSack, SackBlocksReportHeldRangesMostRecentFirst) {
  Harness h;
  h.peer_syn_options.sack_permitted = true;
  h.to_established_passive();
  h.in("P.", 11, 1, "kkkkk");  // 11..16
  Out a = h.expect(".", 1, 1);
  ASSERT_EQ(a.options.sack_count, 1);
  EXPECT_EQ(a.options.sack_blocks[0].left - SeqNum{kPeerIsn}, 11);
  EXPECT_EQ(a.options.sack_blocks[0].right - SeqNum{kPeerIsn}, 16);
  h.in("P.", 21, 1, "uuu");  // 21..24
  Out b = h.expect(".", 1, 1);
  ASSERT_EQ(b.options.sack_count, 2);
  EXPECT_EQ(b.options.sack_blocks[0].left - SeqNum{kPeerIsn}, 21) << "the most recent first";
  EXPECT_EQ(b.options.sack_blocks[1].left - SeqNum{kPeerIsn}, 11);
  h.in("P.", 1, 1, "0123456789");  // fills 1..11: ACK 16, one block left
  Out c = h.expect(".", 1, 16);
  ASSERT_EQ(c.options.sack_count, 1);
  EXPECT_EQ(c.options.sack_blocks[0].left - SeqNum{kPeerIsn}, 21);
  h.in("P.", 1, 1, "0123456789");  // a duplicate: D-SACK first
  Out d = h.expect(".", 1, 16);
  ASSERT_EQ(d.options.sack_count, 2);
  EXPECT_EQ(d.options.sack_blocks[0].left - SeqNum{kPeerIsn}, 1);
  EXPECT_EQ(d.options.sack_blocks[0].right - SeqNum{kPeerIsn}, 11);
  EXPECT_EQ(h.counter(Counter::tcp_dsack_sent), 1u);
}

}  // namespace
}  // namespace riptide::testing

namespace riptide::testing {
namespace {

// RFC 9293 3.8.6.3 / RFC 1122 4.2.3.2 with delayed ACKs on (40 ms).
class DelayedAck : public ::testing::Test {
 protected:
  static StackConfig config() {
    StackConfig c = default_config();
    c.tcp.delayed_ack = std::chrono::milliseconds{40};
    return c;
  }
  void SetUp() override { h.to_established_passive(); }
  Harness h{config()};
};

// Delayed ACKs with Linux's quick-ACK mode: the first data segments of a
// connection are ACKed at once (up to 16), unless the exchange is interactive
// (we replied within the delayed-ACK time), until the delayed-ACK timer has to fire.
TEST_F(DelayedAck, FirstDataIsAckedAtOnce) {
  h.in("P.", 1, 1, "hi");
  h.expect(".", 1, 3);
  EXPECT_EQ(h.counter(Counter::tcp_delayed_ack), 0u);
}

TEST_F(DelayedAck, QuickAcksRunOutAfterSixteen) {
  std::uint32_t seq = 1;
  for (int i = 0; i < 16; ++i, seq += 2) {
    h.in("P.", seq, 1, "hi");
    h.expect(".", 1, seq + 2);
  }
  h.in("P.", seq, 1, "hi");
  h.expect_nothing();
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::milliseconds{40});
  h.expect(".", 1, seq + 2);
  EXPECT_EQ(h.counter(Counter::tcp_delayed_ack), 1u);
}

// A request answered at once: from then on the exchange is interactive.
void make_interactive(Harness& h) {
  h.in("P.", 1, 1, "hi");
  h.expect(".", 1, 3);
  h.send("ok");
  h.expect("P.", 1, 3, "ok");
  h.in(".", 3, 3);
}

TEST_F(DelayedAck, InteractiveSmallSegmentWaitsForTheTimer) {
  make_interactive(h);
  h.in("P.", 3, 3, "hi");
  h.expect_nothing();
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::milliseconds{40});
  h.expect(".", 3, 5);
  EXPECT_EQ(h.counter(Counter::tcp_delayed_ack), 1u);
  // The timer had to fire: not interactive any more, quick ACKs again.
  h.in("P.", 5, 3, "hi");
  h.expect(".", 3, 7);
}

TEST_F(DelayedAck, TimerRunsAgainAfterItFired) {
  // A timer that fired is no longer pending (the connection's timers_pending bit
  // is cleared as it fires): the next delayed ACK starts it anew.
  make_interactive(h);
  h.in("P.", 3, 3, "hi");
  h.expect_nothing();
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::milliseconds{40});
  h.expect(".", 3, 5);
  h.in("P.", 5, 3, "hi");
  h.expect(".", 3, 7);  // quick ACK: the timer had to fire
  h.send("ok");         // a reply within the delayed-ACK time: interactive again
  h.expect("P.", 3, 7, "ok");
  h.in(".", 7, 5);
  h.in("P.", 7, 5, "hi");
  h.expect_nothing();
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::milliseconds{40});
  h.expect(".", 5, 9);
  EXPECT_EQ(h.counter(Counter::tcp_delayed_ack), 2u);
}

TEST_F(DelayedAck, EverySecondFullSegmentIsAckedAtOnce) {
  make_interactive(h);
  const std::string seg(536, 'm');
  h.in(".", 3, 3, seg);
  h.expect_nothing();
  h.in(".", 539, 3, seg);
  h.expect(".", 3, 1075);
  EXPECT_FALSE(h.stack.next_timer().has_value()) << "nothing owed any more";
}

TEST_F(DelayedAck, AResponseCarriesTheAck) {
  make_interactive(h);
  h.in("P.", 3, 3, "GET");
  h.expect_nothing();
  h.send("200");
  h.expect("P.", 3, 6, "200");  // piggybacked: no separate ACK later
  h.in(".", 6, 6);
  EXPECT_FALSE(h.stack.next_timer().has_value());
}

TEST_F(DelayedAck, DuplicateDataEndsInteractiveMode) {
  make_interactive(h);
  h.in("P.", 1, 3, "hi");  // a retransmission of data we hold: ACK at once
  h.expect(".", 3, 3);
  h.in("P.", 3, 3, "hi");  // and quick ACKs again
  h.expect(".", 3, 5);
}

TEST_F(DelayedAck, OutOfOrderDataAndFinAreAckedAtOnce) {
  h.in("P.", 5, 1, "late");
  h.expect(".", 1, 1);
  h.in("P.", 1, 1, "abcd");  // fills the hole: at once
  h.expect(".", 1, 9);
  h.in("F.", 9, 1);
  h.expect(".", 1, 10);
}

}  // namespace
}  // namespace riptide::testing

namespace riptide::testing {
namespace {

// RFC 2018: after a timeout, what the peer SACKed is not sent again.
TEST(EstablishedSack, ResendAfterTimeoutSkipsSackedData) {
  Harness h;
  h.peer_syn_options.sack_permitted = true;
  h.to_established_passive();
  ASSERT_FALSE(h.stack.set_nodelay(h.conn, true).has_value());
  const std::string data(4 * 536, 'z');
  h.send(data);
  ASSERT_EQ(h.take().size(), 4u);
  // Segments 3 and 4 arrived (SACKed); 1 and 2 were lost.
  wire::TcpOptions sack;
  sack.sack_count = 1;
  sack.sack_blocks[0] = wire::SackBlock{h.stack_isn + 1073, h.stack_isn + 2145};
  h.in(".", 1, 1, {}, 65535, sack);
  h.expect_nothing();
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{1});
  h.expect(".", 1, 1, data.substr(0, 536));  // cwnd 1 SMSS after the timeout
  h.in(".", 1, 537, {}, 65535, sack);
  h.expect(".", 537, 1, data.substr(536, 536));  // the second hole, then nothing:
  h.in(".", 1, 1073, {}, 65535, sack);
  h.expect_nothing();  // 1073..2145 was SACKed: not resent
  EXPECT_GE(h.counter(Counter::tcp_sack_skipped), 1u);
  h.in(".", 1, 2145);
  EXPECT_FALSE(h.stack.next_timer().has_value());
}

}  // namespace
}  // namespace riptide::testing
