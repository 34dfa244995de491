// riptide-load: a load generator on riptide (the client side): CRR, RR and STREAM
// against any TCP server (riptide-httpd/-echo, Linux servers), raw payloads or
// HTTP/1.1, paced or flat out, on one or several worker lcores.
//   riptide-load [EAL args] -- --server IP:PORT|[IPV6]:PORT [--server ...] [--mode crr|rr|stream]
//                [--rate N] [--concurrency N] [--duration S | --count N]
//                [--request-size N] [--response-size N] [--http [--path P] [--host H]]
//                [--closer client|server] [--stream send|receive]
//                [--local-addrs A[-B][,IPV6]] [--local-ports LO-HI] [--workers N]
//                [--timeout-ms MS] [--json FILE] [--quiet] [--config FILE] [--set K=V ...]
//   riptide-load [EAL args] -- --server IP:PORT --flood syn|ack|rst|data-closed|hold
//                --rate N [--duration S] [--count N] [--flood-sources A-B|A/LEN]
//                [--flood-source-ports LO-HI] [--flood-ports LO-HI] [--flood-window in|out]
//                [--flood-seq-stride N] [--flood-payload N] [--flood-seed N] [--hold-no-read] [--http]
//   riptide-load [EAL args] -- <a workload> --duration S --flood syn|ack|rst|data-closed
//                --flood-beside-rate N [--flood-json FILE] [--flood-... as above]
//   (lab flood modes, apps/common/flood.hpp: IPv4 only, 198.18.0.0/15, bounded in packets and time)
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

#include "common/flood.hpp"
#include "common/load.hpp"
#include "common/program.hpp"

