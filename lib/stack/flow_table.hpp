// FlowTable: the per-core connection table, FlowKey -> V (a pointer or a 32-bit
// handle). The alternative to rte_hash that DESIGN.md allows when measured faster:
// bench/stack/flow_table_vs_rte_hash.cpp is the measurement.
//
// Thread safety: none. A table belongs to one lcore (DESIGN.md "Per-core model").
//
// Design
// - Open addressing, Robin Hood linear probing, backward-shift deletion, keys stored
//   inline. Two arrays indexed alike: 16-bit metadata words, and buckets {FlowKey, V}
//   (40 bytes for a 32-bit handle, 48 for a pointer).
// - meta = tag << 8 | (displacement + 1), 0 for an empty bucket; the tag is 8 hash bits
//   not used for the index. A probe at displacement d looks for meta == tag << 8 |
//   (d + 1), and since Robin Hood keeps each cluster ordered by home bucket, it can
//   stop at the first bucket whose displacement is < d (or that is empty).
// - Lookups test four metadata words per 64-bit load with SWAR arithmetic (match mask
//   and stop mask, no per-bucket branch), and read a bucket only on a tag match (1 in
//   256 false positives). A miss therefore touches only the metadata array (4 MiB at
//   1M entries, a twentieth of the buckets' size); a hit touches one metadata line and
//   one bucket, fetched in parallel. prefetch() starts both for burst processing.
// - No wrap-around: the arrays have kMaxDisplacement + 1 spare buckets past the last
//   home bucket, so probes and shifts run straight on and no index is masked twice.
// - Probe-length bound: no entry is ever displaced more than kMaxDisplacement (127)
//   buckets. An insert that would need more (its own displacement or that of an entry
//   it shifts) fails cleanly, changing nothing, and is counted in
//   stats().probe_rejects. With a keyed hash and load <= 0.7 this does not happen in
//   practice (maximum displacement at 1M entries is ~10; see max_displacement()), and
//   it bounds the cost of every lookup even under attack.
// - Load factor: home buckets = next power of two >= capacity / 0.7, and capacity() =
//   0.7 * that >= the requested capacity; inserts beyond it fail (stats().full_rejects).
// - Memory: allocated once in the constructor; nothing allocates afterwards. Running
//   out at construction is a broken set-up: fatal.
//
// Hashing (hash()): keyed folded multiply, the construction of wyhash/foldhash. The
// 36 key bytes (two 16-byte addresses, IPv4 held IPv4-mapped, and the ports) are
// read as four 64-bit words w0..w3 and a 32-bit word p; l = fold(w0 ^ s0, w1 ^ s1),
// r = fold(w2 ^ s1, w3 ^ s0), h = fold(l ^ p ^ s1, r ^ s0 ^ c), where fold(x, y) is
// the xor of the two halves of the 128-bit product. Three multiplies, ~2-3 ns; every
// bit of an IPv6 tuple goes through a keyed multiply.
// - An IPv4 tuple (both addresses IPv4-mapped: w0 = w2 = 0, and the low halves of
//   w1 and w3 the constant 00 00 ff ff) has only 12 bytes that vary: hash_v4() takes
//   w1 (the local address) and w3 ^ p (the remote address, the ports in place of the
//   constant half: an injective packing), h = fold(fold(w1 ^ s0, w3 ^ p ^ s1), s0 ^
//   c). Two multiplies, every varying bit through the first, keyed one. hash() picks
//   it for every IPv4 key, so a key hashes one way whoever asks; the receive path,
//   which knows the family from the EtherType, calls hash_v4() directly.
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

#include "common/ip_addr.hpp"

namespace riptide {

static_assert(sizeof(FlowKey) == 36 && offsetof(FlowKey, local_port) == 32 &&
                  std::has_unique_object_representations_v<FlowKey>,
              "FlowTable hashes and compares the 36 bytes of FlowKey directly");

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
  FlowTable(std::size_t capacity, std::array<std::uint64_t, 2> seed) : seed_{seed} {
    std::size_t want = capacity / 7 * 10 + (capacity % 7) * 10 / 7 + 1;  // > capacity / 0.7
    if (want < 16) want = 16;
    const std::size_t homes = std::bit_ceil(want);
    mask_ = homes - 1;
    capacity_ = homes / 10 * 7 + (homes % 10) * 7 / 10;
    const std::size_t n = homes + kMaxDisplacement + 1;
    // 3 more metadata words so a 4-word load at any bucket stays in bounds.
    meta_.reset(allocate<std::uint16_t>(n + 3));
    buckets_.reset(allocate<Bucket>(n));
  }

  FlowTable(FlowTable&&) noexcept = default;
  FlowTable& operator=(FlowTable&&) noexcept = default;

