#include "common/load.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace riptide::apps::load {

// ---------------------------------------------------------------------------------
// Histogram

std::size_t Histogram::bucket_of(std::uint64_t v) noexcept {
  if (v < kSub) return static_cast<std::size_t>(v);
  // v in [2^e, 2^(e+1)), e >= kSubBits: the top kSubBits+1 bits select the bucket.
  const unsigned e = 63u - static_cast<unsigned>(std::countl_zero(v));
  const unsigned shift = e - kSubBits;
  return static_cast<std::size_t>(shift) * kSub + static_cast<std::size_t>(v >> shift);
}

std::uint64_t Histogram::bucket_low(std::size_t i) noexcept {
  if (i < 2 * kSub) return i;
  const std::size_t shift = i / kSub - 1;
  return static_cast<std::uint64_t>(i - shift * kSub) << shift;
}

std::uint64_t Histogram::bucket_high(std::size_t i) noexcept {
  if (i < 2 * kSub) return i;
  const std::size_t shift = i / kSub - 1;
  return bucket_low(i) + ((std::uint64_t{1} << shift) - 1);
}

void Histogram::add(const Histogram& o) noexcept {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

void Histogram::subtract(const Histogram& earlier) noexcept {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] -= std::min(counts_[i], earlier.counts_[i]);
  count_ -= std::min(count_, earlier.count_);
  sum_ -= std::min(sum_, earlier.sum_);
}

std::uint64_t Histogram::percentile(double q) const noexcept {
  if (count_ == 0) return 0;
  if (q <= 0) return min();
  if (q >= 100) return max_;
  auto rank = static_cast<std::uint64_t>(std::ceil(q / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(bucket_high(i), min(), std::max(min(), max_));
  }
  return max_;
}

// ---------------------------------------------------------------------------------
// Names

std::string_view to_string(Mode m) noexcept {
  switch (m) {
    case Mode::Crr: return "crr";
    case Mode::Rr: return "rr";
    case Mode::Stream: return "stream";
  }
  return "?";
}
std::string_view to_string(Protocol p) noexcept { return p == Protocol::Http ? "http" : "raw"; }
std::string_view to_string(Closer c) noexcept { return c == Closer::Server ? "server" : "client"; }
std::string_view to_string(StreamDirection d) noexcept { return d == StreamDirection::Receive ? "receive" : "send"; }

std::string_view to_string(ErrorKind k) noexcept {
  switch (k) {
    case ErrorKind::Refused: return "refused";
    case ErrorKind::Reset: return "reset";
    case ErrorKind::Timeout: return "timeout";
    case ErrorKind::Closed: return "closed";
    case ErrorKind::Protocol: return "protocol";
    case ErrorKind::Local: return "local";
    case ErrorKind::kCount: break;
  }
  return "?";
}

// ---------------------------------------------------------------------------------
// Totals

std::uint64_t LoadStats::error_total() const noexcept {
  std::uint64_t n = 0;
  for (auto v : errors) n += v;
  return n;
}

void LoadStats::add(const LoadStats& o) noexcept {
  connects += o.connects;
  connections += o.connections;
  requests += o.requests;
  transactions += o.transactions;
  bytes_sent += o.bytes_sent;
  bytes_received += o.bytes_received;
  active += o.active;
  aborted += o.aborted;
  for (std::size_t i = 0; i < kErrorKinds; ++i) errors[i] += o.errors[i];
}

StackFigures stack_figures(const Counters& c) noexcept {
  StackFigures f;
  f.packets_in = c[Counter::l2_in];
  f.packets_out = c[Counter::l2_out];
  f.segments_in = c[Counter::tcp_in];
  f.segments_out = c[Counter::tcp_out];
  f.retransmitted = c[Counter::tcp_retransmit_segment];
  f.retransmit_timeouts = c[Counter::tcp_retransmit_timeout];
  f.resets_sent = c[Counter::tcp_rst_sent];
  f.resets_received = c[Counter::tcp_rst_received];
  // Every counter named for a drop, and those that count dropped packets without
  // the word (ARP waits, routing, a full transmit queue).
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    const auto k = static_cast<Counter>(i);
    if (counter_name(k).find("drop") != std::string_view::npos) f.drops += c.values[i];
  }
  f.drops += c[Counter::arp_pending_full] + c[Counter::arp_unresolved] + c[Counter::route_no_route] +
             c[Counter::tx_queue_full];
  return f;
}