namespace {

using namespace riptide;
using namespace riptide::apps::load;
namespace flood = riptide::apps::flood;

// Writes a --json report; false (said on stderr) when the file cannot be written.
bool write_json(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  const bool written = f != nullptr && std::fputs(text.c_str(), f) >= 0;
  const bool closed = f == nullptr || std::fclose(f) == 0;
  if (written && closed) return true;
  std::fprintf(stderr, "riptide-load: cannot write %s\n", path.c_str());
  return false;
}

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

// --flood: every worker runs its share of the flood (rate and count split, the
// source space interleaved); a line a second, the summary, the JSON. Exit 0 once
// the run ended by its count or duration.
int run_flood(riptide::runtime::Runtime& rt, const riptide::apps::CommonFlags& flags, flood::FloodParams fp,
              std::uint16_t target_port, const std::string& json_path, bool quiet) {
  const std::size_t workers = rt.worker_count();
  std::vector<std::unique_ptr<flood::FloodGenerator>> floods;
  std::vector<std::unique_ptr<flood::HoldGenerator>> holds;
  for (std::size_t i = 0; i < workers; ++i) {
    flood::FloodParams wp = fp;
    wp.rate = fp.rate / static_cast<double>(workers);
    wp.count = share(fp.count, workers, i);
    if (wp.count == 0) wp.count = 1;  // a worker without a share still sends one
    riptide::runtime::Worker& w = rt.worker(i);
    if (fp.kind == flood::Kind::Hold) {
      holds.push_back(std::make_unique<flood::HoldGenerator>(w.stack(), wp));
      w.set_poll_hook([](void* ctx, Stack&, Instant now) { static_cast<flood::HoldGenerator*>(ctx)->poll(now); },
                      holds.back().get());
    } else {
      floods.push_back(std::make_unique<flood::FloodGenerator>(w.stack(), wp, i, workers));
      w.set_poll_hook([](void* ctx, Stack&, Instant now) { static_cast<flood::FloodGenerator*>(ctx)->poll(now); },
                      floods.back().get());
    }
  }
  auto totals = [&] {
    flood::FloodStats t;
    for (const auto& g : floods) t.add(g->stats());
    for (const auto& g : holds) t.add(g->stats());
    return t;
  };
  auto all_done = [&] {
    return std::all_of(floods.begin(), floods.end(), [](const auto& g) { return g->finished(); }) &&
           std::all_of(holds.begin(), holds.end(), [](const auto& g) { return g->finished(); });
  };
  const std::string target = to_string(fp.target) + ":" + std::to_string(target_port);
  std::printf("riptide-load: running flood %s against %s, %.0f/s, at most %llu %s and %.1f s, %zu worker(s)\n",
              std::string(flood::to_string(fp.kind)).c_str(), target.c_str(), fp.rate,
              static_cast<unsigned long long>(fp.count), fp.kind == flood::Kind::Hold ? "connections" : "packets",
              std::chrono::duration<double>(fp.duration).count(), workers);
  std::fflush(stdout);

  std::mutex m;
  std::condition_variable cv;
  bool exiting = false;
  std::thread reporter([&] {
    const auto t0 = std::chrono::steady_clock::now();
    auto next = t0 + std::chrono::seconds{1};
    const auto hard_stop = t0 + fp.duration + std::chrono::seconds{30};
    flood::FloodStats prev;
    std::unique_lock lk(m);
    while (!exiting) {
      cv.wait_for(lk, std::chrono::milliseconds{20});
      if (exiting) break;
      const auto now = std::chrono::steady_clock::now();
      if (all_done() || now > hard_stop) {
        riptide::runtime::Runtime::request_stop();
        break;
      }
      if (now < next) continue;
      next += std::chrono::seconds{1};
      const flood::FloodStats cur = totals();
      if (!quiet) {
        const double t = std::chrono::duration<double>(now - t0).count();
        if (fp.kind == flood::Kind::Hold) {
          std::printf("t=%.0fs held %llu opened %llu failed %llu closed-by-server %llu bytes-held %llu\n", t,
                      static_cast<unsigned long long>(cur.hold_active),
                      static_cast<unsigned long long>(cur.hold_opened),
                      static_cast<unsigned long long>(cur.hold_failed),
                      static_cast<unsigned long long>(cur.hold_closed),
                      static_cast<unsigned long long>(cur.hold_bytes_held));
        } else {
          std::printf("t=%.0fs sent/s %llu sent %llu tx-full %llu\n", t,
                      static_cast<unsigned long long>(cur.sent() - prev.sent()),
                      static_cast<unsigned long long>(cur.sent()), static_cast<unsigned long long>(cur.tx_full));
        }
        std::fflush(stdout);
      }
      prev = cur;
    }
  });
  const int rc = rt.run({flags.stats, "riptide-load"});
  {
    std::lock_guard lk(m);
    exiting = true;
  }
  cv.notify_all();
  reporter.join();

  flood::FloodReport r;
  r.params = fp;
  r.target_port = target_port;
  r.workers = static_cast<unsigned>(workers);
  r.totals = totals();
  Instant first = Instant::max(), last{};
  for (const auto& g : floods) {
    if (g->started_at() != Instant{}) first = std::min(first, g->started_at());
    last = std::max(last, g->finished_at());
  }
  for (const auto& g : holds) {
    if (g->started_at() != Instant{}) first = std::min(first, g->started_at());
    last = std::max(last, g->finished_at());
  }
  r.seconds = first != Instant::max() && last > first ? std::chrono::duration<double>(last - first).count() : 0;
  r.stack = stack_figures(rt.total_counters());
  std::printf("%s\n", summary_text(r).c_str());
  bool failed = !all_done();
  if (!json_path.empty() && !write_json(json_path, to_json(r))) failed = true;
  std::printf("riptide-load: %s\n", failed ? "FAILED" : "ok");
  std::fflush(stdout);
  return rc != 0 ? rc : (failed ? 1 : 0);
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
  app.add_option("--server", servers, "server IP:PORT or [IPV6]:PORT (repeatable: connections go round robin)")
      ->required();
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
        // A comma-separated list of at most one IPv4 range and one IPv6 address.
        bool v4_seen = false, v6_seen = false;
        for (std::size_t at = 0; at <= v.size();) {
          const std::size_t comma = std::min(v.find(',', at), v.size());
          const std::string item = v.substr(at, comma - at);
          at = comma + 1;
          if (item.find(':') != std::string::npos) {
            // IPv6: one address (the runtime's [ip6] has one global address).
            const auto a = IpAddr::parse(item);
            if (!a || a->is_v4() || v6_seen || a->is_v6_link_local() || a->is_v6_multicast() ||
                a->is_unspecified()) {
              throw CLI::ValidationError("--local-addrs", "wants one global IPv6 address (ip6.address; no "
                                                          "ranges: [ip6] has one): " + v);
            }
            v6_seen = true;
            flags.sets.push_back("ip6.address=" + to_string(*a));
            continue;
          }
          const auto dash = item.find('-');
          auto a = Ipv4Addr::parse(item.substr(0, dash));
          auto b = dash == std::string::npos ? a : Ipv4Addr::parse(item.substr(dash + 1));
          if (v4_seen || !a || !b || b->value < a->value || b->value - a->value >= 64) {
            throw CLI::ValidationError("--local-addrs", "wants A or A-B, at most 64 IPv4 addresses, and/or "
                                                        "one IPv6 address, comma-separated: " + v);
          }
          v4_seen = true;
          flags.sets.push_back("ip.address=" + to_string(*a));
          flags.sets.push_back("ip.address_count=" + std::to_string(b->value - a->value + 1));
        }
      },
      "client addresses: IPv4 A or A-B (consecutive; every one is ours, ARP answered) and/or one IPv6 "
      "address (ip6.address), comma-separated");
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
  // Lab flood modes (apps/common/flood.hpp). --rate, --count and --duration count
  // packets (hold: connection opens) in flood mode.
  std::string flood_kind, flood_sources = "198.19.0.0/16", flood_source_ports = "1024-65535", flood_ports,
                          flood_window = "out";
  flood::FloodParams fp;
  app.add_option("--flood", flood_kind,
                 "lab flood instead of a workload: syn, ack, rst, data-closed (spoofed sources, built as frames) "
                 "or hold (open and keep --count idle connections); --rate (required), --count and --duration "
                 "then count packets (hold: connections); only 198.18.0.0/15, at most 600 s")
      ->check(CLI::IsMember({"syn", "ack", "rst", "data-closed", "hold"}));
  app.add_option("--flood-sources", flood_sources, "spoofed source addresses A-B or A/LEN, inside 198.18.0.0/15 "
                                                   "(default 198.19.0.0/16)");
  app.add_option("--flood-source-ports", flood_source_ports, "spoofed source ports LO-HI (default 1024-65535)");
  app.add_option("--flood-ports", flood_ports, "target ports LO-HI (default: --server's port; data-closed: "
                                               "ports nobody listens on)");
  app.add_option("--flood-window", flood_window, "rst/ack sequence numbers: in (sweep by --flood-seq-stride: "
                                                 "blind in-window) or out (random)")
      ->check(CLI::IsMember({"in", "out"}));
  app.add_option("--flood-seq-stride", fp.seq_stride, "--flood-window in: sequence stride (default 65536)")
      ->check(CLI::Range(1u, 0x80000000u));
  app.add_option("--flood-payload", fp.payload, "data-closed: payload bytes per segment (default 64)")
      ->check(CLI::Range(1, 1400));
  app.add_option("--flood-seed", fp.seed, "seed of the random sequence numbers (default 1)");
  app.add_flag("--hold-no-read", fp.no_read, "hold: never read what arrives, so receive windows close");
  double flood_beside_rate = 0;
  std::string flood_json;
  app.add_option("--flood-beside-rate", flood_beside_rate,
                 "run the --flood (syn, ack, rst, data-closed) beside the workload instead of replacing it, at N "
                 "packets/s for the workload's --duration")
      ->check(CLI::PositiveNumber);
  app.add_option("--flood-json", flood_json, "with --flood-beside-rate: the flood's report as JSON to FILE");
  // Checked once every flag is in, before the runtime starts: a refused flood
  // sends nothing.
  app.callback([&] {
    if (flood_kind.empty()) return;
    fp.kind = *flood::parse_kind(flood_kind);
    if (servers.size() != 1) throw CLI::ValidationError("--flood", "wants exactly one --server (the target)");
    auto e = parse_endpoint(servers.front());
    if (!e) throw CLI::ValidationError("--server", "wants IP:PORT or [IPV6]:PORT, got " + servers.front());
    // The flood modes build IPv4 frames (flood.hpp); the lab range is IPv4's.
    if (!e->addr.is_v4()) {
      throw CLI::ValidationError("--flood", "IPv4 only: --server " + servers.front() + " is IPv6");
    }
    fp.target = e->addr.v4();
    auto src = flood::parse_addr_range(flood_sources);
    if (!src) throw CLI::ValidationError("--flood-sources", "wants A, A-B or A/LEN: " + flood_sources);
    fp.sources = *src;
    auto sp = flood::parse_port_range(flood_source_ports);
    if (!sp) throw CLI::ValidationError("--flood-source-ports", "wants LO-HI within 1-65535: " + flood_source_ports);
    fp.source_ports = *sp;
    auto tp = flood_ports.empty() ? std::optional<flood::PortRange>(flood::PortRange{e->port, e->port})
                                  : flood::parse_port_range(flood_ports);
    if (!tp) throw CLI::ValidationError("--flood-ports", "wants LO-HI within 1-65535: " + flood_ports);
    fp.target_ports = *tp;
    fp.window = flood_window == "in" ? flood::Window::In : flood::Window::Out;
    if (flood_beside_rate > 0) {
      // Beside a workload: its own rate, bounded by the workload's duration.
      if (fp.kind == flood::Kind::Hold) throw CLI::ValidationError("--flood-beside-rate", "not with --flood hold");
      if (duration_s == 0) throw CLI::ValidationError("--flood-beside-rate", "needs the workload's --duration");
      fp.rate = flood_beside_rate;
      fp.duration = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(duration_s));
      fp.count = static_cast<std::uint64_t>(flood_beside_rate * duration_s);
      if (auto why = flood::validate(fp)) throw CLI::ValidationError("--flood", *why);
      return;
    }
    fp.rate = p.rate;
    if (duration_s == 0) duration_s = 10;
    fp.duration = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(duration_s));
    fp.count = p.count > 0 ? p.count : static_cast<std::uint64_t>(p.rate * duration_s);
    fp.timeout = std::chrono::milliseconds{timeout_ms};
    if (fp.kind == flood::Kind::Hold && http) {
      fp.request = "GET " + p.http_path + " HTTP/1.1\r\nHost: " + p.http_host + "\r\n\r\n";
    }
    if (auto why = flood::validate(fp)) throw CLI::ValidationError("--flood", *why);
  });
  int status = 0;
  auto rt = riptide::apps::start_program(argc, argv, app, flags, status);
  if (!rt) return status;  // (a refused flag: said on stderr)
  if (!flood_kind.empty() && flood_beside_rate == 0) {
    const auto e = parse_endpoint(servers.front());
    const int frc = run_flood(*rt, flags, fp, e->port, json_path, quiet);
    rt.reset();
    riptide::runtime::cleanup_eal();
    return frc;
  }

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
      std::fprintf(stderr, "riptide-load: --server wants IP:PORT or [IPV6]:PORT, got '%s'\n", s.c_str());
      return 1;
    }
    p.servers.push_back(*e);
  }
  if (p.mode == Mode::Stream && p.protocol == Protocol::Http && p.stream == StreamDirection::Send) {
    std::fprintf(stderr, "riptide-load: --mode stream --stream send is raw only (no --http)\n");
    return 1;
  }
  const StackConfig& sc = rt->worker(0).stack().config();
  for (const Endpoint& e : p.servers) {
    if (e.addr.is_v6() && sc.local_addrs6.empty()) {
      std::fprintf(stderr, "riptide-load: --server %s is IPv6 and this host has no IPv6 address (set ip6.address: "
                   "--local-addrs or --set ip6.address=...)\n", to_string(e).c_str());
      return 1;
    }
  }
  // Both families' addresses (IPv4 first); each connection takes the next one
  // that fits its server (next_local_addr).
  p.local_addrs.assign(sc.local_addrs.begin(), sc.local_addrs.end());
  p.local_addrs.insert(p.local_addrs.end(), sc.local_addrs6.begin(), sc.local_addrs6.end());

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
  // --flood-beside-rate: each worker also runs its share of the flood, polled after
  // its share of the workload.
  struct Beside {
    LoadGenerator* load;
    flood::FloodGenerator* flood;
  };
  std::vector<std::unique_ptr<flood::FloodGenerator>> floods;
  std::vector<Beside> besides(workers);
  if (flood_beside_rate > 0) {
    for (std::size_t i = 0; i < workers; ++i) {
      flood::FloodParams wf = fp;
      wf.rate = fp.rate / static_cast<double>(workers);
      wf.count = std::max<std::uint64_t>(1, share(fp.count, workers, i));
      floods.push_back(std::make_unique<flood::FloodGenerator>(rt->worker(i).stack(), wf, i, workers));
      besides[i] = {gens[i].get(), floods.back().get()};
      rt->worker(i).set_poll_hook(
          [](void* ctx, Stack&, Instant now) {
            auto* b = static_cast<Beside*>(ctx);
            b->load->poll(now);
            b->flood->poll(now);
          },
          &besides[i]);
    }
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
  if (!floods.empty()) {
    flood::FloodReport fr;
    fr.params = fp;
    fr.target_port = p.servers.front().port;
    fr.workers = static_cast<unsigned>(workers);
    Instant f0 = Instant::max(), f1{};
    for (const auto& f : floods) {
      fr.totals.add(f->stats());
      if (f->started_at() != Instant{}) f0 = std::min(f0, f->started_at());
      f1 = std::max(f1, f->finished() ? f->finished_at() : last);
    }
    fr.seconds = f0 != Instant::max() && f1 > f0 ? std::chrono::duration<double>(f1 - f0).count() : 0;
    fr.stack = r.stack;
    std::printf("%s (beside the workload)\n", summary_text(fr).c_str());
    if (!flood_json.empty() && !write_json(flood_json, to_json(fr))) failed = true;
  }
  if (!json_path.empty() && !write_json(json_path, to_json(r))) failed = true;
  std::printf("riptide-load: %s\n", failed ? "FAILED" : "ok");
  std::fflush(stdout);
  rt.reset();
  riptide::runtime::cleanup_eal();
  return rc != 0 ? rc : (failed ? 1 : 0);
}
