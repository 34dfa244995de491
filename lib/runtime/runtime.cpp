#include "runtime/runtime.hpp"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_log.h>
#include <rte_pcapng.h>
#include <rte_telemetry.h>
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <utility>

#include "io/eth_port.hpp"
#include "io/mbuf_pool.hpp"

namespace riptide::runtime {

namespace {

std::atomic<bool> g_stop{false};

// rte_log types riptide.* (set levels with EAL's --log-level=riptide.*:debug).
int log_runtime() {
  static const int type = rte_log_register_type_and_pick_level("riptide.runtime", RTE_LOG_INFO);
  return type;
}
Runtime* g_runtime = nullptr;  // for telemetry callbacks (control path only)

void on_signal(int) { g_stop.store(true, std::memory_order_relaxed); }

// /riptide/stats: every per-core counter (written by the worker, read racily here:
// 64-bit loads do not tear on x86-64) and connections by state.
int telemetry_stats(const char*, const char*, rte_tel_data* d) {
  if (!g_runtime) return -1;
  rte_tel_data_start_dict(d);
  const Counters c = g_runtime->total_counters();
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    const std::string name(counter_name(static_cast<Counter>(i)));
    if (rte_tel_data_add_dict_u64(d, name.c_str(), c.values[i]) != 0) return -1;
  }
  std::array<std::size_t, tcp::kStateCount> by_state{};
  for (std::size_t w = 0; w < g_runtime->worker_count(); ++w) {
    const auto v = g_runtime->worker(w).stack().connections_by_state();
    for (int s = 0; s < tcp::kStateCount; ++s) by_state[static_cast<std::size_t>(s)] += v[static_cast<std::size_t>(s)];
  }
  for (int s = 0; s < tcp::kStateCount; ++s) {
    // rte_telemetry takes only [A-Za-z0-9_/] in names: "state_TIME_WAIT".
    std::string name = "state_" + std::string(tcp::to_string(static_cast<tcp::State>(s)));
    for (char& ch : name) {
      if (ch == '-') ch = '_';
    }
    if (rte_tel_data_add_dict_u64(d, name.c_str(), by_state[static_cast<std::size_t>(s)]) != 0) return -1;
  }
  // Gauges: what is in use of each sized resource now, summed over the workers
  // (scripts/soak samples them to show they stay flat).
  std::uint64_t records = 0, time_wait = 0, chunks = 0;
  for (std::size_t w = 0; w < g_runtime->worker_count(); ++w) {
    const Stack& st = g_runtime->worker(w).stack();
    records += st.connection_count();
    time_wait += st.time_wait_count();
    chunks += st.engine().chunks().capacity() - st.engine().chunks().available();
  }
  const rte_mempool* pool = g_runtime->mbuf_pool();
  const std::pair<const char*, std::uint64_t> gauges[] = {
      {"gauge_conn_records", records},
      {"gauge_time_wait_records", time_wait},
      {"gauge_send_chunks", chunks},
      {"gauge_mbufs_in_use", pool != nullptr ? rte_mempool_in_use_count(pool) : 0},
      {"gauge_mbufs", pool != nullptr ? pool->size : 0},
  };
  for (const auto& [name, value] : gauges) {
    if (rte_tel_data_add_dict_u64(d, name, value) != 0) return -1;
  }
  return 0;
}

// /riptide/conns: an ss-like listing. Each worker fills its own snapshot on its
// own core (the request travels as an atomic ticket), so no table is read from
// this thread.
int telemetry_conns(const char*, const char*, rte_tel_data* d) {
  if (!g_runtime) return -1;
  rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
  int listed = 0;
  for (std::size_t w = 0; w < g_runtime->worker_count(); ++w) {
    Worker& wk = g_runtime->worker(w);
    const std::uint64_t ticket = wk.request_snapshot();
    if (ticket == 0) continue;  // mailbox full: a stuck worker
    for (int i = 0; i < 500 && !wk.snapshot_ready(ticket); ++i) rte_delay_us_sleep(1000);
    if (!wk.snapshot_ready(ticket)) continue;  // a stopped or stuck worker: skip it
    for (const ConnInfo& c : wk.snapshot()) {
      if (listed >= 150) break;  // the telemetry reply has a size limit
      char line[RTE_TEL_MAX_STRING_LEN];
      std::snprintf(line, sizeof line, "w%zu %s:%u %s:%u %s send-q=%zu snd-wnd=%u rtt=%.1fms", w,
                    to_string(c.key.local_addr).c_str(), c.key.local_port, to_string(c.key.remote_addr).c_str(),
                    c.key.remote_port, std::string(tcp::to_string(c.state)).c_str(), c.send_queued, c.snd_wnd,
                    std::chrono::duration<double, std::milli>(c.srtt).count());
      rte_tel_data_add_array_string(d, line);
      ++listed;
    }
  }
  return 0;
}

// /riptide/ports: per port, what the workers received and sent on it and the
// ethdev's own counters (missed = the receive ring overflowed).
int telemetry_ports(const char*, const char*, rte_tel_data* d) {
  if (!g_runtime) return -1;
  rte_tel_data_start_dict(d);
  for (std::size_t p = 0; p < g_runtime->port_count(); ++p) {
    const Runtime::PortReport r = g_runtime->port_report(p);
    rte_tel_data* e = rte_tel_data_alloc();
    if (e == nullptr) return -1;
    rte_tel_data_start_dict(e);
    rte_tel_data_add_dict_string(e, "name", r.name.c_str());
    rte_tel_data_add_dict_string(e, "address", r.address.c_str());
    rte_tel_data_add_dict_u64(e, "ethdev_port", r.ethdev_id);
    rte_tel_data_add_dict_u64(e, "rx_frames", r.rx);
    rte_tel_data_add_dict_u64(e, "tx_frames", r.tx);
    rte_tel_data_add_dict_u64(e, "tx_dropped", r.tx_dropped);
    rte_tel_data_add_dict_u64(e, "ethdev_ipackets", r.ipackets);
    rte_tel_data_add_dict_u64(e, "ethdev_opackets", r.opackets);
    rte_tel_data_add_dict_u64(e, "ethdev_imissed", r.imissed);
    rte_tel_data_add_dict_u64(e, "ethdev_ierrors", r.ierrors);
    rte_tel_data_add_dict_u64(e, "ethdev_rx_nombuf", r.rx_nombuf);
    rte_tel_data_add_dict_container(d, ("port_" + std::to_string(p)).c_str(), e, 0);
  }
  return 0;
}

int telemetry_config(const char*, const char*, rte_tel_data* d) {
  if (!g_runtime) return -1;
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_string(d, "toml", to_toml(g_runtime->config()).c_str());
  return 0;
}

}  // namespace

