// An impaired path between two Stacks on a virtual clock, for scenario tests that
// need a network worse than link.hpp's instant, lossless wire (tests/unit/scenario/
// impaired_test.cpp). Each direction has its own, independently seeded impairments,
// applied to every IPv4 packet a stack hands to drain_tx(), in this order:
//
//   1. burst loss: a Gilbert-Elliott chain, stepped once per packet. In the good
//      state nothing is lost; in the bad state a packet is lost with ge_bad_loss.
//      ge_enter_bad is P(good -> bad) per packet, ge_leave_bad is P(bad -> good), so
//      a burst lasts 1/ge_leave_bad packets on average and the long-run loss rate is
//      ge_bad_loss * ge_enter_bad / (ge_enter_bad + ge_leave_bad).
//   2. independent loss with probability `loss`.
//   3. duplication with probability `duplicate`: a second copy follows the first
//      through the rest of the path (steps 4 and 5 roll for each copy on its own).
//   4. the bottleneck: a serializer at `rate_bps` (0: infinitely fast) whose queue
//      holds at most `queue_packets` packets, counting the one being serialized
//      (0: unbounded). A packet arriving at a full queue is dropped (drop-tail). With
//      rate_bps == 0 a bound counts the packets in flight on the direction instead
//      (handed to the path and not yet delivered).
//   5. a fixed one-way propagation `delay`, and with probability `reorder` an extra
//      hold-back drawn uniformly from [reorder_min, reorder_max], so packets sent
//      after this one overtake it.
//
// Every random draw comes from a std::mt19937_64 per direction, seeded from the seed
// the test passes: a run is a pure function of (seed, profiles, what the stacks do).
//
// The driver advances both stacks' timers and the packet deliveries in time order
// (an event queue), and keeps the last few hundred packet events, decoded, as a trace
// for failure output.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <optional>
#include <queue>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "stack/stack.hpp"
#include "wire/format.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace riptide::scenario {

// One direction's impairments; the defaults are a clean, infinitely fast wire.
struct Impairment {
  double loss = 0;             // independent loss probability
  double ge_enter_bad = 0;     // Gilbert-Elliott P(good -> bad) per packet
  double ge_leave_bad = 1;     // P(bad -> good) per packet: mean burst 1/this
  double ge_bad_loss = 1;      // loss probability in the bad state
  double reorder = 0;          // probability of an extra hold-back
  Duration reorder_min = milliseconds{1};
  Duration reorder_max = milliseconds{10};
  double duplicate = 0;        // probability of a second copy
  Duration delay{};            // one-way propagation delay
  std::uint64_t rate_bps = 0;  // bottleneck rate in bits/s; 0: no serialization time
  std::size_t queue_packets = 0;  // drop-tail bound; 0: unbounded

  // A Gilbert-Elliott chain losing every packet in the bad state, with bursts of
  // `mean_burst` packets on average and a long-run loss rate of `rate`.
  static Impairment burst_loss(double rate, double mean_burst) {
    Impairment m;
    m.ge_leave_bad = 1.0 / mean_burst;
    m.ge_enter_bad = rate * m.ge_leave_bad / (1.0 - rate);
    m.ge_bad_loss = 1.0;
    return m;
  }
};

// What one direction did to the packets it was given.
struct PathStats {
  std::uint64_t offered = 0;      // packets the sending stack emitted
  std::uint64_t lost_burst = 0;   // dropped by the Gilbert-Elliott chain
  std::uint64_t lost_random = 0;  // dropped by independent loss
  std::uint64_t duplicated = 0;   // extra copies made
  std::uint64_t queue_drops = 0;  // drop-tail at the bottleneck
  std::uint64_t reordered = 0;    // copies held back
  std::uint64_t delivered = 0;    // copies handed to the receiving stack
  std::size_t max_queue = 0;      // deepest bottleneck queue seen
};

inline constexpr std::size_t kMtu = 1500;

class ImpairedLink {
 public:
  // a_to_b applies to what `a` sends, b_to_a to what `b` sends.
  ImpairedLink(Stack& a, Stack& b, Instant start, Impairment a_to_b, Impairment b_to_a,
               std::uint64_t seed, std::string a_name = "client", std::string b_name = "server")
      : now(start), a_(a), b_(b), start_(start), a_name_(std::move(a_name)), b_name_(std::move(b_name)) {
    dir_[0].m = a_to_b;
    dir_[1].m = b_to_a;
    // Two independent streams from one seed.
    std::seed_seq sa{seed, std::uint64_t{0xA11CE}}, sb{seed, std::uint64_t{0xB0B}};
    dir_[0].rng.seed(sa);
    dir_[1].rng.seed(sb);
  }

  Instant now;

