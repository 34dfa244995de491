/// \file
/// <riptide/memory_link.hpp>: MemoryLink, Stacks joined by an in-memory network on a virtual clock: the host of
/// the embedded API (input / advance / drain_tx) that the scenario tests,
/// riptide-trace and the proxy's tests share, and that an embedder can use to test
/// its own handlers without a NIC.
///
/// What one stack hands to drain_tx() travels to the stack it is for:
///   - two stacks (or one stack twice: a loopback, for self-connect): to the other;
///   - `Routing::ByAddress`: to every attached stack for which is_local(destination)
///     holds, IPv4 or IPv6 (none: counted as `unroutable`).
///
/// On its way each packet meets the impairments of its sender's direction, in this
/// order (the defaults are a clean, infinitely fast wire: every packet arrives at
/// the instant it was sent):
///   1. the filter (set_filter): a test's own choice of packets to lose;
///   2. burst loss: a Gilbert-Elliott chain stepped once per packet; in the bad state
///      a packet is lost with `ge_bad_loss`; `ge_enter_bad` is P(good -> bad) per
///      packet, `ge_leave_bad` P(bad -> good), so a burst lasts 1/ge_leave_bad packets
///      on average and the long-run loss rate is
///      ge_bad_loss * ge_enter_bad / (ge_enter_bad + ge_leave_bad);
///   3. independent loss with probability `loss`;
///   4. duplication with probability `duplicate` (the copy takes steps 5 and 6 on
///      its own);
///   5. the bottleneck: a serializer at `rate_bps` (0: infinitely fast) whose queue
///      holds at most `queue_packets` packets, the one being serialized included
///      (0: unbounded); a packet arriving at a full queue is dropped (drop-tail).
///      With rate_bps == 0 a bound counts the packets in flight on the direction;
///   6. a fixed one-way `delay`, and with probability `reorder` an extra hold-back
///      drawn uniformly from [reorder_min, reorder_max], so later packets overtake it.
/// Every random draw comes from one std::mt19937_64 per direction seeded from the
/// link's seed: a run is a pure function of (seed, impairments, what the stacks do).
///
/// Time moves in steps: step() collects what every stack has queued and delivers
/// what is due, as one batch (packets sent in reply during the batch wait for the
/// next step, as on a wire); run_until() runs timers and deliveries in time order.
///
/// Thread-safety: none; the link and its stacks belong to one thread. Packet views
/// handed to the observer and the filter live until they return.
/// Ownership: the link holds the Stacks by reference (not owned): they must outlive
/// it. It owns the packets in flight (copies of what drain_tx() gave it).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <queue>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "riptide/time.hpp"
#include "riptide/stack.hpp"

namespace riptide {

/// One direction's impairments; the defaults are a clean, infinitely fast wire.
struct Impairment {
  double loss = 0;             ///< independent loss probability
  double ge_enter_bad = 0;     ///< Gilbert-Elliott P(good -> bad) per packet
  double ge_leave_bad = 1;     ///< P(bad -> good) per packet: mean burst 1/this
  double ge_bad_loss = 1;      ///< loss probability in the bad state
  double reorder = 0;          ///< probability of an extra hold-back
  Duration reorder_min = milliseconds{1};
  Duration reorder_max = milliseconds{10};
  double duplicate = 0;        ///< probability of a second copy
  Duration delay{};            ///< one-way propagation delay
  std::uint64_t rate_bps = 0;  ///< bottleneck rate in bits/s; 0: no serialization time
  std::size_t queue_packets = 0;  ///< drop-tail bound; 0: unbounded

  /// A Gilbert-Elliott chain losing every packet in the bad state, with bursts of
  /// `mean_burst` packets on average and a long-run loss rate of `rate` (< 1).
  static Impairment burst_loss(double rate, double mean_burst);
};

/// What one direction (one sender) did to the packets it was given.
struct LinkStats {
  std::uint64_t offered = 0;      ///< packets the sending stack emitted
  std::uint64_t filtered = 0;     ///< dropped by the filter
  std::uint64_t lost_burst = 0;   ///< dropped by the Gilbert-Elliott chain
  std::uint64_t lost_random = 0;  ///< dropped by independent loss
  std::uint64_t duplicated = 0;   ///< extra copies made
  std::uint64_t queue_drops = 0;  ///< drop-tail at the bottleneck
  std::uint64_t reordered = 0;    ///< copies held back
  std::uint64_t unroutable = 0;   ///< no attached stack owns the destination
  std::uint64_t delivered = 0;    ///< copies handed to a receiving stack
  std::size_t max_queue = 0;      ///< deepest bottleneck queue seen
};

/// What happened to a packet, as the observer hears it.
enum class LinkEvent : std::uint8_t {
  Sent,        ///< taken from the sender's transmit queue (always first)
  Filtered,    ///< lost: the filter chose it
  LostBurst,   ///< lost: Gilbert-Elliott bad state
  LostRandom,  ///< lost: independent loss
  Duplicated,  ///< a second copy was made (both copies go on)
  QueueDrop,   ///< lost: the bottleneck queue was full
  HeldBack,    ///< this copy was delayed so that later packets overtake it
  Unroutable,  ///< lost: no attached stack owns the destination
  Delivered,   ///< handed to the receiving stack's input()
};
[[nodiscard]] const char* to_string(LinkEvent e) noexcept;

/// One packet event, as the observer and the filter see it.
struct LinkPacket {
  Instant at;
  LinkEvent what = LinkEvent::Sent;
  std::size_t from = 0;  ///< index of the sending stack (attach order; 0 = a, 1 = b)
  std::span<const std::byte> bytes;  ///< the IP packet (IPv4 or IPv6); valid during the call only
};

class MemoryLink {
 public:
  enum class Routing : std::uint8_t { Peer, ByAddress };
  using Observer = std::function<void(const LinkPacket&)>;
  using Filter = std::function<bool(const LinkPacket&)>;  ///< true: the packet is lost