// ---------------------------------------------------------------------------------
// Reports

namespace {

std::string fmt(const char* f, auto... args) {
  char buf[512];
  const int n = std::snprintf(buf, sizeof buf, f, args...);
  return std::string(buf, static_cast<std::size_t>(std::clamp(n, 0, static_cast<int>(sizeof buf) - 1)));
}

// A latency in ns as "412us" / "1.93ms" / "2.10s".
std::string human_ns(std::uint64_t ns) {
  if (ns < 10'000) return fmt("%.1fus", static_cast<double>(ns) / 1e3);
  if (ns < 1'000'000) return fmt("%.0fus", static_cast<double>(ns) / 1e3);
  if (ns < 1'000'000'000) return fmt("%.2fms", static_cast<double>(ns) / 1e6);
  return fmt("%.2fs", static_cast<double>(ns) / 1e9);
}

double per_s(std::uint64_t n, double s) { return s > 0 ? static_cast<double>(n) / s : 0.0; }
double us(std::uint64_t ns) { return static_cast<double>(ns) / 1e3; }

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      out += fmt("\\u%04x", static_cast<unsigned>(ch));
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

// Doubles as JSON numbers: finite, fixed notation.
std::string num(double v) {
  if (!std::isfinite(v)) return "0";
  return fmt("%.3f", v);
}
std::string num(std::uint64_t v) { return std::to_string(v); }

}  // namespace

std::string progress_line(double t, const LoadStats& d, double dt, std::uint64_t active, const Histogram& interval) {
  return fmt("riptide-load: t=%.0fs conn/s %.0f req/s %.0f active %llu err refused %llu reset %llu timeout %llu "
             "other %llu p50 %s p99 %s",
             t, per_s(d.connections, dt), per_s(d.transactions, dt), static_cast<unsigned long long>(active),
             static_cast<unsigned long long>(d.errors[0]), static_cast<unsigned long long>(d.errors[1]),
             static_cast<unsigned long long>(d.errors[2]),
             static_cast<unsigned long long>(d.errors[3] + d.errors[4] + d.errors[5]),
             human_ns(interval.percentile(50)).c_str(), human_ns(interval.percentile(99)).c_str());
}

std::string summary_text(const Report& r) {
  const LoadStats& t = r.totals;
  const Histogram& h = r.latency;
  std::string s;
  s += fmt("riptide-load: %s %s, %u worker(s), %.2f s: %llu transactions (%.0f/s), %llu connections (%.0f/s), "
           "%llu requests\n",
           std::string(to_string(r.run.params.mode)).c_str(), std::string(to_string(r.run.params.protocol)).c_str(),
           r.run.workers, r.seconds, static_cast<unsigned long long>(t.transactions), per_s(t.transactions, r.seconds),
           static_cast<unsigned long long>(t.connections), per_s(t.connections, r.seconds),
           static_cast<unsigned long long>(t.requests));
  s += fmt("riptide-load: bytes sent %llu received %llu (%.1f Mbit/s in, %.1f Mbit/s out)\n",
           static_cast<unsigned long long>(t.bytes_sent), static_cast<unsigned long long>(t.bytes_received),
           per_s(t.bytes_received, r.seconds) * 8 / 1e6, per_s(t.bytes_sent, r.seconds) * 8 / 1e6);
  s += fmt("riptide-load: latency p50 %s p90 %s p99 %s p99.9 %s max %s (%llu samples)\n",
           human_ns(h.percentile(50)).c_str(), human_ns(h.percentile(90)).c_str(), human_ns(h.percentile(99)).c_str(),
           human_ns(h.percentile(99.9)).c_str(), human_ns(h.max()).c_str(),
           static_cast<unsigned long long>(h.count()));
  s += "riptide-load: errors";
  for (std::size_t i = 0; i < kErrorKinds; ++i) {
    s += fmt(" %s %llu", std::string(to_string(static_cast<ErrorKind>(i))).c_str(),
             static_cast<unsigned long long>(t.errors[i]));
  }
  s += fmt(" (total %llu)\n", static_cast<unsigned long long>(t.error_total()));
  s += fmt("riptide-load: stack packets in %llu out %llu, retransmitted %llu, drops %llu",
           static_cast<unsigned long long>(r.stack.packets_in), static_cast<unsigned long long>(r.stack.packets_out),
           static_cast<unsigned long long>(r.stack.retransmitted), static_cast<unsigned long long>(r.stack.drops));
  if (r.run.params.mode == Mode::Crr && t.connections > 0) {
    s += fmt(", %.1f packets per connection",
             static_cast<double>(r.stack.packets_in + r.stack.packets_out) / static_cast<double>(t.connections));
  }
  return s;
}

std::string to_json(const Report& r) {
  const LoadParams& p = r.run.params;
  const LoadStats& t = r.totals;
  const Histogram& h = r.latency;
  std::string servers = "[";
  for (std::size_t i = 0; i < p.servers.size(); ++i) {
    servers += (i ? ", " : "") + json_string(to_string(p.servers[i]));
  }
  servers += "]";
  std::string locals = "[";
  for (std::size_t i = 0; i < p.local_addrs.size(); ++i) {
    locals += (i ? ", " : "") + json_string(riptide::to_string(p.local_addrs[i]));
  }
  locals += "]";
  const double dur_s = std::chrono::duration<double>(p.duration).count();
  const double timeout_ms = std::chrono::duration<double, std::milli>(p.timeout).count();
  const std::uint64_t packets = r.stack.packets_in + r.stack.packets_out;
  std::string s = "{\n";
  s += "  \"schema\": \"riptide-load/1\",\n";
  s += "  \"mode\": " + json_string(to_string(p.mode)) + ",\n";
  s += "  \"parameters\": {\n";
  s += "    \"protocol\": " + json_string(to_string(p.protocol)) + ",\n";
  s += "    \"servers\": " + servers + ",\n";
  s += "    \"local_addresses\": " + locals + ",\n";
  s += "    \"local_ports\": [" + num(std::uint64_t{r.run.local_port_min}) + ", " +
       num(std::uint64_t{r.run.local_port_max}) + "],\n";
  s += "    \"workers\": " + num(std::uint64_t{r.run.workers}) + ",\n";
  s += "    \"rate\": " + num(p.rate) + ",\n";
  s += "    \"concurrency\": " + num(std::uint64_t{p.concurrency}) + ",\n";
  s += "    \"count\": " + num(p.count) + ",\n";
  s += "    \"duration_s\": " + num(dur_s) + ",\n";
  s += "    \"request_size\": " + num(p.request_size) + ",\n";
  s += "    \"response_size\": " + num(p.response_size) + ",\n";
  s += "    \"closer\": " + json_string(to_string(p.closer)) + ",\n";
  s += "    \"stream\": " + json_string(to_string(p.stream)) + ",\n";
  s += "    \"timeout_ms\": " + num(timeout_ms) + "\n";
  s += "  },\n";
  s += "  \"duration_s\": " + num(r.seconds) + ",\n";
  s += "  \"totals\": {\"connects\": " + num(t.connects) + ", \"connections\": " + num(t.connections) +
       ", \"requests\": " + num(t.requests) + ", \"transactions\": " + num(t.transactions) +
       ", \"bytes_sent\": " + num(t.bytes_sent) + ", \"bytes_received\": " + num(t.bytes_received) +
       ", \"aborted\": " + num(t.aborted) + "},\n";
  s += "  \"rates\": {\"connections_per_s\": " + num(per_s(t.connections, r.seconds)) +
       ", \"transactions_per_s\": " + num(per_s(t.transactions, r.seconds)) +
       ", \"bits_per_s_in\": " + num(per_s(t.bytes_received, r.seconds) * 8) +
       ", \"bits_per_s_out\": " + num(per_s(t.bytes_sent, r.seconds) * 8) + "},\n";
  s += "  \"latency_us\": {\"count\": " + num(h.count()) + ", \"mean\": " + num(h.mean() / 1e3) +
       ", \"min\": " + num(us(h.min())) + ", \"p50\": " + num(us(h.percentile(50))) +
       ", \"p90\": " + num(us(h.percentile(90))) + ", \"p99\": " + num(us(h.percentile(99))) +
       ", \"p999\": " + num(us(h.percentile(99.9))) + ", \"max\": " + num(us(h.max())) + "},\n";
  s += "  \"errors\": {";
  for (std::size_t i = 0; i < kErrorKinds; ++i) {
    s += json_string(to_string(static_cast<ErrorKind>(i))) + ": " + num(t.errors[i]) + ", ";
  }
  s += "\"total\": " + num(t.error_total()) + "},\n";
  s += "  \"stack\": {\"packets_in\": " + num(r.stack.packets_in) + ", \"packets_out\": " + num(r.stack.packets_out) +
       ", \"segments_in\": " + num(r.stack.segments_in) + ", \"segments_out\": " + num(r.stack.segments_out) +
       ", \"retransmitted_segments\": " + num(r.stack.retransmitted) +
       ", \"retransmit_timeouts\": " + num(r.stack.retransmit_timeouts) + ", \"drops\": " + num(r.stack.drops) +
       ", \"resets_sent\": " + num(r.stack.resets_sent) + ", \"resets_received\": " + num(r.stack.resets_received) +
       ", \"packets_per_connection\": " +
       num(t.connections > 0 ? static_cast<double>(packets) / static_cast<double>(t.connections) : 0.0) + "},\n";
  s += "  \"progress\": [";
  for (std::size_t i = 0; i < r.progress.size(); ++i) {
    const ProgressSample& pr = r.progress[i];
    s += std::string(i ? ",\n    " : "\n    ") + "{\"t\": " + num(pr.t) +
         ", \"connections_per_s\": " + num(pr.connections_per_s) +
         ", \"transactions_per_s\": " + num(pr.transactions_per_s) + ", \"active\": " + num(pr.active) +
         ", \"errors\": " + num(pr.errors) + "}";
  }
  s += r.progress.empty() ? "],\n" : "\n  ],\n";
  // Non-empty buckets as [upper bound in us, count], ascending.
  s += "  \"latency_histogram_us\": [";
  bool first = true;
  for (std::size_t i = 0; i < Histogram::kBuckets; ++i) {
    const std::uint64_t n = h.bucket_count(i);
    if (n == 0) continue;
    s += std::string(first ? "" : ", ") + "[" + num(us(Histogram::bucket_high(i))) + ", " + num(n) + "]";
    first = false;
  }
  s += "]\n";
  s += "}\n";
  return s;
}

// ---------------------------------------------------------------------------------
// The generator

namespace {
constexpr std::uint64_t kUnbounded = std::numeric_limits<std::uint64_t>::max();
constexpr std::size_t kPatternPeriods = 256;  // 251 * 256 bytes: ~64 KiB per send() call at most
constexpr std::size_t kHttpLine = 96;         // header bytes kept per line (longer lines are cut)
constexpr Duration kTimeoutCheck = std::chrono::milliseconds{10};
constexpr Duration kLocalBackoff = std::chrono::milliseconds{1};
constexpr Duration kLinger = std::chrono::seconds{2};
constexpr double kPacingBacklog = 1.0;  // seconds of owed starts kept (load.hpp "Pacing")
}  // namespace

enum class LoadGenerator::Phase : std::uint8_t {
  Free,        // no connection
  Connecting,  // SYN sent
  Requesting,  // request going out and/or response coming in
  Idle,        // RR: open, waiting for a token
  AwaitClose,  // response complete, waiting for the server's FIN (closer = server)
};

struct LoadGenerator::Slot {
  ConnId conn{};
  std::uint32_t index = 0;
  Phase phase = Phase::Free;
  bool in_ready = false;      // listed in ready_
  bool request_sent = false;  // every byte of the request queued (and, STREAM Send, FIN)
  bool peer_closed = false;
  Instant started{};          // the transaction's start
  Instant deadline{};         // no progress until then: timeout
  std::uint64_t sent = 0;     // bytes of the request queued
  std::uint64_t to_send = 0;  // request length; kUnbounded: STREAM Send until the end
  std::uint64_t received = 0; // bytes of the response (HTTP: of the body)
  std::uint64_t expect = 0;   // response length; kUnbounded: until the server closes
  // HTTP response head, parsed as it arrives.
  bool head_done = false;
  bool status_seen = false;
  bool status_ok = false;
  bool length_seen = false;
  std::uint16_t line_len = 0;
  char line[kHttpLine];
};

LoadGenerator::LoadGenerator(Stack& stack, const LoadParams& p)
    : stack_(stack), p_(p), slots_(std::make_unique<Slot[]>(p.concurrency)) {
  free_.reserve(p_.concurrency);
  ready_.reserve(p_.concurrency * 2 + 1);
  for (std::uint32_t i = p_.concurrency; i > 0; --i) {
    slots_[i - 1].index = i - 1;
    free_.push_back(i - 1);
  }
  by_conn_.assign(stack_.config().max_connections, 0);
  pattern_.resize(251 * kPatternPeriods);
  for (std::size_t i = 0; i < pattern_.size(); ++i) pattern_[i] = static_cast<std::byte>(i % 251);
  if (p_.protocol == Protocol::Http) {
    http_request_ = "GET " + p_.http_path + " HTTP/1.1\r\nHost: " + p_.http_host + "\r\n";
    if (p_.mode != Mode::Rr && p_.closer == Closer::Server) http_request_ += "Connection: close\r\n";
    http_request_ += "\r\n";
  }
  // Starts owed by the pacing schedule are kept up to 1 s worth (load.hpp "Pacing").
  if (p_.rate > 0) burst_ = std::max(1.0, p_.rate * kPacingBacklog);
}

LoadGenerator::~LoadGenerator() = default;

LoadGenerator::Slot* LoadGenerator::find(ConnId c) noexcept {
  if (c.slot >= by_conn_.size() || by_conn_[c.slot] == 0) return nullptr;
  Slot& k = slots_[by_conn_[c.slot] - 1];
  return k.phase != Phase::Free && k.conn == c ? &k : nullptr;
}

bool LoadGenerator::may_start() const noexcept { return !stopping_ && (p_.count == 0 || started_ < p_.count); }

IpAddr next_local_addr(std::span<const IpAddr> locals, const IpAddr& remote, std::uint32_t& cursor) noexcept {
  const auto n = static_cast<std::uint32_t>(locals.size());
  for (std::uint32_t i = 0; i < n; ++i) {
    const IpAddr& a = locals[(cursor + i) % n];
    const bool fits = remote.is_v4() ? a.is_v4()
                                     : a.is_v6() && a.is_v6_link_local() == remote.is_v6_link_local();
    if (fits) {
      cursor = (cursor + i + 1) % n;
      return a;
    }
  }
  return IpAddr{};
}

bool LoadGenerator::consume_token() noexcept {
  if (p_.rate <= 0) return true;
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

bool LoadGenerator::open(Slot& k, Instant now) {
  const Endpoint& server = p_.servers[next_server_];
  next_server_ = (next_server_ + 1) % static_cast<std::uint32_t>(p_.servers.size());
  ConnectOptions o;
  // A cursor per family, so each family's addresses take turns whatever the
  // servers' order.
  o.local_addr = next_local_addr(p_.local_addrs, server.addr, server.addr.is_v4() ? next_local_ : next_local6_);
  auto c = stack_.connect(server.addr, server.port, *this, o);
  if (!c) {
    // No port or connection record free (TIME-WAIT holds them): counted, and no
    // new attempt for a moment rather than one per poll.
    ++stats_.errors[static_cast<std::size_t>(ErrorKind::Local)];
    local_backoff_until_ = now + kLocalBackoff;
    return false;
  }
  k.conn = *c;
  k.phase = Phase::Connecting;
  k.started = now;
  k.deadline = now + p_.timeout;
  k.peer_closed = false;
  k.in_ready = false;
  by_conn_[c->slot] = k.index + 1;
  ++busy_;
  ++stats_.connects;
  ++stats_.active;
  if (p_.mode != Mode::Rr) {
    ++started_;  // a CRR transaction or a STREAM transfer starts with its connection
    ++stats_.requests;
  }
  return true;
}

void LoadGenerator::begin_request(Slot& k, Instant now) {
  k.phase = Phase::Requesting;
  k.sent = 0;
  k.received = 0;
  k.request_sent = false;
  k.head_done = k.status_seen = k.status_ok = k.length_seen = false;
  k.line_len = 0;
  k.deadline = now + p_.timeout;
  const bool stream_send = p_.mode == Mode::Stream && p_.stream == StreamDirection::Send;
  const bool stream_recv = p_.mode == Mode::Stream && p_.stream == StreamDirection::Receive;
  if (p_.protocol == Protocol::Http) {
    k.to_send = http_request_.size();
    k.expect = 0;  // from Content-Length
  } else {
    k.to_send = stream_send && p_.request_size == 0 ? kUnbounded : p_.request_size;
    k.expect = stream_send ? 0 : (stream_recv && p_.response_size == 0 ? kUnbounded : p_.response_size);
  }
  if (p_.mode == Mode::Rr) {
    k.started = now;
    ++started_;
    ++stats_.requests;
  }
  pump(k);
}

void LoadGenerator::pump(Slot& k) {
  const ConnId c = k.conn;
  while (k.sent < k.to_send) {
    std::span<const std::byte> chunk;
    if (p_.protocol == Protocol::Http) {
      chunk = std::as_bytes(std::span(http_request_)).subspan(k.sent);
    } else {
      const std::size_t off = k.sent % 251;  // the pattern repeats every 251 bytes
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(k.to_send - k.sent, pattern_.size() - off));
      chunk = std::span<const std::byte>(pattern_.data() + off, n);
    }
    auto n = stack_.send(c, chunk);
    if (!n) {
      fail(k, ErrorKind::Closed, true);
      return;
    }
    k.sent += *n;
    stats_.bytes_sent += *n;
    if (*n < chunk.size()) return;  // full: on_writable resumes
  }
  if (k.request_sent) return;
  k.request_sent = true;
  if (p_.mode == Mode::Stream && p_.stream == StreamDirection::Send) {
    // The transfer ends with our FIN; it is complete when the server closes too.
    (void)stack_.shutdown_write(c);
  }
  // A raw request with an empty response: done as soon as it is out.
  if (p_.protocol == Protocol::Raw && k.expect == 0 && !(p_.mode == Mode::Stream)) response_done(k);
}

void LoadGenerator::response_done(Slot& k) {
  const Instant now = stack_.now();
  latency_.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, (now - k.started).count())));
  ++stats_.transactions;
  last_completion_ = now;
  if (p_.mode == Mode::Rr) {
    k.phase = Phase::Idle;
    if (stopping_ || k.peer_closed) {
      finish_connection(k);
    } else if (may_start() && consume_token()) {
      begin_request(k, now);
    } else if (!k.in_ready) {
      k.in_ready = true;
      ready_.push_back(k.index);
    }
    return;
  }
  if (p_.closer == Closer::Client || k.peer_closed) {
    finish_connection(k);
  } else {
    k.phase = Phase::AwaitClose;
    k.deadline = now + p_.timeout;
  }
}

