// riptide-load's engine: a per-worker load generator driven by a Stack's callbacks,
// and the pure parts around it (a log-linear latency histogram, totals, the progress
// line, the summary and its JSON). Independent of main(), of DPDK and of global
// state, so a host other than apps/load.cpp (a one-process bench running the
// generator and a server on two lcores, a unit test over an in-memory link) can drive
// it the same way.
//
// Driving a LoadGenerator (one per Stack, on that Stack's core):
//   LoadGenerator gen(stack, params);       // params for this worker's share
//   every loop iteration: gen.poll(now)     // after input/advance, before transmit
//                                           // (runtime::Worker::set_poll_hook)
//   gen.finished()                          // true once its share is done and its
//                                           // connections are closed (any thread)
//   gen.stats(), gen.latency()              // totals so far (see "Thread-safety")
// The generator is the Handler of every connection it opens; nothing else may use
// the Stack's handlers for them.
//
// Workloads (TESTING.md "Measuring speed"):
//   CRR     connect, send the request, read the response, close; a new connection
//           per transaction. `closer` says who sends the first FIN: the client
//           (close() once the response is in: TIME-WAIT on the client) or the server
//           (HTTP "Connection: close", or a raw server that closes after answering;
//           the client closes when the server's FIN arrives).
//   RR      `concurrency` persistent connections; a transaction is one request and
//           its whole response, one in flight per connection.
//   STREAM  bulk transfer one way on `concurrency` connections: Send writes
//           request_size bytes (0: until the end of the run), shuts the write side
//           and waits for the server to close; Receive sends one request and reads
//           response_size bytes (raw; 0: until the server closes) or the HTTP body.
//           When `duration` ends first, a transfer still running is cut there: Send
//           stops writing and shuts the write side, Receive counts the transfer as
//           done at that moment (the bytes so far) and resets the connection.
// A raw transaction sends request_size bytes of the pattern byte[i] = i % 251 and
// expects exactly response_size bytes back (riptide-echo, or any server that
// answers a fixed size); an HTTP one sends "GET path HTTP/1.1" and reads a 2xx
// response framed by Content-Length (riptide-httpd, nginx, ...).
//
// Pacing: a schedule on the clock the host passes in (runtime::tsc_now() in a DPDK
// program): `rate` new connections/s (CRR) or requests/s (RR) for this worker; 0: as
// fast as the slots free up. Starts owed by the schedule but not yet possible (every
// connection busy, the core descheduled for a few ms) are kept, up to 1 s worth
// (kPacingBacklog), and made up as soon as connections free up, so the delivered
// rate is the offered one whenever the server can carry it on average (a 1 ms
// bucket lost every start owed during a stall: RR delivered a third of its rate on a
// shared machine). `concurrency` bounds connections in flight (CRR) or open (RR,
// STREAM), and so the size of a catch-up burst.
//
// Costs: slots, buffers and the handle map are allocated in the constructor; the
// steady state allocates nothing, calls no std::function, and finds a connection's
// slot by the handle's slot index. Timeouts: a slot that makes no progress for
// `timeout` is aborted and counted; the check runs every 10 ms over busy slots.
//
// Thread-safety: a LoadGenerator is touched only by its Stack's core. finished() is
// an atomic flag; stats() and latency() may be read by a reporting thread while the
// core runs, as Runtime::total_counters() reads counters: 64-bit loads do not tear on
// x86-64, so a live figure may be a moment stale but never garbage. Read them for a
// final report only once the core has stopped.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/counters.hpp"
#include "common/ip_addr.hpp"
#include "common/endpoint.hpp"
#include "common/time.hpp"
#include "stack/stack.hpp"

namespace riptide::apps::load {

// ---------------------------------------------------------------------------------
// Histogram: log-linear (HDR-style) buckets over 64-bit values (nanoseconds here).
// Values below 2^kSubBits are exact; above, each power of two is split into
// 2^kSubBits equal buckets, so a bucket's width is under 1/128 of its values
// (relative error < 0.8%). 7,424 buckets cover every uint64. Mergeable (add), and
// an earlier snapshot of the same histogram can be subtracted to get an interval's.
class Histogram {
 public:
  static constexpr unsigned kSubBits = 7;
  static constexpr std::size_t kSub = std::size_t{1} << kSubBits;
  static constexpr std::size_t kBuckets = (64 - kSubBits + 1) * kSub;

  void record(std::uint64_t v) noexcept {
    ++counts_[bucket_of(v)];
    ++count_;
    sum_ += v;
    if (v < min_) min_ = v;
    if (v > max_) max_ = v;
  }
  void add(const Histogram& o) noexcept;
  // this -= earlier, where `earlier` is an older copy of this histogram. min() and
  // max() keep this histogram's (the interval's extremes are not known).
  void subtract(const Histogram& earlier) noexcept;
  void reset() noexcept { *this = Histogram{}; }

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  [[nodiscard]] double mean() const noexcept {
    return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_);
  }
  // The value at percentile q (0..100): the highest value of the bucket holding the
  // ceil(q/100 * count)-th smallest value, clamped to [min, max]. 0 when empty.
  [[nodiscard]] std::uint64_t percentile(double q) const noexcept;
  // Values recorded in bucket i (0 <= i < kBuckets).
  [[nodiscard]] std::uint64_t bucket_count(std::size_t i) const noexcept { return counts_[i]; }

