// Congestion window evolution on scripted ACK patterns: NewReno (RFC 5681, RFC
// 3465 byte counting, RFC 6582's ssthresh) and CUBIC (RFC 9438). Each test drives
// a CongestionControl directly, one RTT at a time: a round acknowledges one cwnd of
// data in SMSS-sized ACKs, then the clock moves on by the RTT.
#include "tcp/congestion.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace riptide::tcp {
namespace {

using std::chrono::milliseconds;
constexpr std::uint32_t kMss = 1000;

struct Flow {
  CongestionControl cc;
  Instant now{};
  Duration rtt = milliseconds{100};

  explicit Flow(CongestionAlgorithm a) { cc.init(a, kMss); }
  [[nodiscard]] double segments() const { return static_cast<double>(cc.cwnd) / kMss; }
  // One round trip: every segment of the window acknowledged, one ACK each.
  void round() {
    const std::uint32_t segs = cc.cwnd / kMss;
    for (std::uint32_t i = 0; i < segs; ++i) cc.on_ack(kMss, now, rtt);
    now += rtt;
  }
  void rounds(int n) {
    for (int i = 0; i < n; ++i) round();
  }
  // Rounds until `t` has passed since now.
  void run_for(Duration t) {
    const Instant end = now + t;
    while (now < end) round();
  }
};

TEST(CongestionParse, NamesRoundTrip) {
  EXPECT_EQ(parse_congestion_algorithm("newreno"), CongestionAlgorithm::NewReno);
  EXPECT_EQ(parse_congestion_algorithm("reno"), CongestionAlgorithm::NewReno);
  EXPECT_EQ(parse_congestion_algorithm("cubic"), CongestionAlgorithm::Cubic);
  EXPECT_FALSE(parse_congestion_algorithm("bbr").has_value());
  EXPECT_EQ(to_string(CongestionAlgorithm::Cubic), "cubic");
}

TEST(NewReno, InitialWindowFollowsRfc3390) {
  CongestionControl cc;
  cc.init(CongestionAlgorithm::NewReno, 1460);
  EXPECT_EQ(cc.cwnd, 4380u) << "min(4*MSS, max(2*MSS, 4380))";
  cc.init(CongestionAlgorithm::NewReno, 536);
  EXPECT_EQ(cc.cwnd, 2144u);
  cc.init(CongestionAlgorithm::NewReno, 9000);
  EXPECT_EQ(cc.cwnd, 18000u);
  EXPECT_EQ(cc.ssthresh, 0xFFFFFFFFu);
}

TEST(NewReno, SlowStartDoublesPerRoundTrip) {
  Flow f(CongestionAlgorithm::NewReno);
  EXPECT_EQ(f.cc.cwnd, 4000u);
  f.round();
  EXPECT_EQ(f.cc.cwnd, 8000u);
  f.round();
  EXPECT_EQ(f.cc.cwnd, 16000u);
  // RFC 5681 3.1: at most SMSS per ACK, however much it acknowledges.
  f.cc.on_ack(10 * kMss, f.now, f.rtt);
  EXPECT_EQ(f.cc.cwnd, 17000u);
}

TEST(NewReno, LossHalvesFlightAndAvoidanceAddsOneSegmentPerRoundTrip) {
  Flow f(CongestionAlgorithm::NewReno);
  f.rounds(4);  // 64 segments
  f.cc.on_loss(60 * kMss);
  EXPECT_EQ(f.cc.ssthresh, 30u * kMss) << "FlightSize / 2";
  EXPECT_EQ(f.cc.cwnd, 30u * kMss);
  for (int r = 1; r <= 10; ++r) {
    f.round();
    EXPECT_EQ(f.cc.cwnd, (30u + r) * kMss) << "round " << r;
  }
}

TEST(NewReno, WindowStopsGrowingAtTheLargestScaledWindow) {
  // Millions of ACKs on a loss-free path must not wrap cwnd.
  CongestionControl cc;
  cc.init(CongestionAlgorithm::NewReno, kMss);
  for (int i = 0; i < 3'000'000; ++i) cc.on_ack(kMss, Instant{}, milliseconds{1});
  EXPECT_GE(cc.cwnd, CongestionControl::kMaxCwnd);
  EXPECT_LT(cc.cwnd, CongestionControl::kMaxCwnd + kMss);
}

TEST(NewReno, SsthreshNeverBelowTwoSegments) {
  Flow f(CongestionAlgorithm::NewReno);
  f.cc.on_loss(kMss);
  EXPECT_EQ(f.cc.ssthresh, 2 * kMss);
}

TEST(NewReno, TimeoutCollapsesToOneSegmentThenSlowStartsToSsthresh) {
  Flow f(CongestionAlgorithm::NewReno);
  f.rounds(3);  // 32 segments
  f.cc.on_timeout(32 * kMss);
  EXPECT_EQ(f.cc.cwnd, kMss) << "RFC 5681 3.1 loss window";
  EXPECT_EQ(f.cc.ssthresh, 16 * kMss);
  f.rounds(4);  // 1, 2, 4, 8, 16
  EXPECT_EQ(f.cc.cwnd, 16 * kMss);
  f.round();  // in avoidance now
  EXPECT_EQ(f.cc.cwnd, 17 * kMss);
}

TEST(Cubic, LossReducesByBetaAndSetsTheCubicOrigin) {
  Flow f(CongestionAlgorithm::Cubic);
  f.cc.cwnd = 100 * kMss;
  f.cc.on_loss(100 * kMss);
  EXPECT_EQ(f.cc.ssthresh, 70u * kMss) << "RFC 9438 4.6: beta_cubic = 0.7";
  EXPECT_EQ(f.cc.cwnd, 70u * kMss);
  EXPECT_DOUBLE_EQ(f.cc.w_max(), 100.0);
  f.round();  // the first ACK in avoidance starts the epoch
  EXPECT_NEAR(f.cc.k(), std::cbrt(30.0 / 0.4), 1e-9) << "K = cbrt(W_max (1 - beta) / C)";
}

TEST(Cubic, WindowIsConcaveUpToWmaxThenConvex) {
  Flow f(CongestionAlgorithm::Cubic);
  f.cc.cwnd = 100 * kMss;
  f.cc.on_loss(100 * kMss);
  const double k = std::cbrt(30.0 / 0.4);  // 4.22 s
  // Concave: fast growth first, slowing down as it nears W_max.
  f.run_for(std::chrono::seconds{1});
  const double at1 = f.segments();
  f.run_for(std::chrono::seconds{1});
  const double at2 = f.segments();
  f.run_for(std::chrono::seconds{1});
  const double at3 = f.segments();
  EXPECT_GT(at2 - at1, at3 - at2) << at1 << " " << at2 << " " << at3;
  // Near K the window sits at W_max (the plateau) ...
  f.run_for(std::chrono::milliseconds{static_cast<int>(k * 1000) - 3000});
  const double near_k = f.segments();
  EXPECT_NEAR(near_k, 100.0, 3.0);
  // ... and W_cubic(t) = C (t - K)^3 + W_max follows the curve (t + RTT).
  for (double t : {1.5, 2.5, 3.5}) {
    const double expect = 0.4 * std::pow(t, 3) + 100.0;
    f.run_for(std::chrono::milliseconds{static_cast<int>(k * 1000 + t * 1000)} - (f.now - Instant{}));
    EXPECT_NEAR(f.segments(), expect, expect * 0.08) << "t - K = " << t;
  }
  EXPECT_GT(f.segments(), 110.0) << "convex: probing above W_max";
}

TEST(Cubic, FastConvergenceReleasesBandwidthOnALossBelowWmax) {
  Flow f(CongestionAlgorithm::Cubic);
  f.cc.cwnd = 100 * kMss;
  f.cc.on_loss(100 * kMss);  // W_max 100
  f.cc.cwnd = 80 * kMss;     // the next loss comes below it
  f.cc.on_loss(80 * kMss);
  EXPECT_DOUBLE_EQ(f.cc.w_max(), 80 * (1 + 0.7) / 2) << "RFC 9438 4.7";
  EXPECT_EQ(f.cc.cwnd, 56u * kMss);
}

TEST(Cubic, RenoFriendlyRegionOnShortRoundTrips) {
  // RFC 9438 4.3: with a small W_max and a short RTT, Reno would grow faster than
  // the cubic curve; CUBIC then follows W_est.
  Flow f(CongestionAlgorithm::Cubic);
  f.rtt = milliseconds{1};
  f.cc.cwnd = 10 * kMss;
  f.cc.on_loss(10 * kMss);  // cwnd 7, W_max 10, K = 1.96 s
  f.rounds(100);            // 0.1 s: the cubic curve alone would be near 7.1
  EXPECT_GT(f.segments(), 50.0);
  EXPECT_NEAR(f.segments(), f.cc.w_est(), 1.0);
}

TEST(Cubic, TimeoutRestartsFromOneSegmentWithKZero) {
  Flow f(CongestionAlgorithm::Cubic);
  f.cc.cwnd = 100 * kMss;
  f.cc.on_timeout(100 * kMss);
  EXPECT_EQ(f.cc.cwnd, kMss);
  EXPECT_EQ(f.cc.ssthresh, 70u * kMss);
  f.rounds(7);  // slow start: 1..64, then 70 caps it into avoidance
  EXPECT_GE(f.cc.cwnd, 70u * kMss);
  f.round();
  EXPECT_DOUBLE_EQ(f.cc.k(), 0.0) << "RFC 9438 4.8";
}

TEST(Cubic, SwitchingAlgorithmKeepsTheWindow) {
  Flow f(CongestionAlgorithm::NewReno);
  f.rounds(2);
  const std::uint32_t before = f.cc.cwnd;
  f.cc.set_algorithm(CongestionAlgorithm::Cubic);
  EXPECT_EQ(f.cc.cwnd, before);
  EXPECT_EQ(f.cc.algorithm(), CongestionAlgorithm::Cubic);
}

}  // namespace
}  // namespace riptide::tcp
