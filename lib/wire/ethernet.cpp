#include "wire/ethernet.hpp"

#include "common/byte_order.hpp"
#include "common/hex.hpp"

namespace riptide::wire {

std::string MacAddr::to_string() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(17, ':');
  for (std::size_t i = 0; i < 6; ++i) {
    s[i * 3] = kHex[bytes[i] >> 4];
    s[i * 3 + 1] = kHex[bytes[i] & 0xf];
  }
  return s;
}

std::optional<MacAddr> MacAddr::parse(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  MacAddr m;
  for (std::size_t i = 0; i < 6; ++i) {
    if (i > 0 && text[i * 3 - 1] != ':') return std::nullopt;
    const int hi = hex_value(text[i * 3]);
    const int lo = hex_value(text[i * 3 + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    m.bytes[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return m;
}

std::string to_string(const MacAddr& m) { return m.to_string(); }

std::size_t write_ethernet_header(std::span<std::byte> out, const EthernetHeader& h) noexcept {
  if (out.size() < kEthernetHeaderLen) return 0;
  store_mac(out.data(), h.dst);
  store_mac(out.data() + 6, h.src);
  store_be16(out.data() + 12, h.ether_type);
  return kEthernetHeaderLen;
}

}  // namespace riptide::wire
