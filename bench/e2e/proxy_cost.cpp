// riptide-proxy's cost per proxied connection, for callgrind (issue 12): a client
// Stack, the proxy's Stack with its ProxyWorker, and a backend Stack, joined in
// memory (packets routed by destination address) on a virtual clock, one thread.
// The client runs CRR through the proxy (connect, 64-byte request, 64-byte echo,
// the client closes; `--concurrency` in flight); the backend echoes and closes
// when the client's FIN arrives through the proxy.
//
// Everything the proxy does happens inside proxy_step_measured(): its Stack's
// input of every packet addressed to it, its timers, ProxyWorker::poll and the
// drain of what it sends. `valgrind --tool=callgrind
// --toggle-collect='*proxy_step_measured*'` counts exactly that; the program
// prints how many CRR transactions completed after the warm-up, so
// instructions per proxied connection = collected Ir / measured transactions.
//
// What it leaves out, compared with bench/e2e/callgrind.sh's server figure: no
// Ethernet/ARP, no mbufs, no PMD (the Stacks exchange IPv4 packets). It counts the
// TCP work on both legs, the relay and the proxy's timers.
//
//   proxy-cost [--concurrency N] [--warmup N] [--count N]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/proxy.hpp"
#include "common/byte_order.hpp"
#include "stack/stack.hpp"

namespace {

using namespace riptide;
using namespace riptide::apps::proxy;
using riptide::apps::Endpoint;

const Ipv4Addr kClient = Ipv4Addr::from_octets(198, 18, 0, 1);
const Ipv4Addr kProxy = Ipv4Addr::from_octets(198, 18, 0, 5);
const Ipv4Addr kBackend = Ipv4Addr::from_octets(198, 18, 1, 2);
constexpr std::uint16_t kFront = 8080;
constexpr std::uint16_t kBack = 9000;

StackConfig config(Ipv4Addr addr, std::uint8_t key) {
  StackConfig c;
  c.local_addrs = {addr};
  c.secret = {key, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, key};
  c.max_connections = 4096;
  c.max_time_wait = 65536;
  // A short TIME-WAIT (virtual time runs at 10 us a step): records are still
  // made and expired, but 64 connections in flight do not run out of ports.
  c.tcp.time_wait = std::chrono::milliseconds{1};
  return c;
}

class Client final : public Handler {
 public:
  explicit Client(Stack& s) : stack_(s) { request_.fill(std::byte{'q'}); }
  std::uint64_t transactions = 0;
  std::uint64_t failures = 0;
  void open() {
    if (stack_.connect(kProxy, kFront, *this)) {
      ++active_;
    } else {
      ++failures;
    }
  }
  std::size_t active() const { return active_; }
  void on_connected(Stack& s, ConnId c) override { (void)s.send(c, request_); }
  void on_data(Stack& s, ConnId c, std::span<const std::byte> d) override {
    // 64 bytes come back in one segment; a response split in two is counted at its end.
    received_ += d.size();
    if (received_ >= 64) {
      received_ -= 64;
      (void)s.close(c);
      ++transactions;
      --active_;
    }
  }
  void on_closed(Stack&, ConnId, CloseReason) override {
    ++failures;
    --active_;
  }

