/// \file
/// RxChecksum: what the NIC already verified (DPDK's RX checksum offload flags).
#pragma once

#include <cstdint>

namespace riptide {

/// What the NIC already verified (DPDK's RX checksum offload flags): a checksum the
/// port checked is not computed again; one it found bad is dropped and counted.
/// `ip` is the IPv4 header checksum (IPv6 has none, RFC 8200 3); `l4` the TCP one.
struct RxChecksum {
  enum class Verdict : std::uint8_t { Unknown, Good, Bad };
  Verdict ip = Verdict::Unknown;
  Verdict l4 = Verdict::Unknown;
};

}  // namespace riptide
