/// \file
/// <riptide/interface.hpp>: the link layer's configuration: InterfaceConfig
/// (Ethernet address, IPv4 address and subnet, gateway, ARP limits) with
/// Ipv6InterfaceConfig (address, link-local, gateway, MTU, Neighbor Discovery and
/// PMTU limits), and with_interface_addresses().
///
/// The link layer itself (riptide::Interface: Ethernet, ARP, ICMPv6, Neighbor
/// Discovery, PMTU in front of a Stack) is inside the library and only declared
/// here: an embedder drives it through io::MbufDriver (<riptide/mbuf.hpp>), which
/// owns one per port, or hands IP packets to the Stack itself.
///
/// Slim (issue 13): <riptide/...> and the standard library only. Thread-safety:
/// plain values and a pure function; any thread. Ownership: values.
#pragma once

#include <cstdint>
#include <optional>

#include "riptide/ip_addr.hpp"
#include "riptide/ipv4_addr.hpp"
#include "riptide/mac_addr.hpp"
#include "riptide/stack.hpp"
#include "riptide/time.hpp"

namespace riptide {

class Interface;  // lib/ip/interface.hpp: inside the library

/// RFC 4861 10 protocol constants, as configuration.
struct NdConfig {
  Duration reachable_time = std::chrono::seconds{30};        ///< REACHABLE_TIME
  Duration retrans_timer = std::chrono::seconds{1};          ///< RETRANS_TIMER
  Duration delay_first_probe = std::chrono::seconds{5};      ///< DELAY_FIRST_PROBE_TIME
  std::uint32_t max_multicast_solicit = 3;                   ///< MAX_MULTICAST_SOLICIT
  std::uint32_t max_unicast_solicit = 3;                     ///< MAX_UNICAST_SOLICIT
  Duration stale_lifetime = std::chrono::seconds{60};        ///< unused STALE entries go
  std::uint32_t cache_size = 1024;
  std::uint32_t pending_packets = 256;                       ///< waiting, all neighbours together
};

/// RFC 8201 Path MTU cache limits.
struct PmtuConfig {
  std::uint32_t entries = 1024;
  Duration lifetime = std::chrono::minutes{10};  ///< RFC 8201 4: at least 5 minutes, 10 recommended
};

/// IPv6 on one port. Off unless `address` is set (docs/config.md, `ip6.*`).
struct Ipv6InterfaceConfig {
  std::optional<IpAddr> address;       ///< the global (or ULA) address; none: IPv6 off
  std::uint8_t prefix_len = 64;        ///< the on-link prefix (RFC 4861 5.2's prefix list, static)
  std::optional<IpAddr> link_local;    ///< none: fe80::/64 + modified EUI-64 of the MAC (RFC 4862 5.3)
  std::optional<IpAddr> gateway;       ///< the default router; none: only on-link destinations
  std::uint32_t mtu = 1500;            ///< the link MTU (RFC 8200 5: at least 1280)
  std::uint8_t hop_limit = 64;         ///< for the ICMPv6 messages built here (ND uses 255)
  NdConfig nd;
  PmtuConfig pmtu;
  std::uint32_t icmp_error_rate = 100; ///< ICMPv6 errors per second (RFC 4443 2.4(f) token bucket)
  std::uint32_t icmp_error_burst = 20;
  bool dad = false;                    ///< Duplicate Address Detection at start (RFC 4862 5.4)
};

struct InterfaceConfig {
  wire::MacAddr mac{};
  Ipv4Addr addr{};                   ///< must be one of the Stack's local_addrs
  /// ARP is answered for addr .. addr+addr_count-1 (this port's addresses, with
  /// several ports: Router). 0: for every local address of the Stack (one port).
  std::uint32_t addr_count = 0;
  std::uint8_t prefix_len = 24;      ///< the on-link subnet
  std::optional<Ipv4Addr> gateway;   ///< default route; none: only the subnet is reachable
  Duration arp_reachable = std::chrono::seconds{60};  ///< a learned entry's lifetime
  Duration arp_retry = std::chrono::seconds{1};       ///< between requests while unresolved
  std::uint32_t arp_attempts = 3;                     ///< requests before the waiting packets drop
  std::uint32_t arp_cache_size = 1024;
  std::uint32_t pending_packets = 256;                ///< waiting for ARP, all next hops together
  Ipv6InterfaceConfig ip6;
};

/// `s` with the Interface's IPv6 addresses appended to local_addrs6 (ip6.address
/// and the link-local address, derived from the MAC when not configured), so the
/// Stack's IP layer takes packets to them. Nothing changes when ip6 is off.
/// Start-up only.
[[nodiscard]] StackConfig with_interface_addresses(StackConfig s, const InterfaceConfig& c);
/// Told when a Packet Too Big lowered the path MTU to `dst` (RFC 8201 5.4: the
/// packetization layer shrinks its segments).
using PmtuListener = void (*)(void* ctx, const IpAddr& dst, std::uint32_t mtu);

}  // namespace riptide
