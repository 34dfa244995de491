// linux-load: the Linux-kernel baseline's client. One thread, epoll, non-blocking
// sockets, the workloads riptide-load runs (TESTING.md "Measuring speed"):
//   crr     connect, --request bytes, --response bytes, close; a new connection for
//           every transaction, --connections of them in flight;
//   rr      --connections persistent connections, each with one request in flight;
//   stream  --connections connections writing bulk data to a sink (server --request 0).
// Flat out (--rate 0) or at a fixed offered rate of transactions per second
// (open loop: a transaction due while every slot is busy waits for one, and its
// latency counts from when it was due). Stops after --duration seconds or
// --count transactions, whichever comes first.
//
//   linux-load --mode crr --connect 127.0.0.1:9000 [--connections 64] [--duration 5]
//              [--count N] [--rate R] [--request 64] [--response 64]
//              [--source 127.0.1.1 --sources 16] [--server-closes] [--linger0]
//              [--json FILE] [--progress]
//
// Socket choices, as kernel benchmarks make them (netperf TCP_CRR, neper tcp_crr):
// TCP_NODELAY on every connection; ordinary FIN closes (no SO_LINGER unless
// --linger0, which closes with a RST and leaves no TIME-WAIT: not used by
// scripts/bench, since riptide closes with FINs). The client closes first unless
// --server-closes, so TIME-WAIT is held by the client; to keep ephemeral ports
// from running out at high connection rates, CRR binds each connection to one of
// --sources loopback addresses (IP_BIND_ADDRESS_NO_PORT lets connect() pick the
// port per 4-tuple), like riptide-load's client address range.
//
// The kernel's own counters (/proc/net/snmp, /proc/net/netstat) are read before
// and after: retransmitted segments, listen/backlog drops, and segments sent
// (both ends live on this host over loopback, so segments sent = packets on the
// wire). The summary goes to stdout; --json writes riptide-load's schema
// ("riptide-load/1") with the kernel's counters, per-second progress and the
// latency histogram added (docs/performance.md).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "common.hpp"

namespace {

using riptide::bench::mono_ns;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

enum class Mode { Crr, Rr, Stream };

struct Options {
  Mode mode = Mode::Crr;
  std::string mode_name = "crr";
  sockaddr_in target{};
  std::string target_text;
  std::uint32_t connections = 1;
  double duration_s = 5;
  std::uint64_t count = 0;
  double rate = 0;
  std::uint32_t request = 64, response = 64;
  in_addr source{};
  std::uint32_t sources = 1;
  bool server_closes = false;
  bool linger0 = false;
  std::uint32_t timeout_ms = 5000;
  std::string json;
  bool progress = false;
};

enum class Phase : std::uint8_t { Free, Connecting, Sending, Receiving, AwaitingClose, Idle };

struct Slot {
  int fd = -1;
  Phase phase = Phase::Free;
  std::uint32_t sent = 0, received = 0;
  std::int64_t started_ns = 0;  // when the current transaction was due/began
};

struct Errors {
  std::uint64_t refused = 0, reset = 0, timeout = 0, other = 0;
};

class Load {
 public:
  explicit Load(const Options& o) : o_(o), slots_(o.connections), request_(o.request, 'q'), buf_(256 * 1024) {
    if (o_.mode == Mode::Stream) request_.assign(64 * 1024, 's');
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
  }

