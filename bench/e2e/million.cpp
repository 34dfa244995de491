// riptide-million: one million concurrent established connections on one core
// (issue 14): memory per connection, the time to open them all, then idle, then
// active. Two Stacks in one process on one thread (the client with many local
// addresses, the server with one), joined by handing each one's drain_tx() output
// to the other's input(): the engine as it runs on a core, without the NIC (no DPDK,
// no hugepages). Figures, not assertions.
//
//   riptide-million [--connections N] [--client-addrs K] [--batch B]
//
// Memory: the process's resident set (/proc/self/statm) before the stacks exist,
// once they exist (tables allocated at start-up, most of them untouched), after
// every connection is established, and after one request/response on each. Both
// stacks hold N connections, so the per-connection figure is the growth divided by
// 2N (one endpoint); the static record sizes are printed beside it.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

#include "stack/stack.hpp"

namespace {

using namespace riptide;

double rss_mib() {
  long pages = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Server final : Handler {
  std::uint64_t accepted = 0, requests = 0, closed = 0;
  void on_accept(Stack&, ConnId) override { ++accepted; }
  void on_data(Stack& s, ConnId c, std::span<const std::byte> d) override {
    ++requests;
    (void)s.send(c, d);  // echo
  }
  void on_peer_closed(Stack& s, ConnId c) override { (void)s.close(c); }
  void on_closed(Stack&, ConnId, CloseReason) override { ++closed; }
};

struct Client final : Handler {
  std::uint64_t connected = 0, replies = 0, failed = 0, closed = 0;
  std::vector<ConnId> conns;
  void on_connected(Stack&, ConnId c) override {
    ++connected;
    conns.push_back(c);
  }
  void on_data(Stack&, ConnId, std::span<const std::byte>) override { ++replies; }
  void on_closed(Stack&, ConnId, CloseReason r) override {
    ++closed;
    if (r != CloseReason::Normal) ++failed;
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::uint32_t n = 1000000, client_addrs = 64, batch = 4096;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "riptide-million: %s needs a value\n", argv[i]);
        std::exit(2);
      }
      return static_cast<std::uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    };
    if (a == "--connections") n = value();
    else if (a == "--client-addrs") client_addrs = value();
    else if (a == "--batch") batch = value();
    else {
      std::fprintf(stderr, "usage: riptide-million [--connections N] [--client-addrs K] [--batch B]\n");
      return 2;
    }
  }
  if (n == 0 || client_addrs == 0 || client_addrs > 250 || batch == 0) {
    std::fprintf(stderr, "riptide-million: need N > 0, 1 <= K <= 250, B > 0\n");
    return 2;
  }
  const Ipv4Addr server_addr = Ipv4Addr::from_octets(198, 18, 0, 1);
  const double rss0 = rss_mib();

  StackConfig sc;
  sc.local_addrs = {server_addr};
  sc.max_connections = n + 1024;
  sc.max_time_wait = 1024;
  sc.send_chunks = n + 1024;  // one 2 KiB chunk per connection's reply
  sc.tx_queue = batch * 4 + 1024;
  sc.tcp.default_backlog = batch * 2;
  sc.secret = random_secret();
  StackConfig cc = sc;
  cc.local_addrs.clear();
  for (std::uint32_t k = 0; k < client_addrs; ++k) {
    cc.local_addrs.push_back(Ipv4Addr::from_octets(198, 19, static_cast<std::uint8_t>(k / 250), static_cast<std::uint8_t>(1 + k % 250)));
  }
  cc.secret = random_secret();
  Instant now{std::chrono::seconds{1}};
  Stack server(sc, now);
  Stack client(cc, now);
  Server srv;
  Client cli;
  cli.conns.reserve(n);
  if (!server.listen(server_addr, 80, srv)) {
    std::fprintf(stderr, "riptide-million: listen failed\n");
    return 1;
  }
  const double rss1 = rss_mib();

  // Moves packets both ways until both transmit queues are empty.
  std::uint64_t packets = 0;
  auto pump = [&] {
    for (bool moved = true; moved;) {
      moved = false;
      client.engine().drain_tx([&](std::span<const std::byte> p) {
        server.engine().input(p, now);
        ++packets;
        moved = true;
      });
      server.engine().drain_tx([&](std::span<const std::byte> p) {
        client.engine().input(p, now);
        ++packets;
        moved = true;
      });
    }
  };
  // Delivers what is queued, lets `dt` of virtual time pass (timers), delivers again.
  auto step = [&](Duration dt) {
    pump();
    now += dt;
    client.advance(now);
    server.advance(now);
    pump();
  };

  // Open: batches of connect() calls, each batch's handshakes pumped through.
  auto t0 = std::chrono::steady_clock::now();
  std::uint32_t opened = 0, refused = 0;
  while (opened + refused < n) {
    const std::uint32_t todo = std::min(batch, n - opened - refused);
    for (std::uint32_t i = 0; i < todo; ++i) {
      ConnectOptions o;
      o.local_addr = cc.local_addrs[(opened + refused) % client_addrs];
      if (client.connect(server_addr, 80, cli, o)) ++opened;
      else ++refused;
    }
    step(std::chrono::microseconds{100});
  }
  const double open_s = since(t0);
  const double rss2 = rss_mib();
  std::printf("riptide-million: %u connections asked, %llu established (client side), %llu accepted (server side), %u refused locally\n",
              n, static_cast<unsigned long long>(cli.connected), static_cast<unsigned long long>(srv.accepted), refused);
  std::printf("open: %.2f s wall (%.0f connections/s, both ends on one thread, %llu packets)\n", open_s,
              static_cast<double>(cli.connected) / open_s, static_cast<unsigned long long>(packets));

  // Idle: 10 minutes of virtual time in 1 s steps (no keep-alive by default: the
  // timer wheel has nothing to fire; what this measures is advancing over idle records).
  t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < 600; ++s) step(std::chrono::seconds{1});
  const double idle_s = since(t0);
  std::printf("idle: 600 s of virtual time in %.3f s wall; established still %llu / %llu\n", idle_s,
              static_cast<unsigned long long>(client.connections_by_state()[static_cast<std::size_t>(State::Established)]),
              static_cast<unsigned long long>(server.connections_by_state()[static_cast<std::size_t>(State::Established)]));

  // Active: a 64-byte request on every connection, echoed.
  const std::byte req[64] = {};
  t0 = std::chrono::steady_clock::now();
  std::uint64_t sent = 0;
  for (std::size_t i = 0; i < cli.conns.size(); ++i) {
    if (client.send(cli.conns[i], req)) ++sent;
    if ((i + 1) % batch == 0) step(std::chrono::microseconds{100});
  }
  step(std::chrono::milliseconds{200});  // and the delayed ACKs of the replies
  const double active_s = since(t0);
  const double rss3 = rss_mib();
  std::printf("active: %llu requests sent, %llu served, %llu replies in %.2f s wall (%.0f round trips/s)\n",
              static_cast<unsigned long long>(sent), static_cast<unsigned long long>(srv.requests),
              static_cast<unsigned long long>(cli.replies), active_s, static_cast<double>(cli.replies) / active_s);

  // The connection and TIME-WAIT tables are allocated (and touched) when a Stack is
  // made, sized by max_connections: the cost of a connection is mostly paid up front.
  const double endpoints = 2.0 * static_cast<double>(cli.connected);
  const double per_conn_est = (rss2 - rss0) * 1024.0 * 1024.0 / endpoints;
  const double per_conn_act = (rss3 - rss0) * 1024.0 * 1024.0 / endpoints;
  std::printf("memory (resident): %.0f MiB before the stacks, %.0f MiB with both stacks and no connection, "
              "%.0f MiB established, %.0f MiB after the requests\n", rss0, rss1, rss2, rss3);
  std::printf("memory per connection endpoint (the tables sized for N, allocated at start-up, and what grew): "
              "%.0f bytes established and idle, %.0f bytes after one exchange; growth after start-up %.0f / %.0f bytes\n",
              per_conn_est, per_conn_act, (rss2 - rss1) * 1024.0 * 1024.0 / endpoints,
              (rss3 - rss1) * 1024.0 * 1024.0 / endpoints);
  std::printf("server counters: tcp_drop_no_memory %llu, tcp_syn_cookie_pressure %llu, tx_queue_full %llu\n",
              static_cast<unsigned long long>(server.counters()[Counter::tcp_drop_no_memory]),
              static_cast<unsigned long long>(server.counters()[Counter::tcp_syn_cookie_pressure]),
              static_cast<unsigned long long>(server.counters()[Counter::tx_queue_full] + client.counters()[Counter::tx_queue_full]));
  return cli.connected == n && srv.accepted == n ? 0 : 1;
}
