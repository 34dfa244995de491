#include "ip/neighbor_cache.hpp"

#include <algorithm>

namespace riptide {

const char* to_string(NdState s) noexcept {
  switch (s) {
    case NdState::Incomplete: return "INCOMPLETE";
    case NdState::Reachable: return "REACHABLE";
    case NdState::Stale: return "STALE";
    case NdState::Delay: return "DELAY";
    case NdState::Probe: return "PROBE";
  }
  return "?";
}

NeighborCache::NeighborCache(NdConfig cfg, Counters& counters) : cfg_(cfg), counters_(counters) {
  entries_.reserve(cfg_.cache_size);
}

// Every state change goes through here, with the state's timer (RFC 4861 7.3.2).
void NeighborCache::set_state(Entry& e, NdState s, Instant now) {
  e.state = s;
  e.probes = 0;
  switch (s) {
    case NdState::Incomplete:
    case NdState::Probe:
      e.timer = now + cfg_.retrans_timer;  // RetransTimer between solicitations
      break;
    case NdState::Reachable:
      // DEVIATION(RFC 4861 6.3.2): ReachableTime is the configured value, not
      // randomized between 0.5 and 1.5 times it: protocol code draws no randoms.
      e.timer = now + cfg_.reachable_time;  // ReachableTime, then STALE
      break;
    case NdState::Delay:
      e.timer = now + cfg_.delay_first_probe;  // DELAY_FIRST_PROBE_TIME, then PROBE
      break;
    case NdState::Stale:
      e.timer = now + cfg_.stale_lifetime;  // garbage collection if unused
      break;
  }
  e.last_used = now;
  arm(e.timer);
}

void NeighborCache::release(const IpAddr& ip, Entry& e) {
  for (auto& pkt : e.waiting) {
    actions_.push_back(Action{Action::Kind::Release, ip, e.mac, std::move(pkt)});
  }
  pending_count_ -= e.waiting.size();
  e.waiting.clear();
}

void NeighborCache::drop_waiting(Entry& e) {
  counters_.inc(Counter::nd_unresolved, e.waiting.size());
  pending_count_ -= e.waiting.size();
  e.waiting.clear();
}

std::optional<wire::MacAddr> NeighborCache::resolve(const IpAddr& hop, std::span<const std::byte> packet,
                                                    Instant now) {
  auto it = entries_.find(hop);
  if (it != entries_.end() && it->second.state != NdState::Incomplete) {
    Entry& e = it->second;
    e.last_used = now;
    if (e.state == NdState::Reachable && now >= e.timer) set_state(e, NdState::Stale, now);
    // RFC 4861 7.3.3: "The first time a node sends a packet to a neighbor whose
    // entry is STALE, the sender changes the state to DELAY".
    if (e.state == NdState::Stale) set_state(e, NdState::Delay, now);
    return e.mac;
  }
  // RFC 4861 7.2.2: queue the packet, bounded (the ARP cache's limit, per core).
  if (pending_count_ >= cfg_.pending_packets) {
    counters_.inc(Counter::nd_pending_full);
    return std::nullopt;
  }
  if (it == entries_.end()) {
    if (entries_.size() >= cfg_.cache_size) {
      counters_.inc(Counter::nd_pending_full);
      return std::nullopt;
    }
    it = entries_.emplace(hop, Entry{}).first;
    Entry& e = it->second;
    // RFC 4861 7.2.2: create an INCOMPLETE entry and send a multicast NS.
    set_state(e, NdState::Incomplete, now);
    e.probes = 1;
    actions_.push_back(Action{Action::Kind::SolicitMulticast, hop, {}, {}});
    counters_.inc(Counter::nd_ns_out);
  }
  it->second.waiting.emplace_back(packet.begin(), packet.end());
  ++pending_count_;
  return std::nullopt;
}

void NeighborCache::on_solicitation(const IpAddr& src, const wire::MacAddr& mac, Instant now) {
  // RFC 4861 7.2.3: "If the Source Address is not the unspecified address and
  // ... the solicitation includes a Source Link-Layer Address option, then the
  // recipient SHOULD create or update the Neighbor Cache entry".
  auto it = entries_.find(src);
  if (it == entries_.end()) {
    if (entries_.size() >= cfg_.cache_size) return;  // full: learn on demand only
    Entry& e = entries_.emplace(src, Entry{}).first->second;
    e.mac = mac;
    set_state(e, NdState::Stale, now);  // "a new entry ... its reachability state MUST be set to STALE"
    return;
  }
  Entry& e = it->second;
  if (e.state == NdState::Incomplete) {
    // 7.2.3 with 7.3.3: the address is now known, unconfirmed; what waited goes.
    e.mac = mac;
    set_state(e, NdState::Stale, now);
    release(src, e);
    return;
  }
  if (e.mac != mac) {
    // "If an entry already exists, and the cached link-layer address differs from
    // the one in the received Source Link-Layer option, the cached address should
    // be replaced by the received address, and the entry's reachability state MUST
    // be set to STALE."
    e.mac = mac;
    set_state(e, NdState::Stale, now);
  }
}

void NeighborCache::on_advertisement(const IpAddr& target, std::optional<wire::MacAddr> mac, bool solicited,
                                     bool override_flag, Instant now) {
  // RFC 4861 7.2.5: "If no entry exists, the advertisement SHOULD be silently
  // discarded."
  auto it = entries_.find(target);
  if (it == entries_.end()) {
    counters_.inc(Counter::nd_na_no_entry);
    return;
  }
  Entry& e = it->second;
  if (e.state == NdState::Incomplete) {
    // "If the advertisement's ... link-layer address option is not present, the
    // advertisement SHOULD be silently discarded" (INCOMPLETE: nothing to learn).
    if (!mac) {
      counters_.inc(Counter::nd_na_no_entry);
      return;
    }
    // "record the link-layer address ... If the advertisement's Solicited flag is
    // set, the state of the entry is set to REACHABLE; otherwise, it is set to
    // STALE." Then queued packets go (7.2.2).
    e.mac = *mac;
    set_state(e, solicited ? NdState::Reachable : NdState::Stale, now);
    release(target, e);
    return;
  }
  const bool differs = mac && *mac != e.mac;
  if (!override_flag && differs) {
    // "If the Override flag is clear and the supplied link-layer address differs
    // from that in the cache, then ... a) If the state of the entry is REACHABLE,
    // set it to STALE ... b) Otherwise, the received advertisement should be
    // ignored".
    if (e.state == NdState::Reachable) set_state(e, NdState::Stale, now);
    return;
  }
  // "If the Override flag is set, or the supplied link-layer address is the same
  // as that in the cache, or no Target Link-Layer Address option was supplied":
  // record the address if given; Solicited -> REACHABLE; else, if the address
  // changed, STALE; else no change.
  if (mac) e.mac = *mac;
  if (solicited) {
    set_state(e, NdState::Reachable, now);
  } else if (differs) {
    set_state(e, NdState::Stale, now);
  }
}

void NeighborCache::expire(Instant now) {
  if (now < next_timer_) return;
  next_timer_ = Instant::max();
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    if (now < e.timer) {
      arm(e.timer);
      ++it;
      continue;
    }
    bool erase = false;
    switch (e.state) {
      case NdState::Incomplete:
        // RFC 4861 7.2.2: retransmit every RetransTimer, at most
        // MAX_MULTICAST_SOLICIT in all; then the entry goes and what waited is
        // dropped (an ICMPv6 Address Unreachable would go to a forwarded packet's
        // source; these are our own, so they are counted instead).
        if (e.probes < cfg_.max_multicast_solicit) {
          ++e.probes;
          e.timer = now + cfg_.retrans_timer;
          actions_.push_back(Action{Action::Kind::SolicitMulticast, it->first, {}, {}});
          counters_.inc(Counter::nd_ns_out);
        } else {
          drop_waiting(e);
          erase = true;
        }
        break;
      case NdState::Reachable:
        // 7.3.3: "When ReachableTime milliseconds have passed since receipt of
        // the last reachability confirmation ... the state changes to STALE."
        set_state(e, NdState::Stale, now);
        break;
      case NdState::Delay:
        // 7.3.3: no confirmation in DELAY_FIRST_PROBE_TIME: PROBE, a unicast NS.
        set_state(e, NdState::Probe, now);
        e.probes = 1;
        actions_.push_back(Action{Action::Kind::SolicitUnicast, it->first, e.mac, {}});
        counters_.inc(Counter::nd_ns_out);
        break;
      case NdState::Probe:
        // 7.3.3: retransmit every RetransTimer up to MAX_UNICAST_SOLICIT, then
        // delete the entry.
        if (e.probes < cfg_.max_unicast_solicit) {
          ++e.probes;
          e.timer = now + cfg_.retrans_timer;
          actions_.push_back(Action{Action::Kind::SolicitUnicast, it->first, e.mac, {}});
          counters_.inc(Counter::nd_ns_out);
        } else {
          counters_.inc(Counter::nd_probe_failed);
          erase = true;
        }
        break;
      case NdState::Stale:
        // Unused for stale_lifetime: garbage collected (7.3.2 leaves this open).
        erase = true;
        break;
    }
    if (erase) {
      it = entries_.erase(it);
    } else {
      arm(e.timer);
      ++it;
    }
  }
}

std::optional<NdState> NeighborCache::state(const IpAddr& ip) const {
  auto it = entries_.find(ip);
  if (it == entries_.end()) return std::nullopt;
  return it->second.state;
}

std::optional<wire::MacAddr> NeighborCache::mac(const IpAddr& ip) const {
  auto it = entries_.find(ip);
  if (it == entries_.end() || it->second.state == NdState::Incomplete) return std::nullopt;
  return it->second.mac;
}

Instant NeighborCache::reachable_until(const IpAddr& ip) const {
  auto it = entries_.find(ip);
  if (it == entries_.end() || it->second.state != NdState::Reachable) return Instant{};
  return it->second.timer;
}

}  // namespace riptide
