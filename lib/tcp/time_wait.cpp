#include "tcp/time_wait.hpp"

namespace riptide::tcp {

namespace {

// RFC 9293 3.10.7.4 first check, against the window we last advertised.
bool acceptable(const TimeWaitRecord& tw, const Segment& seg) noexcept {
  const std::uint32_t wnd = std::uint32_t{tw.window} << tw.rcv_wscale;
  const std::uint32_t len = seg.seg_len();
  if (wnd == 0) return len == 0 && seg.seq == tw.rcv_nxt;
  if (len == 0) return seq_in_range(tw.rcv_nxt, seg.seq, tw.rcv_nxt + wnd);
  return seq_in_range(tw.rcv_nxt, seg.seq, tw.rcv_nxt + wnd) ||
         seq_in_range(tw.rcv_nxt, seg.seq + (len - 1), tw.rcv_nxt + wnd);
}

}  // namespace

TimeWaitAction time_wait_action(const TimeWaitRecord& tw, const Segment& seg) noexcept {
  // RFC 1337 (TIME-WAIT assassination hazards, fix F1): ignore RSTs in TIME-WAIT.
  if (seg.has(kRst)) return TimeWaitAction::IgnoreRst;

  const bool has_ts = tw.ts_ok && seg.options.timestamps.has_value();
  const bool ts_newer =
      has_ts && static_cast<std::int32_t>(seg.options.timestamps->tsval - tw.ts_recent) > 0;

  if (seg.has(kSyn) && !seg.has(kAck)) {
    // RFC 6191 2: with timestamps, a SYN whose TSval is newer than TS.Recent may
    // reuse the tuple; without them (RFC 1122 4.2.2.13), one whose sequence number
    // is beyond RCV.NXT.
    const bool reusable = has_ts ? ts_newer : seg.seq > tw.rcv_nxt;
    return reusable ? TimeWaitAction::Reuse : TimeWaitAction::ChallengeAck;
  }
  if (seg.has(kSyn)) return TimeWaitAction::ChallengeAck;  // RFC 5961 4.2: SYN-ACK too

  // RFC 7323 5.3 PAWS: an old timestamp makes the segment unacceptable.
  if (has_ts && static_cast<std::int32_t>(seg.options.timestamps->tsval - tw.ts_recent) < 0) {
    return TimeWaitAction::Ack;
  }
  if (!seg.has(kAck)) {
    // RFC 9293 3.10.7.4: an unacceptable segment is answered with an ACK (first
    // check); an acceptable one without the ACK bit is dropped (fifth check: "if
    // the ACK bit is off, drop the segment and return"). Linux ACKs both.
    return acceptable(tw, seg) ? TimeWaitAction::Ignore : TimeWaitAction::Ack;
  }
  // RFC 9293 3.10.7.4 TIME-WAIT: "The only thing that can arrive in this state is a
  // retransmission of the remote FIN. Acknowledge it, and restart the 2 MSL timeout."
  const SeqNum end = seg.seq + static_cast<std::uint32_t>(seg.payload.size()) + (seg.has(kFin) ? 1u : 0u);
  if (seg.has(kFin) && end == tw.rcv_nxt) return TimeWaitAction::AckAndRestart;
  // Anything else at RCV.NXT with no payload (a late ACK) is acceptable: nothing to do.
  if (seg.seq == tw.rcv_nxt && seg.payload.empty() && !seg.has(kFin)) return TimeWaitAction::Ignore;
  // Unacceptable (old or beyond the window, or new data after the peer's FIN):
  // RFC 9293 3.10.7.4 first check: send an ACK.
  return TimeWaitAction::Ack;
}

}  // namespace riptide::tcp