  /// Two stacks (`a` and `b` may be the same stack: a loopback), each direction with
  /// its own impairments (a_to_b applies to what `a` sends).
  MemoryLink(Stack& a, Stack& b, Instant start, Impairment a_to_b = {}, Impairment b_to_a = {},
             std::uint64_t seed = 1);
  /// Any number of stacks, attached with attach(), routed by destination address.
  MemoryLink(Instant start, std::uint64_t seed = 1);

  MemoryLink(const MemoryLink&) = delete;
  MemoryLink& operator=(const MemoryLink&) = delete;

  /// Adds a stack (Routing::ByAddress links only) with the impairments of what it
  /// sends; returns its index.
  std::size_t attach(Stack& s, Impairment out = {});
  /// Something else with timers on the same clock (e.g. an application's own poll):
  /// run_until() takes its next deadline into account and calls `advance(now)` after
  /// the stacks' advance() at every step of the clock.
  void add_clock(std::function<std::optional<Instant>()> next_timer, std::function<void(Instant)> advance);

  void set_observer(Observer o) { observer_ = std::move(o); }
  void set_filter(Filter f) { filter_ = std::move(f); }

  /// The virtual clock: the time of the last step.
  [[nodiscard]] Instant now() const noexcept { return now_; }
  [[nodiscard]] const LinkStats& stats(std::size_t from) const { return dirs_.at(from).stats; }
  /// Packets on the wire (sent, not yet delivered or lost).
  [[nodiscard]] std::size_t in_flight() const noexcept { return queue_.size(); }
  /// Set when pump() or run_until() gave up because the network did not go quiet
  /// (an endless exchange at one instant): a bug of the stacks, for tests to report.
  [[nodiscard]] bool stalled() const noexcept { return stalled_; }

  /// Collects what every stack has queued, then delivers every packet due by now()
  /// that was on the wire before this call (replies wait for the next step).
  /// Returns the number of packets collected plus delivered.
  std::size_t step();
  /// Steps until nothing is collected or due at now().
  void pump();
  /// Runs the stacks' timers (and the added clocks) and the deliveries in time order
  /// until done() holds (checked after every step) or the next event lies beyond
  /// `deadline`. The clock stops at the last event run: a stall returns false
  /// without waiting. Returns done().
  bool run_until(const std::function<bool()>& done, Instant deadline);
  /// Runs every event up to `t` (inclusive); the clock ends at t.
  void run_until(Instant t);
  void run_for(Duration d) { run_until(now_ + d); }
  /// The earliest timer or delivery, if any.
  [[nodiscard]] std::optional<Instant> next_event() const;

 private:
  struct InFlight {
    Instant at;
    std::uint64_t order = 0;  // FIFO among equal times
    std::uint32_t buffer = 0;
    std::uint32_t from = 0;
  };
  struct Later {
    bool operator()(const InFlight& x, const InFlight& y) const noexcept {
      return x.at != y.at ? x.at > y.at : x.order > y.order;
    }
  };
  struct Dir {
    Stack* stack = nullptr;
    Impairment m;
    std::mt19937_64 rng;
    bool bad = false;                 // Gilbert-Elliott state
    Instant busy_until{};             // the serializer is busy until then
    std::deque<Instant> serializing;  // finish times of the packets in the bottleneck
    std::size_t in_flight = 0;
    LinkStats stats;
  };
  struct Clock {
    std::function<std::optional<Instant>()> next_timer;
    std::function<void(Instant)> advance;
  };

  void seed_direction(std::size_t i);
  std::size_t collect();
  void impair(std::span<const std::byte> p, std::uint32_t from);
  void enqueue(Dir& d, std::span<const std::byte> p, std::uint32_t from);
  void deliver(const InFlight& f);
  void advance_all();
  void emit(LinkEvent what, std::uint32_t from, std::span<const std::byte> p);
  bool chance(Dir& d, double p);

  Routing routing_;
  std::uint64_t seed_;
  Instant now_;
  std::vector<Dir> dirs_;
  std::vector<Clock> clocks_;
  Observer observer_;
  Filter filter_;
  std::priority_queue<InFlight, std::vector<InFlight>, Later> queue_;
  std::vector<std::vector<std::byte>> buffers_;
  std::vector<std::uint32_t> free_;
  std::uint64_t order_ = 0;
  bool stalled_ = false;
};

}  // namespace riptide
