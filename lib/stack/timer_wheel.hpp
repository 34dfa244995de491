// TimerWheel: the per-core hierarchical timing wheel (Varghese & Lauck 1987, scheme 7)
// that holds every timer of a Stack: retransmission, delayed ACK, persist, keepalive,
// SYN-RECEIVED expiry, TIME-WAIT (DESIGN.md "Timers").
//
// Thread safety: none. A wheel belongs to one lcore and is only touched by it.
//
// Design
// - Time is handed in (DESIGN.md): advance(now) moves the wheel; nothing reads a clock.
// - Entries are intrusive (TimerEntry is embedded in its owner, a connection embeds
//   several) and live on circular doubly-linked lists, so schedule, cancel and
//   reschedule are O(1) and never allocate. Neither the wheel nor a scheduled entry
//   may move or be destroyed while linked: cancel first.
// - Ticks count from `start` in units of `tick`. An entry with deadline d is kept at
//   tick t = floor((d - start) / tick). The exact deadline is stored too, so:
//     * advance(now) fires exactly the entries whose deadline <= now (never early);
//       when advance is called at every tick boundary, an entry fires at the first
//       boundary >= its deadline, so at most one tick late;
//     * next_deadline() returns exact deadlines, and advance(next_deadline()) fires
//       that entry (the .pkt runner relies on it).
// - Levels: level l has 64 slots of 64^l ticks. An entry goes to the level of the
//   highest 6-bit group in which its tick differs from the wheel's current tick
//   (`elapsed_`), at the slot given by its own group there. So every entry of level l
//   expires before every entry of level l+1, the earliest entry is in the first
//   occupied slot of the lowest non-empty level, and when the wheel reaches the start
//   of a slot on level l > 0 its entries are re-inserted ("cascaded") into lower
//   levels. An entry cascades at most once per level it starts above 0.
// - Why 64 slots and 11 levels: 64 slots make a level's occupancy one 64-bit word, so
//   the next occupied slot is a count-trailing-zeros away and advancing across empty
//   stretches (a 2-hour jump, an idle wheel) costs O(levels), not O(ticks). 11 levels
//   of 6 bits cover 66 >= 64 bits: every representable tick has a home, so there is
//   no overflow list and no "beyond the top level" special case (with 1 ms ticks
//   levels 0..5 already span 2^36 ticks = 795 days; the upper 5 levels cost five empty
//   bitmap words and 5 KiB of list heads, and are only used by absurd deadlines).
// - The current tick's slot is special: advance(now) with now inside that tick must
//   fire only the entries whose deadline <= now. To avoid rescanning the slot on every
//   loop iteration, the first partial visit records its earliest deadline (one pass);
//   once that is due the slot is sorted by deadline (list merge sort, once per tick)
//   and later inserts into it keep it sorted; each advance then pops due entries off
//   the head. Either way a call that finds nothing due is O(1).
// - Entries scheduled at or before now() go to a `due` list that the next advance()
//   fires first. During advance() the wheel's now() moves forward tick by tick, so a
//   callback that reschedules its own entry (a periodic timer) fires again within the
//   same advance() if the new deadline is still <= the target, and an entry
//   rescheduled at or before the current time fires on the next advance(), never in a
//   loop.
#pragma once

#include <array>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>

#include "common/time.hpp"

namespace riptide {

class TimerWheel;

namespace detail {
struct TimerLink {
  TimerLink* prev = nullptr;
  TimerLink* next = nullptr;
};
}  // namespace detail

// A timer, embedded in its owner. The owner sets `owner` and `kind` to find its way
// back from the callback; the wheel never reads or writes them. Not copyable: a
// scheduled entry is linked into the wheel by address.
struct TimerEntry : private detail::TimerLink {
  void* owner = nullptr;   // set by the owner, untouched by the wheel
  std::uint16_t kind = 0;  // set by the owner, untouched by the wheel

  TimerEntry() = default;
  TimerEntry(const TimerEntry&) = delete;
  TimerEntry& operator=(const TimerEntry&) = delete;

