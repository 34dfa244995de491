// Connection: RFC 9293's state machine (FreeBSD's tcp_input). The opens, the
// segment arrival skeleton of 3.10.7 (on_segment and its first to eighth checks)
// and the application calls live here; output, loss recovery and timers are in
// connection_output.cpp, connection_recovery.cpp and connection_timers.cpp, and
// reassembly and the SACK scoreboard are types of their own.
#include "tcp/connection.hpp"

#include <algorithm>
#include <cassert>

#include "tcp/connection_internal.hpp"

namespace riptide::tcp {

using namespace detail;  // connection_internal.hpp

std::string_view to_string(CloseReason r) noexcept {
  switch (r) {
    case CloseReason::Normal: return "normal";
    case CloseReason::Reset: return "reset";
    case CloseReason::Aborted: return "aborted";
    case CloseReason::TimedOut: return "timed out";
    case CloseReason::Refused: return "refused";
    case CloseReason::Unreachable: return "unreachable";
  }
  return "?";
}

Connection::Connection(TcpHost& host, const TcpConfig& cfg, const FlowKey& key) noexcept
    : host_(host),
      cfg_(cfg),
      key_(key),
      rto_(cfg.rto_initial, cfg.rto_min, cfg.rto_max),
      algo_(cfg.congestion),
      rcv_buf_(cfg.rcv_buf),
      snd_buf_(cfg.snd_buf),
      nodelay_(cfg.nodelay) {
  keepalive_ = cfg.keepalive;
  keepalive_idle_ = cfg.keepalive_idle;
  keepalive_interval_ = cfg.keepalive_interval;
  keepalive_count_ = cfg.keepalive_count;
  set_template_sum();
}

Connection::~Connection() { release_buffers(); }

void Connection::release_buffers() noexcept {
  // Most buffers hold nothing by now (the out-of-order ranges nearly always).
  if (sndbuf_.holds_chunks()) sndbuf_.release(host_.chunk_pool());
  if (reass_.holds_data() || reass_.fin_held()) reass_.release(host_.chunk_pool());
}

// Every member, in declaration order, as the constructor and the default member
// initialisers leave it. A member added to Connection must be added here too:
// the size check below fails until it is looked at.
void Connection::recycle(const FlowKey& key) noexcept {
  assert(!sndbuf_.holds_chunks() && !reass_.holds_data());
  key_ = key;
  state_ = State::Closed;
  tcb_ = Tcb{};
  rto_ = RtoEstimator(cfg_.rto_initial, cfg_.rto_min, cfg_.rto_max);
  algo_ = cfg_.congestion;
  cc_ = CongestionControl{};
  rcv_buf_ = cfg_.rcv_buf;
  snd_buf_ = cfg_.snd_buf;
  // sndbuf_: released, kept.
  reass_.reset();
  dsack_.reset();
  last_ack_sent_ = SeqNum{};
  set_template_sum();  // after tcb_ (timestamps off)
  sack_.clear();
  high_rxt_ = SeqNum{};
  rcv_held_ = 0;
  rtt_seq_.reset();
  rtt_start_ = Instant{};
  connect_deadline_ = Instant{};
  retries_ = 0;
  persist_backoff_ = 0;
  keepalive_ = cfg_.keepalive;
  keepalive_idle_ = cfg_.keepalive_idle;
  keepalive_interval_ = cfg_.keepalive_interval;
  keepalive_count_ = cfg_.keepalive_count;
  keepalive_probes_ = 0;
  dupacks_ = 0;
  in_recovery_ = false;
  recover_ = SeqNum{};
  peer_mss_ = 536;
  peer_ts_ = false;
  peer_sack_ = false;
  peer_wscale_.reset();
  path_mss_ = 0xFFFF;
  soft_error_ = false;
  passive_ = false;
  fin_queued_ = false;
  fin_sent_ = false;
  fin_seq_ = SeqNum{};
  ack_now_ = false;
  ack_delayable_ = false;
  unacked_bytes_ = 0;
  quick_acks_ = 0;
  pingpong_ = false;
  last_data_at_.reset();
  zero_window_probe_ = false;
  snd_sml_ = SeqNum{};
  app_closed_ = false;
  peer_fin_ = false;
  nodelay_ = cfg_.nodelay;
  want_writable_ = false;
  closed_reported_ = false;
  pto_armed_ = false;
  tlp_high_.reset();
  in_input_ = false;
  shutdown_deferred_ = false;
  // host_data stays: the host's own slot. user_data is the application's.
  user_data = nullptr;
  // timers_pending is the host's too, and zero since the connection finished;
  // rtx_deadline and rtx_entry_at stay: the host's retransmission entry outlives
  // the connection that set it.
  assert(timers_pending == 0);
}
// recycle() lists every member: a change of Connection's size means one was
// added or removed there too (x86-64, libstdc++; FlowKey counted apart, so a
// change of address family does not trip it).
static_assert(sizeof(void*) != 8 || sizeof(Connection) - sizeof(FlowKey) == 1244,
              "a Connection member changed: update recycle()");

std::size_t Connection::send_space() const noexcept {
  return snd_buf_ > sndbuf_.size() ? snd_buf_ - sndbuf_.size() : 0;
}

// ----------------------------------------------------------------------------------
// State changes

void Connection::finish(State final_state, CloseReason r, Instant now) {
  host_.cancel_timers(*this);
  set_state(final_state, now);
  if (!closed_reported_) {
    closed_reported_ = true;
    host_.closed(*this, r);
  }
}

void Connection::enter_closed(CloseReason r, Instant now) { finish(State::Closed, r, now); }

void Connection::enter_time_wait(Instant now) {
  // RFC 9293 3.3.2: TIME-WAIT waits 2*MSL. The stack turns this connection into a
  // compact record (no buffers) when it sees the state change, and owns the timer.
  finish(State::TimeWait, CloseReason::Normal, now);
}

// ----------------------------------------------------------------------------------
// Opens

static void apply_negotiated(Tcb& tcb, const TcpConfig& cfg, std::uint16_t peer_mss, bool peer_ts,
                             bool peer_sack, std::optional<std::uint8_t> peer_wscale);

// The sequence variables of the three opens (active, passive, from a cookie),
// written once.
void Connection::init_send_sequence(SeqNum iss, std::uint32_t ts_offset) noexcept {
  tcb_.iss = iss;
  tcb_.snd_una = iss;
  tcb_.snd_nxt = iss;
  tcb_.snd_max = iss;
  snd_sml_ = iss;
  recover_ = iss;
  tcb_.ts_offset = ts_offset;
}

void Connection::init_receive_sequence(SeqNum irs) noexcept {
  // RFC 9293 3.10.7.2 / 3.10.7.3: IRS = SEG.SEQ, RCV.NXT = SEG.SEQ + 1.
  tcb_.irs = irs;
  tcb_.rcv_nxt = irs + 1;
  last_ack_sent_ = tcb_.rcv_nxt;
}

void Connection::init_send_window(const Segment& syn, SeqNum wl2) noexcept {
  // SND.WND from the peer's SYN or SYN-ACK, whose window is never scaled (RFC 7323
  // 2.2); SND.WL1 = SEG.SEQ, SND.WL2 = what it acknowledges (or our ISS).
  tcb_.snd_wnd = syn.window;
  tcb_.max_snd_wnd = tcb_.snd_wnd;
  tcb_.snd_wl1 = syn.seq;
  tcb_.snd_wl2 = wl2;
}

void Connection::agree_options(const Segment& seg) {
  // What both SYNs offered (peer_* set by negotiate_syn_options or the cookie).
  // A path MTU learned before the handshake completed caps the MSS like a smaller
  // peer MSS would (RFC 8201 5.4; on_path_mss).
  apply_negotiated(tcb_, cfg_, std::min(peer_mss_, path_mss_), peer_ts_, peer_sack_, peer_wscale_);
  cc_.init(algo_, tcb_.snd_mss);
  set_template_sum();  // the options layout is agreed now
  if (tcb_.ts_ok && seg.options.timestamps) tcb_.ts_recent = seg.options.timestamps->tsval;
}

void Connection::open_active(SeqNum iss, std::uint32_t ts_offset, Instant now) {
  assert(state_ == State::Closed);
  passive_ = false;
  init_send_sequence(iss, ts_offset);
  tcb_.rcv_wscale = cfg_.window_scaling ? std::min(cfg_.window_scale, kMaxWindowScale) : 0;
  if (cfg_.connect_timeout > Duration::zero()) connect_deadline_ = now + cfg_.connect_timeout;
  set_state(State::SynSent, now);
  send_syn(/*with_ack=*/false, now);
  arm_retransmit(now);
}

void Connection::negotiate_syn_options(const Segment& syn) {
  const auto& o = syn.options;
  // RFC 9293 3.7.1: absent MSS option means 536 (IPv4) or 1220 (IPv6, the
  // config's default_mss). Never send more than we can take.
  peer_mss_ = o.mss.value_or(cfg_.default_mss);
  peer_ts_ = o.timestamps.has_value();
  peer_sack_ = o.sack_permitted;
  peer_wscale_ = o.window_scale;
}

// Applies what both SYNs agreed (called once the peer's SYN is known and our own
// offer is fixed).
static void apply_negotiated(Tcb& tcb, const TcpConfig& cfg, std::uint16_t peer_mss, bool peer_ts,
                             bool peer_sack, std::optional<std::uint8_t> peer_wscale) {
  // RFC 7323 2.2: scaling only when both sides sent the option; shifts above 14
  // are taken as 14 (2.3).
  if (cfg.window_scaling && peer_wscale) {
    tcb.snd_wscale = std::min(*peer_wscale, kMaxWindowScale);
    tcb.rcv_wscale = std::min(cfg.window_scale, kMaxWindowScale);
  } else {
    tcb.snd_wscale = 0;
    tcb.rcv_wscale = 0;
  }
  tcb.ts_ok = cfg.timestamps && peer_ts;  // RFC 7323 3.2
  tcb.sack_ok = cfg.sack && peer_sack;    // RFC 2018 2
  // RFC 9293 3.7.1: never send more than the peer's MSS or our own.
  // DEVIATION(RFC 9293 3.7.1, MUST-16): a peer MSS below kMinMss (Linux's
  // TCP_MIN_MSS, 88) is raised to it, as Linux does: an MSS of 0..87 only makes a
  // sender burn packets (0 would stall it, and below 12 the timestamp room wraps).
  std::uint32_t mss = std::clamp<std::uint32_t>(std::min<std::uint32_t>(peer_mss, cfg.mss), kMinMss, cfg.mss);
  // RFC 6691: the MSS excludes options; leave room for the timestamp option we
  // put on every segment.
  if (tcb.ts_ok) mss -= kTsOptionLen;
  tcb.snd_mss = static_cast<std::uint16_t>(mss);
}

void Connection::open_passive(const Segment& syn, SeqNum iss, std::uint32_t ts_offset, Instant now) {
  assert(state_ == State::Closed);
  passive_ = true;
  set_state(State::Listen, now);  // the child starts as its listener's copy
  // RFC 9293 3.10.7.2: RCV.NXT = SEG.SEQ+1, IRS = SEG.SEQ, ISS chosen, SYN-ACK sent.
  init_receive_sequence(syn.seq);
  tcb_.rcv_adv = tcb_.rcv_nxt;
  init_send_sequence(iss, ts_offset);
  negotiate_syn_options(syn);
  agree_options(syn);
  init_send_window(syn, iss);
  set_state(State::SynReceived, now);
  send_syn(/*with_ack=*/true, now);
  arm_retransmit(now);
}

void Connection::open_from_cookie(const Segment& ack, const CookieOptions& opts,
                                  std::uint32_t ts_offset, Instant now) {
  assert(state_ == State::Closed);
  passive_ = true;
  set_state(State::Listen, now);
  // The cookie SYN-ACK had SEQ = ack - 1 and acknowledged SEG.SEQ; rebuild the
  // SYN-RECEIVED TCB it stands for (RFC 4987 3.6).
  init_send_sequence(ack.ack - 1, ts_offset);
  tcb_.snd_nxt = tcb_.iss + 1;  // the SYN-ACK is out
  tcb_.snd_max = tcb_.snd_nxt;
  init_receive_sequence(ack.seq - 1);
  peer_mss_ = opts.mss;
  peer_ts_ = opts.timestamps;
  peer_sack_ = opts.sack_permitted;
  peer_wscale_ = opts.window_scale;
  agree_options(ack);
  tcb_.rcv_adv = tcb_.rcv_nxt + std::min<std::uint32_t>(rcv_buf_, 0xFFFF);
  set_state(State::SynReceived, now);
  on_segment(ack, now);
}

// ----------------------------------------------------------------------------------
// Segment arrival: RFC 9293 3.10.7.3 (SYN-SENT) and 3.10.7.4 (everything else).
// LISTEN (3.10.7.2) and CLOSED (3.10.7.1) live in the stack, which owns listeners
// and answers segments for no connection.

void Connection::on_segment(const Segment& seg, Instant now) {
  // While a segment is processed, the application's send() and close() from its
  // callbacks only queue; the output() at the end sends it all at once, so the
  // response carries the ACK and the FIN rides on the last data (a 6-segment
  // connect-request-response-close exchange).
  // A shutdown asked for from a callback takes effect once the whole segment is
  // processed (its FIN included), as if the application had read everything
  // first: a peer's data+FIN answered by close() gives LAST-ACK, not CLOSING.
  struct InputScope {
    Connection& c;
    Instant now;
    InputScope(Connection& conn, Instant t) : c(conn), now(t) { c.in_input_ = true; }
    ~InputScope() {
      c.in_input_ = false;
      if (c.shutdown_deferred_) {  // a path that returned before the final output()
        c.apply_deferred_shutdown(now);
        c.output(now);
        c.flush_ack(now);
      }
    }
  } scope(*this, now);
  zero_window_probe_ = false;
  if (header_predicted(seg, now)) return;
  const bool handshake = state_ == State::SynReceived;
  switch (state_) {
    case State::Closed:
    case State::Listen:
    case State::TimeWait:  // handled by the stack's compact TIME-WAIT record
      return;
    case State::SynSent:
      on_segment_syn_sent(seg, now);
      return;
    default:
      break;
  }
  if (!check_sequence(seg, now)) return;  // first: sequence number (and PAWS)
  touch_keepalive(now);
  // A probe of our zero window goes on as if it carried no text and no FIN
  // (check_sequence set zero_window_probe_): the fifth step does not count them
  // (is_duplicate_ack), the seventh and eighth skip them. No copy of the segment
  // is made for that.
  if (!check_rst(seg, now)) return;       // second: RST bit
  // third: security/compartment has no meaning here (RFC 9293 3.10.7.4, obsolete).
  if (!check_syn(seg, now)) return;       // fourth: SYN bit
  if (!check_ack(seg, now)) return;       // fifth: ACK field
  // RFC 7323 4.3: TS.Recent only from a segment that passed the checks above (as
  // Linux does), so a blind segment cannot poison PAWS with a huge TSval.
  update_ts_recent(seg);
  // sixth: URG. RFC 6093 deprecates urgent data; riptide treats it as plain data.
  process_text(seg, now);                 // seventh: segment text
  if (state_ == State::Closed) return;    // data after close() reset the connection
  process_fin(seg, now);                  // eighth: FIN bit
  if (handshake) ack_delayable_ = false;  // data on the handshake's ACK: ACK at once
  apply_deferred_shutdown(now);
  output(now);
  flush_ack(now);
}

bool Connection::header_predicted(const Segment& seg, Instant now) {
  // Van Jacobson's header prediction as BSD's tcp_input has it, for ESTABLISHED:
  // ACK (PSH allowed) with no SYN, FIN, RST or URG; SEG.SEQ = RCV.NXT; the window
  // unchanged; nothing retransmitted, out of order, SACKed or in recovery; PAWS
  // passed (RFC 7323 5.3). Then the first check (acceptability) holds, the
  // second, fourth and sixth have nothing to do, and the fifth is either new data
  // acknowledged or, with text, nothing new (never a duplicate ACK, RFC 5681 2).
  if (state_ != State::Established) return false;
  if ((seg.flags & (kSyn | kFin | kRst | kUrg | kAck)) != kAck) return false;
  if (seg.seq != tcb_.rcv_nxt || tcb_.snd_nxt != tcb_.snd_max) return false;
  if ((static_cast<std::uint32_t>(seg.window) << tcb_.snd_wscale) != tcb_.snd_wnd) return false;
  if (in_recovery_ || dupacks_ != 0 || seg.options.sack_count != 0 || !sack_.empty() || dsack_) return false;
  if (reass_.holds_data() || reass_.fin_held() || app_closed_) return false;
  if (tcb_.ts_ok) {
    if (!seg.options.timestamps) return false;
    if (static_cast<std::int32_t>(seg.options.timestamps->tsval - tcb_.ts_recent) < 0) return false;
  }
  const bool new_ack = tcb_.snd_una < seg.ack && seg.ack <= tcb_.snd_max;
  if (seg.payload.empty()) {
    if (!new_ack) return false;  // a duplicate or window-only ACK: the full path
  } else {
    if (!new_ack && seg.ack != tcb_.snd_una) return false;
    // The whole text inside the window we advertised (no trimming).
    const std::int32_t wnd = tcb_.rcv_adv - tcb_.rcv_nxt;
    if (wnd <= 0 || seg.payload.size() > static_cast<std::uint32_t>(wnd)) return false;
  }
  if (seg.ack < tcb_.snd_una - tcb_.max_snd_wnd) return false;  // RFC 5961 5.2 (as ack_acceptable)
  host_.count(Counter::tcp_header_predicted);
  touch_keepalive(now);
  if (new_ack && !on_new_ack(seg, now)) return true;  // fifth: SND.UNA advances
  update_window(seg);
  update_ts_recent(seg);                               // RFC 7323 4.3
  if (!seg.payload.empty()) {
    receive_in_order(seg.payload, now);                // seventh
    if (state_ == State::Closed) return true;
  }
  apply_deferred_shutdown(now);
  output(now);
  flush_ack(now);
  return true;
}

void Connection::apply_deferred_shutdown(Instant now) {
  if (!shutdown_deferred_) return;
  shutdown_deferred_ = false;
  if (state_ == State::Closed || state_ == State::TimeWait) return;
  const bool in_input = std::exchange(in_input_, false);  // this time, for real
  shutdown_write(now);
  in_input_ = in_input;
  if (app_closed_ && state_ == State::FinWait2) host_.set_timer(*this, TimerKind::FinWait2, now + cfg_.time_wait);
}

void Connection::flush_ack(Instant now) {
  if (ack_now_ && state_ != State::Closed && state_ != State::TimeWait) {
    // RFC 9293 3.8.6.3 (RFC 1122 4.2.3.2): an ACK for in-order data may wait
    // (< 0.5 s), but not past every second full-sized segment. As in Linux, the
    // first data segments of a connection (and those after a long silence or a
    // duplicate) are ACKed at once unless the exchange is interactive: the peer's
    // slow start grows with our ACKs, and a request/response exchange carries its
    // ACKs on the responses anyway (quick-ACK mode, tcp_in_quickack_mode).
    const bool quick = quick_acks_ > 0 && !pingpong_;
    if (ack_delayable_ && !quick && cfg_.delayed_ack > Duration::zero() && unacked_bytes_ < 2u * tcb_.snd_mss) {
      if (!host_.timer_pending(*this, TimerKind::DelayedAck)) {
        host_.set_timer(*this, TimerKind::DelayedAck, now + cfg_.delayed_ack);
      }
    } else {
      send_ack(now);
    }
  }
  ack_now_ = false;
  ack_delayable_ = false;
}

void Connection::on_segment_syn_sent(const Segment& seg, Instant now) {
  // RFC 9293 3.10.7.3, first: check the ACK bit.
  const bool ack_acceptable = seg.has(kAck) && tcb_.iss < seg.ack && seg.ack <= tcb_.snd_max;
  if (seg.has(kAck) && !ack_acceptable) {
    // SEG.ACK =< ISS or SEG.ACK > SND.NXT: <SEQ=SEG.ACK><CTL=RST>, unless RST.
    if (!seg.has(kRst)) send_rst(seg.ack, now);
    host_.count(Counter::tcp_drop_syn_sent);
    return;
  }
  // second: the RST bit. RFC 5961 3.2 for SYN-SENT: only with an acceptable ACK.
  if (seg.has(kRst)) {
    if (ack_acceptable) {
      host_.count(Counter::tcp_rst_received);
      enter_closed(CloseReason::Refused, now);  // "error: connection reset"
    } else {
      host_.count(Counter::tcp_drop_syn_sent);
    }
    return;
  }
  // fourth: the SYN bit.
  if (!seg.has(kSyn)) {
    host_.count(Counter::tcp_drop_syn_sent);  // fifth: neither SYN nor RST: drop
    return;
  }
  init_receive_sequence(seg.seq);
  // Our SYN offered an unscaled window (RFC 7323 2.2): that is the edge promised.
  tcb_.rcv_adv = tcb_.rcv_nxt + std::min<std::uint32_t>(
                                    rcv_buf_ > rcv_held_ ? rcv_buf_ - rcv_held_ : 0, 0xFFFF);
  negotiate_syn_options(seg);
  agree_options(seg);
  if (seg.has(kAck)) {
    // Our SYN is acknowledged: ESTABLISHED, <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>.
    tcb_.snd_una = seg.ack;
    if (tcb_.snd_nxt < tcb_.snd_una) tcb_.snd_nxt = tcb_.snd_una;
    init_send_window(seg, seg.ack);
    rtt_sample(seg, now);  // (Karn: rtt_seq_ was reset if the SYN was retransmitted)
    rtt_seq_.reset();
    retries_ = 0;
    host_.cancel_timer(*this, TimerKind::Retransmit);
    set_state(State::Established, now);
    touch_keepalive(now);
    // The handshake's ACK is owed; if the application sends from on_connected,
    // the request carries it (no separate pure ACK).
    ack_now_ = true;
    host_.event(*this, ConnEvent::Connected);
    if (state_ == State::Closed) return;  // the application aborted in the callback
    // RFC 9293 3.10.7.3: "continue processing at the sixth step": data or FIN
    // that rode on the SYN-ACK.
    if (!seg.payload.empty() || seg.has(kFin)) {
      Segment rest = seg;
      rest.flags = static_cast<std::uint8_t>(rest.flags & ~kSyn);
      rest.seq = seg.seq + 1;
      process_text(rest, now);
      if (state_ == State::Closed) return;
      process_fin(rest, now);
    }
    ack_delayable_ = false;  // the handshake's ACK goes at once
    apply_deferred_shutdown(now);
    output(now);
    flush_ack(now);
    return;
  }
  // Simultaneous open (RFC 9293 3.5 figure 8): SYN-RECEIVED, <SEQ=ISS><ACK=RCV.NXT>
  // <CTL=SYN,ACK>. Data on the SYN is not queued; the peer will send it again.
  init_send_window(seg, tcb_.iss);
  set_state(State::SynReceived, now);
  tcb_.snd_nxt = tcb_.iss;  // the SYN-ACK re-sends our SYN's sequence number
  send_syn(/*with_ack=*/true, now);
  arm_retransmit(now);
}

bool Connection::check_sequence(const Segment& seg, Instant now) {
  // RFC 7323 5.3 PAWS: a timestamped segment older than TS.Recent is a duplicate
  // from an earlier incarnation of the sequence space (R1), unless it is a RST.
  if (tcb_.ts_ok && seg.options.timestamps && !seg.has(kRst) &&
      static_cast<std::int32_t>(seg.options.timestamps->tsval - tcb_.ts_recent) < 0) {
    host_.count(Counter::tcp_paws_rejected);
    send_ack(now);
    return false;
  }
  // RFC 9293 3.10.7.4 first: the four acceptability cases.
  const std::uint32_t wnd = std::max<std::int32_t>(0, tcb_.rcv_adv - tcb_.rcv_nxt);
  const std::uint32_t len = seg.seg_len();
  bool acceptable;
  if (len == 0) {
    acceptable = wnd == 0 ? seg.seq == tcb_.rcv_nxt
                          : seq_in_range(tcb_.rcv_nxt, seg.seq, tcb_.rcv_nxt + wnd);
  } else if (wnd == 0) {
    acceptable = false;
  } else {
    acceptable = seq_in_range(tcb_.rcv_nxt, seg.seq, tcb_.rcv_nxt + wnd) ||
                 seq_in_range(tcb_.rcv_nxt, seg.seq + (len - 1), tcb_.rcv_nxt + wnd);
  }
  if (!acceptable && wnd == 0 && !seg.has(kSyn | kRst) &&
      (seg.seq == tcb_.rcv_nxt || seg.seq == tcb_.rcv_nxt - 1)) {
    // RFC 9293 3.10.7.4: with a zero window "special allowance should be made to
    // accept valid ACKs, URGs, and RSTs": the caller goes on with the text and FIN
    // stripped (zero_window_ tells it), and the segment is answered with an ACK.
    // That covers window probes with data at RCV.NXT and Linux's probes at
    // RCV.NXT - 1, which carry the ACK for our own data: ignoring it would leave
    // our retransmission timer to fire for data already acknowledged.
    host_.count(Counter::tcp_drop_unacceptable);
    zero_window_probe_ = true;
    ack_now_ = true;
    return true;
  }
  if (!acceptable) {
    if (seg.has(kRst)) {
      host_.count(Counter::tcp_drop_unacceptable);
      return false;  // RST outside the window: drop silently (RFC 5961 3.2)
    }
    if (state_ == State::SynReceived && seg.has(kSyn) && !seg.has(kAck) && seg.seq == tcb_.irs) {
      // The peer retransmitted its SYN: our SYN-ACK was lost. Answer with the
      // SYN-ACK again rather than a bare ACK (what Linux does; the RFC's
      // <SEQ=SND.NXT><ACK=RCV.NXT> ACK would carry no SYN).
      send_syn(/*with_ack=*/true, now);
      return false;
    }
    // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, then drop. A duplicate of data already
    // received is reported with a D-SACK block (RFC 2883 4).
    host_.count(Counter::tcp_drop_unacceptable);
    // RFC 7323 4.3 / 5.3 R3: a duplicate of the last data we ACKed (it ends at
    // Last.ACK.sent: our ACK was lost) is timestamped by the peer's retransmission,
    // and the ACK it draws echoes that TSval so the peer's RTT sample is right.
    // Only at exactly that edge (as Linux, whose tcp_sequence accepts a segment
    // ending at rcv_wup): an older duplicate cannot move TS.Recent.
    if (!seg.has(kSyn) && seg.seg_len() > 0 && seg.seq + seg.seg_len() == last_ack_sent_) update_ts_recent(seg);
    // Data or a FIN wholly below RCV.NXT: a D-SACK block for it (RFC 2883 4; a
    // duplicate FIN too, as Linux reports it: it tells the peer its retransmission
    // was spurious).
    if (!seg.has(kSyn) && seg.seg_len() > 0 && seg.seq + seg.seg_len() <= tcb_.rcv_nxt) {
      report_duplicate(seg.seq, seg.seq + seg.seg_len());
    }
    send_ack(now);
    return false;
  }
  return true;
}

void Connection::update_ts_recent(const Segment& seg) {
  // RFC 7323 4.3 (2): TS.Recent <- SEG.TSval when SEG.SEQ =< Last.ACK.sent: with
  // delayed ACKs, the ACK echoes the earliest segment it acknowledges (the RTT the
  // peer measures includes our delay). Linux: tcp_replace_ts_recent, rcv_wup.
  if (tcb_.ts_ok && seg.options.timestamps && seg.seq <= last_ack_sent_ &&
      static_cast<std::int32_t>(seg.options.timestamps->tsval - tcb_.ts_recent) >= 0) {
    tcb_.ts_recent = seg.options.timestamps->tsval;
  }
}

bool Connection::check_rst(const Segment& seg, Instant now) {
  if (!seg.has(kRst)) return true;
  // RFC 5961 3.2 (RFC 9293 3.10.7.4 second): reset only on an exact match with
  // RCV.NXT; anything else in the window draws a challenge ACK.
  if (seg.seq != tcb_.rcv_nxt) {
    send_challenge_ack(now);
    return false;
  }
  host_.count(Counter::tcp_rst_received);
  switch (state_) {
    case State::SynReceived:
      // Passive open: "return this connection to LISTEN": the listener never saw
      // it, so it simply goes away. Active (simultaneous) open: refused.
      enter_closed(passive_ ? CloseReason::Reset : CloseReason::Refused, now);
      break;
    default:
      // ESTABLISHED, FIN-WAIT-1/2, CLOSE-WAIT: "connection reset". CLOSING and
      // LAST-ACK: RFC 9293 just enters CLOSED, but our FIN was never acknowledged,
      // so the peer may not have all our data; Linux and FreeBSD report ECONNRESET
      // there too (docs/rfc-compliance.md).
      enter_closed(CloseReason::Reset, now);
      break;
  }
  return false;
}

bool Connection::check_syn(const Segment& seg, Instant now) {
  if (!seg.has(kSyn)) return true;
  if (state_ == State::SynReceived && passive_) {
    // RFC 9293 3.10.7.4 fourth: "If the connection was initiated with a passive
    // OPEN, then return this connection to the LISTEN state and return." The
    // listener never handed it out, so it just goes; the peer's next SYN starts over.
    host_.count(Counter::tcp_drop_listen);
    enter_closed(CloseReason::Reset, now);
    return false;
  }
  // RFC 9293 3.10.7.4 fourth / RFC 5961 4.2: a SYN in a synchronized state (or in
  // SYN-RECEIVED) gets a challenge ACK, whatever its sequence number. An old
  // duplicate or a peer that lost the connection (half-open) answers with a RST
  // that exactly matches RCV.NXT.
  send_challenge_ack(now);
  return false;
}

bool Connection::check_ack(const Segment& seg, Instant now) {
  // RFC 9293 3.10.7.4 fifth: "if the ACK bit is off, drop the segment".
  if (!seg.has(kAck)) {
    host_.count(Counter::tcp_drop_no_ack);
    return false;
  }
  if (state_ == State::SynReceived) return complete_handshake(seg, now);
  if (!ack_acceptable(seg, now)) return false;
  const std::uint32_t newly_sacked = tcb_.sack_ok && seg.options.sack_count > 0 ? record_sack(seg) : 0;
  if (is_duplicate_ack(seg, newly_sacked)) on_duplicate_ack(now);
  if (tcb_.snd_una < seg.ack && !on_new_ack(seg, now)) return false;
  // RFC 9293 3.10.7.4: window update when the segment is newer than the last one.
  update_window(seg);
  return on_fin_acked(now);
}

bool Connection::complete_handshake(const Segment& seg, Instant now) {
  // SND.UNA < SEG.ACK =< SND.NXT: ESTABLISHED; otherwise <SEQ=SEG.ACK><CTL=RST>.
  if (!(tcb_.snd_una < seg.ack && seg.ack <= tcb_.snd_max)) {
    host_.count(Counter::tcp_drop_bad_ack);
    send_rst(seg.ack, now);
    return false;
  }
  tcb_.snd_una = seg.ack;
  if (tcb_.snd_nxt < tcb_.snd_una) tcb_.snd_nxt = tcb_.snd_una;
  // RFC 9293 3.10.7.4: SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK.
  tcb_.snd_wnd = static_cast<std::uint32_t>(seg.window) << tcb_.snd_wscale;
  tcb_.max_snd_wnd = std::max(tcb_.max_snd_wnd, tcb_.snd_wnd);
  tcb_.snd_wl1 = seg.seq;
  tcb_.snd_wl2 = seg.ack;
  rtt_sample(seg, now);
  retries_ = 0;
  host_.cancel_timer(*this, TimerKind::Retransmit);
  set_state(State::Established, now);
  touch_keepalive(now);
  host_.event(*this, passive_ ? ConnEvent::Established : ConnEvent::Connected);
  if (state_ == State::Closed) return false;
  // RFC 9293 3.10.4: a CLOSE issued in SYN-RECEIVED was queued until now.
  if (fin_queued_ && state_ == State::Established) set_state(State::FinWait1, now);
  // The ACK that completed the handshake may carry data and FIN: go on.
  return true;
}

bool Connection::ack_acceptable(const Segment& seg, Instant now) {
  // RFC 5961 5.2: acceptable is (SND.UNA - MAX.SND.WND) =< SEG.ACK =< SND.NXT.
  // Older ACKs are dropped and answered with an ACK (rate limited).
  if (seg.ack > tcb_.snd_max) {
    // RFC 9293: "If the ACK acks something not yet sent ... send an ACK, drop".
    // RFC 5961 5.2 / 7: that ACK is throttled like a challenge ACK. Unthrottled, two
    // desynchronized ends (a peer ahead of us, e.g. after a SYN cookie rebuilt a
    // connection it had already closed) ACK each other's ACKs forever: our ACK is
    // below its window, its ACK is above our SND.MAX.
    host_.count(Counter::tcp_drop_bad_ack);
    send_challenge_ack(now);
    return false;
  }
  if (seg.ack < tcb_.snd_una - tcb_.max_snd_wnd) {
    host_.count(Counter::tcp_drop_old_ack);
    send_challenge_ack(now);
    return false;
  }
  return true;
}

bool Connection::is_duplicate_ack(const Segment& seg, std::uint32_t newly_sacked) const noexcept {
  // RFC 5681 2 (DUPLICATE ACKNOWLEDGMENT): nothing new acknowledged, no data, no
  // SYN/FIN, the same window, and data outstanding. With SACK negotiated, an ACK
  // carrying SACK blocks counts even if the window moved (as FreeBSD and Linux
  // do: a receiver whose application reads keeps changing its window), and so does
  // RFC 6675's DupAck: any segment, data-carrying included (a peer sending data
  // its ACKs ride on), whose SACK blocks report octets not SACKed before.
  const bool outstanding = tcb_.snd_max != tcb_.snd_una;
  if (seg.ack != tcb_.snd_una || !outstanding) return false;  // new data ACKed, or none was out
  if (newly_sacked > 0) return true;
  const bool same_window = (static_cast<std::uint32_t>(seg.window) << tcb_.snd_wscale) == tcb_.snd_wnd;
  const bool sack_info = tcb_.sack_ok && seg.options.sack_count > 0;
  // A zero-window probe counts without its text and FIN (on_segment); its SYN bit
  // is clear, or check_syn would have ended it.
  const bool bare = zero_window_probe_ || (seg.payload.empty() && !seg.has(kSyn | kFin));
  return bare && (same_window || sack_info);
}

void Connection::on_duplicate_ack(Instant now) {
  host_.count(Counter::tcp_dup_ack);
  ++dupacks_;
  if (!in_recovery_ && tcb_.snd_una >= recover_) {
    // RFC 5681 3.2 (2): the third duplicate ACK starts fast retransmit. RFC 6675 5
    // adds: or the scoreboard already shows SND.UNA lost (IsLost(HighACK + 1)).
    // RFC 6582 4.1: not for duplicates of what was outstanding when the last
    // recovery began (SND.UNA < recover).
    if (dupacks_ == kDupThresh || (tcb_.sack_ok && !sack_.empty() && lost_at_una())) {
      enter_recovery(now);
    }
  } else if (in_recovery_ && !tcb_.sack_ok && dupacks_ > kDupThresh) {
    // RFC 6582 3.2 step 4 (RFC 5681 3.2 (4)): each further duplicate means a
    // segment left the network: inflate. (RFC 6675 counts that in the pipe.)
    cc_.cwnd += tcb_.snd_mss;
  }
}

bool Connection::on_new_ack(const Segment& seg, Instant now) {
  // New data acknowledged (RFC 9293: SND.UNA <- SEG.ACK).
  std::uint32_t acked = static_cast<std::uint32_t>(seg.ack - tcb_.snd_una);
  rtt_sample(seg, now);
  // Sequence space: [SYN][data...][FIN]. Data bytes acknowledged exclude both.
  std::uint32_t data_acked = acked;
  if (fin_sent_ && seg.ack > fin_seq_) data_acked -= 1;  // our FIN
  data_acked = std::min<std::uint32_t>(data_acked, static_cast<std::uint32_t>(sndbuf_.size()));
  // An ACK of the FIN alone frees nothing (consume(0) is a no-op: an emptied chunk
  // went when its last byte was acknowledged).
  if (data_acked > 0) sndbuf_.consume(data_acked, host_.chunk_pool());
  tcb_.snd_una = seg.ack;
  if (tcb_.snd_nxt < tcb_.snd_una) tcb_.snd_nxt = tcb_.snd_una;
  prune_sacked();
  retries_ = 0;
  dupacks_ = 0;
  if (tlp_high_ && tcb_.snd_una >= *tlp_high_) tlp_high_.reset();  // RFC 8985 7.4: the episode is over
  if (in_recovery_) {
    if (seg.ack >= recover_) {
      // Full acknowledgment: leave recovery. RFC 6582 3.2 step 3: deflate to
      // min(ssthresh, FlightSize + SMSS). (With RFC 6675 cwnd already is ssthresh
      // and the pipe did the rest; the same deflation is harmless.)
      const std::uint32_t flight = static_cast<std::uint32_t>(tcb_.snd_max - tcb_.snd_una);
      cc_.cwnd = std::min<std::uint32_t>(cc_.ssthresh, std::max<std::uint32_t>(flight, tcb_.snd_mss) + tcb_.snd_mss);
      cc_.on_recovery_end();
      in_recovery_ = false;
    } else if (!tcb_.sack_ok) {
      // RFC 6582 3.2 step 3, partial acknowledgment: the next hole is lost too.
      // Retransmit it, deflate by what was acknowledged, add back one SMSS, stay in
      // recovery.
      host_.count(Counter::tcp_recovery_partial_ack);
      retransmit_first(now);
      cc_.cwnd = (cc_.cwnd > acked ? cc_.cwnd - acked : 0) + tcb_.snd_mss;
    } else {
      // RFC 6675 5 (C): a partial ACK only shrinks the pipe; NextSeg() decides
      // what goes next (sack_recovery_output, from output()).
      host_.count(Counter::tcp_recovery_partial_ack);
    }
  } else {
    // RFC 5681 3.1 slow start / congestion avoidance, or RFC 9438 CUBIC.
    cc_.on_ack(acked, now, rto_.srtt());
  }
  // RFC 6298 5.2/5.3: stop the timer when all is acknowledged, else restart it.
  if (tcb_.snd_una == tcb_.snd_max) {
    host_.cancel_timer(*this, TimerKind::Retransmit);
  } else {
    arm_retransmit(now);
  }
  if (want_writable_ && send_space() > 0 && !fin_queued_) {
    want_writable_ = false;
    host_.event(*this, ConnEvent::Writable);
    if (state_ == State::Closed) return false;
  }
  return true;
}

bool Connection::on_fin_acked(Instant now) {
  // RFC 9293 3.10.7.4 fifth, per state: what the acknowledgment of our FIN does.
  switch (state_) {
    case State::FinWait1:
      // "if the FIN segment is now acknowledged, then enter FIN-WAIT-2".
      if (fin_acked()) {
        set_state(State::FinWait2, now);
        if (app_closed_) host_.set_timer(*this, TimerKind::FinWait2, now + cfg_.time_wait);
      }
      break;
    case State::Closing:
      // "if the ACK acknowledges our FIN, then enter the TIME-WAIT state".
      if (fin_acked()) {
        enter_time_wait(now);
        return false;
      }
      break;
    case State::LastAck:
      // "if our FIN is now acknowledged, delete the TCB, enter CLOSED".
      if (fin_acked()) {
        enter_closed(CloseReason::Normal, now);
        return false;
      }
      break;
    default:
      break;
  }
  return true;
}

void Connection::update_window(const Segment& seg) {
  // RFC 9293 3.10.7.4: "If SND.UNA =< SEG.ACK =< SND.NXT, the send window should be
  // updated" when the segment is newer than the one that set it last.
  if (seg.ack < tcb_.snd_una) return;
  if (tcb_.snd_wl1 < seg.seq || (tcb_.snd_wl1 == seg.seq && tcb_.snd_wl2 <= seg.ack)) {
    tcb_.snd_wnd = static_cast<std::uint32_t>(seg.window) << tcb_.snd_wscale;
    tcb_.max_snd_wnd = std::max(tcb_.max_snd_wnd, tcb_.snd_wnd);
    tcb_.snd_wl1 = seg.seq;
    tcb_.snd_wl2 = seg.ack;
  }
}

void Connection::rtt_sample(const Segment& seg, Instant now) {
  // One RTT measurement per ACK, for data and for the handshake alike.
  if (tcb_.ts_ok && seg.options.timestamps && seg.options.timestamps->tsecr != 0) {
    // RFC 7323 4.1: RTTM from the echoed timestamp (valid across retransmissions).
    const auto rtt = static_cast<std::int32_t>(ts_now(now) - seg.options.timestamps->tsecr);
    if (rtt >= 0) rto_.sample(milliseconds{rtt});
  } else if (rtt_seq_ && *rtt_seq_ < seg.ack) {
    rto_.sample(now - rtt_start_);  // RFC 6298 3 (Karn): rtt_seq_ is reset on timeout
  }
  if (rtt_seq_ && *rtt_seq_ < seg.ack) rtt_seq_.reset();
}

void Connection::process_text(const Segment& seg, Instant now) {
  // A zero-window probe's text is not taken (check_sequence, RFC 9293 3.10.7.4).
  if (seg.payload.empty() || zero_window_probe_) return;
  switch (state_) {
    case State::Established:
    case State::FinWait1:
    case State::FinWait2:
      break;
    default:
      // CLOSE-WAIT, CLOSING, LAST-ACK: "this should not occur, since a FIN has been
      // received from the remote side. Ignore the segment text."
      return;
  }
  // Trim what lies before RCV.NXT (RFC 9293 3.10.7.4: "only the new parts").
  std::span<const std::byte> data = seg.payload;
  SeqNum start = seg.has(kSyn) ? seg.seq + 1 : seg.seq;
  if (start < tcb_.rcv_nxt) {
    const auto skip = static_cast<std::size_t>(tcb_.rcv_nxt - start);
    if (skip >= data.size()) return;
    // RFC 2883 4: the old part of a segment that straddles RCV.NXT is a duplicate:
    // report it in a D-SACK block, on an ACK that goes at once.
    report_duplicate(start, tcb_.rcv_nxt);
    data = data.subspan(skip);
    start = tcb_.rcv_nxt;
  }
  // Trim what lies beyond the window.
  const std::uint32_t wnd = std::max<std::int32_t>(0, tcb_.rcv_adv - tcb_.rcv_nxt);
  const auto room = static_cast<std::size_t>(std::max<std::int32_t>(0, (tcb_.rcv_nxt + wnd) - start));
  if (data.size() > room) data = data.first(room);
  if (data.empty()) return;
  if (app_closed_) {
    // RFC 1122 4.2.2.13 (RFC 2525 2.17): new data after CLOSE, in order or not:
    // RST to show it was lost. (Old data, already acknowledged, was trimmed above
    // and only draws an ACK.)
    host_.count(Counter::tcp_drop_after_close);
    send_rst(tcb_.snd_max, now);
    enter_closed(CloseReason::Aborted, now);
    return;
  }
  if (start != tcb_.rcv_nxt) {
    // Out of order: held for reassembly, and a duplicate ACK (with SACK blocks
    // when negotiated) goes at once (RFC 5681 4.2, RFC 2018).
    queue_out_of_order(start, data);
    ack_now_ = true;
    ack_delayable_ = false;  // RFC 5681 4.2: out-of-order data is ACKed at once
    return;
  }
  receive_in_order(data, now);
}

void Connection::receive_in_order(std::span<const std::byte> data, Instant now) {
  on_data_arrival(now);
  tcb_.rcv_nxt += static_cast<std::uint32_t>(data.size());
  // The ACK goes out once, at the end of processing, on data if there is any.
  // In-order data that fills no hole may have its ACK delayed (flush_ack).
  const bool filled_hole = reass_.holds_data();
  unacked_bytes_ += static_cast<std::uint32_t>(data.size());
  if (!ack_now_) ack_delayable_ = !filled_hole;
  ack_now_ = true;
  host_.deliver(*this, data);
  if (state_ != State::Closed) deliver_in_order();
}

void Connection::enter_quick_ack_mode() noexcept {
  // Linux tcp_incr_quickack: up to 16 immediate ACKs, no more than half a window
  // of full-sized segments' worth, at least 2.
  constexpr std::uint32_t kMaxQuickAcks = 16;
  const std::uint32_t by_window = rcv_wnd() / (2 * std::max<std::uint32_t>(tcb_.snd_mss, 1));
  const auto n = static_cast<std::uint8_t>(std::clamp<std::uint32_t>(by_window, 2, kMaxQuickAcks));
  quick_acks_ = std::max(quick_acks_, n);
}

void Connection::on_data_arrival(Instant now) {
  // The first data, or data after a silence longer than the RTO (the sender
  // failed to restart its window): ACK the next segments at once (Linux
  // tcp_event_data_recv).
  if (!last_data_at_ || now - *last_data_at_ > rto_.rto()) enter_quick_ack_mode();
  last_data_at_ = now;
}

void Connection::hold_fin(const Segment& seg, SeqNum fin_at) {
  // A FIN beyond a hole is kept with the out-of-order data and takes effect when
  // the hole fills (RFC 9293 3.10.7.4 seventh/eighth: segments beyond RCV.NXT may be
  // held; the FIN is processed in sequence), instead of costing the peer a
  // retransmission timeout. It is SACKed like data (Linux queues it the same way),
  // and a duplicate ACK tells the peer where the hole is (RFC 5681 4.2). Held only
  // if it lies in the window and every byte before it in this segment was held.
  ack_now_ = true;
  ack_delayable_ = false;
  const std::uint32_t wnd = std::max<std::int32_t>(0, tcb_.rcv_adv - tcb_.rcv_nxt);
  if (!seq_in_range(tcb_.rcv_nxt, fin_at, tcb_.rcv_nxt + wnd)) return;
  const bool data_held = seg.payload.empty() || reass_.ends_at(fin_at);
  if (data_held) (void)reass_.hold_fin(fin_at);
}

void Connection::report_duplicate(SeqNum start, SeqNum end) {
  // A retransmission of data we hold means our ACKs are being lost or late:
  // ACK the next segments at once too (Linux tcp_data_queue: quick-ACK mode, out
  // of ping-pong).
  enter_quick_ack_mode();
  pingpong_ = false;
  // RFC 2883: one D-SACK block, on the next ACK, which goes at once.
  if (!tcb_.sack_ok || !(start < end)) return;
  dsack_ = wire::SackBlock{start, end};
  host_.count(Counter::tcp_dsack_sent);
  ack_now_ = true;
  ack_delayable_ = false;
}

void Connection::queue_out_of_order(SeqNum start, std::span<const std::byte> data) {
  const Reassembly::Held held = reass_.hold(start, data, rcv_buf_, host_.chunk_pool());
  // RFC 2883 4 (4.2, example 5): out-of-order data we already hold is reported as
  // a D-SACK block, followed by the block that holds it (most recent first).
  if (held.duplicate && !dsack_) report_duplicate(held.duplicate->left, held.duplicate->right);
  // Beyond 8 holes, a dry chunk pool or past a held FIN, the rest is not held.
  host_.count(held.complete ? Counter::tcp_out_of_order : Counter::tcp_drop_out_of_order);
}

void Connection::deliver_in_order() {
  reass_.deliver(tcb_.rcv_nxt, host_.chunk_pool(), [this](std::span<const std::byte> piece) {
    host_.deliver(*this, piece);
    return state_ != State::Closed;
  });
}

std::uint32_t Connection::seg_mss_with_sack() const noexcept {
  // RFC 6691 / RFC 2018: SND.MSS already leaves room for the timestamp option; a
  // data segment sent while we hold out-of-order data also carries SACK blocks
  // (up to 36 bytes more), which must come out of its payload: otherwise the
  // packet outgrows the MTU and the link drops it (Linux: tcp_current_mss).
  const std::size_t blocks = (dsack_ ? 1 : 0) + reass_.block_count();
  if (blocks == 0) return tcb_.snd_mss;
  wire::TcpOptions o;
  if (tcb_.ts_ok) o.timestamps = wire::TcpTimestamps{0, 0};
  const std::size_t without = wire::tcp_options_length(o);
  o.sack_count = static_cast<std::uint8_t>(std::min<std::size_t>(blocks, o.sack_blocks.size()));
  const std::size_t with = wire::tcp_options_length(o);
  return tcb_.snd_mss - static_cast<std::uint32_t>(with - without);
}

std::size_t Connection::fill_sack_blocks(std::span<wire::SackBlock> out) {
  // RFC 2883: a reported duplicate goes first; RFC 2018 4: then the range holding
  // the most recent segment, then the others, most recent first.
  std::size_t n = 0;
  if (dsack_) {
    out[n++] = *dsack_;
    dsack_.reset();
  }
  return n + reass_.sack_blocks(out.subspan(n));
}

void Connection::process_fin(const Segment& seg, Instant now) {
  // A zero-window probe's FIN lies beyond the window: not taken (check_sequence);
  // a FIN held earlier may still be next.
  if (seg.has(kFin) && !zero_window_probe_) {
    // The FIN is processed only in order: it sits after the payload.
    const SeqNum fin_at = seg.seq + (seg.has(kSyn) ? 1u : 0u) + static_cast<std::uint32_t>(seg.payload.size());
    // (A retransmitted FIN fails the acceptability test and is ACKed there.)
    if (fin_at != tcb_.rcv_nxt) {
      if (tcb_.rcv_nxt < fin_at) hold_fin(seg, fin_at);
      return;
    }
  } else if (!reass_.fin_next(tcb_.rcv_nxt)) {
    return;  // no FIN, or the one held still waits behind a hole
  }
  reass_.take_fin();
  // RFC 9293 3.10.7.4 eighth: advance RCV.NXT over the FIN, ACK it, signal the user.
  tcb_.rcv_nxt += 1;
  peer_fin_ = true;
  ack_now_ = true;
  ack_delayable_ = false;  // a FIN is ACKed at once
  State next = state_;
  switch (state_) {
    case State::SynReceived:
    case State::Established:
      next = State::CloseWait;
      break;
    case State::FinWait1:
      // "If our FIN has been ACKed ... enter TIME-WAIT ...; otherwise enter CLOSING".
      next = fin_acked() ? State::TimeWait : State::Closing;
      break;
    case State::FinWait2:
      next = State::TimeWait;
      break;
    default:
      return;  // CLOSE-WAIT, CLOSING, LAST-ACK: remain
  }
  if (next != State::TimeWait) set_state(next, now);
  if (next == State::TimeWait) flush_ack(now);  // the record cannot send it later
  host_.event(*this, ConnEvent::PeerClosed);
  if (next == State::TimeWait && state_ != State::Closed) enter_time_wait(now);
}

// ----------------------------------------------------------------------------------
// Application calls

std::size_t Connection::send(std::span<const std::byte> data, Instant now) {
  // RFC 9293 3.10.2: SEND is legal in ESTABLISHED and CLOSE-WAIT (and queued in
  // SYN-SENT/SYN-RECEIVED); never after the write side was shut.
  if (fin_queued_ || shutdown_deferred_) return 0;
  switch (state_) {
    case State::SynSent:
    case State::SynReceived:
    case State::Established:
    case State::CloseWait:
      break;
    default:
      return 0;
  }
  const std::size_t n = sndbuf_.append(data, snd_buf_, host_.chunk_pool());
  if (n < data.size()) want_writable_ = true;
  if ((state_ == State::Established || state_ == State::CloseWait) && !in_input_) output(now);
  return n;
}

bool Connection::shutdown_write(Instant now) {
  if (fin_queued_) return true;
  if (in_input_ && (state_ == State::Established || state_ == State::CloseWait)) {
    shutdown_deferred_ = true;  // on_segment() applies it once the segment is done
    return true;
  }
  switch (state_) {
    case State::SynSent:
      // RFC 9293 3.10.4: CLOSE in SYN-SENT deletes the TCB; nothing is sent.
      enter_closed(CloseReason::Aborted, now);
      return true;
    case State::SynReceived:
      // RFC 9293 3.10.4: queue the CLOSE until ESTABLISHED (check_ack applies it).
      fin_queued_ = true;
      return true;
    case State::Established:
      // Queue the FIN behind the data and enter FIN-WAIT-1.
      fin_queued_ = true;
      set_state(State::FinWait1, now);
      break;
    case State::CloseWait:
      // "Queue this request until all preceding SENDs have been segmentized; then
      // send a FIN segment, enter LAST-ACK state."
      fin_queued_ = true;
      set_state(State::LastAck, now);
      break;
    default:
      return false;
  }
  if (!in_input_) output(now);
  return true;
}

void Connection::close(Instant now) {
  app_closed_ = true;
  want_writable_ = false;
  if (state_ == State::Closed) return;
  shutdown_write(now);
  if (state_ == State::FinWait2) host_.set_timer(*this, TimerKind::FinWait2, now + cfg_.time_wait);
}

void Connection::abort(Instant now) {
  app_closed_ = true;
  switch (state_) {
    case State::SynReceived:
    case State::Established:
    case State::FinWait1:
    case State::FinWait2:
    case State::CloseWait:
      // RFC 9293 3.10.5: "send a reset segment: <SEQ=SND.NXT><CTL=RST>".
      send_active_reset(now);
      break;
    default:
      break;  // SYN-SENT, CLOSING, LAST-ACK, TIME-WAIT: no RST
  }
  enter_closed(CloseReason::Aborted, now);
}

void Connection::set_buffer_sizes(std::uint32_t rcv_buf, std::uint32_t snd_buf, Instant now) {
  rcv_buf_ = std::max<std::uint32_t>(rcv_buf, cfg_.mss);
  snd_buf_ = std::max<std::uint32_t>(snd_buf, cfg_.mss);
  window_update_if_opened(now);  // (a larger send buffer: send() takes more now)
}

void Connection::set_receive_held(std::uint32_t bytes, Instant now) {
  const bool freed = bytes < rcv_held_;
  rcv_held_ = bytes;
  if (freed) window_update_if_opened(now);
}

void Connection::window_update_if_opened(Instant now) {
  if (!is_synchronized(state_) || state_ == State::TimeWait) return;
  // Measured against the window last advertised (what the peer believes), so that
  // several small reads add up.
  const auto before = static_cast<std::uint32_t>(std::max<std::int32_t>(0, tcb_.rcv_adv - tcb_.rcv_nxt));
  const std::uint32_t after = rcv_wnd();
  if (after <= before) return;
  const std::uint32_t growth = after - before;
  // RFC 1122 4.2.3.3 / RFC 9293 3.8.6.2.2 receiver SWS avoidance: the right edge
  // moves only by at least min(RCV.BUFF/2, Eff.snd.MSS).
  const std::uint32_t step = std::min<std::uint32_t>(rcv_buf_ / 2, tcb_.snd_mss);
  if (growth < step) return;
  // A window update is worth a segment of its own when the window was (nearly)
  // shut, when it grew by half the buffer, or by two segments while it was at
  // most half open (FreeBSD tcp_output), or when it at least doubled (Linux
  // tcp_cleanup_rbuf); otherwise the next ACK carries it.
  const bool was_shut = before < step;
  const bool half_buffer = growth >= rcv_buf_ / 2;
  const bool two_segments = growth >= 2 * tcb_.snd_mss && before <= rcv_buf_ / 2;
  const bool doubled = after >= 2 * before;
  if (!(was_shut || half_buffer || two_segments || doubled)) return;
  if (in_input_) {
    ack_now_ = true;  // the ACK at the end of this segment (or a reply) carries it
  } else {
    send_ack(now);
  }
}

}  // namespace riptide::tcp
