#include "ip/interface.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "common/byte_order.hpp"
#include "wire/ipv4.hpp"

namespace riptide {

Interface::Interface(Stack& stack, InterfaceConfig cfg)
    : stack_(stack.engine()), cfg_(cfg), counters_(stack.shared_counters()) {
  if (!stack.is_local(cfg_.addr)) {
    std::fprintf(stderr, "riptide: interface address %s is not one of the stack's local_addrs\n",
                 to_string(cfg_.addr).c_str());
    std::abort();
  }
  cache_.reserve(cfg_.arp_cache_size);
  if (cfg_.prefix_len > 0) {
    link_mask_ = cfg_.prefix_len >= 32 ? 0xFFFFFFFFu : ~(0xFFFFFFFFu >> cfg_.prefix_len);
  }
  link_net_ = cfg_.addr.value & link_mask_;
  setup_ipv6();
}

const Interface::Entry* Interface::resolved(Ipv4Addr ip, Instant now) const {
  auto it = cache_.find(ip.value);
  if (it == cache_.end() || !it->second.resolved || now >= it->second.expires) return nullptr;
  return &it->second;
}

std::optional<wire::MacAddr> Interface::lookup(Ipv4Addr ip, Instant now) const {
  const Entry* e = resolved(ip, now);
  if (e == nullptr) return std::nullopt;
  return e->mac;
}

void Interface::input_other(std::span<const std::byte> frame, Instant now, bool answer_arp, RxChecksum rx) {
  auto eth = wire::EthernetView::parse(frame);
  if (!eth) {
    counters_.inc(Counter::l2_drop_malformed);
    return;
  }
  // Compared in place: a MacAddr copy of the destination was stored to the stack
  // four times a frame before the first compare (callgrind, issue 11).
  if (!eth->dst_is(cfg_.mac) && !eth->dst_is(wire::MacAddr::broadcast())) {
    // RFC 2464 7: an IPv6 multicast group's frames go to 33:33 + its low 32 bits;
    // which groups we joined is checked on the IPv6 destination (icmpv6_input).
    const wire::MacAddr d = eth->dst();
    if (!(v6_ && d.bytes[0] == 0x33 && d.bytes[1] == 0x33)) {
      counters_.inc(Counter::l2_drop_not_ours);
      return;
    }
  }
  switch (eth->ether_type()) {
    case wire::kEtherTypeIpv4:
      stack_.input_ipv4(eth->payload(), now, rx);
      return;
    case wire::kEtherTypeArp:
      handle_arp(eth->payload(), now, answer_arp);
      return;
    case kEtherTypeIpv6:
      if (v6_) {
        // RFC 8200 via the Stack's IpLayer; ICMPv6 comes back through the hooks.
        now6_ = now;
        answer6_ = answer_arp;
        stack_.input_ipv6(eth->payload(), now, rx);
        answer6_ = true;
        return;
      }
      counters_.inc(Counter::l2_drop_ethertype);
      return;
    default:
      counters_.inc(Counter::l2_drop_ethertype);
      return;
  }
}

void Interface::handle_arp(std::span<const std::byte> body, Instant now, bool answer) {
  auto arp = wire::ArpView::parse(body);
  if (!arp) {
    counters_.inc(Counter::arp_drop_malformed);
    return;
  }
  // RFC 826 "Packet Reception": update an entry we already have for the sender
  // (merge), and add one when the packet is for us.
  // Any of the stack's addresses (a load generator may own a range).
  // With several ports, only this port's own addresses (Router).
  const std::uint32_t target = arp->target_ip().value;
  const bool for_us = cfg_.addr_count == 0
                          ? arp->target_ip() == cfg_.addr || stack_.is_local(arp->target_ip())
                          : target - cfg_.addr.value < cfg_.addr_count;
  const bool known = cache_.contains(arp->sender_ip().value);
  if ((known || for_us) && arp->sender_ip() != Ipv4Addr{}) {
    learn(arp->sender_ip(), arp->sender_mac(), now);
  }
  if (arp->operation() == wire::kArpReply) {
    counters_.inc(Counter::arp_reply_in);
    return;
  }
  if (arp->operation() != wire::kArpRequest || !answer) return;
  if (!for_us) {
    counters_.inc(Counter::arp_drop_not_ours);
    return;
  }
  counters_.inc(Counter::arp_request_in);
  queue_arp(wire::kArpReply, arp->sender_mac(), arp->sender_mac(), arp->sender_ip(), arp->target_ip());
}

void Interface::learn(Ipv4Addr ip, const wire::MacAddr& mac, Instant now) {
  auto it = cache_.find(ip.value);
  if (it == cache_.end()) {
    if (cache_.size() >= cfg_.arp_cache_size) return;  // full: learn on demand only
    it = cache_.emplace(ip.value, Entry{}).first;
  }
  Entry& e = it->second;
  forget_hop(ip);
  e.mac = mac;
  e.resolved = true;
  e.attempts = 0;
  e.expires = now + cfg_.arp_reachable;
  // Release what was waiting for this neighbour.
  for (auto& pkt : e.waiting) {
    Ready r;
    wire::write_ethernet_header(r.eth, wire::EthernetHeader{mac, cfg_.mac, wire::kEtherTypeIpv4});
    r.payload = std::move(pkt);
    ready_.push_back(std::move(r));
  }
  pending_count_ -= e.waiting.size();
  e.waiting.clear();
}

void Interface::wait_for_arp(Ipv4Addr hop, std::span<const std::byte> ip, Instant now) {
  if (pending_count_ >= cfg_.pending_packets) {
    counters_.inc(Counter::arp_pending_full);
    return;
  }
  auto it = cache_.find(hop.value);
  if (it == cache_.end()) {
    if (cache_.size() >= cfg_.arp_cache_size) {
      counters_.inc(Counter::arp_pending_full);
      return;
    }
    it = cache_.emplace(hop.value, Entry{}).first;
  }
  Entry& e = it->second;
  forget_hop(hop);
  if (e.resolved) {  // expired: resolve again from scratch
    e.resolved = false;
    e.attempts = 0;
  }
  e.waiting.emplace_back(ip.begin(), ip.end());
  ++pending_count_;
  if (e.attempts == 0) {
    queue_arp(wire::kArpRequest, wire::MacAddr::broadcast(), wire::MacAddr{}, hop);
    e.attempts = 1;
    e.expires = now + cfg_.arp_retry;
    next_expire_ = std::min(next_expire_, e.expires);
  }
}

void Interface::remember_hop(HopSlot& slot, Ipv4Addr hop, const Entry& e) {
  slot.hop = hop;
  slot.expires = e.expires;
  wire::write_ethernet_header(slot.eth, wire::EthernetHeader{e.mac, cfg_.mac, wire::kEtherTypeIpv4});
}

void Interface::expire(Instant now) {
  // Only unresolved entries have work here (a resolved one just stops being used
  // once it expires: lookup()). next_expire_ is the earliest of their retry times,
  // so a drain with nothing due does not walk the cache.
  if (v6_) expire6(now);
  if (now < next_expire_) return;
  next_expire_ = Instant::max();
  for (auto it = cache_.begin(); it != cache_.end();) {
    Entry& e = it->second;
    if (e.resolved) {
      ++it;
      continue;
    }
    if (now < e.expires) {
      next_expire_ = std::min(next_expire_, e.expires);
      ++it;
      continue;
    }
    if (e.attempts < cfg_.arp_attempts) {
      queue_arp(wire::kArpRequest, wire::MacAddr::broadcast(), wire::MacAddr{}, Ipv4Addr{it->first});
      ++e.attempts;
      e.expires = now + cfg_.arp_retry;
      next_expire_ = std::min(next_expire_, e.expires);
      ++it;
      continue;
    }
    // RFC 1122 2.3.2.2: give up; what waited is dropped and counted.
    counters_.inc(Counter::arp_unresolved, e.waiting.size());
    pending_count_ -= e.waiting.size();
    forget_hop(Ipv4Addr{it->first});
    it = cache_.erase(it);
  }
}

void Interface::queue_arp(std::uint16_t op, const wire::MacAddr& dst_mac, const wire::MacAddr& target_mac,
                          Ipv4Addr target_ip, std::optional<Ipv4Addr> sender_ip) {
  Ready r;
  wire::write_ethernet_header(r.eth, wire::EthernetHeader{dst_mac, cfg_.mac, wire::kEtherTypeArp});
  r.payload.resize(wire::kArpLen);
  wire::write_arp(r.payload, wire::ArpPacket{op, cfg_.mac, sender_ip.value_or(cfg_.addr), target_mac, target_ip});
  counters_.inc(op == wire::kArpReply ? Counter::arp_reply_out : Counter::arp_request_out);
  ready_.push_back(std::move(r));
}

void Interface::announce() {
  // A gratuitous ARP request: sender and target are both our address.
  queue_arp(wire::kArpRequest, wire::MacAddr::broadcast(), wire::MacAddr{}, cfg_.addr);
  if (v6_) announce6_pending_ = true;  // sent by expire6 (after DAD when configured)
}

}  // namespace riptide
