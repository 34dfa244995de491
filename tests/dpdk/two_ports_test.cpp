// Several ports (issue 12): a Worker with two net_ring ports between a client
// Worker and a server Worker, as a proxy sits between a client-facing and a
// server-facing NIC. The middle one's route table (its two connected subnets)
// picks the egress port, its active opens take the server-facing port's address
// (RFC 1122 3.3.4.3), each port keeps its own ARP cache, and the per-port traffic
// counts add up.
#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <string>
#include <vector>

#include "io/eth_port.hpp"
#include "runtime/runtime.hpp"
#include "runtime/worker.hpp"

namespace riptide::runtime {
namespace {

class Recorder : public Handler {
 public:
  std::string received;
  ConnId conn{};
  bool connected = false, closed = false;
  Ipv4Addr peer{};
  void on_accept(Stack& s, ConnId c) override {
    conn = c;
    connected = true;
    peer = s.info(c)->key.remote_addr.v4();
  }
  void on_connected(Stack&, ConnId c) override { conn = c; connected = true; }
  void on_data(Stack&, ConnId, std::span<const std::byte> d) override {
    received.append(reinterpret_cast<const char*>(d.data()), d.size());
  }
  void on_closed(Stack&, ConnId, CloseReason) override { closed = true; }
};

rte_mempool* pool() { return rte_mempool_lookup("test_mbufs"); }

// Two ethdev ports joined back to back through a pair of rings.
std::pair<std::unique_ptr<io::EthPort>, std::unique_ptr<io::EthPort>> link(const std::string& tag) {
  rte_ring* xy = rte_ring_create(("xy" + tag).c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
  rte_ring* yx = rte_ring_create(("yx" + tag).c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
  EXPECT_TRUE(xy && yx);
  const int idx = rte_eth_from_rings(("ring_x" + tag).c_str(), &yx, 1, &xy, 1, 0);
  const int idy = rte_eth_from_rings(("ring_y" + tag).c_str(), &xy, 1, &yx, 1, 0);
  auto open = [](int id) {
    io::PortOptions o;
    o.port_id = id;
    auto p = io::EthPort::open(o, pool());
    EXPECT_TRUE(p.has_value()) << (p ? "" : p.error());
    return std::make_unique<io::EthPort>(std::move(*p));
  };
  return {open(idx), open(idy)};
}

StackConfig stack_with(std::vector<Ipv4Addr> addrs) {
  StackConfig sc;
  sc.local_addrs = std::move(addrs);
  sc.secret = random_secret();
  sc.max_connections = 64;
  sc.max_time_wait = 64;
  return sc;
}

InterfaceConfig iface(Ipv4Addr addr, std::uint8_t last_mac_byte, std::uint32_t addr_count = 0) {
  InterfaceConfig ic;
  ic.mac = wire::MacAddr{{2, 0, 0, 0, 0, last_mac_byte}};
  ic.addr = addr;
  ic.addr_count = addr_count;
  return ic;
}

TEST(DpdkTwoPorts, MiddleRoutesEachConnectionOutOfItsOwnPort) {
  const Ipv4Addr client_addr = Ipv4Addr::from_octets(198, 18, 0, 2);
  const Ipv4Addr mid_client_side = Ipv4Addr::from_octets(198, 18, 0, 1);
  const Ipv4Addr mid_server_side = Ipv4Addr::from_octets(198, 18, 1, 1);
  const Ipv4Addr server_addr = Ipv4Addr::from_octets(198, 18, 1, 2);
  auto [client_port, mid_port0] = link("c");
  auto [mid_port1, server_port] = link("s");

  Worker client(*client_port, pool(), stack_with({client_addr}), iface(client_addr, 0x20), {}, tsc_now());
  Worker server(*server_port, pool(), stack_with({server_addr}), iface(server_addr, 0x30), {}, tsc_now());
  Worker mid({mid_port0.get(), mid_port1.get()}, pool(), stack_with({mid_client_side, mid_server_side}),
             {iface(mid_client_side, 0x10, 1), iface(mid_server_side, 0x11, 1)}, RouteTable{}, {}, tsc_now());
  ASSERT_EQ(mid.port_count(), 2u);

  auto run_until = [&](auto&& done) {
    const Instant deadline = tsc_now() + std::chrono::seconds{20};
    while (!done()) {
      if (tsc_now() > deadline) return false;
      const Instant now = tsc_now();
      client.poll_once(now);
      mid.poll_once(now);
      server.poll_once(now);
    }
    return true;
  };

  // The client reaches the middle on port 0; the middle reaches the server on port 1.
  Recorder mid_front, mid_back, client_h, server_h;
  ASSERT_TRUE(mid.stack().listen(Ipv4Addr{}, 80, mid_front).has_value());
  ASSERT_TRUE(server.stack().listen(Ipv4Addr{}, 90, server_h).has_value());
  ASSERT_TRUE(client.stack().connect(mid_client_side, 80, client_h).has_value());
  ASSERT_TRUE(run_until([&] { return client_h.connected && mid_front.connected; })) << "client -> middle";
  EXPECT_EQ(mid_front.peer, client_addr);
  ASSERT_TRUE(mid.stack().connect(server_addr, 90, mid_back).has_value());
  ASSERT_TRUE(run_until([&] { return mid_back.connected && server_h.connected; })) << "middle -> server";
  EXPECT_EQ(server_h.peer, mid_server_side) << "the active open took the server-facing port's address";

  // Data each way on each leg.
  const std::string up(100000, 'u'), down(80000, 'd');
  std::size_t up_sent = 0, down_sent = 0;
  ASSERT_TRUE(run_until([&] {
    if (up_sent < up.size()) {
      if (auto n = client.stack().send(client_h.conn, std::as_bytes(std::span(up)).subspan(up_sent))) up_sent += *n;
    }
    if (down_sent < down.size()) {
      if (auto n = server.stack().send(server_h.conn, std::as_bytes(std::span(down)).subspan(down_sent))) {
        down_sent += *n;
      }
    }
    return mid_front.received.size() == up.size() && mid_back.received.size() == down.size();
  }));
  EXPECT_EQ(mid_front.received, up);
  EXPECT_EQ(mid_back.received, down);

  // Each port learned its own neighbour only.
  const Instant now = tsc_now();
  EXPECT_TRUE(mid.interface(0).lookup(client_addr, now));
  EXPECT_FALSE(mid.interface(0).lookup(server_addr, now));
  EXPECT_TRUE(mid.interface(1).lookup(server_addr, now));
  EXPECT_FALSE(mid.interface(1).lookup(client_addr, now));
  // Nothing crossed over: the client never saw the server's traffic and the other way round.
  EXPECT_GT(mid.traffic(0).rx, 0u);
  EXPECT_GT(mid.traffic(1).rx, 0u);
  EXPECT_EQ(mid.traffic(0).tx_dropped + mid.traffic(1).tx_dropped, 0u);
  EXPECT_EQ(mid.stack().counters()[Counter::route_no_route], 0u);
  EXPECT_EQ(client.stack().counters()[Counter::tcp_rst_no_connection], 0u);
  EXPECT_EQ(server.stack().counters()[Counter::tcp_rst_no_connection], 0u);
  EXPECT_EQ(client.stack().counters()[Counter::l2_drop_not_ours] + server.stack().counters()[Counter::l2_drop_not_ours],
            0u);
}

TEST(DpdkTwoPorts, NoRouteIsCountedAndGatewayRoutesUseTheirPort) {
  const Ipv4Addr a0 = Ipv4Addr::from_octets(198, 18, 2, 1), a1 = Ipv4Addr::from_octets(198, 18, 3, 1);
  const Ipv4Addr gw = Ipv4Addr::from_octets(198, 18, 3, 2);
  auto [p0, peer0] = link("n0");
  auto [p1, peer1] = link("n1");
  // The gateway: a stack that owns 198.18.3.2 and also 198.19.0.5 (so it can
  // accept the connection routed through it).
  const Ipv4Addr far = Ipv4Addr::from_octets(198, 19, 0, 5);
  InterfaceConfig gw_if = iface(gw, 0x40);
  Worker gateway(*peer1, pool(), stack_with({gw, far}), gw_if, {}, tsc_now());
  Worker idle(*peer0, pool(), stack_with({Ipv4Addr::from_octets(198, 18, 2, 2)}),
              iface(Ipv4Addr::from_octets(198, 18, 2, 2), 0x41), {}, tsc_now());
  RouteTable routes;
  routes.add(Route{Ipv4Addr::from_octets(198, 19, 0, 0), 16, 1, gw});
  Worker mid({p0.get(), p1.get()}, pool(), stack_with({a0, a1}), {iface(a0, 0x12, 1), iface(a1, 0x13, 1)}, routes,
             {}, tsc_now());
  Recorder nowhere, far_client, far_server;
  ASSERT_TRUE(mid.stack().connect(Ipv4Addr::from_octets(10, 0, 0, 1), 80, nowhere).has_value());
  ASSERT_TRUE(gateway.stack().listen(far, 80, far_server).has_value());
  ASSERT_TRUE(mid.stack().connect(far, 80, far_client).has_value());
  const Instant deadline = tsc_now() + std::chrono::seconds{20};
  while (!(far_client.connected && far_server.connected) && tsc_now() < deadline) {
    const Instant now = tsc_now();
    mid.poll_once(now);
    gateway.poll_once(now);
    idle.poll_once(now);
  }
  ASSERT_TRUE(far_client.connected && far_server.connected) << "through the gateway on port 1";
  EXPECT_EQ(far_server.peer, a1);
  EXPECT_GE(mid.stack().counters()[Counter::route_no_route], 1u) << "10.0.0.1 has no route";
  EXPECT_EQ(mid.traffic(0).tx, 0u) << "nothing left by port 0";
  EXPECT_EQ(idle.traffic(0).rx, 0u);
}

}  // namespace
}  // namespace riptide::runtime