void LoadGenerator::finish_connection(Slot& k) {
  (void)stack_.close(k.conn);  // FIN; we hear nothing more about it
  release(k);
}

void LoadGenerator::fail(Slot& k, ErrorKind e, bool abort) {
  ++stats_.errors[static_cast<std::size_t>(e)];
  if (abort) {
    (void)stack_.abort(k.conn);
  } else {
    (void)stack_.close(k.conn);
  }
  release(k);
}

void LoadGenerator::release(Slot& k) {
  by_conn_[k.conn.slot] = 0;
  k.phase = Phase::Free;
  k.conn = ConnId{};
  --busy_;
  --stats_.active;
  free_.push_back(k.index);
}

void LoadGenerator::on_connected(Stack& s, ConnId c) {
  Slot* k = find(c);
  if (k == nullptr) return;
  ++stats_.connections;
  (void)s.set_nodelay(c, true);  // requests are written whole
  const Instant now = s.now();
  if (p_.mode != Mode::Rr) {
    begin_request(*k, now);
    return;
  }
  k->phase = Phase::Idle;
  k->deadline = now + p_.timeout;
  if (stopping_) {
    finish_connection(*k);
  } else if (may_start() && consume_token()) {
    begin_request(*k, now);
  } else {
    k->in_ready = true;
    ready_.push_back(k->index);
  }
}