 private:
  Stack& stack_;
  std::array<std::byte, 64> request_{};
  std::size_t active_ = 0;
  std::size_t received_ = 0;
};

class Echo final : public Handler {
 public:
  void on_data(Stack& s, ConnId c, std::span<const std::byte> d) override { (void)s.send(c, d); }
  void on_peer_closed(Stack& s, ConnId c) override { (void)s.close(c); }
};

std::vector<std::vector<std::byte>> g_to_proxy;

// Packets a step sends, in one reused buffer (no allocation once warm, so the
// measured function counts no malloc of the harness's own).
struct Packets {
  std::vector<std::byte> bytes;
  std::vector<std::pair<std::size_t, std::size_t>> spans;  // offset, length
  void clear() {
    bytes.clear();
    spans.clear();
  }
  void add(std::span<const std::byte> p) {
    spans.emplace_back(bytes.size(), p.size());
    bytes.insert(bytes.end(), p.begin(), p.end());
  }
  std::span<const std::byte> operator[](std::size_t i) const { return {bytes.data() + spans[i].first, spans[i].second}; }
  std::size_t size() const { return spans.size(); }
};

// Everything the proxy does in one step.
inline void proxy_step(Stack& proxy, ProxyWorker& relay, Instant now, Packets& out) {
  // The engine, as the proxy's Worker drives it (no facade call per packet).
  for (const auto& p : g_to_proxy) proxy.engine().input(p, now);
  proxy.engine().advance(now);
  relay.poll(now);
  proxy.engine().drain_tx([&](std::span<const std::byte> p) { out.add(p); });
}
// The same after the warm-up. Not inlined: callgrind toggles on it (the copy of
// each packet out of the proxy's transmit queue into `out` is the host's, and is
// counted too: a memcpy a packet, as a host copies into its mbuf).
__attribute__((noinline)) void proxy_step_measured(Stack& proxy, ProxyWorker& relay, Instant now, Packets& out) {
  proxy_step(proxy, relay, now, out);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t concurrency = 64;
  std::uint64_t warmup = 2000, count = 20000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const std::uint64_t v = std::strtoull(argv[i + 1], nullptr, 10);
    if (a == "--concurrency") concurrency = v;
    else if (a == "--warmup") warmup = v;
    else if (a == "--count") count = v;
    else {
      std::fprintf(stderr, "proxy-cost: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  Instant now{std::chrono::seconds{1000}};
  Stack client(config(kClient, 1), now);
  Stack proxy(config(kProxy, 5), now);
  Stack backend(config(kBackend, 2), now);
  ProxyConfig pc;
  ListenerSpec l;
  l.bind = Endpoint{kProxy, kFront};
  l.backends.push_back(BackendSpec{Endpoint{kBackend, kBack}, 1});
  pc.listeners.push_back(l);
  ProxyWorker relay(proxy, pc);
  if (auto problem = relay.listen()) {
    std::fprintf(stderr, "proxy-cost: %s\n", problem->c_str());
    return 1;
  }
  Echo echo;
  if (!backend.listen(kBackend, kBack, echo)) return 1;
  Client c(client);

  std::vector<std::vector<std::byte>> out;
  Packets from_proxy;
  from_proxy.bytes.reserve(1 << 20);
  from_proxy.spans.reserve(4096);
  std::uint64_t measured_from = 0;
  bool measuring = false;
  std::uint64_t steps = 0;
  const std::uint64_t total = warmup + count;
  while (c.transactions < total) {
    while (c.active() < concurrency) c.open();
    now += std::chrono::microseconds{10};
    ++steps;
    // Client and backend: their packets out, then what reached them.
    out.clear();
    client.advance(now);
    backend.advance(now);
    client.drain_tx([&](std::span<const std::byte> p) { out.emplace_back(p.begin(), p.end()); });
    backend.drain_tx([&](std::span<const std::byte> p) { out.emplace_back(p.begin(), p.end()); });
    g_to_proxy.clear();
    for (auto& p : out) {
      if (p.size() >= 20 && Ipv4Addr{load_be32(p.data() + 16)} == kProxy) g_to_proxy.push_back(std::move(p));
    }
    if (!measuring && c.transactions >= warmup) {
      measuring = true;
      measured_from = c.transactions;
    }
    from_proxy.clear();
    if (measuring) {
      proxy_step_measured(proxy, relay, now, from_proxy);
    } else {
      proxy_step(proxy, relay, now, from_proxy);
    }
    for (std::size_t i = 0; i < from_proxy.size(); ++i) {
      const auto p = from_proxy[i];
      const Ipv4Addr dst{load_be32(p.data() + 16)};
      if (dst == kClient) client.input(p, now);
      else if (dst == kBackend) backend.input(p, now);
    }
    if (steps > 100000000) {
      std::fprintf(stderr, "proxy-cost: stuck after %llu transactions\n", static_cast<unsigned long long>(c.transactions));
      return 1;
    }
  }
  const std::uint64_t measured = c.transactions - measured_from;
  std::printf("proxy-cost: %llu proxied CRR transactions measured (after %llu warm-up), %llu failures, "
              "%.3f virtual seconds\n",
              static_cast<unsigned long long>(measured), static_cast<unsigned long long>(measured_from),
              static_cast<unsigned long long>(c.failures),
              std::chrono::duration<double>(now - Instant{std::chrono::seconds{1000}}).count());
  std::printf("measured_transactions %llu\n", static_cast<unsigned long long>(measured));
  return c.failures == 0 ? 0 : 1;
}
