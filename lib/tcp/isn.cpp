#include "tcp/isn.hpp"

namespace riptide::tcp {

namespace {
constexpr std::uint8_t kDomainIsn = 1;
constexpr std::uint8_t kDomainTsOffset = 2;
}  // namespace

SeqNum IsnGenerator::isn(const FlowKey& flow, Instant now) const noexcept {
  // RFC 6528 3: M is a 4-microsecond timer.
  const auto m = static_cast<std::uint32_t>(to_us(now) / 4);
  const auto f = static_cast<std::uint32_t>(keyed_flow_hash(secret_, flow, kDomainIsn, 0));
  return SeqNum{m + f};
}

std::uint32_t IsnGenerator::ts_offset(const FlowKey& flow) const noexcept {
  return static_cast<std::uint32_t>(keyed_flow_hash(secret_, flow, kDomainTsOffset, 0));
}

}  // namespace riptide::tcp