Result<std::vector<std::string>, std::string> init_eal(int argc, char** argv) {
  const int n = rte_eal_init(argc, argv);
  if (n < 0) return Unexpected{std::string("EAL initialisation failed: ") + rte_strerror(rte_errno)};
  std::vector<std::string> rest;
  rest.emplace_back(argv[0]);
  for (int i = n + 1; i < argc; ++i) rest.emplace_back(argv[i]);
  return rest;
}

void cleanup_eal() { rte_eal_cleanup(); }

Instant tsc_now() noexcept {
  static const std::uint64_t hz = rte_get_tsc_hz();
  const std::uint64_t t = rte_get_tsc_cycles();
  const std::uint64_t sec = t / hz;
  const std::uint64_t rem = t % hz;
  return Instant{std::chrono::seconds{sec} + std::chrono::nanoseconds{rem * 1000000000ull / hz}};
}

Result<std::unique_ptr<Runtime>, std::string> Runtime::create(const RuntimeConfig& cfg) {
  std::unique_ptr<Runtime> rt(new Runtime());
  rt->cfg_ = cfg;
  // An af_xdp port registers the pool as its UMEM, which must have no gaps
  // (lib/io/mbuf_pool.hpp says why).
  io::MbufPoolOptions pool_opts;
  pool_opts.name = "riptide_mbufs";
  pool_opts.count = cfg.mbufs;
  pool_opts.cache = cfg.mbuf_cache;
  pool_opts.socket = static_cast<int>(rte_socket_id());
  for (const PortConfig& p : ports_of(cfg)) {
    if (io::device_is_af_xdp(p.spec.device)) pool_opts.layout = io::MbufPoolLayout::PageSlots;
  }
  auto pool = io::create_mbuf_pool(pool_opts);
  if (!pool) {
    return Unexpected{std::string("mbuf pool (pools.mbufs = ") + std::to_string(cfg.mbufs) + "): " + pool.error()};
  }
  rt->pool_ = *pool;
  const auto n = static_cast<std::uint16_t>(cfg.lcores);
  if (rte_lcore_count() < n) {
    return Unexpected{"lcores.workers = " + std::to_string(n) + " but EAL has " +
                      std::to_string(rte_lcore_count()) + " lcore(s): give EAL -l with as many"};
  }
  // Every port: a queue pair per worker on each (the [port] keys are one port,
  // [[ports]] several; ports_of()).
  const std::vector<PortConfig> ports = ports_of(cfg);
  bool all_hw_rss = true;
  std::vector<wire::MacAddr> macs;
  for (std::size_t k = 0; k < ports.size(); ++k) {
    io::PortOptions po;
    po.device = ports[k].spec.device;
    po.queues = n;
    po.rx_descriptors = ports[k].spec.rx_descriptors;
    po.tx_descriptors = ports[k].spec.tx_descriptors;
    po.promiscuous = ports[k].spec.promiscuous;
    po.rss_key = kSymmetricRssKey.data();
    po.rss_key_len = static_cast<std::uint8_t>(kSymmetricRssKey.size());
    po.rss_ipv6 = cfg.ip6.address.has_value();
    auto port = io::EthPort::open(po, rt->pool_);
    if (!port) {
      return Unexpected{ports.size() == 1 ? port.error() : "ports." + std::to_string(k) + " (" + ports[k].name + "): " + port.error()};
    }
    rt->ports_.push_back(std::make_unique<io::EthPort>(std::move(*port)));
    const io::EthPort& ep = *rt->ports_.back();
    const auto& caps = ep.capabilities();
    rte_log(RTE_LOG_INFO, log_runtime(),
            "riptide.runtime: port %u (%s, %s %s/%u): %u worker(s), %s; TX checksums %s, RX checksums %s\n",
            ep.id(), caps.driver.c_str(), ports[k].name.c_str(), to_string(ports[k].address).c_str(),
            ports[k].prefix_len, n,
            n == 1 ? "one queue pair" : caps.hw_rss ? "hardware RSS, symmetric key" : "software steering through mailboxes",
            caps.tx_cksum_enabled ? "offloaded" : "in software", caps.rx_cksum ? "offloaded" : "in software");
    all_hw_rss = all_hw_rss && caps.hw_rss;
    macs.push_back(ports[k].mac.value_or(ep.mac()));
  }
  // TX checksum offload only when every port offers it: one Stack builds the
  // segments for all of them.
  bool tx_cksum = true;
  std::uint16_t reta = 128;
  for (const auto& p : rt->ports_) {
    tx_cksum = tx_cksum && p->capabilities().tx_cksum_enabled;
    if (p->capabilities().hw_rss) reta = p->capabilities().reta_size;
  }
  const bool hw_rss = all_hw_rss;
  // The owner of a tuple: the NIC's RSS when it has it (programmed to agree with
  // Steering), software steering through mailboxes otherwise. With several ports
  // software steering runs unless every port has RSS (a frame RSS already put on
  // its owner's queue is kept: the hash agrees).
  rt->steering_ = std::make_unique<Steering>(n, hw_rss ? reta : 128);
  const tcp::Secret secret = random_secret();
  std::vector<io::EthPort*> port_ptrs;
  std::vector<InterfaceConfig> if_cfgs;
  for (std::size_t k = 0; k < ports.size(); ++k) {
    port_ptrs.push_back(rt->ports_[k].get());
    if_cfgs.push_back(interface_config(cfg, ports[k], macs[k]));
  }
  const RouteTable routes = routes_of(cfg);
  for (std::uint16_t i = 0; i < n; ++i) {
    StackConfig sc = stack_config(cfg, secret);
    sc.tx_checksum_offload = tx_cksum;
    if (n > 1) {
      rt->owner_ctx_.push_back(std::make_unique<OwnerContext>(OwnerContext{rt->steering_.get(), i}));
      sc.owns = [](const FlowKey& k, const void* ctx) {
        const auto* o = static_cast<const OwnerContext*>(ctx);
        return o->steering->owner(k) == o->index;
      };
      sc.owns_ctx = rt->owner_ctx_.back().get();
    }
    // Several workers: software steering of everything, or under hardware RSS of
    // what RSS cannot place (ARP, ND, ICMP errors: Steering::route).
    const Steering* steer = n > 1 ? rt->steering_.get() : nullptr;
    WorkerOptions wo{i, cfg.burst, cfg.tx_drain_us, steer, tx_cksum, cfg.shed_when_behind,
                     cfg.idle_sleep_us, cfg.syns_last};
    wo.rss_places_tcp = hw_rss;
    if (ports.size() == 1) {
      rt->workers_.push_back(std::make_unique<Worker>(*rt->ports_.front(), rt->pool_, sc,
                                                      interface_config(cfg, macs.front()), wo, tsc_now()));
    } else {
      rt->workers_.push_back(std::make_unique<Worker>(port_ptrs, rt->pool_, sc, if_cfgs, routes, wo, tsc_now()));
    }
  }
  if (!cfg.pcap_path.empty()) {
    // --pcap: one pcapng file per worker (FILE, or FILE.N with several workers).
    rt->capture_pool_ = rte_pktmbuf_pool_create("riptide_capture", 4095, 0, 0,
                                                static_cast<std::uint16_t>(rte_pcapng_mbuf_size(RTE_MBUF_DEFAULT_BUF_SIZE)),
                                                static_cast<int>(rte_socket_id()));
    if (rt->capture_pool_ == nullptr) return Unexpected{std::string("capture pool: ") + rte_strerror(rte_errno)};
    for (std::uint16_t i = 0; i < n; ++i) {
      const std::string path = n == 1 ? cfg.pcap_path : cfg.pcap_path + "." + std::to_string(i);
      const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) return Unexpected{"capture.pcap: cannot write " + path + ": " + std::strerror(errno)};
      rte_pcapng_t* f = rte_pcapng_fdopen(fd, nullptr, nullptr, "riptide", nullptr);
      if (f == nullptr) {
        ::close(fd);
        return Unexpected{"capture.pcap: " + path + ": " + rte_strerror(rte_errno)};
      }
      rt->captures_.push_back(f);
      rt->workers_[i]->set_capture(f, rt->capture_pool_);
    }
  }
  if (n > 1) {
    for (std::size_t k = 0; k < std::size_t{n} * n; ++k) rt->mailboxes_.push_back(std::make_unique<Mailbox>());
    for (std::uint16_t i = 0; i < n; ++i) {
      std::vector<Mailbox*> out(n, nullptr), in(n, nullptr);
      for (std::uint16_t j = 0; j < n; ++j) {
        if (i == j) continue;
        out[j] = rt->mailboxes_[std::size_t{i} * n + j].get();
        in[j] = rt->mailboxes_[std::size_t{j} * n + i].get();
      }
      rt->workers_[i]->connect_mailboxes(std::move(out), std::move(in));
    }
  }
  return rt;
}

