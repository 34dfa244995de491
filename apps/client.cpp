// riptide-client: a small TCP client on riptide, for the interop suite (riptide
// opening connections to a Linux server) and for trying the active-open path.
//   riptide-client [EAL args] -- --config config/riptide.toml --connect IP:PORT
//                  [--send-bytes N | --request STRING] [--expect-close | --close-first]
//                  [--count N] [--timeout-ms MS] [--stats 1] [--set KEY=VALUE ...]
//
// For each of --count connections, one after the other: connect, send the payload
// (N bytes of the pattern byte[i] = i % 251, or the --request string), then
//   default         shut the write side (FIN) once everything is sent, read until
//                   the peer's FIN;
//   --close-first   the same, and the connection must end with riptide's side in
//                   TIME-WAIT (riptide's FIN went first: the active close);
//   --expect-close  keep the write side open, read until the peer's FIN, then
//                   send ours (the peer closes first; riptide must not end in
//                   TIME-WAIT).
// A connection ends when the stack reports it closed (both FINs acknowledged).
// Prints "riptide-client: listening" once the runtime is up (the readiness line
// scripts/lib/testhosts.sh waits for), and when all are done one line per connection:
//   riptide-client: conn 1 198.18.0.1:40000 <- 198.18.0.2:9000 sent 100 received 64
//                   sha256 <hex> close normal first-fin riptide time-wait yes
// and exits 0 when every connection ended normally, 1 at the first that did not
// (refused, reset, timed out, or not closed the way asked).
#include <sodium.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/endpoint.hpp"
#include "common/program.hpp"

