// Connection, loss recovery: fast retransmit and NewReno (RFC 5681 3.2, RFC 6582),
// RFC 6675 SACK-based recovery over the SackScoreboard, and resend(), the one way
// sent data goes out again.
#include "tcp/connection.hpp"

#include <algorithm>
#include <cassert>

#include "tcp/connection_internal.hpp"

namespace riptide::tcp {

using namespace detail;  // connection_internal.hpp

std::uint32_t Connection::record_sack(const Segment& seg) {
  return sack_.record(std::span(seg.options.sack_blocks).first(seg.options.sack_count), tcb_.snd_una, tcb_.snd_max);
}

void Connection::sack_retransmit(const NextSeg& r, Instant now) {
  // The hole may end with our FIN.
  const bool fin_in_hole = fin_sent_ && r.seq + r.len > fin_seq_;
  if (auto end = resend(r.seq, r.len, fin_in_hole, now)) {
    high_rxt_ = *end;
    host_.count(Counter::tcp_sack_retransmit);
  } else {
    high_rxt_ = r.seq + r.len;  // nothing there to send (cannot happen; be safe)
  }
}

std::optional<SeqNum> Connection::resend(SeqNum seq, std::uint32_t max_len, bool fin_may_ride, Instant now) {
  // Data already sent once, from `seq`: at most max_len bytes and one segment, PSH
  // when it reaches the end of what is queued, our FIN when it reaches the FIN
  // and the FIN may ride. SND.NXT is left where it is.
  const auto offset = static_cast<std::size_t>(seq - tcb_.snd_una);
  const std::size_t queued = sndbuf_.size();
  // Never past SND.MAX: bytes not sent before are new data, which only output()
  // sends (it checks the peer's window and advances SND.MAX). A full-MSS resend
  // after a window-limited short segment would otherwise send past both.
  const SeqNum sent_end = fin_sent_ ? fin_seq_ : tcb_.snd_max;
  const std::size_t sent = seq < sent_end ? static_cast<std::size_t>(sent_end - seq) : 0;
  const std::size_t len =
      offset < queued ? std::min<std::size_t>({max_len, queued - offset, sent, seg_mss()}) : 0;
  std::uint8_t flags = kAck;
  if (len > 0 && offset + len == queued) flags |= kPsh;
  if (fin_may_ride && fin_sent_ && seq + static_cast<std::uint32_t>(len) == fin_seq_) flags |= kFin;
  if (len == 0 && (flags & kFin) == 0) return std::nullopt;
  host_.count(Counter::tcp_retransmit_segment);
  rtt_seq_.reset();  // Karn
  emit(flags, seq, offset, len, now);
  return seq + static_cast<std::uint32_t>(len) + ((flags & kFin) ? 1u : 0u);
}

void Connection::enter_recovery(Instant now) {
  // RFC 5681 3.2 (2)-(4) / RFC 6582 3.2 step 2 / RFC 6675 5 (4.1)-(4.3).
  const auto flight = static_cast<std::uint32_t>(tcb_.snd_max - tcb_.snd_una);
  in_recovery_ = true;
  recover_ = tcb_.snd_max;  // RecoveryPoint = HighData
  if (pto_armed_) {  // no tail loss probes during recovery (RFC 8985 7.2): the RTO runs
    pto_armed_ = false;
    host_.set_timer(*this, TimerKind::Retransmit, now + rto_.rto());
  }
  cc_.on_loss(flight);      // ssthresh, cwnd = ssthresh (RFC 9438 4.6 for CUBIC)
  host_.count(Counter::tcp_fast_retransmit);
  if (tcb_.sack_ok) {
    host_.count(Counter::tcp_sack_recovery);
    // RFC 6675 5 (4.3): retransmit the first segment presumed dropped, HighACK + 1,
    // whatever the pipe says; output() then runs step (C).
    high_rxt_ = tcb_.snd_una;
    sack_retransmit(NextSeg{tcb_.snd_una, tcb_.snd_mss}, now);
  } else {
    retransmit_first(now);
    cc_.cwnd = cc_.ssthresh + kDupThresh * tcb_.snd_mss;  // RFC 6582 3.2 step 2 inflation
  }
}

void Connection::retransmit_first(Instant now) {
  // The first unacknowledged segment: data at SND.UNA, or the FIN if nothing else
  // is outstanding.
  (void)resend(tcb_.snd_una, tcb_.snd_mss, /*fin_may_ride=*/true, now);
}

}  // namespace riptide::tcp
