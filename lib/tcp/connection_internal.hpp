// Constants shared by Connection's source files (connection*.cpp); not part of
// lib/tcp's interface.
#pragma once

#include <cstdint>

namespace riptide::tcp::detail {

inline constexpr std::uint16_t kDefaultMss = 536;     // RFC 9293 3.7.1 / RFC 1122 4.2.2.6
inline constexpr std::uint8_t kMaxWindowScale = 14;  // RFC 7323 2.3
inline constexpr std::uint32_t kTsOptionLen = 12;    // NOP NOP TS, on every segment once negotiated
inline constexpr std::uint32_t kMinMss = 88;         // Linux TCP_MIN_MSS; > kTsOptionLen

}  // namespace riptide::tcp::detail
