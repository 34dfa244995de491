// riptide-proxy's backend selection (apps/common/backend_pool.hpp): smooth weighted
// round robin, least connections with weights, weighted rendezvous hashing of the
// client address (a backend going down moves only its own clients), and passive
// health (down after N consecutive connect failures, retried after a time).
#include "common/backend_pool.hpp"

#include <gtest/gtest.h>

#include <map>

namespace riptide::apps::proxy {
namespace {

const Instant kT0 = Instant{std::chrono::seconds{100}};

std::vector<BackendSpec> specs(std::initializer_list<std::uint32_t> weights) {
  std::vector<BackendSpec> v;
  std::uint8_t host = 10;
  for (std::uint32_t w : weights) v.push_back(BackendSpec{Endpoint{Ipv4Addr::from_octets(198, 18, 1, host++), 8080}, w});
  return v;
}

Ipv4Addr client(std::uint32_t i) { return Ipv4Addr{Ipv4Addr::from_octets(198, 18, 128, 0).value + i}; }

TEST(RoundRobin, EqualWeightsRotate) {
  BackendPool pool(specs({1, 1, 1}), Balance::RoundRobin, 0, std::chrono::seconds{1});
  std::string seq;
  for (int i = 0; i < 9; ++i) seq += static_cast<char>('a' + *pool.pick(client(0), kT0));
  EXPECT_EQ(seq, "abcabcabc");
}

TEST(RoundRobin, WeightsGiveTheirShareWithoutBursts) {
  // Weights 1, 3, 2: over any 6 consecutive picks exactly 1, 3 and 2 of each, and
  // smooth: b never more than twice in a row (plain weighted RR would give bbb).
  BackendPool pool(specs({1, 3, 2}), Balance::RoundRobin, 0, std::chrono::seconds{1});
  std::string seq;
  for (int i = 0; i < 600; ++i) seq += static_cast<char>('a' + *pool.pick(client(0), kT0));
  for (std::size_t start = 0; start + 6 <= seq.size(); start += 6) {
    const std::string w = seq.substr(start, 6);
    EXPECT_EQ(std::count(w.begin(), w.end(), 'a'), 1) << w;
    EXPECT_EQ(std::count(w.begin(), w.end(), 'b'), 3) << w;
    EXPECT_EQ(std::count(w.begin(), w.end(), 'c'), 2) << w;
  }
  EXPECT_EQ(seq.find("bbb"), std::string::npos) << seq.substr(0, 24);
}

TEST(RoundRobin, SkipsABackendMarkedDownUntilItsRetryTime) {
  BackendPool pool(specs({1, 1}), Balance::RoundRobin, 2, std::chrono::seconds{10});
  pool.failed(0, BackendPool::Failure::Refused, kT0);
  EXPECT_TRUE(pool.available(0, kT0)) << "one failure of two";
  pool.failed(0, BackendPool::Failure::TimedOut, kT0);
  EXPECT_FALSE(pool.available(0, kT0));
  EXPECT_EQ(pool.backend(0).stats.marked_down, 1u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(*pool.pick(client(0), kT0 + std::chrono::seconds{9}), 1u);
  // The retry time has come: it takes part again; one more failure marks it down at once.
  const Instant later = kT0 + std::chrono::seconds{10};
  bool picked0 = false;
  for (int i = 0; i < 2; ++i) picked0 = picked0 || *pool.pick(client(0), later) == 0;
  EXPECT_TRUE(picked0);
  pool.failed(0, BackendPool::Failure::Refused, later);
  EXPECT_FALSE(pool.available(0, later));
  EXPECT_EQ(pool.backend(0).stats.marked_down, 1u) << "still the same outage";
  // A success clears it.
  pool.connected(0);
  EXPECT_TRUE(pool.available(0, later));
  EXPECT_EQ(pool.backend(0).consecutive_failures, 0u);
}

TEST(RoundRobin, OwnFailuresDoNotMarkABackendDown) {
  BackendPool pool(specs({1}), Balance::RoundRobin, 1, std::chrono::seconds{10});
  pool.failed(0, BackendPool::Failure::Other, kT0);  // no port, no slot: not the backend's fault
  EXPECT_TRUE(pool.available(0, kT0));
  EXPECT_EQ(pool.backend(0).stats.failed_other, 1u);
}

TEST(RoundRobin, NothingWhenEveryBackendIsDown) {
  BackendPool pool(specs({1, 2}), Balance::RoundRobin, 1, std::chrono::seconds{10});
  pool.failed(0, BackendPool::Failure::Refused, kT0);
  pool.failed(1, BackendPool::Failure::Refused, kT0);
  EXPECT_FALSE(pool.pick(client(0), kT0).has_value());
  BackendPool hashed(specs({1, 2}), Balance::SourceHash, 1, std::chrono::seconds{10});
  hashed.failed(0, BackendPool::Failure::Refused, kT0);
  hashed.failed(1, BackendPool::Failure::Refused, kT0);
  EXPECT_FALSE(hashed.pick(client(0), kT0).has_value());
  EXPECT_TRUE(hashed.pick(client(0), kT0 + std::chrono::seconds{10}).has_value()) << "retry time";
}

TEST(RoundRobin, DownAfterZeroNeverMarksDown) {
  BackendPool pool(specs({1}), Balance::RoundRobin, 0, std::chrono::seconds{10});
  for (int i = 0; i < 100; ++i) pool.failed(0, BackendPool::Failure::Refused, kT0);
  EXPECT_TRUE(pool.pick(client(0), kT0).has_value());
  EXPECT_EQ(pool.backend(0).stats.refused, 100u);
}

TEST(LeastConnections, PicksTheFewestActive) {
  BackendPool pool(specs({1, 1, 1}), Balance::LeastConnections, 0, std::chrono::seconds{1});
  pool.started(0);
  pool.started(0);
  pool.started(1);
  EXPECT_EQ(*pool.pick(client(0), kT0), 2u);
  pool.started(2);
  pool.started(2);
  EXPECT_EQ(*pool.pick(client(0), kT0), 1u);
  pool.finished(0);
  pool.finished(0);
  EXPECT_EQ(*pool.pick(client(0), kT0), 0u);
}

TEST(LeastConnections, WeightsScaleTheCount) {
  // Weight 3 with 3 active equals weight 1 with 1 active; with 2 it is less loaded.
  BackendPool pool(specs({1, 3}), Balance::LeastConnections, 0, std::chrono::seconds{1});
  pool.started(0);
  pool.started(1);
  pool.started(1);
  EXPECT_EQ(*pool.pick(client(0), kT0), 1u);
  // Filling as picked: in the long run 1 : 3.
  BackendPool fill(specs({1, 3}), Balance::LeastConnections, 0, std::chrono::seconds{1});
  for (int i = 0; i < 400; ++i) fill.started(*fill.pick(client(0), kT0));
  EXPECT_EQ(fill.backend(0).stats.active, 100u);
  EXPECT_EQ(fill.backend(1).stats.active, 300u);
}

TEST(LeastConnections, TiesRotate) {
  BackendPool pool(specs({1, 1, 1}), Balance::LeastConnections, 0, std::chrono::seconds{1});
  std::string seq;
  for (int i = 0; i < 6; ++i) seq += static_cast<char>('a' + *pool.pick(client(0), kT0));  // none started
  EXPECT_EQ(seq, "abcabc");
}

TEST(LeastConnections, SkipsDownBackends) {
  BackendPool pool(specs({1, 1}), Balance::LeastConnections, 1, std::chrono::seconds{5});
  pool.failed(0, BackendPool::Failure::Refused, kT0);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(*pool.pick(client(0), kT0), 1u);
    pool.started(1);
  }
}

// Which backend each of n clients gets.
std::vector<std::size_t> assignment(BackendPool& pool, std::uint32_t n, Instant now) {
  std::vector<std::size_t> v;
  for (std::uint32_t i = 0; i < n; ++i) v.push_back(*pool.pick(client(i), now));
  return v;
}

TEST(SourceHash, SameClientSameBackend) {
  BackendPool pool(specs({1, 1, 1, 1}), Balance::SourceHash, 0, std::chrono::seconds{1});
  for (std::uint32_t i = 0; i < 100; ++i) {
    const auto first = pool.pick(client(i), kT0);
    for (int k = 0; k < 3; ++k) EXPECT_EQ(pool.pick(client(i), kT0), first);
  }
}

TEST(SourceHash, SpreadFollowsTheWeights) {
  BackendPool pool(specs({1, 2, 1, 4}), Balance::SourceHash, 0, std::chrono::seconds{1});
  constexpr std::uint32_t kClients = 40000;
  std::map<std::size_t, int> count;
  for (std::size_t b : assignment(pool, kClients, kT0)) ++count[b];
  const double expected[] = {1.0 / 8, 2.0 / 8, 1.0 / 8, 4.0 / 8};
  for (std::size_t b = 0; b < 4; ++b) {
    const double share = static_cast<double>(count[b]) / kClients;
    EXPECT_NEAR(share, expected[b], 0.02) << "backend " << b;
  }
}

TEST(SourceHash, ABackendGoingDownMovesOnlyItsClients) {
  BackendPool pool(specs({1, 1, 1, 1, 1}), Balance::SourceHash, 1, std::chrono::seconds{30});
  constexpr std::uint32_t kClients = 20000;
  const auto before = assignment(pool, kClients, kT0);
  pool.failed(2, BackendPool::Failure::Refused, kT0);  // down_after 1: down
  const auto during = assignment(pool, kClients, kT0);
  std::map<std::size_t, int> moved_to;
  int had_2 = 0;
  for (std::uint32_t i = 0; i < kClients; ++i) {
    if (before[i] == 2) {
      ++had_2;
      EXPECT_NE(during[i], 2u);
      ++moved_to[during[i]];
    } else {
      EXPECT_EQ(during[i], before[i]) << "client " << i << " moved though its backend is up";
    }
  }
  EXPECT_NEAR(static_cast<double>(had_2) / kClients, 0.2, 0.02);
  // Its clients spread over the four others, not onto one.
  EXPECT_EQ(moved_to.size(), 4u);
  for (const auto& [b, n] : moved_to) EXPECT_NEAR(static_cast<double>(n) / had_2, 0.25, 0.05) << "backend " << b;
  // Back up: everyone is where they were.
  pool.connected(2);
  EXPECT_EQ(assignment(pool, kClients, kT0), before);
}

TEST(SourceHash, ReorderingTheListMovesNobody) {
  auto a = specs({1, 2, 3});
  auto b = std::vector<BackendSpec>{a[2], a[0], a[1]};
  BackendPool pa(a, Balance::SourceHash, 0, std::chrono::seconds{1});
  BackendPool pb(b, Balance::SourceHash, 0, std::chrono::seconds{1});
  for (std::uint32_t i = 0; i < 2000; ++i) {
    EXPECT_EQ(pa.backend(*pa.pick(client(i), kT0)).spec.address, pb.backend(*pb.pick(client(i), kT0)).spec.address);
  }
}


// IPv6 clients (issue 13): the hash takes all 128 bits.
IpAddr client6(std::uint32_t i) {
  IpAddr a = IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0);
  for (int k = 0; k < 4; ++k) a.bytes[static_cast<std::size_t>(12 + k)] = static_cast<std::uint8_t>(i >> (24 - 8 * k));
  return a;
}

TEST(SourceHash, Ipv4ClientsHashAsBeforeIpv6) {
  // The value of the pre-IPv6 formula, mix(mix(client) ^ (backend << 16 | port))
  // with splitmix64's finaliser, computed in Python for 198.18.128.7 and
  // 198.18.1.10:8080: IPv4 clients keep their backends across the change.
  EXPECT_EQ(BackendPool::hash(client(7), specs({1})[0].address), 0x70ef8e12cf4236cdull);
}

TEST(SourceHash, Ipv6ClientsAreStickySpreadByWeightAndUseEveryByte) {
  BackendPool pool(specs({1, 2, 1, 4}), Balance::SourceHash, 0, std::chrono::seconds{1});
  constexpr std::uint32_t kClients = 40000;
  std::map<std::size_t, int> count;
  for (std::uint32_t i = 0; i < kClients; ++i) {
    const auto b = pool.pick(client6(i), kT0);
    ASSERT_TRUE(b);
    EXPECT_EQ(pool.pick(client6(i), kT0), b) << "sticky";
    ++count[*b];
  }
  const double expected[] = {1.0 / 8, 2.0 / 8, 1.0 / 8, 4.0 / 8};
  for (std::size_t b = 0; b < 4; ++b) {
    EXPECT_NEAR(static_cast<double>(count[b]) / kClients, expected[b], 0.02) << "backend " << b;
  }
  // Clients differing only in the upper 64 bits (another /64) spread too.
  std::map<std::size_t, int> by_prefix;
  for (std::uint32_t i = 0; i < 4000; ++i) {
    IpAddr a = client6(1);
    a.bytes[6] = static_cast<std::uint8_t>(i >> 8);
    a.bytes[7] = static_cast<std::uint8_t>(i);
    ++by_prefix[*pool.pick(a, kT0)];
  }
  EXPECT_EQ(by_prefix.size(), 4u);
  for (std::size_t b = 0; b < 4; ++b) {
    EXPECT_NEAR(static_cast<double>(by_prefix[b]) / 4000, expected[b], 0.04) << "backend " << b;
  }
  // An IPv6 client is not its low 32 bits read as IPv4, nor the IPv4-mapped form.
  const Endpoint e = specs({1})[0].address;
  IpAddr low = IpAddr::v6(0, 0, 0, 0, 0, 0, 0xc612, 0x8007);  // ::198.18.128.7
  EXPECT_NE(BackendPool::hash(low, e), BackendPool::hash(client(7), e));
  // IPv6 backends hash by their whole address as well.
  const Endpoint b6a{IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10), 8080};
  const Endpoint b6b{IpAddr::v6(0x2001, 0xdb8, 0, 1, 0, 0, 0, 0x10), 8080};
  EXPECT_NE(BackendPool::hash(client6(1), b6a), BackendPool::hash(client6(1), b6b));
}

