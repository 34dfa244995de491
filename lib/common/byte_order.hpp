// Big-endian loads and stores over byte buffers. Wire code uses these instead of
// casting to packed structs (STYLE.md), which keeps every access in bounds of a
// span that was checked once at parse time.
#pragma once

#include <cstddef>
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

constexpr void store_be16(std::byte* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::byte>(v >> 8);
  p[1] = static_cast<std::byte>(v);
}

constexpr void store_be32(std::byte* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::byte>(v >> 24);
  p[1] = static_cast<std::byte>(v >> 16);
  p[2] = static_cast<std::byte>(v >> 8);
  p[3] = static_cast<std::byte>(v);
}

}  // namespace riptide
