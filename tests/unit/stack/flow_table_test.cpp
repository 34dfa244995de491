// FlowTable: basic operations, capacity and probe bounds, random operations against
// std::unordered_map, keyed hashing, 1M entries.
#include "stack/flow_table.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace riptide {
namespace {

constexpr std::array<std::uint64_t, 2> kSeed{0x0123456789ABCDEFu, 0xFEDCBA9876543210u};

struct KeyHash {
  std::size_t operator()(const FlowKey& k) const noexcept {
    std::uint64_t h = (std::uint64_t{k.local_addr.v4().value} << 32) ^ k.remote_addr.v4().value;
    h ^= (std::uint64_t{k.local_port} << 16 | k.remote_port) * 0x9E3779B97F4A7C15u;
    return static_cast<std::size_t>(h ^ (h >> 29));
  }
};

FlowKey random_key(std::mt19937_64& rng) {
  const std::uint64_t a = rng();
  const std::uint64_t b = rng();
  return FlowKey{Ipv4Addr{static_cast<std::uint32_t>(a)}, Ipv4Addr{static_cast<std::uint32_t>(a >> 32)},
                 static_cast<std::uint16_t>(b), static_cast<std::uint16_t>(b >> 16)};
}

// A server's view: one local address and port, many clients.
FlowKey client_key(std::uint32_t i) {
  return FlowKey{Ipv4Addr::from_octets(198, 18, 0, 1), Ipv4Addr{0xC6130000u + (i >> 16)}, 80,
                 static_cast<std::uint16_t>(i)};
}

TEST(FlowTable, InsertFindErase) {
  FlowTable<std::uint32_t> t{100, kSeed};
  EXPECT_GE(t.capacity(), 100u);
  EXPECT_EQ(t.size(), 0u);
  const FlowKey a = client_key(1);
  const FlowKey b = client_key(2);
  EXPECT_EQ(t.find(a), nullptr);
  EXPECT_TRUE(t.insert(a, 11));
  EXPECT_TRUE(t.insert(b, 22));
  EXPECT_EQ(t.size(), 2u);
  ASSERT_NE(t.find(a), nullptr);
  EXPECT_EQ(*t.find(a), 11u);
  EXPECT_EQ(*t.find(b), 22u);
  *t.find(a) = 33;  // values are mutable in place
  const auto& ct = t;
  EXPECT_EQ(*ct.find(a), 33u);
  EXPECT_EQ(*t.find(a, t.hash(a)), 33u);
  EXPECT_TRUE(t.erase(a));
  EXPECT_FALSE(t.erase(a));
  EXPECT_EQ(t.find(a), nullptr);
  EXPECT_EQ(*t.find(b), 22u);
  EXPECT_EQ(t.size(), 1u);
}

TEST(FlowTable, DirectionMatters) {
  // local/remote swapped is a different flow.
  FlowTable<int*> t{16, kSeed};
  int x = 0;
  const FlowKey k = client_key(5);
  const FlowKey swapped{k.remote_addr, k.local_addr, k.remote_port, k.local_port};
  EXPECT_TRUE(t.insert(k, &x));
  EXPECT_EQ(t.find(swapped), nullptr);
  EXPECT_EQ(*t.find(k), &x);
}

TEST(FlowTable, DuplicatesRejected) {
  FlowTable<std::uint32_t> t{16, kSeed};
  EXPECT_TRUE(t.insert(client_key(9), 1));
  EXPECT_FALSE(t.insert(client_key(9), 2));
  EXPECT_EQ(*t.find(client_key(9)), 1u);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.stats().full_rejects, 0u);
}

