// PmtuCache (RFC 8201): a Packet Too Big lowers a destination's path MTU, never
// raises it, never below 1280 (discarded), expires back to the link MTU, and the
// cache stays within its size.
#include "ip/pmtu.hpp"

#include <gtest/gtest.h>

namespace riptide {
namespace {

const Instant t0 = Instant{} + std::chrono::seconds{100};
const IpAddr kDst = IpAddr::v6(0x2001, 0xdb8, 1, 0, 0, 0, 0, 9);
const IpAddr kOther = IpAddr::v6(0x2001, 0xdb8, 2, 0, 0, 0, 0, 9);

TEST(PmtuCache, LowersAndClampsTheMss) {
  PmtuCache c;
  EXPECT_EQ(c.path_mtu(kDst, 1500, t0), 1500u);
  EXPECT_EQ(c.on_packet_too_big(kDst, 1400, 1500, t0), PmtuCache::Update::Lowered);
  EXPECT_EQ(c.path_mtu(kDst, 1500, t0), 1400u);
  EXPECT_EQ(c.mss_for(kDst, 1500, t0), 1340);  // 1400 - 40 - 20
  EXPECT_EQ(c.path_mtu(kOther, 1500, t0), 1500u);
  EXPECT_EQ(c.mss_for(kOther, 1500, t0), 1440);
}

TEST(PmtuCache, NeverRaisedByAPacketTooBig) {
  // RFC 8201 4: "MUST NOT increase its estimate ... in response to ... Packet Too Big".
  PmtuCache c;
  ASSERT_EQ(c.on_packet_too_big(kDst, 1300, 1500, t0), PmtuCache::Update::Lowered);
  EXPECT_EQ(c.on_packet_too_big(kDst, 1450, 1500, t0), PmtuCache::Update::Unchanged);
  EXPECT_EQ(c.path_mtu(kDst, 1500, t0), 1300u);
  EXPECT_EQ(c.on_packet_too_big(kDst, 1280, 1500, t0), PmtuCache::Update::Lowered);
  EXPECT_EQ(c.path_mtu(kDst, 1500, t0), 1280u);
}

TEST(PmtuCache, BelowTheMinimumIsDiscarded) {
  // RFC 8201 4: a PTB below 1280 MUST be discarded.
  PmtuCache c;
  EXPECT_EQ(c.on_packet_too_big(kDst, 1279, 1500, t0), PmtuCache::Update::BelowMinimum);
  EXPECT_EQ(c.on_packet_too_big(kDst, 68, 1500, t0), PmtuCache::Update::BelowMinimum);
  EXPECT_EQ(c.path_mtu(kDst, 1500, t0), 1500u);
  EXPECT_EQ(c.size(), 0u);
}

TEST(PmtuCache, AtOrAboveTheLinkMtuRecordsNothing) {
  PmtuCache c;
  EXPECT_EQ(c.on_packet_too_big(kDst, 1500, 1500, t0), PmtuCache::Update::AboveLink);
  EXPECT_EQ(c.on_packet_too_big(kDst, 9000, 1500, t0), PmtuCache::Update::AboveLink);
  EXPECT_EQ(c.size(), 0u);
}

TEST(PmtuCache, ExpiresBackToTheLinkMtu) {
  // RFC 8201 4: try a larger PMTU no sooner than 5 minutes after a PTB (10 here).
  PmtuCache c(PmtuConfig{16, std::chrono::minutes{10}});
  ASSERT_EQ(c.on_packet_too_big(kDst, 1400, 1500, t0), PmtuCache::Update::Lowered);
  EXPECT_EQ(c.path_mtu(kDst, 1500, t0 + std::chrono::minutes{9}), 1400u);
  EXPECT_EQ(c.path_mtu(kDst, 1500, t0 + std::chrono::minutes{10}), 1500u);
  // An expired entry is learned afresh, even higher than before.
  EXPECT_EQ(c.on_packet_too_big(kDst, 1450, 1500, t0 + std::chrono::minutes{11}), PmtuCache::Update::Lowered);
  EXPECT_EQ(c.path_mtu(kDst, 1500, t0 + std::chrono::minutes{11}), 1450u);
}

TEST(PmtuCache, BoundedTheOldestGoes) {
  PmtuCache c(PmtuConfig{3, std::chrono::minutes{10}});
  for (int i = 0; i < 3; ++i) {
    c.on_packet_too_big(IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, static_cast<std::uint16_t>(i + 1)), 1400, 1500,
                        t0 + std::chrono::seconds{i});
  }
  EXPECT_EQ(c.size(), 3u);
  c.on_packet_too_big(kDst, 1300, 1500, t0 + std::chrono::seconds{10});
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c.path_mtu(IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 1500, t0 + std::chrono::seconds{10}), 1500u);
  EXPECT_EQ(c.path_mtu(IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2), 1500, t0 + std::chrono::seconds{10}), 1400u);
  EXPECT_EQ(c.path_mtu(kDst, 1500, t0 + std::chrono::seconds{10}), 1300u);
}

}  // namespace
}  // namespace riptide
