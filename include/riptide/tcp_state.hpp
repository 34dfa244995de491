/// \file
/// <riptide/tcp_state.hpp>: the eleven states of RFC 9293 3.3.2, printed with the
/// RFC's spelling, and why a connection ended (CloseReason). Plain values: any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace riptide::tcp {

enum class State : std::uint8_t {
  Closed,
  Listen,
  SynSent,
  SynReceived,
  Established,
  FinWait1,
  FinWait2,
  CloseWait,
  Closing,
  LastAck,
  TimeWait,
};

inline constexpr int kStateCount = 11;

// "CLOSED", "SYN-RECEIVED", ... as RFC 9293 writes them.
[[nodiscard]] std::string_view to_string(State s) noexcept;

/// Why a connection ended, as reported to the application (Handler::on_closed).
enum class CloseReason : std::uint8_t {
  Normal,    ///< both FINs exchanged (or the application aborted in a closing state)
  Reset,     ///< the peer sent an acceptable RST
  Aborted,   ///< the application called abort()
  TimedOut,  ///< retransmissions exhausted, or connect timeout
  Refused,   ///< RST answered our SYN (RFC 9293 3.10.7.3)
  /// An ICMP hard error answered our SYN or SYN-ACK (RFC 9293 3.9.2.2, RFC 5461 4),
  /// or a soft one had arrived when the opening timed out (Linux's EHOSTUNREACH).
  Unreachable,
};
[[nodiscard]] std::string_view to_string(CloseReason r) noexcept;

// RFC 9293 3.3.2: states in which both sides' ISNs are known.
[[nodiscard]] constexpr bool is_synchronized(State s) noexcept {
  return s != State::Closed && s != State::Listen && s != State::SynSent &&
         s != State::SynReceived;
}

// States in which our data or FIN may still go out (or be resent): the
// synchronized states before TIME-WAIT other than FIN-WAIT-2 (whose FIN is
// acknowledged, RFC 9293 3.3.2).
[[nodiscard]] constexpr bool may_send(State s) noexcept {
  return s == State::Established || s == State::CloseWait || s == State::FinWait1 || s == State::Closing ||
         s == State::LastAck;
}

}  // namespace riptide::tcp
