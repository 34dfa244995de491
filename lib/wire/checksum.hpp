// The Internet checksum (RFC 1071): a 16-bit one's complement sum of 16-bit
// big-endian words, complemented.
//
// Partial sums are 32-bit values in "big-endian word" terms: summing the bytes
// 0x12 0x34 gives 0x1234 whatever the host byte order. They can be chained
// (checksum_add(b, checksum_add(a))) as long as every piece but the last has an
// even length, and combined with pseudo_header_sum() by plain addition of at most
// a few terms (or by passing one as the starting sum of the other).
//
// All functions are pure and thread-safe.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "common/ip_addr.hpp"

namespace riptide::wire {

// One's complement partial sum of `data` added to `sum`. An odd trailing byte is
// padded with a zero byte on the right (RFC 1071 section 4.1). Reads 8 bytes at a
// time with 64-bit accumulation. The result is not folded.
[[nodiscard]] std::uint32_t checksum_add(std::span<const std::byte> data,
                                         std::uint32_t sum = 0) noexcept;

// checksum_add() for a short piece whose length is a multiple of 4 and at most 60
// bytes (an IPv4 header): 32-bit words summed in 64 bits cannot carry out, so the
// loop has no end-around carry and is inlined where headers are built and checked.
[[nodiscard]] inline std::uint32_t checksum_add_header(std::span<const std::byte> header) noexcept {
  std::uint64_t acc = 0;
  for (std::size_t i = 0; i + 4 <= header.size(); i += 4) {
    std::uint32_t w;
    std::memcpy(&w, header.data() + i, sizeof w);
    acc += w;
  }
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffu) + (acc >> 16);
  acc = (acc & 0xffffu) + (acc >> 16);
  auto folded = static_cast<std::uint16_t>(acc);
  if constexpr (std::endian::native == std::endian::little) {
    folded = static_cast<std::uint16_t>((folded >> 8) | (folded << 8));
  }
  return folded;
}

// Folds a partial sum to 16 bits and complements it: the value to store in a
// checksum field. Verifying: checksum_fold(sum over data including its checksum
// field) == 0 means the checksum is correct.
[[nodiscard]] constexpr std::uint16_t checksum_fold(std::uint32_t sum) noexcept {
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffffu);
}

// Partial sum of the TCP/UDP IPv4 pseudo header (RFC 9293 3.1): source,
// destination, zero, protocol, and the TCP length (header + data).
[[nodiscard]] constexpr std::uint32_t pseudo_header_sum(Ipv4Addr src, Ipv4Addr dst,
                                                        std::uint8_t protocol,
                                                        std::uint16_t length) noexcept {
  return (src.value >> 16) + (src.value & 0xffffu) + (dst.value >> 16) + (dst.value & 0xffffu) +
         protocol + length;
}

// Partial sum of the IPv6 pseudo header for upper-layer checksums (RFC 8200 8.1):
// source, destination, upper-layer packet length (32 bits), three zero bytes and
// the Next Header value of the upper layer.
[[nodiscard]] constexpr std::uint32_t pseudo_header_sum_v6(const IpAddr& src, const IpAddr& dst,
                                                           std::uint8_t next_header,
                                                           std::uint32_t length) noexcept {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < 16; i += 2) {
    sum += (std::uint32_t{src.bytes[i]} << 8) | src.bytes[i + 1];
    sum += (std::uint32_t{dst.bytes[i]} << 8) | dst.bytes[i + 1];
  }
  return sum + (length >> 16) + (length & 0xffffu) + next_header;
}

// checksum_fold(checksum_add(data)).
[[nodiscard]] std::uint16_t internet_checksum(std::span<const std::byte> data) noexcept;

}  // namespace riptide::wire
