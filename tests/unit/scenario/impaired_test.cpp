// Bulk transfer over an impaired path (issue 4's integration test): two Stacks over
// impairment.hpp's ImpairedLink, several connections at once, data both ways on
// every connection at the same time (on_writable keeps the send buffers full), then
// a clean close. Each test is one impairment profile run with several seeds; each
// run checks, per connection and direction, that the SHA-256 of what arrived equals
// the SHA-256 of what was sent, that both ends shut down (shutdown_write) and hear
// on_closed(Normal), and that the end that closed first holds the tuple in
// TIME-WAIT while the other holds nothing. Connections alternate which end closes
// first. Everything random (the path and the data) comes from std::mt19937_64
// seeded by the test, so a failure reproduces exactly; a failing run prints the
// last packet events of the path.
//
// The connections open at seeded times in the first 20 ms. Each run prints a few
// lines per seed: the goodput in virtual time (all connections' bytes in one
// direction / virtual seconds from the start until the last byte of that direction
// arrived, handshakes included), the retransmission counters of both stacks, and
// what the path did (losses, queue drops, duplicates, held-back packets).
//
// Size: the issue asks for 64 MiB each way per connection. That takes minutes, too
// slow for the unit suite, so a run moves kDefaultBytes (1 MiB) each way per
// connection unless RIPTIDE_IMPAIRED_BYTES says otherwise (bytes, or with a K/M/G
// suffix for KiB/MiB/GiB). The full run, by hand:
//
//   RIPTIDE_IMPAIRED_BYTES=64M build/tests/unit_tests --gtest_filter='Impaired.*'
//
// The virtual-time bound on the transfer grows with the size, so a stall fails the
// test (reporting how far each connection got) instead of hanging it.
#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "impairment.hpp"
#include "link.hpp"

namespace riptide::scenario {
namespace {

constexpr std::size_t kConnections = 4;
constexpr std::uint64_t kDefaultBytes = std::uint64_t{1} << 20;
constexpr std::array<std::uint64_t, 3> kSeeds = {1, 2, 3};

// Bytes each way per connection: RIPTIDE_IMPAIRED_BYTES, or kDefaultBytes.
std::uint64_t transfer_bytes() {
  const char* env = std::getenv("RIPTIDE_IMPAIRED_BYTES");
  if (env == nullptr || *env == '\0') return kDefaultBytes;
  char* end = nullptr;
  std::uint64_t n = std::strtoull(env, &end, 10);
  switch (*end) {
    case 'k': case 'K': n <<= 10; ++end; break;
    case 'm': case 'M': n <<= 20; ++end; break;
    case 'g': case 'G': n <<= 30; ++end; break;
    default: break;
  }
  if (*end == 'i' || *end == 'I') ++end;
  if (*end == 'b' || *end == 'B') ++end;
  if (*end != '\0' || n == 0) {
    ADD_FAILURE() << "RIPTIDE_IMPAIRED_BYTES=" << env << " is not a size (bytes, or N with K/M/G)";
    return kDefaultBytes;
  }
  return n;
}

using Digest = std::array<unsigned char, crypto_hash_sha256_BYTES>;

std::string hex(const Digest& d) {
  std::string s;
  char b[3];
  for (unsigned char c : d) {
    std::snprintf(b, sizeof b, "%02x", c);
    s += b;
  }
  return s;
}

// One end of one connection: streams `send_total` seeded pseudo-random bytes out
// (hashing them as it generates them), hashes what arrives, and shuts its write side
// when its turn comes: the end that closes first once it has queued everything and
// received everything, the other once the peer's FIN arrived.
class Endpoint : public Handler {
 public:
  void configure(std::uint64_t data_seed, std::uint64_t send_total, std::uint64_t expect_total,
                 bool closes_first) {
    data_.seed(data_seed);
    send_total_ = send_total;
    expect_ = expect_total;
    closes_first_ = closes_first;
    crypto_hash_sha256_init(&tx_hash_);
    crypto_hash_sha256_init(&rx_hash_);
  }