 private:
  friend class TimerWheel;
  std::uint16_t where_ = 0;     // TimerWheel::kIdle, kDue, kFiring or kSlotBase + slot
  std::int64_t deadline_ns_ = 0;  // exact deadline, ns since the clock's epoch
};

class TimerWheel {
 public:
  static constexpr unsigned kSlotBits = 6;
  static constexpr unsigned kSlots = 1u << kSlotBits;
  static constexpr unsigned kLevels = 11;  // 11 * 6 = 66 >= 64 tick bits (see top)

  explicit TimerWheel(Duration tick = std::chrono::milliseconds{1},
                      Instant start = Instant{}) noexcept
      : tick_ns_{tick.count() > 0 ? static_cast<std::uint64_t>(tick.count()) : 1u},
        recip_{~std::uint64_t{0} / tick_ns_},
        start_ns_{start.time_since_epoch().count()},
        now_{start} {
    assert(tick.count() > 0);
    for (auto& head : slots_) init_head(head);
    init_head(due_);
    init_head(firing_);
  }
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // (Re)schedules `e` for `deadline`. A deadline at or before now() fires on the next
  // advance(). O(1).
  void schedule(TimerEntry& e, Instant deadline) noexcept {
    if (e.where_ != kIdle) unlink(e);
    e.deadline_ns_ = deadline.time_since_epoch().count();
    ++size_;
    if (deadline <= now_) {
      push_back(due_, e);
      e.where_ = kDue;
      return;
    }
    link_wheel(e, tick_of(e.deadline_ns_));
  }

  // Unschedules `e`; a no-op if it is not scheduled. O(1).
  void cancel(TimerEntry& e) noexcept {
    if (e.where_ != kIdle) unlink(e);
  }

  [[nodiscard]] bool is_scheduled(const TimerEntry& e) const noexcept {
    return e.where_ != kIdle;
  }
  // The exact deadline last passed to schedule().
  [[nodiscard]] Instant deadline(const TimerEntry& e) const noexcept {
    return Instant{Duration{e.deadline_ns_}};
  }

  // Fires every entry whose deadline <= now, in non-decreasing deadline-tick order,
  // calling on_expire(TimerEntry&) for each after unlinking it. The callback may
  // schedule or cancel any entry (including the firing one and others due in this
  // call) but must not call advance(). Time never goes back: now < now() acts as
  // now(). Returns the number of entries fired.
  template <class F>
  std::size_t advance(Instant now, F&& on_expire) {
    assert(!in_advance_ && "TimerWheel::advance is not reentrant");
    in_advance_ = true;
    if (now < now_) now = now_;
    std::size_t fired = 0;
    // Scheduled at or before the previous now(): due before anything on the wheel.
    if (due_.next != &due_) {
      move_to_firing(due_);
      fired += drain_firing(on_expire);
    }
    const std::int64_t now_ns = now.time_since_epoch().count();
    const std::uint64_t target = tick_of(now_ns);
    for (;;) {
      const NextSlot n = next_slot();
      if (!n.found || n.start > target) break;
      elapsed_ = n.start;
      if (n.level != 0) {
        cascade(n.index);
        continue;
      }
      if (n.start < target) {
        // A whole tick that has passed: everything in it is due.
        now_ = at_tick(n.start + 1);
        move_to_firing(slots_[n.index]);
        occupied_[0] &= ~(std::uint64_t{1} << (n.index % kSlots));
        fired += drain_firing(on_expire);
        continue;
      }
      // The tick `now` is in: only deadlines <= now are due. The first visit finds the
      // slot's earliest deadline; the slot is sorted (once) only when something is due.
      now_ = now;
      detail::TimerLink& head = slots_[n.index];
      if (sorted_tick_ != n.start) {
        if (scanned_tick_ != n.start) {
          scanned_min_ns_ = std::numeric_limits<std::int64_t>::max();
          min_deadline(head, scanned_min_ns_);
          scanned_tick_ = n.start;
        }
        if (scanned_min_ns_ > now_ns) break;
        sort_list(head);
        sorted_tick_ = n.start;
      }
      while (head.next != &head && entry(head.next).deadline_ns_ <= now_ns) {
        TimerEntry& e = entry(head.next);
        unlink(e);
        ++fired;
        on_expire(e);
      }
      break;
    }
    if (elapsed_ < target) elapsed_ = target;
    now_ = now;
    in_advance_ = false;
    return fired;
  }

