// Connection, its timers (FreeBSD's tcp_timer): retransmission (RFC 6298) with the
// tail loss probe (RFC 8985 7), persist (RFC 9293 3.8.6.1), keep-alive (RFC 1122
// 4.2.3.6), delayed ACK and FIN-WAIT-2; on_timer() is where the host's timer wheel
// calls in.
#include "tcp/connection.hpp"

#include <algorithm>
#include <cassert>

#include "tcp/connection_internal.hpp"

namespace riptide::tcp {

using namespace detail;  // connection_internal.hpp

// ----------------------------------------------------------------------------------
// Timers

void Connection::arm_retransmit(Instant now) {
  if (auto pto = probe_timeout()) {
    pto_armed_ = true;
    host_.set_timer(*this, TimerKind::Retransmit, now + *pto);
    return;
  }
  pto_armed_ = false;
  host_.set_timer(*this, TimerKind::Retransmit, now + rto_.rto());
}

// RFC 8985 7.2: when a probe may be scheduled, and after how long.
std::optional<Duration> Connection::probe_timeout() const noexcept {
  // Not in fast recovery, nor after a timeout until new data is acknowledged
  // (retries_ counts consecutive timeouts), and one probe per episode.
  if (!cfg_.tail_loss_probe || !tcb_.sack_ok || in_recovery_ || retries_ != 0 || tlp_high_ ||
      !rto_.has_sample() || !may_send(state_)) {
    return {};
  }
  if (tcb_.snd_una == tcb_.snd_max || tcb_.snd_nxt != tcb_.snd_max) return {};
  // PTO = 2 * SRTT; with one segment in flight, plus the worst-case delayed ACK
  // (WCDelAckT, 200 ms) so a delayed ACK does not draw a probe. At least 10 ms
  // (Linux's floor), and never later than the RTO itself.
  Duration pto = 2 * rto_.srtt();
  if (static_cast<std::uint32_t>(tcb_.snd_max - tcb_.snd_una) <= tcb_.snd_mss) pto += std::chrono::milliseconds{200};
  pto = std::max<Duration>(pto, std::chrono::milliseconds{10});
  if (pto >= rto_.rto()) return {};
  return pto;
}

void Connection::tail_loss_probe(Instant now) {
  // RFC 8985 7.3: send one new segment if the peer's window allows, else resend
  // the last segment; then the RTO runs as usual.
  pto_armed_ = false;
  host_.count(Counter::tcp_tail_loss_probe);
  if (!send_new_segment(tcb_.snd_mss, now)) {
    // The last segment: up to one segment of data ending where the data ends, with
    // the FIN if ours went.
    const SeqNum data_end = fin_sent_ ? fin_seq_ : tcb_.snd_max;
    const auto data_out = static_cast<std::uint32_t>(data_end - tcb_.snd_una);
    (void)resend(data_end - std::min(data_out, seg_mss()), data_out, /*fin_may_ride=*/true, now);
  }
  tlp_high_ = tcb_.snd_max;
  host_.set_timer(*this, TimerKind::Retransmit, now + rto_.rto());
}

void Connection::on_timer(TimerKind k, Instant now) {
  switch (k) {
    case TimerKind::Retransmit:
      if (pto_armed_) {
        tail_loss_probe(now);
      } else {
        retransmit_timeout(now);
      }
      break;
    case TimerKind::FinWait2:
      // An orphaned FIN-WAIT-2 would live forever if the peer never closes; like
      // Linux (tcp_fin_timeout) it is dropped after the TIME-WAIT length.
      if (state_ == State::FinWait2) enter_closed(CloseReason::Normal, now);
      break;
    case TimerKind::Persist:
      persist_timeout(now);
      break;
    case TimerKind::Keepalive:
      keepalive_timeout(now);
      break;
    case TimerKind::DelayedAck:
      // Our ACK was not carried by a reply in time: the exchange is not (or no
      // longer) interactive (Linux: "delayed ACK missed: leave pingpong mode").
      pingpong_ = false;
      if (unacked_bytes_ > 0 && is_synchronized(state_) && state_ != State::TimeWait) {
        host_.count(Counter::tcp_delayed_ack);
        send_ack(now);
      }
      break;
    case TimerKind::kCount:
      break;
  }
}

void Connection::set_keepalive(bool on, Duration idle, Duration interval, std::uint8_t count, Instant now) {
  keepalive_ = on;
  keepalive_idle_ = idle;
  keepalive_interval_ = interval;
  keepalive_count_ = count;
  keepalive_probes_ = 0;
  if (!on) {
    host_.cancel_timer(*this, TimerKind::Keepalive);
  } else if (is_synchronized(state_)) {
    host_.set_timer(*this, TimerKind::Keepalive, now + idle);
  }
}

void Connection::keepalive_timeout(Instant now) {
  if (!keepalive_ || !is_synchronized(state_)) return;
  if (tcb_.snd_una != tcb_.snd_max) {
    // Data is outstanding: the retransmission timer watches the peer.
    host_.set_timer(*this, TimerKind::Keepalive, now + keepalive_interval_);
    return;
  }
  if (keepalive_probes_ >= keepalive_count_) {
    // RFC 1122 4.2.3.6: the peer is gone. Like Linux, reset and report a timeout.
    host_.count(Counter::tcp_keepalive_timeout);
    send_active_reset(now);
    enter_closed(CloseReason::TimedOut, now);
    return;
  }
  // The probe: SEG.SEQ = SND.NXT - 1, no data (RFC 1122 4.2.3.6; Linux sends it
  // this way), which the peer must answer with an ACK.
  ++keepalive_probes_;
  host_.count(Counter::tcp_keepalive_probe);
  emit(kAck, tcb_.snd_max - 1, 0, 0, now);
  host_.set_timer(*this, TimerKind::Keepalive, now + keepalive_interval_);
}


void Connection::persist_timeout(Instant now) {
  if (!zero_window_stalled()) {
    persist_backoff_ = 0;
    return;
  }
  // RFC 9293 3.8.6.1 (RFC 1122 4.2.2.17, MUST): probe the zero window, backing off
  // like the retransmission timer, for as long as the peer keeps answering. The
  // probe is Linux's: a bare ACK with SEG.SEQ = SND.UNA - 1, which the peer must
  // answer (RFC 9293 3.10.7.4 first check) with its current window.
  host_.count(Counter::tcp_zero_window_probe);
  emit(kAck, tcb_.snd_una - 1, 0, 0, now);
  if (persist_backoff_ < 16) ++persist_backoff_;
  const Duration next = std::min<Duration>(rto_.rto() * (1u << std::min<unsigned>(persist_backoff_, 10)), cfg_.rto_max);
  host_.set_timer(*this, TimerKind::Persist, now + next);
}

void Connection::retransmit_timeout(Instant now) {
  if (tcb_.snd_una == tcb_.snd_max && state_ != State::SynSent && state_ != State::SynReceived) return;
  host_.count(Counter::tcp_retransmit_timeout);
  std::uint8_t limit = state_ == State::SynSent       ? cfg_.syn_retries
                       : state_ == State::SynReceived ? cfg_.synack_retries
                                                      : cfg_.max_retries;
  if (state_ == State::SynReceived && passive_ && retries_ < limit && retries_ >= cfg_.synack_retries_pressure &&
      host_.records_scarce()) {
    // Records are scarce: a half-open entry nobody completed gives up early (a
    // real client retransmits its SYN and gets a cookie).
    host_.count(Counter::tcp_synack_pressure_timeout);
    limit = retries_;
  }
  const bool deadline_passed =
      state_ == State::SynSent && connect_deadline_ != Instant{} && now >= connect_deadline_;
  if (retries_ >= limit || deadline_passed) {
    // RFC 1122 4.2.3.5: R2 exceeded: close the connection. RFC 9293 3.8.3 for SYN.
    host_.count(state_ == State::SynSent ? Counter::tcp_connect_timeout
                                         : Counter::tcp_connection_timeout);
    // RFC 9293 3.9.2.2 SHLD-25: a soft ICMP error seen meanwhile says why (as
    // Linux reports EHOSTUNREACH rather than ETIMEDOUT).
    const bool opening = state_ == State::SynSent || state_ == State::SynReceived;
    enter_closed(opening && soft_error_ ? CloseReason::Unreachable : CloseReason::TimedOut, now);
    return;
  }
  ++retries_;
  tlp_high_.reset();
  // A timeout ends fast recovery; later duplicates of what was outstanding must
  // not start another (RFC 6582 4.1: recover = SND.MAX). The SACK scoreboard is
  // kept: a receiver that reneged would answer with the hole again.
  in_recovery_ = false;
  dupacks_ = 0;
  recover_ = tcb_.snd_max;
  // RFC 6298 5.5: back off; 5.4: retransmit the earliest unacknowledged segment.
  rto_.backoff();
  rtt_seq_.reset();  // Karn: no RTT sample from retransmitted data
  if (is_synchronized(state_)) {
    // RFC 5681 3.1 (4): after a timeout, ssthresh = max(FlightSize/2, 2*SMSS),
    // cwnd = 1 SMSS. (A lost SYN or SYN-ACK leaves them alone: the MSS is not
    // known yet, and the initial window is set when the handshake completes.)
    cc_.on_timeout(static_cast<std::uint32_t>(tcb_.snd_max - tcb_.snd_una));
  }
  host_.count(Counter::tcp_retransmit_segment);
  switch (state_) {
    case State::SynSent:
      send_syn(/*with_ack=*/false, now);
      break;
    case State::SynReceived:
      send_syn(/*with_ack=*/true, now);
      break;
    default:
      // Go back to SND.UNA (BSD tcp_timer_rexmt): output() re-sends from there.
      tcb_.snd_nxt = tcb_.snd_una;
      output(now);
      break;
  }
  // After a connect deadline, the last wait is cut short to end on time.
  Instant next = now + rto_.rto();
  if (state_ == State::SynSent && connect_deadline_ != Instant{} && next > connect_deadline_) {
    next = connect_deadline_;
  }
  host_.set_timer(*this, TimerKind::Retransmit, next);
}

}  // namespace riptide::tcp
