// RFC 792 echo layout: 0 type  1 code  2 checksum  4 identifier  6 sequence  8 data
#include "wire/icmp.hpp"

#include <cstring>

#include "common/byte_order.hpp"
#include "wire/checksum.hpp"

namespace riptide::wire {

Result<IcmpView, ParseError> IcmpView::parse(std::span<const std::byte> message) noexcept {
  if (message.size() < kIcmpHeaderLen) return Unexpected{ParseError::Truncated};
  return IcmpView{message};
}

std::uint8_t IcmpView::type() const noexcept { return load_u8(bytes_.data()); }
std::uint8_t IcmpView::code() const noexcept { return load_u8(bytes_.data() + 1); }
std::uint16_t IcmpView::checksum() const noexcept { return load_be16(bytes_.data() + 2); }
std::uint16_t IcmpView::identifier() const noexcept { return load_be16(bytes_.data() + 4); }
std::uint16_t IcmpView::sequence() const noexcept { return load_be16(bytes_.data() + 6); }
std::uint32_t IcmpView::rest_of_header() const noexcept { return load_be32(bytes_.data() + 4); }

bool IcmpView::checksum_valid() const noexcept {
  return checksum_fold(checksum_add(bytes_)) == 0;
}

std::size_t write_icmp_echo(std::span<std::byte> out, std::uint8_t type, std::uint16_t id,
                            std::uint16_t seq, std::span<const std::byte> payload) noexcept {
  if (out.size() < kIcmpHeaderLen || out.size() - kIcmpHeaderLen < payload.size()) return 0;
  std::byte* p = out.data();
  // Data first: it may alias out's data area (memmove handles the overlap).
  if (!payload.empty()) std::memmove(p + kIcmpHeaderLen, payload.data(), payload.size());
  store_u8(p, type);
  store_u8(p + 1, 0);
  store_be16(p + 2, 0);
  store_be16(p + 4, id);
  store_be16(p + 6, seq);
  const std::size_t len = kIcmpHeaderLen + payload.size();
  store_be16(p + 2, checksum_fold(checksum_add(out.first(len))));
  return len;
}

}  // namespace riptide::wire