  // stats(true): what a sent toward b.
  [[nodiscard]] const PathStats& stats(bool from_a) const noexcept { return dir_[from_a ? 0 : 1].stats; }

  // Runs timers and deliveries in time order until done() holds (checked after every
  // event) or the next event lies beyond `deadline`. Returns done(). A stall (no
  // event left, or only events past the deadline) returns false without waiting.
  bool run_until(const std::function<bool()>& done, Instant deadline) {
    collect();
    for (std::uint64_t guard = 0; !done(); ++guard) {
      if (guard > 50'000'000) {
        ADD_FAILURE() << "impaired link: events did not settle";
        return false;
      }
      std::optional<Instant> next = earliest(a_.next_timer(), b_.next_timer());
      if (!queue_.empty()) next = earliest(next, queue_.top().at);
      if (!next || *next > deadline) break;
      now = std::max(now, *next);
      a_.advance(now);
      b_.advance(now);
      collect();
      while (!queue_.empty() && queue_.top().at <= now) {
        const InFlight f = queue_.top();
        queue_.pop();
        Dir& d = dir_[f.from_a ? 0 : 1];
        --d.in_flight;
        ++d.stats.delivered;
        record(f.from_a, Event::Delivered, buffers_[f.buffer]);
        (f.from_a ? b_ : a_).input(buffers_[f.buffer], now);
        free_.push_back(f.buffer);
        collect();
      }
    }
    return done();
  }

  // Runs every event up to `t` (inclusive); the clock ends at t.
  void run_until(Instant t) {
    run_until([] { return false; }, t);
    now = std::max(now, t);
    a_.advance(now);
    b_.advance(now);
    collect();
  }

  // The last `last` packet events (at most the ring's size), one per line:
  // "  +12.000 ms client > server  <tcpdump line>  [what happened]".
  [[nodiscard]] std::string trace(std::size_t last = kTraceSize) const {
    std::ostringstream out;
    const std::size_t n = std::min({last, trace_.size(), kTraceSize});
    if (trace_total_ > n) out << "  ... " << (trace_total_ - n) << " earlier packet events not shown\n";
    for (std::size_t i = trace_.size() - n; i < trace_.size(); ++i) {
      const Traced& t = trace_[i];
      char ms[32];
      std::snprintf(ms, sizeof ms, "%+10.3f", static_cast<double>((t.at - start_).count()) / 1e6);
      out << ms << " ms " << (t.from_a ? a_name_ : b_name_) << " > " << (t.from_a ? b_name_ : a_name_)
          << "  " << line_of(t) << "  [" << to_string(t.what) << "]\n";
    }
    return out.str();
  }

 private:
  static constexpr std::size_t kTraceSize = 400;

  enum class Event : std::uint8_t { Sent, LostBurst, LostRandom, QueueDrop, Duplicate, Held, Delivered };
  static const char* to_string(Event e) {
    switch (e) {
      case Event::Sent: return "sent";
      case Event::LostBurst: return "lost: burst";
      case Event::LostRandom: return "lost: random";
      case Event::QueueDrop: return "dropped: queue full";
      case Event::Duplicate: return "duplicated";
      case Event::Held: return "held back";
      case Event::Delivered: return "delivered";
    }
    return "?";
  }

  struct InFlight {
    Instant at;
    std::uint64_t order = 0;  // FIFO among equal times
    std::uint32_t buffer = 0;
    bool from_a = true;
  };
  struct Later {
    bool operator()(const InFlight& x, const InFlight& y) const noexcept {
      return x.at != y.at ? x.at > y.at : x.order > y.order;
    }
  };
  struct Dir {
    Impairment m;
    std::mt19937_64 rng;
    bool bad = false;                 // Gilbert-Elliott state
    Instant busy_until{};             // the serializer is busy until then
    std::deque<Instant> serializing;  // finish times of the packets in the bottleneck
    std::size_t in_flight = 0;
    PathStats stats;
  };
  struct Traced {
    Instant at;
    bool from_a = true;
    Event what = Event::Sent;
    bool ip = false, tcp = false;
    Ipv4Addr src, dst;
    std::uint8_t protocol = 0;
    std::size_t size = 0, payload_len = 0;
    wire::TcpHeader header;
  };

  static std::optional<Instant> earliest(std::optional<Instant> x, std::optional<Instant> y) {
    if (!x) return y;
    if (!y) return x;
    return std::min(*x, *y);
  }

  bool chance(Dir& d, double p) {
    if (p <= 0) return false;
    return std::uniform_real_distribution<double>(0.0, 1.0)(d.rng) < p;
  }

  // Takes what both stacks queued and sends it down the path, a first.
  void collect() {
    a_.drain_tx([&](std::span<const std::byte> p) { impair(p, true); });
    b_.drain_tx([&](std::span<const std::byte> p) { impair(p, false); });
  }

