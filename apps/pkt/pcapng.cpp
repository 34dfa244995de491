#include "pcapng.hpp"

#include <cstring>
#include <vector>

namespace riptide::pkt {

namespace {
void put32(std::vector<std::byte>& v, std::uint32_t x) {
  const auto* p = reinterpret_cast<const std::byte*>(&x);  // pcapng: host byte order
  v.insert(v.end(), p, p + 4);
}
void put16(std::vector<std::byte>& v, std::uint16_t x) {
  const auto* p = reinterpret_cast<const std::byte*>(&x);
  v.insert(v.end(), p, p + 2);
}
}  // namespace

PcapngWriter::~PcapngWriter() {
  if (f_) std::fclose(f_);
}

void PcapngWriter::block(std::uint32_t type, std::span<const std::byte> body) {
  const std::uint32_t len = static_cast<std::uint32_t>(12 + body.size());
  std::fwrite(&type, 4, 1, f_);
  std::fwrite(&len, 4, 1, f_);
  std::fwrite(body.data(), 1, body.size(), f_);
  std::fwrite(&len, 4, 1, f_);
}

bool PcapngWriter::open(const std::string& path) {
  f_ = std::fopen(path.c_str(), "wb");
  if (!f_) return false;
  std::vector<std::byte> shb;
  put32(shb, 0x1A2B3C4D);  // byte-order magic
  put16(shb, 1);
  put16(shb, 0);
  put32(shb, 0xFFFFFFFF);  // section length unknown
  put32(shb, 0xFFFFFFFF);
  block(0x0A0D0D0A, shb);
  std::vector<std::byte> idb;
  put16(idb, 101);  // LINKTYPE_RAW: packets start with the IPv4 or IPv6 header
  put16(idb, 0);
  put32(idb, 0);  // no snap length
  // if_tsresol = 6 (microseconds, the default) needs no option.
  block(0x00000001, idb);
  return true;
}

void PcapngWriter::write(std::span<const std::byte> ipv4, std::int64_t us, bool outbound) {
  if (!f_) return;
  std::vector<std::byte> epb;
  put32(epb, 0);  // interface 0
  put32(epb, static_cast<std::uint32_t>(static_cast<std::uint64_t>(us) >> 32));
  put32(epb, static_cast<std::uint32_t>(us));
  put32(epb, static_cast<std::uint32_t>(ipv4.size()));
  put32(epb, static_cast<std::uint32_t>(ipv4.size()));
  epb.insert(epb.end(), ipv4.begin(), ipv4.end());
  while (epb.size() % 4) epb.push_back(std::byte{0});
  // epb_flags (option 2): direction bits 01 inbound, 10 outbound.
  put16(epb, 2);
  put16(epb, 4);
  put32(epb, outbound ? 2u : 1u);
  put16(epb, 0);  // opt_endofopt
  put16(epb, 0);
  block(0x00000006, epb);
}

}  // namespace riptide::pkt
