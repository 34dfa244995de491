// A minimal pcapng writer (section header, one raw-IPv4 interface, enhanced packet
// blocks) for riptide-pkt's --pcap. DPDK's rte_pcapng needs EAL and mbufs; the
// runner has neither, and this is all the format asks for.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

namespace riptide::pkt {

class PcapngWriter {
 public:
  PcapngWriter() = default;
  ~PcapngWriter();
  PcapngWriter(const PcapngWriter&) = delete;
  PcapngWriter& operator=(const PcapngWriter&) = delete;

  bool open(const std::string& path);  // false (and errno) on failure
  // One IPv4 packet at `us` microseconds; `outbound` is written as the direction flag.
  void write(std::span<const std::byte> ipv4, std::int64_t us, bool outbound);

 private:
  void block(std::uint32_t type, std::span<const std::byte> body);
  std::FILE* f_ = nullptr;
};

}  // namespace riptide::pkt