  void impair(std::span<const std::byte> p, bool from_a) {
    Dir& d = dir_[from_a ? 0 : 1];
    ++d.stats.offered;
    // The path's MTU is 1500 (an Ethernet link): a bigger IPv4 packet would never
    // arrive on a real one, so it is a bug of the sender (e.g. SACK blocks on a
    // full-sized data segment).
    if (p.size() > kMtu) {
      ADD_FAILURE() << (from_a ? "a" : "b") << " sent a " << p.size() << "-byte IPv4 packet, above the MTU of " << kMtu;
    }
    record(from_a, Event::Sent, p);
    if (d.m.ge_enter_bad > 0) {
      d.bad = d.bad ? !chance(d, d.m.ge_leave_bad) : chance(d, d.m.ge_enter_bad);
      if (d.bad && chance(d, d.m.ge_bad_loss)) {
        ++d.stats.lost_burst;
        record(from_a, Event::LostBurst, p);
        return;
      }
    }
    if (chance(d, d.m.loss)) {
      ++d.stats.lost_random;
      record(from_a, Event::LostRandom, p);
      return;
    }
    const int copies = chance(d, d.m.duplicate) ? 2 : 1;
    if (copies == 2) {
      ++d.stats.duplicated;
      record(from_a, Event::Duplicate, p);
    }
    for (int i = 0; i < copies; ++i) enqueue(d, p, from_a);
  }

  void enqueue(Dir& d, std::span<const std::byte> p, bool from_a) {
    Instant leaves = now;
    if (d.m.rate_bps > 0) {
      while (!d.serializing.empty() && d.serializing.front() <= now) d.serializing.pop_front();
      if (d.m.queue_packets > 0 && d.serializing.size() >= d.m.queue_packets) {
        ++d.stats.queue_drops;
        record(from_a, Event::QueueDrop, p);
        return;
      }
      const auto ns = static_cast<std::int64_t>(p.size() * 8 * std::uint64_t{1'000'000'000} / d.m.rate_bps);
      leaves = std::max(now, d.busy_until) + Duration{ns};
      d.busy_until = leaves;
      d.serializing.push_back(leaves);
      d.stats.max_queue = std::max(d.stats.max_queue, d.serializing.size());
    } else if (d.m.queue_packets > 0 && d.in_flight >= d.m.queue_packets) {
      ++d.stats.queue_drops;
      record(from_a, Event::QueueDrop, p);
      return;
    }
    Instant at = leaves + d.m.delay;
    if (chance(d, d.m.reorder)) {
      const auto lo = d.m.reorder_min.count(), hi = std::max(d.m.reorder_min, d.m.reorder_max).count();
      at += Duration{std::uniform_int_distribution<std::int64_t>(lo, hi)(d.rng)};
      ++d.stats.reordered;
      record(from_a, Event::Held, p);
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
    queue_.push(InFlight{at, order_++, buf, from_a});
    ++d.in_flight;
  }

  // Decoded now, formatted only when trace() is asked for.
  void record(bool from_a, Event what, std::span<const std::byte> bytes) {
    ++trace_total_;
    Traced t;
    t.at = now;
    t.from_a = from_a;
    t.what = what;
    t.size = bytes.size();
    if (auto ip = wire::Ipv4View::parse(bytes)) {
      t.ip = true;
      t.src = ip->src();
      t.dst = ip->dst();
      t.protocol = ip->protocol();
      if (ip->protocol() == wire::kIpProtoTcp) {
        if (auto tcp = wire::TcpView::parse(ip->payload())) {
          t.tcp = true;
          t.header = wire::header_of(*tcp);
          t.payload_len = tcp->payload().size();
        }
      }
    }
    if (trace_.size() == kTraceSize * 2) trace_.erase(trace_.begin(), trace_.begin() + kTraceSize);
    trace_.push_back(t);
  }

  static std::string line_of(const Traced& t) {
    if (t.tcp) return wire::format_tcp(t.src, t.dst, t.header, t.payload_len);
    if (t.ip) {
      return riptide::to_string(t.src) + " > " + riptide::to_string(t.dst) + ": protocol " +
             std::to_string(t.protocol);
    }
    return "unparsable IPv4 packet of " + std::to_string(t.size) + " bytes";
  }

  Stack& a_;
  Stack& b_;
  Instant start_;
  std::string a_name_, b_name_;
  Dir dir_[2];
  std::priority_queue<InFlight, std::vector<InFlight>, Later> queue_;
  std::vector<std::vector<std::byte>> buffers_;
  std::vector<std::uint32_t> free_;
  std::uint64_t order_ = 0;
  std::vector<Traced> trace_;
  std::uint64_t trace_total_ = 0;
};

}  // namespace riptide::scenario
