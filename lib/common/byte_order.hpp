// Big-endian loads and stores over byte buffers. Wire code uses these instead of
// casting to packed structs (STYLE.md), which keeps every access in bounds of a
// span that was checked once at parse time.
#pragma once

#include <bit>
#include <cstddef>
#include <type_traits>
#include <cstdint>

namespace riptide {

[[nodiscard]] constexpr std::uint8_t load_u8(const std::byte* p) noexcept {
  return static_cast<std::uint8_t>(p[0]);
}

[[nodiscard]] constexpr std::uint16_t load_be16(const std::byte* p) noexcept {
  return static_cast<std::uint16_t>((static_cast<unsigned>(p[0]) << 8) |
                                    static_cast<unsigned>(p[1]));
}

[[nodiscard]] constexpr std::uint32_t load_be32(const std::byte* p) noexcept {
  return (static_cast<std::uint32_t>(p[0]) << 24) | (static_cast<std::uint32_t>(p[1]) << 16) |
         (static_cast<std::uint32_t>(p[2]) << 8) | static_cast<std::uint32_t>(p[3]);
}

constexpr void store_u8(std::byte* p, std::uint8_t v) noexcept { p[0] = std::byte{v}; }

// Stores: outside constant evaluation, one byte swap and one store. (GCC 12 merges
// neighbouring byte-wise stores into a 64-bit value it assembles a byte at a
// time, about 30 instructions for two fields; measured with callgrind in the
// segment template, issue 11.)
constexpr void store_be16(std::byte* p, std::uint16_t v) noexcept {
  if (std::is_constant_evaluated()) {
    p[0] = static_cast<std::byte>(v >> 8);
    p[1] = static_cast<std::byte>(v);
    return;
  }
  const std::uint16_t be = std::endian::native == std::endian::little ? __builtin_bswap16(v) : v;
  __builtin_memcpy(p, &be, sizeof be);
}

constexpr void store_be32(std::byte* p, std::uint32_t v) noexcept {
  if (std::is_constant_evaluated()) {
    p[0] = static_cast<std::byte>(v >> 24);
    p[1] = static_cast<std::byte>(v >> 16);
    p[2] = static_cast<std::byte>(v >> 8);
    p[3] = static_cast<std::byte>(v);
    return;
  }
  const std::uint32_t be = std::endian::native == std::endian::little ? __builtin_bswap32(v) : v;
  __builtin_memcpy(p, &be, sizeof be);
}

}  // namespace riptide
