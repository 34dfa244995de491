// Congestion control: the congestion window and slow-start threshold of one
// connection, and how they move on ACKs and on loss. Two algorithms:
//
//   NewReno  RFC 5681 slow start and congestion avoidance (with RFC 3465 byte
//            counting in avoidance), RFC 6582 for what a loss does to ssthresh.
//            The default.
//   CUBIC    RFC 9438: the same slow start; in avoidance the window follows
//            W_cubic(t) = C*(t-K)^3 + W_max (4.2) around the window at the last
//            loss, never below the Reno-friendly estimate W_est (4.3); a loss
//            multiplies by beta_cubic = 0.7 (4.6) with fast convergence (4.7).
//
// Loss *detection* and recovery (fast retransmit, NewReno partial ACKs, RFC 6675
// SACK recovery) live in Connection; this class only answers "how big may the
// window be". It is plain arithmetic on its inputs: no clock reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/time.hpp"
#include "riptide/tcp_config.hpp"

namespace riptide::tcp {

// CongestionAlgorithm (and its to_string / parse) is public: riptide/tcp_config.hpp.

class CongestionControl {
 public:
  // RFC 9438 4.2 / 4.6.
  static constexpr double kCubicC = 0.4;
  static constexpr double kCubicBeta = 0.7;
  // No window beyond what the window scale can express (RFC 7323 2.3).
  static constexpr std::uint32_t kMaxCwnd = 1u << 30;

  // User-provided, so that `CongestionControl{}` (recycle()) runs the member
  // initialisers only: with an implicit constructor, value-initialisation first
  // zeroes the whole object, then initialises it again.
  CongestionControl() noexcept {}

  // The window once the handshake fixed the MSS: RFC 5681 3.1 with RFC 3390's
  // rule, min(4*MSS, max(2*MSS, 4380)); ssthresh "arbitrarily high".
  // Called once, on an object as constructed (a Connection's recycle() resets it;
  // before the handshake only set_mss and set_algorithm touch it, and init sets
  // what they set): nothing else is cleared.
  void init(CongestionAlgorithm algo, std::uint32_t mss) noexcept;
  // Switches algorithm mid-connection (TCP_CONGESTION); the window is kept, the
  // CUBIC epoch starts over.
  void set_algorithm(CongestionAlgorithm algo) noexcept;
  [[nodiscard]] CongestionAlgorithm algorithm() const noexcept { return algo_; }

  // New data acknowledged outside loss recovery (`acked` bytes). `srtt` is the
  // smoothed RTT (CUBIC aims at W_cubic(t + RTT), RFC 9438 4.2).
  void on_ack(std::uint32_t acked, Instant now, Duration srtt) noexcept;
  // A loss was detected by duplicate ACKs or SACK (the start of fast recovery):
  // RFC 5681 3.2 (2) / RFC 6582: ssthresh = max(FlightSize/2, 2*SMSS) for NewReno;
  // RFC 9438 4.6: ssthresh = max(cwnd*beta_cubic, 2*SMSS) for CUBIC. cwnd is set to
  // the new ssthresh (the caller inflates it for NewReno, RFC 6582 3.2 step 2).
  void on_loss(std::uint32_t flight_size) noexcept;
  // The retransmission timer expired (RFC 5681 3.1 (4), RFC 9438 4.8): ssthresh as
  // for a loss, cwnd = 1 SMSS (the loss window); the CUBIC epoch ends.
  void on_timeout(std::uint32_t flight_size) noexcept;
  // Fast recovery ended with a full ACK; cwnd was deflated by the caller.
  void on_recovery_end() noexcept { epoch_start_.reset(); }
  // SND.MSS fell (a path MTU, RFC 8201 5.4): avoidance, the loss window and the
  // ssthresh floor count in the new segment size from now on.
  void set_mss(std::uint32_t mss) noexcept { mss_ = mss; }

  std::uint32_t cwnd = 0;  // bytes
  std::uint32_t ssthresh = 0xFFFFFFFF;

  // --- CUBIC state, visible for tests and /riptide/conns -------------------------
  [[nodiscard]] double w_max() const noexcept { return w_max_; }  // segments
  [[nodiscard]] double k() const noexcept { return k_; }          // seconds
  [[nodiscard]] double w_est() const noexcept { return w_est_; }  // segments

 private:
  void cubic_avoidance(std::uint32_t acked, Instant now, Duration srtt) noexcept;
  void reduce(std::uint32_t flight_size) noexcept;  // ssthresh per algorithm

  CongestionAlgorithm algo_ = CongestionAlgorithm::NewReno;
  std::uint32_t mss_ = 536;
  std::uint32_t ca_acked_ = 0;  // RFC 3465 bytes acknowledged towards the next MSS

  // RFC 9438 4.1 variables, in segments and seconds.
  std::optional<Instant> epoch_start_;  // start of the current avoidance epoch
  double w_max_ = 0;        // window just before the last reduction
  double w_last_max_ = 0;   // the previous W_max (fast convergence, 4.7)
  double k_ = 0;            // time W_cubic takes to climb back to W_max
  double w_est_ = 0;        // Reno-friendly estimate (4.3)
  double cwnd_epoch_ = 0;   // cwnd at the start of the epoch
  double cwnd_frac_ = 0;    // fractional segments accumulated towards cwnd
};

}  // namespace riptide::tcp