namespace {

using namespace riptide;

struct Options {
  IpAddr addr{};
  std::uint16_t port = 0;
  std::uint64_t send_bytes = 0;
  std::string request;
  bool use_request = false;
  bool expect_close = false;
  bool close_first = false;
  std::uint32_t count = 1;
  std::uint32_t timeout_ms = 30000;
};

// Milliseconds on the steady clock, shared with the watchdog thread.
std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class Client final : public Handler {
 public:
  explicit Client(const Options& o) : o_(o) {
    for (std::size_t i = 0; i < pattern_.size(); ++i) pattern_[i] = static_cast<std::byte>(i % 251);
  }

  // Starts the next connection, or stops the runtime when all are done.
  void next(Stack& s) {
    if (failed_ || done_ == o_.count) {
      finish();
      return;
    }
    conn_ = Conn{};
    conn_.index = done_ + 1;
    crypto_hash_sha256_init(&conn_.sha);
    deadline_ms.store(steady_ms() + o_.timeout_ms, std::memory_order_relaxed);
    auto c = s.connect(o_.addr, o_.port, *this);
    if (!c) {
      std::printf("riptide-client: conn %u connect: %s\n", conn_.index, std::string(to_string(c.error())).c_str());
      fail();
      return;
    }
    conn_.id = *c;
    conn_.active = true;
    if (auto info = s.info(*c)) conn_.key = info->key;
  }

  void on_connected(Stack& s, ConnId c) override {
    if (!mine(c)) return;
    (void)s.set_nodelay(c, true);
    pump(s);
  }

  void on_data(Stack&, ConnId c, std::span<const std::byte> data) override {
    if (!mine(c)) return;
    crypto_hash_sha256_update(&conn_.sha, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    conn_.received += data.size();
  }

  void on_writable(Stack& s, ConnId c) override {
    if (mine(c)) pump(s);
  }

  void on_peer_closed(Stack& s, ConnId c) override {
    if (!mine(c)) return;
    conn_.peer_fin = true;
    if (!conn_.our_fin) conn_.peer_fin_first = true;
    if (o_.expect_close) {
      // The peer closed first: our FIN follows what is queued; on_closed() comes
      // when it is acknowledged (LAST-ACK -> CLOSED).
      if (conn_.sent < payload_size()) {
        std::printf("riptide-client: conn %u peer closed before our %llu bytes were queued (%llu)\n", conn_.index,
                    static_cast<unsigned long long>(payload_size()), static_cast<unsigned long long>(conn_.sent));
        conn_.bad = true;
      }
      conn_.our_fin = true;
      if (auto e = s.shutdown_write(c)) {
        std::printf("riptide-client: conn %u shutdown: %s\n", conn_.index, std::string(to_string(*e)).c_str());
        conn_.bad = true;
      }
    }
  }

  void on_closed(Stack& s, ConnId c, CloseReason r) override {
    if (!mine(c)) return;
    report(r);
    after(s);
  }

  [[nodiscard]] bool failed() const noexcept { return failed_; }

  std::atomic<std::int64_t> deadline_ms{0};
  std::atomic<bool> finished{false};

 private:
  struct Conn {
    std::uint32_t index = 0;
    ConnId id{};
    FlowKey key{};
    bool active = false;
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    bool our_fin = false;
    bool peer_fin = false;
    bool peer_fin_first = false;
    bool bad = false;
    crypto_hash_sha256_state sha{};
  };

  struct Result {
    std::uint32_t index = 0;
    FlowKey key{};
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    CloseReason reason = CloseReason::Normal;
    bool peer_fin_first = false;
    bool ok = false;
    char sha_hex[2 * crypto_hash_sha256_BYTES + 1] = {};
  };

  bool mine(ConnId c) const noexcept { return conn_.active && c == conn_.id; }
  std::uint64_t payload_size() const noexcept { return o_.use_request ? o_.request.size() : o_.send_bytes; }

  void pump(Stack& s) {
    const ConnId c = conn_.id;
    while (conn_.sent < payload_size()) {
      std::span<const std::byte> chunk;
      if (o_.use_request) {
        chunk = std::as_bytes(std::span(o_.request)).subspan(conn_.sent);
      } else {
        const std::size_t off = conn_.sent % 251;  // the pattern repeats every 251 bytes
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(payload_size() - conn_.sent, pattern_.size() - off));
        chunk = std::span<const std::byte>(pattern_.data() + off, n);
      }
      auto n = s.send(c, chunk);
      if (!n) {
        std::printf("riptide-client: conn %u send: %s\n", conn_.index, std::string(to_string(n.error())).c_str());
        conn_.bad = true;
        (void)s.abort(c);  // reports nothing more for c
        report(CloseReason::Aborted);
        after(s);
        return;
      }
      conn_.sent += *n;
      if (*n < chunk.size()) return;  // full: on_writable resumes
    }
    if (!o_.expect_close && !conn_.our_fin) {
      conn_.our_fin = true;
      if (auto e = s.shutdown_write(c)) {
        std::printf("riptide-client: conn %u shutdown: %s\n", conn_.index, std::string(to_string(*e)).c_str());
        conn_.bad = true;
      }
    }
  }

  void report(CloseReason r) {
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&conn_.sha, digest);
    Result res;
    sodium_bin2hex(res.sha_hex, sizeof res.sha_hex, digest, sizeof digest);
    res.index = conn_.index;
    res.key = conn_.key;
    res.sent = conn_.sent;
    res.received = conn_.received;
    res.reason = r;
    res.peer_fin_first = conn_.peer_fin_first;
    // A normal close has both FINs: ours (shutdown_write) and the peer's.
    res.ok = !conn_.bad && r == CloseReason::Normal && conn_.sent == payload_size() && conn_.peer_fin;
    results_.push_back(res);
    conn_.active = false;
    if (!res.ok) failed_ = true;
  }

 public:
  // One line per connection. Run after the loop: a TIME-WAIT record takes over the
  // tuple only after on_closed() returns, so whether riptide holds one is asked
  // here (the records outlive the loop; abort_all() leaves them alone).
  void print_results(const Stack& s) {
    for (Result& res : results_) {
      const bool tw = s.time_wait_exists(res.key);
      if (o_.close_first && (!tw || res.peer_fin_first)) res.ok = false;
      if (o_.expect_close && (tw || !res.peer_fin_first)) res.ok = false;
      if (!res.ok) failed_ = true;
      std::printf(
          "riptide-client: conn %u %s sent %llu received %llu sha256 %s close %s first-fin %s time-wait %s%s\n",
          res.index, to_string(res.key).c_str(), static_cast<unsigned long long>(res.sent),
          static_cast<unsigned long long>(res.received), res.sha_hex, std::string(to_string(res.reason)).c_str(),
          res.peer_fin_first ? "peer" : "riptide", tw ? "yes" : "no", res.ok ? "" : " FAILED");
    }
    std::fflush(stdout);
  }

