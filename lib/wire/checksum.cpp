// RFC 1071 checksum. The sum is accumulated in host byte order, 8 bytes per load,
// and byte-swapped once at the end: one's complement addition commutes with byte
// swapping (RFC 1071 s2(B)), so this equals the sum of big-endian words.
#include "wire/checksum.hpp"

#include <bit>
#include <cstring>

namespace riptide::wire {
namespace {

template <class T>
T load_native(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// One's complement addition on 64 bits: the carry out of bit 63 goes back into
// bit 0 (RFC 1071 s2(C): "add with end-around carry"; compilers emit add, adc 0).
std::uint64_t add_carry(std::uint64_t acc, std::uint64_t w) noexcept {
  acc += w;
  return acc + (acc < w ? 1u : 0u);
}

// Folds a 64-bit one's complement accumulator to 16 bits (not complemented). A
// non-zero accumulator never folds to zero.
std::uint16_t fold64(std::uint64_t acc) noexcept {
  acc = (acc & 0xffffffffu) + (acc >> 32);  // <= 2^33 - 2
  acc = (acc & 0xffffffffu) + (acc >> 32);  // <= 2^32 - 1
  acc = (acc & 0xffffu) + (acc >> 16);      // <= 0x1fffe
  acc = (acc & 0xffffu) + (acc >> 16);      // <= 0xffff
  return static_cast<std::uint16_t>(acc);
}

}  // namespace

std::uint32_t checksum_add(std::span<const std::byte> data, std::uint32_t sum) noexcept {
  const std::byte* p = data.data();
  std::size_t n = data.size();

  // Every load starts at an even offset, so the 16-bit words inside it line up with
  // the data's; 2^16 == 1 (mod 2^16 - 1), so adding whole 64-bit words with
  // end-around carry and folding at the end gives the 16-bit one's complement sum,
  // as Linux's csum_partial and DPDK's rte_raw_cksum do.
  std::uint64_t acc = 0;
  while (n >= 32) {
    acc = add_carry(acc, load_native<std::uint64_t>(p));
    acc = add_carry(acc, load_native<std::uint64_t>(p + 8));
    acc = add_carry(acc, load_native<std::uint64_t>(p + 16));
    acc = add_carry(acc, load_native<std::uint64_t>(p + 24));
    p += 32;
    n -= 32;
  }
  while (n >= 8) {
    acc = add_carry(acc, load_native<std::uint64_t>(p));
    p += 8;
    n -= 8;
  }
  // Tail of 0..7 bytes, still at even offsets.
  if (n & 4) {
    acc = add_carry(acc, load_native<std::uint32_t>(p));
    p += 4;
  }
  if (n & 2) {
    acc = add_carry(acc, load_native<std::uint16_t>(p));
    p += 2;
  }
  if (n & 1) {
    // RFC 1071 4.1: an odd last byte is padded with a zero on the right, so it is
    // the high half of a big-endian word: the low half in little-endian terms.
    const auto b = static_cast<std::uint64_t>(*p);
    acc = add_carry(acc, std::endian::native == std::endian::little ? b : b << 8);
  }
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
