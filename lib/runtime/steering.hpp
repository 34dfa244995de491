// Which worker owns a flow. DESIGN.md "Per-core model": RSS spreads flows over
// queues with a symmetric Toeplitz key, so both directions of a flow hash alike;
// where the port has no usable RSS the same function, computed in software,
// decides, and packets that land on the wrong core are passed to their owner
// through a mailbox. Active opens pick a local port whose tuple this function maps
// to the opening core (Seastar's trick), so replies come home.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/ip_addr.hpp"

namespace riptide::runtime {

// 0x6d5a repeated: a Toeplitz key for which hash(a, b) == hash(b, a) (Woo & Park,
// "Scalable TCP Session Monitoring with Symmetric Receive-side Scaling").
inline constexpr std::array<std::uint8_t, 40> kSymmetricRssKey = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a};

class Steering {
 public:
  // The redirection table is filled round-robin (entry i -> worker i % workers),
  // which is also what the runtime programs into a port that has RSS.
  explicit Steering(std::uint16_t workers, std::uint16_t reta_size = 128);

  // Toeplitz hash of the IPv4/TCP 4-tuple, as the NIC computes it.
  [[nodiscard]] std::uint32_t hash(Ipv4Addr src, Ipv4Addr dst, std::uint16_t sport,
                                   std::uint16_t dport) const noexcept;
  [[nodiscard]] std::uint16_t owner(Ipv4Addr src, Ipv4Addr dst, std::uint16_t sport,
                                    std::uint16_t dport) const noexcept {
    return reta_[hash(src, dst, sport, dport) & (reta_.size() - 1)];
  }
  // The same over IPv6 (RTE_THASH_V6_L4_LEN: 16 + 16 address bytes and the ports;
  // the 40-byte key covers it, and 0x6d5a's 16-bit period keeps it symmetric).
  // An IPv4 tuple (both addresses IPv4-mapped) takes the IPv4 hash above.
  [[nodiscard]] std::uint32_t hash(const IpAddr& src, const IpAddr& dst, std::uint16_t sport,
                                   std::uint16_t dport) const noexcept;
  [[nodiscard]] std::uint16_t owner(const IpAddr& src, const IpAddr& dst, std::uint16_t sport,
                                    std::uint16_t dport) const noexcept {
    return reta_[hash(src, dst, sport, dport) & (reta_.size() - 1)];
  }
  [[nodiscard]] std::uint16_t owner(const FlowKey& k) const noexcept {
    return owner(k.remote_addr, k.local_addr, k.remote_port, k.local_port);
  }
  /// Where a received Ethernet frame goes when the port has no usable RSS (software
  /// steering, Worker::steer): every worker (ARP and Neighbor Discovery: each keeps
  /// its own neighbour cache), the worker that owns its flow (IPv4 and IPv6 TCP by
  /// their 4-tuple; ICMP and ICMPv6 errors by the tuple of the segment they quote,
  /// RFC 4443 2.4(a): the connection that sent it lives there), or whoever received
  /// it (everything else: echo, fragments, IPv6 packets with extension headers).
  struct Route {
    enum class Kind : std::uint8_t { Local, Owner, Everyone };
    Kind kind = Kind::Local;
    std::uint16_t owner = 0;  ///< for Owner
  };
  [[nodiscard]] Route route(std::span<const std::byte> frame) const noexcept;
  [[nodiscard]] std::uint16_t workers() const noexcept { return workers_; }
  [[nodiscard]] const std::vector<std::uint16_t>& reta() const noexcept { return reta_; }

 private:
  std::uint16_t workers_;
  std::vector<std::uint16_t> reta_;
};

}  // namespace riptide::runtime
