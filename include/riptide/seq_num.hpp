// SeqNum: a TCP sequence number with modular (RFC 9293 3.4, RFC 1982) comparison.
// There is no implicit conversion from integers: write SeqNum{x} where a raw value
// becomes a sequence number, and .raw() where one leaves.
#pragma once

#include <cstdint>
#include <string>

namespace riptide {

class SeqNum {
 public:
  constexpr SeqNum() noexcept = default;
  constexpr explicit SeqNum(std::uint32_t raw) noexcept : v_(raw) {}

  [[nodiscard]] constexpr std::uint32_t raw() const noexcept { return v_; }

  // Sequence space arithmetic is modulo 2^32.
  constexpr SeqNum operator+(std::uint32_t n) const noexcept { return SeqNum{v_ + n}; }
  constexpr SeqNum operator-(std::uint32_t n) const noexcept { return SeqNum{v_ - n}; }
  constexpr SeqNum& operator+=(std::uint32_t n) noexcept { v_ += n; return *this; }
  constexpr SeqNum& operator-=(std::uint32_t n) noexcept { v_ -= n; return *this; }

  // Signed distance a - b; meaningful while the two are within 2^31 of each other.
  friend constexpr std::int32_t operator-(SeqNum a, SeqNum b) noexcept {
    return static_cast<std::int32_t>(a.v_ - b.v_);
  }

  friend constexpr bool operator==(SeqNum a, SeqNum b) noexcept { return a.v_ == b.v_; }
  friend constexpr bool operator<(SeqNum a, SeqNum b) noexcept { return (a - b) < 0; }
  friend constexpr bool operator<=(SeqNum a, SeqNum b) noexcept { return (a - b) <= 0; }
  friend constexpr bool operator>(SeqNum a, SeqNum b) noexcept { return (a - b) > 0; }
  friend constexpr bool operator>=(SeqNum a, SeqNum b) noexcept { return (a - b) >= 0; }

 private:
  std::uint32_t v_ = 0;
};

// Later / earlier of two sequence numbers under modular order.
[[nodiscard]] constexpr SeqNum seq_max(SeqNum a, SeqNum b) noexcept { return a < b ? b : a; }
[[nodiscard]] constexpr SeqNum seq_min(SeqNum a, SeqNum b) noexcept { return a < b ? a : b; }

// lo <= s < hi, in sequence space (RFC 9293 3.4's "a <= b < c" tests).
[[nodiscard]] constexpr bool seq_in_range(SeqNum lo, SeqNum s, SeqNum hi) noexcept {
  return lo <= s && s < hi;
}

std::string to_string(SeqNum s);

}  // namespace riptide
