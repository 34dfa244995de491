#include "stack/memory_link.hpp"

#include "stack/stack.hpp"  // StackEngine: packets in and out without the facade

#include <algorithm>

#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"

namespace riptide {

namespace {

// An exchange that does not go quiet at one instant (a stack answering every
// packet with another) is a bug; stop instead of spinning forever.
constexpr std::uint64_t kMaxStepsPerInstant = 2'000'000;
constexpr std::uint64_t kMaxClockSteps = 50'000'000;

std::optional<Instant> earliest(std::optional<Instant> x, std::optional<Instant> y) {
  if (!x) return y;
  if (!y) return x;
  return std::min(*x, *y);
}

}  // namespace

Impairment Impairment::burst_loss(double rate, double mean_burst) {
  Impairment m;
  m.ge_leave_bad = 1.0 / mean_burst;
  m.ge_enter_bad = rate * m.ge_leave_bad / (1.0 - rate);
  m.ge_bad_loss = 1.0;
  return m;
}

const char* to_string(LinkEvent e) noexcept {
  switch (e) {
    case LinkEvent::Sent: return "sent";
    case LinkEvent::Filtered: return "lost: filtered";
    case LinkEvent::LostBurst: return "lost: burst";
    case LinkEvent::LostRandom: return "lost: random";
    case LinkEvent::Duplicated: return "duplicated";
    case LinkEvent::QueueDrop: return "dropped: queue full";
    case LinkEvent::HeldBack: return "held back";
    case LinkEvent::Unroutable: return "dropped: no route";
    case LinkEvent::Delivered: return "delivered";
  }
  return "?";
}

MemoryLink::MemoryLink(Stack& a, Stack& b, Instant start, Impairment a_to_b, Impairment b_to_a,
                       std::uint64_t seed)
    : routing_(Routing::Peer), seed_(seed), now_(start), dirs_(2) {
  dirs_[0].stack = &a;
  dirs_[0].m = a_to_b;
  dirs_[1].stack = &b;
  dirs_[1].m = b_to_a;
  seed_direction(0);
  seed_direction(1);
}

MemoryLink::MemoryLink(Instant start, std::uint64_t seed)
    : routing_(Routing::ByAddress), seed_(seed), now_(start) {}

std::size_t MemoryLink::attach(Stack& s, Impairment out) {
  // A Peer link has its two ends from its constructor.
  if (routing_ != Routing::ByAddress) return dirs_.size();
  dirs_.emplace_back();
  dirs_.back().stack = &s;
  dirs_.back().m = out;
  seed_direction(dirs_.size() - 1);
  return dirs_.size() - 1;
}

void MemoryLink::add_clock(std::function<std::optional<Instant>()> next_timer,
                           std::function<void(Instant)> advance) {
  clocks_.push_back(Clock{std::move(next_timer), std::move(advance)});
}

void MemoryLink::seed_direction(std::size_t i) {
  // Independent streams from one seed; directions 0 and 1 keep the streams the
  // scenario tests' seeds were chosen with.
  static constexpr std::uint64_t kSalt[] = {0xA11CE, 0xB0B};
  const std::uint64_t salt = i < 2 ? kSalt[i] : 0xD1CE0000 + i;
  std::seed_seq s{seed_, salt};
  dirs_[i].rng.seed(s);
}

bool MemoryLink::chance(Dir& d, double p) {
  if (p <= 0) return false;
  return std::uniform_real_distribution<double>(0.0, 1.0)(d.rng) < p;
}

void MemoryLink::emit(LinkEvent what, std::uint32_t from, std::span<const std::byte> p) {
  if (observer_) observer_(LinkPacket{now_, what, from, p});
}

std::size_t MemoryLink::collect() {
  std::size_t n = 0;
  for (std::uint32_t i = 0; i < dirs_.size(); ++i) {
    // A loopback Peer link has one stack twice: collect it once.
    if (routing_ == Routing::Peer && i == 1 && dirs_[1].stack == dirs_[0].stack) break;
    n += dirs_[i].stack->engine().drain_tx([&](std::span<const std::byte> p) { impair(p, i); });
  }
  return n;
}

void MemoryLink::impair(std::span<const std::byte> p, std::uint32_t from) {
  Dir& d = dirs_[from];
  ++d.stats.offered;
  emit(LinkEvent::Sent, from, p);
  if (filter_ && filter_(LinkPacket{now_, LinkEvent::Sent, from, p})) {
    ++d.stats.filtered;
    emit(LinkEvent::Filtered, from, p);
    return;
  }
  if (d.m.ge_enter_bad > 0) {
    d.bad = d.bad ? !chance(d, d.m.ge_leave_bad) : chance(d, d.m.ge_enter_bad);
    if (d.bad && chance(d, d.m.ge_bad_loss)) {
      ++d.stats.lost_burst;
      emit(LinkEvent::LostBurst, from, p);
      return;
    }
  }
  if (chance(d, d.m.loss)) {
    ++d.stats.lost_random;
    emit(LinkEvent::LostRandom, from, p);
    return;
  }
  const int copies = chance(d, d.m.duplicate) ? 2 : 1;
  if (copies == 2) {
    ++d.stats.duplicated;
    emit(LinkEvent::Duplicated, from, p);
  }
  for (int i = 0; i < copies; ++i) enqueue(d, p, from);
}

void MemoryLink::enqueue(Dir& d, std::span<const std::byte> p, std::uint32_t from) {
  Instant leaves = now_;
  if (d.m.rate_bps > 0) {
    while (!d.serializing.empty() && d.serializing.front() <= now_) d.serializing.pop_front();
    if (d.m.queue_packets > 0 && d.serializing.size() >= d.m.queue_packets) {
      ++d.stats.queue_drops;
      emit(LinkEvent::QueueDrop, from, p);
      return;
    }
    const auto ns = static_cast<std::int64_t>(p.size() * 8 * std::uint64_t{1'000'000'000} / d.m.rate_bps);
    leaves = std::max(now_, d.busy_until) + Duration{ns};
    d.busy_until = leaves;
    d.serializing.push_back(leaves);
    d.stats.max_queue = std::max(d.stats.max_queue, d.serializing.size());
  } else if (d.m.queue_packets > 0 && d.in_flight >= d.m.queue_packets) {
    ++d.stats.queue_drops;
    emit(LinkEvent::QueueDrop, from, p);
    return;
  }
  Instant at = leaves + d.m.delay;
  if (chance(d, d.m.reorder)) {
    const auto lo = d.m.reorder_min.count(), hi = std::max(d.m.reorder_min, d.m.reorder_max).count();
    at += Duration{std::uniform_int_distribution<std::int64_t>(lo, hi)(d.rng)};
    ++d.stats.reordered;
    emit(LinkEvent::HeldBack, from, p);
  }
  std::uint32_t buf;
  if (free_.empty()) {
    buf = static_cast<std::uint32_t>(buffers_.size());
    buffers_.emplace_back();
  } else {
    buf = free_.back();
    free_.pop_back();
  }
  buffers_[buf].assign(p.begin(), p.end());
  queue_.push(InFlight{at, order_++, buf, from});
  ++d.in_flight;
}

void MemoryLink::deliver(const InFlight& f) {
  Dir& d = dirs_[f.from];
  --d.in_flight;
  const std::vector<std::byte>& bytes = buffers_[f.buffer];
  if (routing_ == Routing::Peer) {
    ++d.stats.delivered;
    emit(LinkEvent::Delivered, f.from, bytes);
    dirs_[f.from == 0 ? 1 : 0].stack->engine().input(bytes, now_);
  } else {
    bool routed = false;
    // The destination of either family (the version nibble says which).
    std::optional<IpAddr> dst;
    if (!bytes.empty() && (static_cast<std::uint8_t>(bytes[0]) >> 4) == 6) {
      if (auto ip6 = wire::Ipv6View::parse(bytes)) dst = ip6->dst();
    } else if (auto ip4 = wire::Ipv4View::parse(bytes)) {
      dst = IpAddr{ip4->dst()};
    }
    if (dst) {
      for (Dir& to : dirs_) {
        if (!to.stack->engine().is_local(*dst)) continue;
        if (!routed) emit(LinkEvent::Delivered, f.from, bytes);
        routed = true;
        ++d.stats.delivered;
        to.stack->engine().input(bytes, now_);
      }
    }
    if (!routed) {
      ++d.stats.unroutable;
      emit(LinkEvent::Unroutable, f.from, bytes);
    }
  }
  free_.push_back(f.buffer);
}

std::size_t MemoryLink::step() {
  std::size_t n = collect();
  // Only what was on the wire when the step began: replies go in the next step.
  const std::uint64_t bound = order_;
  while (!queue_.empty() && queue_.top().at <= now_ && queue_.top().order < bound) {
    const InFlight f = queue_.top();
    queue_.pop();
    deliver(f);
    ++n;
  }
  return n;
}

void MemoryLink::pump() {
  for (std::uint64_t rounds = 0; step() > 0; ++rounds) {
    if (rounds > kMaxStepsPerInstant) {
      stalled_ = true;
      return;
    }
  }
}

void MemoryLink::advance_all() {
  for (std::size_t i = 0; i < dirs_.size(); ++i) {
    if (routing_ == Routing::Peer && i == 1 && dirs_[1].stack == dirs_[0].stack) break;
    dirs_[i].stack->engine().advance(now_);
  }
  for (Clock& c : clocks_) c.advance(now_);
}

std::optional<Instant> MemoryLink::next_event() const {
  std::optional<Instant> next;
  for (const Dir& d : dirs_) next = earliest(next, d.stack->engine().next_timer());
  for (const Clock& c : clocks_) next = earliest(next, c.next_timer());
  if (!queue_.empty()) next = earliest(next, queue_.top().at);
  return next;
}

bool MemoryLink::run_until(const std::function<bool()>& done, Instant deadline) {
  pump();
  for (std::uint64_t guard = 0; !done() && !stalled_; ++guard) {
    if (guard > kMaxClockSteps) {
      stalled_ = true;
      break;
    }
    const std::optional<Instant> next = next_event();
    if (!next || *next > deadline) break;
    now_ = std::max(now_, *next);
    advance_all();
    pump();
  }
  return done();
}

void MemoryLink::run_until(Instant t) {
  run_until([] { return false; }, t);
  now_ = std::max(now_, t);
  advance_all();
  pump();
}

}  // namespace riptide