  [[nodiscard]] static std::size_t bucket_of(std::uint64_t v) noexcept;
  [[nodiscard]] static std::uint64_t bucket_low(std::size_t i) noexcept;
  [[nodiscard]] static std::uint64_t bucket_high(std::size_t i) noexcept;

 private:
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t min_ = ~std::uint64_t{0};
  std::uint64_t max_ = 0;
};

// ---------------------------------------------------------------------------------
// Parameters.

enum class Mode : std::uint8_t { Crr, Rr, Stream };
enum class Protocol : std::uint8_t { Raw, Http };
enum class Closer : std::uint8_t { Client, Server };
enum class StreamDirection : std::uint8_t { Send, Receive };
[[nodiscard]] std::string_view to_string(Mode m) noexcept;
[[nodiscard]] std::string_view to_string(Protocol p) noexcept;
[[nodiscard]] std::string_view to_string(Closer c) noexcept;
[[nodiscard]] std::string_view to_string(StreamDirection d) noexcept;

using apps::Endpoint;  // "IP:PORT" or "[IPV6]:PORT" (common/endpoint.hpp)
using apps::parse_endpoint;
using apps::to_string;

struct LoadParams {
  Mode mode = Mode::Crr;
  Protocol protocol = Protocol::Raw;
  std::vector<Endpoint> servers;      // round robin, at least one; either family
  // Round robin over these (the stack's, either family), each connection taking the
  // next one that fits its server (next_local_addr); none fits (or empty): the
  // stack chooses.
  std::vector<IpAddr> local_addrs;
  double rate = 0;                    // per second (see "Pacing"); 0: unlimited
  std::uint32_t concurrency = 1;      // 0: this worker has no share (finishes at once)
  std::uint64_t count = 0;            // transactions; 0: until `duration`
  Duration duration{};                // zero: until `count`
  std::uint64_t request_size = 64;    // raw requests; STREAM Send: bytes per connection
  std::uint64_t response_size = 64;   // raw responses; STREAM Receive: bytes per connection
  Closer closer = Closer::Client;
  StreamDirection stream = StreamDirection::Send;
  Duration timeout = std::chrono::seconds{5};  // no progress for this long: abort
  std::string http_path = "/";
  std::string http_host = "riptide";
};

// The next of `locals`, round robin from `cursor` (advanced past it), that can be
// the source of a connection to `remote`: of its family and, for IPv6, of its
// scope (RFC 6724 5 rule 2: a link-local source for a link-local destination, a
// global one otherwise). `::` when none fits: Stack::connect then chooses.
[[nodiscard]] IpAddr next_local_addr(std::span<const IpAddr> locals, const IpAddr& remote,
                                     std::uint32_t& cursor) noexcept;

// ---------------------------------------------------------------------------------
// What happened: totals (mergeable), errors by kind.

enum class ErrorKind : std::uint8_t {
  Refused,   // RST answered our SYN, or an ICMP error did (CloseReason::Unreachable)
  Reset,     // the server reset an open connection
  Timeout,   // no progress for `timeout` (or the stack's retransmissions gave up)
  Closed,    // the server closed before the response was complete
  Protocol,  // a malformed, non-2xx or oversized response
  Local,     // connect() failed here (no ports, no memory)
  kCount
};
inline constexpr std::size_t kErrorKinds = static_cast<std::size_t>(ErrorKind::kCount);
[[nodiscard]] std::string_view to_string(ErrorKind k) noexcept;

struct LoadStats {
  std::uint64_t connects = 0;      // connect() calls that started an open
  std::uint64_t connections = 0;   // opens that completed (on_connected)
  std::uint64_t requests = 0;      // requests (or STREAM transfers) started
  std::uint64_t transactions = 0;  // responses (or transfers) completed
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t active = 0;        // connections open now (a gauge)
  std::uint64_t aborted = 0;       // ended by the host's shutdown (not an error)
  std::array<std::uint64_t, kErrorKinds> errors{};

  [[nodiscard]] std::uint64_t error_total() const noexcept;
  void add(const LoadStats& o) noexcept;  // `active` adds too
};

// The stack's figures the report carries, from its counters summed over workers.
struct StackFigures {
  std::uint64_t packets_in = 0;        // Ethernet frames received (l2_in)
  std::uint64_t packets_out = 0;       // Ethernet frames sent (l2_out)
  std::uint64_t segments_in = 0;       // TCP segments parsed
  std::uint64_t segments_out = 0;      // TCP segments sent
  std::uint64_t retransmitted = 0;     // segments retransmitted
  std::uint64_t retransmit_timeouts = 0;
  std::uint64_t drops = 0;             // every counter that names a dropped packet
  std::uint64_t resets_sent = 0;
  std::uint64_t resets_received = 0;
};
[[nodiscard]] StackFigures stack_figures(const Counters& c) noexcept;

// ---------------------------------------------------------------------------------
// Reports.

