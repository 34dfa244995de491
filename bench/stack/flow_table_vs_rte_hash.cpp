// FlowTable against rte_hash on the same 1M random 4-tuples: single-key lookups (hit
// and miss) and bursts of 32 (rte_hash_lookup_bulk / _bulk_data against our find()
// with prefetch). This is the measurement behind "a measured-faster table of our own"
// (DESIGN.md "Layers").
//
//   bench_flow_table_vs_rte_hash [EAL args] [-- benchmark args]
//
// EAL gets --no-huge -m 1024 --no-pci --no-shconf --log-level=error plus the EAL args
// given; everything after "--" goes to Google Benchmark.
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "stack/flow_table.hpp"

namespace riptide {
namespace {

constexpr std::size_t kFlows = 1'000'000;
constexpr std::size_t kBurst = 32;
constexpr std::array<std::uint64_t, 2> kSeed{0x243F6A8885A308D3u, 0x13198A2E03707344u};

struct Fixture {
  rte_hash* hash = nullptr;
  FlowTable<std::uint32_t> table{kFlows, kSeed};
  std::vector<FlowKey> hits;    // in both tables, shuffled
  std::vector<FlowKey> misses;  // in neither
  std::size_t rte_add_failures = 0;
};

Fixture* g_fix = nullptr;

FlowKey random_key(std::mt19937_64& rng) {
  const std::uint64_t a = rng();
  const std::uint64_t b = rng();
  return FlowKey{Ipv4Addr{static_cast<std::uint32_t>(a)}, Ipv4Addr{static_cast<std::uint32_t>(a >> 32)},
                 static_cast<std::uint16_t>(b), static_cast<std::uint16_t>(b >> 16)};
}

bool build(Fixture& f) {
  rte_hash_parameters params{};
  params.name = "flows_bench";
  params.entries = 1u << 20;  // 1M (rte_hash rounds to a power of two anyway)
  params.key_len = sizeof(FlowKey);
  params.hash_func = rte_hash_crc;
  params.hash_func_init_val = 0;
  params.socket_id = 0;
  f.hash = rte_hash_create(&params);
  if (f.hash == nullptr) {
    std::fprintf(stderr, "rte_hash_create: %s\n", rte_strerror(rte_errno));
    return false;
  }
  std::mt19937_64 rng{5};
  std::unordered_set<std::uint64_t> seen;
  auto fresh = [&] {
    for (;;) {
      const FlowKey k = random_key(rng);
      if (seen.insert(f.table.hash(k)).second) return k;  // distinct hashes => distinct keys
    }
  };
  f.hits.reserve(kFlows);
  for (std::size_t i = 0; i < kFlows; ++i) {
    const FlowKey k = fresh();
    const auto v = static_cast<std::uint32_t>(i);
    if (rte_hash_add_key_data(f.hash, &k, reinterpret_cast<void*>(std::uintptr_t{v})) < 0) {
      ++f.rte_add_failures;  // cuckoo table full around this key: keep it out of both
      continue;
    }
    if (!f.table.insert(k, v)) {
      std::fprintf(stderr, "FlowTable insert failed at %zu\n", i);
      return false;
    }
    f.hits.push_back(k);
  }
  f.misses.reserve(kFlows);
  for (std::size_t i = 0; i < kFlows; ++i) f.misses.push_back(fresh());
  std::shuffle(f.hits.begin(), f.hits.end(), rng);
  return true;
}

const std::vector<FlowKey>& keys_for(const benchmark::State& state) {
  return state.range(0) != 0 ? g_fix->hits : g_fix->misses;
}

// ---- single key ---------------------------------------------------------------

void BM_RteHashLookup(benchmark::State& state) {
  const auto& keys = keys_for(state);
  std::size_t i = 0;
  for (auto _ : state) {
    void* data = nullptr;
    benchmark::DoNotOptimize(rte_hash_lookup_data(g_fix->hash, &keys[i], &data));
    benchmark::DoNotOptimize(data);
    i = i + 1 == keys.size() ? 0 : i + 1;
  }
}

void BM_FlowTableFind(benchmark::State& state) {
  const auto& keys = keys_for(state);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(g_fix->table.find(keys[i]));
    i = i + 1 == keys.size() ? 0 : i + 1;
  }
}

// ---- bursts of 32, reported per key -------------------------------------------

void BM_RteHashLookupBulk(benchmark::State& state) {
  const auto& keys = keys_for(state);
  std::array<const void*, kBurst> ptrs{};
  std::array<std::int32_t, kBurst> positions{};
  std::size_t i = 0;
  for (auto _ : state) {
    for (std::size_t k = 0; k < kBurst; ++k) ptrs[k] = &keys[i + k];
    benchmark::DoNotOptimize(rte_hash_lookup_bulk(g_fix->hash, ptrs.data(), kBurst, positions.data()));
    benchmark::DoNotOptimize(positions.data());
    i += kBurst;
    if (i + kBurst > keys.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBurst));
}

void BM_RteHashLookupBulkData(benchmark::State& state) {
  const auto& keys = keys_for(state);
  std::array<const void*, kBurst> ptrs{};
  std::array<void*, kBurst> data{};
  std::size_t i = 0;
  for (auto _ : state) {
    std::uint64_t hit_mask = 0;
    for (std::size_t k = 0; k < kBurst; ++k) ptrs[k] = &keys[i + k];
    benchmark::DoNotOptimize(
        rte_hash_lookup_bulk_data(g_fix->hash, ptrs.data(), kBurst, &hit_mask, data.data()));
    benchmark::DoNotOptimize(hit_mask);
    i += kBurst;
    if (i + kBurst > keys.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBurst));
}

void BM_FlowTableFindBurstPrefetch(benchmark::State& state) {
  const auto& keys = keys_for(state);
  std::array<std::uint64_t, kBurst> h{};
  std::array<const std::uint32_t*, kBurst> found{};
  std::size_t i = 0;
  for (auto _ : state) {
    const FlowKey* burst = &keys[i];
    for (std::size_t k = 0; k < kBurst; ++k) {
      h[k] = g_fix->table.hash(burst[k]);
      g_fix->table.prefetch(h[k]);
    }
    for (std::size_t k = 0; k < kBurst; ++k) found[k] = g_fix->table.find(burst[k], h[k]);
    benchmark::DoNotOptimize(found.data());
    i += kBurst;
    if (i + kBurst > keys.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBurst));
}

// Arg 1 = hits, 0 = misses.
BENCHMARK(BM_RteHashLookup)->ArgName("hit")->Arg(1)->Arg(0);
BENCHMARK(BM_FlowTableFind)->ArgName("hit")->Arg(1)->Arg(0);
BENCHMARK(BM_RteHashLookupBulk)->ArgName("hit")->Arg(1)->Arg(0);
BENCHMARK(BM_RteHashLookupBulkData)->ArgName("hit")->Arg(1)->Arg(0);
BENCHMARK(BM_FlowTableFindBurstPrefetch)->ArgName("hit")->Arg(1)->Arg(0);

}  // namespace
}  // namespace riptide

int main(int argc, char** argv) {
  // Split: EAL args before "--", benchmark args after.
  std::vector<std::string> eal_args{argv[0], "--no-huge", "-m", "1024", "--no-pci", "--no-shconf",
                                    "--log-level=error"};
  std::vector<char*> bench_argv{argv[0]};
  int i = 1;
  for (; i < argc && std::strcmp(argv[i], "--") != 0; ++i) eal_args.emplace_back(argv[i]);
  for (++i; i < argc; ++i) bench_argv.push_back(argv[i]);
  std::vector<char*> eal_argv;
  for (auto& a : eal_args) eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  riptide::Fixture fix;
  if (!riptide::build(fix)) return 1;
  riptide::g_fix = &fix;
  std::printf("keys: %zu in both tables (%zu rejected by rte_hash), %zu misses; "
              "FlowTable buckets %zu, max displacement %u\n",
              fix.hits.size(), fix.rte_add_failures, fix.misses.size(), fix.table.bucket_count(),
              fix.table.max_displacement());
  int bench_argc = static_cast<int>(bench_argv.size());
  benchmark::Initialize(&bench_argc, bench_argv.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  rte_hash_free(fix.hash);
  rte_eal_cleanup();
  return 0;
}
