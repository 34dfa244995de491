// riptide-proxy's relay (issue 12): one ProxyWorker per worker Stack accepts on the
// configured listeners, opens a connection to a backend for each accepted one from
// the same Stack (so from the same core: Stack::connect picks an ephemeral port
// whose tuple the core owns, StackConfig::owns, as riptide-load's connections do),
// and relays bytes both ways. Independent of DPDK: apps/proxy.cpp drives it on the
// runtime's workers, tests/unit/apps/proxy_test.cpp on stacks joined in memory.
//
// A proxied connection is a Pair of two legs: `client` (accepted) and `upstream`
// (our active open to the backend).
//
// Relay and backpressure. Bytes a leg delivers go straight into the other leg's
// send buffer (Stack::send copies them); what does not fit waits in the pair's
// ByteRing for that direction, and the receiving leg is told it holds that much
// (Stack::set_receive_held), so its advertised window shrinks by exactly the bytes
// waiting: when the other side cannot take more, this side's window closes and its
// sender stops (end-to-end flow control). on_writable of the other leg drains the
// ring and the window reopens. Bytes that arrive before the upstream connects wait
// the same way. Each ring so stays within the receiving leg's receive buffer
// (tcp.rcv_buf): the peer can only send into the window, and the window is rcv_buf
// minus what the ring holds. Memory per pair: at most 2 x tcp.rcv_buf of ring
// (allocated as needed, kept with the pair slot for the next connection) plus the
// two legs' send buffers (2 x tcp.snd_buf, the stack's). RelayStats::over_window
// counts bytes beyond that bound (never expected: the test suites assert 0).
// Not yet: a zero-copy hand-over of received chunks to the other leg (issue 12).
//
// Closing. A FIN from one side becomes shutdown_write() on the other leg once the
// ring toward it is empty (after the data before the FIN); data keeps flowing the
// other way; the pair ends when both legs have closed (both FINs each way, or a
// leg's TIME-WAIT). A leg that ends any other way (RST from its peer, retransmission
// timeout) aborts the other (RST). A backend that refuses (RST to our SYN), does
// not answer within connect_timeout_ms, or cannot be connected to at all (no
// ephemeral port, no connection slot), or no backend available (all marked down),
// fails the client: RST, or FIN with on_backend_failure = "close"; counted per
// backend and per listener. idle_timeout_ms without a byte either way aborts both
// legs. max_connections (per listener, split evenly over the workers) resets
// clients beyond it as they complete their handshake.
//
// HTTP CONNECT (mode "connect", RFC 9110 9.3.6): the client's first bytes are a
// CONNECT request (apps/common/http_connect.hpp), read whole within
// connect_request_max_bytes and connect_request_timeout_ms; its destination (an
// IPv4 literal: riptide has no resolver) must be in connect_allow. Then the
// upstream is opened to it, and once it connects the client gets "HTTP/1.1 200
// Connection established" and the pair relays like any other. Bytes after the
// request's empty line (in the same segment or later) are the tunnel's: held
// until the upstream connects, as above. Refusals are answered with a status and
// a FIN, each counted: 400 malformed, too large, or a name; 405 another method;
// 403 not allowed; 408 request time limit; 502 refused or failed here; 504 connect
// timeout. No retries, no passive health (there is no pool: each client names its
// own destination).
//
// Trusted fronts: with accept_proxy_protocol and a non-empty accept_proxy_from, a
// client whose address is in none of those CIDRs is reset as it completes its
// handshake (untrusted_fronts), before any byte of it is read: a PROXY header
// from it would let it claim any client address. (Resetting rather than serving it
// as a direct client: a listener that expects headers would otherwise take the
// first bytes of such a client as a header and reset it anyway, later and with
// less said; and a front that lost its place in the list should fail loudly.)
//
// Active health checks (health_check_interval_ms > 0): every interval, for each
// backend of the listener, a TCP connect from this worker (so each worker checks
// on its own, as it learns passive health on its own); once connected it sends
// health_check_send, if any, and the reply must start with health_check_expect,
// if any, within health_check_timeout_ms of the start. Refused, timed out, closed
// before the expected bytes, or different bytes: a failure. The result goes to
// BackendPool::check_result() (rise/fall; how passive marks combine with it is
// described there). A check connection ends with a RST once its result is known
// (no TIME-WAIT record per check, as HAProxy's checks do). The first checks go
// out spread over the first interval after listen(); the next starts one
// interval after the previous one started (or when it ends, if it took longer).
// Check connections use the stack's connection slots like the pairs' legs.
//
// Timers: connect deadline and idle timeout on one TimerEntry per pair, and one
// per health check, in this worker's own timing wheel; poll(now) runs them (every
// loop iteration).
//
// Thread-safety: a ProxyWorker is touched only by its Stack's core. Its counters
// (ListenerStats, BackendStats, RelayStats) may be read by another thread for the
// status line, telemetry and the summary: 64-bit loads do not tear on x86-64, a
// figure may be a moment stale (as Runtime::total_counters()).
#pragma once