  std::optional<ConnId> conn;
  FlowKey key;  // as this end sees it
  std::uint64_t sent = 0, received = 0;
  std::optional<Instant> rx_done_at;
  bool shut = false, peer_closed = false;
  bool all_in_before_fin = true;  // on_peer_closed found every byte delivered
  std::optional<CloseReason> closed_reason;
  std::vector<std::string> errors;

  [[nodiscard]] bool closes_first() const noexcept { return closes_first_; }
  [[nodiscard]] bool rx_done() const noexcept { return received == expect_; }
  [[nodiscard]] Digest tx_digest() { return final(tx_hash_); }
  [[nodiscard]] Digest rx_digest() { return final(rx_hash_); }

  void start(Stack& s, ConnId c) {
    conn = c;
    if (auto i = s.info(c)) key = i->key;
    push(s);
  }

  void on_accept(Stack& s, ConnId c) override { start(s, c); }
  void on_connected(Stack& s, ConnId c) override { start(s, c); }
  void on_writable(Stack& s, ConnId) override { push(s); }
  void on_data(Stack& s, ConnId, std::span<const std::byte> d) override {
    crypto_hash_sha256_update(&rx_hash_, reinterpret_cast<const unsigned char*>(d.data()), d.size());
    received += d.size();
    if (received > expect_) errors.push_back("received " + std::to_string(received) + " > " + std::to_string(expect_));
    if (rx_done() && !rx_done_at) rx_done_at = s.now();
    maybe_shut(s);
  }
  void on_peer_closed(Stack& s, ConnId) override {
    peer_closed = true;
    all_in_before_fin = rx_done();
    maybe_shut(s);
  }
  void on_closed(Stack&, ConnId, CloseReason r) override {
    closed_reason = r;
    conn.reset();
  }

 private:
  static constexpr std::size_t kChunk = 16 * 1024;

  static Digest final(crypto_hash_sha256_state st) {  // by value: the running state stays usable
    Digest d;
    crypto_hash_sha256_final(&st, d.data());
    return d;
  }

  void push(Stack& s) {
    if (!conn) return;
    while (sent < send_total_) {
      if (off_ == pending_.size()) refill();
      auto n = s.send(*conn, std::span(pending_).subspan(off_));
      if (!n) {
        errors.push_back("send: " + std::string(to_string(n.error())));
        return;
      }
      if (*n == 0) return;  // full: on_writable brings us back
      off_ += *n;
      sent += *n;
    }
    maybe_shut(s);
  }

  void refill() {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, send_total_ - generated_));
    pending_.resize(n);
    for (std::size_t i = 0; i < n; i += 8) {
      const std::uint64_t w = data_();
      std::memcpy(pending_.data() + i, &w, std::min<std::size_t>(8, n - i));
    }
    crypto_hash_sha256_update(&tx_hash_, reinterpret_cast<const unsigned char*>(pending_.data()), n);
    generated_ += n;
    off_ = 0;
  }

  void maybe_shut(Stack& s) {
    if (shut || !conn || sent < send_total_) return;
    if (closes_first_ ? !rx_done() : !peer_closed) return;
    if (auto e = s.shutdown_write(*conn)) errors.push_back("shutdown_write: " + std::string(to_string(*e)));
    shut = true;
  }

  std::mt19937_64 data_;
  std::uint64_t send_total_ = 0, expect_ = 0, generated_ = 0;
  bool closes_first_ = false;
  std::vector<std::byte> pending_;
  std::size_t off_ = 0;
  crypto_hash_sha256_state tx_hash_{}, rx_hash_{};
};

// The server's listener: hands each accepted connection to the Endpoint paired with
// the client connection of the same ephemeral port.
class Acceptor : public Handler {
 public:
  std::array<std::uint16_t, kConnections> client_ports{};
  std::array<Endpoint, kConnections>* servers = nullptr;
  std::vector<std::string> errors;

  void on_accept(Stack& s, ConnId c) override {
    const auto info = s.info(c);
    for (std::size_t i = 0; info && i < kConnections; ++i) {
      if (client_ports[i] != info->key.remote_port) continue;
      Endpoint& ep = (*servers)[i];
      if (auto e = s.set_handler(c, ep)) errors.push_back("set_handler: " + std::string(to_string(*e)));
      ep.on_accept(s, c);
      return;
    }
    errors.push_back("accepted a connection from an unknown port");
  }
};

