// Time as an input. Protocol code never reads a clock (DESIGN.md): the host passes
// an Instant in. In tests and riptide-pkt the Instant comes from a virtual clock; in
// the runtime it comes from the TSC.
#pragma once

#include <chrono>
#include <cstdint>

namespace riptide {

// A clock tag with no now(): time points are only ever handed in.
struct StackClock {
  using rep = std::int64_t;
  using period = std::nano;
  using duration = std::chrono::duration<rep, period>;
  using time_point = std::chrono::time_point<StackClock>;
  static constexpr bool is_steady = true;
};

using Duration = StackClock::duration;
using Instant = StackClock::time_point;

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

[[nodiscard]] constexpr std::int64_t to_us(Duration d) noexcept {
  return std::chrono::duration_cast<microseconds>(d).count();
}
[[nodiscard]] constexpr std::int64_t to_us(Instant t) noexcept {
  return to_us(t.time_since_epoch());
}
[[nodiscard]] constexpr std::int64_t to_ms(Instant t) noexcept {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}
[[nodiscard]] constexpr Instant instant_from_us(std::int64_t us) noexcept {
  return Instant{microseconds{us}};
}

}  // namespace riptide
