#include "tcp/isn.hpp"

namespace riptide::tcp {

namespace {
// One hash per 4-tuple: the low half is the TS offset, the high half F of the ISN.
// (The SYN cookie hashes with domain 3.)
constexpr std::uint8_t kDomainIsnAndTsOffset = 2;

// RFC 6528 3: M is a 4-microsecond timer.
std::uint32_t isn_timer(Instant now) noexcept { return static_cast<std::uint32_t>(to_us(now) / 4); }
}  // namespace

SeqNum IsnGenerator::isn(const FlowKey& flow, Instant now) const noexcept {
  return initial(flow, now).isn;
}

std::uint32_t IsnGenerator::ts_offset(const FlowKey& flow) const noexcept {
  return static_cast<std::uint32_t>(keyed_flow_hash(secret_, flow, kDomainIsnAndTsOffset, 0));
}

IsnGenerator::Initial IsnGenerator::initial(const FlowKey& flow, Instant now) const noexcept {
  const std::uint64_t h = keyed_flow_hash(secret_, flow, kDomainIsnAndTsOffset, 0);
  return Initial{SeqNum{isn_timer(now) + static_cast<std::uint32_t>(h >> 32)}, static_cast<std::uint32_t>(h)};
}

}  // namespace riptide::tcp
