// Connection: one TCP connection's control block (RFC 9293 3.3.1) and its state
// machine. It consumes parsed segments, timer expiries and application calls, and
// produces segments, timer requests and application events through a TcpHost, which
// the per-core Stack implements. It never reads a clock, never draws a random
// number and never touches a port (DESIGN.md): `now`, the ISN and the timestamp
// offset are inputs.
//
// Segment arrival follows RFC 9293 3.10.7 step by step; every state change goes
// through set_state().
#pragma once

#include <algorithm>
#include <cstdint>
#include <array>
#include <optional>
#include <span>

#include "common/byte_order.hpp"
#include "common/counters.hpp"
#include "common/ip_addr.hpp"
#include "common/seq_num.hpp"
#include "common/time.hpp"
#include "tcp/config.hpp"
#include "tcp/congestion.hpp"
#include "tcp/rto.hpp"
#include "tcp/segment.hpp"
#include "tcp/reassembly.hpp"
#include "tcp/sack_scoreboard.hpp"
#include "tcp/send_buffer.hpp"
#include "tcp/state.hpp"
#include "tcp/syn_cookie.hpp"

namespace riptide::tcp {

// Timers a connection may run; the host keeps one wheel entry per kind.
enum class TimerKind : std::uint8_t {
  Retransmit,  // SYN, SYN-ACK, data and FIN retransmission (RFC 6298)
  FinWait2,    // orphaned FIN-WAIT-2 (application closed, peer silent)
  Persist,     // zero-window probes (RFC 9293 3.8.6.1)
  Keepalive,   // keep-alive probes (RFC 1122 4.2.3.6)
  DelayedAck,  // RFC 9293 3.8.6.3
  kCount,
};
inline constexpr std::size_t kTimerKindCount = static_cast<std::size_t>(TimerKind::kCount);

// CloseReason (why a connection ended) is public: riptide/tcp_state.hpp.

// Events the state machine reports to its host (and through it, the application).
enum class ConnEvent : std::uint8_t {
  Established,  // passive open completed (SYN-RECEIVED -> ESTABLISHED)
  Connected,    // active open completed (SYN-SENT/SYN-RECEIVED -> ESTABLISHED)
  PeerClosed,   // FIN received: the read side is done
  Writable,     // send space freed after send() accepted less than asked
};

class Connection;

// Our TSval at `now` for a connection with timestamp offset `offset` (RFC 7323:
// 1 ms ticks). The stack's stateless segments (cookie SYN-ACKs, TIME-WAIT ACKs)
// use it too, so every segment of a tuple reads the same clock.
[[nodiscard]] inline std::uint32_t ts_clock(Instant now, std::uint32_t offset) noexcept {
  // RFC 7323 5.4: a 1 ms timestamp clock, offset per connection (7.1).
  return static_cast<std::uint32_t>(to_ms(now)) + offset;
}

// What a connection needs from the stack that owns it.
class TcpHost {
 public:
  // Send one segment: `h` filled in; the payload is payload_len bytes of the send
  // buffer starting payload_offset bytes after SND.UNA.
  virtual void transmit(Connection& c, const wire::TcpHeader& h, std::size_t payload_offset,
                        std::size_t payload_len) = 0;
  // The same for a segment whose TCP header the connection wrote itself from its
  // template: the first `header_len` bytes of `tcp_header` are the whole header,
  // options included, checksum field zero; `header_sum` its one's complement
  // partial sum (folded to 16 bits, not complemented), so the host adds the pseudo
  // header and the payload (RFC 1624). The host may copy all of `tcp_header` (a
  // fixed-size copy is a few moves inline; a variable-length one is a library call)
  // as long as what follows the header is overwritten or not sent.
  virtual void transmit_built(Connection& c, const std::array<std::byte, wire::kTcpMaxHeaderLen>& tcp_header,
                              std::size_t header_len, std::uint32_t header_sum, std::size_t payload_offset,
                              std::size_t payload_len) = 0;
  // Timers. Which of a connection's timers are pending is kept in the connection
  // (Connection::timers_pending, one bit per kind, the host's to maintain: set by
  // set_timer, cleared when a timer fires or is stopped), so asking and stopping a
  // timer that is not running, which output does on nearly every segment, cost no
  // call. The retransmission timer is kept lazily (RFC 6298 5.1-5.3 restart and
  // stop it on nearly every ACK): its deadline is Connection::rtx_deadline, and the
  // host's entry for it fires at Connection::rtx_entry_at (the host's to keep;
  // Instant::max() when there is none). Arming it no earlier than that entry, or
  // stopping it (clearing its bit), costs no call; the host moves the entry on,
  // or drops it, when it fires.
  inline void set_timer(Connection& c, TimerKind k, Instant when);
  inline void cancel_timer(Connection& c, TimerKind k);
  // Stops every timer of `c` (a connection that is finishing): one call, not one
  // per kind.
  virtual void cancel_timers(Connection& c) = 0;
  [[nodiscard]] inline bool timer_pending(const Connection& c, TimerKind k) const noexcept;
  virtual void state_changed(Connection& c, State from, State to) = 0;
  virtual void deliver(Connection& c, std::span<const std::byte> data) = 0;
  virtual void event(Connection& c, ConnEvent e) = 0;
  // Called once, when the connection reaches CLOSED or TIME-WAIT.
  virtual void closed(Connection& c, CloseReason r) = 0;
  // RFC 5961 7: the stack-wide challenge-ACK rate limit; true consumes a token.
  virtual bool challenge_ack_allowed() = 0;
  // The host's connection records are nearly all taken: a passive half-open
  // connection gives up after TcpConfig::synack_retries_pressure SYN-ACKs.
  [[nodiscard]] virtual bool records_scarce() = 0;
  virtual void count(Counter c) = 0;
  virtual ChunkPool& chunk_pool() = 0;