Counters Runtime::total_counters() const {
  Counters sum;
  for (const auto& w : workers_) {
    const Counters& c = w->stack().counters();
    for (std::size_t i = 0; i < kCounterCount; ++i) sum.values[i] += c.values[i];
  }
  return sum;
}

Runtime::~Runtime() {
  workers_.clear();
  for (rte_pcapng_t* f : captures_) rte_pcapng_close(f);
  for (auto& p : ports_) p->stop();
  if (g_runtime == this) g_runtime = nullptr;
}

void Runtime::request_stop() noexcept { g_stop.store(true, std::memory_order_relaxed); }

void Runtime::print_status(const LoopOptions& o, Instant now) {
  const Counters c = total_counters();
  std::size_t active = 0, time_wait = 0;
  for (const auto& w : workers_) {
    active += w->stack().connection_count();
    time_wait += w->stack().time_wait_count();
  }
  const double dt = std::chrono::duration<double>(now - last_status_).count();
  auto rate = [&](Counter k) { return static_cast<double>(c[k] - last_[k]) / (dt > 0 ? dt : 1); };
  std::uint64_t drops = 0;
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    const auto name = counter_name(static_cast<Counter>(i));
    if (name.find("drop") != std::string_view::npos || name.find("full") != std::string_view::npos) {
      drops += c.values[i] - last_.values[i];
    }
  }
  // Limits hit in the interval, by name (README "Limits and what happens at each").
  const std::string limits = limits_hit(c, last_);
  std::printf("%s: t=%.0fs conns/s=%.0f active=%zu time-wait=%zu rx=%.0f pps tx=%.0f pps drops=%llu%s%s\n",
              o.program.c_str(), std::chrono::duration<double>(now - started_).count(),
              rate(Counter::tcp_passive_open) + rate(Counter::tcp_active_open), active, time_wait,
              rate(Counter::l2_in), rate(Counter::l2_out),
              static_cast<unsigned long long>(drops), limits.empty() ? "" : " limits: ", limits.c_str());
  std::fflush(stdout);
  last_ = c;
  last_status_ = now;
}