// RIPTIDE_IMPAIRED_CC=cubic|newreno runs every profile with that algorithm
// (default: the stack's default, NewReno, except where a test names one).
std::optional<tcp::CongestionAlgorithm> cc_from_env() {
  const char* env = std::getenv("RIPTIDE_IMPAIRED_CC");
  if (env == nullptr || *env == '\0') return std::nullopt;
  auto a = tcp::parse_congestion_algorithm(env);
  if (!a) ADD_FAILURE() << "RIPTIDE_IMPAIRED_CC=" << env << ": newreno or cubic";
  return a;
}

StackConfig config(Ipv4Addr addr, std::uint8_t key, tcp::CongestionAlgorithm cc) {
  StackConfig c;
  c.tcp.congestion = cc;
  c.local_addrs = {addr};
  c.secret = {key, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, key};
  c.max_connections = 64;
  c.max_time_wait = 64;
  c.send_chunks = 1024;  // 2 MiB: each connection's 256 KiB send buffer, and room to spare
  return c;
}

struct Profile {
  const char* name;
  Impairment path;  // the same impairments each way, drawn from independent streams
  tcp::CongestionAlgorithm cc = tcp::CongestionAlgorithm::NewReno;
};

double mbit_per_s(std::uint64_t bytes, Duration d) {
  const double s = static_cast<double>(d.count()) / 1e9;
  return s > 0 ? static_cast<double>(bytes) * 8 / s / 1e6 : 0;
}

std::string counters_of(const Stack& s) {
  const Counters& c = s.counters();
  char b[200];
  std::snprintf(b, sizeof b, "rto %llu fast %llu (sack %llu) retx_seg %llu ooo %llu dsack %llu",
                static_cast<unsigned long long>(c[Counter::tcp_retransmit_timeout]),
                static_cast<unsigned long long>(c[Counter::tcp_fast_retransmit]),
                static_cast<unsigned long long>(c[Counter::tcp_sack_recovery]),
                static_cast<unsigned long long>(c[Counter::tcp_retransmit_segment]),
                static_cast<unsigned long long>(c[Counter::tcp_out_of_order]),
                static_cast<unsigned long long>(c[Counter::tcp_dsack_sent]));
  return b;
}

std::string path_of(const PathStats& p) {
  char b[200];
  std::snprintf(b, sizeof b, "pkts %llu burst %llu rand %llu qdrop %llu dup %llu held %llu maxq %zu",
                static_cast<unsigned long long>(p.offered), static_cast<unsigned long long>(p.lost_burst),
                static_cast<unsigned long long>(p.lost_random), static_cast<unsigned long long>(p.queue_drops),
                static_cast<unsigned long long>(p.duplicated), static_cast<unsigned long long>(p.reordered),
                p.max_queue);
  return b;
}

