// riptide-proxy: an L4 (TCP) proxy on riptide (issue 12). Listeners and backend
// pools come from the [proxy] section of the configuration (docs/config.md
// "riptide-proxy"); each accepted connection gets a connection to a backend from
// the same worker, and bytes are relayed both ways with end-to-end backpressure,
// half-close and RST propagation (apps/common/proxy.hpp).
//   riptide-proxy [EAL args] -- --config config/riptide.toml [--set proxy.KEY=VALUE ...]
//                 [--stats N] [--print-config]
//
// Telemetry /riptide/proxy/drain,L,B,on|off drains backend B of listener L (no new
// connections; those it has go on) or ends its draining, on every worker.
//
// Prints "riptide-proxy: listening on ..." once every listener is up, a status line
// every --stats seconds, telemetry /riptide/proxy (per listener and backend), and on
// SIGINT/SIGTERM resets what is still open and prints the counters.
#include <rte_telemetry.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/program.hpp"
#include "common/proxy.hpp"

namespace {

using namespace riptide;
using namespace riptide::apps::proxy;

// Counters summed over the workers (read while they run: a figure may be a moment
// stale, never torn; see proxy.hpp "Thread-safety").
struct Totals {
  std::vector<ListenerStats> listeners;
  std::vector<std::vector<BackendStats>> backends;  // [listener][backend]
  std::vector<std::vector<std::size_t>> down;       // workers that now mark it down (or drain it)
  std::vector<std::vector<bool>> drain;             // draining (the same on every worker)
  RelayStats relay;
};

void add(ListenerStats& a, const ListenerStats& b) {
  for (const ListenerCounter& k : kListenerCounters) a.*k.field += b.*k.field;
}

void add(BackendStats& a, const BackendStats& b) {
  for (const BackendCounter& k : kBackendCounters) a.*k.field += b.*k.field;
}

struct Proxy {
  std::vector<std::unique_ptr<ProxyWorker>> workers;
  ProxyConfig config;
  unsigned stats_interval_s = 0;
  Instant started{}, last_status{};
  Totals last;
  // Draining at run time: the telemetry thread sets a flag per backend (flat, by
  // drain_base[listener] + backend) and bumps drain_gen; each worker's poll hook
  // applies the flags when it sees a new generation (one relaxed load per loop).
  std::unique_ptr<std::atomic<bool>[]> drain_flags;
  std::vector<std::size_t> drain_base;
  std::atomic<std::uint32_t> drain_gen{0};