void Runtime::print_summary(const LoopOptions& o) {
  std::printf("%s: summary after %.1fs (%zu worker%s)\n", o.program.c_str(),
              std::chrono::duration<double>(tsc_now() - started_).count(), workers_.size(),
              workers_.size() == 1 ? "" : "s");
  if (ports_.size() > 1) {
    for (std::size_t p = 0; p < ports_.size(); ++p) {
      const PortReport r = port_report(p);
      std::printf("  port %zu %-10s %-18s rx %llu tx %llu tx-dropped %llu (ethdev: missed %llu, errors %llu, "
                  "no mbuf %llu)\n",
                  p, r.name.c_str(), r.address.c_str(), static_cast<unsigned long long>(r.rx),
                  static_cast<unsigned long long>(r.tx), static_cast<unsigned long long>(r.tx_dropped),
                  static_cast<unsigned long long>(r.imissed), static_cast<unsigned long long>(r.ierrors),
                  static_cast<unsigned long long>(r.rx_nombuf));
    }
  }
  const Counters c = total_counters();
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    if (c.values[i] == 0) continue;
    std::printf("  %-28s %12llu  %s\n", std::string(counter_name(static_cast<Counter>(i))).c_str(),
                static_cast<unsigned long long>(c.values[i]),
                std::string(counter_description(static_cast<Counter>(i))).c_str());
  }
  std::fflush(stdout);
}

