// RtoEstimator (RFC 6298): SRTT/RTTVAR smoothing, clamping, exponential back-off.
// Expected values are worked out by hand in the comments (alpha 1/8, beta 1/4, K 4).
#include "tcp/rto.hpp"

#include <gtest/gtest.h>

namespace riptide::tcp {
namespace {

using std::chrono::microseconds;

RtoEstimator linux_like() { return RtoEstimator(seconds{1}, milliseconds{200}, seconds{120}); }

TEST(RtoEstimator, InitialRtoBeforeAnySample) {
  // RFC 6298 2.1: until a measurement, RTO = 1 s.
  const RtoEstimator e = linux_like();
  EXPECT_EQ(e.rto(), seconds{1});
  EXPECT_FALSE(e.has_sample());
  EXPECT_EQ(RtoEstimator{}.rto(), seconds{1});
}

TEST(RtoEstimator, FirstSampleSetsSrttAndHalfRttvar) {
  // RFC 6298 2.2: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4*RTTVAR.
  RtoEstimator e = linux_like();
  e.sample(milliseconds{100});
  EXPECT_TRUE(e.has_sample());
  EXPECT_EQ(e.srtt(), milliseconds{100});
  EXPECT_EQ(e.rttvar(), milliseconds{50});
  EXPECT_EQ(e.rto(), milliseconds{300});  // 100 + 4 * 50
}

TEST(RtoEstimator, LaterSamplesSmoothWithAlphaEighthBetaQuarter) {
  RtoEstimator e = linux_like();
  e.sample(milliseconds{100});  // SRTT 100, RTTVAR 50
  // R' = 180: RTTVAR = 3/4 * 50 + 1/4 * |100 - 180| = 37.5 + 20 = 57.5
  //           SRTT   = 7/8 * 100 + 1/8 * 180 = 87.5 + 22.5 = 110
  //           RTO    = 110 + 4 * 57.5 = 340
  e.sample(milliseconds{180});
  EXPECT_EQ(e.rttvar(), microseconds{57500});
  EXPECT_EQ(e.srtt(), milliseconds{110});
  EXPECT_EQ(e.rto(), milliseconds{340});
  // R' = 60:  RTTVAR = 3/4 * 57.5 + 1/4 * |110 - 60| = 43.125 + 12.5 = 55.625
  //           SRTT   = 7/8 * 110 + 1/8 * 60 = 96.25 + 7.5 = 103.75
  //           RTO    = 103.75 + 4 * 55.625 = 326.25
  e.sample(milliseconds{60});
  EXPECT_EQ(e.rttvar(), microseconds{55625});
  EXPECT_EQ(e.srtt(), microseconds{103750});
  EXPECT_EQ(e.rto(), microseconds{326250});
}

TEST(RtoEstimator, RttvarUsesOldSrtt) {
  // RFC 6298 2.3: RTTVAR is updated with the SRTT from before this sample.
  RtoEstimator e = linux_like();
  e.sample(milliseconds{400});  // SRTT 400, RTTVAR 200
  e.sample(milliseconds{0});    // RTTVAR = 150 + 100 = 250 (not |350 - 0| / 4 + 150)
  EXPECT_EQ(e.rttvar(), milliseconds{250});
  EXPECT_EQ(e.srtt(), milliseconds{350});
  EXPECT_EQ(e.rto(), milliseconds{1350});
}

TEST(RtoEstimator, ClampedToMinimum) {
  RtoEstimator e = linux_like();
  e.sample(milliseconds{10});  // 10 + 4 * 5 = 30 ms < 200 ms
  EXPECT_EQ(e.srtt(), milliseconds{10});
  EXPECT_EQ(e.rto(), milliseconds{200});
  e.sample(Duration::zero());  // a zero RTT (same-host peer) too
  EXPECT_EQ(e.rto(), milliseconds{200});
}

TEST(RtoEstimator, ClampedToMaximum) {
  RtoEstimator e = linux_like();
  e.sample(seconds{100});  // 100 + 4 * 50 = 300 s > 120 s
  EXPECT_EQ(e.srtt(), seconds{100});
  EXPECT_EQ(e.rto(), seconds{120});
}

TEST(RtoEstimator, VarianceTermIsAtLeastOneTick) {
  // RFC 6298 2.3: RTO = SRTT + max(G, K*RTTVAR) with G the 1 ms clock granularity.
  RtoEstimator e(seconds{1}, Duration::zero(), seconds{120});
  for (int i = 0; i < 200; ++i) e.sample(milliseconds{300});
  EXPECT_EQ(e.srtt(), milliseconds{300});
  EXPECT_LT(e.rttvar(), microseconds{250});
  EXPECT_EQ(e.rto(), milliseconds{301});
}

TEST(RtoEstimator, NegativeSampleIsIgnored) {
  RtoEstimator e = linux_like();
  e.sample(milliseconds{-5});
  EXPECT_FALSE(e.has_sample());
  EXPECT_EQ(e.rto(), seconds{1});
}

TEST(RtoEstimator, BackoffDoublesUpToMaximum) {
  // RFC 6298 5.5: RTO <- RTO * 2 on each expiry, bounded by the maximum (2.5).
  RtoEstimator e = linux_like();
  const Duration expected[] = {seconds{2},  seconds{4},  seconds{8},   seconds{16},
                               seconds{32}, seconds{64}, seconds{120}, seconds{120}};
  unsigned n = 0;
  for (const Duration d : expected) {
    e.backoff();
    ++n;
    EXPECT_EQ(e.rto(), d) << "after " << n << " backoffs";
    EXPECT_EQ(e.backoffs(), n);
  }
}

TEST(RtoEstimator, BackoffFromMeasuredRto) {
  RtoEstimator e = linux_like();
  e.sample(milliseconds{100});  // RTO 300 ms
  e.backoff();
  EXPECT_EQ(e.rto(), milliseconds{600});
  e.backoff();
  EXPECT_EQ(e.rto(), milliseconds{1200});
  // Back-off leaves the estimators alone.
  EXPECT_EQ(e.srtt(), milliseconds{100});
  EXPECT_EQ(e.rttvar(), milliseconds{50});
}

TEST(RtoEstimator, SampleAfterBackoffRecomputesFromEstimators) {
  // RFC 6298 5.7 / Karn: once a new RTT sample is taken the backed-off RTO is
  // replaced by SRTT + 4*RTTVAR.
  RtoEstimator e = linux_like();
  e.sample(milliseconds{100});  // SRTT 100, RTTVAR 50
  for (int i = 0; i < 4; ++i) e.backoff();
  EXPECT_EQ(e.rto(), milliseconds{4800});
  EXPECT_EQ(e.backoffs(), 4u);
  e.sample(milliseconds{100});  // RTTVAR 37.5, SRTT 100: RTO 250
  EXPECT_EQ(e.backoffs(), 0u);
  EXPECT_EQ(e.rttvar(), microseconds{37500});
  EXPECT_EQ(e.rto(), milliseconds{250});
}

}  // namespace
}  // namespace riptide::tcp
