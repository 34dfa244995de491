// TimerWheel: ordering against a sorted reference, exact firing times, cascading over
// every level boundary, cancel/reschedule from callbacks, far jumps, large counts.
#include "stack/timer_wheel.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <vector>

namespace riptide {
namespace {

using std::chrono::hours;
using std::chrono::nanoseconds;

constexpr Instant at_ns(std::int64_t ns) { return Instant{nanoseconds{ns}}; }
constexpr Instant at_ms(std::int64_t ms) { return Instant{milliseconds{ms}}; }
constexpr std::int64_t kMs = 1'000'000;

// Entries that know their index, with a record of when they fired.
struct Timers {
  explicit Timers(std::size_t n) : entries(new TimerEntry[n]), fired_at(n), fire_count(n, 0) {
    for (std::size_t i = 0; i < n; ++i) entries[i].owner = reinterpret_cast<void*>(i);
  }
  static std::size_t index(const TimerEntry& e) { return reinterpret_cast<std::size_t>(e.owner); }
  TimerEntry& operator[](std::size_t i) { return entries[i]; }

  std::unique_ptr<TimerEntry[]> entries;
  std::vector<Instant> fired_at;
  std::vector<int> fire_count;
};

TEST(TimerWheel, RandomDeadlinesFireInTickOrderOnceAndOnTime) {
  constexpr std::size_t kN = 20000;
  TimerWheel wheel;
  Timers t{kN};
  std::mt19937_64 rng{42};
  std::uniform_int_distribution<std::int64_t> dist{1, 5000 * kMs};
  std::vector<std::int64_t> deadline(kN);
  for (std::size_t i = 0; i < kN; ++i) {
    deadline[i] = dist(rng);
    wheel.schedule(t[i], at_ns(deadline[i]));
  }
  EXPECT_EQ(wheel.size(), kN);

  std::vector<std::int64_t> fired_ticks;
  for (std::int64_t ms = 0; ms <= 5001; ++ms) {
    const Instant now = at_ms(ms);
    wheel.advance(now, [&](TimerEntry& e) {
      const std::size_t i = Timers::index(e);
      EXPECT_FALSE(wheel.is_scheduled(e));
      ++t.fire_count[i];
      t.fired_at[i] = now;
      fired_ticks.push_back(deadline[i] / kMs);
    });
  }
  EXPECT_EQ(wheel.size(), 0u);
  for (std::size_t i = 0; i < kN; ++i) {
    ASSERT_EQ(t.fire_count[i], 1) << i;
    const std::int64_t at = t.fired_at[i].time_since_epoch().count();
    EXPECT_GE(at, deadline[i]) << "fired early: " << i;
    EXPECT_LE(at, deadline[i] + kMs) << "fired more than a tick late: " << i;
  }
  std::vector<std::int64_t> reference(deadline);
  for (auto& d : reference) d /= kMs;
  std::sort(reference.begin(), reference.end());
  EXPECT_EQ(fired_ticks, reference);
}

TEST(TimerWheel, RandomStepsFireExactlyTheDueEntries) {
  constexpr std::size_t kN = 5000;
  TimerWheel wheel;
  Timers t{kN};
  std::mt19937_64 rng{7};
  std::uniform_int_distribution<std::int64_t> dist{0, 2000 * kMs};
  std::vector<std::int64_t> sorted(kN);
  for (std::size_t i = 0; i < kN; ++i) {
    sorted[i] = dist(rng);
    wheel.schedule(t[i], at_ns(sorted[i]));
  }
  std::sort(sorted.begin(), sorted.end());
  std::uniform_int_distribution<std::int64_t> step{0, 3 * kMs + 700'000};
  std::int64_t now = 0;
  std::size_t total = 0;
  while (total < kN) {
    now += step(rng);
    std::int64_t last_tick = -1;
    total += wheel.advance(at_ns(now), [&](TimerEntry& e) {
      const std::int64_t d = wheel.deadline(e).time_since_epoch().count();
      EXPECT_LE(d, now);
      EXPECT_GE(d / kMs, last_tick);
      last_tick = d / kMs;
    });
    const auto due = static_cast<std::size_t>(
        std::upper_bound(sorted.begin(), sorted.end(), now) - sorted.begin());
    ASSERT_EQ(total, due) << "at " << now;
    EXPECT_EQ(wheel.size(), kN - due);
  }
}

// Deadlines just before, at and after 64^level ticks, for every level the tick range
// has, approached in small steps and in one jump.
void check_boundaries(Duration tick, unsigned max_level) {
  const std::int64_t tick_ns = tick.count();
  for (unsigned level = 1; level <= max_level; ++level) {
    const std::int64_t boundary = (std::int64_t{1} << (6 * level)) * tick_ns;
    for (bool jump : {false, true}) {
      TimerWheel wheel{tick};
      Timers t{5};
      // Distinct even when the tick is 1 ns.
      const std::int64_t d[5] = {boundary - tick_ns - 1, boundary - 1, boundary, boundary + 1,
                                 boundary + tick_ns + 1};
      for (std::size_t i = 0; i < 5; ++i) wheel.schedule(t[i], at_ns(d[i]));
      std::vector<std::size_t> fired;
      auto record = [&](TimerEntry& e) { fired.push_back(Timers::index(e)); };
      if (!jump) {
        // Walk up to the boundary through a few intermediate points.
        for (std::int64_t frac : {8, 4, 2}) wheel.advance(at_ns(boundary / frac), record);
      }
      EXPECT_TRUE(fired.empty()) << "level " << level;
      wheel.advance(at_ns(d[0] - 1), record);
      EXPECT_TRUE(fired.empty()) << "level " << level;
      for (std::size_t i = 0; i < 5; ++i) {
        wheel.advance(at_ns(d[i]), record);
        ASSERT_EQ(fired.size(), i + 1) << "level " << level << " entry " << i;
        EXPECT_EQ(fired.back(), i);
      }
      EXPECT_EQ(wheel.size(), 0u);
    }
  }
}

TEST(TimerWheel, CascadesAcrossEveryLevelBoundary) {
  // 1 ms ticks: levels 1..7 (64^7 ms is 140 years; 64^8 ms overflows Instant).
  check_boundaries(milliseconds{1}, 7);
  // 1 ns ticks reach every level: 64^10 = 2^60 ticks.
  check_boundaries(nanoseconds{1}, 10);
}

TEST(TimerWheel, CascadesFromAnUnalignedPosition) {
  // The wheel's position is mid-way through every level when the entries go in.
  TimerWheel wheel;
  Timers t{64};
  const std::int64_t origin = 123'456'789'123;  // ns: not aligned to anything
  wheel.advance(at_ns(origin), [](TimerEntry&) {});
  std::vector<std::int64_t> d;
  for (unsigned level = 0; level < 6; ++level) {
    for (std::int64_t off : {1, 63, 64, 65}) {
      d.push_back(origin + (off << (6 * level)) * kMs + 123 + level);  // distinct
    }
  }
  for (std::size_t i = 0; i < d.size(); ++i) wheel.schedule(t[i], at_ns(d[i]));
  std::vector<std::int64_t> sorted(d);
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t k = 0; k < sorted.size(); ++k) {
    std::size_t n = wheel.advance(at_ns(sorted[k] - 1), [](TimerEntry&) { FAIL(); });
    EXPECT_EQ(n, 0u);
    n = wheel.advance(at_ns(sorted[k]), [&](TimerEntry& e) {
      EXPECT_EQ(wheel.deadline(e), at_ns(sorted[k]));
    });
    EXPECT_EQ(n, 1u);
  }
}

TEST(TimerWheel, CancelBeforeFire) {
  TimerWheel wheel;
  TimerEntry a;
  TimerEntry b;
  wheel.schedule(a, at_ms(10));
  wheel.schedule(b, at_ms(10));
  EXPECT_TRUE(wheel.is_scheduled(a));
  wheel.cancel(a);
  EXPECT_FALSE(wheel.is_scheduled(a));
  wheel.cancel(a);  // no-op
  EXPECT_EQ(wheel.size(), 1u);
  int fired = 0;
  EXPECT_EQ(wheel.advance(at_ms(20), [&](TimerEntry& e) {
    EXPECT_EQ(&e, &b);
    ++fired;
  }),
            1u);
  EXPECT_EQ(fired, 1);
  wheel.cancel(b);  // after firing: no-op
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, CancelDuringAnotherCallback) {
  // Two entries due in the same tick and one due later in the same advance: whichever
  // fires first cancels the others, which then never fire.
  TimerWheel wheel;
  Timers t{3};
  wheel.schedule(t[0], at_ns(5 * kMs + 1));
  wheel.schedule(t[1], at_ns(5 * kMs + 2));
  wheel.schedule(t[2], at_ms(9));
  std::vector<std::size_t> fired;
  wheel.advance(at_ms(10), [&](TimerEntry& e) {
    fired.push_back(Timers::index(e));
    for (std::size_t i = 0; i < 3; ++i) wheel.cancel(t[i]);
  });
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_LT(fired[0], 2u);
  EXPECT_EQ(wheel.size(), 0u);
  EXPECT_EQ(wheel.advance(at_ms(100), [](TimerEntry&) { FAIL(); }), 0u);
}

TEST(TimerWheel, RescheduleFromOwnCallbackIsPeriodic) {
  TimerWheel wheel;
  TimerEntry periodic;
  std::vector<std::int64_t> fired_ms;
  auto cb = [&](TimerEntry& e) {
    const Instant d = wheel.deadline(e);
    EXPECT_GE(wheel.now(), d);
    fired_ms.push_back(to_ms(d));
    wheel.schedule(e, d + milliseconds{10});
  };
  wheel.schedule(periodic, at_ms(10));
  for (int ms = 1; ms <= 1000; ++ms) wheel.advance(at_ms(ms), cb);
  ASSERT_EQ(fired_ms.size(), 100u);
  for (std::size_t i = 0; i < fired_ms.size(); ++i) {
    EXPECT_EQ(fired_ms[i], static_cast<std::int64_t>(10 * (i + 1)));
  }
  // One big step covers 100 more periods: each fires, in order, within this call.
  EXPECT_EQ(wheel.advance(at_ms(2000), cb), 100u);
  ASSERT_EQ(fired_ms.size(), 200u);
  EXPECT_EQ(fired_ms.back(), 2000);
  EXPECT_TRUE(std::is_sorted(fired_ms.begin(), fired_ms.end()));
  EXPECT_EQ(wheel.deadline(periodic), at_ms(2010));
}

TEST(TimerWheel, CallbackSchedulesAnotherDueInTheSameAdvance) {
  TimerWheel wheel;
  TimerEntry a;
  TimerEntry b;
  std::vector<TimerEntry*> fired;
  wheel.schedule(a, at_ms(5));
  EXPECT_EQ(wheel.advance(at_ms(10),
                          [&](TimerEntry& e) {
                            fired.push_back(&e);
                            if (&e == &a) wheel.schedule(b, at_ms(8));
                          }),
            2u);
  EXPECT_EQ(fired, (std::vector<TimerEntry*>{&a, &b}));
}

TEST(TimerWheel, ScheduleInThePastFiresOnNextAdvance) {
  TimerWheel wheel;
  TimerEntry e;
  wheel.advance(at_ms(100), [](TimerEntry&) {});
  wheel.schedule(e, at_ms(50));
  EXPECT_TRUE(wheel.is_scheduled(e));
  EXPECT_EQ(wheel.next_deadline(), at_ms(50));
  EXPECT_EQ(wheel.deadline(e), at_ms(50));
  // Same time (or earlier: time does not go back) still fires it.
  EXPECT_EQ(wheel.advance(at_ms(90), [&](TimerEntry& f) { EXPECT_EQ(&f, &e); }), 1u);
  EXPECT_FALSE(wheel.is_scheduled(e));
  EXPECT_EQ(wheel.now(), at_ms(100));
  // Exactly now, and before the wheel's start.
  wheel.schedule(e, at_ms(100));
  EXPECT_EQ(wheel.advance(at_ms(100), [](TimerEntry&) {}), 1u);
  wheel.schedule(e, at_ms(-5));
  EXPECT_EQ(wheel.advance(at_ms(100), [](TimerEntry&) {}), 1u);
}

TEST(TimerWheel, PastDeadlineFromCallbackWaitsForNextAdvance) {
  TimerWheel wheel;
  TimerEntry e;
  int fired = 0;
  auto again = [&](TimerEntry& f) {
    ++fired;
    wheel.schedule(f, wheel.now());  // at the current time: must not loop
  };
  wheel.schedule(e, at_ms(3));
  EXPECT_EQ(wheel.advance(at_ms(5), again), 1u);
  EXPECT_EQ(wheel.advance(at_ms(5), again), 1u);
  EXPECT_EQ(fired, 2);
  EXPECT_TRUE(wheel.is_scheduled(e));
}

TEST(TimerWheel, SubTickDeadlineFiresWhenReached) {
  TimerWheel wheel;
  TimerEntry e;
  wheel.schedule(e, at_ns(kMs + 200'000));  // 1.2 ms
  EXPECT_EQ(wheel.advance(at_ms(1), [](TimerEntry&) {}), 0u);
  EXPECT_EQ(wheel.advance(at_ns(kMs + 199'999), [](TimerEntry&) {}), 0u);
  EXPECT_EQ(wheel.advance(at_ns(kMs + 200'000), [](TimerEntry&) {}), 1u);
  // On tick boundaries it fires at the first boundary >= the deadline.
  wheel.schedule(e, at_ns(7 * kMs + 1));
  EXPECT_EQ(wheel.advance(at_ms(7), [](TimerEntry&) {}), 0u);
  EXPECT_EQ(wheel.advance(at_ms(8), [](TimerEntry&) {}), 1u);
}

TEST(TimerWheel, ManyEntriesInOneTickFireAsTheirDeadlinesPass) {
  // The current tick's slot is sorted on the first partial visit; inserts into it
  // (from outside and from callbacks) keep it sorted.
  TimerWheel wheel;
  constexpr std::size_t kN = 2000;
  Timers t{kN + 1};
  std::mt19937_64 rng{3};
  std::uniform_int_distribution<std::int64_t> sub{0, kMs - 1};
  const std::int64_t base = 50 * kMs;
  std::multiset<std::int64_t> pending;
  for (std::size_t i = 0; i < kN / 2; ++i) {
    const std::int64_t d = base + sub(rng);
    wheel.schedule(t[i], at_ns(d));
    pending.insert(d);
  }
  std::size_t next = kN / 2;
  for (std::int64_t now = base; now < base + kMs + 1000; now += 997) {
    wheel.advance(at_ns(now), [&](TimerEntry& e) {
      const std::int64_t d = wheel.deadline(e).time_since_epoch().count();
      EXPECT_LE(d, now);
      auto it = pending.find(d);
      ASSERT_NE(it, pending.end());
      pending.erase(it);
    });
    ASSERT_TRUE(pending.empty() || *pending.begin() > now) << now;
    // Add a few more in the rest of this tick.
    for (int k = 0; k < 2 && next < kN; ++k, ++next) {
      const std::int64_t d = std::min(base + kMs - 1, now + 1 + sub(rng) / 4);
      wheel.schedule(t[next], at_ns(d));
      pending.insert(d);
    }
    const auto nd = wheel.next_deadline();
    if (pending.empty()) {
      EXPECT_FALSE(nd.has_value());
    } else {
      EXPECT_EQ(nd, at_ns(*pending.begin()));
    }
  }
  EXPECT_TRUE(pending.empty());
}

TEST(TimerWheel, EarliestIsTheEntryNextDeadlineReports) {
  // earliest() (the Stack's lazy retransmission entries are settled through it)
  // must name an entry with exactly next_deadline()'s deadline, from the due list,
  // a partly fired current tick or a higher level, and null on an empty wheel.
  constexpr std::size_t kN = 200;
  TimerWheel wheel(std::chrono::milliseconds{1}, at_ns(0));
  Timers t{kN};
  std::mt19937_64 rng{77};
  std::uniform_int_distribution<std::int64_t> dist{0, 5'000 * kMs};
  std::uniform_int_distribution<int> op{0, 9};
  std::int64_t now = 0;
  EXPECT_EQ(wheel.earliest(), nullptr);
  for (int step = 0; step < 20'000; ++step) {
    TimerEntry& e = t[rng() % kN];
    switch (op(rng)) {
      case 0: wheel.cancel(e); break;
      case 1: now += static_cast<std::int64_t>(rng() % (3 * kMs)); wheel.advance(at_ns(now), [](TimerEntry&) {}); break;
      case 2: wheel.schedule(e, at_ns(now)); break;  // due at once
      default: wheel.schedule(e, at_ns(now + dist(rng) / (1 + rng() % 100))); break;
    }
    const auto nd = wheel.next_deadline();
    const TimerEntry* first = wheel.earliest();
    ASSERT_EQ(first == nullptr, !nd.has_value()) << step;
    if (first != nullptr) {
      EXPECT_TRUE(wheel.is_scheduled(*first)) << step;
      EXPECT_EQ(wheel.deadline(*first), *nd) << step;
    }
  }
}

TEST(TimerWheel, MillionEntries) {
  constexpr std::size_t kN = 1'000'000;
  TimerWheel wheel;
  Timers t{kN};
  std::mt19937_64 rng{1234};
  std::uniform_int_distribution<std::int64_t> dist{1, 3600'000 * kMs};  // one hour
  for (std::size_t i = 0; i < kN; ++i) wheel.schedule(t[i], at_ns(dist(rng)));
  // Cancel every tenth.
  for (std::size_t i = 0; i < kN; i += 10) wheel.cancel(t[i]);
  EXPECT_EQ(wheel.size(), kN - kN / 10);
  std::size_t fired = 0;
  for (std::int64_t ms = 0; ms <= 3600'000; ms += 7) {
    const Instant now = at_ms(ms);
    fired += wheel.advance(now, [&](TimerEntry& e) {
      ++t.fire_count[Timers::index(e)];
      if (wheel.deadline(e) > now) ADD_FAILURE() << "early";
    });
  }
  fired += wheel.advance(at_ms(3600'001), [&](TimerEntry& e) { ++t.fire_count[Timers::index(e)]; });
  EXPECT_EQ(fired, kN - kN / 10);
  for (std::size_t i = 0; i < kN; ++i) ASSERT_EQ(t.fire_count[i], i % 10 == 0 ? 0 : 1) << i;
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheel, NextDeadlineMatchesReference) {
  constexpr std::size_t kN = 2000;
  TimerWheel wheel;
  Timers t{kN};
  std::map<std::size_t, std::int64_t> scheduled;  // index -> deadline
  std::multiset<std::int64_t> deadlines;
  std::mt19937_64 rng{99};
  std::uniform_int_distribution<std::size_t> pick{0, kN - 1};
  std::uniform_int_distribution<int> op{0, 9};
  std::int64_t now = 0;
  auto drop = [&](std::size_t i) {
    auto it = scheduled.find(i);
    if (it == scheduled.end()) return;
    deadlines.erase(deadlines.find(it->second));
    scheduled.erase(it);
  };
  for (int step = 0; step < 100'000; ++step) {
    const int o = op(rng);
    const std::size_t i = pick(rng);
    if (o < 5) {
      // Mostly near, sometimes far, sometimes in the past.
      std::int64_t span = o == 0 ? 100'000 * kMs : o == 1 ? 10 * kMs : 1000 * kMs;
      const std::int64_t d =
          now - 2 * kMs + std::uniform_int_distribution<std::int64_t>{0, span}(rng);
      drop(i);
      wheel.schedule(t[i], at_ns(d));
      scheduled[i] = d;
      deadlines.insert(d);
    } else if (o < 7) {
      drop(i);
      wheel.cancel(t[i]);
    } else {
      now += std::uniform_int_distribution<std::int64_t>{0, o == 9 ? 50 * kMs : kMs}(rng);
      wheel.advance(at_ns(now), [&](TimerEntry& e) {
        const std::size_t j = Timers::index(e);
        EXPECT_LE(scheduled.at(j), now);
        drop(j);
      });
      ASSERT_TRUE(deadlines.empty() || *deadlines.begin() > now);
    }
    ASSERT_EQ(wheel.size(), scheduled.size());
    const auto nd = wheel.next_deadline();
    if (deadlines.empty()) {
      ASSERT_FALSE(nd.has_value());
    } else {
      ASSERT_EQ(nd, at_ns(*deadlines.begin())) << "step " << step;
    }
  }
}

TEST(TimerWheel, FarJumpsAreFastAndExact) {
  TimerWheel wheel;
  Timers t{4};
  const std::int64_t two_hours = std::chrono::duration_cast<nanoseconds>(hours{2}).count();
  const std::int64_t far = (std::int64_t{1} << 32) * kMs + 5;  // 2^32 ticks (~50 days)
  const std::int64_t farther = (std::int64_t{1} << 40) * kMs;   // ~35 years
  wheel.schedule(t[0], at_ns(two_hours));
  wheel.schedule(t[1], at_ns(far));
  wheel.schedule(t[2], at_ns(farther));
  wheel.schedule(t[3], Instant::max());
  EXPECT_EQ(wheel.next_deadline(), at_ns(two_hours));

  const auto started = std::chrono::steady_clock::now();
  std::vector<std::size_t> fired;
  auto record = [&](TimerEntry& e) { fired.push_back(Timers::index(e)); };
  EXPECT_EQ(wheel.advance(at_ns(two_hours - 1), record), 0u);
  EXPECT_EQ(wheel.advance(at_ns(two_hours), record), 1u);
  EXPECT_EQ(wheel.next_deadline(), at_ns(far));
  EXPECT_EQ(wheel.advance(at_ns(far - 1), record), 0u);
  EXPECT_EQ(wheel.advance(at_ns(far), record), 1u);
  EXPECT_EQ(wheel.advance(at_ns(farther - 1), record), 0u);
  EXPECT_EQ(wheel.advance(at_ns(farther), record), 1u);
  EXPECT_EQ(wheel.advance(Instant::max() - nanoseconds{1}, record), 0u);
  EXPECT_EQ(wheel.advance(Instant::max(), record), 1u);
  EXPECT_EQ(fired, (std::vector<std::size_t>{0, 1, 2, 3}));
  // Empty wheel: a jump costs nothing per tick either.
  TimerWheel empty;
  for (int i = 1; i <= 1000; ++i) empty.advance(at_ns(two_hours * i), [](TimerEntry&) {});
  const auto elapsed = std::chrono::steady_clock::now() - started;
  // Stepping tick by tick would be ~10^13 steps; this is microseconds of work.
  EXPECT_LT(elapsed, std::chrono::seconds{1});
}

TEST(TimerWheel, TickAndStartOtherThanDefault) {
  const Instant start = at_ms(5000);
  TimerWheel wheel{microseconds{100}, start};
  EXPECT_EQ(wheel.now(), start);
  EXPECT_EQ(wheel.tick(), microseconds{100});
  TimerEntry a;
  TimerEntry b;
  wheel.schedule(a, start + microseconds{250});
  wheel.schedule(b, start + milliseconds{700});
  EXPECT_EQ(wheel.advance(start + microseconds{200}, [](TimerEntry&) {}), 0u);
  EXPECT_EQ(wheel.advance(start + microseconds{300}, [&](TimerEntry& e) { EXPECT_EQ(&e, &a); }),
            1u);
  EXPECT_EQ(wheel.advance(start + milliseconds{700}, [&](TimerEntry& e) { EXPECT_EQ(&e, &b); }),
            1u);
}

TEST(TimerWheel, DeadlineIsExactAndOwnerUntouched) {
  TimerWheel wheel;
  TimerEntry e;
  int owner = 0;
  e.owner = &owner;
  e.kind = 7;
  wheel.schedule(e, at_ns(123'456'789));
  EXPECT_EQ(wheel.deadline(e), at_ns(123'456'789));
  wheel.schedule(e, at_ns(987'654'321));  // reschedule
  EXPECT_EQ(wheel.deadline(e), at_ns(987'654'321));
  EXPECT_EQ(wheel.size(), 1u);
  wheel.advance(at_ms(1000), [&](TimerEntry& f) {
    EXPECT_EQ(f.owner, &owner);
    EXPECT_EQ(f.kind, 7);
  });
  EXPECT_EQ(e.owner, &owner);
  EXPECT_EQ(e.kind, 7);
}

}  // namespace
}  // namespace riptide