  int run() {
    const auto before = riptide::bench::kernel_tcp_counters();
    start_ns_ = mono_ns();
    const std::int64_t end_ns = start_ns_ + static_cast<std::int64_t>(o_.duration_s * 1e9);
    next_due_ns_ = start_ns_;
    std::int64_t next_progress = start_ns_ + 1'000'000'000;
    std::int64_t next_timeout_scan = start_ns_ + 100'000'000;
    std::uint64_t last_tx = 0, last_bytes = 0, last_opened = 0, last_errors = 0;
    std::int64_t last_progress = start_ns_;
    if (o_.mode != Mode::Crr) {
      for (std::size_t i = 0; i < slots_.size(); ++i) open(i, mono_ns());
    }
    std::vector<epoll_event> events(512);
    for (;;) {
      std::int64_t now = mono_ns();
      if (now >= end_ns || g_stop != 0 || (o_.count != 0 && done_ >= o_.count)) break;
      dispatch(now);
      std::int64_t wait_ns = std::min(end_ns, next_progress) - now;
      if (o_.rate > 0 && pending_due(now) == 0) wait_ns = std::min(wait_ns, next_due_ns_ - now);
      if (wait_ns < 0) wait_ns = 0;
      const timespec ts{static_cast<time_t>(wait_ns / 1'000'000'000), static_cast<long>(wait_ns % 1'000'000'000)};
      const int n = ::epoll_pwait2(ep_, events.data(), static_cast<int>(events.size()), &ts, nullptr);
      now = mono_ns();
      for (int i = 0; i < n; ++i) {
        handle(static_cast<std::size_t>(events[static_cast<std::size_t>(i)].data.u64),
               events[static_cast<std::size_t>(i)].events, now);
      }
      if (now >= next_timeout_scan) {
        scan_timeouts(now);
        next_timeout_scan = now + 100'000'000;
      }
      if (now >= next_progress) {
        const double t = static_cast<double>(now - start_ns_) / 1e9;
        const double dt = static_cast<double>(now - last_progress) / 1e9;
        const std::uint64_t errors = errors_.refused + errors_.reset + errors_.timeout + errors_.other;
        progress_.push_back({t, dt > 0 ? static_cast<double>(opened_ - last_opened) / dt : 0.0,
                             dt > 0 ? static_cast<double>(done_ - last_tx) / dt : 0.0, active(),
                             errors - last_errors, bytes_ - last_bytes});
        last_opened = opened_;
        last_errors = errors;
        last_progress = now;
        if (o_.progress) {
          std::fprintf(stderr, "linux-load: t=%.0fs %s/s=%llu gbit/s=%.2f active=%zu errors=%llu\n", t,
                       o_.mode == Mode::Crr ? "conns" : "trans", static_cast<unsigned long long>(done_ - last_tx),
                       static_cast<double>(bytes_ - last_bytes) * 8 / 1e9, active(),
                       static_cast<unsigned long long>(errors_.refused + errors_.reset + errors_.timeout));
        }
        last_tx = done_;
        last_bytes = bytes_;
        next_progress += 1'000'000'000;
      }
    }
    const std::int64_t stop_ns = mono_ns();
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].fd >= 0) ::close(slots_[i].fd);
    }
    const auto after = riptide::bench::kernel_tcp_counters();
    report(static_cast<double>(stop_ns - start_ns_) / 1e9, before, after);
    return (done_ == 0 && o_.mode != Mode::Stream) || (o_.mode == Mode::Stream && bytes_ == 0) ? 1 : 0;
  }

 private:
  struct Progress {  // one second, as riptide-load's JSON has it
    double t;
    double connections_per_s;
    double transactions_per_s;
    std::uint64_t active;
    std::uint64_t errors;
    std::uint64_t bytes;
  };

  std::size_t active() const {
    std::size_t a = 0;
    for (const Slot& s : slots_) a += s.phase != Phase::Free ? 1 : 0;
    return a;
  }
  // Transactions due (rate-limited runs) but not yet started.
  std::uint64_t pending_due(std::int64_t now) const {
    if (now < next_due_ns_) return 0;
    return static_cast<std::uint64_t>(static_cast<double>(now - next_due_ns_) * o_.rate / 1e9) + 1;
  }
  // Claims the next transaction's start time: when it was due (rate) or now.
  bool claim(std::int64_t now, std::int64_t& at) {
    if (o_.count != 0 && started_ >= o_.count) return false;
    if (o_.rate > 0) {
      if (next_due_ns_ > now) return false;
      at = next_due_ns_;
      next_due_ns_ += static_cast<std::int64_t>(1e9 / o_.rate);
    } else {
      at = now;
    }
    ++started_;
    return true;
  }

  // Starts transactions on free (CRR) or idle (RR) slots.
  void dispatch(std::int64_t now) {
    if (o_.mode == Mode::Stream) return;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      Slot& s = slots_[i];
      const bool ready = o_.mode == Mode::Crr ? s.phase == Phase::Free : s.phase == Phase::Idle;
      if (!ready) continue;
      std::int64_t at = 0;
      if (!claim(now, at)) return;
      if (o_.mode == Mode::Crr) {
        open(i, at);
      } else {
        s.started_ns = at;
        s.sent = s.received = 0;
        s.phase = Phase::Sending;
        send_request(i);
      }
    }
  }

  void watch(std::size_t i, std::uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = i;
    ::epoll_ctl(ep_, op, slots_[i].fd, &ev);
  }

  void open(std::size_t i, std::int64_t at) {
    Slot& s = slots_[i];
    s = Slot{};
    s.started_ns = at;
    s.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (o_.linger0) {
      const linger l{1, 0};
      ::setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    if (o_.sources > 0 && o_.source.s_addr != 0) {
      ::setsockopt(s.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      sockaddr_in src{};
      src.sin_family = AF_INET;
      src.sin_addr.s_addr = htonl(ntohl(o_.source.s_addr) + static_cast<std::uint32_t>(opened_ % o_.sources));
      ::bind(s.fd, reinterpret_cast<sockaddr*>(&src), sizeof src);
    }
    ++opened_;
    const int rc = ::connect(s.fd, reinterpret_cast<const sockaddr*>(&o_.target), sizeof o_.target);
    if (rc != 0 && errno != EINPROGRESS) {
      fail(i, errno);
      return;
    }
    s.phase = Phase::Connecting;
    watch(i, EPOLLOUT | EPOLLIN, EPOLL_CTL_ADD);
  }

  void fail(std::size_t i, int err) {
    switch (err) {
      case ECONNREFUSED: ++errors_.refused; break;
      case ECONNRESET: case EPIPE: ++errors_.reset; break;
      case ETIMEDOUT: ++errors_.timeout; break;
      default: ++errors_.other; break;
    }
    Slot& s = slots_[i];
    if (s.fd >= 0) ::close(s.fd);
    s = Slot{};
    // A persistent connection that failed is opened again.
    if (o_.mode != Mode::Crr && g_stop == 0) open(i, mono_ns());
  }

  void send_request(std::size_t i) {
    Slot& s = slots_[i];
    for (;;) {
      const std::size_t want = o_.mode == Mode::Stream ? request_.size() : o_.request - s.sent;
      const ssize_t n = ::send(s.fd, request_.data() + (o_.mode == Mode::Stream ? 0 : s.sent), want, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == ENOTCONN) {
          watch(i, EPOLLOUT | EPOLLIN, EPOLL_CTL_MOD);
          return;
        }
        fail(i, errno);
        return;
      }
      bytes_ += static_cast<std::uint64_t>(n);
      bytes_sent_ += static_cast<std::uint64_t>(n);
      if (o_.mode == Mode::Stream) continue;
      s.sent += static_cast<std::uint32_t>(n);
      if (s.sent == o_.request) {
        s.phase = Phase::Receiving;
        watch(i, EPOLLIN, EPOLL_CTL_MOD);
        return;
      }
    }
  }

  void handle(std::size_t i, std::uint32_t ev, std::int64_t now) {
    Slot& s = slots_[i];
    if (s.fd < 0) return;
    if (s.phase == Phase::Connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        fail(i, err);
        return;
      }
      if ((ev & EPOLLOUT) == 0) return;
      if (o_.mode == Mode::Crr) {
        s.phase = Phase::Sending;
      } else if (o_.mode == Mode::Rr) {
        s.phase = Phase::Idle;
        watch(i, EPOLLIN, EPOLL_CTL_MOD);
        return;
      } else {
        s.phase = Phase::Sending;
      }
    }
    if (s.phase == Phase::Sending) {
      if ((ev & (EPOLLERR | EPOLLHUP)) != 0 && (ev & EPOLLIN) == 0) {
        int err = ECONNRESET;
        socklen_t len = sizeof err;
        ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        fail(i, err != 0 ? err : ECONNRESET);
        return;
      }
      send_request(i);
      return;
    }
    if (s.phase == Phase::Receiving || s.phase == Phase::AwaitingClose || s.phase == Phase::Idle) receive(i, now);
  }

  void receive(std::size_t i, std::int64_t now) {
    Slot& s = slots_[i];
    for (;;) {
      const ssize_t n = ::recv(s.fd, buf_.data(), buf_.size(), 0);
      if (n == 0) {
        if (s.phase == Phase::AwaitingClose) {
          finish_crr(i);
        } else {
          fail(i, ECONNRESET);  // closed before the response was complete
        }
        return;
      }
      if (n < 0) {
        if (errno != EAGAIN) fail(i, errno);
        return;
      }
      if (s.phase != Phase::Receiving) continue;  // unexpected bytes: ignored
      s.received += static_cast<std::uint32_t>(n);
      bytes_ += static_cast<std::uint64_t>(n);
      if (s.received >= o_.response) {
        latency_.record(now - s.started_ns);
        ++done_;
        if (o_.mode == Mode::Rr) {
          s.phase = Phase::Idle;
          return;
        }
        if (o_.server_closes) {
          s.phase = Phase::AwaitingClose;
          continue;
        }
        finish_crr(i);
        return;
      }
    }
  }

  void finish_crr(std::size_t i) {
    Slot& s = slots_[i];
    ::close(s.fd);
    s = Slot{};
  }

  void scan_timeouts(std::int64_t now) {
    const std::int64_t limit = static_cast<std::int64_t>(o_.timeout_ms) * 1'000'000;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      Slot& s = slots_[i];
      if (s.phase == Phase::Free || s.phase == Phase::Idle || o_.mode == Mode::Stream) continue;
      if (now - s.started_ns > limit) fail(i, ETIMEDOUT);
    }
  }

  void report(double elapsed, const std::map<std::string, std::uint64_t>& before,
              const std::map<std::string, std::uint64_t>& after) {
    auto delta = [&](const char* k) {
      auto a = after.find(k);
      auto b = before.find(k);
      return a == after.end() || b == before.end() ? 0 : a->second - b->second;
    };
    const double rate = static_cast<double>(done_) / elapsed;
    const double gbit = static_cast<double>(bytes_) * 8 / elapsed / 1e9;
    const std::uint64_t retrans = delta("Tcp.RetransSegs");
    const std::uint64_t drops = delta("TcpExt.ListenDrops") + delta("TcpExt.TCPBacklogDrop");
    const std::uint64_t out_segs = delta("Tcp.OutSegs"), in_segs = delta("Tcp.InSegs");
    const std::uint64_t conns = o_.mode == Mode::Crr ? opened_ : o_.connections;
    auto us = [](std::int64_t ns) { return static_cast<double>(ns) / 1000.0; };
    std::printf(
        "linux-load: %s %u conn(s) %.2fs: %llu transactions, %.0f/s, %.3f Gbit/s, latency p50 %.1f p99 %.1f max "
        "%.1f us, errors refused %llu reset %llu timeout %llu, retransmissions %llu, drops %llu, packets %.2f per "
        "connection\n",
        o_.mode_name.c_str(), o_.connections, elapsed, static_cast<unsigned long long>(done_), rate, gbit,
        us(latency_.quantile(0.5)), us(latency_.quantile(0.99)), us(latency_.max()),
        static_cast<unsigned long long>(errors_.refused), static_cast<unsigned long long>(errors_.reset),
        static_cast<unsigned long long>(errors_.timeout), static_cast<unsigned long long>(retrans),
        static_cast<unsigned long long>(drops), conns ? static_cast<double>(out_segs) / static_cast<double>(conns) : 0);
    if (o_.json.empty()) return;
    // riptide-load's schema ("riptide-load/1", apps/common/load.cpp to_json, README
    // "riptide-load"): the same progress and latency_histogram_us, so one reader
    // takes both; plus what only this client has: the kernel's counters, and bytes
    // per progress interval.
    riptide::bench::Json j;
    j.open();
    j.str("schema", "riptide-load/1").str("mode", o_.mode_name).str("stack", "linux");
    j.open("parameters")
        .str("protocol", "raw")
        .num("rate", o_.rate)
        .num("concurrency", std::uint64_t{o_.connections})
        .num("count", o_.count)
        .num("duration_s", o_.duration_s)
        .num("request_size", std::uint64_t{o_.request})
        .num("response_size", std::uint64_t{o_.mode == Mode::Stream ? 0 : o_.response})
        .str("closer", o_.server_closes ? "server" : "client")
        .str("stream", "send")
        .close();
    j.num("duration_s", elapsed);
    j.open("totals")
        .num("connects", opened_)
        .num("connections", opened_)
        .num("requests", started_)
        .num("transactions", done_)
        .num("bytes_sent", bytes_sent_)
        .num("bytes_received", bytes_ - bytes_sent_)
        .close();
    const double secs = elapsed > 0 ? elapsed : 1;
    j.open("rates")
        .num("connections_per_s", static_cast<double>(opened_) / secs)
        .num("transactions_per_s", rate)
        .num("bits_per_s_in", static_cast<double>(bytes_ - bytes_sent_) * 8 / secs)
        .num("bits_per_s_out", static_cast<double>(bytes_sent_) * 8 / secs)
        .close();
    j.open("latency_us")
        .num("count", latency_.count())
        .num("p50", us(latency_.quantile(0.5)))
        .num("p90", us(latency_.quantile(0.9)))
        .num("p99", us(latency_.quantile(0.99)))
        .num("p999", us(latency_.quantile(0.999)))
        .num("max", us(latency_.max()))
        .close();
    j.open("errors")
        .num("refused", errors_.refused)
        .num("reset", errors_.reset)
        .num("timeout", errors_.timeout)
        .num("other", errors_.other)
        .num("total", errors_.refused + errors_.reset + errors_.timeout + errors_.other)
        .close();
    // Both ends are on this host over loopback: every segment is sent once and
    // received once, so segments sent (both ends) = packets on the wire.
    j.open("stack")
        .num("packets_in", in_segs)
        .num("packets_out", out_segs)
        .num("segments_in", in_segs)
        .num("segments_out", out_segs)
        .num("retransmitted_segments", retrans)
        .num("drops", drops)
        .num("packets_per_connection", conns ? static_cast<double>(out_segs) / static_cast<double>(conns) : 0.0)
        .close();
    j.open("kernel")
        .num("RetransSegs", retrans)
        .num("ListenDrops", delta("TcpExt.ListenDrops"))
        .num("ListenOverflows", delta("TcpExt.ListenOverflows"))
        .num("TCPBacklogDrop", delta("TcpExt.TCPBacklogDrop"))
        .num("TCPTimeWaitOverflow", delta("TcpExt.TCPTimeWaitOverflow"))
        .num("OutSegs", out_segs)
        .num("InSegs", in_segs)
        .num("ActiveOpens", delta("Tcp.ActiveOpens"))
        .num("PassiveOpens", delta("Tcp.PassiveOpens"))
        .close();
    j.open_array("progress");
    for (const Progress& p : progress_) {
      j.open()
          .num("t", p.t)
          .num("connections_per_s", p.connections_per_s)
          .num("transactions_per_s", p.transactions_per_s)
          .num("active", std::uint64_t{p.active})
          .num("errors", p.errors)
          .num("bytes", p.bytes)
          .close();
    }
    j.close_array();
    j.open_array("latency_histogram_us");
    for (const auto& [upper, n] : latency_.nonzero()) {
      j.open_array().num(nullptr, us(upper)).num(nullptr, n).close_array();
    }
    j.close_array();
    j.close();
    std::ofstream f(o_.json);
    f << j.text() << "\n";
  }

  const Options& o_;
  int ep_ = -1;
  std::vector<Slot> slots_;
  std::string request_;
  std::vector<char> buf_;
  riptide::bench::LatencyHistogram latency_;
  std::vector<Progress> progress_;
  Errors errors_;
  std::int64_t start_ns_ = 0, next_due_ns_ = 0;
  std::uint64_t done_ = 0, started_ = 0, opened_ = 0, bytes_ = 0, bytes_sent_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"linux-load: epoll load generator for the Linux-kernel baseline of scripts/bench", "linux-load"};
  Options o;
  std::string connect = "127.0.0.1:9000", source;
  app.add_option("--mode", o.mode_name, "crr, rr or stream")->check(CLI::IsMember({"crr", "rr", "stream"}));
  app.add_option("--connect", connect, "server IP:PORT");
  app.add_option("--connections", o.connections, "concurrent connections")->check(CLI::Range(1u, 100000u));
  app.add_option("--duration", o.duration_s, "seconds to run");
  app.add_option("--count", o.count, "stop after this many transactions (0: no limit)");
  app.add_option("--rate", o.rate, "offered transactions per second (0: flat out)");
  app.add_option("--request", o.request, "request size in bytes")->check(CLI::Range(1u, 1u << 20));
  app.add_option("--response", o.response, "response size in bytes")->check(CLI::Range(1u, 1u << 20));
  app.add_option("--source", source, "first local address for CRR connections (loopback range)");
  app.add_option("--sources", o.sources, "number of consecutive local addresses from --source");
  app.add_flag("--server-closes", o.server_closes, "CRR: wait for the server's FIN instead of closing first");
  app.add_flag("--linger0", o.linger0, "close with a RST (SO_LINGER 0): no TIME-WAIT");
  app.add_option("--timeout-ms", o.timeout_ms, "a transaction not done after this long is a timeout");
  app.add_option("--json", o.json, "write the summary as JSON to FILE");
  app.add_flag("--progress", o.progress, "a progress line on stderr every second");
  CLI11_PARSE(app, argc, argv);
  o.mode = o.mode_name == "crr" ? Mode::Crr : o.mode_name == "rr" ? Mode::Rr : Mode::Stream;
  const auto colon = connect.rfind(':');
  o.target.sin_family = AF_INET;
  if (colon == std::string::npos || ::inet_pton(AF_INET, connect.substr(0, colon).c_str(), &o.target.sin_addr) != 1) {
    std::fprintf(stderr, "linux-load: --connect wants IP:PORT\n");
    return 2;
  }
  o.target.sin_port = htons(static_cast<std::uint16_t>(std::stoi(connect.substr(colon + 1))));
  if (!source.empty() && ::inet_pton(AF_INET, source.c_str(), &o.source) != 1) {
    std::fprintf(stderr, "linux-load: bad --source\n");
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);
  Load load(o);
  return load.run();
}