  [[nodiscard]] V* find(const FlowKey& k) noexcept { return find(k, hash(k)); }
  [[nodiscard]] const V* find(const FlowKey& k) const noexcept { return find(k, hash(k)); }
  // The same, with h == hash(k) already computed (burst processing: hash, prefetch(h),
  // then find).
  [[nodiscard]] V* find(const FlowKey& k, std::uint64_t h) noexcept {
    const std::size_t i = locate(k, h);
    return i == kNotFound ? nullptr : &buckets_[i].value;
  }
  [[nodiscard]] const V* find(const FlowKey& k, std::uint64_t h) const noexcept {
    const std::size_t i = locate(k, h);
    return i == kNotFound ? nullptr : &buckets_[i].value;
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
    std::uint16_t want = meta_of(h);
    // Walk to the first bucket that is empty or holds an entry closer to its home than
    // we would be (Robin Hood: we take its place and the rest of the cluster moves).
    for (;;) {
      const std::uint16_t m = meta_[i];
      if (m == want && same_key(buckets_[i].key, k)) return false;
      if ((m & kDistMask) < (want & kDistMask)) break;
      if ((want & kDistMask) == kMaxDisplacement + 1) {
        ++stats_.probe_rejects;
        return false;
      }
      ++i;
      ++want;
    }
    // Shifting the rest of the cluster down by one must keep every entry within bound.
    // The last bucket is always empty (an entry there would be displaced > the bound).
    std::size_t end = i;
    for (; meta_[end] != 0; ++end) {
      if ((meta_[end] & kDistMask) == kMaxDisplacement + 1) {
        ++stats_.probe_rejects;
        return false;
      }
    }
    for (; end != i; --end) {
      meta_[end] = static_cast<std::uint16_t>(meta_[end - 1] + 1);
      buckets_[end] = buckets_[end - 1];
    }
    meta_[i] = want;
    buckets_[i] = Bucket{k, v};
    ++size_;
    return true;
  }

