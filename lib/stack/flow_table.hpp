// FlowTable: the per-core connection table, FlowKey -> V (a pointer or a 32-bit
// handle). The alternative to rte_hash that DESIGN.md allows when measured faster:
// bench/stack/flow_table_vs_rte_hash.cpp is the measurement.
//
// Thread safety: none. A table belongs to one lcore (DESIGN.md "Per-core model").
//
// Design
// - Open addressing, Robin Hood linear probing, backward-shift deletion, keys stored
//   inline: a bucket is {FlowKey (12 bytes), meta (4), V}, 24 bytes for a pointer, so
//   a hit usually costs the one cache line the home bucket is in (prefetch() fetches
//   it ahead for burst processing).
// - meta = tag << 8 | (displacement + 1), 0 for an empty bucket; the tag is 24 hash
//   bits not used for the index. A probe at displacement d looks for meta == tag << 8 |
//   (d + 1): one compare rejects nearly every non-matching bucket before the key
//   compare, and since Robin Hood keeps each cluster ordered by home bucket, a lookup
//   stops as soon as it meets a bucket whose displacement is < d (or an empty one), so
//   misses are as short as hits.
// - Probe-length bound: no entry is ever displaced more than kMaxDisplacement (127)
//   buckets. An insert that would need more (its own displacement or that of an entry
//   it shifts) fails cleanly, changing nothing, and is counted in
//   stats().probe_rejects. With a keyed hash and load <= 0.7 this does not happen in
//   practice (expected maximum displacement at 1M entries is ~10-20; see
//   max_displacement()), and it bounds the cost of every lookup even under attack.
// - Load factor: buckets = next power of two >= capacity / 0.7, and capacity() =
//   0.7 * buckets >= the requested capacity; inserts beyond it fail (stats().full_rejects).
// - Memory: one aligned allocation in the constructor; nothing allocates afterwards.
//   Running out at construction is a broken set-up: fatal.
//
// Hashing (hash()): keyed folded multiply, the construction of wyhash/foldhash. The
// 12 key bytes are read as a 64-bit word a (addresses) and a 32-bit word b (ports);
// h = fold(a ^ s0, b ^ s1), then h = fold(h ^ s1, s0 ^ c), where fold(x, y) is the
// xor of the two halves of the 128-bit product. Two multiplies, ~2 ns.
// - Resists: blind hash flooding. With a 128-bit seed drawn at start-up from a CSPRNG
//   (e.g. libsodium randombytes_buf) and never exposed, a remote peer choosing
//   addresses and ports cannot predict which buckets its flows land in, so it cannot
//   build long probe chains offline; different seeds per core/run give unrelated
//   layouts.
// - Does not resist: an adversary who learns the seed, or one that can adaptively
//   measure lookup timing at high resolution over many probes; it is not a PRF and has
//   no security proof (SipHash has one, at ~15-20 ns for 12 bytes). The probe-length
//   bound above caps the damage either way. Never publish hash() values (telemetry,
//   logs).
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "common/ipv4_addr.hpp"

namespace riptide {

static_assert(sizeof(FlowKey) == 12 && std::has_unique_object_representations_v<FlowKey>,
              "FlowTable hashes and compares the 12 bytes of FlowKey directly");

template <class V>
class FlowTable {
  static_assert(std::is_trivially_copyable_v<V> && sizeof(V) <= 8,
                "FlowTable values are small handles: a pointer or an integer");

 public:
  static constexpr std::uint32_t kMaxDisplacement = 127;

  struct Stats {
    std::uint64_t full_rejects = 0;   // insert() failed: size() == capacity()
    std::uint64_t probe_rejects = 0;  // insert() failed: probe bound exceeded
  };

  // Allocates all memory; `capacity` is the number of entries that must fit.
  FlowTable(std::size_t capacity, std::array<std::uint64_t, 2> seed)
      : seed_{seed} {
    std::size_t want = capacity / 7 * 10 + (capacity % 7) * 10 / 7 + 1;  // > capacity / 0.7
    if (want < 16) want = 16;
    const std::size_t buckets = std::bit_ceil(want);
    mask_ = buckets - 1;
    capacity_ = buckets / 10 * 7 + (buckets % 10) * 7 / 10;
    void* mem = ::operator new(buckets * sizeof(Bucket), std::align_val_t{kAlign}, std::nothrow);
    if (mem == nullptr) {
      std::fprintf(stderr, "riptide: FlowTable: cannot allocate %zu buckets\n", buckets);
      std::abort();
    }
    auto* b = static_cast<Bucket*>(mem);
    for (std::size_t i = 0; i < buckets; ++i) new (&b[i]) Bucket{};
    buckets_.reset(b);
  }

  FlowTable(FlowTable&&) noexcept = default;
  FlowTable& operator=(FlowTable&&) noexcept = default;

  [[nodiscard]] V* find(const FlowKey& k) noexcept { return find(k, hash(k)); }
  [[nodiscard]] const V* find(const FlowKey& k) const noexcept { return find(k, hash(k)); }
  // The same, with h == hash(k) already computed (burst processing: hash, prefetch(h),
  // then find).
  [[nodiscard]] V* find(const FlowKey& k, std::uint64_t h) noexcept {
    return const_cast<V*>(std::as_const(*this).find(k, h));
  }
  [[nodiscard]] const V* find(const FlowKey& k, std::uint64_t h) const noexcept {
    std::size_t i = h & mask_;
    std::uint32_t want = meta_of(h);
    for (;;) {
      const Bucket& b = buckets_[i];
      if (b.meta == want && same_key(b.key, k)) return &b.value;
      if ((b.meta & kDistMask) < (want & kDistMask)) return nullptr;
      i = (i + 1) & mask_;
      ++want;
    }
  }

