// IsnGenerator (RFC 6528 3): ISN = M + F(4-tuple, secret), M a 4 us timer, F keyed
// SipHash. Deterministic for a given secret, tuple and time; the tests pin that down.
#include "tcp/isn.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include "tcp/keyed_hash.hpp"

#include <set>

namespace riptide::tcp {
namespace {

constexpr Secret kSecret = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
constexpr Secret kOtherSecret = {16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};

const FlowKey kFlow{Ipv4Addr::from_octets(198, 18, 0, 1), Ipv4Addr::from_octets(198, 18, 0, 2),
                    80, 40000};
const Instant kT = Instant{seconds{1000}} + microseconds{123};

// keyed_flow_hash() is SipHash-2-4 (libsodium's crypto_shorthash) over the IPv4
// input its comment lays out, the 8 bytes of the result read as a big-endian
// integer: computed here byte by byte, from the same definition.
TEST(KeyedFlowHash, IsSipHashOfTheTupleReadBigEndian) {
  const unsigned char in[21] = {198, 18, 0, 1, 198, 18, 0, 2,    // local, remote address
                                0, 80, 0x9c, 0x40,                // local port 80, remote 40000
                                1, 2, 3, 4, 5, 6, 7, 8, 0x2a};    // extra, extra2, domain
  unsigned char out[8];
  ASSERT_EQ(crypto_shorthash(out, in, sizeof in, kSecret.data()), 0);
  std::uint64_t want = 0;
  for (const unsigned char b : out) want = (want << 8) | b;
  EXPECT_EQ(keyed_flow_hash(kSecret, kFlow, 0x2a, 0x01020304, 0x05060708), want);
}

// The connection table's seeds use every bit of the secret: changing any one byte
// of it changes both seeds (the first cut took 4 of its 16 bytes).
TEST(FlowTableSeed, EveryByteOfTheSecretChangesBothSeeds) {
  Secret s{};
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(0x10 + 7 * i);
  const auto base = flow_table_seed(s);
  EXPECT_EQ(flow_table_seed(s), base);  // deterministic for a secret
  EXPECT_NE(base[0], base[1]);
  for (std::size_t i = 0; i < s.size(); ++i) {
    Secret t = s;
    t[i] ^= 0x01;
    const auto other = flow_table_seed(t);
    EXPECT_NE(other[0], base[0]) << "secret byte " << i;
    EXPECT_NE(other[1], base[1]) << "secret byte " << i;
  }
}

TEST(IsnGenerator, SameTupleAndTimeGiveSameIsn) {
  const IsnGenerator a(kSecret), b(kSecret);
  EXPECT_EQ(a.isn(kFlow, kT), a.isn(kFlow, kT));
  EXPECT_EQ(a.isn(kFlow, kT), b.isn(kFlow, kT));  // no hidden state
}

TEST(IsnGenerator, AdvancesOneEveryFourMicroseconds) {
  const IsnGenerator g(kSecret);
  const Instant t = Instant{seconds{1000}};  // a multiple of 4 us
  EXPECT_EQ(g.isn(kFlow, t + microseconds{4}) - g.isn(kFlow, t), 1);
  EXPECT_EQ(g.isn(kFlow, t + microseconds{3}) - g.isn(kFlow, t), 0);  // same 4 us tick
  EXPECT_EQ(g.isn(kFlow, t + microseconds{8}) - g.isn(kFlow, t), 2);
  EXPECT_EQ(g.isn(kFlow, t + seconds{1}) - g.isn(kFlow, t), 250000);
  // M wraps mod 2^32 (every 4.77 hours) with the sequence space.
  const auto m_wrap = microseconds{std::int64_t{4} << 32};
  EXPECT_EQ(g.isn(kFlow, t + m_wrap), g.isn(kFlow, t));
}

TEST(IsnGenerator, DifferentTuplesGiveDifferentIsns) {
  const IsnGenerator g(kSecret);
  std::set<std::uint32_t> seen;
  seen.insert(g.isn(kFlow, kT).raw());
  FlowKey k = kFlow;
  k.remote_port = 40001;
  seen.insert(g.isn(k, kT).raw());
  k = kFlow;
  k.local_port = 81;
  seen.insert(g.isn(k, kT).raw());
  k = kFlow;
  k.remote_addr = Ipv4Addr::from_octets(198, 18, 0, 3);
  seen.insert(g.isn(k, kT).raw());
  k = kFlow;
  k.local_addr = Ipv4Addr::from_octets(198, 18, 0, 9);
  seen.insert(g.isn(k, kT).raw());
  // Swapping the ends is another flow, too.
  seen.insert(g.isn(FlowKey{kFlow.remote_addr, kFlow.local_addr, kFlow.remote_port, kFlow.local_port}, kT).raw());
  EXPECT_EQ(seen.size(), 6u);

  // 1000 source ports: no two collide (a 32-bit hash makes a collision ~1e-4 likely;
  // fixed inputs make this deterministic).
  std::set<std::uint32_t> ports;
  for (std::uint16_t p = 1000; p < 2000; ++p) {
    k = kFlow;
    k.remote_port = p;
    ports.insert(g.isn(k, kT).raw());
  }
  EXPECT_EQ(ports.size(), 1000u);
}

TEST(IsnGenerator, DifferentSecretsGiveDifferentIsns) {
  EXPECT_NE(IsnGenerator(kSecret).isn(kFlow, kT), IsnGenerator(kOtherSecret).isn(kFlow, kT));
  EXPECT_NE(IsnGenerator(kSecret).ts_offset(kFlow), IsnGenerator(kOtherSecret).ts_offset(kFlow));
}

TEST(IsnGenerator, TsOffsetDiffersPerTupleAndIsStable) {
  const IsnGenerator g(kSecret);
  EXPECT_EQ(g.ts_offset(kFlow), g.ts_offset(kFlow));
  FlowKey k = kFlow;
  k.remote_port = 40001;
  EXPECT_NE(g.ts_offset(kFlow), g.ts_offset(k));
  // Independent of the ISN function: not the ISN at time zero.
  EXPECT_NE(g.ts_offset(kFlow), g.isn(kFlow, Instant{}).raw());
}

TEST(IsnGenerator, InitialGivesIsnAndTsOffsetFromOneHash) {
  const IsnGenerator g(kSecret);
  for (std::uint16_t p = 40000; p < 40100; ++p) {
    FlowKey k = kFlow;
    k.remote_port = p;
    const IsnGenerator::Initial init = g.initial(k, kT);
    EXPECT_EQ(init.isn, g.isn(k, kT));
    EXPECT_EQ(init.ts_offset, g.ts_offset(k));
  }
}

}  // namespace
}  // namespace riptide::tcp
