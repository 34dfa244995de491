// lib/stack microbenchmarks: timer wheel operations and flow table lookups.
// The rte_hash comparison lives in flow_table_vs_rte_hash.cpp (needs EAL).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <unordered_set>
#include <vector>

#include "stack/flow_table.hpp"
#include "stack/timer_wheel.hpp"

namespace riptide {
namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr Instant at_ns(std::int64_t ns) { return Instant{Duration{ns}}; }

// ---- timer wheel -------------------------------------------------------------

// schedule + cancel of one entry, deadlines spread from 1 ms to ~100 s (levels 0-3).
void BM_TimerWheelInsertCancel(benchmark::State& state) {
  TimerWheel wheel;
  constexpr std::size_t kN = 4096;
  auto entries = std::make_unique<TimerEntry[]>(kN);
  std::vector<Instant> deadlines(kN);
  std::mt19937_64 rng{1};
  std::uniform_int_distribution<std::int64_t> dist{kMs, 100'000 * kMs};
  for (auto& d : deadlines) d = at_ns(dist(rng));
  std::size_t i = 0;
  for (auto _ : state) {
    wheel.schedule(entries[i], deadlines[i]);
    wheel.cancel(entries[i]);
    i = (i + 1) & (kN - 1);
  }
  benchmark::DoNotOptimize(wheel.size());
}
BENCHMARK(BM_TimerWheelInsertCancel);

// N entries spread uniformly over 1..1000 ms, then the wheel advanced in 1 ms steps
// until all fired. items_per_second is fired timers per second (cascades included).
void BM_TimerWheelAdvance(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto entries = std::make_unique<TimerEntry[]>(n);
  std::mt19937_64 rng{2};
  std::uniform_int_distribution<std::int64_t> dist{kMs, 1000 * kMs};
  std::vector<std::int64_t> offsets(n);
  for (auto& o : offsets) o = dist(rng);
  TimerWheel wheel;
  std::int64_t base = 0;
  std::size_t fired = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (std::size_t i = 0; i < n; ++i) wheel.schedule(entries[i], at_ns(base + offsets[i]));
    state.ResumeTiming();
    for (std::int64_t ms = 1; ms <= 1000; ++ms) {
      fired += wheel.advance(at_ns(base + ms * kMs), [](TimerEntry& e) { benchmark::DoNotOptimize(&e); });
    }
    base += 1000 * kMs;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(fired));
}
BENCHMARK(BM_TimerWheelAdvance)->Arg(1000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

// The per-loop-iteration cost on a busy core: 100k timers pending, the wheel
// advanced by 1 us per call (many calls land inside one tick and find nothing due).
void BM_TimerWheelAdvanceIdle(benchmark::State& state) {
  constexpr std::size_t kN = 100'000;
  auto entries = std::make_unique<TimerEntry[]>(kN);
  std::mt19937_64 rng{3};
  std::uniform_int_distribution<std::int64_t> dist{kMs, 1000 * kMs};
  TimerWheel wheel;
  for (std::size_t i = 0; i < kN; ++i) wheel.schedule(entries[i], at_ns(dist(rng)));
  std::int64_t now = 0;
  auto rearm = [&](TimerEntry& e) { wheel.schedule(e, at_ns(now + dist(rng))); };
  for (auto _ : state) {
    now += 1000;
    benchmark::DoNotOptimize(wheel.advance(at_ns(now), rearm));
  }
}
BENCHMARK(BM_TimerWheelAdvanceIdle);

// Rescheduling a pending timer further out (RTO restart on every ACK).
void BM_TimerWheelReschedule(benchmark::State& state) {
  constexpr std::size_t kN = 100'000;
  auto entries = std::make_unique<TimerEntry[]>(kN);
  std::mt19937_64 rng{4};
  std::uniform_int_distribution<std::int64_t> dist{200 * kMs, 1000 * kMs};
  TimerWheel wheel;
  for (std::size_t i = 0; i < kN; ++i) wheel.schedule(entries[i], at_ns(dist(rng)));
  std::vector<Instant> deadlines(4096);
  for (auto& d : deadlines) d = at_ns(dist(rng));
  std::size_t i = 0;
  std::size_t j = 0;
  for (auto _ : state) {
    wheel.schedule(entries[i], deadlines[j]);
    i = i + 1 == kN ? 0 : i + 1;
    j = (j + 1) & 4095;
  }
  benchmark::DoNotOptimize(wheel.size());
}
BENCHMARK(BM_TimerWheelReschedule);

// ---- flow table ---------------------------------------------------------------

constexpr std::array<std::uint64_t, 2> kSeed{0x243F6A8885A308D3u, 0x13198A2E03707344u};
constexpr std::size_t kFlows = 1'000'000;

FlowKey random_key(std::mt19937_64& rng) {
  const std::uint64_t a = rng();
  const std::uint64_t b = rng();
  return FlowKey{Ipv4Addr{static_cast<std::uint32_t>(a)}, Ipv4Addr{static_cast<std::uint32_t>(a >> 32)},
                 static_cast<std::uint16_t>(b), static_cast<std::uint16_t>(b >> 16)};
}

// 1M distinct random keys in the table, and as many other keys that are not.
struct FlowFixture {
  FlowFixture() : table{kFlows, kSeed} {
    std::mt19937_64 rng{5};
    std::unordered_set<std::uint64_t> seen;
    auto fresh = [&] {
      for (;;) {
        const FlowKey k = random_key(rng);
        if (seen.insert(table.hash(k)).second) return k;  // distinct hashes => distinct keys
      }
    };
    hits.reserve(kFlows);
    for (std::size_t i = 0; i < kFlows; ++i) {
      hits.push_back(fresh());
      table.insert(hits.back(), static_cast<std::uint32_t>(i));
    }
    misses.reserve(kFlows);
    for (std::size_t i = 0; i < kFlows; ++i) misses.push_back(fresh());
    std::shuffle(hits.begin(), hits.end(), rng);  // look up in an order unrelated to insertion
  }
  FlowTable<std::uint32_t> table;
  std::vector<FlowKey> hits;
  std::vector<FlowKey> misses;
};

FlowFixture& flows() {
  static FlowFixture f;
  return f;
}

void BM_FlowTableLookupHit(benchmark::State& state) {
  auto& f = flows();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(*f.table.find(f.hits[i]));
    i = i + 1 == kFlows ? 0 : i + 1;
  }
}
BENCHMARK(BM_FlowTableLookupHit);

void BM_FlowTableLookupMiss(benchmark::State& state) {
  auto& f = flows();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.table.find(f.misses[i]));
    i = i + 1 == kFlows ? 0 : i + 1;
  }
}
BENCHMARK(BM_FlowTableLookupMiss);