  // The earliest exact deadline among scheduled entries. Scans at most one slot (plus
  // the due list): cheap, but not meant for every loop iteration of a busy core.
  [[nodiscard]] std::optional<Instant> next_deadline() const noexcept {
    if (size_ == 0) return std::nullopt;
    std::int64_t best = std::numeric_limits<std::int64_t>::max();
    bool any = min_deadline(due_, best);
    any = min_deadline(firing_, best) || any;
    if (!any) {
      // Everything on the wheel is later than anything due; only look there if needed.
      const NextSlot n = next_slot();
      if (n.found) {
        const detail::TimerLink& head = slots_[n.index];
        if (n.level == 0 && n.start == sorted_tick_) {
          best = entry(head.next).deadline_ns_;
          any = true;
        } else {
          any = min_deadline(head, best);
        }
      }
    }
    if (!any) return std::nullopt;
    return Instant{Duration{best}};
  }

  // The scheduled entry next_deadline() reports (one of them on a tie), or null.
  // Same cost as next_deadline(). For owners that keep some deadlines lazily and
  // must move a stale entry before reporting when the next timer is (Stack).
  [[nodiscard]] TimerEntry* earliest() noexcept {
    if (size_ == 0) return nullptr;
    std::int64_t best = std::numeric_limits<std::int64_t>::max();
    TimerEntry* e = min_entry(due_, best);
    if (TimerEntry* f = min_entry(firing_, best)) e = f;
    if (e == nullptr) {
      const NextSlot n = next_slot();
      if (n.found) {
        Link& head = slots_[n.index];
        e = n.level == 0 && n.start == sorted_tick_ ? &entry(head.next) : min_entry(head, best);
      }
    }
    return e;
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  // The wheel's current time: the last advance() target (moving forward tick by tick
  // while advance() runs callbacks).
  [[nodiscard]] Instant now() const noexcept { return now_; }
  [[nodiscard]] Duration tick() const noexcept {
    return Duration{static_cast<Duration::rep>(tick_ns_)};
  }

 private:
  using Link = detail::TimerLink;
  static constexpr std::uint16_t kIdle = 0;
  static constexpr std::uint16_t kDue = 1;
  static constexpr std::uint16_t kFiring = 2;
  static constexpr std::uint16_t kSlotBase = 3;
  static_assert(kSlotBase + kLevels * kSlots <= std::numeric_limits<std::uint16_t>::max());

  struct NextSlot {
    std::uint64_t start = 0;  // first tick of the slot
    unsigned index = 0;       // into slots_
    unsigned level = 0;
    bool found = false;
  };

  static TimerEntry& entry(Link* l) noexcept { return static_cast<TimerEntry&>(*l); }
  static const TimerEntry& entry(const Link* l) noexcept {
    return static_cast<const TimerEntry&>(*l);
  }
  static void init_head(Link& h) noexcept { h.prev = h.next = &h; }
  static void insert_after(Link* pos, Link& l) noexcept {
    l.prev = pos;
    l.next = pos->next;
    pos->next->prev = &l;
    pos->next = &l;
  }
  static void push_back(Link& head, TimerEntry& e) noexcept { insert_after(head.prev, e); }

  // floor(x / tick) with a precomputed reciprocal: recip_ = floor((2^64-1)/tick)
  // underestimates by at most one, fixed by one compare (no 64-bit divide).
  [[nodiscard]] std::uint64_t div_tick(std::uint64_t x) const noexcept {
    __extension__ using U128 = unsigned __int128;
    auto q = static_cast<std::uint64_t>((static_cast<U128>(x) * recip_) >> 64);
    if (x - q * tick_ns_ >= tick_ns_) ++q;
    return q;
  }
  [[nodiscard]] std::uint64_t tick_of(std::int64_t t_ns) const noexcept {
    if (t_ns <= start_ns_) return 0;
    return div_tick(static_cast<std::uint64_t>(t_ns) - static_cast<std::uint64_t>(start_ns_));
  }
  [[nodiscard]] Instant at_tick(std::uint64_t t) const noexcept {
    return Instant{Duration{start_ns_ + static_cast<std::int64_t>(t * tick_ns_)}};
  }

  [[nodiscard]] std::uint64_t slot_start(unsigned level, unsigned slot) const noexcept {
    const unsigned above = (level + 1) * kSlotBits;
    const std::uint64_t high = above >= 64 ? 0 : (elapsed_ >> above) << above;
    return high | (std::uint64_t{slot} << (level * kSlotBits));
  }

  void link_wheel(TimerEntry& e, std::uint64_t t) noexcept {
    assert(t >= elapsed_);
    const std::uint64_t diff = (t ^ elapsed_) | (kSlots - 1);
    const unsigned level = (63u - static_cast<unsigned>(std::countl_zero(diff))) / kSlotBits;
    const unsigned slot = static_cast<unsigned>(t >> (level * kSlotBits)) & (kSlots - 1);
    const unsigned index = level * kSlots + slot;
    Link& head = slots_[index];
    if (level == 0 && t == sorted_tick_) {
      Link* pos = head.prev;  // keep the current tick sorted; new deadlines are usually last
      while (pos != &head && entry(pos).deadline_ns_ > e.deadline_ns_) pos = pos->prev;
      insert_after(pos, e);
    } else {
      push_back(head, e);
      if (level == 0 && t == scanned_tick_ && e.deadline_ns_ < scanned_min_ns_) {
        scanned_min_ns_ = e.deadline_ns_;
      }
    }
    occupied_[level] |= std::uint64_t{1} << slot;
    e.where_ = static_cast<std::uint16_t>(kSlotBase + index);
  }

  void unlink(TimerEntry& e) noexcept {
    Link& l = e;
    l.prev->next = l.next;
    l.next->prev = l.prev;
    if (e.where_ >= kSlotBase) {
      const unsigned index = e.where_ - kSlotBase;
      const Link& head = slots_[index];
      if (head.next == &head) occupied_[index / kSlots] &= ~(std::uint64_t{1} << (index % kSlots));
    }
    l.prev = l.next = nullptr;
    e.where_ = kIdle;
    --size_;
  }

  [[nodiscard]] NextSlot next_slot() const noexcept {
    for (unsigned level = 0; level < kLevels; ++level) {
      const std::uint64_t bits = occupied_[level];
      if (bits == 0) continue;
      const unsigned pos = static_cast<unsigned>(elapsed_ >> (level * kSlotBits)) & (kSlots - 1);
      const std::uint64_t ahead = bits & (~std::uint64_t{0} << pos);
      assert(ahead == bits && "an occupied slot fell behind the wheel");
      const auto slot = static_cast<unsigned>(std::countr_zero(ahead));
      return NextSlot{slot_start(level, slot), level * kSlots + slot, level, true};
    }
    return NextSlot{};
  }

  // Appends all of `from` to the firing list, marking each entry as firing.
  void move_to_firing(Link& from) noexcept {
    for (Link* p = from.next; p != &from; p = p->next) entry(p).where_ = kFiring;
    if (from.next == &from) return;
    Link* first = from.next;
    Link* last = from.prev;
    Link* tail = firing_.prev;
    tail->next = first;
    first->prev = tail;
    last->next = &firing_;
    firing_.prev = last;
    init_head(from);
  }

  template <class F>
  std::size_t drain_firing(F& on_expire) {
    std::size_t fired = 0;
    while (firing_.next != &firing_) {
      TimerEntry& e = entry(firing_.next);
      unlink(e);
      ++fired;
      on_expire(e);
    }
    return fired;
  }

  // Re-inserts the entries of a slot above level 0 relative to elapsed_ (its start).
  void cascade(unsigned index) noexcept {
    Link& head = slots_[index];
    occupied_[index / kSlots] &= ~(std::uint64_t{1} << (index % kSlots));
    Link* p = head.next;
    init_head(head);
    while (p != &head) {
      Link* next = p->next;
      TimerEntry& e = entry(p);
      link_wheel(e, tick_of(e.deadline_ns_));
      p = next;
    }
  }

  // The entry of `head`'s list with the smallest deadline below `best` (the first
  // one on a tie), updating `best`; null when none is below it.
  static TimerEntry* min_entry(Link& head, std::int64_t& best) noexcept {
    TimerEntry* found = nullptr;
    for (Link* p = head.next; p != &head; p = p->next) {
      if (entry(p).deadline_ns_ < best) {
        best = entry(p).deadline_ns_;
        found = &entry(p);
      }
    }
    return found;
  }

  static bool min_deadline(const Link& head, std::int64_t& best) noexcept {
    bool any = false;
    for (const Link* p = head.next; p != &head; p = p->next) {
      any = true;
      if (entry(p).deadline_ns_ < best) best = entry(p).deadline_ns_;
    }
    return any;
  }

  // Merges two null-terminated lists sorted by deadline (prev links not maintained).
  static Link* merge(Link* a, Link* b) noexcept {
    Link dummy;
    Link* tail = &dummy;
    while (a != nullptr && b != nullptr) {
      if (entry(b).deadline_ns_ < entry(a).deadline_ns_) {
        tail->next = b;
        b = b->next;
      } else {
        tail->next = a;
        a = a->next;
      }
      tail = tail->next;
    }
    tail->next = a != nullptr ? a : b;
    return dummy.next;
  }

  // Sorts a circular list by deadline: bottom-up merge sort with 64 bins, no recursion
  // and no allocation; O(n log n), done at most once per tick.
  static void sort_list(Link& head) noexcept {
    if (head.next == head.prev) return;  // 0 or 1 entries
    head.prev->next = nullptr;
    Link* rest = head.next;
    std::array<Link*, 64> bins{};
    while (rest != nullptr) {
      Link* run = rest;
      rest = rest->next;
      run->next = nullptr;
      std::size_t i = 0;
      for (; i + 1 < bins.size() && bins[i] != nullptr; ++i) {
        run = merge(bins[i], run);
        bins[i] = nullptr;
      }
      bins[i] = bins[i] != nullptr ? merge(bins[i], run) : run;
    }
    Link* sorted = nullptr;
    for (Link* bin : bins) {
      if (bin != nullptr) sorted = merge(bin, sorted);
    }
    Link* prev = &head;
    for (Link* p = sorted; p != nullptr; p = p->next) {
      p->prev = prev;
      prev->next = p;
      prev = p;
    }
    prev->next = &head;
    head.prev = prev;
  }

  std::uint64_t tick_ns_;
  std::uint64_t recip_;
  std::int64_t start_ns_;
  Instant now_;
  std::uint64_t elapsed_ = 0;  // current tick: every slot before it has been processed
  std::uint64_t sorted_tick_ = ~std::uint64_t{0};  // tick whose level-0 slot is sorted
  std::uint64_t scanned_tick_ = ~std::uint64_t{0};  // tick whose earliest deadline is known:
  std::int64_t scanned_min_ns_ = 0;  // a lower bound (cancels leave it stale, harmlessly)
  std::size_t size_ = 0;
  bool in_advance_ = false;
  std::array<std::uint64_t, kLevels> occupied_{};
  Link due_;
  Link firing_;
  std::array<Link, kLevels * kSlots> slots_;
};

}  // namespace riptide
