// The `dpdk` suite: riptide on real ethdev ports. Two Workers (stack + interface +
// port) in one process, joined by two rte_rings made into net_ring ports with
// rte_eth_from_rings(): ARP, handshake, data both ways, close, all through mbufs.
// EAL runs with --no-huge --no-pci: no NIC or hugepages needed (TESTING.md).
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <string>
#include <unistd.h>

#include "io/eth_port.hpp"
#include "runtime/runtime.hpp"
#include "runtime/worker.hpp"

namespace riptide::runtime {
namespace {

rte_mempool* g_pool = nullptr;

class Collector : public Handler {
 public:
  std::string received;
  ConnId conn{};
  bool connected = false, peer_closed = false, closed = false;
  CloseReason reason = CloseReason::Normal;
  void on_accept(Stack&, ConnId c) override { conn = c; connected = true; }
  void on_connected(Stack&, ConnId c) override { conn = c; connected = true; }
  void on_data(Stack&, ConnId, std::span<const std::byte> d) override {
    received.append(reinterpret_cast<const char*>(d.data()), d.size());
  }
  void on_peer_closed(Stack&, ConnId) override { peer_closed = true; }
  void on_closed(Stack&, ConnId, CloseReason r) override { closed = true; reason = r; }
};

struct Pair {
  std::unique_ptr<io::EthPort> pa, pb;
  std::unique_ptr<Worker> a, b;

  explicit Pair(const std::string& tag) {
    rte_ring* ab = rte_ring_create(("ab" + tag).c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    rte_ring* ba = rte_ring_create(("ba" + tag).c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    EXPECT_TRUE(ab && ba);
    // Port A receives what B sends and the other way round.
    const int ida = rte_eth_from_rings(("ring_a" + tag).c_str(), &ba, 1, &ab, 1, 0);
    const int idb = rte_eth_from_rings(("ring_b" + tag).c_str(), &ab, 1, &ba, 1, 0);
    EXPECT_GE(ida, 0);
    EXPECT_GE(idb, 0);
    auto open = [&](int id) {
      io::PortOptions o;
      o.port_id = id;
      auto p = io::EthPort::open(o, g_pool);
      EXPECT_TRUE(p.has_value()) << (p ? "" : p.error());
      return std::make_unique<io::EthPort>(std::move(*p));
    };
    pa = open(ida);
    pb = open(idb);
    a = make(*pa, Ipv4Addr::from_octets(198, 18, 0, 1), wire::MacAddr{{2, 0, 0, 0, 0, 1}});
    b = make(*pb, Ipv4Addr::from_octets(198, 18, 0, 2), wire::MacAddr{{2, 0, 0, 0, 0, 2}});
  }
  static std::unique_ptr<Worker> make(io::EthPort& port, Ipv4Addr addr, wire::MacAddr mac) {
    StackConfig sc;
    sc.local_addrs = {addr};
    sc.secret = random_secret();
    sc.max_connections = 64;
    sc.max_time_wait = 64;
    InterfaceConfig ic;
    ic.mac = mac;
    ic.addr = addr;
    return std::make_unique<Worker>(port, g_pool, sc, ic, WorkerOptions{}, tsc_now());
  }
  // Polls both sides until `done` or ~5 s of wall time.
  template <class F>
  bool run_until(F&& done) {
    const Instant deadline = tsc_now() + std::chrono::seconds{5};
    while (!done()) {
      const Instant now = tsc_now();
      if (now > deadline) return false;
      a->poll_once(now);
      b->poll_once(now);
    }
    return true;
  }
};

TEST(DpdkRingPair, HandshakeDataBothWaysAndClose) {
  Pair p("1");
  Collector server, client;
  ASSERT_TRUE(p.b->stack().listen(Ipv4Addr{}, 80, server).has_value());
  auto c = p.a->stack().connect(Ipv4Addr::from_octets(198, 18, 0, 2), 80, client);
  ASSERT_TRUE(c.has_value());
  ASSERT_TRUE(p.run_until([&] { return client.connected && server.connected; })) << "handshake (after ARP)";
  EXPECT_GE(p.a->stack().counters()[Counter::arp_reply_in], 1u);

  std::string up(300000, '\0'), down(200000, '\0');
  for (std::size_t i = 0; i < up.size(); ++i) up[i] = static_cast<char>('a' + i % 23);
  for (std::size_t i = 0; i < down.size(); ++i) down[i] = static_cast<char>('A' + i % 19);
  std::size_t up_sent = 0, down_sent = 0;
  ASSERT_TRUE(p.run_until([&] {
    if (up_sent < up.size()) {
      auto n = p.a->stack().send(client.conn, std::as_bytes(std::span(up)).subspan(up_sent));
      if (n) up_sent += *n;
    }
    if (down_sent < down.size()) {
      auto n = p.b->stack().send(server.conn, std::as_bytes(std::span(down)).subspan(down_sent));
      if (n) down_sent += *n;
    }
    return server.received.size() == up.size() && client.received.size() == down.size();
  }));
  EXPECT_EQ(server.received, up);
  EXPECT_EQ(client.received, down);

  ASSERT_FALSE(p.a->stack().shutdown_write(client.conn).has_value());
  ASSERT_TRUE(p.run_until([&] { return server.peer_closed; }));
  ASSERT_FALSE(p.b->stack().shutdown_write(server.conn).has_value());
  ASSERT_TRUE(p.run_until([&] { return client.closed && server.closed; }));
  EXPECT_EQ(client.reason, CloseReason::Normal);
  EXPECT_EQ(server.reason, CloseReason::Normal);
  EXPECT_EQ(p.a->stack().time_wait_count(), 1u) << "the side that closed first holds TIME-WAIT";
}

TEST(DpdkRingPair, ClosedPortIsRefused) {
  Pair p("2");
  Collector client;
  auto c = p.a->stack().connect(Ipv4Addr::from_octets(198, 18, 0, 2), 81, client);
  ASSERT_TRUE(c.has_value());
  ASSERT_TRUE(p.run_until([&] { return client.closed; }));
  EXPECT_EQ(client.reason, CloseReason::Refused);
}

}  // namespace
}  // namespace riptide::runtime

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const std::string prefix = "--file-prefix=riptide-dpdk-test-" + std::to_string(getpid());
  const char* eal[] = {"riptide-dpdk-test", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
                       "--log-level=error", prefix.c_str()};
  if (rte_eal_init(static_cast<int>(std::size(eal)), const_cast<char**>(eal)) < 0) {
    std::fprintf(stderr, "dpdk test: EAL failed to start\n");
    return 1;
  }
  riptide::runtime::g_pool = rte_pktmbuf_pool_create("test_mbufs", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  if (riptide::runtime::g_pool == nullptr) {
    std::fprintf(stderr, "dpdk test: mbuf pool failed\n");
    return 1;
  }
  const int rc = RUN_ALL_TESTS();
  rte_eal_cleanup();
  return rc;
}
