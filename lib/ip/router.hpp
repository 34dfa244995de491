/// \file
/// Router: a Stack's IP output over several ports. One Interface per port (its
/// MAC, its addresses, its own ARP cache), one Stack behind all of them (TCP does
/// not care which port a segment uses), and a RouteTable that picks the egress
/// port and next hop of every packet the Stack sends: the longest matching prefix
/// among the ports' connected subnets and the static routes (RFC 1812 5.2.4.3).
///
/// Source addresses (RFC 1122 3.3.4.3, RFC 1812 5.2.4.3's "weak" host): an active
/// open without an explicit local address takes the address of the port its
/// destination routes through (StackEngine::set_source_selector is pointed here), so a
/// proxy's upstream connection leaves the server-facing port with that port's
/// address. Received packets for any of the Stack's addresses are accepted on any
/// port (the weak end-system model, Linux's default); ARP is answered per port for
/// that port's own addresses only.
///
/// drain(now, f) calls f(port, eth_header, ipv4) for every frame ready to go.
///
/// Thread-safety: none; on the Stack's core, as Interface.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/byte_order.hpp"
#include "common/ip_addr.hpp"
#include "common/time.hpp"
#include "ip/interface.hpp"
#include "ip/routes.hpp"
#include "stack/stack.hpp"

namespace riptide {

class Router {
 public:
  /// `ports[i]` is port i's link layer; each port's connected subnet
  /// (addr/prefix_len) is added to the table before `routes`. Every routes[k].port
  /// must be < ports.size(); the Stack must hold every port's addresses.
  /// `port0`: an Interface the caller already has for port 0 (io::MbufDriver's),
  /// used instead of building one from ports[0].
  Router(Stack& stack, const std::vector<InterfaceConfig>& ports, const RouteTable& routes,
         Interface* port0 = nullptr);
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  [[nodiscard]] std::size_t port_count() const noexcept { return ports_.size(); }
  [[nodiscard]] Interface& port(std::size_t i) noexcept { return *ports_[i]; }
  [[nodiscard]] const Interface& port(std::size_t i) const noexcept { return *ports_[i]; }
  [[nodiscard]] const RouteTable& routes() const noexcept { return routes_; }

  /// A frame received on port `port`.
  void input(std::uint16_t port, std::span<const std::byte> frame, Instant now, bool answer_arp = true,
             RxChecksum rx = {}) {
    ports_[port]->input(frame, now, answer_arp, rx);
  }

  /// The address an active open to `dst` should use: the egress port's first
  /// address (port 0's when nothing routes there; the SYN then counts
  /// route_no_route when it is sent).
  [[nodiscard]] Ipv4Addr source_for(Ipv4Addr dst) const noexcept {
    const auto hop = routes_.lookup(dst);
    return ports_[hop ? hop->port : 0]->config().addr;
  }

  /// Calls f(std::uint16_t port, std::span<const std::byte> eth, std::span<const
  /// std::byte> ipv4) for every frame ready to go on any port.
  template <class F>
  std::size_t drain(Instant now, F&& f) {
    // As Interface::drain: frames built since the last drain (ARP replies, packets
    // released by a resolution) go first, then the Stack's output, then retries.
    std::size_t n = 0;
    for (std::size_t i = 0; i < ports_.size(); ++i) {
      const auto p = static_cast<std::uint16_t>(i);
      n += ports_[i]->flush_ready_frames([&](std::span<const std::byte> eth, std::span<const std::byte> pkt) {
        f(p, eth, pkt);
      });
    }
    stack_.drain_tx([&](std::span<const std::byte> ip) {
      const auto hop = ip.size() >= 20 ? routes_.lookup(Ipv4Addr{load_be32(ip.data() + 16)}) : std::nullopt;
      if (!hop) {
        stack_.shared_counters().inc(Counter::route_no_route);
        return;
      }
      n += ports_[hop->port]->output(ip, hop->addr, now, [&](std::span<const std::byte> eth,
                                                             std::span<const std::byte> pkt) {
        f(hop->port, eth, pkt);
      });
    });
    for (std::size_t i = 0; i < ports_.size(); ++i) {
      const auto p = static_cast<std::uint16_t>(i);
      n += ports_[i]->flush(now, [&](std::span<const std::byte> eth, std::span<const std::byte> pkt) {
        f(p, eth, pkt);
      });
    }
    return n;
  }

  /// Gratuitous ARP on every port.
  void announce() {
    for (auto& p : ports_) p->announce();
  }

 private:
  StackEngine& stack_;  ///< the Stack's engine: drain_tx without the facade
  std::vector<Interface*> ports_;
  std::vector<std::unique_ptr<Interface>> owned_;
  RouteTable routes_;
};

}  // namespace riptide