  [[nodiscard]] static constexpr std::uint8_t timer_bit(TimerKind k) noexcept {
    return static_cast<std::uint8_t>(1u << static_cast<unsigned>(k));
  }

 protected:
  ~TcpHost() = default;
  // set_timer() that needs the host: a timer other than the retransmission one,
  // or a retransmission deadline earlier than its entry (its bit is set already).
  virtual void start_timer(Connection& c, TimerKind k, Instant when) = 0;
  // cancel_timer() of a pending timer other than the retransmission one; its bit
  // is already clear.
  virtual void stop_timer(Connection& c, TimerKind k) = 0;
};

// RFC 9293 3.3.1 send and receive sequence variables, plus what RFC 7323 adds.
struct Tcb {
  SeqNum iss;      // initial send sequence number
  SeqNum snd_una;  // oldest unacknowledged
  SeqNum snd_nxt;  // next to send (rewound to SND.UNA on a timeout)
  SeqNum snd_max;  // highest sequence number sent + 1 (BSD's snd_max)
  std::uint32_t snd_wnd = 0;  // peer's window, scaled
  SeqNum snd_wl1;  // SEG.SEQ of the last window update
  SeqNum snd_wl2;  // SEG.ACK of the last window update
  std::uint32_t max_snd_wnd = 0;  // largest window the peer offered (RFC 5961 5.2)

  SeqNum irs;      // initial receive sequence number
  SeqNum rcv_nxt;  // next expected
  SeqNum rcv_adv;  // right edge of the window we advertised (never moves left)