  // Removes k; false if absent. Backward shift: the following displaced entries move
  // one bucket closer to home, so no tombstones and lookups stay short.
  bool erase(const FlowKey& k) noexcept {
    std::size_t i = locate(k, hash(k));
    if (i == kNotFound) return false;
    for (std::size_t next = i + 1; (meta_[next] & kDistMask) > 1; i = next++) {  // displaced
      meta_[i] = static_cast<std::uint16_t>(meta_[next] - 1);
      buckets_[i] = buckets_[next];
    }
    meta_[i] = 0;
    --size_;
    return true;
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::size_t bucket_count() const noexcept { return mask_ + 1; }
  [[nodiscard]] const Stats& stats() const noexcept { return stats_; }

  // Keyed hash of the 4-tuple (see the top of the file). Deterministic for a seed.
  [[nodiscard]] std::uint64_t hash(const FlowKey& k) const noexcept {
    return k.local_addr.is_v4() && k.remote_addr.is_v4() ? hash_v4(k) : hash_v6(k);
  }
  // hash(k) for a key whose two addresses are IPv4 (the caller knows: an IPv4
  // packet's); anything else must go through hash().
  [[nodiscard]] std::uint64_t hash_v4(const FlowKey& k) const noexcept {
    std::uint64_t local = 0;
    std::uint64_t remote = 0;
    std::uint32_t p = 0;
    std::memcpy(&local, k.local_addr.bytes.data() + 8, sizeof local);
    std::memcpy(&remote, k.remote_addr.bytes.data() + 8, sizeof remote);
    std::memcpy(&p, reinterpret_cast<const unsigned char*>(&k) + 32, sizeof p);
    return fold(fold(local ^ seed_[0], remote ^ p ^ seed_[1]), seed_[0] ^ 0x9E3779B97F4A7C15u);
  }

  // Starts loading k's home metadata and bucket; for bursts: hash and prefetch all
  // keys, then find them.
  void prefetch(const FlowKey& k) const noexcept { prefetch(hash(k)); }
  void prefetch(std::uint64_t h) const noexcept {
    __builtin_prefetch(&meta_[h & mask_], 0, 3);
    __builtin_prefetch(&buckets_[h & mask_], 0, 3);
  }

  // f(const FlowKey&, const V&) for every entry, in table order. For telemetry; f
  // must not modify the table.
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < slots(); ++i) {
      if (meta_[i] != 0) f(buckets_[i].key, buckets_[i].value);
    }
  }

  // The largest displacement of any entry (a full scan, for tests and telemetry).
  [[nodiscard]] std::uint32_t max_displacement() const noexcept {
    std::uint32_t m = 0;
    for (std::size_t i = 0; i < slots(); ++i) {
      const std::uint32_t d = meta_[i] & kDistMask;
      if (d > m) m = d;
    }
    return m == 0 ? 0 : m - 1;
  }

 private:
  // hash() of a key that is not IPv4: all 36 bytes.
  [[nodiscard]] std::uint64_t hash_v6(const FlowKey& k) const noexcept {
    std::uint64_t w[4];
    std::uint32_t p = 0;
    std::memcpy(w, &k, sizeof w);
    std::memcpy(&p, reinterpret_cast<const unsigned char*>(&k) + sizeof w, sizeof p);
    const std::uint64_t l = fold(w[0] ^ seed_[0], w[1] ^ seed_[1]);  // local address
    const std::uint64_t r = fold(w[2] ^ seed_[1], w[3] ^ seed_[0]);  // remote address
    return fold(l ^ p ^ seed_[1], r ^ seed_[0] ^ 0x9E3779B97F4A7C15u);
  }

  static constexpr std::size_t kAlign = 64;
  static constexpr std::size_t kNotFound = ~std::size_t{0};
  static constexpr std::uint16_t kDistMask = 0xFF;
  static constexpr std::uint64_t kLanes = 0x0001'0001'0001'0001u;  // one per 16-bit lane
  static constexpr std::uint64_t kHigh = 0x8000'8000'8000'8000u;   // lane sign bits

  struct Bucket {
    FlowKey key;
    V value;
  };
  struct Free {
    void operator()(void* p) const noexcept { ::operator delete(p, std::align_val_t{kAlign}); }
  };

  template <class T>
  static T* allocate(std::size_t n) {
    void* mem = ::operator new(n * sizeof(T), std::align_val_t{kAlign}, std::nothrow);
    if (mem == nullptr) {
      std::fprintf(stderr, "riptide: FlowTable: cannot allocate %zu bytes\n", n * sizeof(T));
      std::abort();
    }
    auto* p = static_cast<T*>(mem);
    for (std::size_t i = 0; i < n; ++i) new (&p[i]) T{};
    return p;
  }

  [[nodiscard]] std::size_t slots() const noexcept { return mask_ + 1 + kMaxDisplacement + 1; }

  // The bucket holding k, or kNotFound. Four probes per step: lane j of `group` is the
  // metadata word at displacement d + j.
  [[nodiscard]] std::size_t locate(const FlowKey& k, std::uint64_t h) const noexcept {
    std::size_t i = h & mask_;
    // Expected words for displacements 0..3 (tag << 8 | d + 1), and d + j per lane.
    std::uint64_t want = (std::uint64_t{meta_of(h)} * kLanes) + 0x0003'0002'0001'0000u;
    std::uint64_t dist = 0x0003'0002'0001'0000u;
    for (;;) {
      std::uint64_t group = 0;
      std::memcpy(&group, &meta_[i], sizeof group);
      // Lanes equal to `want`: exact per-lane zero test (no borrow across lanes).
      const std::uint64_t x = group ^ want;
      const std::uint64_t match = ~(((x & ~kHigh) + ~kHigh) | x) & kHigh;
      // Lanes whose displacement + 1 <= d + j, i.e. < d + j + 1: the probe stops there.
      const std::uint64_t stop = ((dist | kHigh) - (group & (kLanes * kDistMask))) & kHigh;
      std::uint64_t candidates = stop == 0 ? match : match & ((stop & (~stop + 1)) - 1);
      // Lane 0 first, at an address that does not depend on the metadata load: when
      // the branch predicts a hit, the bucket is fetched in parallel with the metadata.
      if ((candidates & 0x8000u) != 0) {
        if (same_key(buckets_[i].key, k)) return i;
        candidates &= ~std::uint64_t{0x8000u};
      }
      while (candidates != 0) {
        const std::size_t j = i + static_cast<std::size_t>(std::countr_zero(candidates)) / 16;
        if (same_key(buckets_[j].key, k)) return j;
        candidates &= candidates - 1;
      }
      if (stop != 0) return kNotFound;
      i += 4;
      want += 4 * kLanes;
      dist += 4 * kLanes;
    }
  }

  static std::uint64_t fold(std::uint64_t x, std::uint64_t y) noexcept {
    __extension__ using U128 = unsigned __int128;
    const U128 p = static_cast<U128>(x) * y;
    return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
  }
  // Tag from the top 8 bits (the index uses the low ones), displacement 0.
  static std::uint16_t meta_of(std::uint64_t h) noexcept {
    return static_cast<std::uint16_t>(((h >> 56) << 8) | 1u);
  }
  static bool same_key(const FlowKey& a, const FlowKey& b) noexcept {
    return std::memcmp(&a, &b, sizeof(FlowKey)) == 0;
  }

  std::unique_ptr<std::uint16_t[], Free> meta_;
  std::unique_ptr<Bucket[], Free> buckets_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  std::array<std::uint64_t, 2> seed_;
  Stats stats_;
};

}  // namespace riptide
