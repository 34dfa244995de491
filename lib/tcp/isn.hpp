// Initial sequence numbers per RFC 6528 3: ISN = M + F(localip, localport, remoteip,
// remoteport, secretkey), where M is a timer ticking every 4 microseconds and F is a
// keyed hash (SipHash-2-4). Deterministic given the secret and the time, so tests
// inject both.
#pragma once

#include "common/ip_addr.hpp"
#include "common/seq_num.hpp"
#include "common/time.hpp"
#include "tcp/keyed_hash.hpp"

namespace riptide::tcp {

class IsnGenerator {
 public:
  explicit IsnGenerator(const Secret& secret) noexcept : secret_(secret) {}

  [[nodiscard]] SeqNum isn(const FlowKey& flow, Instant now) const noexcept;

  // RFC 7323 5.4 / 7.1: a per-connection offset for TSval, so timestamps reveal
  // nothing about the host clock and differ between connections.
  [[nodiscard]] std::uint32_t ts_offset(const FlowKey& flow) const noexcept;

  // isn() and ts_offset() from one SipHash: the offset is the low 32 bits of the
  // 64-bit output and F the high 32, two independent values of a PRF, so neither
  // tells anything about the other. A passive open needs both: one hash per SYN.
  struct Initial {
    SeqNum isn;
    std::uint32_t ts_offset;
  };
  [[nodiscard]] Initial initial(const FlowKey& flow, Instant now) const noexcept;

 private:
  Secret secret_;
};

}  // namespace riptide::tcp