  std::uint16_t snd_mss = 536;  // segment size we send (RFC 9293 3.7.1 default 536)
  std::uint8_t snd_wscale = 0;  // shift applied to the peer's window field
  std::uint8_t rcv_wscale = 0;  // shift applied to ours
  bool ts_ok = false;           // RFC 7323 timestamps negotiated
  bool sack_ok = false;         // RFC 2018 SACK-permitted negotiated
  std::uint32_t ts_recent = 0;  // RFC 7323 4.3 TS.Recent
  std::uint32_t ts_offset = 0;  // added to our clock for TSval
  // cwnd and ssthresh (RFC 5681) live in the connection's CongestionControl.
};

class Connection {
 public:
  Connection(TcpHost& host, const TcpConfig& cfg, const FlowKey& key) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // --- slot recycling (the host's connection records) --------------------------
  // The connection is done: what its send buffer and reassembly hold goes back to
  // the host's chunk pool.
  void release_buffers() noexcept;
  // Makes this object what Connection(host, cfg, key) constructs, in place: every
  // scalar back to its initial value, while the reassembly ranges, the SACK
  // scoreboard and the send buffer, already empty (release_buffers()), are kept
  // instead of being built and zeroed again. Same host and config as before.
  void recycle(const FlowKey& key) noexcept;

  // --- opens -------------------------------------------------------------------
  // RFC 9293 3.10.1 active OPEN: CLOSED -> SYN-SENT, SYN sent.
  void open_active(SeqNum iss, std::uint32_t ts_offset, Instant now);
  // RFC 9293 3.10.7.2 LISTEN, third check: SYN -> SYN-RECEIVED, SYN-ACK sent.
  void open_passive(const Segment& syn, SeqNum iss, std::uint32_t ts_offset, Instant now);
  // RFC 4987 3.6: the ACK carried a valid cookie: LISTEN -> SYN-RECEIVED (state
  // rebuilt from the cookie, nothing sent), then the ACK is processed as usual.
  void open_from_cookie(const Segment& ack, const CookieOptions& opts, std::uint32_t ts_offset,
                        Instant now);

  // --- input -------------------------------------------------------------------
  void on_segment(const Segment& seg, Instant now);
  void on_timer(TimerKind k, Instant now);

  // --- ICMP errors (RFC 9293 3.9.2.2, MUST-54; connection_icmp.cpp) ---------------
  // What the host's IP layer learned from an ICMP or ICMPv6 error that quotes a
  // segment of this connection (RFC 4443 2.4(a)); the host checked the quoted
  // sequence number with icmp_acceptable() first.
  enum class IcmpClass : std::uint8_t {
    Soft,  // RFC 9293 3.9.2.2 soft errors: MUST NOT abort (MUST-56)
    Hard,  // hard errors: abort while opening (SHLD-26 as RFC 5461 4 reads it)
    Refused,  // port unreachable: hard, reported as CloseReason::Refused (as Linux)
  };
  // RFC 5927 4.1: an error is taken only when the segment it quotes could be one
  // of ours in flight: SND.UNA <= seq < SND.NXT (SND.UNA itself: the SYN, or the
  // oldest unacknowledged segment). Blind attackers must then guess the window.
  [[nodiscard]] bool icmp_acceptable(SeqNum quoted_seq) const noexcept;
  // Returns true when the error ended the connection.
  bool on_icmp_error(IcmpClass c, Instant now);
  // RFC 8201 5.4 (IPv6) / RFC 1191 6.5 (IPv4): the path to the peer carries
  // segments of at most `path_mss` bytes (path MTU less the IP and TCP headers).
  // Before the handshake completes it caps the MSS agreed there; after, SND.MSS
  // falls to it and what is in flight is sent again in segments that fit, from
  // SND.UNA (FreeBSD's tcp_mtudisc), without touching cwnd or ssthresh: a Packet
  // Too Big says nothing about congestion. Never raises SND.MSS. True if lowered.
  bool on_path_mss(std::uint16_t path_mss, Instant now);

