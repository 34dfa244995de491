// NeighborCache (RFC 4861 7.3.2): every state and transition, the retransmission
// limits (MAX_MULTICAST_SOLICIT, MAX_UNICAST_SOLICIT), expiry, the bounded pending
// queue and cache, and the NA table of 7.2.5. Grouped by the state an entry starts in.
#include "ip/neighbor_cache.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace riptide {
namespace {

using Kind = NeighborCache::Action::Kind;

const IpAddr kPeer = IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const IpAddr kOther = IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 3);
const wire::MacAddr kMac{{0x02, 0, 0, 0, 0, 2}};
const wire::MacAddr kMac2{{0x02, 0, 0, 0, 0, 0x22}};

class NeighborCacheTest : public ::testing::Test {
 protected:
  static NdConfig config() {
    NdConfig c;
    c.pending_packets = 3;
    c.cache_size = 4;
    return c;
  }
  std::vector<NeighborCache::Action> actions() {
    std::vector<NeighborCache::Action> out;
    nc.take_actions(out);
    return out;
  }
  std::vector<std::byte> packet(std::uint8_t tag) { return std::vector<std::byte>(48, std::byte{tag}); }
  void at(Duration d) {
    now += d;
    nc.expire(now);
  }
  // An entry in `s`, no actions pending.
  void make(NdState s) {
    switch (s) {
      case NdState::Incomplete:
        nc.resolve(kPeer, packet(1), now);
        break;
      case NdState::Reachable:
        nc.resolve(kPeer, packet(1), now);
        nc.on_advertisement(kPeer, kMac, true, true, now);
        break;
      case NdState::Stale:
        nc.on_solicitation(kPeer, kMac, now);
        break;
      case NdState::Delay:
        nc.on_solicitation(kPeer, kMac, now);
        nc.resolve(kPeer, packet(1), now);
        break;
      case NdState::Probe:
        nc.on_solicitation(kPeer, kMac, now);
        nc.resolve(kPeer, packet(1), now);
        at(nc.config().delay_first_probe);
        break;
    }
    ASSERT_EQ(nc.state(kPeer), s);
    actions();
  }
  Counters counters;
  Instant now = Instant{} + std::chrono::seconds{1000};
  NeighborCache nc{config(), counters};
};

// --- no entry --------------------------------------------------------------------------

TEST_F(NeighborCacheTest, NoEntry_SendCreatesIncompleteAndSolicits) {
  EXPECT_FALSE(nc.resolve(kPeer, packet(1), now));
  EXPECT_EQ(nc.state(kPeer), NdState::Incomplete);
  EXPECT_EQ(nc.pending(), 1u);
  auto a = actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::SolicitMulticast);
  EXPECT_EQ(a[0].target, kPeer);
  EXPECT_EQ(counters[Counter::nd_ns_out], 1u);
}

TEST_F(NeighborCacheTest, NoEntry_SolicitationCreatesStale) {
  nc.on_solicitation(kPeer, kMac, now);  // RFC 4861 7.2.3
  EXPECT_EQ(nc.state(kPeer), NdState::Stale);
  EXPECT_EQ(nc.mac(kPeer), kMac);
  EXPECT_TRUE(actions().empty());
}

TEST_F(NeighborCacheTest, NoEntry_AdvertisementIgnored) {
  nc.on_advertisement(kPeer, kMac, true, true, now);  // RFC 4861 7.2.5
  EXPECT_FALSE(nc.state(kPeer));
  EXPECT_EQ(counters[Counter::nd_na_no_entry], 1u);
}

// --- INCOMPLETE ------------------------------------------------------------------------

TEST_F(NeighborCacheTest, Incomplete_SolicitedAdvertisementReleasesAsReachable) {
  make(NdState::Incomplete);
  EXPECT_FALSE(nc.resolve(kPeer, packet(2), now));  // waits too, no second NS
  EXPECT_TRUE(actions().empty());
  nc.on_advertisement(kPeer, kMac, true, false, now);
  EXPECT_EQ(nc.state(kPeer), NdState::Reachable);
  auto a = actions();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].kind, Kind::Release);
  EXPECT_EQ(a[0].mac, kMac);
  EXPECT_EQ(a[0].packet, packet(1));
  EXPECT_EQ(a[1].packet, packet(2));
  EXPECT_EQ(nc.pending(), 0u);
}

TEST_F(NeighborCacheTest, Incomplete_UnsolicitedAdvertisementMakesStale) {
  make(NdState::Incomplete);
  nc.on_advertisement(kPeer, kMac, false, true, now);
  EXPECT_EQ(nc.state(kPeer), NdState::Stale);
  EXPECT_EQ(actions().size(), 1u);  // still released
}