void LoadGenerator::on_writable(Stack& s, ConnId c) {
  Slot* k = find(c);
  if (k == nullptr || k->phase != Phase::Requesting) return;
  k->deadline = s.now() + p_.timeout;
  pump(*k);
}

bool LoadGenerator::feed_http(Slot& k, std::span<const std::byte> data) {
  std::size_t i = 0;
  while (!k.head_done && i < data.size()) {
    const char ch = static_cast<char>(data[i++]);
    if (ch != '\n') {
      if (ch != '\r' && k.line_len < kHttpLine) k.line[k.line_len++] = ch;
      continue;
    }
    const std::string_view line(k.line, k.line_len);
    k.line_len = 0;
    if (!k.status_seen) {
      // "HTTP/1.1 200 OK"
      if (line.size() < 12 || line.substr(0, 5) != "HTTP/") return false;
      k.status_seen = true;
      k.status_ok = line[9] == '2';
      continue;
    }
    if (line.empty()) {
      k.head_done = true;
      if (!k.status_ok || !k.length_seen) return false;
      break;
    }
    constexpr std::string_view kLength = "content-length:";
    if (line.size() > kLength.size()) {
      bool match = true;
      for (std::size_t j = 0; j < kLength.size() && match; ++j) {
        match = (line[j] | 0x20) == kLength[j];
      }
      if (match) {
        std::string_view v = line.substr(kLength.size());
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
        std::uint64_t n = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc{} || p != v.data() + v.size()) return false;
        k.expect = n;
        k.length_seen = true;
      }
    }
  }
  k.received += data.size() - i;
  return true;
}