  // --- application calls (RFC 9293 3.10.2 - 3.10.5) -----------------------------
  // SEND: copies what fits into the send buffer and returns how much that was.
  std::size_t send(std::span<const std::byte> data, Instant now);
  // CLOSE for the write side only: FIN after queued data. Reading goes on.
  bool shutdown_write(Instant now);
  // CLOSE: shutdown_write plus "no more reading": data arriving later draws a RST
  // (RFC 1122 4.2.2.13).
  void close(Instant now);
  // ABORT: RST where the RFC says so, then CLOSED.
  void abort(Instant now);
  // The application holds `bytes` of received data it has not consumed yet (the
  // socket layer's buffer); the window shrinks by that much. Releasing sends a
  // window update when it opens the window meaningfully.
  void set_receive_held(std::uint32_t bytes, Instant now);
  void set_nodelay(bool on) noexcept { nodelay_ = on; }
  // TCP_CONGESTION: the algorithm for this connection from now on.
  void set_congestion(CongestionAlgorithm a) noexcept {
    algo_ = a;
    cc_.set_algorithm(a);
  }
  // SO_RCVBUF / SO_SNDBUF for this connection (bytes, at least one MSS; the
  // receive window only grows as far as the window scale negotiated at the SYN
  // allows, RFC 7323 2.3). Shrinking the receive buffer never takes back window
  // already advertised (RFC 9293 3.8.6.2.2); shrinking the send buffer below what
  // is queued only stops send() from accepting more.
  void set_buffer_sizes(std::uint32_t rcv_buf, std::uint32_t snd_buf, Instant now);
  [[nodiscard]] std::uint32_t rcv_buf() const noexcept { return rcv_buf_; }
  [[nodiscard]] std::uint32_t snd_buf() const noexcept { return snd_buf_; }
  // RFC 1122 4.2.3.6: probe an idle connection after `idle`, every `interval`,
  // and drop it after `count` unanswered probes.
  void set_keepalive(bool on, Duration idle, Duration interval, std::uint8_t count, Instant now);
  [[nodiscard]] bool keepalive() const noexcept { return keepalive_; }

  // --- inspection ---------------------------------------------------------------
  [[nodiscard]] State state() const noexcept { return state_; }
  [[nodiscard]] const FlowKey& key() const noexcept { return key_; }
  [[nodiscard]] const TcpConfig& config() const noexcept { return cfg_; }
  [[nodiscard]] const Tcb& tcb() const noexcept { return tcb_; }
  [[nodiscard]] const RtoEstimator& rto() const noexcept { return rto_; }
  [[nodiscard]] const CongestionControl& congestion() const noexcept { return cc_; }
  [[nodiscard]] bool in_recovery() const noexcept { return in_recovery_; }
  [[nodiscard]] std::size_t send_queued() const noexcept { return sndbuf_.size(); }
  [[nodiscard]] std::size_t send_space() const noexcept;
  // Copies send-buffer bytes [offset, offset + out.size()) from SND.UNA into a packet.
  void copy_payload(std::size_t offset, std::span<std::byte> out) const noexcept {
    sndbuf_.copy_out(offset, out);
  }
  [[nodiscard]] bool passive() const noexcept { return passive_; }
  [[nodiscard]] bool app_closed() const noexcept { return app_closed_; }
  [[nodiscard]] bool fin_queued() const noexcept { return fin_queued_; }
  [[nodiscard]] bool fin_sent() const noexcept { return fin_sent_; }  // our FIN has a sequence number
  [[nodiscard]] bool peer_fin() const noexcept { return peer_fin_; }
  [[nodiscard]] std::uint32_t rcv_wnd() const noexcept {  // what we would advertise now
    std::uint32_t space = rcv_buf_ > rcv_held_ ? rcv_buf_ - rcv_held_ : 0;
    // RFC 7323 2.3: the scaled window field is 16 bits.
    space = std::min<std::uint32_t>(space, 0xFFFFu << tcb_.rcv_wscale);
    // RFC 9293 3.8.6.2.2 (and RFC 1122 4.2.2.16): never shrink the window: the right
    // edge we advertised must not move left.
    const std::int32_t promised = tcb_.rcv_adv - tcb_.rcv_nxt;
    if (promised > 0 && static_cast<std::uint32_t>(promised) > space) {
      space = static_cast<std::uint32_t>(promised);
    }
    return space;
  }
  [[nodiscard]] std::uint32_t ts_now(Instant now) const noexcept { return ts_clock(now, tcb_.ts_offset); }
  // The sequence number our FIN has (once sent) or will have (all data first).
  [[nodiscard]] SeqNum fin_seq() const noexcept {
    return fin_sent_ ? fin_seq_ : tcb_.snd_una + static_cast<std::uint32_t>(sndbuf_.size());
  }
  [[nodiscard]] bool fin_acked() const noexcept { return fin_sent_ && tcb_.snd_una > fin_seq_; }

