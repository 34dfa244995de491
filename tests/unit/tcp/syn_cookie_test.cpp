// SynCookies (RFC 4987 3.6): the SYN-ACK's sequence number carries a 5-bit 64 s
// counter, a 3-bit MSS index and a 24-bit keyed hash; the TSval's low 5 bits carry
// window scale and SACK-permitted. Round trips, expiry, forgery, option encoding.
#include "tcp/syn_cookie.hpp"

#include <gtest/gtest.h>

#include <random>

namespace riptide::tcp {
namespace {

constexpr Secret kSecret = {0xA5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0x5A};
const FlowKey kFlow{Ipv4Addr::from_octets(198, 18, 0, 2), Ipv4Addr::from_octets(198, 18, 0, 1),
                    80, 40000};
const SeqNum kPeerIsn{0x12345678};
// A time at the start of a cookie period (period 100).
const Instant kT0 = Instant{kCookiePeriod * 100};

// The ACK a client sends back: SEG.SEQ = its ISN + 1, SEG.ACK = cookie + 1.
std::optional<CookieOptions> check_ack(const SynCookies& c, SeqNum cookie, Instant now,
                                       std::optional<std::uint32_t> tsecr = std::nullopt,
                                       const FlowKey& flow = kFlow, SeqNum peer_isn = kPeerIsn) {
  return c.check(flow, peer_isn + 1, cookie + 1, tsecr, now);
}

TEST(SynCookies, RoundTripEveryMssTableEntry) {
  const SynCookies c(kSecret);
  for (std::size_t i = 0; i < kCookieMssTable.size(); ++i) {
    const std::uint16_t mss = kCookieMssTable[i];
    SCOPED_TRACE(mss);
    EXPECT_EQ(SynCookies::mss_index(mss), i);
    const SeqNum cookie = c.make(kFlow, kPeerIsn, mss, kT0);
    EXPECT_EQ((cookie.raw() >> 24) & 7u, i);
    const auto opts = check_ack(c, cookie, kT0);
    ASSERT_TRUE(opts.has_value());
    EXPECT_EQ(opts->mss, mss);
    EXPECT_FALSE(opts->timestamps);
    EXPECT_FALSE(opts->window_scale.has_value());
    EXPECT_FALSE(opts->sack_permitted);
  }
}

TEST(SynCookies, MssDecodesToLargestTableEntryNotAbovePeerMss) {
  const SynCookies c(kSecret);
  struct Case {
    std::uint16_t peer;
    std::uint16_t decoded;
  };
  const Case cases[] = {
      {0, 536},     {1, 536},     {100, 536},   {535, 536},   {536, 536},   {537, 536},
      {1199, 536},  {1200, 1200}, {1359, 1200}, {1360, 1360}, {1399, 1360}, {1400, 1400},
      {1439, 1400}, {1440, 1440}, {1459, 1440}, {1460, 1460}, {1461, 1460}, {4311, 1460},
      {4312, 4312}, {8959, 4312}, {8960, 8960}, {9000, 8960}, {65535, 8960},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.peer);
    const auto opts = check_ack(c, c.make(kFlow, kPeerIsn, k.peer, kT0), kT0);
    ASSERT_TRUE(opts.has_value());
    EXPECT_EQ(opts->mss, k.decoded);
  }
}

TEST(SynCookies, ValidForCurrentAndNextPeriodOnly) {
  const SynCookies c(kSecret);
  // Made at the very start and the very end of a period.
  for (const Instant made : {kT0, kT0 + kCookiePeriod - milliseconds{1}}) {
    SCOPED_TRACE(to_ms(made));
    const SeqNum cookie = c.make(kFlow, kPeerIsn, 1460, made);
    EXPECT_TRUE(check_ack(c, cookie, kT0));
    EXPECT_TRUE(check_ack(c, cookie, made));
    EXPECT_TRUE(check_ack(c, cookie, kT0 + seconds{64}));
    EXPECT_TRUE(check_ack(c, cookie, kT0 + seconds{127}));
    EXPECT_TRUE(check_ack(c, cookie, kT0 + seconds{128} - milliseconds{1}));
    EXPECT_FALSE(check_ack(c, cookie, kT0 + seconds{128}));
    // Two to 31 periods later: stale. (The counter is 5 bits, so a cookie comes
    // back to life 32 periods = 34 minutes later; its hash still binds it to the
    // tuple and the peer's ISN.)
    for (int p = 2; p < 32; ++p) {
      EXPECT_FALSE(check_ack(c, cookie, kT0 + kCookiePeriod * p)) << p << " periods";
      EXPECT_FALSE(check_ack(c, cookie, kT0 + kCookiePeriod * p + seconds{63})) << p << " periods";
    }
    // A cookie from the future (an ACK with a counter ahead of ours) is rejected.
    EXPECT_FALSE(check_ack(c, cookie, kT0 - kCookiePeriod));
  }
}

TEST(SynCookies, FlippingAnyHashOrCounterBitIsRejected) {
  const SynCookies c(kSecret);
  const SeqNum cookie = c.make(kFlow, kPeerIsn, 1460, kT0);
  ASSERT_TRUE(check_ack(c, cookie, kT0));
  for (int bit = 0; bit < 24; ++bit) {
    EXPECT_FALSE(check_ack(c, SeqNum{cookie.raw() ^ (1u << bit)}, kT0)) << "hash bit " << bit;
  }
  // The counter is hashed too: an old cookie cannot be refreshed by rewriting it.
  for (int bit = 27; bit < 32; ++bit) {
    EXPECT_FALSE(check_ack(c, SeqNum{cookie.raw() ^ (1u << bit)}, kT0)) << "counter bit " << bit;
    EXPECT_FALSE(check_ack(c, SeqNum{cookie.raw() ^ (1u << bit)}, kT0 + kCookiePeriod))
        << "counter bit " << bit;
  }
}

TEST(SynCookies, RewritingTheMssIndexIsRejected) {
  // The MSS index is hashed: a client cannot raise its MSS (to 8960, say) by
  // editing bits 24..26 of a cookie it was given.
  const SynCookies c(kSecret);
  const SeqNum cookie = c.make(kFlow, kPeerIsn, 536, kT0);
  ASSERT_TRUE(check_ack(c, cookie, kT0));
  for (std::uint32_t idx = 1; idx < 8; ++idx) {
    EXPECT_FALSE(check_ack(c, SeqNum{cookie.raw() ^ (idx << 24)}, kT0)) << "index xor " << idx;
  }
}

TEST(SynCookies, WrongTupleOrPeerIsnIsRejected) {
  const SynCookies c(kSecret);
  const SeqNum cookie = c.make(kFlow, kPeerIsn, 1460, kT0);
  ASSERT_TRUE(check_ack(c, cookie, kT0));
  FlowKey k = kFlow;
  k.remote_port = 40001;
  EXPECT_FALSE(check_ack(c, cookie, kT0, std::nullopt, k));
  k = kFlow;
  k.local_port = 81;
  EXPECT_FALSE(check_ack(c, cookie, kT0, std::nullopt, k));
  k = kFlow;
  k.remote_addr = Ipv4Addr::from_octets(198, 18, 0, 3);
  EXPECT_FALSE(check_ack(c, cookie, kT0, std::nullopt, k));
  k = kFlow;
  k.local_addr = Ipv4Addr::from_octets(198, 18, 0, 4);
  EXPECT_FALSE(check_ack(c, cookie, kT0, std::nullopt, k));
  EXPECT_FALSE(check_ack(c, cookie, kT0, std::nullopt, kFlow, kPeerIsn + 1));
  EXPECT_FALSE(check_ack(c, cookie, kT0, std::nullopt, kFlow, kPeerIsn - 1));
  // Another secret (another host, or after a restart) does not accept it.
  const Secret other = {1};
  EXPECT_FALSE(check_ack(SynCookies(other), cookie, kT0));
}

TEST(SynCookies, RandomAcksAreAcceptedAtMostAsOftenAsTwoToTheMinus24) {
  // A blind attacker completing handshakes with guessed ACK numbers: each guess
  // lands with probability (2 valid counters / 32) * 2^-24 ~ 3.7e-9, so 100k
  // guesses expect 0.0004 hits. A fixed seed makes the outcome deterministic.
  const SynCookies c(kSecret);
  std::mt19937 rng(20240601);
  std::uniform_int_distribution<std::uint32_t> any;
  int accepted = 0;
  for (int i = 0; i < 100000; ++i) {
    FlowKey k = kFlow;
    k.remote_port = static_cast<std::uint16_t>(1024 + (i % 60000));
    if (c.check(k, SeqNum{any(rng)}, SeqNum{any(rng)}, std::nullopt, kT0)) ++accepted;
  }
  EXPECT_EQ(accepted, 0);
}

TEST(SynCookies, TimestampBitsCarryWindowScaleAndSack) {
  const SynCookies c(kSecret);
  const SeqNum cookie = c.make(kFlow, kPeerIsn, 1460, kT0);
  std::vector<std::optional<std::uint8_t>> scales = {std::nullopt};
  for (std::uint8_t ws = 0; ws <= 14; ++ws) scales.emplace_back(ws);
  const std::uint32_t clocks[] = {0, 1, 5, 31, 32, 33, 1000, 0x7FFFFFFF, 0x80000000u,
                                  0xFFFFFFE0u, 0xFFFFFFFFu, 123456789};
  for (const auto ws : scales) {
    for (const bool sack : {false, true}) {
      for (const std::uint32_t ts_now : clocks) {
        SCOPED_TRACE(::testing::Message() << "ws " << (ws ? int{*ws} : -1) << " sack " << sack
                                          << " ts_now " << ts_now);
        const std::uint32_t tsval = SynCookies::encode_ts(ts_now, ws, sack);
        // Never ahead of our clock (modular), and at most 31 behind it.
        EXPECT_LE(static_cast<std::int32_t>(tsval - ts_now), 0);
        EXPECT_LT(ts_now - tsval, 32u);
        const auto opts = check_ack(c, cookie, kT0, tsval);
        ASSERT_TRUE(opts.has_value());
        EXPECT_TRUE(opts->timestamps);
        EXPECT_EQ(opts->window_scale, ws);
        EXPECT_EQ(opts->sack_permitted, sack);
        EXPECT_EQ(opts->mss, 1460);
      }
    }
  }
}

TEST(SynCookies, WindowScaleAbove14IsSentAs14) {
  // RFC 7323 2.3: a shift above 14 is used as 14.
  const SynCookies c(kSecret);
  const SeqNum cookie = c.make(kFlow, kPeerIsn, 1460, kT0);
  const auto opts = check_ack(c, cookie, kT0, SynCookies::encode_ts(5000, 15, false));
  ASSERT_TRUE(opts.has_value());
  EXPECT_EQ(opts->window_scale, std::optional<std::uint8_t>{14});
}

TEST(SynCookies, NoWindowScaleMarkerDecodesAsNone) {
  // Low 4 bits 15 mean "the SYN had no window scale option".
  const SynCookies c(kSecret);
  const SeqNum cookie = c.make(kFlow, kPeerIsn, 1460, kT0);
  const auto none = check_ack(c, cookie, kT0, 0x100u | kCookieNoWscale);
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->window_scale.has_value());
}

}  // namespace
}  // namespace riptide::tcp