// A burst of 32: hash and prefetch all, then find all. Reported per key.
void BM_FlowTableLookupHitBurst32(benchmark::State& state) {
  auto& f = flows();
  constexpr std::size_t kBurst = 32;
  std::size_t i = 0;
  std::array<std::uint64_t, kBurst> h{};
  for (auto _ : state) {
    const FlowKey* keys = &f.hits[i];
    for (std::size_t k = 0; k < kBurst; ++k) {
      h[k] = f.table.hash(keys[k]);
      f.table.prefetch(h[k]);
    }
    for (std::size_t k = 0; k < kBurst; ++k) benchmark::DoNotOptimize(*f.table.find(keys[k], h[k]));
    i += kBurst;
    if (i + kBurst > kFlows) i = 0;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kBurst));
}
BENCHMARK(BM_FlowTableLookupHitBurst32);

void BM_FlowTableHash(benchmark::State& state) {
  auto& f = flows();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.table.hash(f.hits[i]));
    i = (i + 1) & 4095;
  }
}
BENCHMARK(BM_FlowTableHash);

// Connection churn at 500k live flows: insert a new flow, erase the oldest.
void BM_FlowTableInsertErase(benchmark::State& state) {
  auto& f = flows();
  constexpr std::size_t kLive = 500'000;
  FlowTable<std::uint32_t> table{kFlows, kSeed};
  const auto& keys = f.misses;  // 1M distinct keys used as a ring
  for (std::size_t i = 0; i < kLive; ++i) table.insert(keys[i], static_cast<std::uint32_t>(i));
  std::size_t head = kLive;
  std::size_t tail = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(table.insert(keys[head], static_cast<std::uint32_t>(head)));
    benchmark::DoNotOptimize(table.erase(keys[tail]));
    head = head + 1 == kFlows ? 0 : head + 1;
    tail = tail + 1 == kFlows ? 0 : tail + 1;
  }
  if (table.size() != kLive) state.SkipWithError("table size drifted");
}
BENCHMARK(BM_FlowTableInsertErase);

}  // namespace
}  // namespace riptide
