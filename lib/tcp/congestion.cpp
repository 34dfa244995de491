#include "tcp/congestion.hpp"

#include <algorithm>
#include <cmath>

namespace riptide::tcp {

std::string_view to_string(CongestionAlgorithm a) noexcept {
  switch (a) {
    case CongestionAlgorithm::NewReno:
      return "newreno";
    case CongestionAlgorithm::Cubic:
      return "cubic";
  }
  return "?";
}

std::optional<CongestionAlgorithm> parse_congestion_algorithm(std::string_view s) noexcept {
  if (s == "newreno" || s == "reno") return CongestionAlgorithm::NewReno;
  if (s == "cubic") return CongestionAlgorithm::Cubic;
  return std::nullopt;
}

void CongestionControl::init(CongestionAlgorithm algo, std::uint32_t mss) noexcept {
  // The rest is as constructed: the caller starts from a fresh object (see the
  // header), so it is not cleared a second time here.
  algo_ = algo;
  mss_ = mss;
  // RFC 5681 3.1 (RFC 3390): IW = min(4*MSS, max(2*MSS, 4380 bytes)).
  cwnd = std::min<std::uint32_t>(4 * mss, std::max<std::uint32_t>(2 * mss, 4380));
}

void CongestionControl::set_algorithm(CongestionAlgorithm algo) noexcept {
  algo_ = algo;
  epoch_start_.reset();
  w_max_ = 0;
  ca_acked_ = 0;
  cwnd_frac_ = 0;
}

void CongestionControl::on_ack(std::uint32_t acked, Instant now, Duration srtt) noexcept {
  // Beyond the largest window TCP can use (RFC 7323 2.3: 2^30) growth means
  // nothing, and it must never wrap.
  if (cwnd >= kMaxCwnd) return;
  if (cwnd < ssthresh) {
    // RFC 5681 3.1: slow start, cwnd += min(N, SMSS) per ACK (RFC 9438 4.10: CUBIC
    // slow-starts the same way).
    cwnd += std::min(acked, mss_);
    return;
  }
  if (algo_ == CongestionAlgorithm::Cubic) {
    cubic_avoidance(acked, now, srtt);
    return;
  }
  // RFC 5681 3.1 congestion avoidance with RFC 3465 2.1 byte counting: one SMSS
  // per cwnd's worth of bytes acknowledged, i.e. about one SMSS per RTT.
  ca_acked_ += acked;
  if (ca_acked_ >= cwnd) {
    ca_acked_ -= cwnd;
    cwnd += mss_;
  }
}

void CongestionControl::cubic_avoidance(std::uint32_t acked, Instant now, Duration srtt) noexcept {
  const double mss = mss_;
  const double cwnd_seg = cwnd / mss;
  if (!epoch_start_) {
    // RFC 9438 4.2: a new epoch starts with the first ACK in congestion avoidance.
    epoch_start_ = now;
    cwnd_epoch_ = cwnd_seg;
    if (w_max_ <= cwnd_seg) {
      // Already at (or past) the old maximum, or no loss seen yet / a timeout
      // (4.8): start on the convex side, K = 0, W_max = the window now.
      k_ = 0;
      w_max_ = cwnd_seg;
    } else {
      k_ = std::cbrt((w_max_ - cwnd_epoch_) / kCubicC);  // 4.2 Figure 2
    }
    w_est_ = cwnd_epoch_;
  }
  const double t = std::chrono::duration<double>(now - *epoch_start_).count();
  const double rtt = std::chrono::duration<double>(srtt).count();
  auto w_cubic = [&](double at) { return kCubicC * (at - k_) * (at - k_) * (at - k_) + w_max_; };

  // 4.3 Reno-friendly region: W_est grows like Reno with alpha_cubic (1 once W_est
  // passed W_max), per segment acknowledged.
  const double alpha = w_est_ >= w_max_ ? 1.0 : 3.0 * (1.0 - kCubicBeta) / (1.0 + kCubicBeta);
  w_est_ += alpha * (acked / mss) / cwnd_seg;

  double increase_seg;  // segments to add for this ACK
  if (w_cubic(t) < w_est_) {
    increase_seg = w_est_ - cwnd_seg;  // 4.3: cwnd = W_est
  } else {
    // 4.4 / 4.5: target = W_cubic(t + RTT), clamped to [cwnd, 1.5 * cwnd];
    // cwnd += (target - cwnd) / cwnd per segment acknowledged.
    const double target = std::clamp(w_cubic(t + rtt), cwnd_seg, 1.5 * cwnd_seg);
    increase_seg = (target - cwnd_seg) / cwnd_seg * (acked / mss);
  }
  if (increase_seg <= 0) return;
  cwnd_frac_ += increase_seg * mss;
  const auto whole = static_cast<std::uint32_t>(cwnd_frac_);
  cwnd_frac_ -= whole;
  cwnd = std::min(cwnd + whole, kMaxCwnd);
}

void CongestionControl::reduce(std::uint32_t flight_size) noexcept {
  if (algo_ == CongestionAlgorithm::Cubic) {
    const double cwnd_seg = static_cast<double>(cwnd) / mss_;
    // RFC 9438 4.7 fast convergence: a loss below the previous maximum means
    // another flow is taking bandwidth; release more of it.
    w_max_ = cwnd_seg < w_max_ ? cwnd_seg * (1.0 + kCubicBeta) / 2.0 : cwnd_seg;
    // 4.6: ssthresh = cwnd * beta_cubic (at least 2 SMSS, RFC 5681 3.1).
    ssthresh = std::max<std::uint32_t>(static_cast<std::uint32_t>(cwnd * kCubicBeta), 2 * mss_);
  } else {
    // RFC 5681 3.1 equation (4): ssthresh = max(FlightSize / 2, 2*SMSS).
    ssthresh = std::max<std::uint32_t>(flight_size / 2, 2 * mss_);
  }
  epoch_start_.reset();
  ca_acked_ = 0;
  cwnd_frac_ = 0;
}

void CongestionControl::on_loss(std::uint32_t flight_size) noexcept {
  reduce(flight_size);
  cwnd = ssthresh;
}

void CongestionControl::on_timeout(std::uint32_t flight_size) noexcept {
  reduce(flight_size);
  cwnd = mss_;  // RFC 5681 3.1: the loss window, 1 SMSS
  // RFC 9438 4.8: the first avoidance stage after a timeout starts with K = 0 and
  // W_max = the window at its start.
  w_max_ = 0;
}

}  // namespace riptide::tcp
