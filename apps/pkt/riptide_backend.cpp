// The riptide back end: a Stack on a virtual clock with an in-memory link, the
// SocketLayer serving the script's system calls.
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "backend.hpp"
#include "riptide_backend.hpp"
#include "stack/stack.hpp"

namespace riptide::pkt {

namespace {

class RiptideBackend final : public Backend {
 public:
  RiptideBackend(const Script& s, std::string& error)
      : v6_(ip_version(s) == IpVersion::V6), stack_(config(s, error), kStart), sk_(stack_) {}

  // --- time and link ---------------------------------------------------------------------
  std::int64_t now_us() const override { return to_us(now_ - kStart); }

  bool run_until(std::int64_t until_us, bool inclusive, const std::function<bool()>& progress,
                 const std::function<bool()>& stop) override {
    const Instant t = kStart + microseconds{until_us};
    for (;;) {
      if (stop()) return true;
      auto next = stack_.next_timer();
      if (!next || *next > t || (!inclusive && *next == t)) break;
      now_ = std::max(now_, *next);
      stack_.advance(now_);
      collect();
      if (!progress()) return false;
    }
    if (t > now_) now_ = t;
    if (inclusive) {
      stack_.advance(now_);
      collect();
      if (!progress()) return false;
    }
    return true;
  }

  void set_clock(std::int64_t us) override {
    now_ = std::max(now_, kStart + microseconds{us});
    stack_.set_clock(now_);  // a call at t happens at t, not at the last input
  }

  void settle() override {
    stack_.advance(now_);
    collect();
  }

  void input(std::span<const std::byte> packet) override { stack_.input(packet, now_); }

  std::int64_t any_time_wait_us() const override { return std::int64_t{24} * 3600 * 1000000; }

  // --- sockets ------------------------------------------------------------------------------
  long socket() override { return sk_.socket(); }
  long bind(int fd, std::uint16_t port) override {
    return sk_.bind(fd, v6_ ? IpAddr{} : IpAddr{Ipv4Addr{}}, port);
  }
  long listen(int fd, int backlog) override { return sk_.listen(fd, backlog); }
  long accept(int fd) override { return sk_.accept(fd); }
  long connect(int fd, std::uint16_t port) override {
    return sk_.connect(fd, v6_ ? kRemote6 : IpAddr{kRemote}, port);
  }
  long read(int fd, std::span<std::byte> out, int flags) override { return sk_.read(fd, out, flags); }
  long write(int fd, std::span<const std::byte> data, int flags) override { return sk_.write(fd, data, flags); }
  long shutdown(int fd, int how) override { return sk_.shutdown(fd, how); }
  long close(int fd) override { return sk_.close(fd); }
  long fcntl(int fd, int cmd, long arg) override { return sk_.fcntl(fd, cmd, arg); }
  long setsockopt(int fd, int level, int name, std::span<const std::byte> value) override {
    return sk_.setsockopt(fd, level, name, value);
  }
  long getsockopt(int fd, int level, int name, std::span<std::byte> value, std::size_t* len) override {
    return sk_.getsockopt(fd, level, name, value, len);
  }
  bool would_block(int fd, SockOp op) override { return sk_.would_block(fd, op); }
  bool nonblocking(int fd) const override { return sk_.nonblocking(fd); }

  // --- what tcp_info would say -----------------------------------------------------------------
  void remember(int fd) override {
    if (auto i = sk_.info(fd)) focus_key_ = i->key;
  }

  std::optional<tcp::State> tcp_state(int fd) override {
    auto got = fd >= 0 ? sk_.tcp_state(fd) : std::nullopt;
    // After close() the fd is gone but the connection may live on (FIN-WAIT,
    // LAST-ACK, TIME-WAIT): ask the stack by its tuple.
    if (!got && focus_key_) got = stack_.state_of(*focus_key_);
    return got;
  }

  std::optional<Window> congestion(int fd) override {
    auto conn = fd >= 0 ? sk_.conn_of(fd) : std::nullopt;
    auto info = conn ? stack_.info(*conn) : std::nullopt;
    if (!info || info->snd_mss == 0) return std::nullopt;
    // Linux reports both in segments; an ssthresh never set is 0x7fffffff.
    return Window{info->cwnd / info->snd_mss,
                  info->ssthresh >= 0x7fffffffu ? 0x7fffffff : info->ssthresh / info->snd_mss};
  }

 private:
  static constexpr Instant kStart{std::chrono::seconds{100}};

