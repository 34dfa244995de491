// IPv4 (RFC 791): a checked view and a header writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/byte_order.hpp"
#include "common/ipv4_addr.hpp"
#include "common/result.hpp"
#include "wire/checksum.hpp"
#include "wire/parse_error.hpp"

namespace riptide::wire {

inline constexpr std::uint8_t kIpProtoIcmp = 1;
inline constexpr std::uint8_t kIpProtoTcp = 6;
inline constexpr std::uint8_t kIpProtoUdp = 17;
inline constexpr std::size_t kIpv4MinHeaderLen = 20;
inline constexpr std::size_t kIpv4MaxHeaderLen = 60;

class Ipv4View {
 public:
  // The buffer may be longer than total_length (Ethernet pads short frames to 60
  // bytes); the view is trimmed to total_length. Errors, checked in this order:
  // Truncated (< 20 bytes), BadVersion (!= 4), BadHeaderLength (IHL < 5 or header
  // past the buffer), BadTotalLength (total_length < header or > buffer).
  // The header checksum is not checked here: see checksum_valid().
  // Inline, as the accessors the IPv4 input reads: every received packet's path.
  static Result<Ipv4View, ParseError> parse(std::span<const std::byte> packet) noexcept {
    if (packet.size() < kIpv4MinHeaderLen) return Unexpected{ParseError::Truncated};
    const auto vihl = static_cast<std::uint8_t>(packet[0]);
    if ((vihl >> 4) != 4) return Unexpected{ParseError::BadVersion};
    const std::size_t header_len = std::size_t{vihl & 0x0fu} * 4;
    if (header_len < kIpv4MinHeaderLen || header_len > packet.size()) {
      return Unexpected{ParseError::BadHeaderLength};
    }
    const std::size_t total = load_be16(packet.data() + 2);
    if (total < header_len || total > packet.size()) return Unexpected{ParseError::BadTotalLength};
    return Ipv4View{packet.first(total), header_len};
  }

  [[nodiscard]] std::size_t header_length() const noexcept { return header_len_; }
  [[nodiscard]] std::uint8_t tos() const noexcept;
  [[nodiscard]] std::uint16_t total_length() const noexcept { return load_be16(bytes_.data() + 2); }
  [[nodiscard]] std::uint16_t id() const noexcept;
  [[nodiscard]] bool dont_fragment() const noexcept;
  [[nodiscard]] bool more_fragments() const noexcept;
  // Offset of this fragment's data in the original datagram, in bytes.
  [[nodiscard]] std::uint32_t fragment_offset() const noexcept;
  // MF set or a non-zero offset: this datagram is one piece of a larger one.
  [[nodiscard]] bool is_fragment() const noexcept { return (load_be16(bytes_.data() + 6) & 0x3fff) != 0; }
  [[nodiscard]] std::uint8_t ttl() const noexcept;
  [[nodiscard]] std::uint8_t protocol() const noexcept { return static_cast<std::uint8_t>(bytes_[9]); }
  [[nodiscard]] std::uint16_t header_checksum() const noexcept;
  [[nodiscard]] Ipv4Addr src() const noexcept { return Ipv4Addr{load_be32(bytes_.data() + 12)}; }
  [[nodiscard]] Ipv4Addr dst() const noexcept { return Ipv4Addr{load_be32(bytes_.data() + 16)}; }
  // The header (options included) sums to 0xffff.
  [[nodiscard]] bool checksum_valid() const noexcept {
    // Without options (nearly every packet) the length is a constant: five words
    // summed in line rather than a loop the compiler vectorises for up to fifteen.
    if (header_len_ == kIpv4MinHeaderLen) {
      return checksum_fold(checksum_add_header(bytes_.first<kIpv4MinHeaderLen>())) == 0;
    }
    return checksum_fold(checksum_add_header(bytes_.first(header_len_))) == 0;
  }
  [[nodiscard]] std::span<const std::byte> options() const noexcept {
    return bytes_.subspan(kIpv4MinHeaderLen, header_len_ - kIpv4MinHeaderLen);
  }
  // Bytes after the header, up to total_length.
  [[nodiscard]] std::span<const std::byte> payload() const noexcept {
    return bytes_.subspan(header_len_);
  }
  // Header and payload: exactly total_length bytes.
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return bytes_; }

 private:
  Ipv4View(std::span<const std::byte> b, std::size_t header_len) noexcept
      : bytes_(b), header_len_(header_len) {}
  std::span<const std::byte> bytes_;
  std::size_t header_len_;
};

struct Ipv4Header {
  std::uint8_t tos = 0;
  std::uint16_t id = 0;
  bool dont_fragment = true;
  std::uint8_t ttl = 64;
  std::uint8_t protocol = 0;
  Ipv4Addr src{};
  Ipv4Addr dst{};

  constexpr bool operator==(const Ipv4Header&) const = default;
};

// Writes a 20-byte header (no options, not a fragment) with total length
// 20 + payload_length and a correct header checksum. Returns 20, or 0 if out is
// too small or payload_length > 65515.
std::size_t write_ipv4_header(std::span<std::byte> out, const Ipv4Header& h,
                              std::uint16_t payload_length) noexcept;

}  // namespace riptide::wire
