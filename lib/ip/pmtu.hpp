/// \file
/// PmtuCache: Path MTU per IPv6 destination learned from ICMPv6 Packet Too Big
/// (RFC 8201), per core, bounded, with expiry.
///
/// - RFC 8201 4: a PTB reporting less than 1280 (the IPv6 minimum link MTU) is
///   discarded; a PTB never raises the estimate; the estimate never goes below
///   1280.
/// - RFC 8201 4: an increase may be tried no sooner than 5 minutes after a PTB
///   (10 recommended): an entry expires `lifetime` after the last PTB that lowered
///   or confirmed it, and the destination is back at the link MTU.
/// - Bounded: when full, the entry that expires first makes room (it is the one
///   whose information is oldest).
///
/// mss_for(dst, link_mtu, now) is what TCP needs (RFC 8201 5.4, TCP: segments no
/// larger than the PMTU allows; the MSS is the PMTU less the IPv6 and TCP headers,
/// RFC 9293 3.7.1). Stored per destination address (RFC 8201 5.2).
///
/// Thread-safety: none; one per core. Not on the per-packet path (a PTB, a new
/// connection), an unordered_map reserved at construction.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>

#include "common/ip_addr.hpp"
#include "common/time.hpp"
#include "riptide/interface.hpp"  // PmtuConfig

namespace riptide {

struct IpAddrHash {
  std::size_t operator()(const IpAddr& a) const noexcept {
    // FNV-1a over the 16 bytes: control-path maps only.
    std::uint64_t h = 1469598103934665603ull;
    for (std::uint8_t b : a.bytes) h = (h ^ b) * 1099511628211ull;
    return static_cast<std::size_t>(h);
  }
};

// PmtuConfig is public: riptide/interface.hpp.

class PmtuCache {
 public:
  static constexpr std::uint32_t kMinMtu = 1280;  // RFC 8200 5

  enum class Update : std::uint8_t {
    Lowered,     ///< the estimate went down (or a first entry was made)
    Unchanged,   ///< no lower than what we had: refreshed, not raised (RFC 8201 4)
    BelowMinimum,///< < 1280: discarded (RFC 8201 4)
    AboveLink,   ///< >= the link MTU: nothing to record
  };

  explicit PmtuCache(PmtuConfig cfg = {});

  /// A valid Packet Too Big for `dst` reporting `mtu`, on a link of `link_mtu`.
  Update on_packet_too_big(const IpAddr& dst, std::uint32_t mtu, std::uint32_t link_mtu, Instant now);

  /// The path MTU to `dst`: the recorded one while it lasts, else `link_mtu`.
  [[nodiscard]] std::uint32_t path_mtu(const IpAddr& dst, std::uint32_t link_mtu, Instant now) const noexcept;

  /// The TCP MSS to `dst` over IPv6: path_mtu - 40 (IPv6) - 20 (TCP).
  [[nodiscard]] std::uint16_t mss_for(const IpAddr& dst, std::uint32_t link_mtu, Instant now) const noexcept {
    return static_cast<std::uint16_t>(path_mtu(dst, link_mtu, now) - 60);
  }

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

 private:
  struct Entry {
    std::uint32_t mtu = 0;
    Instant expires{};
  };
  PmtuConfig cfg_;
  std::unordered_map<IpAddr, Entry, IpAddrHash> entries_;
};

}  // namespace riptide
