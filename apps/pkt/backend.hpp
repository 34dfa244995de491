// The stack under test, as riptide-pkt's script executor (runner.cpp) sees it: a
// clock, a link (packets in, packets out) and a POSIX-like socket surface. Two back
// ends: riptide's Stack + SocketLayer on a virtual clock (riptide_backend.cpp) and
// the Linux kernel's sockets behind a tun device on real time (linux_backend.cpp).
//
// Socket calls return a value >= 0 or -errno (Linux values). They never block: a
// call that must wait returns -EAGAIN and would_block() says the script's socket is
// a blocking one, so the executor parks the call and retries it as time passes
// (packetdrill runs blocking calls on a thread; this is the same on one).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <cstdlib>
#include <string>
#include <string_view>

#include "script.hpp"
#include "stack/socket.hpp"
#include "tcp/state.hpp"

namespace riptide::pkt {

// The addresses of the simulated network (docs/pkt.md): packetdrill's defaults are
// 192.168.0.1 for the stack and 192.0.2.1 for the remote; riptide keeps to
// 198.18.0.0/15 (TESTING.md), in both back ends.
inline const Ipv4Addr kLocal = Ipv4Addr::from_octets(198, 18, 0, 1);
inline const Ipv4Addr kRemote = Ipv4Addr::from_octets(198, 18, 0, 2);
inline constexpr std::uint16_t kScriptPort = 8080;
// --ip_version=ipv6: packetdrill's IPv6 defaults are other prefixes; riptide keeps
// to the documentation prefix 2001:db8::/32 (TESTING.md), in both back ends.
inline const IpAddr kLocal6 = IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
inline const IpAddr kRemote6 = IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

// The script's address family: --ip_version=ipv4 (the default), ipv6, or
// ipv4-mapped-ipv6 (packetdrill: an AF_INET6 socket on IPv4-mapped addresses; on
// the wire that is IPv4, which is what riptide-pkt runs, the socket family not
// being a thing the socket layer has).
enum class IpVersion : std::uint8_t { V4, V6, Mapped };
inline std::optional<IpVersion> ip_version(const Script& script) {
  IpVersion v = IpVersion::V4;
  for (const auto& [name, value] : script.options) {
    if (name != "ip_version") continue;
    if (value == "ipv4") v = IpVersion::V4;
    else if (value == "ipv6") v = IpVersion::V6;
    else if (value == "ipv4-mapped-ipv6") v = IpVersion::Mapped;
    else return std::nullopt;
  }
  return v;
}
// The stack's and the remote's addresses for a script.
inline IpAddr local_addr(IpVersion v) { return v == IpVersion::V6 ? kLocal6 : IpAddr{kLocal}; }
inline IpAddr remote_addr(IpVersion v) { return v == IpVersion::V6 ? kRemote6 : IpAddr{kRemote}; }

// A `--riptide.KNOB=VALUE` header line as both back ends read it: the knob's name,
// its value, and that value as a number where it is a non-negative integer.
struct Knob {
  std::string name;
  std::string value;
  std::optional<long long> number;
};
inline std::optional<Knob> riptide_knob(const std::string& option, const std::string& value) {
  constexpr std::string_view kPrefix = "riptide.";
  if (option.rfind(kPrefix, 0) != 0) return std::nullopt;
  Knob k{option.substr(kPrefix.size()), value, std::nullopt};
  char* end = nullptr;
  const long long n = std::strtoll(value.c_str(), &end, 10);
  if (!value.empty() && end != nullptr && *end == '\0' && n >= 0) k.number = n;
  return k;
}
// "1"/"on"/"true" or "0"/"off"/"false".
inline std::optional<bool> on_off(const std::string& v) {
  if (v == "1" || v == "on" || v == "true") return true;
  if (v == "0" || v == "off" || v == "false") return false;
  return std::nullopt;
}

class Backend {
 public:
  // Called with every IP packet (IPv4 or IPv6) the stack sends, and when (us from
  // the start).
  using Sink = std::function<void(std::span<const std::byte>, std::int64_t at_us)>;

  virtual ~Backend() = default;
  void set_sink(Sink s) { sink_ = std::move(s); }

  // --- time and link ---------------------------------------------------------------------
  [[nodiscard]] virtual std::int64_t now_us() const = 0;
  // Lets time pass up to `until_us` (inclusive: also what is due exactly then),
  // handing packets sent to the sink. After anything may have happened calls
  // `progress` (false: stop, failed); returns early, true, as soon as `stop()`.
  virtual bool run_until(std::int64_t until_us, bool inclusive, const std::function<bool()>& progress,
                         const std::function<bool()>& stop) = 0;
  // The next event happens now (at t, which run_until reached): a virtual clock
  // moves to it; real time is already there.
  virtual void set_clock(std::int64_t /*us*/) {}
  // Lets the stack act on what just happened (an input, a call) at the current time.
  virtual void settle() = 0;
  // One IP packet from the remote.
  virtual void input(std::span<const std::byte> packet) = 0;
  // How long a `*` (any time) expected packet may be waited for.
  [[nodiscard]] virtual std::int64_t any_time_wait_us() const = 0;

  // --- sockets ------------------------------------------------------------------------------
  virtual long socket() = 0;
  virtual long bind(int fd, std::uint16_t port) = 0;  // INADDR_ANY:port (in6addr_any for ipv6)
  virtual long listen(int fd, int backlog) = 0;
  virtual long accept(int fd) = 0;
  virtual long connect(int fd, std::uint16_t port) = 0;  // kRemote:port (kRemote6 for ipv6)
  virtual long read(int fd, std::span<std::byte> out, int flags) = 0;
  virtual long write(int fd, std::span<const std::byte> data, int flags) = 0;
  virtual long shutdown(int fd, int how) = 0;
  virtual long close(int fd) = 0;
  virtual long fcntl(int fd, int cmd, long arg) = 0;
  virtual long setsockopt(int fd, int level, int name, std::span<const std::byte> value) = 0;
  virtual long getsockopt(int fd, int level, int name, std::span<std::byte> value, std::size_t* len) = 0;
  [[nodiscard]] virtual bool would_block(int fd, SockOp op) = 0;
  [[nodiscard]] virtual bool nonblocking(int fd) const = 0;

  // --- what tcp_info would say -----------------------------------------------------------------
  // The connection a script's %{ }% asks about: fd (the last accepted or connected
  // socket), or after close() the connection it had (FIN-WAIT, TIME-WAIT, ...).
  virtual void remember(int fd) = 0;  // fd just got a connection (accept/connect)
  [[nodiscard]] virtual std::optional<tcp::State> tcp_state(int fd) = 0;
  struct Window {
    std::int64_t cwnd = 0;      // segments, as Linux's tcpi_snd_cwnd
    std::int64_t ssthresh = 0;  // segments; 0x7fffffff never set
  };
  [[nodiscard]] virtual std::optional<Window> congestion(int fd) = 0;

 protected:
  void emit(std::span<const std::byte> packet, std::int64_t at_us) const {
    if (sink_) sink_(packet, at_us);
  }

 private:
  Sink sink_;
};

}  // namespace riptide::pkt
