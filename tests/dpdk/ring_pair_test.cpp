// The `dpdk` suite: riptide on real ethdev ports. Two Workers (stack + interface +
// port) in one process, joined by two rte_rings made into net_ring ports with
// rte_eth_from_rings(): ARP, handshake, data both ways, close, all through mbufs.
// EAL runs with --no-huge --no-pci: no NIC or hugepages needed (TESTING.md).
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_thash.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <set>
#include <string>
#include <vector>
#include <unistd.h>

#include "common/byte_order.hpp"
#include "io/eth_port.hpp"
#include "runtime/runtime.hpp"
#include "runtime/steering.hpp"
#include "runtime/worker.hpp"
#include "wire/icmpv6.hpp"

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

  explicit Pair(const std::string& tag, WorkerOptions opts = {}, rte_mempool* pool = nullptr) {
    if (pool == nullptr) pool = g_pool;
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
      auto p = io::EthPort::open(o, pool);
      EXPECT_TRUE(p.has_value()) << (p ? "" : p.error());
      return std::make_unique<io::EthPort>(std::move(*p));
    };
    pa = open(ida);
    pb = open(idb);
    a = make(*pa, Ipv4Addr::from_octets(198, 18, 0, 1), wire::MacAddr{{2, 0, 0, 0, 0, 1}}, opts, pool);
    b = make(*pb, Ipv4Addr::from_octets(198, 18, 0, 2), wire::MacAddr{{2, 0, 0, 0, 0, 2}}, opts, pool);
  }
  static std::unique_ptr<Worker> make(io::EthPort& port, Ipv4Addr addr, wire::MacAddr mac, WorkerOptions opts = {},
                                      rte_mempool* pool = nullptr) {
    StackConfig sc;
    sc.local_addrs = {addr};
    sc.secret = random_secret();
    sc.max_connections = 64;
    sc.max_time_wait = 64;
    InterfaceConfig ic;
    ic.mac = mac;
    ic.addr = addr;
    return std::make_unique<Worker>(port, pool != nullptr ? pool : g_pool, sc, ic, opts, tsc_now());
  }
  // Polls both sides until `done` or `limit` of wall time (a deadline, not a
  // measurement: generous for a loaded machine).
  template <class F>
  bool run_until(F&& done, std::chrono::seconds limit = std::chrono::seconds{5}) {
    const Instant deadline = tsc_now() + limit;
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

// Overload control (issue 14): a poll whose receive burst comes back full means the
// ring is behind; the SYNs in it are answered with cookies only (no record), and
// every handshake still completes from its cookie.
TEST(DpdkRingPair, FullBurstsShedNewSynsToCookies) {
  WorkerOptions shedding;
  shedding.shed_when_behind = true;  // off by default (lib/runtime/worker.hpp says why)
  Pair p("3", shedding);
  Collector server, first;
  ASSERT_TRUE(p.b->stack().listen(Ipv4Addr{}, 80, server).has_value());
  ASSERT_TRUE(p.a->stack().connect(Ipv4Addr::from_octets(198, 18, 0, 2), 80, first).has_value());
  ASSERT_TRUE(p.run_until([&] { return first.connected && server.connected; })) << "handshake (after ARP)";
  EXPECT_EQ(p.b->stack().counters()[Counter::tcp_syn_shed_overload], 0u) << "short bursts: nothing shed";

  // 32 SYNs wait in B's receive ring: a full burst (WorkerOptions' default is 32;
  // the Pair's stacks hold 64 connections).
  constexpr int kClients = 32;
  std::vector<Collector> clients(kClients);
  for (auto& c : clients) ASSERT_TRUE(p.a->stack().connect(Ipv4Addr::from_octets(198, 18, 0, 2), 80, c).has_value());
  p.a->poll_once(tsc_now());
  p.b->poll_once(tsc_now());
  EXPECT_EQ(p.b->stack().counters()[Counter::tcp_syn_shed_overload], 32u);
  EXPECT_EQ(p.b->stack().connection_count(), 1u) << "no record for a shed SYN";
  ASSERT_TRUE(p.run_until([&] {
    return std::all_of(clients.begin(), clients.end(), [](const Collector& c) { return c.connected; });
  })) << "every shed handshake completes from its cookie";
  EXPECT_EQ(p.b->stack().counters()[Counter::tcp_syn_shed_overload], 32u);
  EXPECT_EQ(p.b->stack().counters()[Counter::tcp_cookie_accepted], 32u);
  EXPECT_EQ(p.b->stack().connection_count(), 1u + kClients);
}

// Established traffic first (issue 14): in a full receive burst the pure SYNs go
// to the stack after the other frames (rx_syn_deferred), and everything still
// arrives: every handshake completes and the established connection's data is
// intact and in order.
TEST(DpdkRingPair, FullBurstsPutSynsAfterEstablishedSegments) {
  for (const bool syns_last : {true, false}) {
    WorkerOptions opts;
    opts.syns_last = syns_last;
    Pair p(syns_last ? "5" : "6", opts);
    Collector server, first;
    ASSERT_TRUE(p.b->stack().listen(Ipv4Addr{}, 80, server).has_value());
    ASSERT_TRUE(p.a->stack().connect(Ipv4Addr::from_octets(198, 18, 0, 2), 80, first).has_value());
    ASSERT_TRUE(p.run_until([&] { return first.connected && server.connected; })) << "handshake (after ARP)";
    // 29 SYNs, then 3 data segments of the established connection (the initial
    // window, RFC 3390: 3 x 1448 bytes), in B's ring: one full burst of 32 (the
    // Pair's stacks hold 64 connections).
    constexpr int kClients = 29;
    std::vector<Collector> clients(kClients);
    for (auto& c : clients) ASSERT_TRUE(p.a->stack().connect(Ipv4Addr::from_octets(198, 18, 0, 2), 80, c).has_value());
    p.a->poll_once(tsc_now());
    std::string data(3 * 1448, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
    const auto queued = p.a->stack().send(first.conn, std::as_bytes(std::span(data)));
    ASSERT_TRUE(queued && *queued == data.size());
    p.a->poll_once(tsc_now());
    p.a->flush(tsc_now());
    const std::uint16_t got = p.b->poll_once(tsc_now());
    EXPECT_EQ(got, 32u) << "one full burst";
    EXPECT_EQ(p.b->stack().counters()[Counter::rx_syn_deferred], syns_last ? std::uint64_t{kClients} : 0u);
    ASSERT_TRUE(p.run_until([&] {
      // ...and B has taken the handshakes' last ACKs.
      return server.received.size() == data.size() &&
             std::all_of(clients.begin(), clients.end(), [](const Collector& c) { return c.connected; }) &&
             p.b->stack().counters()[Counter::tcp_passive_open] == 1u + kClients;
    })) << "every handshake completes and the data arrives";
    EXPECT_EQ(server.received, data);
  }
}

// Mbuf exhaustion (issue 14): a tiny pool that something else (here the test)
// has drained. Frames the stack builds meet the empty pool: they are dropped and
// counted (tx_no_mbuf), nothing crashes, the workers keep polling; when the
// mbufs come back the retransmission timers recover the transfer and new
// connections work.
TEST(DpdkRingPair, EmptyMbufPoolDropsCountedAndRecovers) {
  // The Pair's ring ports hold no mbufs of their own: 511 covers the workers'
  // spares, caches (none) and bursts.
  rte_mempool* tiny = rte_pktmbuf_pool_create("tiny_mbufs", 511, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  ASSERT_NE(tiny, nullptr);
  {
    Pair p("7", {}, tiny);
    Collector server, client;
    ASSERT_TRUE(p.b->stack().listen(Ipv4Addr{}, 80, server).has_value());
    ASSERT_TRUE(p.a->stack().connect(Ipv4Addr::from_octets(198, 18, 0, 2), 80, client).has_value());
    ASSERT_TRUE(p.run_until([&] { return client.connected && server.connected; })) << "handshake (after ARP)";

    // The pressure: every free mbuf taken, and taken again as soon as one is freed
    // (another consumer of the pool), for 300 ms of polling.
    std::vector<rte_mbuf*> held;
    auto take_all = [&] {
      while (rte_mbuf* m = rte_pktmbuf_alloc(tiny)) held.push_back(m);
    };
    take_all();
    ASSERT_GT(held.size(), 300u);
    std::string data(200000, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('A' + i % 29);
    std::size_t sent = 0;
    auto push = [&] {
      if (sent < data.size()) {
        auto n = p.a->stack().send(client.conn, std::as_bytes(std::span(data)).subspan(sent));
        if (n) sent += *n;
      }
    };
    Collector late;
    ASSERT_TRUE(p.a->stack().connect(Ipv4Addr::from_octets(198, 18, 0, 2), 80, late).has_value());
    const Instant pressure_end = tsc_now() + std::chrono::milliseconds{300};
    while (tsc_now() < pressure_end) {
      push();
      const Instant now = tsc_now();
      p.a->poll_once(now);
      p.b->poll_once(now);
      take_all();
    }
    EXPECT_GT(p.a->stack().counters()[Counter::tx_no_mbuf], 0u) << "the empty pool is counted";
    // The transfer may have gone on, slower: a worker keeps received mbufs for its
    // own next segments (MbufEngine::recycle), so only what it must take from the
    // pool fails. What matters is that those failures were counted, not fatal.

    // The pressure goes: the transfer completes (retransmission timers, up to a few
    // seconds of back-off) and the connection opened meanwhile comes up.
    for (rte_mbuf* m : held) rte_pktmbuf_free(m);
    const std::uint64_t dropped = p.a->stack().counters()[Counter::tx_no_mbuf];
    ASSERT_TRUE(p.run_until([&] {
      push();
      return server.received.size() == data.size() && late.connected;
    }, std::chrono::seconds{60})) << "recovered: " << server.received.size() << " of " << data.size() << " bytes";
    EXPECT_EQ(server.received, data);
    EXPECT_EQ(p.a->stack().counters()[Counter::tx_no_mbuf], dropped) << "no drops once mbufs are back";
  }
  rte_mempool_free(tiny);
}

// Software steering: B has two workers on a two-queue port without RSS; every
// frame from A arrives on B's queue 0, and worker 0 passes the flows worker 1 owns
// to it through a mailbox. Each flow lives on exactly one of B's workers, and the
// other never sees it (it would answer with a RST if it did).
TEST(DpdkSteering, EachFlowIsHandledByItsOwnerOnly) {
  rte_ring* to_b = rte_ring_create("steer_to_b", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
  rte_ring* to_b_unused = rte_ring_create("steer_to_b1", 64, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
  rte_ring* to_a = rte_ring_create("steer_to_a", 4096, 0, RING_F_SC_DEQ);  // both B queues write it
  ASSERT_TRUE(to_b && to_b_unused && to_a);
  rte_ring* a_rx[] = {to_a};
  rte_ring* a_tx[] = {to_b};
  rte_ring* b_rx[] = {to_b, to_b_unused};
  rte_ring* b_tx[] = {to_a, to_a};
  const int ida = rte_eth_from_rings("steer_a", a_rx, 1, a_tx, 1, 0);
  const int idb = rte_eth_from_rings("steer_b", b_rx, 2, b_tx, 2, 0);
  ASSERT_GE(ida, 0);
  ASSERT_GE(idb, 0);
  auto open = [](int id, std::uint16_t queues) {
    io::PortOptions o;
    o.port_id = id;
    o.queues = queues;
    auto p = io::EthPort::open(o, g_pool);
    EXPECT_TRUE(p.has_value()) << (p ? "" : p.error());
    return std::make_unique<io::EthPort>(std::move(*p));
  };
  auto pa = open(ida, 1);
  auto pb = open(idb, 2);
  const Ipv4Addr a_addr = Ipv4Addr::from_octets(198, 18, 0, 1), b_addr = Ipv4Addr::from_octets(198, 18, 0, 2);
  auto a = Pair::make(*pa, a_addr, wire::MacAddr{{2, 0, 0, 0, 0, 1}});

  Steering steering(2);
  std::array<Mailbox, 2> boxes_storage_01{}, boxes_storage_10{};
  (void)boxes_storage_10;
  auto b_worker = [&](std::uint16_t q) {
    StackConfig sc;
    sc.local_addrs = {b_addr};
    sc.secret = random_secret();
    sc.max_connections = 256;
    sc.max_time_wait = 256;
    InterfaceConfig ic;
    ic.mac = wire::MacAddr{{2, 0, 0, 0, 0, 2}};
    ic.addr = b_addr;
    return std::make_unique<Worker>(*pb, g_pool, sc, ic, WorkerOptions{q, 32, 100, &steering}, tsc_now());
  };
  auto b0 = b_worker(0);
  auto b1 = b_worker(1);
  Mailbox& zero_to_one = boxes_storage_01[0];
  Mailbox& one_to_zero = boxes_storage_01[1];
  b0->connect_mailboxes({nullptr, &zero_to_one}, {nullptr, &one_to_zero});
  b1->connect_mailboxes({&one_to_zero, nullptr}, {&zero_to_one, nullptr});

  Collector s0, s1;
  ASSERT_TRUE(b0->stack().listen(Ipv4Addr{}, 80, s0).has_value());
  ASSERT_TRUE(b1->stack().listen(Ipv4Addr{}, 80, s1).has_value());

  constexpr int kFlows = 40;
  std::vector<std::unique_ptr<Collector>> clients;
  std::vector<FlowKey> keys;
  for (int i = 0; i < kFlows; ++i) {
    clients.push_back(std::make_unique<Collector>());
    auto c = a->stack().connect(b_addr, 80, *clients.back());
    ASSERT_TRUE(c.has_value());
    keys.push_back(a->stack().info(*c)->key);
  }
  const Instant deadline = tsc_now() + std::chrono::seconds{5};
  auto all_connected = [&] {
    for (auto& c : clients) if (!c->connected) return false;
    // ...and the handshake-completing ACKs have reached B's workers.
    return b0->stack().counters()[Counter::tcp_passive_open] + b1->stack().counters()[Counter::tcp_passive_open] ==
           static_cast<std::uint64_t>(kFlows);
  };
  while (!all_connected() && tsc_now() < deadline) {
    const Instant now = tsc_now();
    a->poll_once(now);
    b0->poll_once(now);
    b1->poll_once(now);
  }
  ASSERT_TRUE(all_connected());
  EXPECT_EQ(b0->stack().counters()[Counter::tcp_passive_open] + b1->stack().counters()[Counter::tcp_passive_open],
            static_cast<std::uint64_t>(kFlows));
  EXPECT_GT(b1->stack().counters()[Counter::tcp_passive_open], 0u) << "some flows are worker 1's";
  EXPECT_GT(b1->stack().counters()[Counter::steer_received], 0u) << "and reached it through the mailbox";
  EXPECT_EQ(b0->stack().counters()[Counter::tcp_rst_no_connection], 0u);
  EXPECT_EQ(b1->stack().counters()[Counter::tcp_rst_no_connection], 0u);
  for (const FlowKey& k : keys) {
    const FlowKey at_b{k.remote_addr, k.local_addr, k.remote_port, k.local_port};
    const std::uint16_t owner = steering.owner(at_b);
    Stack& mine = owner == 0 ? b0->stack() : b1->stack();
    Stack& other = owner == 0 ? b1->stack() : b0->stack();
    EXPECT_EQ(mine.state_of(at_b), State::Established) << to_string(at_b);
    EXPECT_EQ(other.state_of(at_b), State::Closed) << to_string(at_b);
  }
}

TEST(DpdkSteering, OwnerIsSymmetric) {
  Steering s(4);
  const Ipv4Addr x = Ipv4Addr::from_octets(198, 18, 0, 1), y = Ipv4Addr::from_octets(198, 18, 0, 2);
  for (std::uint16_t p = 1000; p < 1100; ++p) EXPECT_EQ(s.hash(x, y, p, 80), s.hash(y, x, 80, p));
}

// IPv6 tuples (issue 13): both directions hash alike under the symmetric key, the
// hash is the one DPDK computes from an IPv6 header (rte_thash_load_v6_addrs, as a
// NIC's RSS over RTE_THASH_V6_L4_LEN), and IPv4-mapped tuples take the IPv4 hash.
TEST(DpdkSteering, Ipv6OwnerIsSymmetricAndMatchesDpdk) {
  Steering s(4);
  const IpAddr x = *IpAddr::parse("2001:db8::1"), y = *IpAddr::parse("2001:db8:ffff::2:3");
  std::array<std::size_t, 4> per_owner{};
  for (std::uint16_t p = 1000; p < 1400; ++p) {
    EXPECT_EQ(s.hash(x, y, p, 80), s.hash(y, x, 80, p));
    ++per_owner[s.owner(x, y, p, 80)];
    rte_ipv6_hdr ip{};
    std::memcpy(ip.src_addr, x.bytes.data(), 16);
    std::memcpy(ip.dst_addr, y.bytes.data(), 16);
    rte_thash_tuple t{};
    rte_thash_load_v6_addrs(&ip, &t);
    t.v6.sport = p;
    t.v6.dport = 80;
    EXPECT_EQ(s.hash(x, y, p, 80),
              rte_softrss(reinterpret_cast<std::uint32_t*>(&t), RTE_THASH_V6_L4_LEN, kSymmetricRssKey.data()));
  }
  for (std::size_t n : per_owner) EXPECT_GT(n, 40u);  // every worker owns a share
  const Ipv4Addr a = Ipv4Addr::from_octets(198, 18, 0, 1), b = Ipv4Addr::from_octets(198, 18, 0, 2);
  EXPECT_EQ(s.hash(IpAddr{a}, IpAddr{b}, 1234, 80), s.hash(a, b, 1234, 80));
}

// Software steering's routing of frames (Worker::steer): TCP of both families to
// the owner of its tuple, ICMP and ICMPv6 errors to the owner of the tuple they
// quote (the same worker as that connection's own segments, under the symmetric
// key), ARP and ND to every worker, the rest where it arrived.
TEST(DpdkSteering, RoutesFramesByFlowAndQuotedFlow) {
  using Kind = Steering::Route::Kind;
  Steering s(4);
  const Ipv4Addr peer4 = Ipv4Addr::from_octets(198, 18, 0, 1), us4 = Ipv4Addr::from_octets(198, 18, 0, 2);
  const IpAddr peer6 = *IpAddr::parse("2001:db8::1"), us6 = *IpAddr::parse("2001:db8::2");
  auto eth = [](std::uint16_t type, std::vector<std::byte> ip) {
    std::vector<std::byte> f(14);
    store_be16(f.data() + 12, type);
    f.insert(f.end(), ip.begin(), ip.end());
    return f;
  };
  // IPv4 header (20 bytes) + the first 8 bytes of TCP or ICMP.
  auto v4 = [](std::uint8_t proto, Ipv4Addr src, Ipv4Addr dst, std::uint16_t sport, std::uint16_t dport,
               std::uint16_t frag = 0x4000) {
    std::vector<std::byte> p(28);
    p[0] = std::byte{0x45};
    store_be16(p.data() + 6, frag);
    p[9] = std::byte{proto};
    store_be32(p.data() + 12, src.value);
    store_be32(p.data() + 16, dst.value);
    store_be16(p.data() + 20, sport);
    store_be16(p.data() + 22, dport);
    return p;
  };
  auto v6 = [](std::uint8_t nh, const IpAddr& src, const IpAddr& dst, std::uint16_t sport, std::uint16_t dport) {
    std::vector<std::byte> p(48);
    p[0] = std::byte{0x60};
    p[6] = std::byte{nh};
    std::memcpy(p.data() + 8, src.bytes.data(), 16);
    std::memcpy(p.data() + 24, dst.bytes.data(), 16);
    store_be16(p.data() + 40, sport);
    store_be16(p.data() + 42, dport);
    return p;
  };
  // An ICMP message of `type` (8-byte header) carrying `quoted`.
  auto icmp = [](std::vector<std::byte> outer, std::uint8_t type, const std::vector<std::byte>& quoted) {
    const std::size_t at = (static_cast<std::uint8_t>(outer[0]) >> 4) == 4 ? 20 : 40;
    outer.resize(at + 8);
    outer[at] = std::byte{type};
    outer.insert(outer.end(), quoted.begin(), quoted.end());
    return outer;
  };
  std::set<std::uint16_t> owners;
  for (std::uint16_t port = 40000; port < 40032; ++port) {
    const std::uint16_t o4 = s.owner(peer4, us4, port, 80), o6 = s.owner(peer6, us6, port, 80);
    owners.insert(o4);
    const auto tcp4 = eth(0x0800, v4(6, peer4, us4, port, 80));
    EXPECT_EQ(s.route(tcp4).kind, Kind::Owner);
    EXPECT_EQ(s.route(tcp4).owner, o4);
    const auto tcp6 = eth(0x86DD, v6(6, peer6, us6, port, 80));
    EXPECT_EQ(s.route(tcp6).kind, Kind::Owner);
    EXPECT_EQ(s.route(tcp6).owner, o6);
    // Errors from a router about our segments (source us, destination the peer).
    const auto unreach = eth(0x0800, icmp(v4(1, Ipv4Addr::from_octets(198, 18, 9, 9), us4, 0, 0), 3,
                                          v4(6, us4, peer4, 80, port)));
    EXPECT_EQ(s.route(unreach).kind, Kind::Owner);
    EXPECT_EQ(s.route(unreach).owner, o4) << port;
    const auto ptb = eth(0x86DD, icmp(v6(58, *IpAddr::parse("2001:db8:9::9"), us6, 0, 0), wire::kIcmpv6PacketTooBig,
                                      v6(6, us6, peer6, 80, port)));
    EXPECT_EQ(s.route(ptb).kind, Kind::Owner);
    EXPECT_EQ(s.route(ptb).owner, o6) << port;
  }
  EXPECT_GT(owners.size(), 1u);
  EXPECT_EQ(s.route(eth(0x0806, std::vector<std::byte>(28))).kind, Kind::Everyone);  // ARP
  EXPECT_EQ(s.route(eth(0x86DD, icmp(v6(58, peer6, us6, 0, 0), wire::kNdNeighborSolicit, {}))).kind, Kind::Everyone);
  EXPECT_EQ(s.route(eth(0x86DD, icmp(v6(58, peer6, us6, 0, 0), wire::kIcmpv6EchoRequest, {}))).kind, Kind::Local);
  EXPECT_EQ(s.route(eth(0x86DD, v6(0, peer6, us6, 1, 80))).kind, Kind::Local);  // behind a Hop-by-Hop header
  EXPECT_EQ(s.route(eth(0x0800, v4(6, peer4, us4, 1, 80, 0x2000))).kind, Kind::Local);  // a fragment
  EXPECT_EQ(s.route(eth(0x0800, icmp(v4(1, peer4, us4, 0, 0), 8, {}))).kind, Kind::Local);  // echo
  EXPECT_EQ(s.route(std::vector<std::byte>(10)).kind, Kind::Local);  // runt
  // Hardware RSS placed the TCP already: only ARP, ND and ICMP errors are routed.
  EXPECT_EQ(s.route(eth(0x0800, v4(6, peer4, us4, 40000, 80)), /*tcp=*/false).kind, Kind::Local);
  EXPECT_EQ(s.route(eth(0x86DD, v6(6, peer6, us6, 40000, 80)), /*tcp=*/false).kind, Kind::Local);
  EXPECT_EQ(s.route(eth(0x0806, std::vector<std::byte>(28)), false).kind, Kind::Everyone);
  const auto err = eth(0x0800, icmp(v4(1, Ipv4Addr::from_octets(198, 18, 9, 9), us4, 0, 0), 3,
                                    v4(6, us4, peer4, 80, 40000)));
  EXPECT_EQ(s.route(err, false).kind, Kind::Owner);
  EXPECT_EQ(s.route(err, false).owner, s.owner(peer4, us4, 40000, 80));
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