  [[nodiscard]] Totals totals(Instant now) const {
    Totals t;
    const std::size_t n = config.listeners.size();
    t.listeners.resize(n);
    t.backends.resize(n);
    t.down.resize(n);
    t.drain.resize(n);
    for (std::size_t l = 0; l < n; ++l) {
      t.backends[l].resize(config.listeners[l].backends.size());
      t.down[l].resize(config.listeners[l].backends.size());
      t.drain[l].resize(config.listeners[l].backends.size());
      for (std::size_t b = 0; b < t.drain[l].size(); ++b) t.drain[l][b] = workers.front()->pool(l).backend(b).drain;
    }
    for (const auto& w : workers) {
      for (std::size_t l = 0; l < n; ++l) {
        add(t.listeners[l], w->listener_stats(l));
        for (std::size_t b = 0; b < t.backends[l].size(); ++b) {
          add(t.backends[l][b], w->pool(l).backend(b).stats);
          if (!w->pool(l).available(b, now)) ++t.down[l][b];
        }
      }
      const RelayStats& r = w->relay_stats();
      t.relay.buffered += r.buffered;
      t.relay.buffered_peak += r.buffered_peak;  // (a sum of per-worker peaks: an upper bound)
      t.relay.pair_peak = std::max(t.relay.pair_peak, r.pair_peak);
      t.relay.ring_bytes += r.ring_bytes;
      t.relay.over_window += r.over_window;
    }
    return t;
  }
};

Proxy* g_proxy = nullptr;  // for the telemetry callback (control path only)

// "up" (no worker marks it down), "down" (every worker does), "partial", or "drain".
const char* health_of(const Proxy& p, const Totals& t, std::size_t l, std::size_t b) {
  if (t.drain[l][b]) return "drain";
  if (t.down[l][b] == 0) return "up";
  return t.down[l][b] == p.workers.size() ? "down" : "partial";
}

// /riptide/proxy/drain,L,B,on|off
int telemetry_drain(const char*, const char* params, rte_tel_data* d) {
  if (g_proxy == nullptr || params == nullptr) return -1;
  unsigned l = 0, b = 0;
  char state[8] = {};
  if (std::sscanf(params, "%u,%u,%7s", &l, &b, state) != 3) return -1;
  const std::string on(state);
  if ((on != "on" && on != "off") || l >= g_proxy->config.listeners.size() ||
      b >= g_proxy->config.listeners[l].backends.size()) {
    return -1;
  }
  g_proxy->drain_flags[g_proxy->drain_base[l] + b].store(on == "on", std::memory_order_relaxed);
  g_proxy->drain_gen.fetch_add(1, std::memory_order_release);
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_u64(d, "listener", l);
  rte_tel_data_add_dict_u64(d, "backend", b);
  rte_tel_data_add_dict_string(d, "drain", on.c_str());
  return 0;
}

// /riptide/proxy: one dict per listener ("listener_N") and per backend
// ("listener_N_backend_M"), and "relay".
int telemetry_proxy(const char*, const char*, rte_tel_data* d) {
  if (g_proxy == nullptr) return -1;
  const Totals t = g_proxy->totals(runtime::tsc_now());
  rte_tel_data_start_dict(d);
  const auto u64 = [](rte_tel_data* c, const char* name, std::uint64_t v) { rte_tel_data_add_dict_u64(c, name, v); };
  for (std::size_t l = 0; l < t.listeners.size(); ++l) {
    const ListenerSpec& spec = g_proxy->config.listeners[l];
    rte_tel_data* c = rte_tel_data_alloc();
    if (c == nullptr) return -1;
    rte_tel_data_start_dict(c);
    rte_tel_data_add_dict_string(c, "bind", apps::to_string(spec.bind).c_str());
    rte_tel_data_add_dict_string(c, "balance", std::string(to_string(spec.policy.balance)).c_str());
    rte_tel_data_add_dict_string(c, "mode", std::string(to_string(spec.policy.mode)).c_str());
    const ListenerStats& s = t.listeners[l];
    for (const ListenerCounter& k : kListenerCounters) u64(c, k.name, s.*k.field);
    const std::string name = "listener_" + std::to_string(l);
    rte_tel_data_add_dict_container(d, name.c_str(), c, 0);
    for (std::size_t b = 0; b < t.backends[l].size(); ++b) {
      rte_tel_data* e = rte_tel_data_alloc();
      if (e == nullptr) return -1;
      rte_tel_data_start_dict(e);
      rte_tel_data_add_dict_string(e, "address", apps::to_string(spec.backends[b].address).c_str());
      u64(e, "weight", spec.backends[b].weight);
      const BackendStats& k = t.backends[l][b];
      for (const BackendCounter& c : kBackendCounters) u64(e, c.name, k.*c.field);
      u64(e, "down_on_workers", t.down[l][b]);
      rte_tel_data_add_dict_string(e, "health", health_of(*g_proxy, t, l, b));
      const std::string bname = name + "_backend_" + std::to_string(b);
      rte_tel_data_add_dict_container(d, bname.c_str(), e, 0);
    }
  }
  rte_tel_data* r = rte_tel_data_alloc();
  if (r == nullptr) return -1;
  rte_tel_data_start_dict(r);
  u64(r, "buffered", t.relay.buffered);
  u64(r, "buffered_peak", t.relay.buffered_peak);
  u64(r, "pair_peak", t.relay.pair_peak);
  u64(r, "ring_bytes", t.relay.ring_bytes);
  u64(r, "over_window", t.relay.over_window);
  rte_tel_data_add_dict_container(d, "relay", r, 0);
  return 0;
}

// Worker 0's poll hook also prints the status line every --stats seconds.
struct Hook {
  Proxy* proxy;
  ProxyWorker* worker;
  bool status;
  std::uint32_t drain_seen = 0;
};

void apply_drain(Hook& h) {
  const std::uint32_t gen = h.proxy->drain_gen.load(std::memory_order_acquire);
  if (gen == h.drain_seen) return;
  h.drain_seen = gen;
  const ProxyConfig& c = h.proxy->config;
  for (std::size_t l = 0; l < c.listeners.size(); ++l) {
    for (std::size_t b = 0; b < c.listeners[l].backends.size(); ++b) {
      h.worker->set_drain(l, b, h.proxy->drain_flags[h.proxy->drain_base[l] + b].load(std::memory_order_relaxed));
    }
  }
}

// Connections refused or failed for any reason the status line lumps together.
std::uint64_t failures(const ListenerStats& s) {
  return s.refused + s.timeouts + s.connect_errors + s.no_backend + s.connect_malformed + s.connect_too_large +
         s.connect_not_ipv4 + s.connect_bad_method + s.connect_forbidden + s.connect_request_timeouts;
}

void status_line(Proxy& p, Instant now) {
  const Totals t = p.totals(now);
  const double dt = std::chrono::duration<double>(now - p.last_status).count();
  ListenerStats cur, prev;
  for (const auto& s : t.listeners) add(cur, s);
  for (const auto& s : p.last.listeners) add(prev, s);
  const auto rate = [&](std::uint64_t a, std::uint64_t b) { return static_cast<double>(a - b) / (dt > 0 ? dt : 1); };
  std::size_t backends = 0, up = 0;
  for (std::size_t l = 0; l < t.down.size(); ++l) {
    for (std::size_t b = 0; b < t.down[l].size(); ++b) {
      ++backends;
      if (t.down[l][b] == 0) ++up;
    }
  }
  std::printf("riptide-proxy: t=%.0fs active=%llu accepted/s=%.0f connected/s=%.0f failed/s=%.0f "
              "to-backend=%.1f MB/s to-client=%.1f MB/s buffered=%llu backends-up=%zu/%zu\n",
              std::chrono::duration<double>(now - p.started).count(), static_cast<unsigned long long>(cur.active),
              rate(cur.accepted, prev.accepted), rate(cur.connected, prev.connected),
              rate(failures(cur), failures(prev)),
              rate(cur.bytes_to_backend, prev.bytes_to_backend) / 1e6,
              rate(cur.bytes_to_client, prev.bytes_to_client) / 1e6,
              static_cast<unsigned long long>(t.relay.buffered), up, backends);
  std::fflush(stdout);
  p.last = t;
  p.last_status = now;
}

void summary(const Proxy& p) {
  const Totals t = p.totals(runtime::tsc_now());
  for (std::size_t l = 0; l < t.listeners.size(); ++l) {
    const ListenerSpec& spec = p.config.listeners[l];
    const ListenerStats& s = t.listeners[l];
    std::string line = "riptide-proxy: listener " + std::to_string(l) + " " + apps::to_string(spec.bind) + " " +
                       std::string(to_string(spec.policy.balance)) + ":";
    std::string connect_line = "riptide-proxy:   connect:";
    for (const ListenerCounter& k : kListenerCounters) {
      const std::string v = std::to_string(s.*k.field);
      if (!k.connect_mode) line += std::string(" ") + k.name + " " + v;
      else connect_line += " " + std::string(k.name).substr(std::strlen("connect_")) + " " + v;
    }
    std::printf("%s\n", line.c_str());
    if (spec.policy.mode == ListenerMode::Connect) std::printf("%s\n", connect_line.c_str());
    for (std::size_t b = 0; b < t.backends[l].size(); ++b) {
      const BackendStats& k = t.backends[l][b];
      std::string line = "riptide-proxy:   backend " + apps::to_string(spec.backends[b].address) + " weight " +
                         std::to_string(spec.backends[b].weight) + ":";
      for (const BackendCounter& c : kBackendCounters) line += std::string(" ") + c.name + " " + std::to_string(k.*c.field);
      line += " down_on_workers " + std::to_string(t.down[l][b]) + " health " + health_of(p, t, l, b);
      std::printf("%s\n", line.c_str());
    }
  }
  std::printf("riptide-proxy: relay: buffered_peak %llu pair_peak %llu ring_bytes %llu over_window %llu\n",
              static_cast<unsigned long long>(t.relay.buffered_peak),
              static_cast<unsigned long long>(t.relay.pair_peak),
              static_cast<unsigned long long>(t.relay.ring_bytes),
              static_cast<unsigned long long>(t.relay.over_window));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"riptide-proxy: L4 proxy on the riptide TCP stack", "riptide-proxy"};
  apps::CommonFlags flags;
  apps::add_common_flags(app, flags);
  Proxy proxy;
  apps::ProgramSection section;
  section.load = [&](const runtime::RuntimeConfig& rc, const apps::CommonFlags& f) -> std::optional<std::string> {
    std::vector<IpAddr> local;
    // Every port's addresses (several ports: a listener may bind any of them), and
    // [ip6]'s (the single-port form only: runtime/config.cpp refuses [ip6] with
    // [[ports]]). A link-local address derived from the MAC is not known here:
    // bind one only when ip6.link_local names it (or bind [::]).
    for (const runtime::PortConfig& p : runtime::ports_of(rc)) {
      for (std::uint32_t i = 0; i < p.address_count; ++i) local.push_back(Ipv4Addr{p.address.value + i});
    }
    if (rc.ip6.address) local.push_back(*rc.ip6.address);
    if (rc.ip6.address && rc.ip6.link_local) local.push_back(*rc.ip6.link_local);
    auto r = load_proxy_config_file(f.config_path, f.sets, local);
    if (auto* e = std::get_if<ProxyConfigError>(&r)) return e->message;
    proxy.config = std::get<ProxyConfig>(r);
    // An IPv6 backend needs an IPv6 address to connect from.
    for (std::size_t l = 0; l < proxy.config.listeners.size() && !rc.ip6.address; ++l) {
      for (const BackendSpec& b : proxy.config.listeners[l].backends) {
        if (b.address.addr.is_v6()) {
          return "proxy.listener." + std::to_string(l) + ".backends: " + apps::to_string(b.address) +
                 " is IPv6 and ip6.address is not set (docs/config.md \"[ip6]\")";
        }
      }
    }
    return std::nullopt;
  };
  section.print = [&] { return to_toml(proxy.config); };
  int status = 0;
  auto rt = apps::start_program(argc, argv, app, flags, status, &section);
  if (!rt) return status;