#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/backend_pool.hpp"
#include "common/proxy_config.hpp"
#include "stack/stack.hpp"
#include "stack/timer_wheel.hpp"

namespace riptide::apps::proxy {

// A FIFO of bytes in one growable ring: append at the back, read and consume
// contiguous pieces at the front. Grows by doubling (copying once); never
// shrinks, so a slot reused by the next connection allocates nothing more.
class ByteRing {
 public:
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::size_t capacity() const noexcept { return buf_.size(); }
  void append(std::span<const std::byte> data);
  // The oldest bytes that are contiguous in memory (empty when the ring is).
  [[nodiscard]] std::span<const std::byte> front() const noexcept;
  void consume(std::size_t n) noexcept;
  void clear() noexcept { head_ = size_ = 0; }

 private:
  std::vector<std::byte> buf_;  // size is a power of two (or 0)
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

// Counters per listener, per worker.
struct ListenerStats {
  std::uint64_t accepted = 0;        // client connections that completed the handshake
  std::uint64_t connected = 0;       // ... whose upstream connected
  std::uint64_t refused = 0;         // ... whose backend refused (RST to our SYN)
  std::uint64_t timeouts = 0;        // ... whose backend did not answer in connect_timeout_ms
  std::uint64_t connect_errors = 0;  // ... whose connect failed here (no port, no slot)
  std::uint64_t no_backend = 0;      // ... with every backend marked down
  std::uint64_t over_limit = 0;      // ... reset: max_connections reached
  std::uint64_t over_client_limit = 0;  // ... reset: max_connections_per_client reached for its address
  std::uint64_t retries = 0;         // connects tried again on another backend (connect_retries)
  std::uint64_t no_memory = 0;       // ... reset: no pair slot left (limits.max_connections / 2)
  std::uint64_t idle_timeouts = 0;   // pairs aborted after idle_timeout_ms without a byte
  std::uint64_t client_aborts = 0;   // pairs ended by the client leg's RST or retransmission timeout
  std::uint64_t backend_aborts = 0;  // pairs ended by the upstream leg's RST or timeout after connecting
  std::uint64_t proxy_headers = 0;   // PROXY protocol headers sent to backends (send_proxy_protocol)
  std::uint64_t proxy_headers_accepted = 0;  // headers read from the front (accept_proxy_protocol)
  std::uint64_t bad_proxy_headers = 0;       // ... malformed, too long, cut by a FIN or late: client reset
  std::uint64_t untrusted_fronts = 0;        // reset: accept_proxy_protocol, address not in accept_proxy_from
  // mode "connect" (HTTP CONNECT tunnels); a destination that refuses is counted in
  // `refused` (answered 502), one that does not answer in `timeouts` (504), a
  // connect that fails here in `connect_errors` (502).
  std::uint64_t connect_requests = 0;          // CONNECT requests read whole
  std::uint64_t connect_established = 0;       // ... answered 200: tunnels opened
  std::uint64_t connect_malformed = 0;         // 400: not an HTTP/1.x request (or cut off by a FIN)
  std::uint64_t connect_too_large = 0;         // 400: over connect_request_max_bytes
  std::uint64_t connect_not_ipv4 = 0;          // 400: a name or an IPv6 literal (riptide has no resolver)
  std::uint64_t connect_bad_method = 0;        // 405: a method other than CONNECT
  std::uint64_t connect_forbidden = 0;         // 403: the destination is not in connect_allow
  std::uint64_t connect_request_timeouts = 0;  // 408: no whole request within connect_request_timeout_ms
  std::uint64_t bytes_to_backend = 0;  // client bytes relayed (PROXY headers, CONNECT requests not counted)
  std::uint64_t bytes_to_client = 0;
  std::uint64_t active = 0;          // pairs now
};

// Every ListenerStats counter once, with its name (telemetry's key, the exit
// summary's word): summing over workers, /riptide/proxy and the summary walk this
// list, so a new counter is added here and in the struct, nowhere else. The
// summary prints the CONNECT-mode counters (`connect_mode`) on a line of their own,
// without their "connect_" prefix.
struct ListenerCounter {
  const char* name;
  std::uint64_t ListenerStats::*field;
  bool connect_mode = false;
};
inline constexpr ListenerCounter kListenerCounters[] = {
    {"accepted", &ListenerStats::accepted},
    {"connected", &ListenerStats::connected},
    {"refused", &ListenerStats::refused},
    {"timeouts", &ListenerStats::timeouts},
    {"connect_errors", &ListenerStats::connect_errors},
    {"no_backend", &ListenerStats::no_backend},
    {"over_limit", &ListenerStats::over_limit},
    {"no_memory", &ListenerStats::no_memory},
    {"idle_timeouts", &ListenerStats::idle_timeouts},
    {"client_aborts", &ListenerStats::client_aborts},
    {"backend_aborts", &ListenerStats::backend_aborts},
    {"bytes_to_backend", &ListenerStats::bytes_to_backend},
    {"bytes_to_client", &ListenerStats::bytes_to_client},
    {"active", &ListenerStats::active},
    {"proxy_headers", &ListenerStats::proxy_headers},
    {"proxy_headers_accepted", &ListenerStats::proxy_headers_accepted},
    {"bad_proxy_headers", &ListenerStats::bad_proxy_headers},
    {"over_client_limit", &ListenerStats::over_client_limit},
    {"retries", &ListenerStats::retries},
    {"untrusted_fronts", &ListenerStats::untrusted_fronts},
    {"connect_requests", &ListenerStats::connect_requests, true},
    {"connect_established", &ListenerStats::connect_established, true},
    {"connect_malformed", &ListenerStats::connect_malformed, true},
    {"connect_too_large", &ListenerStats::connect_too_large, true},
    {"connect_not_ipv4", &ListenerStats::connect_not_ipv4, true},
    {"connect_bad_method", &ListenerStats::connect_bad_method, true},
    {"connect_forbidden", &ListenerStats::connect_forbidden, true},
    {"connect_request_timeouts", &ListenerStats::connect_request_timeouts, true},
};
static_assert(std::size(kListenerCounters) * sizeof(std::uint64_t) == sizeof(ListenerStats),
              "kListenerCounters lists every ListenerStats counter");

// The relay's memory, per worker.
struct RelayStats {
  std::uint64_t buffered = 0;       // bytes waiting in rings now
  std::uint64_t buffered_peak = 0;  // the most that ever waited at once
  std::uint64_t pair_peak = 0;      // the most one direction of one pair ever held
  std::uint64_t ring_bytes = 0;     // ring memory allocated (kept across connections)
  std::uint64_t over_window = 0;    // bytes a ring held beyond the leg's rcv_buf (expected 0)
};

class ProxyWorker {
 public:
  // `workers`: how many ProxyWorkers share the configuration (max_connections is
  // split evenly between them). Keeps a copy of `cfg`.
  ProxyWorker(Stack& stack, const ProxyConfig& cfg, std::size_t workers = 1);
  ~ProxyWorker();
  ProxyWorker(const ProxyWorker&) = delete;
  ProxyWorker& operator=(const ProxyWorker&) = delete;