void LoadGenerator::on_data(Stack& s, ConnId c, std::span<const std::byte> data) {
  stats_.bytes_received += data.size();
  Slot* k = find(c);
  if (k == nullptr) return;
  k->deadline = s.now() + p_.timeout;
  if (p_.mode == Mode::Stream && p_.stream == StreamDirection::Send) return;  // an echo, discarded
  if (k->phase != Phase::Requesting) {
    fail(*k, ErrorKind::Protocol, true);  // data nobody asked for
    return;
  }
  if (p_.protocol == Protocol::Http) {
    if (!feed_http(*k, data)) {
      fail(*k, ErrorKind::Protocol, true);
      return;
    }
    if (!k->head_done) return;
  } else {
    k->received += data.size();
  }
  if (k->expect == kUnbounded || k->received < k->expect) return;
  if (k->received > k->expect) {
    fail(*k, ErrorKind::Protocol, true);
    return;
  }
  response_done(*k);
}

void LoadGenerator::on_peer_closed(Stack&, ConnId c) {
  Slot* k = find(c);
  if (k == nullptr) return;
  k->peer_closed = true;
  switch (k->phase) {
    case Phase::AwaitClose:
    case Phase::Idle:  // RR: the server ended a persistent connection; poll reopens
      finish_connection(*k);
      return;
    case Phase::Requesting:
      if ((p_.mode == Mode::Stream && p_.stream == StreamDirection::Send && k->request_sent) ||
          k->expect == kUnbounded) {
        response_done(*k);  // a transfer that ends with the server's FIN
        return;
      }
      fail(*k, ErrorKind::Closed, false);
      return;
    case Phase::Connecting:
    case Phase::Free:
      fail(*k, ErrorKind::Closed, false);
      return;
  }
}

