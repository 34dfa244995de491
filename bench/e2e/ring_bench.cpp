// ring-bench: riptide against itself in one process, on two net_ring ports joined
// back to back (rte_eth_from_rings, as tests/dpdk/ring_pair_test.cpp does): the
// client is riptide-load's engine (apps/common/load.hpp) on one Worker, the server
// riptide-echo's handler (apps/common/servers.hpp) on another. No memif, no second
// process: what is left is the two stacks, the ring PMD and the applications.
//
//   ring-bench [EAL args: --no-huge -m 512 --no-pci -l 0,1] --
//              [--mode crr|rr|stream] [--concurrency 64] [--duration 5 | --count N]
//              [--rate R] [--request-size 64] [--response-size 64]
//              [--json FILE] [--quiet] [--lockstep [--warmup N]] [--server-set KEY=VALUE ...]
//
// Threads (default): the server Worker polls on the second lcore, the client on
// the main one; a progress line a second; the JSON is riptide-load's
// ("riptide-load/1") with the per-second progress, the link ("net_ring") and the
// server's packet, retransmission and drop figures added.
//
// --lockstep: one thread polls client and server in turn, deterministically, for
// valgrind --tool=callgrind (bench/e2e/callgrind.sh): the server's polls go
// through server_poll_measured() once --warmup transactions have completed (and
// through server_poll_warmup() before), so
//   valgrind --tool=callgrind --toggle-collect='*server_poll_measured*' ring-bench ...
// counts the server's instructions only (PMD, Interface, Stack, EchoServer), for
// the "lockstep" transactions the JSON reports; client_poll_measured() does the
// same for the client (riptide-load's engine on its stack).
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <CLI/CLI.hpp>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "common/load.hpp"
#include "common/servers.hpp"
#include "io/eth_port.hpp"
#include "runtime/config.hpp"
#include "runtime/runtime.hpp"
#include "runtime/worker.hpp"

namespace {

using namespace riptide;
using namespace riptide::apps::load;

std::atomic<bool> g_stop{false};

}  // namespace

// The server's poll, in two named copies so callgrind can count one of them
// (noipa: not inlined, not folded into one by identical-code folding).
[[gnu::noipa]] void server_poll_warmup(riptide::runtime::Worker& w, riptide::Instant now) { w.poll_once(now); }
[[gnu::noipa]] void server_poll_measured(riptide::runtime::Worker& w, riptide::Instant now) { w.poll_once(now); }
// The client's (riptide-load's engine on its own stack), likewise.
[[gnu::noipa]] void client_poll_warmup(riptide::runtime::Worker& w, riptide::Instant now) { w.poll_once(now); }
[[gnu::noipa]] void client_poll_measured(riptide::runtime::Worker& w, riptide::Instant now) { w.poll_once(now); }

namespace {

int server_loop(void* arg) {
  auto& w = *static_cast<runtime::Worker*>(arg);
  while (!g_stop.load(std::memory_order_relaxed)) w.poll_once(runtime::tsc_now());
  return 0;
}

struct Side {
  runtime::RuntimeConfig cfg;
  std::unique_ptr<io::EthPort> port;
  std::unique_ptr<runtime::Worker> worker;
};

// One side: the configuration a program would load (so the same defaults and
// checks apply), a port made from two rings, a Worker.
std::string make_side(Side& side, const std::vector<std::string>& sets, int port_id, rte_mempool* pool,
                      const wire::MacAddr& mac) {
  auto cfg = runtime::load_config("", sets);
  if (auto* err = std::get_if<runtime::ConfigError>(&cfg)) return err->message;
  side.cfg = std::get<runtime::RuntimeConfig>(cfg);
  io::PortOptions po;
  po.port_id = port_id;
  auto port = io::EthPort::open(po, pool);
  if (!port) return port.error();
  side.port = std::make_unique<io::EthPort>(std::move(*port));
  side.cfg.mac = mac;
  side.worker = std::make_unique<runtime::Worker>(
      *side.port, pool, runtime::stack_config(side.cfg, random_secret()), runtime::interface_config(side.cfg, mac),
      runtime::WorkerOptions{0, side.cfg.burst, side.cfg.tx_drain_us, nullptr, false, side.cfg.shed_when_behind, 0,
                             side.cfg.syns_last},
      runtime::tsc_now());
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  auto rest = runtime::init_eal(argc, argv);
  if (!rest) {
    std::fprintf(stderr, "ring-bench: %s\n", rest.error().c_str());
    return 1;
  }
  CLI::App app{"ring-bench: riptide-load's engine against riptide-echo's handler, two lcores, net_ring ports",
               "ring-bench"};
  LoadParams p;
  std::string mode = "crr", json_path;
  double duration_s = 0;
  bool quiet = false, lockstep = false;
  std::uint64_t warmup = 0;
  std::uint32_t max_conns = 16384, max_time_wait = 65536;
  app.add_option("--mode", mode, "crr, rr or stream")->check(CLI::IsMember({"crr", "rr", "stream"}));
  app.add_option("--concurrency", p.concurrency, "connections in flight (crr) or open (rr, stream)");
  app.add_option("--duration", duration_s, "seconds (default 5 unless --count)");
  app.add_option("--count", p.count, "transactions, then stop");
  app.add_option("--rate", p.rate, "offered transactions per second (0: flat out)");
  app.add_option("--request-size", p.request_size, "request bytes (stream: 0 = until the end)");
  app.add_option("--response-size", p.response_size, "response bytes");
  app.add_option("--json", json_path, "write riptide-load's JSON (with progress and server figures) to FILE");
  app.add_flag("--quiet", quiet, "no progress lines");
  app.add_flag("--lockstep", lockstep, "one thread, client and server polled in turn (for callgrind)");
  app.add_option("--warmup", warmup, "lockstep: transactions before server_poll_measured() takes over");
  app.add_option("--max-connections", max_conns, "limits.max_connections on both sides");
  app.add_option("--max-time-wait", max_time_wait, "limits.max_time_wait on the client (it closes first)");
  std::vector<std::string> server_sets;
  app.add_option("--server-set", server_sets, "KEY=VALUE: a configuration key for the server (repeatable)");
  std::vector<std::string> args(rest->rbegin(), rest->rend() - 1);
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  p.mode = mode == "rr" ? Mode::Rr : mode == "stream" ? Mode::Stream : Mode::Crr;
  if (p.mode == Mode::Stream) p.request_size = 0;  // send until the end of the run
  if (duration_s == 0 && p.count == 0) duration_s = 5;
  p.duration = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(duration_s));
  if (p.count > 0) p.count += warmup;
  if (!lockstep && rte_lcore_count() < 2) {
    std::fprintf(stderr, "ring-bench: two lcores needed (EAL -l 0,1), or --lockstep\n");
    return 1;
  }

