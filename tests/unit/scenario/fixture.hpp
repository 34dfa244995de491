// The Scenario fixture: client 198.18.0.1 and server 198.18.0.2 stacks with fixed
// secrets over a Link, two Recorders as their applications, and the packet trace
// printed when a test fails.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <iostream>
#include <memory>

#include "link.hpp"

namespace riptide::scenario {

inline constexpr std::uint16_t kPort = 80;

// A scenario stack's configuration: address `addr`, fixed secrets from `key`.
inline StackConfig scenario_config(Ipv4Addr addr, std::uint8_t key) {
  StackConfig c;
  c.local_addrs = {addr};
  c.secret = {key, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, key};
  c.max_connections = 64;
  c.max_time_wait = 64;
  c.send_chunks = 1024;  // 2 MiB of send buffer per stack
  return c;
}

class Scenario : public ::testing::Test {
 protected:
  static StackConfig config(Ipv4Addr addr, std::uint8_t key) { return scenario_config(addr, key); }

  // Makes the two stacks (client 198.18.0.1, server 198.18.0.2) and the link;
  // `tweak` edits both configurations.
  void build(const std::function<void(StackConfig&)>& tweak = {}) {
    StackConfig cc = config(kClientAddr, 1), sc = config(kServerAddr, 2);
    if (tweak) {
      tweak(cc);
      tweak(sc);
    }
    client = std::make_unique<Stack>(cc, kStart);
    server = std::make_unique<Stack>(sc, kStart);
    link = std::make_unique<Link>(*client, *server, kStart);
  }

  // Server listens on :80, client connects, the handshake completes.
  void establish(ListenOptions opts = {}) {
    ASSERT_TRUE(server->listen(kServerAddr, kPort, s, opts));
    ASSERT_TRUE(client->connect(kServerAddr, kPort, c));
    link->pump();
    ASSERT_EQ(states(*client), "ESTABLISHED");
    ASSERT_EQ(states(*server), "ESTABLISHED");
    ASSERT_TRUE(c.conn && s.conn);
  }

  void TearDown() override {
    if (HasFailure() && link) std::cout << "packet trace:\n" << link->trace(400);
  }

  Recorder c, s;  // outlive the stacks that call them
  std::unique_ptr<Stack> client, server;
  std::unique_ptr<Link> link;
};

inline ConnectOptions local_port(std::uint16_t port) {
  ConnectOptions o;
  o.local_port = port;
  return o;
}

inline std::int64_t ms_between(Instant a, Instant b) {
  return std::chrono::duration_cast<milliseconds>(b - a).count();
}

}  // namespace riptide::scenario
