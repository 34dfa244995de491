#include "ip/pmtu.hpp"

#include <algorithm>

namespace riptide {

PmtuCache::PmtuCache(PmtuConfig cfg) : cfg_(cfg) { entries_.reserve(cfg_.entries); }

PmtuCache::Update PmtuCache::on_packet_too_big(const IpAddr& dst, std::uint32_t mtu, std::uint32_t link_mtu,
                                               Instant now) {
  // RFC 8201 4: "If a node receives a Packet Too Big message reporting a next-hop
  // MTU that is less than the IPv6 minimum link MTU, it MUST discard it."
  if (mtu < kMinMtu) return Update::BelowMinimum;
  if (mtu >= link_mtu) return Update::AboveLink;
  auto it = entries_.find(dst);
  if (it != entries_.end() && now < it->second.expires) {
    // RFC 8201 4: "A node MUST NOT increase its estimate of the Path MTU in
    // response to the contents of a Packet Too Big message."
    if (mtu >= it->second.mtu) {
      it->second.expires = now + cfg_.lifetime;
      return Update::Unchanged;
    }
    it->second = Entry{mtu, now + cfg_.lifetime};
    return Update::Lowered;
  }
  if (it == entries_.end() && entries_.size() >= cfg_.entries) {
    if (cfg_.entries == 0) return Update::Unchanged;
    // Full: the entry that expires first (the oldest information) makes room.
    auto victim = std::min_element(entries_.begin(), entries_.end(),
                                   [](const auto& a, const auto& b) { return a.second.expires < b.second.expires; });
    entries_.erase(victim);
  }
  entries_[dst] = Entry{mtu, now + cfg_.lifetime};
  return Update::Lowered;
}

std::uint32_t PmtuCache::path_mtu(const IpAddr& dst, std::uint32_t link_mtu, Instant now) const noexcept {
  auto it = entries_.find(dst);
  // RFC 8201 4: expired, the estimate goes back to the first hop's MTU.
  if (it == entries_.end() || now >= it->second.expires) return link_mtu;
  return std::min(it->second.mtu, link_mtu);
}

}  // namespace riptide