  // Listens on every listener's address; the problem, naming the listener, if one
  // cannot.
  [[nodiscard]] std::optional<std::string> listen();
  // Runs due timers (connect deadlines, idle timeouts). Call at every loop
  // iteration (runtime::Worker::set_poll_hook), with the Stack's clock.
  void poll(Instant now);
  // The earliest timer deadline, for hosts that sleep or jump their clock (tests).
  [[nodiscard]] std::optional<Instant> next_timer() const noexcept { return wheel_.next_deadline(); }

  [[nodiscard]] std::size_t listener_count() const noexcept { return listeners_.size(); }
  [[nodiscard]] const ListenerStats& listener_stats(std::size_t l) const noexcept;
  [[nodiscard]] const BackendPool& pool(std::size_t l) const noexcept;
  [[nodiscard]] const RelayStats& relay_stats() const noexcept { return relay_; }
  [[nodiscard]] const ProxyConfig& config() const noexcept { return cfg_; }
  [[nodiscard]] std::size_t pair_capacity() const noexcept { return pair_count_; }
  // Draining at run time (the owning core only): backend b of listener l gets no
  // new connections while `on`; the ones it has go on.
  void set_drain(std::size_t l, std::size_t b, bool on) noexcept;

 private:
  struct Pair;
  struct Listener;
  struct HealthCheck;
  class Legs;   // the Handler of every leg (a private base would show in the API)
  class Probe;  // the Handler of health check connections
  friend class Legs;
  friend class Probe;

