// Keyed hashing for ISNs, SYN cookies and timestamp offsets: SipHash-2-4 from
// libsodium (crypto_shorthash), keyed by a 16-byte secret chosen at start-up. The
// secret is an input (DESIGN.md: protocol code never calls random).
#pragma once

#include <array>
#include <cstdint>

#include "common/ip_addr.hpp"
#include "riptide/tcp_config.hpp"

namespace riptide::tcp {

// Secret (16 bytes) is public: riptide/tcp_config.hpp.

// SipHash-2-4 of a 4-tuple (IPv4 or IPv6: every address bit) plus a domain tag and one extra word, so the ISN, the
// cookie and the timestamp offset are independent functions of one secret.
[[nodiscard]] std::uint64_t keyed_flow_hash(const Secret& key, const FlowKey& flow,
                                            std::uint8_t domain, std::uint32_t extra,
                                            std::uint32_t extra2 = 0) noexcept;

}  // namespace riptide::tcp