  // Host bookkeeping: an opaque slot for the stack and the application.
  void* host_data = nullptr;
  void* user_data = nullptr;
  std::uint8_t timers_pending = 0;  // TcpHost::timer_bit(k): timer k is running (TcpHost)
  Instant rtx_deadline{};                 // the retransmission timer's deadline (TcpHost)
  Instant rtx_entry_at = Instant::max();  // when the host's entry for it fires (TcpHost)

 private:
  // Header prediction (BSD tcp_input's fast path, RFC 9293 3.10.7.4 for the common
  // case): an in-order ACK or data segment in ESTABLISHED with nothing unusual
  // about it runs the same steps as below, minus the checks it cannot fail.
  // False: not predicted, nothing done.
  inline bool header_predicted(const Segment& seg, Instant now);
  // --- RFC 9293 3.10.7 steps -------------------------------------------------------
  void on_segment_syn_sent(const Segment& seg, Instant now);
  inline bool check_sequence(const Segment& seg, Instant now);     // first
  inline bool check_rst(const Segment& seg, Instant now);          // second
  inline bool check_syn(const Segment& seg, Instant now);          // fourth
  inline bool check_ack(const Segment& seg, Instant now);          // fifth
  // check_ack's steps (RFC 9293 3.10.7.4 fifth), each returning false when the
  // segment's processing ends there.
  inline bool complete_handshake(const Segment& seg, Instant now);  // SYN-RECEIVED -> ESTABLISHED
  inline bool ack_acceptable(const Segment& seg, Instant now);      // RFC 5961 5.2 range
  [[nodiscard]] inline bool is_duplicate_ack(const Segment& seg, std::uint32_t newly_sacked) const noexcept;
  void on_duplicate_ack(Instant now);                        // RFC 5681 3.2 / 6582 / 6675
  inline bool on_new_ack(const Segment& seg, Instant now);   // SND.UNA advances
  inline bool on_fin_acked(Instant now);                            // FIN-WAIT-1, CLOSING, LAST-ACK
  inline void process_text(const Segment& seg, Instant now);       // seventh
  inline void receive_in_order(std::span<const std::byte> data, Instant now);  // text at RCV.NXT
  void report_duplicate(SeqNum start, SeqNum end);  // D-SACK (RFC 2883)
  void hold_fin(const Segment& seg, SeqNum fin_at);  // a FIN beyond a hole
  inline void on_data_arrival(Instant now);           // quick-ACK bookkeeping
  inline void enter_quick_ack_mode() noexcept;
  void queue_out_of_order(SeqNum start, std::span<const std::byte> data);
  inline void deliver_in_order();  // ranges that RCV.NXT has reached
  // Whether our ACKs carry SACK blocks now: a D-SACK to report, or data or a FIN
  // held out of order (RFC 2018 4, RFC 2883). Asked for every segment sent, so
  // inline: in order, the answer is no and nothing else is called.
  [[nodiscard]] bool sack_to_report() const noexcept { return dsack_ || !reass_.nothing_to_sack(); }
  // The SACK blocks for our next ACK, at most out.size(); returns how many (none
  // unless sack_to_report(), which the sender asks first).
  std::size_t fill_sack_blocks(std::span<wire::SackBlock> out);
  // SND.MSS less the SACK blocks a segment would carry.
  [[nodiscard]] std::uint32_t seg_mss() const noexcept {
    if (!tcb_.sack_ok || !sack_to_report()) return tcb_.snd_mss;
    return seg_mss_with_sack();
  }
  [[nodiscard]] std::uint32_t seg_mss_with_sack() const noexcept;
  inline void process_fin(const Segment& seg, Instant now);        // eighth