TEST(FlowTable, FullTableRejects) {
  FlowTable<std::uint32_t> t{20, kSeed};
  const std::size_t cap = t.capacity();
  EXPECT_GE(cap, 20u);
  EXPECT_LE(cap * 10, t.bucket_count() * 7);  // load factor <= 0.7
  for (std::uint32_t i = 0; i < cap; ++i) ASSERT_TRUE(t.insert(client_key(i), i)) << i;
  EXPECT_FALSE(t.insert(client_key(1000), 0));
  EXPECT_EQ(t.stats().full_rejects, 1u);
  EXPECT_EQ(t.size(), cap);
  for (std::uint32_t i = 0; i < cap; ++i) ASSERT_EQ(*t.find(client_key(i)), i);
  EXPECT_TRUE(t.erase(client_key(0)));
  EXPECT_TRUE(t.insert(client_key(1000), 7));
}

TEST(FlowTable, RandomOpsMatchUnorderedMap) {
  // 200k random operations over a key pool twice the table's size, so inserts, hits,
  // misses and erases (with backward shifts) are all frequent.
  constexpr std::size_t kCap = 20000;
  FlowTable<std::uint32_t> t{kCap, kSeed};
  std::unordered_map<FlowKey, std::uint32_t, KeyHash> ref;
  std::mt19937_64 rng{2024};
  std::vector<FlowKey> pool(2 * kCap);
  for (auto& k : pool) k = random_key(rng);
  std::uniform_int_distribution<std::size_t> pick{0, pool.size() - 1};
  for (int step = 0; step < 200'000; ++step) {
    const FlowKey& k = pool[pick(rng)];
    const auto v = static_cast<std::uint32_t>(rng());
    switch (rng() % 3) {
      case 0: {
        const bool fits = ref.size() < t.capacity();
        const bool expect = !ref.contains(k) && fits;
        ASSERT_EQ(t.insert(k, v), expect) << step;
        if (expect) ref.emplace(k, v);
        break;
      }
      case 1: {
        const bool expect = ref.erase(k) == 1;
        ASSERT_EQ(t.erase(k), expect) << step;
        break;
      }
      default: {
        const auto* got = t.find(k);
        const auto it = ref.find(k);
        ASSERT_EQ(got != nullptr, it != ref.end()) << step;
        if (got != nullptr) {
          ASSERT_EQ(*got, it->second);
        }
      }
    }
    ASSERT_EQ(t.size(), ref.size());
  }
  // Every surviving key is findable, and for_each sees exactly the reference.
  for (const auto& [k, v] : ref) ASSERT_EQ(*t.find(k), v);
  std::size_t seen = 0;
  t.for_each([&](const FlowKey& k, const std::uint32_t& v) {
    ++seen;
    EXPECT_EQ(ref.at(k), v);
  });
  EXPECT_EQ(seen, ref.size());
  EXPECT_EQ(t.stats().probe_rejects, 0u);
}

TEST(FlowTable, BackwardShiftKeepsClustersFindableAtHighLoad) {
  // A tiny table kept at its load limit: long clusters that wrap around the end of
  // the bucket array, erased from the middle over and over.
  FlowTable<std::uint32_t> t{40, kSeed};
  std::unordered_map<FlowKey, std::uint32_t, KeyHash> ref;
  std::mt19937_64 rng{5};
  std::vector<FlowKey> pool(t.capacity() + 8);
  for (std::uint32_t i = 0; i < pool.size(); ++i) pool[i] = client_key(i);
  for (int step = 0; step < 50'000; ++step) {
    const FlowKey& k = pool[rng() % pool.size()];
    if (ref.contains(k)) {
      ASSERT_TRUE(t.erase(k));
      ref.erase(k);
    } else if (ref.size() < t.capacity()) {
      ASSERT_TRUE(t.insert(k, static_cast<std::uint32_t>(step)));
      ref.emplace(k, static_cast<std::uint32_t>(step));
    }
    for (const auto& [rk, rv] : ref) ASSERT_EQ(*t.find(rk), rv) << step;
    ASSERT_EQ(t.size(), ref.size());
  }
}

