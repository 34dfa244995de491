// Connection, output (FreeBSD's tcp_output): what may be sent now (windows, Nagle,
// SWS avoidance, SACK recovery's pipe), segment building and the control segments
// (SYN, ACK, challenge ACK, RST).
#include "tcp/connection.hpp"

#include <algorithm>
#include <array>
#include <cassert>

#include "common/byte_order.hpp"
#include "tcp/connection_internal.hpp"

namespace riptide::tcp {

using namespace detail;  // connection_internal.hpp

// ----------------------------------------------------------------------------------
// Output

void Connection::output(Instant now) {
  if (!may_send(state_)) return;
  bool sent_any = false;
  const bool sack_recovery = in_recovery_ && tcb_.sack_ok;
  // Whether send_new_segment() may have something: the usual call, after an ACK
  // with everything sent (no data beyond SND.NXT, no FIN due, no resend: SND.NXT =
  // SND.MAX), is answered here without the call (it would return false).
  const auto may_send_new = [this] {
    return tcb_.snd_nxt != tcb_.snd_max || static_cast<std::size_t>(tcb_.snd_nxt - tcb_.snd_una) < sndbuf_.size() ||
           (fin_queued_ && tcb_.snd_nxt == fin_seq());
  };
  for (;;) {
    std::uint32_t room = UINT32_MAX;  // what the congestion window still allows
    if (sack_recovery) {
      // RFC 6675 5 (C): while cwnd - pipe >= 1 SMSS, send NextSeg(): (1) the first
      // lost hole above HighRxt, (2) new data, (3) any other unSACKed hole.
      const std::uint32_t pipe = sack_pipe();
      if (pipe >= cc_.cwnd || cc_.cwnd - pipe < tcb_.snd_mss) break;
      if (auto r = sack_next_retransmission(/*lost_only=*/true)) {
        sack_retransmit(*r, now);
        sent_any = true;
        continue;
      }
      room = cc_.cwnd - pipe;
    }
    if (may_send_new() && send_new_segment(room, now)) {
      sent_any = true;
      continue;
    }
    if (sack_recovery) {
      if (auto r = sack_next_retransmission(/*lost_only=*/false)) {
        sack_retransmit(*r, now);
        sent_any = true;
        continue;
      }
    }
    break;
  }
  if (sent_any && !host_.timer_pending(*this, TimerKind::Retransmit)) {
    // RFC 6298 5.1: start the timer if it is not running.
    arm_retransmit(now);
  }
  if (zero_window_stalled()) {
    if (!host_.timer_pending(*this, TimerKind::Persist)) {
      host_.set_timer(*this, TimerKind::Persist, now + rto_.rto());
    }
  } else if (tcb_.snd_wnd > 0) {
    persist_backoff_ = 0;
    host_.cancel_timer(*this, TimerKind::Persist);
  }
}

// One segment of what output() may send from SND.NXT: data (or a resend after a
// timeout), or the FIN. `room` caps it below the usual windows (RFC 6675's
// cwnd - pipe during SACK recovery). Returns whether something went out.
bool Connection::send_new_segment(std::uint32_t room, Instant now) {
  const std::size_t queued = sndbuf_.size();
  // Resending after a timeout (SND.NXT < SND.MAX): skip what the peer has
  // SACKed (RFC 2018: the data is still kept until cumulatively acknowledged).
  std::size_t sack_limit = SIZE_MAX;
  if (tcb_.snd_nxt < tcb_.snd_max && !sack_.empty()) {
    while (const wire::SackBlock* b = sacked_at(tcb_.snd_nxt)) {
      host_.count(Counter::tcp_sack_skipped);
      tcb_.snd_nxt = seq_min(b->right, tcb_.snd_max);
    }
    if (auto next = next_sacked_after(tcb_.snd_nxt); next && *next <= tcb_.snd_max) {
      sack_limit = static_cast<std::size_t>(*next - tcb_.snd_nxt);
    }
  }
  const auto offset = static_cast<std::size_t>(tcb_.snd_nxt - tcb_.snd_una);
  const std::size_t to_end = offset < queued ? queued - offset : 0;  // up to the end of the queue
  const std::size_t unsent = std::min(to_end, sack_limit);           // before the next SACKed block
  if (unsent > 0) {
    // Usable window: SND.UNA + min(SND.WND, cwnd) - SND.NXT (RFC 5681 / 9293
    // 3.8.6.2.1); in SACK recovery the pipe, not SND.NXT, measures what is out.
    // Resending after a timeout, SACKed data below SND.NXT is not in flight
    // (RFC 6675 5.1: the scoreboard survives the timeout).
    const bool sack_recovery = in_recovery_ && tcb_.sack_ok;
    const std::int32_t by_peer = static_cast<std::int32_t>((tcb_.snd_una + tcb_.snd_wnd) - tcb_.snd_nxt);
    std::int32_t usable = by_peer;
    if (!sack_recovery) {
      std::uint32_t in_flight = static_cast<std::uint32_t>(tcb_.snd_nxt - tcb_.snd_una);
      if (tcb_.snd_nxt < tcb_.snd_max) in_flight -= sacked_below(tcb_.snd_nxt);
      // RFC 3042 limited transmit (RFC 5681 3.2 (1)): the first and second
      // duplicate ACKs each let one new segment out, up to cwnd + 2*SMSS.
      std::uint32_t cwnd = cc_.cwnd;
      if (!in_recovery_ && dupacks_ > 0 && dupacks_ < kDupThresh && tcb_.snd_nxt == tcb_.snd_max) {
        cwnd += dupacks_ * tcb_.snd_mss;
      }
      usable = std::min<std::int32_t>(by_peer, static_cast<std::int32_t>(cwnd) - static_cast<std::int32_t>(in_flight));
    }
    if (usable <= 0) return false;
    const std::uint32_t mss = seg_mss();  // less the SACK blocks this segment will carry
    std::size_t len = std::min<std::size_t>({unsent, mss, static_cast<std::size_t>(usable), room});
    // RFC 9293 3.7.4 (Nagle), with Minshall's refinement as Linux has it: hold
    // back a sub-MSS segment only while another sub-MSS segment is unacknowledged,
    // unless it ends a closing stream.
    const bool small = len < mss;
    // RFC 9293 3.8.6.2.1 sender SWS avoidance, for the congestion-window case:
    // never cut a runt off the stream because cwnd is not a multiple of the MSS;
    // the ACKs for what is in flight will open cwnd. (A peer window smaller than
    // the MSS is filled as Linux does.)
    const bool cwnd_limited = cc_.cwnd < tcb_.snd_wnd || room < tcb_.snd_mss;
    if (small && len < unsent && cwnd_limited && tcb_.snd_nxt != tcb_.snd_una) return false;
    const bool retransmission = tcb_.snd_nxt < tcb_.snd_max;
    if (small && !retransmission && !nodelay_ && !fin_queued_ && tcb_.snd_una < snd_sml_) return false;
    const bool last = len == to_end;  // the end of the stream so far (PSH, FIN)
    std::uint8_t flags = kAck;
    if (last) flags |= kPsh;
    const bool with_fin = last && fin_queued_;
    if (with_fin) flags |= kFin;
    if (!rtt_seq_ && tcb_.snd_nxt == tcb_.snd_max) {
      rtt_seq_ = tcb_.snd_nxt;
      rtt_start_ = now;
    }
    if (retransmission) host_.count(Counter::tcp_retransmit_segment);
    emit(flags, tcb_.snd_nxt, offset, len, now);
    if (small) snd_sml_ = tcb_.snd_nxt + static_cast<std::uint32_t>(len);
    if (with_fin) {
      fin_sent_ = true;
      fin_seq_ = tcb_.snd_nxt + static_cast<std::uint32_t>(len);
    }
    tcb_.snd_nxt += static_cast<std::uint32_t>(len) + (with_fin ? 1u : 0u);
    tcb_.snd_max = seq_max(tcb_.snd_max, tcb_.snd_nxt);
    return true;
  }
  // All data sent: the FIN, if queued and not yet sent at this position.
  if (fin_queued_ && tcb_.snd_nxt == fin_seq()) {
    fin_sent_ = true;
    fin_seq_ = tcb_.snd_nxt;
    emit(kFin | kAck, tcb_.snd_nxt, offset, 0, now);
    tcb_.snd_nxt += 1;
    tcb_.snd_max = seq_max(tcb_.snd_max, tcb_.snd_nxt);
    return true;
  }
  return false;
}

void Connection::emit(std::uint8_t flags, SeqNum seq, std::size_t off, std::size_t len,
                      Instant now, bool syn_options) {
  if (flags & kAck) last_ack_sent_ = tcb_.rcv_nxt;
  const std::uint32_t wnd = rcv_wnd();
  // RFC 7323 2.2: the window in a SYN or SYN-ACK is never scaled.
  const auto window = static_cast<std::uint16_t>(
      std::min<std::uint32_t>(syn_options ? wnd : wnd >> tcb_.rcv_wscale, 0xFFFF));
  if (len > 0 && last_data_at_ && now - *last_data_at_ < cfg_.delayed_ack) {
    pingpong_ = true;  // a reply within the delayed-ACK time: interactive (Linux pingpong)
  }
  if ((flags & kAck) != 0 && (flags & kRst) == 0) {
    if (unacked_bytes_ > 0 && quick_acks_ > 0) --quick_acks_;  // an ACK of new data
    // Any segment carrying an ACK settles what was owed.
    ack_now_ = false;
    ack_delayable_ = false;
    unacked_bytes_ = 0;
    host_.cancel_timer(*this, TimerKind::DelayedAck);
    // RFC 9293 3.8.6.2.2: remember the right edge we promised.
    const SeqNum edge = tcb_.rcv_nxt + ((static_cast<std::uint32_t>(window)) << (syn_options ? 0 : tcb_.rcv_wscale));
    tcb_.rcv_adv = seq_max(tcb_.rcv_adv, edge);
  }
  if (syn_options) {
    emit_syn(flags, window, now);
    return;
  }
  if ((flags & (kRst | kAck)) == kAck) {
    emit_from_template(flags, seq, window, off, len, now);
    return;
  }
  // The RSTs: described as a TcpHeader for the host to write (RST|ACK with the
  // timestamps, a bare RST without).
  wire::TcpHeader h;
  h.src_port = key_.local_port;
  h.dst_port = key_.remote_port;
  h.seq = seq;
  h.flags = flags;
  h.window = window;
  if (flags & kAck) h.ack = tcb_.rcv_nxt;
  if (((flags & kRst) == 0 || (flags & kAck) != 0) && tcb_.ts_ok) {
    h.options.timestamps = wire::TcpTimestamps{ts_now(now), tcb_.ts_recent};
  }
  host_.transmit(*this, h, off, len);
}

namespace {
// The timestamp option as Linux and wire::write_tcp_header lay it out: NOP, NOP,
// kind 8, length 10 (RFC 7323 Appendix A), then TSval and TSecr.
constexpr std::uint32_t kTsKindWord = 0x0101080Au;
constexpr std::size_t kTsOptionBytes = 12;
}  // namespace

void Connection::set_template_sum() noexcept {
  tmpl_sum_ = ((std::uint32_t{key_.local_port} << 16) | key_.remote_port) + (tcb_.ts_ok ? kTsKindWord : 0u);
  tmpl_sum_ = (tmpl_sum_ & 0xFFFFu) + (tmpl_sum_ >> 16);  // (carries: at most 17 bits)
}

void Connection::emit_from_template(std::uint8_t flags, SeqNum seq, std::uint16_t window, std::size_t off,
                                    std::size_t len, Instant now) {
  // The header as wire::write_tcp_header would write it for these fields (the
  // packet tests compare it byte for byte), summed as it is written: the constant
  // part (ports, the timestamp option's kind word) was summed once in tmpl_sum_,
  // so only the changing words are added (RFC 1624: a checksum updated by the
  // fields that change, not recomputed over the header).
  HeaderBuilder b(tmpl_sum_);
  if (tcb_.ts_ok) {
    b.put_unsummed(kTsKindWord);  // summed in tmpl_sum_
    b.put(ts_now(now));
    b.put(tcb_.ts_recent);
  }
  if (tcb_.sack_ok && sack_to_report()) {  // (in order: nothing to report, no call)
    // RFC 2018 3: as many blocks as fit in the option space beside the timestamps
    // (3 with them, 4 without).
    std::array<wire::SackBlock, wire::kTcpMaxSackBlocks> blocks;
    const std::size_t room = (wire::kTcpMaxOptionsLen - (tcb_.ts_ok ? kTsOptionBytes : 0) - 4) / 8;
    const std::size_t n = fill_sack_blocks(std::span(blocks).first(std::min(room, blocks.size())));
    if (n > 0) {
      b.put(0x01010500u | static_cast<std::uint32_t>(2 + 8 * n));  // NOP, NOP, kind 5, length
      for (std::size_t i = 0; i < n; ++i) {
        b.put(blocks[i].left.raw());
        b.put(blocks[i].right.raw());
      }
    }
  }
  send_header(b, flags, seq, window, tcb_.rcv_nxt, off, len);  // ACK is set on every templated segment
}

void Connection::emit_syn(std::uint8_t flags, std::uint16_t window, Instant now) {
  // The SYN or SYN-ACK's options in wire::write_tcp_header's layout (Linux
  // tcp_options_write's order: MSS, SACK-permitted with the timestamps or NOP-padded,
  // NOP + window scale), written and summed in one pass as emit_from_template does.
  const bool is_synack = (flags & kAck) != 0;
  HeaderBuilder b((std::uint32_t{key_.local_port} << 16) | key_.remote_port);
  b.put(0x02040000u | cfg_.mss);  // kind 2, length 4 (RFC 9293 3.2)
  // In a SYN-ACK, echo only what the peer offered (RFC 7323 1.3, RFC 2018 2).
  const bool sack = cfg_.sack && (!is_synack || peer_sack_);
  if (cfg_.timestamps && (!is_synack || peer_ts_)) {
    b.put(sack ? 0x0402080Au : kTsKindWord);  // SACK-permitted (kind 4, length 2) or NOP, NOP; then kind 8
    b.put(ts_now(now));
    b.put(is_synack ? tcb_.ts_recent : 0u);
  } else if (sack) {
    b.put(0x01010402u);
  }
  if (cfg_.window_scaling && (!is_synack || peer_wscale_)) {
    b.put(0x01030300u | std::min(cfg_.window_scale, kMaxWindowScale));  // NOP, kind 3, length 3 (RFC 7323 2.2)
  }
  send_header(b, flags, tcb_.iss, window, is_synack ? tcb_.rcv_nxt : SeqNum{0}, 0, 0);
}

void Connection::send_header(HeaderBuilder& b, std::uint8_t flags, SeqNum seq, std::uint16_t window, SeqNum ack,
                             std::size_t off, std::size_t len) {
  std::byte* const p = b.hdr.data();
  const auto header_len = static_cast<std::size_t>(b.q - p);
  store_be16(p, key_.local_port);
  store_be16(p + 2, key_.remote_port);
  const std::uint32_t word3 = (static_cast<std::uint32_t>(header_len / 4) << 28) |
                              (std::uint32_t{flags} << 16) | window;
  store_be32(p + 4, seq.raw());
  store_be32(p + 8, ack.raw());
  store_be32(p + 12, word3);
  store_be32(p + 16, 0);  // checksum (the host's), urgent pointer
  std::uint64_t sum = b.sum + std::uint64_t{seq.raw()} + ack.raw() + word3;
  sum = (sum & 0xFFFFFFFFu) + (sum >> 32);
  sum = (sum & 0xFFFFFFFFu) + (sum >> 32);
  auto s32 = static_cast<std::uint32_t>(sum);
  s32 = (s32 & 0xFFFFu) + (s32 >> 16);
  s32 = (s32 & 0xFFFFu) + (s32 >> 16);
  host_.transmit_built(*this, b.hdr, header_len, s32, off, len);
}

void Connection::send_syn(bool with_ack, Instant now) {
  if (!with_ack && !rtt_seq_ && retries_ == 0) {
    rtt_seq_ = tcb_.iss;
    rtt_start_ = now;
  }
  emit(with_ack ? (kSyn | kAck) : kSyn, tcb_.iss, 0, 0, now, /*syn_options=*/true);
  tcb_.snd_nxt = tcb_.iss + 1;
  tcb_.snd_max = seq_max(tcb_.snd_max, tcb_.snd_nxt);
}

void Connection::send_ack(Instant now) {
  // A pure ACK carries SND.MAX, not a SND.NXT rewound for retransmission (BSD
  // tcp_output does the same): the peer may already hold data beyond SND.NXT, and
  // an ACK that looks old to it would be answered by an ACK that looks old to us.
  emit(kAck, tcb_.snd_max, 0, 0, now);
}

void Connection::send_challenge_ack(Instant now) {
  // RFC 5961 7: challenge ACKs are rate limited stack-wide.
  if (!host_.challenge_ack_allowed()) {
    host_.count(Counter::tcp_challenge_ack_limited);
    return;
  }
  host_.count(Counter::tcp_challenge_ack);
  // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> in every state, SYN-RECEIVED included
  // (RFC 5961 3.2 and 4.2): not a retransmitted SYN-ACK.
  send_ack(now);
}

void Connection::send_rst(SeqNum seq, Instant now) {
  host_.count(Counter::tcp_rst_sent);
  emit(kRst, seq, 0, 0, now);
}

void Connection::send_active_reset(Instant now) {
  // <SEQ=SND.NXT><CTL=RST> (RFC 9293 3.10.5), sent as RST|ACK with ACK=RCV.NXT, the
  // window and the timestamp option, as Linux (tcp_send_active_reset) and FreeBSD
  // do: a RST's ACK field is ignored by RFC 9293's RST processing, and peers'
  // tests expect it.
  host_.count(Counter::tcp_rst_sent);
  emit(kRst | kAck, tcb_.snd_max, 0, 0, now);
}

}  // namespace riptide::tcp
