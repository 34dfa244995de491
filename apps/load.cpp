// riptide-load: a load generator on riptide (the client side): CRR, RR and STREAM
// against any TCP server (riptide-httpd/-echo, Linux servers), raw payloads or
// HTTP/1.1, paced or flat out, on one or several worker lcores.
//   riptide-load [EAL args] -- --server IP:PORT [--server ...] [--mode crr|rr|stream]
//                [--rate N] [--concurrency N] [--duration S | --count N]
//                [--request-size N] [--response-size N] [--http [--path P] [--host H]]
//                [--closer client|server] [--stream send|receive]
//                [--local-addrs A[-B]] [--local-ports LO-HI] [--workers N]
//                [--timeout-ms MS] [--json FILE] [--quiet] [--config FILE] [--set K=V ...]
// README "riptide-load" documents the flags and the JSON schema. The engine is
// apps/common/load.hpp; this file only parses flags, splits the load over the
// workers, prints the progress line each second and the summary.
//
// Prints "riptide-load: running ..." once the runtime is up, one progress line a
// second, the summary, and exits 0 when every transaction succeeded (and, with
// --count, exactly that many completed), 1 otherwise.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/load.hpp"
#include "common/program.hpp"

namespace {

using namespace riptide;
using namespace riptide::apps::load;

// "A-B" (or "A") as two numbers.
bool parse_range(const std::string& text, std::uint64_t& lo, std::uint64_t& hi) {
  const auto dash = text.find('-');
  try {
    std::size_t used = 0;
    lo = std::stoull(text.substr(0, dash), &used);
    if (used != (dash == std::string::npos ? text.size() : dash)) return false;
    if (dash == std::string::npos) {
      hi = lo;
      return true;
    }
    const std::string rest = text.substr(dash + 1);
    hi = std::stoull(rest, &used);
    return used == rest.size() && lo <= hi;
  } catch (const std::exception&) {
    return false;
  }
}

// Share i of `total` split over `n` as evenly as possible.
std::uint64_t share(std::uint64_t total, std::uint64_t n, std::uint64_t i) {
  return total / n + (i < total % n ? 1 : 0);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"riptide-load: load generator (CRR, RR, STREAM) on the riptide TCP stack", "riptide-load"};
  riptide::apps::CommonFlags flags;
  riptide::apps::add_common_flags(app, flags);
  LoadParams p;
  std::string mode = "crr", closer = "client", stream = "send";
  std::vector<std::string> servers;
  bool http = false;
  double duration_s = 0;
  unsigned timeout_ms = 5000;
  std::string json_path;
  bool quiet = false;
  RunDescription run;
  app.add_option("--server", servers, "server IP:PORT (repeatable: connections go round robin)")->required();
  app.add_option("--mode", mode, "crr (connect/request/response/close), rr (persistent), stream (bulk)")
      ->check(CLI::IsMember({"crr", "rr", "stream"}));
  app.add_option("--rate", p.rate, "new connections/s (crr) or requests/s (rr), over all workers; 0: unlimited")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--concurrency", p.concurrency, "connections in flight (crr) or open (rr, stream)")
      ->check(CLI::Range(1u, 10000000u));
  app.add_option("--duration", duration_s, "seconds to run (default 10 unless --count)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--count", p.count, "transactions to complete, then stop (crr: connections, rr: requests, "
                                     "stream: transfers)");
  app.add_option("--request-size", p.request_size, "raw request bytes (stream send: bytes per connection, 0: "
                                                   "until the end)");
  app.add_option("--response-size", p.response_size, "raw response bytes expected (stream receive: bytes per "
                                                     "connection, 0: until the server closes)");
  app.add_flag("--http", http, "HTTP/1.1 GET; the response is framed by Content-Length");
  app.add_option("--path", p.http_path, "HTTP request target");
  app.add_option("--host", p.http_host, "HTTP Host header");
  app.add_option("--closer", closer, "who sends the first FIN in crr/stream: client or server")
      ->check(CLI::IsMember({"client", "server"}));
  app.add_option("--stream", stream, "stream direction: send (client to server) or receive")
      ->check(CLI::IsMember({"send", "receive"}));
  app.add_option("--timeout-ms", timeout_ms, "a connection without progress this long is aborted (timeout)")
      ->check(CLI::Range(1u, 3600000u));
  app.add_option("--json", json_path, "write the summary as JSON to FILE");
  app.add_flag("--quiet", quiet, "no progress line each second");
  // These three are configuration keys: they go in as --set overrides.
  app.add_option_function<std::string>(
      "--local-addrs",
      [&](const std::string& v) {
        const auto dash = v.find('-');
        auto a = Ipv4Addr::parse(v.substr(0, dash));
        auto b = dash == std::string::npos ? a : Ipv4Addr::parse(v.substr(dash + 1));
        if (!a || !b || b->value < a->value || b->value - a->value >= 64) {
          throw CLI::ValidationError("--local-addrs", "wants A or A-B, at most 64 addresses: " + v);
        }
        flags.sets.push_back("ip.address=" + to_string(*a));
        flags.sets.push_back("ip.address_count=" + std::to_string(b->value - a->value + 1));
      },
      "client addresses A or A-B (consecutive; every one is ours, ARP answered)");
  app.add_option_function<std::string>(
      "--local-ports",
      [&](const std::string& v) {
        std::uint64_t lo = 0, hi = 0;
        if (!parse_range(v, lo, hi) || lo == 0 || hi > 65535) {
          throw CLI::ValidationError("--local-ports", "wants LO-HI within 1-65535: " + v);
        }
        flags.sets.push_back("tcp.ephemeral_port_min=" + std::to_string(lo));
        flags.sets.push_back("tcp.ephemeral_port_max=" + std::to_string(hi));
      },
      "client (ephemeral) port range LO-HI");
  app.add_option_function<unsigned>(
      "--workers", [&](unsigned n) { flags.sets.push_back("lcores.workers=" + std::to_string(n)); },
      "worker lcores (EAL -l must give as many); each runs its share of the load")
      ->check(CLI::Range(1u, 128u));
  int status = 0;
  auto rt = riptide::apps::start_program(argc, argv, app, flags, status);
  if (!rt) return status;