TEST_F(NeighborCacheTest, Incomplete_AdvertisementWithoutAddressIgnored) {
  make(NdState::Incomplete);
  nc.on_advertisement(kPeer, std::nullopt, true, true, now);
  EXPECT_EQ(nc.state(kPeer), NdState::Incomplete);
  EXPECT_EQ(counters[Counter::nd_na_no_entry], 1u);
}

TEST_F(NeighborCacheTest, Incomplete_SolicitationFromThePeerReleasesAsStale) {
  make(NdState::Incomplete);
  nc.on_solicitation(kPeer, kMac, now);
  EXPECT_EQ(nc.state(kPeer), NdState::Stale);
  auto a = actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::Release);
}

TEST_F(NeighborCacheTest, Incomplete_RetransmitsThenGivesUp) {
  make(NdState::Incomplete);
  nc.resolve(kPeer, packet(2), now);
  // RFC 4861 7.2.2: RetransTimer apart, MAX_MULTICAST_SOLICIT (3) in all.
  at(std::chrono::milliseconds{999});
  EXPECT_TRUE(actions().empty());
  at(std::chrono::milliseconds{1});
  auto a = actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::SolicitMulticast);
  at(std::chrono::seconds{1});
  EXPECT_EQ(actions().size(), 1u);
  EXPECT_EQ(counters[Counter::nd_ns_out], 3u);
  at(std::chrono::seconds{1});
  EXPECT_TRUE(actions().empty());
  EXPECT_FALSE(nc.state(kPeer));
  EXPECT_EQ(counters[Counter::nd_unresolved], 2u);
  EXPECT_EQ(nc.pending(), 0u);
}

// --- REACHABLE -------------------------------------------------------------------------

TEST_F(NeighborCacheTest, Reachable_UsedWithoutChange) {
  make(NdState::Reachable);
  EXPECT_EQ(nc.resolve(kPeer, packet(3), now), kMac);
  EXPECT_EQ(nc.state(kPeer), NdState::Reachable);
  EXPECT_EQ(nc.reachable_until(kPeer), now + nc.config().reachable_time);
}

TEST_F(NeighborCacheTest, Reachable_StaleAfterReachableTime) {
  make(NdState::Reachable);
  at(nc.config().reachable_time);
  EXPECT_EQ(nc.state(kPeer), NdState::Stale);
  EXPECT_EQ(nc.reachable_until(kPeer), Instant{});
}

TEST_F(NeighborCacheTest, Reachable_OverrideClearNewAddressMakesStale) {
  make(NdState::Reachable);
  nc.on_advertisement(kPeer, kMac2, false, false, now);  // 7.2.5: O=0, address differs
  EXPECT_EQ(nc.state(kPeer), NdState::Stale);
  EXPECT_EQ(nc.mac(kPeer), kMac);  // not taken
}

TEST_F(NeighborCacheTest, Reachable_OverrideSetUnsolicitedNewAddressMakesStale) {
  make(NdState::Reachable);
  nc.on_advertisement(kPeer, kMac2, false, true, now);
  EXPECT_EQ(nc.state(kPeer), NdState::Stale);
  EXPECT_EQ(nc.mac(kPeer), kMac2);
}

TEST_F(NeighborCacheTest, Reachable_SolicitationWithNewAddressMakesStale) {
  make(NdState::Reachable);
  nc.on_solicitation(kPeer, kMac2, now);  // 7.2.3
  EXPECT_EQ(nc.state(kPeer), NdState::Stale);
  EXPECT_EQ(nc.mac(kPeer), kMac2);
}

// --- STALE -----------------------------------------------------------------------------

TEST_F(NeighborCacheTest, Stale_SendMovesToDelay) {
  make(NdState::Stale);
  EXPECT_EQ(nc.resolve(kPeer, packet(1), now), kMac);  // used at once (7.3.3)
  EXPECT_EQ(nc.state(kPeer), NdState::Delay);
  EXPECT_TRUE(actions().empty());
}

TEST_F(NeighborCacheTest, Stale_SolicitedAdvertisementMakesReachable) {
  make(NdState::Stale);
  nc.on_advertisement(kPeer, std::nullopt, true, false, now);
  EXPECT_EQ(nc.state(kPeer), NdState::Reachable);
}

TEST_F(NeighborCacheTest, Stale_OverrideClearNewAddressIgnored) {
  make(NdState::Stale);
  nc.on_advertisement(kPeer, kMac2, true, false, now);  // 7.2.5 b): ignored
  EXPECT_EQ(nc.state(kPeer), NdState::Stale);
  EXPECT_EQ(nc.mac(kPeer), kMac);
}