TEST(ActiveHealth, FallFailuresInARowTakeItDownRiseSuccessesBringItBack) {
  BackendPool pool(specs({1, 1}), Balance::RoundRobin, 0, std::chrono::seconds{1}, HealthOptions{true, 2, 3});
  pool.check_result(0, false);
  pool.check_result(0, false);
  pool.check_result(0, true);  // the run is broken: starts again
  pool.check_result(0, false);
  pool.check_result(0, false);
  EXPECT_TRUE(pool.available(0, kT0));
  pool.check_result(0, false);
  EXPECT_FALSE(pool.available(0, kT0));
  EXPECT_EQ(pool.health(0, kT0), Health::Down);
  EXPECT_EQ(pool.backend(0).stats.went_down, 1u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(pool.pick(client(0), kT0), 1u) << "only B while A is down";
  pool.check_result(0, true);
  pool.check_result(0, false);
  pool.check_result(0, true);
  EXPECT_FALSE(pool.available(0, kT0));
  pool.check_result(0, true);
  EXPECT_TRUE(pool.available(0, kT0));
  EXPECT_EQ(pool.backend(0).stats.went_up, 1u);
  EXPECT_EQ(pool.backend(0).stats.checks, 10u);
  EXPECT_EQ(pool.backend(0).stats.checks_failed, 6u);
}

TEST(ActiveHealth, PassiveMarksWaitForTheChecks) {
  BackendPool pool(specs({1, 1}), Balance::RoundRobin, 2, std::chrono::milliseconds{10}, HealthOptions{true, 2, 3});
  pool.failed(0, BackendPool::Failure::Refused, kT0);
  EXPECT_TRUE(pool.available(0, kT0));
  pool.failed(0, BackendPool::Failure::TimedOut, kT0);
  EXPECT_FALSE(pool.available(0, kT0));
  EXPECT_EQ(pool.backend(0).stats.marked_down, 1u);
  EXPECT_FALSE(pool.available(0, kT0 + std::chrono::seconds{60})) << "no retry time: the checks decide";
  pool.check_result(0, true);
  EXPECT_FALSE(pool.available(0, kT0));
  pool.check_result(0, true);
  EXPECT_TRUE(pool.available(0, kT0));
}

TEST(Draining, WeightZeroDrainAndSetDrain) {
  std::vector<BackendSpec> s = specs({1, 0, 1});
  s[2].drain = true;
  BackendPool pool(s, Balance::LeastConnections, 0, std::chrono::seconds{1});
  for (int i = 0; i < 4; ++i) EXPECT_EQ(pool.pick(client(0), kT0), 0u);
  EXPECT_EQ(pool.health(1, kT0), Health::Drain);
  EXPECT_EQ(pool.health(2, kT0), Health::Drain);
  pool.set_drain(0, true);
  EXPECT_FALSE(pool.pick(client(0), kT0).has_value()) << "all draining: none";
  pool.set_drain(2, false);
  EXPECT_EQ(pool.pick(client(0), kT0), 2u);
  BackendPool hashed(s, Balance::SourceHash, 0, std::chrono::seconds{1});
  for (std::uint32_t c = 0; c < 50; ++c) EXPECT_EQ(hashed.pick(client(c), kT0), 0u);
}

}  // namespace
}  // namespace riptide::apps::proxy