void LoadGenerator::on_closed(Stack&, ConnId c, CloseReason r) {
  Slot* k = find(c);
  if (k == nullptr) return;
  switch (r) {
    case CloseReason::Refused:
    case CloseReason::Unreachable: ++stats_.errors[static_cast<std::size_t>(ErrorKind::Refused)]; break;
    case CloseReason::Reset: ++stats_.errors[static_cast<std::size_t>(ErrorKind::Reset)]; break;
    case CloseReason::TimedOut: ++stats_.errors[static_cast<std::size_t>(ErrorKind::Timeout)]; break;
    case CloseReason::Aborted: ++stats_.aborted; break;
    case CloseReason::Normal: ++stats_.errors[static_cast<std::size_t>(ErrorKind::Closed)]; break;
  }
  release(*k);  // the stack let go already: no close()
}

void LoadGenerator::check_timeouts(Instant now) {
  for (std::uint32_t i = 0; i < p_.concurrency; ++i) {
    Slot& k = slots_[i];
    if (k.phase == Phase::Free || k.phase == Phase::Idle || now < k.deadline) continue;
    fail(k, ErrorKind::Timeout, true);
  }
}

void LoadGenerator::poll(Instant now) {
  if (finished_.load(std::memory_order_relaxed)) return;
  if (!running_) {
    running_ = true;
    started_at_ = last_refill_ = last_completion_ = now;
    end_at_ = p_.duration > Duration::zero() ? now + p_.duration : Instant::max();
    tokens_ = p_.rate > 0 ? 1.0 : 0.0;
    next_timeout_check_ = now + kTimeoutCheck;
  }
  if (p_.rate > 0) {
    tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_refill_).count() * p_.rate);
    last_refill_ = now;
  }
  // Only the end of the run (duration, stop) cuts STREAM transfers short; when the
  // count is reached, the transfers under way run to their end.
  const bool cut = !cut_ && (stop_requested_ || now >= end_at_);
  if ((!stopping_ && (cut || (p_.count > 0 && started_ >= p_.count) || p_.concurrency == 0)) || cut) {
    stopping_ = true;
    cut_ = cut_ || cut;
    ready_.clear();
    for (std::uint32_t i = 0; i < p_.concurrency; ++i) {
      Slot& k = slots_[i];
      k.in_ready = false;
      if (k.phase == Phase::Idle) {
        finish_connection(k);
      } else if (!cut || k.phase != Phase::Requesting || p_.mode != Mode::Stream) {
        continue;
      } else if (p_.stream == StreamDirection::Send && !k.request_sent) {
        k.to_send = k.sent;  // STREAM Send: the end is now (the write side shuts)
        pump(k);
      } else if (p_.stream == StreamDirection::Receive && k.expect == kUnbounded) {
        response_done(k);  // STREAM Receive until the end
        if (k.phase != Phase::Free) finish_connection(k);
      } else if (p_.stream == StreamDirection::Receive) {
        // A bounded transfer (an HTTP body, a raw response_size) cut by the
        // duration: done with what came so far; the server would keep sending, so
        // the connection is reset rather than closed.
        latency_.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, (now - k.started).count())));
        ++stats_.transactions;
        last_completion_ = now;
        (void)stack_.abort(k.conn);
        release(k);
      }
    }
  }
  if (!stopping_ && now >= local_backoff_until_) {
    if (p_.mode == Mode::Crr) {
      while (!free_.empty() && may_start() && consume_token()) {
        const std::uint32_t i = free_.back();
        free_.pop_back();
        if (!open(slots_[i], now)) {
          free_.push_back(i);
          break;
        }
      }
    } else {
      // RR and STREAM keep `concurrency` connections open (RR: whatever the rate).
      while (!free_.empty() && (p_.mode == Mode::Rr || may_start())) {
        const std::uint32_t i = free_.back();
        free_.pop_back();
        if (!open(slots_[i], now)) {
          free_.push_back(i);
          break;
        }
      }
    }
  }
  if (p_.mode == Mode::Rr && !stopping_) {
    while (!ready_.empty() && may_start()) {
      Slot& k = slots_[ready_.back()];
      if (!k.in_ready || k.phase != Phase::Idle) {  // stale: the connection went away
        ready_.pop_back();
        continue;
      }
      if (!consume_token()) break;
      ready_.pop_back();
      k.in_ready = false;
      begin_request(k, now);
    }
  }
  if (now >= next_timeout_check_) {
    next_timeout_check_ = now + kTimeoutCheck;
    check_timeouts(now);
  }
  maybe_finish(now);
}

void LoadGenerator::maybe_finish(Instant now) {
  if (!stopping_ || busy_ > 0) return;
  // Every slot is free; the last FIN exchanges finish in the stack (TIME-WAIT
  // records do not count), bounded by a linger.
  if (linger_until_ == Instant{}) linger_until_ = now + kLinger;
  if (stack_.connection_count() > 0 && now < linger_until_) return;
  finished_at_ = now;
  finished_.store(true, std::memory_order_release);
}

}  // namespace riptide::apps::load
