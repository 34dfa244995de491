// Exhaustion with recovery (issue 14): each sized resource is shrunk by config and
// run out over the in-memory link; the limit is counted and service degrades
// (never a crash, never a stuck connection); then the pressure goes and service
// comes back. Connection records, TIME-WAIT records, send chunks, ephemeral ports
// and the accept queue here; the ARP pending queue in
// tests/unit/engine/interface_test.cpp (WaitingQueueIsBoundedAndRecovers).
#include <gtest/gtest.h>

#include <map>

#include "fixture.hpp"

namespace riptide::scenario {
namespace {

// An application for many connections at once: what happened to each, by handle.
class Many : public Handler {
 public:
  std::vector<ConnId> accepted, connected;
  std::map<std::string, int> closed;  // by reason
  int writable = 0;
  bool close_on_accept = false;       // the server closes first
  bool close_on_peer_closed = true;
  bool hello = false;                 // send 5 bytes once connected (a request)
  int peer_closed = 0;
  std::map<std::uint32_t, std::vector<std::byte>> received;  // by slot
  // Bytes to send on each accepted connection (server side), as space allows.
  std::size_t send_each = 0;
  std::map<std::uint32_t, std::size_t> sent;  // by slot

  void on_accept(Stack& s, ConnId c) override {
    accepted.push_back(c);
    if (close_on_accept) {
      (void)s.close(c);
      return;
    }
    push(s, c);
  }
  void on_connected(Stack& s, ConnId c) override {
    connected.push_back(c);
    if (hello) (void)s.send(c, std::as_bytes(std::span("hello", 5)));
  }
  void on_data(Stack&, ConnId c, std::span<const std::byte> d) override {
    auto& r = received[c.slot];
    r.insert(r.end(), d.begin(), d.end());
  }
  void on_writable(Stack& s, ConnId c) override {
    ++writable;
    push(s, c);
  }
  void on_peer_closed(Stack& s, ConnId c) override {
    ++peer_closed;
    if (close_on_peer_closed) (void)s.close(c);
  }
  void on_closed(Stack&, ConnId, CloseReason r) override { ++closed[std::string(tcp::to_string(r))]; }

  void push(Stack& s, ConnId c) {
    static const std::vector<std::byte> data = pattern(1 << 20, 3);
    std::size_t& n = sent[c.slot];
    while (n < send_each) {
      auto k = s.send(c, std::span(data).subspan(n % data.size(), std::min(send_each - n, data.size() - n % data.size())));
      if (!k || *k == 0) return;
      n += *k;
    }
  }
};

class Exhaustion : public Scenario {
 protected:
  // Builds with `server_tweak` applied to the server's configuration only.
  void build_with(const std::function<void(StackConfig&)>& server_tweak,
                  const std::function<void(StackConfig&)>& client_tweak = {}) {
    build([&](StackConfig& cfg) {
      if (cfg.local_addrs.front() == kServerAddr && server_tweak) server_tweak(cfg);
      if (cfg.local_addrs.front() == kClientAddr && client_tweak) client_tweak(cfg);
    });
  }
  Many cm, sm;  // client's and server's applications (outlive the stacks)
};

TEST_F(Exhaustion, ConnectionRecordsRunOutCountedThenServeAgain) {
  build_with([](StackConfig& c) { c.max_connections = 8; });
  ASSERT_TRUE(server->listen(kServerAddr, kPort, sm));
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(client->connect(kServerAddr, kPort, cm));
  link->pump();
  ASSERT_EQ(cm.connected.size(), 8u);
  EXPECT_EQ(server->connection_count(), 8u) << "every record taken";
  // Full: a ninth handshake completes by cookie, finds no record, and is reset
  // (tcp.cookie_no_record = "reset"): the client learns at once.
  ASSERT_TRUE(client->connect(kServerAddr, kPort, cm));
  link->pump();
  EXPECT_GE(server->counters()[Counter::tcp_cookie_no_record], 1u);
  EXPECT_EQ(cm.closed["reset"], 1) << "service degraded: the ninth was refused, counted";
  EXPECT_EQ(server->connection_count(), 8u);
  // The pressure goes: four connections close; a new one is served.
  for (int i = 0; i < 4; ++i) ASSERT_FALSE(client->close(cm.connected[static_cast<std::size_t>(i)]));
  link->pump();
  EXPECT_EQ(server->connection_count(), 4u);
  const auto no_record = server->counters()[Counter::tcp_cookie_no_record];
  ASSERT_TRUE(client->connect(kServerAddr, kPort, cm));
  link->pump();
  EXPECT_EQ(cm.connected.size(), 10u) << "served again (the ninth had connected, then was reset)";
  EXPECT_EQ(server->connection_count(), 5u);
  EXPECT_EQ(server->counters()[Counter::tcp_cookie_no_record], no_record);
}

TEST_F(Exhaustion, TimeWaitRecordsRecycledCountedThenNoLonger) {
  build_with([](StackConfig& c) {
    c.max_time_wait = 4;
    c.tcp.time_wait = std::chrono::milliseconds{200};
  });
  sm.close_on_accept = true;  // the server closes first: TIME-WAIT on the server
  ASSERT_TRUE(server->listen(kServerAddr, kPort, sm));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(client->connect(kServerAddr, kPort, cm));
    link->pump();
  }
  EXPECT_EQ(cm.peer_closed, 10) << "every connection was served and closed";
  EXPECT_EQ(server->time_wait_count(), 4u) << "the table is bounded";
  EXPECT_EQ(server->counters()[Counter::tcp_time_wait_recycled], 6u) << "the oldest were recycled, counted";
  // The pressure goes: the records expire, and new closes keep their TIME-WAIT.
  link->run_for(std::chrono::milliseconds{500});
  EXPECT_EQ(server->time_wait_count(), 0u);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client->connect(kServerAddr, kPort, cm));
    link->pump();
  }
  EXPECT_EQ(cm.peer_closed, 13);
  EXPECT_EQ(server->time_wait_count(), 3u);
  EXPECT_EQ(server->counters()[Counter::tcp_time_wait_recycled], 6u) << "no more recycling";
}