  void negotiate_syn_options(const Segment& syn);
  void init_send_sequence(SeqNum iss, std::uint32_t ts_offset) noexcept;
  void init_receive_sequence(SeqNum irs) noexcept;
  void init_send_window(const Segment& syn, SeqNum wl2) noexcept;
  void agree_options(const Segment& seg);  // apply what both SYNs offered
  inline void update_window(const Segment& seg);
  inline void update_ts_recent(const Segment& seg);
  inline void rtt_sample(const Segment& seg, Instant now);
  void set_state(State to, Instant /*now*/) {
    const State from = state_;
    if (from == to) return;
    state_ = to;
    host_.state_changed(*this, from, to);
  }
  void enter_closed(CloseReason r, Instant now);
  // Cancels every timer, enters `final_state` (CLOSED or TIME-WAIT), reports once.
  void finish(State final_state, CloseReason r, Instant now);
  void enter_time_wait(Instant now);

  // --- output ----------------------------------------------------------------------
  void output(Instant now);  // everything the window and Nagle allow
  bool send_new_segment(std::uint32_t room, Instant now);
  void send_syn(bool with_ack, Instant now);
  void send_ack(Instant now);
  inline void flush_ack(Instant now);
  void send_challenge_ack(Instant now);
  void send_rst(SeqNum seq, Instant now);
  void send_active_reset(Instant now);  // abort: RST|ACK at SND.MAX
  void emit(std::uint8_t flags, SeqNum seq, std::size_t off, std::size_t len, Instant now,
            bool syn_options = false);
  // A TCP header being written word by word and summed as it goes (RFC 1624): the
  // options from offset 20, then send_header() writes the fixed part and hands it
  // to the host. Every byte used is written.
  struct HeaderBuilder {
    explicit HeaderBuilder(std::uint32_t initial_sum) noexcept : sum(initial_sum) {}
    std::array<std::byte, wire::kTcpMaxHeaderLen> hdr;
    std::byte* q = hdr.data() + wire::kTcpMinHeaderLen;
    std::uint64_t sum;
    void put(std::uint32_t w) noexcept {
      put_unsummed(w);
      sum += w;
    }
    void put_unsummed(std::uint32_t w) noexcept {
      store_be32(q, w);
      q += 4;
    }
  };
  // Every segment after the SYNs but RSTs: the header written from the template.
  void emit_from_template(std::uint8_t flags, SeqNum seq, std::uint16_t window, std::size_t off,
                          std::size_t len, Instant now);
  // The SYN and SYN-ACK (their options), written the same way.
  void emit_syn(std::uint8_t flags, std::uint16_t window, Instant now);
  void send_header(HeaderBuilder& b, std::uint8_t flags, SeqNum seq, std::uint16_t window, SeqNum ack,
                   std::size_t off, std::size_t len);
  void set_template_sum() noexcept;
  void arm_retransmit(Instant now);  // the RTO, or the PTO when a tail loss probe may go
  [[nodiscard]] inline std::optional<Duration> probe_timeout() const noexcept;
  void tail_loss_probe(Instant now);
  void retransmit_timeout(Instant now);
  void persist_timeout(Instant now);
  void keepalive_timeout(Instant now);
  void touch_keepalive(Instant now) {  // something arrived: the connection is alive
    keepalive_probes_ = 0;
    if (keepalive_ && is_synchronized(state_) && state_ != State::TimeWait) {
      host_.set_timer(*this, TimerKind::Keepalive, now + keepalive_idle_);  // O(1) reschedule
    }
  }
  void window_update_if_opened(Instant now);  // after the application freed buffer space
  void retransmit_first(Instant now);  // the segment at SND.UNA, once
  // One segment of data sent before, from `seq`; returns where it ends (FIN
  // included), or nullopt when there was nothing to send.
  std::optional<SeqNum> resend(SeqNum seq, std::uint32_t max_len, bool fin_may_ride, Instant now);
  [[nodiscard]] bool zero_window_stalled() const noexcept {
    // Data (or a FIN) waits, nothing is in flight, and the peer's window is shut:
    // without probes a lost window update would stall the connection for ever.
    const bool waiting = static_cast<std::size_t>(tcb_.snd_nxt - tcb_.snd_una) < sndbuf_.size();
    return tcb_.snd_wnd == 0 && waiting && tcb_.snd_nxt == tcb_.snd_una && tcb_.snd_max == tcb_.snd_una;
  }