// One run: kConnections connections, `bytes` each way on each, over `profile`.
void run(const Profile& profile, std::uint64_t seed, std::uint64_t bytes) {
  SCOPED_TRACE(std::string("profile ") + profile.name + ", seed " + std::to_string(seed));
  ASSERT_GE(sodium_init(), 0);

  std::array<Endpoint, kConnections> clients, servers;
  Acceptor acceptor;
  acceptor.servers = &servers;
  for (std::size_t i = 0; i < kConnections; ++i) {
    const bool client_first = i % 2 == 0;
    clients[i].configure(seed * 1000 + i * 2, bytes, bytes, client_first);
    servers[i].configure(seed * 1000 + i * 2 + 1, bytes, bytes, !client_first);
  }
  Stack client(config(kClientAddr, 1, profile.cc), kStart);
  Stack server(config(kServerAddr, 2, profile.cc), kStart);
  ImpairedLink link(client, server, kStart, profile.path, profile.path, seed);
  const auto fail_trace = [&] {
    if (::testing::Test::HasFailure()) {
      std::printf("client: %s\nserver: %s\nlast packet events:\n%s", states(client).c_str(),
                  states(server).c_str(), link.trace(200).c_str());
    }
  };

  // The connections open at seeded times within the first 20 ms, so even a path
  // without randomness of its own sees a different run per seed.
  std::mt19937_64 rng(seed);
  std::array<Duration, kConnections> opens;
  for (Duration& d : opens) d = microseconds{std::uniform_int_distribution<std::int64_t>(0, 20'000)(rng)};
  std::sort(opens.begin(), opens.end());

  ASSERT_TRUE(server.listen(kServerAddr, 80, acceptor));
  for (std::size_t i = 0; i < kConnections; ++i) {
    link.run_until(kStart + opens[i]);
    auto id = client.connect(kServerAddr, 80, clients[i]);
    ASSERT_TRUE(id);
    auto info = client.info(*id);
    ASSERT_TRUE(info);
    acceptor.client_ports[i] = info->key.local_port;
  }

  // Transfer: both ways on every connection at once. A bound of 120 virtual seconds
  // plus 4 per MiB per connection: far beyond what recovery needs here, so reaching
  // it means the transfer stalled.
  const auto all_in = [&] {
    for (std::size_t i = 0; i < kConnections; ++i) {
      if (!clients[i].rx_done() || !servers[i].rx_done()) return false;
    }
    return true;
  };
  const Duration bound = seconds{120} + seconds{4} * static_cast<std::int64_t>((bytes + (1 << 20) - 1) >> 20);
  const bool transferred = link.run_until(all_in, kStart + bound);
  EXPECT_TRUE(transferred) << "stalled at +" << to_ms(link.now()) - to_ms(kStart) << " ms";
  for (std::size_t i = 0; i < kConnections; ++i) {
    SCOPED_TRACE("connection " + std::to_string(i));
    EXPECT_EQ(clients[i].sent, bytes);
    EXPECT_EQ(servers[i].sent, bytes);
    EXPECT_EQ(servers[i].received, bytes) << "client -> server";
    EXPECT_EQ(clients[i].received, bytes) << "server -> client";
    EXPECT_EQ(hex(servers[i].rx_digest()), hex(clients[i].tx_digest())) << "client -> server";
    EXPECT_EQ(hex(clients[i].rx_digest()), hex(servers[i].tx_digest())) << "server -> client";
  }
  if (!transferred) {
    fail_trace();
    return;
  }

  Instant c2s_done = kStart, s2c_done = kStart;
  for (std::size_t i = 0; i < kConnections; ++i) {
    c2s_done = std::max(c2s_done, *servers[i].rx_done_at);
    s2c_done = std::max(s2c_done, *clients[i].rx_done_at);
  }
  const std::uint64_t total = bytes * kConnections;
  const double c2s = mbit_per_s(total, c2s_done - kStart), s2c = mbit_per_s(total, s2c_done - kStart);

  // Close: the end that closes first shuts once it has everything, the other on the
  // FIN; the first holds TIME-WAIT (60 s), so 50 s is the bound here.
  const auto all_closed = [&] {
    for (std::size_t i = 0; i < kConnections; ++i) {
      if (!clients[i].closed_reason || !servers[i].closed_reason) return false;
    }
    return true;
  };
  EXPECT_TRUE(link.run_until(all_closed, link.now() + seconds{50})) << "close stalled";
  std::size_t client_firsts = 0;
  for (std::size_t i = 0; i < kConnections; ++i) {
    SCOPED_TRACE("connection " + std::to_string(i));
    Endpoint& first = clients[i].closes_first() ? clients[i] : servers[i];
    Endpoint& second = clients[i].closes_first() ? servers[i] : clients[i];
    Stack& first_stack = clients[i].closes_first() ? client : server;
    Stack& second_stack = clients[i].closes_first() ? server : client;
    client_firsts += clients[i].closes_first() ? 1 : 0;
    for (Endpoint* e : {&first, &second}) {
      EXPECT_TRUE(e->shut);
      EXPECT_TRUE(e->peer_closed);
      EXPECT_TRUE(e->all_in_before_fin) << "FIN arrived before all the data";
      EXPECT_EQ(e->closed_reason, std::optional{CloseReason::Normal});
      EXPECT_TRUE(e->errors.empty()) << e->errors.front();
    }
    EXPECT_EQ(first_stack.state_of(first.key), State::TimeWait) << to_string(first.key);
    EXPECT_EQ(second_stack.state_of(second.key), State::Closed) << to_string(second.key);
  }
  EXPECT_TRUE(acceptor.errors.empty()) << acceptor.errors.front();
  EXPECT_EQ(client.connection_count(), 0u);
  EXPECT_EQ(server.connection_count(), 0u);
  EXPECT_EQ(client.time_wait_count(), client_firsts);
  EXPECT_EQ(server.time_wait_count(), kConnections - client_firsts);
  EXPECT_EQ(client.counters()[Counter::tx_queue_full], 0u);
  EXPECT_EQ(server.counters()[Counter::tx_queue_full], 0u);
  fail_trace();

  std::printf("[ impaired ] %s seed %llu: %zu conns x %llu B each way in %.3f/%.3f virtual s: "
              "goodput c>s %.1f Mbit/s, s>c %.1f Mbit/s\n"
              "               [%s] client %s | server %s\n"
              "               path c>s %s | s>c %s\n",
              profile.name, static_cast<unsigned long long>(seed), kConnections,
              static_cast<unsigned long long>(bytes), static_cast<double>((c2s_done - kStart).count()) / 1e9,
              static_cast<double>((s2c_done - kStart).count()) / 1e9, c2s, s2c,
              std::string(tcp::to_string(profile.cc)).c_str(), counters_of(client).c_str(),
              counters_of(server).c_str(), path_of(link.stats(true)).c_str(), path_of(link.stats(false)).c_str());
  const std::string k = "seed" + std::to_string(seed) + "_";
  ::testing::Test::RecordProperty(k + "goodput_c2s_mbps", std::to_string(c2s));
  ::testing::Test::RecordProperty(k + "goodput_s2c_mbps", std::to_string(s2c));
  ::testing::Test::RecordProperty(k + "client", counters_of(client));
  ::testing::Test::RecordProperty(k + "server", counters_of(server));
}

void run_seeds(Profile p) {
  const std::uint64_t bytes = transfer_bytes();
  if (auto cc = cc_from_env()) p.cc = *cc;
  for (std::uint64_t seed : kSeeds) run(p, seed, bytes);
}

// (a) Random loss 1%, 5% of packets held back 1..10 ms (so later ones overtake
// them), 1% duplicated, 5 ms one way; no rate limit.
TEST(Impaired, LossReorderDuplicate) {
  Impairment m;
  m.loss = 0.01;
  m.reorder = 0.05;
  m.reorder_min = milliseconds{1};
  m.reorder_max = milliseconds{10};
  m.duplicate = 0.01;
  m.delay = milliseconds{5};
  run_seeds({"loss+reorder+dup", m});
}

// (b) Burst loss (Gilbert-Elliott, mean burst 3 packets, 1% of packets overall)
// through a 100 Mbit/s bottleneck with a 16-packet queue (a fifth of the 10 ms
// path's bandwidth-delay product), 5 ms one way.
TEST(Impaired, BurstLossSmallBuffer) {
  Impairment m = Impairment::burst_loss(0.01, 3);
  m.delay = milliseconds{5};
  m.rate_bps = 100'000'000;
  m.queue_packets = 16;
  run_seeds({"burst+smallbuf", m});
}

// (c) No loss but the bottleneck's: 100 Mbit/s with an 8-packet queue, 5 ms one
// way. Four connections each way share it, ACKs queue behind the reverse data.
TEST(Impaired, CleanSmallQueue) {
  Impairment m;
  m.delay = milliseconds{5};
  m.rate_bps = 100'000'000;
  m.queue_packets = 8;
  run_seeds({"smallqueue", m});
}

// (d) = (b) with CUBIC (RFC 9438) on every connection.
TEST(Impaired, BurstLossSmallBufferCubic) {
  Impairment m = Impairment::burst_loss(0.01, 3);
  m.delay = milliseconds{5};
  m.rate_bps = 100'000'000;
  m.queue_packets = 16;
  run_seeds({"burst+smallbuf cubic", m, tcp::CongestionAlgorithm::Cubic});
}

}  // namespace
}  // namespace riptide::scenario
