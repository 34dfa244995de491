// RFC 791 3.1 header layout:
//   0 version(4)|IHL(4)  1 TOS  2 total length  4 id  6 flags(3)|fragment offset(13)
//   8 TTL  9 protocol  10 header checksum  12 source  16 destination  20 options
#include "wire/ipv4.hpp"

#include "common/byte_order.hpp"
#include "wire/checksum.hpp"

namespace riptide::wire {
namespace {

constexpr std::uint16_t kFlagDf = 0x4000;
constexpr std::uint16_t kFlagMf = 0x2000;
constexpr std::uint16_t kOffsetMask = 0x1fff;

}  // namespace


std::uint8_t Ipv4View::tos() const noexcept { return load_u8(bytes_.data() + 1); }
std::uint16_t Ipv4View::id() const noexcept { return load_be16(bytes_.data() + 4); }
bool Ipv4View::dont_fragment() const noexcept {
  return (load_be16(bytes_.data() + 6) & kFlagDf) != 0;
}
bool Ipv4View::more_fragments() const noexcept {
  return (load_be16(bytes_.data() + 6) & kFlagMf) != 0;
}
std::uint32_t Ipv4View::fragment_offset() const noexcept {
  return (std::uint32_t{load_be16(bytes_.data() + 6)} & kOffsetMask) * 8;
}
std::uint8_t Ipv4View::ttl() const noexcept { return load_u8(bytes_.data() + 8); }
std::uint16_t Ipv4View::header_checksum() const noexcept { return load_be16(bytes_.data() + 10); }


std::size_t write_ipv4_header(std::span<std::byte> out, const Ipv4Header& h,
                              std::uint16_t payload_length) noexcept {
  if (out.size() < kIpv4MinHeaderLen || payload_length > 0xffff - kIpv4MinHeaderLen) return 0;
  std::byte* p = out.data();
  store_u8(p, 0x45);
  store_u8(p + 1, h.tos);
  store_be16(p + 2, static_cast<std::uint16_t>(kIpv4MinHeaderLen + payload_length));
  store_be16(p + 4, h.id);
  store_be16(p + 6, h.dont_fragment ? kFlagDf : 0);
  store_u8(p + 8, h.ttl);
  store_u8(p + 9, h.protocol);
  store_be16(p + 10, 0);
  store_be32(p + 12, h.src.value);
  store_be32(p + 16, h.dst.value);
  store_be16(p + 10, checksum_fold(checksum_add_header(out.first(kIpv4MinHeaderLen))));
  return kIpv4MinHeaderLen;
}

}  // namespace riptide::wire
