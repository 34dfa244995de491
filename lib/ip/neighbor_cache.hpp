/// \file
/// NeighborCache: IPv6 next-hop resolution per core (RFC 4861 7.3), the IPv6
/// counterpart of the Interface's ARP cache, with the same limits (a bounded
/// number of entries and a bounded number of packets waiting, all neighbours
/// together) and the same counters' style.
///
/// States (RFC 4861 7.3.2), all five:
///   INCOMPLETE  a multicast NS went out; packets wait (bounded). RetransTimer
///               between solicitations, MAX_MULTICAST_SOLICIT of them, then the
///               entry and what waited are dropped (counted nd_unresolved).
///   REACHABLE   confirmed by a solicited NA within ReachableTime; used as is.
///   STALE       unconfirmed (an NS or unsolicited NA taught us the address, or
///               ReachableTime passed); used, and the first use moves it to DELAY.
///   DELAY       DELAY_FIRST_PROBE_TIME to let a confirmation come, then PROBE.
///   PROBE       unicast NS every RetransTimer, MAX_UNICAST_SOLICIT of them, then
///               the entry is deleted (7.3.3).
/// Upper-layer reachability confirmation (7.3.1's "hints" from TCP) is not fed in:
/// TCP does not report forward progress to the cache yet, so a busy neighbour is
/// re-probed after ReachableTime + DELAY_FIRST_PROBE_TIME, as when hints are absent.
/// STALE entries unused for `stale_lifetime` are removed (7.3.2 leaves garbage
/// collection to the implementation; Linux's gc_stale_time is 60 s).
/// ReachableTime is the configured value, not randomized (RFC 4861 6.3.2's
/// MIN/MAX_RANDOM_FACTOR): protocol code draws no random numbers here.
///
/// The cache builds nothing itself: what it wants sent (solicitations, released
/// packets) goes to an outbox the Interface drains into frames.
///
/// Thread-safety: none; on the owning core. The maps are control-path structures
/// reserved at construction; a packet waiting for resolution is copied (as the ARP
/// cache does), which allocates: the first packets to a new neighbour only.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "common/counters.hpp"
#include "common/ip_addr.hpp"
#include "common/time.hpp"
#include "ip/pmtu.hpp"  // IpAddrHash
#include "riptide/interface.hpp"  // NdConfig
#include "wire/ethernet.hpp"

namespace riptide {

// NdConfig (RFC 4861 10 constants) is public: riptide/interface.hpp.

enum class NdState : std::uint8_t { Incomplete, Reachable, Stale, Delay, Probe };
/// "INCOMPLETE", "REACHABLE", ... (RFC 4861's spelling).
[[nodiscard]] const char* to_string(NdState s) noexcept;

class NeighborCache {
 public:
  /// What the cache wants sent, drained by the Interface.
  struct Action {
    enum class Kind : std::uint8_t {
      SolicitMulticast,  ///< NS for `target` to its solicited-node group (7.2.2)
      SolicitUnicast,    ///< NS for `target` to `mac` (7.3.3 PROBE)
      Release,           ///< `packet` resolved: send it to `mac`
    };
    Kind kind{};
    IpAddr target{};
    wire::MacAddr mac{};
    std::vector<std::byte> packet;
  };

  NeighborCache(NdConfig cfg, Counters& counters);

  /// Sending to `hop` (RFC 4861 7.3.3 and 7.2.2): the MAC if the entry has one
  /// (a STALE entry moves to DELAY), else `packet` waits (an INCOMPLETE entry is
  /// made and a multicast NS queued) and nullopt is returned. A packet that finds
  /// the pending queue or the cache full is dropped (nd_pending_full).
  std::optional<wire::MacAddr> resolve(const IpAddr& hop, std::span<const std::byte> packet, Instant now);

  /// A valid NS from `src` carrying a Source Link-Layer Address (7.2.3): create or
  /// update the entry; it becomes STALE when new or when the address changed; an
  /// INCOMPLETE entry becomes STALE and releases what waited.
  void on_solicitation(const IpAddr& src, const wire::MacAddr& mac, Instant now);

  /// A valid NA (7.2.5): the table of that section, with is_router ignored (the
  /// stack keeps no Default Router List).
  void on_advertisement(const IpAddr& target, std::optional<wire::MacAddr> mac, bool solicited, bool override_flag,
                        Instant now);

  /// Timers due by `now`: retransmissions, REACHABLE -> STALE, DELAY -> PROBE,
  /// give-ups and garbage collection.
  void expire(Instant now);

  /// The earliest time expire() has work (Instant::max(): none).
  [[nodiscard]] Instant next_timer() const noexcept { return next_timer_; }

  /// The state and MAC of `ip`'s entry, if any (tests, telemetry).
  [[nodiscard]] std::optional<NdState> state(const IpAddr& ip) const;
  [[nodiscard]] std::optional<wire::MacAddr> mac(const IpAddr& ip) const;
  /// Until when a REACHABLE entry needs no check (the Interface's one-neighbour
  /// fast path is valid only until then); Instant{} otherwise.
  [[nodiscard]] Instant reachable_until(const IpAddr& ip) const;
  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] std::size_t pending() const noexcept { return pending_count_; }
  [[nodiscard]] const NdConfig& config() const noexcept { return cfg_; }

  /// Moves the queued actions out (the caller's vector is swapped in, so its
  /// capacity is reused).
  void take_actions(std::vector<Action>& out) {
    out.clear();
    out.swap(actions_);
  }
  [[nodiscard]] bool has_actions() const noexcept { return !actions_.empty(); }

 private:
  struct Entry {
    NdState state = NdState::Incomplete;
    wire::MacAddr mac{};
    Instant timer{};            ///< the state's deadline (Instant::max(): none)
    Instant last_used{};        ///< STALE garbage collection
    std::uint32_t probes = 0;   ///< solicitations sent in this state
    std::vector<std::vector<std::byte>> waiting;
  };

  void set_state(Entry& e, NdState s, Instant now);
  void release(const IpAddr& ip, Entry& e);
  void drop_waiting(Entry& e);
  void arm(Instant t) noexcept {
    if (t < next_timer_) next_timer_ = t;
  }

  NdConfig cfg_;
  Counters& counters_;
  std::unordered_map<IpAddr, Entry, IpAddrHash> entries_;
  std::vector<Action> actions_;
  std::size_t pending_count_ = 0;
  Instant next_timer_ = Instant::max();
};

}  // namespace riptide
