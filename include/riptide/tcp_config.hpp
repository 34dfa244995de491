/// \file
/// <riptide/tcp_config.hpp>: every TCP knob, with the default riptide ships and the RFC it comes from. The
/// runtime's TOML loader (issue 5) fills this; tests construct it directly.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "riptide/time.hpp"

namespace riptide::tcp {

/// The ISN / SYN-cookie / timestamp-offset key (SipHash-2-4, 16 bytes); chosen at
/// start-up (riptide::random_secret()), never on the data path.
using Secret = std::array<std::uint8_t, 16>;

/// Congestion control (RFC 5681 + RFC 6582 NewReno, RFC 9438 CUBIC).
enum class CongestionAlgorithm : std::uint8_t { NewReno, Cubic };
[[nodiscard]] std::string_view to_string(CongestionAlgorithm a) noexcept;
/// "newreno" / "reno" or "cubic"; nullopt for anything else.
[[nodiscard]] std::optional<CongestionAlgorithm> parse_congestion_algorithm(std::string_view s) noexcept;

/// RFC 4987 3.3 SYN cookies: when to answer a SYN with a cookie instead of state.
enum class SynCookieMode : std::uint8_t {
  Auto,    ///< only when the listener's SYN queue is full (default)
  Always,  ///< every SYN (stateless listener)
  Never,   ///< drop SYNs that find the SYN queue full
};
[[nodiscard]] std::string_view to_string(SynCookieMode m) noexcept;

/// What the ACK completing a valid SYN cookie gets when no connection record is
/// free (RFC 4987 leaves it open; RFC 9293 3.10.7.2 answers any ACK in LISTEN with
/// a reset). Either way it is counted (tcp_cookie_no_record), never silent.
enum class CookieNoRecord : std::uint8_t {
  Reset,  ///< <SEQ=SEG.ACK><CTL=RST>: the client learns at once (default)
  Drop,   ///< say nothing: the client's data or FIN retransmissions try again later
};
[[nodiscard]] std::string_view to_string(CookieNoRecord p) noexcept;
[[nodiscard]] std::optional<CookieNoRecord> parse_cookie_no_record(std::string_view s) noexcept;

struct TcpConfig {
  /// RFC 9293 3.7.1: the MSS we advertise (MTU 1500 - 40).
  std::uint16_t mss = 1460;
  /// RFC 9293 3.7.1: the send MSS when the peer's SYN has no MSS option: 536 over
  /// IPv4; the Stack uses 1220 for IPv6 connections (RFC 8200 5: 1280 - 60).
  std::uint16_t default_mss = 536;
  /// Receive and send buffer sizes per connection, in bytes.
  std::uint32_t rcv_buf = 256 * 1024;
  std::uint32_t snd_buf = 256 * 1024;
  /// RFC 7323 2: the shift we offer; 0..14. Linux offers 7.
  std::uint8_t window_scale = 7;
  bool window_scaling = true;
  bool timestamps = true;       ///< RFC 7323 3
  bool sack = true;             ///< RFC 2018: offer SACK-permitted
  bool nodelay = false;         ///< Nagle (RFC 9293 3.7.4) on unless set

  /// RFC 6298 2: initial RTO 1 s; riptide bounds it like Linux (200 ms .. 120 s).
  Duration rto_initial = std::chrono::seconds{1};
  Duration rto_min = std::chrono::milliseconds{200};
  Duration rto_max = std::chrono::seconds{120};

  /// SYN retransmissions before connect() fails with a timeout (Linux tcp_syn_retries).
  std::uint8_t syn_retries = 6;
  /// An overall connect deadline; zero means "only syn_retries bounds it".
  Duration connect_timeout = Duration::zero();
  /// SYN-ACK retransmissions before a SYN-RECEIVED entry is dropped.
  std::uint8_t synack_retries = 5;
  /// The same while connection records are scarce (the host's table above its
  /// pressure mark): a passive half-open entry that was never completed gives up
  /// early, so records pinned by SYN-ACK retransmission are bounded (Linux prunes
  /// its SYN queue the same way when it is over half full). 1: gone 3 s after its
  /// SYN instead of 63 s; meanwhile new SYNs are answered with cookies.
  std::uint8_t synack_retries_pressure = 1;
  /// Retransmissions of data or FIN before the connection is dropped (RFC 1122
  /// 4.2.3.5 R2; Linux tcp_retries2).
  std::uint8_t max_retries = 15;

  /// RFC 1122 4.2.3.6 keep-alives: off unless asked (per connection with
  /// Stack::set_keepalive, or SO_KEEPALIVE); idle time before the first probe (the
  /// RFC's MUST default: no less than two hours), the interval between probes, and
  /// how many unanswered probes end the connection (Linux: 75 s, 9).
  bool keepalive = false;
  Duration keepalive_idle = std::chrono::hours{2};
  Duration keepalive_interval = std::chrono::seconds{75};
  std::uint8_t keepalive_count = 9;

  /// TIME-WAIT length: 2*MSL (RFC 9293 3.3.2). Default MSL 30 s, so 60 s.
  Duration time_wait = std::chrono::seconds{60};

  SynCookieMode syn_cookies = SynCookieMode::Auto;
  CookieNoRecord cookie_no_record = CookieNoRecord::Reset;
  /// Listener queues when listen() is given no backlog. Linux's somaxconn (4096
  /// since 5.4): 128 sent bursts of handshakes through cookies at high rates.
  std::uint32_t default_backlog = 4096;

  /// RFC 9293 3.8.6.3 / RFC 1122 4.2.3.2 delayed ACK: an ACK may wait this long
  /// (the RFC requires < 0.5 s; 40 ms as Linux), but every second full-sized
  /// segment is ACKed at once, and so are out-of-order data, data filling a hole,
  /// FINs, and (Linux's quick-ACK mode, Connection::flush_ack) the first 16 data
  /// segments unless the exchange is interactive. Zero ACKs every segment at once.
  Duration delayed_ack = std::chrono::milliseconds{40};

  /// Congestion control for new connections (per connection: Stack::set_congestion,
  /// TCP_CONGESTION). NewReno is the default: on this machine's impaired-link tests
  /// CUBIC was not measurably better (docs/rfc-compliance.md, RFC 9438).
  CongestionAlgorithm congestion = CongestionAlgorithm::NewReno;

  /// RFC 8985 7 tail loss probe (with SACK): when the last segments of a flight go
  /// unanswered for two round trips, resend the last one (or send new data) to draw
  /// the SACK that starts fast recovery, instead of waiting for the RTO. On, as in
  /// Linux.
  bool tail_loss_probe = true;

  /// RFC 5961 7: challenge ACKs allowed per second per stack (token bucket).
  std::uint32_t challenge_ack_limit = 1000;

  /// Local ports for active opens without an explicit port (RFC 6056 range).
  std::uint16_t ephemeral_port_min = 32768;
  std::uint16_t ephemeral_port_max = 60999;
};

}  // namespace riptide::tcp