  TcpHost& host_;
  const TcpConfig& cfg_;
  FlowKey key_;
  State state_ = State::Closed;
  Tcb tcb_;
  RtoEstimator rto_;
  CongestionAlgorithm algo_;
  CongestionControl cc_;
  std::uint32_t rcv_buf_;  // SO_RCVBUF
  std::uint32_t snd_buf_;  // SO_SNDBUF
  SendBuffer sndbuf_;

  // Out-of-order data held for reassembly (RFC 9293 3.10.7.4 seventh: "segments
  // with higher beginning sequence numbers SHOULD be held"): disjoint ranges, each
  // its bytes in pool chunks; `stamp` orders them by last arrival for SACK
  // (RFC 2018 4: the first block reports the most recent segment).
  Reassembly reass_;  // out-of-order data and a FIN beyond a hole (RFC 9293 3.10.7.4)
  std::optional<wire::SackBlock> dsack_;  // RFC 2883: a duplicate to report next
  SeqNum last_ack_sent_;      // RFC 7323 4.3 Last.ACK.sent: RCV.NXT in our last ACK
  // The segment template's constant part (emit_from_template): the partial
  // checksum of the ports word and, with timestamps agreed, the option's kind word.
  std::uint32_t tmpl_sum_ = 0;

  // What the peer reported SACKed above SND.UNA (RFC 2018) and the RFC 6675
  // questions recovery asks of it (lib/tcp/sack_scoreboard.hpp). Resends after a
  // timeout skip SACKed data instead of going back over everything.
  SackScoreboard sack_;
  std::uint32_t record_sack(const Segment& seg);  // returns the bytes newly SACKed
  void prune_sacked() noexcept {
    if (!sack_.empty()) sack_.prune(tcb_.snd_una);  // nearly always empty: no call
  }
  [[nodiscard]] const wire::SackBlock* sacked_at(SeqNum s) const noexcept { return sack_.at(s); }
  [[nodiscard]] std::optional<SeqNum> next_sacked_after(SeqNum s) const noexcept { return sack_.next_after(s); }
  // SACKed bytes in [SND.UNA, s)
  [[nodiscard]] std::uint32_t sacked_below(SeqNum s) const noexcept { return sack_.below(s); }

  // RFC 6675 SACK-based loss recovery (used when SACK was negotiated; NewReno's
  // RFC 6582 otherwise). HighACK is SND.UNA, HighData is SND.MAX, RecoveryPoint is
  // recover_; HighRxt is high_rxt_.
  static constexpr std::uint32_t kDupThresh = SackScoreboard::kDupThresh;
  SeqNum high_rxt_;
  [[nodiscard]] std::uint32_t sack_pipe() const noexcept {  // RFC 6675 4 SetPipe()
    return sack_.pipe(tcb_.snd_una, tcb_.snd_max, high_rxt_, tcb_.snd_mss);
  }
  using NextSeg = SackScoreboard::NextSeg;
  // NextSeg() rule 1 (lost_only) or rule 3; rule 2 (new data) is output()'s.
  [[nodiscard]] std::optional<NextSeg> sack_next_retransmission(bool lost_only) const noexcept {
    return sack_.next_seg(tcb_.snd_una, tcb_.snd_max, high_rxt_, tcb_.snd_mss, lost_only);
  }
  [[nodiscard]] bool lost_at_una() const noexcept {  // IsLost(HighACK + 1)
    return sack_.lost_at(tcb_.snd_una, tcb_.snd_max, tcb_.snd_mss);
  }
  void sack_retransmit(const NextSeg& r, Instant now);
  void enter_recovery(Instant now);
  void sack_recovery_output(Instant now);  // RFC 6675 5 step (C)
  std::uint32_t rcv_held_ = 0;  // bytes the application has not consumed