TEST(FlowTable, DifferentSeedsGiveDifferentHashes) {
  FlowTable<std::uint32_t> a{16, kSeed};
  FlowTable<std::uint32_t> b{16, {kSeed[0] ^ 1, kSeed[1]}};
  FlowTable<std::uint32_t> c{16, {kSeed[0], kSeed[1] ^ (1ull << 63)}};
  FlowTable<std::uint32_t> a2{16, kSeed};
  int same_ab = 0;
  int same_ac = 0;
  for (std::uint32_t i = 0; i < 1000; ++i) {
    const FlowKey k = client_key(i);
    EXPECT_EQ(a.hash(k), a2.hash(k));  // deterministic for a seed
    same_ab += a.hash(k) == b.hash(k);
    same_ac += a.hash(k) == c.hash(k);
  }
  EXPECT_EQ(same_ab, 0);
  EXPECT_EQ(same_ac, 0);
}

TEST(FlowTable, HashSpreadsSequentialClients) {
  // Sequential ports from one client (what a load generator or a NAT sends) spread
  // evenly: every bit of the hash flips about half the time, and bucket counts over
  // 4096 buckets stay close to uniform.
  FlowTable<std::uint32_t> t{16, kSeed};
  std::array<int, 64> ones{};
  std::vector<int> buckets(4096, 0);
  constexpr int kN = 1 << 16;
  for (std::uint32_t i = 0; i < kN; ++i) {
    const std::uint64_t h = t.hash(client_key(i));
    for (int bit = 0; bit < 64; ++bit) ones[static_cast<std::size_t>(bit)] += (h >> bit) & 1;
    ++buckets[h & 4095];
  }
  for (int bit = 0; bit < 64; ++bit) {
    EXPECT_NEAR(ones[static_cast<std::size_t>(bit)], kN / 2, kN / 50) << "bit " << bit;
  }
  int max_bucket = 0;
  for (int n : buckets) max_bucket = std::max(max_bucket, n);
  EXPECT_LT(max_bucket, 16 * 3);  // mean 16
}

// An IPv6 server's view, as client_key: addresses in 2001:db8::/32.
FlowKey client_key6(std::uint32_t i) {
  return FlowKey{IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
                 IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, static_cast<std::uint16_t>(i >> 16), 2), 80,
                 static_cast<std::uint16_t>(i)};
}

TEST(FlowTable, Ipv4KeysHashTheirTwelveBytesWhoeverAsks) {
  // The receive path calls hash_v4() for an IPv4 packet; insert() and erase() call
  // hash(): for an IPv4 key both must agree, or a connection could not be found.
  FlowTable<std::uint32_t> t{1024, kSeed};
  std::mt19937_64 rng{5};
  for (int i = 0; i < 1000; ++i) {
    const FlowKey k = random_key(rng);
    ASSERT_EQ(t.hash(k), t.hash_v4(k)) << i;
    if (t.find(k) == nullptr) {
      ASSERT_TRUE(t.insert(k, static_cast<std::uint32_t>(i)));
      ASSERT_NE(t.find(k, t.hash_v4(k)), nullptr);
      ASSERT_EQ(*t.find(k, t.hash_v4(k)), static_cast<std::uint32_t>(i));
    }
  }
}

TEST(FlowTable, Ipv4AndIpv6KeysWithTheSameLowWordsStayApart) {
  // 2001:db8::ffff:c612:1 ends like ::ffff:198.18.0.1 (the IPv4-mapped form): the
  // IPv6 key hashes all 36 bytes and compares unequal to the IPv4 one.
  FlowTable<std::uint32_t> t{64, kSeed};
  const FlowKey v4{Ipv4Addr::from_octets(198, 18, 0, 1), Ipv4Addr::from_octets(198, 18, 0, 2), 80, 40000};
  const FlowKey v6{IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0xffff, 0xc612, 1),
                   IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0xffff, 0xc612, 2), 80, 40000};
  FlowKey mixed = v4;  // never built by the stack; hashed as IPv6 all the same
  mixed.remote_addr = v6.remote_addr;
  EXPECT_NE(t.hash(v6), t.hash_v4(v6));
  EXPECT_NE(t.hash(mixed), t.hash_v4(mixed));
  EXPECT_TRUE(t.insert(v4, 4));
  EXPECT_EQ(t.find(v6), nullptr);
  EXPECT_EQ(t.find(mixed), nullptr);
  EXPECT_TRUE(t.insert(v6, 6));
  EXPECT_TRUE(t.insert(mixed, 7));
  EXPECT_EQ(*t.find(v4, t.hash_v4(v4)), 4u);
  EXPECT_EQ(*t.find(v6), 6u);
  EXPECT_EQ(*t.find(mixed), 7u);
  EXPECT_TRUE(t.erase(v4));
  EXPECT_EQ(t.find(v4), nullptr);
  EXPECT_EQ(*t.find(v6), 6u);
  EXPECT_TRUE(t.erase(v6));
  EXPECT_EQ(*t.find(mixed), 7u);
}

