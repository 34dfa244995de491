// time_wait_action(): what a segment arriving for a compact TIME-WAIT record does.
// RFC 9293 3.10.7.4 (TIME-WAIT), RFC 1337 (ignore RST), RFC 6191 (reuse on a newer
// timestamp or sequence number), RFC 5961 4 (challenge ACK), RFC 7323 5 (PAWS).
#include "tcp/time_wait.hpp"

#include <gtest/gtest.h>

#include <array>

namespace riptide::tcp {
namespace {

constexpr std::uint32_t kTsRecent = 500000;
const SeqNum kRcvNxt{1000};  // after the peer's FIN (which had sequence number 999)
const SeqNum kSndNxt{7000};

TimeWaitRecord record(bool ts_ok) {
  TimeWaitRecord r;
  r.key = FlowKey{Ipv4Addr::from_octets(198, 18, 0, 1), Ipv4Addr::from_octets(198, 18, 0, 2),
                  40000, 80};
  r.snd_nxt = kSndNxt;
  r.rcv_nxt = kRcvNxt;
  r.ts_recent = kTsRecent;
  r.window = 512;
  r.ts_ok = ts_ok;
  return r;
}

Segment seg(std::uint8_t flags, SeqNum seq, std::optional<std::uint32_t> tsval = std::nullopt,
            std::span<const std::byte> payload = {}) {
  Segment s;
  s.seq = seq;
  s.ack = kSndNxt;
  s.flags = flags;
  s.window = 1000;
  if (tsval) s.options.timestamps = wire::TcpTimestamps{*tsval, 42};
  s.payload = payload;
  return s;
}

constexpr std::array<std::byte, 10> kData{};

TEST(TimeWaitAction, RstIsIgnoredPerRfc1337) {
  for (const bool ts_ok : {false, true}) {
    const TimeWaitRecord tw = record(ts_ok);
    // Exact, in window, old, with ACK, with an old or new timestamp: all ignored.
    EXPECT_EQ(time_wait_action(tw, seg(kRst, kRcvNxt)), TimeWaitAction::IgnoreRst);
    EXPECT_EQ(time_wait_action(tw, seg(kRst | kAck, kRcvNxt)), TimeWaitAction::IgnoreRst);
    EXPECT_EQ(time_wait_action(tw, seg(kRst, kRcvNxt + 100)), TimeWaitAction::IgnoreRst);
    EXPECT_EQ(time_wait_action(tw, seg(kRst, kRcvNxt - 100)), TimeWaitAction::IgnoreRst);
    EXPECT_EQ(time_wait_action(tw, seg(kRst | kAck, kRcvNxt, kTsRecent - 1)), TimeWaitAction::IgnoreRst);
    EXPECT_EQ(time_wait_action(tw, seg(kRst | kAck, kRcvNxt, kTsRecent + 1)), TimeWaitAction::IgnoreRst);
    EXPECT_EQ(time_wait_action(tw, seg(kRst | kSyn, kRcvNxt + 100)), TimeWaitAction::IgnoreRst);
  }
}

TEST(TimeWaitAction, SynWithNewerTimestampReusesTuple) {
  // RFC 6191 2: timestamps in use and TSval > TS.Recent: reuse, whatever the sequence number.
  const TimeWaitRecord tw = record(true);
  EXPECT_EQ(time_wait_action(tw, seg(kSyn, kRcvNxt + 5000, kTsRecent + 1)), TimeWaitAction::Reuse);
  EXPECT_EQ(time_wait_action(tw, seg(kSyn, kRcvNxt - 5000, kTsRecent + 1)), TimeWaitAction::Reuse);
  EXPECT_EQ(time_wait_action(tw, seg(kSyn, kRcvNxt, kTsRecent + 0x7FFFFFFF)), TimeWaitAction::Reuse);
}

TEST(TimeWaitAction, SynWithOlderOrEqualTimestampGetsChallengeAck) {
  const TimeWaitRecord tw = record(true);
  // Even with a sequence number beyond RCV.NXT: the timestamp decides (RFC 6191 2).
  EXPECT_EQ(time_wait_action(tw, seg(kSyn, kRcvNxt + 5000, kTsRecent)), TimeWaitAction::ChallengeAck);
  EXPECT_EQ(time_wait_action(tw, seg(kSyn, kRcvNxt + 5000, kTsRecent - 1)), TimeWaitAction::ChallengeAck);
  // "Newer" is modular: 2^31 + 1 ahead is behind.
  EXPECT_EQ(time_wait_action(tw, seg(kSyn, kRcvNxt + 5000, kTsRecent + 0x80000001u)),
            TimeWaitAction::ChallengeAck);
}

TEST(TimeWaitAction, SynWithoutTimestampsUsesSequenceNumber) {
  // RFC 1122 4.2.2.13 / RFC 6191 3: without timestamps, reuse only when SEG.SEQ > RCV.NXT.
  for (const bool ts_ok : {false, true}) {  // record without TS, or SYN without TS
    SCOPED_TRACE(ts_ok);
    const TimeWaitRecord tw = record(ts_ok);
    EXPECT_EQ(time_wait_action(tw, seg(kSyn, kRcvNxt + 1)), TimeWaitAction::Reuse);
    EXPECT_EQ(time_wait_action(tw, seg(kSyn, kRcvNxt + 100000)), TimeWaitAction::Reuse);
    EXPECT_EQ(time_wait_action(tw, seg(kSyn, kRcvNxt)), TimeWaitAction::ChallengeAck);
    EXPECT_EQ(time_wait_action(tw, seg(kSyn, kRcvNxt - 1)), TimeWaitAction::ChallengeAck);
  }
  // A record without timestamps ignores a TSval on the SYN.
  const TimeWaitRecord no_ts = record(false);
  EXPECT_EQ(time_wait_action(no_ts, seg(kSyn, kRcvNxt - 1, kTsRecent + 100)), TimeWaitAction::ChallengeAck);
  EXPECT_EQ(time_wait_action(no_ts, seg(kSyn, kRcvNxt + 1, kTsRecent - 100)), TimeWaitAction::Reuse);
}

TEST(TimeWaitAction, SynAckGetsChallengeAck) {
  // RFC 5961 4.2: any SYN in a synchronized state; a SYN-ACK never reuses a tuple.
  const TimeWaitRecord tw = record(true);
  EXPECT_EQ(time_wait_action(tw, seg(kSyn | kAck, kRcvNxt + 5000, kTsRecent + 1)),
            TimeWaitAction::ChallengeAck);
  EXPECT_EQ(time_wait_action(record(false), seg(kSyn | kAck, kRcvNxt + 5000)),
            TimeWaitAction::ChallengeAck);
}

TEST(TimeWaitAction, RetransmittedFinIsAckedAndRestartsTimer) {
  // RFC 9293 3.10.7.4: "The only thing that can arrive in this state is a
  // retransmission of the remote FIN. Acknowledge it, and restart the 2 MSL timeout."
  for (const bool ts_ok : {false, true}) {
    SCOPED_TRACE(ts_ok);
    const TimeWaitRecord tw = record(ts_ok);
    const auto ts = ts_ok ? std::optional<std::uint32_t>{kTsRecent + 200} : std::nullopt;
    EXPECT_EQ(time_wait_action(tw, seg(kFin | kAck, kRcvNxt - 1, ts)), TimeWaitAction::AckAndRestart);
    // The FIN retransmitted with the data in front of it.
    EXPECT_EQ(time_wait_action(tw, seg(kFin | kAck | kPsh, kRcvNxt - 1 - kData.size(), ts, kData)),
              TimeWaitAction::AckAndRestart);
    // A retransmitted FIN with the same TSval as before is not old (PAWS rejects only older).
    if (ts_ok) {
      EXPECT_EQ(time_wait_action(tw, seg(kFin | kAck, kRcvNxt - 1, kTsRecent)),
                TimeWaitAction::AckAndRestart);
    }
  }
}

TEST(TimeWaitAction, OldTimestampIsAckedPerPaws) {
  // RFC 7323 5.3: TSval < TS.Recent: unacceptable, send an ACK.
  const TimeWaitRecord tw = record(true);
  EXPECT_EQ(time_wait_action(tw, seg(kAck, kRcvNxt, kTsRecent - 1)), TimeWaitAction::Ack);
  EXPECT_EQ(time_wait_action(tw, seg(kFin | kAck, kRcvNxt - 1, kTsRecent - 1)), TimeWaitAction::Ack);
  EXPECT_EQ(time_wait_action(tw, seg(kAck | kPsh, kRcvNxt, kTsRecent - 1000, kData)), TimeWaitAction::Ack);
  // Without timestamps on the connection, the same segments are judged by sequence.
  EXPECT_EQ(time_wait_action(record(false), seg(kAck, kRcvNxt, kTsRecent - 1)), TimeWaitAction::Ignore);
}

TEST(TimeWaitAction, PureAckAtRcvNxtIsIgnored) {
  for (const bool ts_ok : {false, true}) {
    SCOPED_TRACE(ts_ok);
    const TimeWaitRecord tw = record(ts_ok);
    EXPECT_EQ(time_wait_action(tw, seg(kAck, kRcvNxt)), TimeWaitAction::Ignore);
    EXPECT_EQ(time_wait_action(tw, seg(kAck, kRcvNxt, kTsRecent)), TimeWaitAction::Ignore);
    EXPECT_EQ(time_wait_action(tw, seg(kAck, kRcvNxt, kTsRecent + 10)), TimeWaitAction::Ignore);
  }
}

TEST(TimeWaitAction, DataOrOutOfWindowSegmentsAreAcked) {
  // RFC 9293 3.10.7.4 first check: unacceptable segments get <SEQ=SND.NXT><ACK=RCV.NXT>.
  for (const bool ts_ok : {false, true}) {
    SCOPED_TRACE(ts_ok);
    const TimeWaitRecord tw = record(ts_ok);
    const auto ts = ts_ok ? std::optional<std::uint32_t>{kTsRecent + 1} : std::nullopt;
    // New data after the peer's FIN.
    EXPECT_EQ(time_wait_action(tw, seg(kAck | kPsh, kRcvNxt, ts, kData)), TimeWaitAction::Ack);
    // Old data (a retransmission from before the FIN).
    EXPECT_EQ(time_wait_action(tw, seg(kAck, kRcvNxt - 50, ts, kData)), TimeWaitAction::Ack);
    // A pure ACK that is not at RCV.NXT.
    EXPECT_EQ(time_wait_action(tw, seg(kAck, kRcvNxt + 1000, ts)), TimeWaitAction::Ack);
    EXPECT_EQ(time_wait_action(tw, seg(kAck, kRcvNxt - 1, ts)), TimeWaitAction::Ack);
    // A FIN at another position than the one we acknowledged.
    EXPECT_EQ(time_wait_action(tw, seg(kFin | kAck, kRcvNxt, ts)), TimeWaitAction::Ack);
    EXPECT_EQ(time_wait_action(tw, seg(kFin | kAck, kRcvNxt - 5, ts)), TimeWaitAction::Ack);
  }
}

}  // namespace
}  // namespace riptide::tcp