  // One ProxyWorker per worker: each core's pairs, pools and counters are its own.
  const std::size_t n = rt->worker_count();
  std::vector<std::unique_ptr<Hook>> hooks;
  for (std::size_t i = 0; i < n; ++i) {
    proxy.workers.push_back(std::make_unique<ProxyWorker>(rt->worker(i).stack(), proxy.config, n));
    if (auto problem = proxy.workers.back()->listen()) {
      std::fprintf(stderr, "riptide-proxy: %s\n", problem->c_str());
      return 1;
    }
    hooks.push_back(std::make_unique<Hook>(Hook{&proxy, proxy.workers.back().get(), i == 0 && flags.stats > 0}));
    rt->worker(i).set_poll_hook(
        [](void* ctx, Stack&, Instant now) {
          auto* h = static_cast<Hook*>(ctx);
          h->worker->poll(now);
          apply_drain(*h);
          if (h->status && now - h->proxy->last_status >= std::chrono::seconds{h->proxy->stats_interval_s}) {
            status_line(*h->proxy, now);
          }
        },
        hooks.back().get());
  }
  proxy.stats_interval_s = flags.stats;
  std::size_t flags_needed = 0;
  for (const ListenerSpec& s : proxy.config.listeners) {
    proxy.drain_base.push_back(flags_needed);
    flags_needed += s.backends.size();
  }
  proxy.drain_flags = std::make_unique<std::atomic<bool>[]>(std::max<std::size_t>(flags_needed, 1));
  for (std::size_t l = 0; l < proxy.config.listeners.size(); ++l) {
    for (std::size_t b = 0; b < proxy.config.listeners[l].backends.size(); ++b) {
      proxy.drain_flags[proxy.drain_base[l] + b].store(proxy.config.listeners[l].backends[b].draining());
    }
  }
  proxy.started = proxy.last_status = runtime::tsc_now();
  g_proxy = &proxy;
  rte_telemetry_register_cmd("/riptide/proxy", telemetry_proxy,
                             "riptide-proxy: per listener and backend: connections, failures by kind, bytes "
                             "each way, active, health");
  rte_telemetry_register_cmd("/riptide/proxy/drain", telemetry_drain,
                             "riptide-proxy: drain a backend (no new connections) or end its draining. "
                             "Parameters: listener,backend,on|off");