TEST(FlowTable, Ipv6KeysAreKeyedAndSpread) {
  // The IPv6 hash, as HashSpreadsSequentialClients and DifferentSeedsGiveDifferentHashes
  // check the IPv4 one.
  FlowTable<std::uint32_t> t{16, kSeed};
  FlowTable<std::uint32_t> b{16, {kSeed[0] ^ 1, kSeed[1]}};
  std::array<int, 64> ones{};
  std::vector<int> buckets(4096, 0);
  int same = 0;
  constexpr int kN = 1 << 16;
  for (std::uint32_t i = 0; i < kN; ++i) {
    const std::uint64_t h = t.hash(client_key6(i));
    same += h == b.hash(client_key6(i));
    for (int bit = 0; bit < 64; ++bit) ones[static_cast<std::size_t>(bit)] += (h >> bit) & 1;
    ++buckets[h & 4095];
  }
  EXPECT_EQ(same, 0);
  for (int bit = 0; bit < 64; ++bit) {
    EXPECT_NEAR(ones[static_cast<std::size_t>(bit)], kN / 2, kN / 50) << "bit " << bit;
  }
  int max_bucket = 0;
  for (int n : buckets) max_bucket = std::max(max_bucket, n);
  EXPECT_LT(max_bucket, 16 * 3);  // mean 16
  FlowTable<std::uint32_t> big{1 << 16, kSeed};
  for (std::uint32_t i = 0; i < 40000; ++i) ASSERT_TRUE(big.insert(client_key6(i), i)) << i;
  for (std::uint32_t i = 0; i < 40000; ++i) ASSERT_EQ(*big.find(client_key6(i)), i) << i;
}

TEST(FlowTable, MillionEntries) {
  constexpr std::size_t kN = 1'000'000;
  FlowTable<std::uint32_t> t{kN, kSeed};
  std::mt19937_64 rng{77};
  std::vector<FlowKey> keys;
  keys.reserve(kN);
  std::unordered_set<FlowKey, KeyHash> unique;
  while (keys.size() < kN) {
    const FlowKey k = random_key(rng);
    if (unique.insert(k).second) keys.push_back(k);
  }
  for (std::uint32_t i = 0; i < kN; ++i) ASSERT_TRUE(t.insert(keys[i], i)) << i;
  EXPECT_EQ(t.size(), kN);
  EXPECT_EQ(t.stats().probe_rejects, 0u);
  EXPECT_LE(t.max_displacement(), 40u);  // documented: ~10-20 expected at this load
  for (std::uint32_t i = 0; i < kN; ++i) ASSERT_EQ(*t.find(keys[i]), i);
  std::size_t misses = 0;
  for (int i = 0; i < 100'000; ++i) {
    const FlowKey k = random_key(rng);
    if (!unique.contains(k)) misses += t.find(k) == nullptr;
    else ++misses;
  }
  EXPECT_EQ(misses, 100'000u);
  for (std::uint32_t i = 0; i < kN; i += 2) ASSERT_TRUE(t.erase(keys[i]));
  for (std::uint32_t i = 0; i < kN; ++i) {
    const auto* v = t.find(keys[i]);
    ASSERT_EQ(v != nullptr, i % 2 == 1) << i;
  }
  EXPECT_EQ(t.size(), kN / 2);
}

}  // namespace
}  // namespace riptide
