// TokenBucket (RFC 4443 2.4(f)): the burst, the average rate, no credit beyond the
// burst after a long quiet spell, rate 0.
#include "ip/rate_limit.hpp"

#include <gtest/gtest.h>

namespace riptide {
namespace {

const Instant t0 = Instant{} + std::chrono::seconds{100};

TEST(TokenBucket, BurstThenRate) {
  TokenBucket b(10, 3);  // 10 a second, 3 saved up
  EXPECT_TRUE(b.allow(t0));
  EXPECT_TRUE(b.allow(t0));
  EXPECT_TRUE(b.allow(t0));
  EXPECT_FALSE(b.allow(t0));                                  // the burst is spent
  EXPECT_FALSE(b.allow(t0 + std::chrono::milliseconds{99}));  // not yet 100 ms
  EXPECT_TRUE(b.allow(t0 + std::chrono::milliseconds{100}));  // one token a 100 ms
  EXPECT_FALSE(b.allow(t0 + std::chrono::milliseconds{150}));
  EXPECT_TRUE(b.allow(t0 + std::chrono::milliseconds{200}));
}

TEST(TokenBucket, AverageRateOverASecond) {
  TokenBucket b(100, 1);
  int allowed = 0;
  for (int us = 0; us < 1'000'000; us += 100) {  // offered 10,000 a second
    allowed += b.allow(t0 + std::chrono::microseconds{us}) ? 1 : 0;
  }
  EXPECT_EQ(allowed, 100);  // the first (burst 1) and one every 10 ms after it
}

TEST(TokenBucket, IdleCreditCappedAtTheBurst) {
  TokenBucket b(10, 2);
  EXPECT_TRUE(b.allow(t0));
  EXPECT_TRUE(b.allow(t0));
  EXPECT_EQ(b.tokens(t0 + std::chrono::hours{1}), 2u);
}

TEST(TokenBucket, RateZeroAllowsNothing) {
  TokenBucket b(0, 0);
  EXPECT_FALSE(b.allow(t0));
  EXPECT_FALSE(b.allow(t0 + std::chrono::hours{1}));
}

}  // namespace
}  // namespace riptide