  // Adds k -> v. False if k is present, the table is full, or the probe bound would be
  // exceeded (the last two are counted in stats()).
  bool insert(const FlowKey& k, V v) noexcept {
    if (size_ >= capacity_) {
      ++stats_.full_rejects;
      return false;
    }
    const std::uint64_t h = hash(k);
    std::size_t i = h & mask_;
    std::uint32_t want = meta_of(h);
    // Walk to the first bucket that is empty or holds an entry closer to its home than
    // we would be (Robin Hood: we take its place and it moves one down).
    for (;;) {
      const Bucket& b = buckets_[i];
      if (b.meta == want && same_key(b.key, k)) return false;
      if ((b.meta & kDistMask) < (want & kDistMask)) break;
      if ((want & kDistMask) == kMaxDisplacement + 1) {
        ++stats_.probe_rejects;
        return false;
      }
      i = (i + 1) & mask_;
      ++want;
    }
    // Shifting the rest of the cluster down by one must keep every entry within bound.
    std::size_t end = i;
    while (buckets_[end].meta != 0) {
      if ((buckets_[end].meta & kDistMask) == kMaxDisplacement + 1) {
        ++stats_.probe_rejects;
        return false;
      }
      end = (end + 1) & mask_;
    }
    while (end != i) {
      const std::size_t prev = (end - 1) & mask_;
      buckets_[end] = buckets_[prev];
      buckets_[end].meta += 1;
      end = prev;
    }
    buckets_[i] = Bucket{k, want, v};
    ++size_;
    return true;
  }

  // Removes k; false if absent. Backward shift: the following displaced entries move
  // one bucket closer to home, so no tombstones and lookups stay short.
  bool erase(const FlowKey& k) noexcept {
    const std::uint64_t h = hash(k);
    std::size_t i = h & mask_;
    std::uint32_t want = meta_of(h);
    for (;;) {
      const Bucket& b = buckets_[i];
      if (b.meta == want && same_key(b.key, k)) break;
      if ((b.meta & kDistMask) < (want & kDistMask)) return false;
      i = (i + 1) & mask_;
      ++want;
    }
    std::size_t next = (i + 1) & mask_;
    while ((buckets_[next].meta & kDistMask) > 1) {  // occupied and not at home
      buckets_[i] = buckets_[next];
      buckets_[i].meta -= 1;
      i = next;
      next = (next + 1) & mask_;
    }
    buckets_[i].meta = 0;
    --size_;
    return true;
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::size_t bucket_count() const noexcept { return mask_ + 1; }
  [[nodiscard]] const Stats& stats() const noexcept { return stats_; }

  // Keyed hash of the 4-tuple (see the top of the file). Deterministic for a seed.
  [[nodiscard]] std::uint64_t hash(const FlowKey& k) const noexcept {
    std::uint64_t a = 0;
    std::uint32_t b = 0;
    std::memcpy(&a, &k, sizeof a);
    std::memcpy(&b, reinterpret_cast<const unsigned char*>(&k) + sizeof a, sizeof b);
    const std::uint64_t h = fold(a ^ seed_[0], b ^ seed_[1]);
    return fold(h ^ seed_[1], seed_[0] ^ 0x9E3779B97F4A7C15u);
  }

  // Starts loading k's home bucket; for bursts: prefetch all keys, then find them.
  void prefetch(const FlowKey& k) const noexcept { prefetch(hash(k)); }
  void prefetch(std::uint64_t h) const noexcept {
    __builtin_prefetch(&buckets_[h & mask_], 0, 3);
  }

  // f(const FlowKey&, const V&) for every entry, in table order. For telemetry; f
  // must not modify the table.
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i <= mask_; ++i) {
      const Bucket& b = buckets_[i];
      if (b.meta != 0) f(b.key, b.value);
    }
  }

  // The largest displacement of any entry (a full scan, for tests and telemetry).
  [[nodiscard]] std::uint32_t max_displacement() const noexcept {
    std::uint32_t m = 0;
    for (std::size_t i = 0; i <= mask_; ++i) {
      const std::uint32_t d = buckets_[i].meta & kDistMask;
      if (d > m) m = d;
    }
    return m == 0 ? 0 : m - 1;
  }

 private:
  static constexpr std::size_t kAlign = 64;
  static constexpr std::uint32_t kDistMask = 0xFF;

  struct Bucket {
    FlowKey key;
    std::uint32_t meta = 0;  // tag << 8 | (displacement + 1); 0 = empty
    V value;
  };
  struct Free {
    void operator()(Bucket* p) const noexcept { ::operator delete(p, std::align_val_t{kAlign}); }
  };

  static std::uint64_t fold(std::uint64_t x, std::uint64_t y) noexcept {
    __extension__ using U128 = unsigned __int128;
    const U128 p = static_cast<U128>(x) * y;
    return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
  }
  // Tag from the top 24 bits (the index uses the low ones), displacement 0.
  static std::uint32_t meta_of(std::uint64_t h) noexcept {
    return (static_cast<std::uint32_t>(h >> 40) << 8) | 1u;
  }
  static bool same_key(const FlowKey& a, const FlowKey& b) noexcept {
    return std::memcmp(&a, &b, sizeof(FlowKey)) == 0;
  }

  std::unique_ptr<Bucket[], Free> buckets_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  std::array<std::uint64_t, 2> seed_;
  Stats stats_;
};

}  // namespace riptide
