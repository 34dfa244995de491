// RFC 1071 checksum. The sum is accumulated in host byte order, 8 bytes per load,
// and byte-swapped once at the end: one's complement addition commutes with byte
// swapping (RFC 1071 s2(B)), so this equals the sum of big-endian words.
#include "wire/checksum.hpp"

#include <bit>
#include <cstring>

namespace riptide::wire {
namespace {

std::uint64_t load_native64(const std::byte* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Folds a 64-bit one's complement accumulator to 16 bits (not complemented).
std::uint16_t fold64(std::uint64_t acc) noexcept {
  acc = (acc & 0xffffffffu) + (acc >> 32);  // <= 2^33
  acc = (acc & 0xffffffffu) + (acc >> 32);  // <= 2^32
  acc = (acc & 0xffffu) + (acc >> 16);
  acc = (acc & 0xffffu) + (acc >> 16);
  acc = (acc & 0xffffu) + (acc >> 16);
  return static_cast<std::uint16_t>(acc);
}

}  // namespace

std::uint32_t checksum_add(std::span<const std::byte> data, std::uint32_t sum) noexcept {
  const std::byte* p = data.data();
  std::size_t n = data.size();

  // Split each 64-bit load into 32-bit halves added into 64-bit accumulators: no
  // carry handling in the loop (2^32 additions before overflow) and four
  // independent dependency chains.
  std::uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  while (n >= 32) {
    const std::uint64_t w0 = load_native64(p);
    const std::uint64_t w1 = load_native64(p + 8);
    const std::uint64_t w2 = load_native64(p + 16);
    const std::uint64_t w3 = load_native64(p + 24);
    a0 += (w0 & 0xffffffffu) + (w0 >> 32);
    a1 += (w1 & 0xffffffffu) + (w1 >> 32);
    a2 += (w2 & 0xffffffffu) + (w2 >> 32);
    a3 += (w3 & 0xffffffffu) + (w3 >> 32);
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    const std::uint64_t w = load_native64(p);
    a0 += (w & 0xffffffffu) + (w >> 32);
    p += 8;
    n -= 8;
  }
  // Tail of 0..7 bytes, zero-padded on the right (so an odd last byte is the high
  // half of a big-endian word).
  if (n > 0) {
    std::byte tail[8] = {};
    std::memcpy(tail, p, n);
    const std::uint64_t w = load_native64(tail);
    a1 += (w & 0xffffffffu) + (w >> 32);
  }
  // Each accumulator is < 2^63 for any buffer below 2^31 bytes; reduce before
  // adding them together so the sum cannot overflow.
  std::uint64_t acc = std::uint64_t{fold64(a0)} + fold64(a1) + fold64(a2) + fold64(a3);
  std::uint16_t folded = fold64(acc);
  if constexpr (std::endian::native == std::endian::little) {
    folded = static_cast<std::uint16_t>((folded >> 8) | (folded << 8));
  }
  // End-around carry keeps the partial sum valid if the caller's sum is large.
  const std::uint32_t out = sum + folded;
  return out + (out < sum ? 1u : 0u);
}

std::uint16_t internet_checksum(std::span<const std::byte> data) noexcept {
  return checksum_fold(checksum_add(data));
}

}  // namespace riptide::wire
