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

// The two 64-bit seeds of the connection table's hash (lib/stack/flow_table.hpp),
// derived from all 128 bits of the secret (SipHash-2-4 of two fixed labels), so a
// peer that cannot learn the secret cannot aim a flood of tuples at one bucket, and
// the seeds tell nothing about the ISN and cookie key.
[[nodiscard]] std::array<std::uint64_t, 2> flow_table_seed(const Secret& key) noexcept;

}  // namespace riptide::tcp
