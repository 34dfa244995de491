// ICMP for IPv4 (RFC 792): a checked view and an echo writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/result.hpp"
#include "wire/parse_error.hpp"

namespace riptide::wire {

inline constexpr std::uint8_t kIcmpEchoReply = 0;
inline constexpr std::uint8_t kIcmpDestUnreachable = 3;
inline constexpr std::uint8_t kIcmpEchoRequest = 8;
inline constexpr std::uint8_t kIcmpTimeExceeded = 11;
inline constexpr std::uint8_t kIcmpParamProblem = 12;
inline constexpr std::size_t kIcmpHeaderLen = 8;

// A view of one ICMP message (the whole IPv4 payload).
class IcmpView {
 public:
  // Truncated if shorter than the 8-byte header.
  static Result<IcmpView, ParseError> parse(std::span<const std::byte> message) noexcept;

  [[nodiscard]] std::uint8_t type() const noexcept;
  [[nodiscard]] std::uint8_t code() const noexcept;
  [[nodiscard]] std::uint16_t checksum() const noexcept;
  // Echo request/reply fields (bytes 4..7); for other types, the same bytes.
  [[nodiscard]] std::uint16_t identifier() const noexcept;
  [[nodiscard]] std::uint16_t sequence() const noexcept;
  // Bytes 4..7 as one word (e.g. next-hop MTU in the low 16 bits for
  // "fragmentation needed", RFC 1191).
  [[nodiscard]] std::uint32_t rest_of_header() const noexcept;
  // After the 8-byte header: echo data, or the offending datagram's header for errors.
  [[nodiscard]] std::span<const std::byte> payload() const noexcept {
    return bytes_.subspan(kIcmpHeaderLen);
  }
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return bytes_; }
  // The whole message sums to 0xffff.
  [[nodiscard]] bool checksum_valid() const noexcept;

 private:
  explicit IcmpView(std::span<const std::byte> b) noexcept : bytes_(b) {}
  std::span<const std::byte> bytes_;
};

// Writes an echo request or reply (type kIcmpEchoRequest/kIcmpEchoReply, code 0)
// with `payload` copied after the header and the checksum filled in. Returns
// 8 + payload.size(), or 0 if out is too small. `payload` may alias out's data
// area (out.subspan(8)) when answering an echo in place.
std::size_t write_icmp_echo(std::span<std::byte> out, std::uint8_t type, std::uint16_t id,
                            std::uint16_t seq, std::span<const std::byte> payload) noexcept;

}  // namespace riptide::wire
