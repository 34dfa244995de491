/// \file
/// TokenBucket: the ICMPv6 error rate limit of RFC 4443 2.4(f) ("a token bucket
/// ... a maximum average rate and a burst size"). Time is passed in; allow()
/// takes one token when there is one. Refills lazily on each call.
///
/// Thread-safety: none; one per core (the Interface's).
#pragma once

#include <algorithm>
#include <cstdint>

#include "common/time.hpp"

namespace riptide {

class TokenBucket {
 public:
  /// `rate_per_s` tokens a second on average, at most `burst` saved up (a full
  /// bucket at start). rate 0: nothing is ever allowed.
  TokenBucket(std::uint32_t rate_per_s, std::uint32_t burst) noexcept
      : rate_per_s_(rate_per_s), burst_(burst), tokens_(burst) {}

  /// True (and one token spent) if a message may go now.
  [[nodiscard]] bool allow(Instant now) noexcept {
    refill(now);
    if (tokens_ == 0) return false;
    --tokens_;
    return true;
  }
  [[nodiscard]] std::uint32_t tokens(Instant now) noexcept {
    refill(now);
    return tokens_;
  }

 private:
  void refill(Instant now) noexcept {
    if (rate_per_s_ == 0) return;
    if (!started_) {
      started_ = true;
      last_ = now;
      return;
    }
    if (now <= last_) return;
    // Whole tokens earned since last_; the remainder carries over (last_ advances
    // by exactly the time those tokens took), so the average rate is exact.
    const Duration per_token = std::chrono::nanoseconds{1'000'000'000LL / rate_per_s_};
    const auto earned = (now - last_) / per_token;
    if (earned <= 0) return;
    if (static_cast<std::uint64_t>(earned) >= burst_ - tokens_) {
      tokens_ = burst_;
      last_ = now;
    } else {
      tokens_ += static_cast<std::uint32_t>(earned);
      last_ += per_token * earned;
    }
  }

  std::uint32_t rate_per_s_;
  std::uint32_t burst_;
  std::uint32_t tokens_;
  bool started_ = false;
  Instant last_{};
};

}  // namespace riptide
