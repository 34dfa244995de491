// Connection, what ICMP and ICMPv6 errors do to it (FreeBSD's tcp_ctlinput and
// tcp_mtudisc): RFC 9293 3.9.2.2 (MUST-54: act on errors; MUST-56: soft errors
// never abort; SHLD-26: hard errors abort), read as RFC 5461 4 and Linux do: a hard
// error ends only a connection still opening, because in a synchronized state a
// forged or transient error would otherwise kill a working connection. RFC 5927
// 4.1: the quoted sequence number must fall in flight. Packet Too Big: RFC 8201
// 5.4 (RFC 1191 6.5 for IPv4).
#include <algorithm>

#include "tcp/connection.hpp"
#include "tcp/connection_internal.hpp"

namespace riptide::tcp {

using namespace detail;  // connection_internal.hpp

bool Connection::icmp_acceptable(SeqNum quoted_seq) const noexcept {
  // SND.UNA <= seq < SND.MAX (the highest sent: SND.NXT is rewound by a timeout's
  // go-back-N, and FreeBSD checks snd_max, Linux its never-rewound snd_nxt); in
  // SYN-SENT that is the ISS alone (the SYN).
  return tcb_.snd_una <= quoted_seq && quoted_seq < tcb_.snd_max;
}

bool Connection::on_icmp_error(IcmpClass c, Instant now) {
  const bool opening = state_ == State::SynSent || state_ == State::SynReceived;
  if (c != IcmpClass::Soft && opening) {
    // SHLD-26. A passive child in SYN-RECEIVED goes away like one reset (its
    // listener never reported it); an active open reports Unreachable, or
    // Refused for a port unreachable (as a RST would).
    host_.count(Counter::tcp_icmp_aborted);
    enter_closed(passive_                    ? CloseReason::Reset
                 : c == IcmpClass::Refused ? CloseReason::Refused
                                           : CloseReason::Unreachable,
                 now);
    return true;
  }
  // MUST-56: no abort. SHLD-25: kept, so that an opening that times out says why.
  host_.count(Counter::tcp_icmp_soft);
  if (opening) soft_error_ = true;
  return false;
}

bool Connection::on_path_mss(std::uint16_t path_mss, Instant now) {
  path_mss = std::max<std::uint16_t>(path_mss, static_cast<std::uint16_t>(kMinMss));
  path_mss_ = std::min(path_mss_, path_mss);
  // Before the peer's SYN, agree_options() applies it; in TIME-WAIT nothing is sent.
  if (state_ == State::Closed || state_ == State::Listen || state_ == State::SynSent ||
      state_ == State::TimeWait) {
    return false;
  }
  // RFC 6691: SND.MSS leaves room for the timestamp option on every segment.
  const std::uint32_t room = tcb_.ts_ok ? kTsOptionLen : 0;
  if (path_mss_ <= room) return false;
  const auto mss = static_cast<std::uint16_t>(path_mss_ - room);
  if (mss >= tcb_.snd_mss) return false;
  tcb_.snd_mss = mss;
  cc_.set_mss(mss);
  host_.count(Counter::tcp_pmtu_mss_lowered);
  if (may_send(state_) && tcb_.snd_max != tcb_.snd_una) {
    // What is in flight was sent in segments the path just refused (the one
    // quoted, likely those behind it too): send it again from SND.UNA in segments
    // that fit. No RTT sample from it (Karn). Recovery in progress ends, as a
    // timeout ends it, so later duplicates of the old flight start none; its
    // inflated window is deflated to ssthresh (RFC 6582 3.2 step 3's bound) so
    // the resend is no burst.
    rtt_seq_.reset();
    if (in_recovery_) {
      cc_.cwnd = std::min(cc_.cwnd, cc_.ssthresh);
      cc_.on_recovery_end();
      in_recovery_ = false;
    }
    dupacks_ = 0;
    recover_ = tcb_.snd_max;
    tcb_.snd_nxt = tcb_.snd_una;
    output(now);
    // A fresh RTO from this resend (as Linux re-arms on retransmitting the head):
    // the old deadline, set for the refused segments, would fire before the
    // resend could be acknowledged and collapse cwnd for what is no congestion.
    pto_armed_ = false;
    host_.set_timer(*this, TimerKind::Retransmit, now + rto_.rto());
  }
  return true;
}

}  // namespace riptide::tcp