  p.mode = mode == "rr" ? Mode::Rr : mode == "stream" ? Mode::Stream : Mode::Crr;
  p.protocol = http ? Protocol::Http : Protocol::Raw;
  p.closer = closer == "server" ? Closer::Server : Closer::Client;
  p.stream = stream == "receive" ? StreamDirection::Receive : StreamDirection::Send;
  p.timeout = std::chrono::milliseconds{timeout_ms};
  if (duration_s == 0 && p.count == 0) duration_s = 10;
  p.duration = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(duration_s));
  for (const auto& s : servers) {
    auto e = parse_endpoint(s);
    if (!e) {
      std::fprintf(stderr, "riptide-load: --server wants IP:PORT, got '%s'\n", s.c_str());
      return 1;
    }
    p.servers.push_back(*e);
  }
  if (p.mode == Mode::Stream && p.protocol == Protocol::Http && p.stream == StreamDirection::Send) {
    std::fprintf(stderr, "riptide-load: --mode stream --stream send is raw only (no --http)\n");
    return 1;
  }
  const StackConfig& sc = rt->worker(0).stack().config();
  p.local_addrs = sc.local_addrs;

  // Each worker runs its share: concurrency, count and rate split over the workers
  // that get at least one connection.
  const std::size_t workers = rt->worker_count();
  const std::uint64_t active_workers = std::min<std::uint64_t>(workers, p.concurrency);
  std::vector<std::unique_ptr<LoadGenerator>> gens;
  for (std::size_t i = 0; i < workers; ++i) {
    LoadParams wp = p;
    wp.concurrency = i < active_workers ? static_cast<std::uint32_t>(share(p.concurrency, active_workers, i)) : 0;
    wp.count = p.count > 0 && i < active_workers ? share(p.count, active_workers, i) : 0;
    if (p.count > 0 && wp.count == 0) wp.concurrency = 0;
    wp.rate = i < active_workers ? p.rate / static_cast<double>(active_workers) : 0;
    gens.push_back(std::make_unique<LoadGenerator>(rt->worker(i).stack(), wp));
    rt->worker(i).set_poll_hook(
        [](void* ctx, Stack&, Instant now) { static_cast<LoadGenerator*>(ctx)->poll(now); }, gens.back().get());
  }
  run.params = p;
  run.workers = static_cast<unsigned>(workers);
  run.local_port_min = sc.tcp.ephemeral_port_min;
  run.local_port_max = sc.tcp.ephemeral_port_max;

  std::string targets;
  for (const auto& e : p.servers) targets += (targets.empty() ? "" : ",") + to_string(e);
  std::printf("riptide-load: running %s %s against %s from %s (+%zu), %zu worker(s), concurrency %u, %s\n",
              std::string(to_string(p.mode)).c_str(), std::string(to_string(p.protocol)).c_str(), targets.c_str(),
              to_string(p.local_addrs.front()).c_str(), p.local_addrs.size() - 1, workers, p.concurrency,
              p.count > 0 ? ("count " + std::to_string(p.count)).c_str()
                          : ("duration " + std::to_string(duration_s) + " s").c_str());
  std::fflush(stdout);

  // The reporter: a progress line a second (figures read while the workers run,
  // see load.hpp "Thread-safety"), and the end of the run once every generator is
  // done. A hard stop guards against a run that cannot end (duration + slack).
  std::mutex m;
  std::condition_variable cv;
  bool exiting = false;
  std::vector<ProgressSample> progress;  // the reporter's, read after it joined
  std::thread reporter([&] {
    const auto t0 = std::chrono::steady_clock::now();
    auto next = t0 + std::chrono::seconds{1};
    const auto hard_stop = t0 + std::chrono::duration<double>(duration_s + 60.0 + 3 * timeout_ms / 1000.0);
    LoadStats prev;
    auto prev_h = std::make_unique<Histogram>();
    auto cur_h = std::make_unique<Histogram>();
    std::unique_lock lk(m);
    while (!exiting) {
      cv.wait_for(lk, std::chrono::milliseconds{20});
      if (exiting) break;
      const bool all_done = std::all_of(gens.begin(), gens.end(), [](const auto& g) { return g->finished(); });
      const auto now = std::chrono::steady_clock::now();
      if (all_done || now > hard_stop) {
        riptide::runtime::Runtime::request_stop();
        break;
      }
      if (now < next) continue;
      const double dt = std::chrono::duration<double>(now - (next - std::chrono::seconds{1})).count();
      next += std::chrono::seconds{1};
      LoadStats cur;
      cur_h->reset();
      for (const auto& g : gens) {
        cur.add(g->stats());
        cur_h->add(g->latency());
      }
      LoadStats d = cur;
      d.connections -= prev.connections;
      d.transactions -= prev.transactions;
      for (std::size_t i = 0; i < kErrorKinds; ++i) d.errors[i] -= prev.errors[i];
      Histogram interval = *cur_h;
      interval.subtract(*prev_h);
      const double t = std::chrono::duration<double>(now - t0).count();
      progress.push_back({t, static_cast<double>(d.connections) / dt, static_cast<double>(d.transactions) / dt,
                          cur.active, d.error_total()});
      if (!quiet) {
        std::printf("%s\n", progress_line(t, d, dt, cur.active, interval).c_str());
        std::fflush(stdout);
      }
      prev = cur;
      std::swap(prev_h, cur_h);
    }
  });
  const int rc = rt->run({flags.stats, "riptide-load"});
  {
    std::lock_guard lk(m);
    exiting = true;
  }
  cv.notify_all();
  reporter.join();

  Report r;
  r.run = run;
  r.progress = std::move(progress);
  Instant first = Instant::max(), last{};
  bool all_finished = true;
  for (const auto& g : gens) {
    r.totals.add(g->stats());
    r.latency.add(g->latency());
    all_finished = all_finished && g->finished();
    if (g->started_at() != Instant{}) first = std::min(first, g->started_at());
    last = std::max(last, g->last_completion_at());
  }
  r.totals.active = 0;
  r.seconds = first != Instant::max() && last > first ? std::chrono::duration<double>(last - first).count() : 0;
  r.stack = stack_figures(rt->total_counters());
  std::printf("%s\n", summary_text(r).c_str());
  bool failed = r.totals.error_total() > 0 || !all_finished || (p.count > 0 && r.totals.transactions != p.count);
  if (!json_path.empty()) {
    std::FILE* f = std::fopen(json_path.c_str(), "w");
    if (f == nullptr || std::fputs(to_json(r).c_str(), f) < 0 || std::fclose(f) != 0) {
      std::fprintf(stderr, "riptide-load: cannot write %s\n", json_path.c_str());
      failed = true;
    }
  }
  std::printf("riptide-load: %s\n", failed ? "FAILED" : "ok");
  std::fflush(stdout);
  rt.reset();
  riptide::runtime::cleanup_eal();
  return rc != 0 ? rc : (failed ? 1 : 0);
}
