// Retransmission timeout per RFC 6298: SRTT/RTTVAR smoothing (2.2, 2.3), clamped to
// [rto_min, rto_max] (2.4, 2.5), doubled on each timeout (5.5). Karn's rule (3) is
// the caller's: never sample a retransmitted segment.
#pragma once

#include <algorithm>

#include "common/time.hpp"

namespace riptide::tcp {

class RtoEstimator {
 public:
  RtoEstimator() = default;
  RtoEstimator(Duration initial, Duration min, Duration max) noexcept
      : rto_(initial), min_(min), max_(max) {}

  void sample(Duration rtt) noexcept {
    if (rtt < Duration::zero()) return;
    if (!has_sample_) {
      // RFC 6298 2.2: first measurement R.
      srtt_ = rtt;
      rttvar_ = rtt / 2;
      has_sample_ = true;
    } else {
      // RFC 6298 2.3: beta = 1/4, alpha = 1/8.
      const Duration delta = srtt_ > rtt ? srtt_ - rtt : rtt - srtt_;
      rttvar_ = (rttvar_ * 3 + delta) / 4;
      srtt_ = (srtt_ * 7 + rtt) / 8;
    }
    // RFC 6298 2.3: RTO = SRTT + max(G, 4*RTTVAR), with G one clock tick (1 ms).
    const Duration k_rttvar = std::max<Duration>(std::chrono::milliseconds{1}, rttvar_ * 4);
    rto_ = std::clamp<Duration>(srtt_ + k_rttvar, min_, max_);
    backoff_ = 0;
  }

  // RFC 6298 5.5: back off the timer on expiry.
  void backoff() noexcept {
    ++backoff_;
    rto_ = std::min<Duration>(rto_ * 2, max_);
  }

  [[nodiscard]] Duration rto() const noexcept { return rto_; }
  [[nodiscard]] Duration srtt() const noexcept { return srtt_; }
  [[nodiscard]] Duration rttvar() const noexcept { return rttvar_; }
  [[nodiscard]] bool has_sample() const noexcept { return has_sample_; }
  [[nodiscard]] unsigned backoffs() const noexcept { return backoff_; }

 private:
  Duration rto_ = std::chrono::seconds{1};
  Duration min_ = std::chrono::milliseconds{200};
  Duration max_ = std::chrono::seconds{120};
  Duration srtt_{};
  Duration rttvar_{};
  bool has_sample_ = false;
  unsigned backoff_ = 0;
};

}  // namespace riptide::tcp