 private:
  // After a connection ended: the next one, or the end.
  void after(Stack& s) {
    ++done_;
    next(s);
  }

  void fail() {
    failed_ = true;
    finish();
  }
  void finish() {
    conn_.active = false;
    finished.store(true, std::memory_order_relaxed);
    runtime::Runtime::request_stop();
  }

  const Options& o_;
  std::array<std::byte, 251 * 64> pattern_{};
  Conn conn_;
  std::vector<Result> results_;
  std::uint32_t done_ = 0;
  bool failed_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"riptide-client: TCP client on the riptide TCP stack", "riptide-client"};
  riptide::apps::CommonFlags flags;
  riptide::apps::add_common_flags(app, flags);
  Options o;
  std::string endpoint;
  app.add_option("--connect", endpoint, "server to connect to, IP:PORT")->required();
  auto* sb = app.add_option("--send-bytes", o.send_bytes, "send N bytes of the pattern byte[i] = i % 251");
  auto* rq = app.add_option("--request", o.request, "send this string instead (e.g. an HTTP request)");
  sb->excludes(rq);
  auto* ec = app.add_flag("--expect-close", o.expect_close,
                          "keep the write side open and wait for the peer's FIN, then close");
  auto* cf = app.add_flag("--close-first", o.close_first,
                          "riptide closes first (active close) and must end in TIME-WAIT");
  ec->excludes(cf);
  app.add_option("--count", o.count, "sequential connections")->check(CLI::Range(1u, 1000000u));
  app.add_option("--timeout-ms", o.timeout_ms, "give up on a connection after this long")
      ->check(CLI::Range(1u, 3600000u));
  int status = 0;
  auto rt = riptide::apps::start_program(argc, argv, app, flags, status);
  if (!rt) return status;
  const auto target = riptide::apps::parse_endpoint(endpoint);
  if (!target) {
    std::fprintf(stderr, "riptide-client: --connect wants IPV4:PORT or [IPV6]:PORT, got '%s'\n", endpoint.c_str());
    return 1;
  }
  o.addr = target->addr;
  o.port = target->port;
  o.use_request = !o.request.empty();
  if (sodium_init() < 0) {
    std::fprintf(stderr, "riptide-client: libsodium failed to initialise\n");
    return 1;
  }

  Client client(o);
  std::printf("riptide-client: listening on %s, connecting to %s, %u connection(s)\n",
              riptide::to_string(rt->config().address).c_str(), endpoint.c_str(), o.count);
  std::fflush(stdout);
  client.next(rt->stack());

  // The watchdog: the runtime has no application timers, so a thread watches the
  // current connection's deadline and stops the loop when it passes.
  std::mutex m;
  std::condition_variable cv;
  bool exiting = false;
  std::atomic<bool> timed_out{false};
  std::thread watchdog([&] {
    std::unique_lock lk(m);
    while (!exiting) {
      cv.wait_for(lk, std::chrono::milliseconds(20));
      if (!client.finished.load(std::memory_order_relaxed) &&
          steady_ms() > client.deadline_ms.load(std::memory_order_relaxed)) {
        // The loop then aborts the connection: its line says "close aborted".
        std::printf("riptide-client: timed out after %u ms\n", o.timeout_ms);
        std::fflush(stdout);
        timed_out.store(true);
        riptide::runtime::Runtime::request_stop();
        return;
      }
    }
  });
  const int rc = rt->run({flags.stats, "riptide-client"});
  {
    std::lock_guard lk(m);
    exiting = true;
  }
  cv.notify_all();
  watchdog.join();
  client.print_results(rt->stack());
  const bool failed = timed_out.load() || client.failed() || !client.finished.load();
  std::printf("riptide-client: %s\n", failed ? "FAILED" : "ok");
  rt.reset();
  riptide::runtime::cleanup_eal();
  return rc != 0 ? rc : (failed ? 1 : 0);
}