  Pair* pair_of(ConnId c) const;
  void accept(Listener& l, ConnId c);
  void start_upstream(Pair& p, std::optional<std::size_t> failed = std::nullopt);  // pick, connect
  // The upstream failed before connecting: connect_retries, else fail_client();
  // `status`: what a CONNECT client is answered (502 refused, 504 timed out).
  void retry_or_fail(Pair& p, unsigned status);
  void take_header(Pair& p, std::span<const std::byte> bytes);  // accept_proxy_protocol
  void begin_request(Pair& p);                                   // mode connect
  void take_request(Pair& p, std::span<const std::byte> bytes);
  void answer_and_close(Pair& p, unsigned status);  // an HTTP error to the client, FIN, pair gone
  BackendStats* backend_stats(Pair& p) noexcept;    // nullptr for a tunnel
  void connected(ConnId c);
  void data(ConnId c, std::span<const std::byte> bytes);
  void writable(ConnId c);
  void peer_closed(ConnId c);
  void closed(ConnId c, CloseReason r);
  void on_timer(Pair& p);
  HealthCheck* check_of(ConnId c) const;
  void start_check(HealthCheck& h);
  void on_check_timer(HealthCheck& h);
  void check_connected(ConnId c);
  void check_data(ConnId c, std::span<const std::byte> bytes);
  void check_ended(ConnId c, std::optional<CloseReason> r);  // peer's FIN (nullopt) or closed
  void finish_check(HealthCheck& h, bool ok, bool conn_gone = false);

  void flush(Pair& p, bool to_upstream);
  void update_held(Pair& p, bool from_client);
  void fail_client(Pair& p, unsigned status = 502);
  void abort_pair(Pair& p);
  void release(Pair& p);
  void account(std::int64_t delta) noexcept;

  Stack& stack_;
  ProxyConfig cfg_;
  std::size_t workers_;
  std::uint32_t rcv_buf_;  // every leg's receive buffer: the bound of a ring
  std::unique_ptr<Legs> legs_;
  std::unique_ptr<Probe> probe_;
  std::vector<std::unique_ptr<HealthCheck>> checks_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unique_ptr<Pair[]> pairs_;
  std::size_t pair_count_ = 0;
  std::vector<std::uint32_t> free_;
  TimerWheel wheel_;
  RelayStats relay_;
};

}  // namespace riptide::apps::proxy