  // The stack's configuration: riptide's defaults, changed by riptide-specific
  // header lines `--riptide.KNOB=VALUE` (packetdrill scripts for Linux change knobs
  // with `sysctl` in backticks, which riptide-pkt does not run).
  static StackConfig config(const Script& script, std::string& error) {
    StackConfig c;
    c.local_addrs = {kLocal};
    if (ip_version(script) == IpVersion::V6) c.local_addrs6 = {kLocal6};
    c.secret = tcp::Secret{0x72, 0x69, 0x70, 0x74, 0x69, 0x64, 0x65, 0x2d,
                           0x70, 0x6b, 0x74, 0x2d, 0x6b, 0x65, 0x79, 0x21};
    c.max_connections = 1024;
    c.max_time_wait = 1024;
    c.send_chunks = 8192;
    tcp::TcpConfig& t = c.tcp;
    for (const auto& [name, raw] : script.options) {
      const std::optional<Knob> k = riptide_knob(name, raw);
      if (!k) continue;
      const std::string& knob = k->name;
      const std::string& value = k->value;
      const bool numeric = k->number.has_value();
      const long long n = k->number.value_or(0);
      auto flag = [&](bool& out) {
        if (auto b = on_off(value)) out = *b;
        else error = "--riptide." + knob + ": expected on/off, got '" + value + "'";
      };
      const auto ms = [&](long long v) { return std::chrono::duration_cast<Duration>(milliseconds{v}); };
      if (knob == "syn_cookies") {
        if (value == "auto") t.syn_cookies = tcp::SynCookieMode::Auto;
        else if (value == "always") t.syn_cookies = tcp::SynCookieMode::Always;
        else if (value == "never") t.syn_cookies = tcp::SynCookieMode::Never;
        else error = "--riptide.syn_cookies: expected auto, always or never, got '" + value + "'";
      } else if (knob == "congestion") {
        if (auto a = tcp::parse_congestion_algorithm(value)) t.congestion = *a;
        else error = "--riptide.congestion: expected newreno or cubic, got '" + value + "'";
      } else if (knob == "timestamps") {
        flag(t.timestamps);
      } else if (knob == "sack") {
        flag(t.sack);
      } else if (knob == "window_scaling") {
        flag(t.window_scaling);
      } else if (knob == "tail_loss_probe") {
        flag(t.tail_loss_probe);
      } else if (knob == "nodelay") {
        flag(t.nodelay);
      } else if (!numeric) {
        error = "--riptide." + knob + ": unknown knob or bad value '" + value + "'";
      } else if (knob == "mss") {
        t.mss = static_cast<std::uint16_t>(n);
      } else if (knob == "window_scale") {
        t.window_scale = static_cast<std::uint8_t>(n);
      } else if (knob == "rcv_buf") {
        t.rcv_buf = static_cast<std::uint32_t>(n);
      } else if (knob == "snd_buf") {
        t.snd_buf = static_cast<std::uint32_t>(n);
      } else if (knob == "rto_initial_ms") {
        t.rto_initial = ms(n);
      } else if (knob == "rto_min_ms") {
        t.rto_min = ms(n);
      } else if (knob == "rto_max_ms") {
        t.rto_max = ms(n);
      } else if (knob == "syn_retries") {
        t.syn_retries = static_cast<std::uint8_t>(n);
      } else if (knob == "synack_retries") {
        t.synack_retries = static_cast<std::uint8_t>(n);
      } else if (knob == "max_retries") {
        t.max_retries = static_cast<std::uint8_t>(n);
      } else if (knob == "connect_timeout_ms") {
        t.connect_timeout = ms(n);
      } else if (knob == "time_wait_ms") {
        t.time_wait = ms(n);
      } else if (knob == "delayed_ack_ms") {
        t.delayed_ack = ms(n);
      } else if (knob == "challenge_ack_limit") {
        t.challenge_ack_limit = static_cast<std::uint32_t>(n);
      } else {
        error = "--riptide." + knob + ": unknown knob";
      }
    }
    if (error.empty()) {
      if (auto problem = validate(c)) error = "bad --riptide.* configuration: " + *problem;
    }
    if (!error.empty()) {  // the script fails; the stack still needs a valid stand-in
      StackConfig d;
      d.local_addrs = {kLocal};
      d.secret = c.secret;
      c = d;
    }
    return c;
  }

  void collect() {
    stack_.drain_tx([&](std::span<const std::byte> pkt) { emit(pkt, now_us()); });
  }

  Instant now_ = kStart;
  bool v6_ = false;  // --ip_version=ipv6
  Stack stack_;
  SocketLayer sk_;
  std::optional<FlowKey> focus_key_;
};

}  // namespace

std::unique_ptr<Backend> make_riptide_backend(const Script& script, std::string& error) {
  return std::make_unique<RiptideBackend>(script, error);
}

}  // namespace riptide::pkt