TEST_F(NeighborCacheTest, Stale_UnusedIsCollected) {
  make(NdState::Stale);
  at(nc.config().stale_lifetime);
  EXPECT_FALSE(nc.state(kPeer));
}

// --- DELAY -----------------------------------------------------------------------------

TEST_F(NeighborCacheTest, Delay_ProbeAfterDelayFirstProbeTime) {
  make(NdState::Delay);
  at(nc.config().delay_first_probe - std::chrono::milliseconds{1});
  EXPECT_EQ(nc.state(kPeer), NdState::Delay);
  at(std::chrono::milliseconds{1});
  EXPECT_EQ(nc.state(kPeer), NdState::Probe);
  auto a = actions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].kind, Kind::SolicitUnicast);
  EXPECT_EQ(a[0].mac, kMac);
}

TEST_F(NeighborCacheTest, Delay_ConfirmationMakesReachable) {
  make(NdState::Delay);
  nc.on_advertisement(kPeer, kMac, true, false, now);
  EXPECT_EQ(nc.state(kPeer), NdState::Reachable);
  at(nc.config().delay_first_probe);
  EXPECT_TRUE(actions().empty());
}

// --- PROBE -----------------------------------------------------------------------------

TEST_F(NeighborCacheTest, Probe_RetransmitsThenDeletes) {
  make(NdState::Probe);
  EXPECT_EQ(nc.resolve(kPeer, packet(1), now), kMac);  // still usable while probing
  at(nc.config().retrans_timer);
  EXPECT_EQ(actions().size(), 1u);
  at(nc.config().retrans_timer);
  EXPECT_EQ(actions().size(), 1u);  // MAX_UNICAST_SOLICIT (3) sent in all
  at(nc.config().retrans_timer);
  EXPECT_TRUE(actions().empty());
  EXPECT_FALSE(nc.state(kPeer));
  EXPECT_EQ(counters[Counter::nd_probe_failed], 1u);
}

TEST_F(NeighborCacheTest, Probe_AnswerMakesReachable) {
  make(NdState::Probe);
  nc.on_advertisement(kPeer, kMac, true, true, now);
  EXPECT_EQ(nc.state(kPeer), NdState::Reachable);
}

// --- limits ----------------------------------------------------------------------------

TEST_F(NeighborCacheTest, PendingQueueIsBounded) {
  nc.resolve(kPeer, packet(1), now);
  nc.resolve(kPeer, packet(2), now);
  nc.resolve(kOther, packet(3), now);
  EXPECT_EQ(nc.pending(), 3u);
  EXPECT_FALSE(nc.resolve(kPeer, packet(4), now));
  EXPECT_EQ(nc.pending(), 3u);
  EXPECT_EQ(counters[Counter::nd_pending_full], 1u);
  nc.on_advertisement(kPeer, kMac, true, true, now);
  EXPECT_EQ(nc.pending(), 1u);
  EXPECT_FALSE(nc.resolve(kPeer, packet(5), now) == std::nullopt);
}

TEST_F(NeighborCacheTest, CacheIsBounded) {
  for (std::uint16_t i = 1; i <= 4; ++i) nc.on_solicitation(IpAddr::v6(0xfe80, 0, 0, 0, 0, 0, 0, i), kMac, now);
  EXPECT_EQ(nc.size(), 4u);
  nc.on_solicitation(kPeer, kMac, now);  // full: not learned
  EXPECT_FALSE(nc.state(kPeer));
  EXPECT_FALSE(nc.resolve(kPeer, packet(1), now));  // full: dropped, counted
  EXPECT_EQ(counters[Counter::nd_pending_full], 1u);
  EXPECT_EQ(nc.size(), 4u);
}

TEST_F(NeighborCacheTest, NextTimerSkipsIdleWalks) {
  EXPECT_EQ(nc.next_timer(), Instant::max());
  make(NdState::Reachable);
  EXPECT_EQ(nc.next_timer(), now + nc.config().retrans_timer);  // the INCOMPLETE one, earlier
  at(nc.config().retrans_timer);
  EXPECT_EQ(nc.next_timer(), now - nc.config().retrans_timer + nc.config().reachable_time);
}

TEST(NdState, PrintsTheRfcSpelling) {
  EXPECT_STREQ(to_string(NdState::Incomplete), "INCOMPLETE");
  EXPECT_STREQ(to_string(NdState::Probe), "PROBE");
}

}  // namespace
}  // namespace riptide