// The run as described to the report (totals across workers).
struct RunDescription {
  LoadParams params;         // totals: rate, concurrency and count for the whole run
  unsigned workers = 1;
  std::uint16_t local_port_min = 0, local_port_max = 0;
};

// One second of the run, as the progress line shows it.
struct ProgressSample {
  double t = 0;                   // seconds since the start, at the end of the interval
  double connections_per_s = 0;   // opens completed
  double transactions_per_s = 0;
  std::uint64_t active = 0;       // connections open at t
  std::uint64_t errors = 0;       // errors of every kind in the interval
};

struct Report {
  RunDescription run;
  double seconds = 0;        // from the first transaction's start to the end
  LoadStats totals;
  Histogram latency;         // nanoseconds
  StackFigures stack;
  std::vector<ProgressSample> progress;  // one per second (may be empty)
};

// One progress line: "t=3s conn/s 61234 req/s 61234 active 64 err refused 0 reset 0
// timeout 0 other 0 p50 412us p99 1.9ms". `interval` holds this second's latencies.
[[nodiscard]] std::string progress_line(double t_seconds, const LoadStats& delta, double dt_seconds,
                                        std::uint64_t active, const Histogram& interval);
// The human summary (several lines, no trailing newline).
[[nodiscard]] std::string summary_text(const Report& r);
// The JSON document (schema "riptide-load/1", README "riptide-load"), one object,
// newline-terminated: the summary, the per-second progress and the latency
// histogram's non-empty buckets.
[[nodiscard]] std::string to_json(const Report& r);

// ---------------------------------------------------------------------------------
// The generator.

class LoadGenerator final : public Handler {
 public:
  // `p` is this worker's share. Allocates everything it will use.
  LoadGenerator(Stack& stack, const LoadParams& p);
  ~LoadGenerator() override;
  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  // One step on the Stack's core: starts what the rate, the concurrency and the
  // count allow, checks timeouts, ends the run. The first call starts the clock.
  void poll(Instant now);
  // Stops starting transactions; those in flight finish (or time out) and the
  // connections close, then finished() turns true.
  void stop() noexcept { stop_requested_ = true; }

  [[nodiscard]] bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }
  [[nodiscard]] const LoadStats& stats() const noexcept { return stats_; }
  [[nodiscard]] const Histogram& latency() const noexcept { return latency_; }
  // When the first poll ran, when the last transaction completed, and when the run
  // finished (connections closed); zero until then. A report's duration is
  // last_completion_at() - started_at().
  [[nodiscard]] Instant started_at() const noexcept { return started_at_; }
  [[nodiscard]] Instant last_completion_at() const noexcept { return last_completion_; }
  [[nodiscard]] Instant finished_at() const noexcept { return finished_at_; }

  void on_connected(Stack& s, ConnId c) override;
  void on_data(Stack& s, ConnId c, std::span<const std::byte> data) override;
  void on_writable(Stack& s, ConnId c) override;
  void on_peer_closed(Stack& s, ConnId c) override;
  void on_closed(Stack& s, ConnId c, CloseReason r) override;

 private:
  struct Slot;
  enum class Phase : std::uint8_t;

  Slot* find(ConnId c) noexcept;
  bool open(Slot& k, Instant now);
  void begin_request(Slot& k, Instant now);
  void pump(Slot& k);
  void response_done(Slot& k);
  void finish_connection(Slot& k);  // our close()
  void fail(Slot& k, ErrorKind e, bool abort);
  void release(Slot& k);
  void check_timeouts(Instant now);
  bool may_start() const noexcept;
  bool consume_token() noexcept;
  bool feed_http(Slot& k, std::span<const std::byte> data);
  void maybe_finish(Instant now);

  Stack& stack_;
  LoadParams p_;
  std::unique_ptr<Slot[]> slots_;
  std::vector<std::uint32_t> free_;        // slots without a connection
  std::vector<std::uint32_t> ready_;       // RR: open connections waiting for a token
  std::vector<std::uint32_t> by_conn_;     // stack slot -> our slot + 1 (0: none)
  std::vector<std::byte> pattern_;         // request bytes: i % 251
  std::string http_request_;
  LoadStats stats_;
  Histogram latency_;
  double tokens_ = 0;           // starts owed by the schedule
  double burst_ = 1;            // at most this many owed
  Instant last_refill_{};
  Instant started_at_{};
  Instant finished_at_{};
  Instant last_completion_{};
  Instant end_at_{};
  Instant next_timeout_check_{};
  Instant local_backoff_until_{};
  Instant linger_until_{};
  std::uint64_t started_ = 0;   // transactions started (against `count`)
  std::uint32_t busy_ = 0;      // slots with a connection
  std::uint32_t next_server_ = 0;
  std::uint32_t next_local_ = 0;   // IPv4 servers' round robin over local_addrs
  std::uint32_t next_local6_ = 0;  // IPv6 servers' 
  bool running_ = false;
  bool stop_requested_ = false;
  bool stopping_ = false;
  bool cut_ = false;  // the end of the run has cut STREAM transfers short
  std::atomic<bool> finished_{false};
};

}  // namespace riptide::apps::load