  // RTT timing of one segment when timestamps are off (RFC 6298 3, Karn).
  std::optional<SeqNum> rtt_seq_;
  Instant rtt_start_{};
  Instant connect_deadline_{};
  std::uint8_t retries_ = 0;  // consecutive retransmission timeouts
  std::uint8_t persist_backoff_ = 0;  // zero-window probes sent without the window opening
  bool keepalive_ = false;
  Duration keepalive_idle_{};
  Duration keepalive_interval_{};
  std::uint8_t keepalive_count_ = 0;
  std::uint8_t keepalive_probes_ = 0;  // sent since the peer was last heard from
  // RFC 5681 3.2 / RFC 6582 (NewReno) loss recovery.
  std::uint32_t dupacks_ = 0;
  bool in_recovery_ = false;
  SeqNum recover_;  // SND.MAX when recovery began

  // What the peer's SYN offered (kept to build our SYN-ACK on retransmission).
  std::uint16_t peer_mss_ = 536;
  bool peer_ts_ = false;
  bool peer_sack_ = false;
  std::optional<std::uint8_t> peer_wscale_;
  std::uint16_t path_mss_ = 0xFFFF;  // RFC 8201: what the path carries (on_path_mss)
  bool soft_error_ = false;  // an ICMP soft error arrived while opening (SHLD-25)

  bool passive_ = false;
  bool fin_queued_ = false;   // the application ended its write side
  bool fin_sent_ = false;     // our FIN has a sequence number: fin_seq_
  SeqNum fin_seq_;
  bool ack_now_ = false;      // an ACK is owed; output() or the end of input sends it
  bool ack_delayable_ = false;  // ... but the delayed-ACK policy may hold it
  std::uint32_t unacked_bytes_ = 0;  // in-order data received since our last ACK
  // Linux's quick-ACK mode (see flush_ack): ACKs of new data that still go at once,
  // and whether the exchange is interactive (we reply within the delayed-ACK time).
  std::uint8_t quick_acks_ = 0;
  bool pingpong_ = false;
  std::optional<Instant> last_data_at_;  // when in-order data last arrived (none yet)
  bool zero_window_probe_ = false;  // this segment's text falls on a zero window
  SeqNum snd_sml_;            // end of the last sub-MSS segment sent (Minshall's Nagle)
  bool app_closed_ = false;   // the application called close()
  bool peer_fin_ = false;     // the peer's FIN was received in order
  bool nodelay_ = false;
  bool want_writable_ = false;  // send() came up short: report Writable later
  bool closed_reported_ = false;
  // RFC 8985 7: the retransmission timer is armed as the probe timeout (PTO);
  // tlp_high_ is SND.MAX when the probe went (one probe per episode).
  bool pto_armed_ = false;
  std::optional<SeqNum> tlp_high_;
  bool in_input_ = false;  // inside on_segment(): application sends wait for its output()
  bool shutdown_deferred_ = false;  // shutdown_write() from a callback, applied after the segment
  inline void apply_deferred_shutdown(Instant now);
};

inline void TcpHost::set_timer(Connection& c, TimerKind k, Instant when) {
  c.timers_pending = static_cast<std::uint8_t>(c.timers_pending | timer_bit(k));
  if (k == TimerKind::Retransmit) {
    c.rtx_deadline = when;
    if (c.rtx_entry_at <= when) return;  // the entry fires first and moves on
  }
  start_timer(c, k, when);
}

inline void TcpHost::cancel_timer(Connection& c, TimerKind k) {
  const std::uint8_t bit = timer_bit(k);
  if ((c.timers_pending & bit) == 0) return;
  c.timers_pending = static_cast<std::uint8_t>(c.timers_pending & ~bit);
  if (k != TimerKind::Retransmit) stop_timer(c, k);
}

inline bool TcpHost::timer_pending(const Connection& c, TimerKind k) const noexcept {
  return (c.timers_pending & timer_bit(k)) != 0;
}

}  // namespace riptide::tcp
