// RFC 826 packet layout (Ethernet/IPv4):
//   0 htype(2) 2 ptype(2) 4 hlen(1) 5 plen(1) 6 op(2)
//   8 sha(6) 14 spa(4) 18 tha(6) 24 tpa(4)
#include "wire/arp.hpp"

#include "common/byte_order.hpp"

namespace riptide::wire {

Result<ArpView, ParseError> ArpView::parse(std::span<const std::byte> packet) noexcept {
  if (packet.size() < kArpLen) return Unexpected{ParseError::Truncated};
  const std::byte* p = packet.data();
  if (load_be16(p) != kArpHardwareEthernet) return Unexpected{ParseError::BadHardwareType};
  if (load_be16(p + 2) != 0x0800) return Unexpected{ParseError::BadProtocolType};
  if (load_u8(p + 4) != 6 || load_u8(p + 5) != 4) return Unexpected{ParseError::BadAddressLength};
  return ArpView{packet.first(kArpLen)};
}

std::uint16_t ArpView::operation() const noexcept { return load_be16(bytes_.data() + 6); }
Ipv4Addr ArpView::sender_ip() const noexcept { return Ipv4Addr{load_be32(bytes_.data() + 14)}; }
Ipv4Addr ArpView::target_ip() const noexcept { return Ipv4Addr{load_be32(bytes_.data() + 24)}; }

std::size_t write_arp(std::span<std::byte> out, const ArpPacket& a) noexcept {
  if (out.size() < kArpLen) return 0;
  std::byte* p = out.data();
  store_be16(p, kArpHardwareEthernet);
  store_be16(p + 2, 0x0800);
  store_u8(p + 4, 6);
  store_u8(p + 5, 4);
  store_be16(p + 6, a.op);
  store_mac(p + 8, a.sender_mac);
  store_be32(p + 14, a.sender_ip.value);
  store_mac(p + 18, a.target_mac);
  store_be32(p + 24, a.target_ip.value);
  return kArpLen;
}

}  // namespace riptide::wire