  for (std::size_t l = 0; l < proxy.config.listeners.size(); ++l) {
    const ListenerSpec& s = proxy.config.listeners[l];
    std::string backends;
    for (const BackendSpec& b : s.backends) {
      backends += (backends.empty() ? "" : ",") + apps::to_string(b.address);
      if (b.weight != 1) backends += "*" + std::to_string(b.weight);
    }
    if (s.policy.mode == ListenerMode::Connect) {
      backends = "CONNECT to";
      for (const AllowRule& r : s.policy.connect_allow) backends += " " + to_string(r);
    }
    std::printf("riptide-proxy: listener %zu: %s -> %s (%s)\n", l, apps::to_string(s.bind).c_str(),
                backends.c_str(),
                std::string(s.policy.mode == ListenerMode::Connect ? "allow-list" : to_string(s.policy.balance))
                    .c_str());
  }
  const auto& ip6 = rt->config().ip6.address;
  std::printf("riptide-proxy: listening on %s%s (%s), %zu listener(s), %zu worker(s), %zu pairs per worker\n",
              to_string(rt->config().address).c_str(), ip6 ? ("," + to_string(*ip6)).c_str() : "",
              rt->interface().config().mac.to_string().c_str(),
              proxy.config.listeners.size(), n, proxy.workers.front()->pair_capacity());
  std::fflush(stdout);
  const int rc = rt->run({flags.stats, "riptide-proxy"});
  g_proxy = nullptr;
  summary(proxy);
  // The workers reference their stacks: gone before the runtime.
  hooks.clear();
  proxy.workers.clear();
  rt.reset();
  runtime::cleanup_eal();
  return rc;
}