TEST_F(Exhaustion, SendChunksRunOutCountedAndAStarvedConnectionIsWokenWhenTheyComeBack) {
  // 8 chunks for the whole server stack: connection A's 64 KiB fills them while
  // its client's ACKs are lost; B, with nothing in flight (so no ACK of its own to
  // wake it), gets nothing from send(). When A's data is acknowledged, B must hear
  // on_writable and finish.
  build_with([](StackConfig& c) { c.send_chunks = 8; });
  sm.send_each = 64 * 1024;
  ASSERT_TRUE(server->listen(kServerAddr, kPort, sm));
  // Every pure ACK from A's client but the handshake's (the first) is lost.
  int acks = 0;
  link->set_filter([&acks](const Packet& p) {
    return p.from_a && p.is_tcp && p.tcp.src_port == 40001 && p.payload_len == 0 && !p.has(kSyn | kFin | kRst) &&
           ++acks > 1;
  });
  ASSERT_TRUE(client->connect(kServerAddr, kPort, cm, local_port(40001)));
  link->run_for(std::chrono::milliseconds{1});
  ASSERT_EQ(sm.accepted.size(), 1u);
  EXPECT_EQ(server->engine().chunks().available(), 0u) << "A holds every chunk";
  ASSERT_TRUE(client->connect(kServerAddr, kPort, cm, local_port(40002)));
  link->run_for(std::chrono::milliseconds{1});
  ASSERT_EQ(sm.accepted.size(), 2u);
  const ConnId b = sm.accepted[1];
  EXPECT_EQ(sm.sent[b.slot], 0u) << "service degraded: B's send() took nothing";
  EXPECT_GE(server->counters()[Counter::tcp_send_no_chunks], 1u);
  // The pressure goes: A's ACKs get through again.
  link->set_filter({});
  link->run_for(std::chrono::seconds{20});
  EXPECT_EQ(sm.sent[sm.accepted[0].slot], 64u * 1024);
  EXPECT_EQ(sm.sent[b.slot], 64u * 1024) << "B was woken and sent everything";
  ASSERT_EQ(cm.connected.size(), 2u);
  EXPECT_EQ(cm.received[cm.connected[0].slot].size(), 64u * 1024);
  EXPECT_EQ(cm.received[cm.connected[1].slot].size(), 64u * 1024);
  EXPECT_EQ(server->engine().chunks().available(), 8u) << "every chunk back";
}

TEST_F(Exhaustion, EphemeralPortsRunOutCountedThenFreeAgain) {
  build_with({}, [](StackConfig& c) {
    c.tcp.ephemeral_port_min = 40000;
    c.tcp.ephemeral_port_max = 40003;
  });
  ASSERT_TRUE(server->listen(kServerAddr, kPort, sm));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(client->connect(kServerAddr, kPort, cm));
  link->pump();
  ASSERT_EQ(cm.connected.size(), 4u);
  auto r = client->connect(kServerAddr, kPort, cm);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Error::NoPorts) << "service degraded: no port left";
  EXPECT_EQ(client->counters()[Counter::tcp_connect_no_ports], 1u);
  // The pressure goes: the server resets two (no TIME-WAIT on either side holds
  // the tuples), and a new connection gets a port.
  ASSERT_EQ(sm.accepted.size(), 4u);
  ASSERT_FALSE(server->abort(sm.accepted[0]));
  ASSERT_FALSE(server->abort(sm.accepted[1]));
  link->pump();
  EXPECT_EQ(client->connection_count(), 2u);
  ASSERT_TRUE(client->connect(kServerAddr, kPort, cm));
  link->pump();
  EXPECT_EQ(cm.connected.size(), 5u);
  EXPECT_EQ(client->counters()[Counter::tcp_connect_no_ports], 1u);
}

TEST_F(Exhaustion, AcceptQueueFullCountedThenTheWaitingHandshakesComplete) {
  build_with({});
  ListenOptions o;
  o.auto_accept = false;
  o.backlog = 2;
  auto l = server->listen(kServerAddr, kPort, sm, o);
  ASSERT_TRUE(l);
  // Each client sends a request at once, as clients do. The SYN queue (2) sends
  // the last two handshakes through cookies; their ACKs, and the request they
  // carry, meet a full accept queue and are dropped; the request's
  // retransmissions present the cookie again once there is room.
  cm.hello = true;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(client->connect(kServerAddr, kPort, cm));
  link->pump();
  EXPECT_EQ(server->accept_queue_length(*l), 2u);
  EXPECT_GE(server->counters()[Counter::tcp_accept_queue_full], 1u) << "service degraded, counted";

  // The pressure goes: the application accepts; the handshakes that waited
  // complete when their requests are retransmitted.
  int accepted = 0;
  const Instant end = link->now() + std::chrono::seconds{30};
  while (accepted < 4 && link->now() < end) {
    while (server->accept(*l)) ++accepted;
    link->run_for(std::chrono::milliseconds{100});
  }
  EXPECT_EQ(accepted, 4) << "every waiting handshake was served";
  EXPECT_EQ(server->accept_queue_length(*l), 0u);
  EXPECT_EQ(cm.closed.size(), 0u) << "no client connection failed";
}

}  // namespace
}  // namespace riptide::scenario