  rte_mempool* pool = rte_pktmbuf_pool_create("ring_bench_mbufs", 32767, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                              static_cast<int>(rte_socket_id()));
  rte_ring* c2s = rte_ring_create("rb_c2s", 4096, static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
  rte_ring* s2c = rte_ring_create("rb_s2c", 4096, static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (pool == nullptr || c2s == nullptr || s2c == nullptr) {
    std::fprintf(stderr, "ring-bench: mbuf pool or rings could not be made\n");
    return 1;
  }
  const int cid = rte_eth_from_rings("rb_client", &s2c, 1, &c2s, 1, static_cast<unsigned>(rte_socket_id()));
  const int sid = rte_eth_from_rings("rb_server", &c2s, 1, &s2c, 1, static_cast<unsigned>(rte_socket_id()));
  // The client: 16 addresses (as riptide-load --local-addrs) so ports last at high
  // connection rates; TIME-WAIT records are on the client, which closes first.
  Side client, server;
  const std::string mc = "limits.max_connections=" + std::to_string(max_conns);
  std::vector<std::string> cs = {"ip.address=198.18.0.2", "ip.address_count=16", mc,
                                 "limits.max_time_wait=" + std::to_string(max_time_wait)};
  std::vector<std::string> ss = {"ip.address=198.18.0.1", mc};
  ss.insert(ss.end(), server_sets.begin(), server_sets.end());
  std::string err = make_side(client, cs, cid, pool, wire::MacAddr{{2, 0, 0, 0, 0, 2}});
  if (err.empty()) err = make_side(server, ss, sid, pool, wire::MacAddr{{2, 0, 0, 0, 0, 1}});
  if (!err.empty()) {
    std::fprintf(stderr, "ring-bench: %s\n", err.c_str());
    return 1;
  }

  apps::EchoServer echo;
  if (!server.worker->stack().listen(Ipv4Addr{}, 7, echo)) {
    std::fprintf(stderr, "ring-bench: listen failed\n");
    return 1;
  }
  p.servers = {Endpoint{server.cfg.address, 7}};
  p.local_addrs.assign(client.worker->stack().config().local_addrs.begin(),
                       client.worker->stack().config().local_addrs.end());
  LoadGenerator gen(client.worker->stack(), p);
  client.worker->set_poll_hook([](void* ctx, Stack&, Instant now) { static_cast<LoadGenerator*>(ctx)->poll(now); },
                               &gen);
  client.worker->interface().announce();
  server.worker->interface().announce();

  std::vector<ProgressSample> progress;
  std::uint64_t measured_from = 0, measured_polls = 0;
  if (lockstep) {
    bool measuring = warmup == 0;
    while (!gen.finished()) {
      const Instant now = runtime::tsc_now();
      if (measuring) {
        client_poll_measured(*client.worker, now);
      } else {
        client_poll_warmup(*client.worker, now);
      }
      if (!measuring && gen.stats().transactions >= warmup) {
        measuring = true;
        measured_from = gen.stats().transactions;
      }
      if (measuring) {
        server_poll_measured(*server.worker, now);
        ++measured_polls;
      } else {
        server_poll_warmup(*server.worker, now);
      }
    }
  } else {
    unsigned lcore = rte_get_next_lcore(rte_lcore_id(), 1, 0);
    if (rte_eal_remote_launch(server_loop, server.worker.get(), lcore) != 0) {
      std::fprintf(stderr, "ring-bench: cannot launch the server on lcore %u\n", lcore);
      return 1;
    }
    const Instant t0 = runtime::tsc_now();
    Instant next = t0 + std::chrono::seconds{1};
    std::uint64_t last_tx = 0, last_conn = 0, last_errors = 0;
    std::uint32_t spin = 0;
    while (!gen.finished()) {
      const Instant now = runtime::tsc_now();
      client.worker->poll_once(now);
      if ((++spin & 255) != 0 || now < next) continue;
      const LoadStats& s = gen.stats();
      const double t = std::chrono::duration<double>(now - t0).count();
      const double dt = std::chrono::duration<double>(now - (next - std::chrono::seconds{1})).count();
      progress.push_back({t, static_cast<double>(s.connections - last_conn) / dt,
                          static_cast<double>(s.transactions - last_tx) / dt, s.active,
                          s.error_total() - last_errors});
      last_errors = s.error_total();
      if (!quiet) {
        std::printf("ring-bench: t=%.0fs conn/s %.0f req/s %.0f active %llu errors %llu\n", t,
                    static_cast<double>(s.connections - last_conn) / dt,
                    static_cast<double>(s.transactions - last_tx) / dt, static_cast<unsigned long long>(s.active),
                    static_cast<unsigned long long>(s.error_total()));
        std::fflush(stdout);
      }
      last_tx = s.transactions;
      last_conn = s.connections;
      next += std::chrono::seconds{1};
    }
    g_stop.store(true);
    rte_eal_mp_wait_lcore();
  }
  Report r;
  r.progress = std::move(progress);
  r.run.params = p;
  r.run.workers = 1;
  r.run.local_port_min = client.cfg.tcp.ephemeral_port_min;
  r.run.local_port_max = client.cfg.tcp.ephemeral_port_max;
  r.totals = gen.stats();
  r.totals.active = 0;
  r.latency = gen.latency();
  r.seconds = std::chrono::duration<double>(gen.last_completion_at() - gen.started_at()).count();
  r.stack = stack_figures(client.worker->stack().counters());
  const StackFigures sv = stack_figures(server.worker->stack().counters());
  std::printf("%s\n", summary_text(r).c_str());
  std::printf("ring-bench: server: %llu packets in, %llu out, %llu retransmitted, %llu drops; %llu connections\n",
              static_cast<unsigned long long>(sv.packets_in), static_cast<unsigned long long>(sv.packets_out),
              static_cast<unsigned long long>(sv.retransmitted), static_cast<unsigned long long>(sv.drops),
              static_cast<unsigned long long>(echo.stats().connections));
  if (lockstep) {
    std::printf("ring-bench: lockstep: %llu transactions measured after %llu of warm-up, %llu server polls\n",
                static_cast<unsigned long long>(r.totals.transactions - measured_from),
                static_cast<unsigned long long>(measured_from), static_cast<unsigned long long>(measured_polls));
  }
  if (!json_path.empty()) {
    std::string j = to_json(r);
    const auto close = j.rfind('}');
    char extra[512];
    std::snprintf(extra, sizeof extra,
                  ",\n  \"link\": \"net_ring\",\n  \"server_stack\": {\"packets_in\": %llu, \"packets_out\": %llu, "
                  "\"retransmitted_segments\": %llu, \"drops\": %llu},\n  \"lockstep\": {\"on\": %s, "
                  "\"warmup_transactions\": %llu, \"measured_transactions\": %llu, \"server_polls\": %llu}\n",
                  static_cast<unsigned long long>(sv.packets_in), static_cast<unsigned long long>(sv.packets_out),
                  static_cast<unsigned long long>(sv.retransmitted), static_cast<unsigned long long>(sv.drops),
                  lockstep ? "true" : "false", static_cast<unsigned long long>(measured_from),
                  static_cast<unsigned long long>(lockstep ? r.totals.transactions - measured_from : 0),
                  static_cast<unsigned long long>(measured_polls));
    // Insert before the object's closing brace (after the last member's newline).
    const auto last_member_end = j.rfind('\n', close);
    j = j.substr(0, last_member_end) + extra + "}\n";
    std::FILE* f = std::fopen(json_path.c_str(), "w");
    if (f == nullptr || std::fputs(j.c_str(), f) < 0 || std::fclose(f) != 0) {
      std::fprintf(stderr, "ring-bench: cannot write %s\n", json_path.c_str());
      return 1;
    }
  }
  const bool ok = r.totals.error_total() == 0 && r.totals.transactions > 0;
  client.worker.reset();
  server.worker.reset();
  client.port.reset();
  server.port.reset();
  rte_eal_cleanup();
  return ok ? 0 : 1;
}