Runtime::PortReport Runtime::port_report(std::size_t p) const {
  PortReport r;
  const std::vector<PortConfig> ports = ports_of(cfg_);
  r.name = ports[p].name;
  r.address = to_string(ports[p].address) + "/" + std::to_string(ports[p].prefix_len);
  r.ethdev_id = ports_[p]->id();
  for (const auto& w : workers_) {
    const Worker::PortTraffic& t = w->traffic(p);
    r.rx += t.rx;
    r.tx += t.tx;
    r.tx_dropped += t.tx_dropped;
  }
  rte_eth_stats st{};
  if (rte_eth_stats_get(ports_[p]->id(), &st) == 0) {
    r.ipackets = st.ipackets;
    r.opackets = st.opackets;
    r.imissed = st.imissed;
    r.ierrors = st.ierrors;
    r.rx_nombuf = st.rx_nombuf;
  }
  return r;
}

void Runtime::register_telemetry() {
  g_runtime = this;
  rte_telemetry_register_cmd("/riptide/stats", telemetry_stats,
                             "Per-core counters (drops by reason) and connections by state");
  rte_telemetry_register_cmd("/riptide/config", telemetry_config, "The running configuration as TOML");
  rte_telemetry_register_cmd("/riptide/ports", telemetry_ports,
                             "Per port: name, address, frames received/sent by the workers, ethdev counters");
  rte_telemetry_register_cmd("/riptide/conns", telemetry_conns,
                             "Connections (ss-like): worker, local, remote, state, send queue, window, RTT");
}

namespace {

// One poll; an idle one (nothing received) sleeps lcores.idle_sleep_us after it.
void poll_or_sleep(Worker& w, Instant now) {
  if (w.poll_once(now) == 0 && w.idle_sleep_us() > 0) rte_delay_us_sleep(w.idle_sleep_us());
}

// One worker lcore's loop; the main lcore runs worker 0 in Runtime::run.
void worker_loop(Worker& w) {
  while (!g_stop.load(std::memory_order_relaxed)) poll_or_sleep(w, tsc_now());
  // Clean shutdown on this worker's own core: reset what is still open so peers
  // are not left half-open.
  const Instant now = tsc_now();
  w.stack().abort_all();
  w.poll_once(now);
  w.flush(now);
}

int launch_worker(void* arg) {
  worker_loop(*static_cast<Worker*>(arg));
  return 0;
}

}  // namespace

int Runtime::run(const LoopOptions& o) {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  register_telemetry();
  started_ = last_status_ = tsc_now();
  for (std::size_t p = 0; p < workers_.front()->port_count(); ++p) {
    workers_.front()->interface(p).announce();  // gratuitous ARP at start, on every port
  }
  // Workers 1..n-1 on the worker lcores EAL was given; worker 0 here.
  std::size_t next = 1;
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) {
    if (next >= workers_.size()) break;
    if (rte_eal_remote_launch(launch_worker, workers_[next].get(), lcore) != 0) {
      std::fprintf(stderr, "%s: could not launch worker %zu on lcore %u\n", o.program.c_str(), next, lcore);
      g_stop.store(true);
      break;
    }
    ++next;
  }
  Worker& w0 = *workers_.front();
  while (!g_stop.load(std::memory_order_relaxed)) {
    const Instant now = tsc_now();
    poll_or_sleep(w0, now);
    if (o.stats_interval_s > 0 && now - last_status_ >= std::chrono::seconds{o.stats_interval_s}) {
      print_status(o, now);
    }
  }
  worker_loop(w0);  // returns at once (stop is set): the shutdown part
  rte_eal_mp_wait_lcore();
  print_summary(o);
  for (auto& p : ports_) p->stop();
  return 0;
}
}  // namespace riptide::runtime
