// riptide-trace: the demo until the DPDK runtime exists. Two Stacks (client
// 198.18.0.1, server 198.18.0.2:80) joined by an in-memory link on a virtual clock
// run one scripted connection through its whole life:
//
//   1. three-way handshake
//   2. data both ways
//   3. half-close: the client shuts its write side (FIN-WAIT-2 / CLOSE-WAIT)
//   4. the server keeps sending after the client's FIN
//   5. the server closes (LAST-ACK), the client enters TIME-WAIT
//   6. TIME-WAIT expires after 2*MSL
//
// Every packet is printed as it crosses, tcpdump style, with the virtual time and a
// direction arrow; every application callback as it happens; the state of both ends
// after each step; the counters at the end. The program checks the states it
// expects, so it is a test as well as a demo: exit 0 when the connection went as
// scripted, 1 when it did not, 2 on bad arguments.
//
// It drives the Stack through the embedded API only (input / advance / drain_tx),
// exactly as an appliance with its own packet loop would.
#include <array>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "stack/memory_link.hpp"
#include "stack/stack.hpp"
#include "wire/format.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace {

using namespace riptide;

const Ipv4Addr kClientAddr = Ipv4Addr::from_octets(198, 18, 0, 1);
const Ipv4Addr kServerAddr = Ipv4Addr::from_octets(198, 18, 0, 2);
constexpr std::uint16_t kPort = 80;
const Instant kStart = Instant{seconds{1}};

struct Options {
  std::int64_t msl_ms = 30000;      // RFC 9293's MSL is 2 minutes; Linux's TIME-WAIT is 60 s
  std::size_t bytes = 3000;         // per direction, per data step
  std::uint64_t loss_every = 0;     // drop every Nth packet crossing the link; 0: none
};

void usage(std::FILE* to) {
  std::fprintf(to,
               "usage: riptide-trace [--msl-ms N] [--bytes N] [--loss-every N]\n"
               "\n"
               "Runs one scripted TCP connection between two riptide stacks over an\n"
               "in-memory link on a virtual clock and prints its packet trace.\n"
               "\n"
               "  --msl-ms N       maximum segment lifetime in ms; TIME-WAIT lasts 2*N (default 30000)\n"
               "  --bytes N        bytes sent each way in each data step (default 3000)\n"
               "  --loss-every N   drop every Nth packet on the link, to show retransmission\n"
               "                   (default 0: no loss)\n");
}

template <class T>
bool parse_number(std::string_view s, T& out) {
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

// Returns nullopt (after printing why) on bad arguments; exits 0 on --help.
std::optional<Options> parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      usage(stdout);
      std::exit(0);
    }
    std::string_view value;
    std::string_view name = arg;
    if (const auto eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::fprintf(stderr, "riptide-trace: %s needs a value\n", argv[i]);
      return std::nullopt;
    }
    bool ok = false;
    if (name == "--msl-ms") {
      ok = parse_number(value, o.msl_ms) && o.msl_ms > 0;
    } else if (name == "--bytes") {
      ok = parse_number(value, o.bytes) && o.bytes <= (std::size_t{1} << 30);
    } else if (name == "--loss-every") {
      ok = parse_number(value, o.loss_every) && o.loss_every != 1;
    } else {
      std::fprintf(stderr, "riptide-trace: unknown option %.*s\n", static_cast<int>(name.size()),
                   name.data());
      usage(stderr);
      return std::nullopt;
    }
    if (!ok) {
      std::fprintf(stderr, "riptide-trace: bad value for %.*s: '%.*s'%s\n",
                   static_cast<int>(name.size()), name.data(), static_cast<int>(value.size()),
                   value.data(), name == "--loss-every" ? " (0 or at least 2)" : "");
      return std::nullopt;
    }
  }
  return o;
}

double ms_since_start(Instant t) {
  return static_cast<double>((t - kStart).count()) / 1e6;
}

// The in-memory link (riptide::MemoryLink, the library's): packets leave a stack's
// transmit queue (printed as they leave), spend kOneWayDelay on the wire, and are
// input to the other stack; both stacks' timers run in deadline order in between.
constexpr Duration kOneWayDelay = milliseconds{1};

class Link {
 public:
  Link(Stack& client, Stack& server, std::uint64_t loss_every)
      : link_(client, server, kStart, wire_delay(), wire_delay()), loss_every_(loss_every) {
    link_.set_observer([this](const LinkPacket& p) { observe(p); });
    link_.set_filter([this](const LinkPacket&) { return lost_; });
  }

  std::uint64_t crossed = 0;
  std::uint64_t dropped = 0;
  std::optional<Instant> last_fin_to_client;  // when a FIN last reached the client

  [[nodiscard]] Instant now() const noexcept { return link_.now(); }

  // Runs packets and timers, in time order, until done() holds with nothing left
  // on the wire, or nothing is left to do before `limit`. Returns done().
  bool run_until(const std::function<bool()>& done, Instant limit) {
    link_.run_until([&] { return done() && link_.in_flight() == 0; }, limit);
    return done();
  }

 private:
  static Impairment wire_delay() {
    Impairment m;
    m.delay = kOneWayDelay;
    return m;
  }

  // Every departure is printed; every loss_every-th is lost (the filter reads lost_,
  // decided here on the Sent event that comes first).
  void observe(const LinkPacket& p) {
    const bool from_client = p.from == 0;
    std::string line = "(not TCP)";
    bool fin = false;
    if (auto ip = wire::Ipv4View::parse(p.bytes); ip && ip->protocol() == wire::kIpProtoTcp) {
      if (auto tcp = wire::TcpView::parse(ip->payload())) {
        line = wire::format_tcp(ip->src(), ip->dst(), *tcp);
        fin = tcp->has(wire::tcp_flags::kFin);
      }
    }
    if (p.what == LinkEvent::Delivered) {
      if (!from_client && fin) last_fin_to_client = p.at;
      return;
    }
    if (p.what != LinkEvent::Sent) return;
    ++crossed;
    lost_ = loss_every_ != 0 && crossed % loss_every_ == 0;
    if (lost_) ++dropped;
    const char* arrow = from_client ? (lost_ ? "--x>" : "--->") : (lost_ ? "<x--" : "<---");
    std::printf("%10.3f ms  client %s server  %s%s\n", ms_since_start(p.at), arrow, line.c_str(),
                lost_ ? "  [lost]" : "");
  }

  MemoryLink link_;
  std::uint64_t loss_every_;
  bool lost_ = false;
};

// One end's application: prints its callbacks, keeps what it received, streams a
// buffer out as the stack takes it.
class App : public Handler {
 public:
  explicit App(const char* name) : name_(name) {}

  std::optional<ConnId> conn;
  std::vector<std::byte> received;
  std::vector<std::byte> to_send;
  std::size_t sent = 0;
  bool peer_closed = false;
  std::optional<CloseReason> closed;
  std::optional<Instant> closed_at;

  void send_more(Stack& s, std::vector<std::byte> data) {
    to_send = std::move(data);
    sent = 0;
    push(s);
  }
  [[nodiscard]] bool all_sent() const { return sent == to_send.size(); }

  void on_accept(Stack& s, ConnId c) override {
    note(s, "on_accept");
    conn = c;
  }
  void on_connected(Stack& s, ConnId c) override {
    note(s, "on_connected");
    conn = c;
  }
  void on_data(Stack& s, ConnId, std::span<const std::byte> d) override {
    received.insert(received.end(), d.begin(), d.end());
    note(s, "on_data " + std::to_string(d.size()) + " bytes (" + std::to_string(received.size()) +
                " in all)");
  }
  void on_writable(Stack& s, ConnId) override { push(s); }
  void on_peer_closed(Stack& s, ConnId) override {
    peer_closed = true;
    note(s, "on_peer_closed");
  }
  void on_closed(Stack& s, ConnId, CloseReason r) override {
    closed = r;
    closed_at = s.now();
    note(s, "on_closed(" + std::string(tcp::to_string(r)) + ")");
  }

 private:
  void push(Stack& s) {
    while (conn && sent < to_send.size()) {
      auto n = s.send(*conn, std::span(to_send).subspan(sent));
      if (!n || *n == 0) return;
      sent += *n;
    }
  }
  void note(Stack& s, const std::string& what) {
    std::printf("%10.3f ms  %s: %s\n", ms_since_start(s.now()), name_, what.c_str());
  }
  const char* name_;
};

std::vector<std::byte> pattern(std::size_t n, std::uint8_t seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 31 + seed + (i >> 8)) & 0xFF);
  return v;
}

// The state of the one connection a stack holds, or CLOSED.
std::string state_of(const Stack& s) {
  const auto v = s.connections_by_state();
  std::string out;
  for (int i = 0; i < tcp::kStateCount; ++i) {
    const std::size_t n = v[static_cast<std::size_t>(i)];
    if (n == 0) continue;
    if (!out.empty()) out += "+";
    out += tcp::to_string(static_cast<State>(i));
    if (n > 1) out += " x" + std::to_string(n);
  }
  return out.empty() ? "CLOSED" : out;
}

StackConfig config(Ipv4Addr addr, std::uint8_t key, const Options& o) {
  StackConfig c;
  c.local_addrs = {addr};
  // A fixed secret: the demo prints the same ISNs and timestamps on every run.
  for (std::size_t i = 0; i < c.secret.size(); ++i) c.secret[i] = static_cast<std::uint8_t>(key * 17 + i);
  c.max_connections = 16;
  c.max_time_wait = 16;
  c.send_chunks = 1024;
  c.tx_queue = 1024;
  c.tcp.time_wait = milliseconds{2 * o.msl_ms};
  return c;
}

class Script {
 public:
  explicit Script(const Options& o)
      : opts_(o),
        client_(config(kClientAddr, 1, o), kStart),
        server_(config(kServerAddr, 2, o), kStart),
        link_(client_, server_, o.loss_every) {}

  int run() {
    std::printf("riptide-trace: client %s and server %s:%u on an in-memory link, virtual clock\n",
                to_string(kClientAddr).c_str(), to_string(kServerAddr).c_str(), kPort);
    std::printf("               MSL %lld ms (TIME-WAIT %lld ms), %zu bytes each way, %s\n",
                static_cast<long long>(opts_.msl_ms), static_cast<long long>(2 * opts_.msl_ms),
                opts_.bytes,
                opts_.loss_every != 0 ? ("1 packet in " + std::to_string(opts_.loss_every) + " lost").c_str()
                                      : "no loss");
    // Generous limits: with loss, retransmission timers back off exponentially.
    const Duration patience = seconds{600};

    heading("1. handshake: server listens on :80, client connects");
    if (!server_.listen(kServerAddr, kPort, server_app_)) return fail("listen failed");
    if (!client_.connect(kServerAddr, kPort, client_app_)) return fail("connect failed");
    link_.run_until([&] { return client_app_.conn && server_app_.conn; }, link_.now() + patience);
    if (!expect("ESTABLISHED", "ESTABLISHED")) return 1;

    heading("2. data both ways: " + std::to_string(opts_.bytes) + " bytes each");
    const auto up = pattern(opts_.bytes, 1), down = pattern(opts_.bytes, 2);
    client_app_.send_more(client_, up);
    server_app_.send_more(server_, down);
    link_.run_until([&] { return server_app_.received.size() >= up.size() && client_app_.received.size() >= down.size(); },
                    link_.now() + patience);
    if (server_app_.received != up || client_app_.received != down) return fail("data did not arrive intact");
    if (!expect("ESTABLISHED", "ESTABLISHED")) return 1;

    heading("3. half-close: client shutdown_write() sends FIN, keeps reading");
    if (client_.shutdown_write(*client_app_.conn)) return fail("shutdown_write failed");
    link_.run_until([&] { return server_app_.peer_closed && state_of(client_) == "FIN-WAIT-2"; },
                    link_.now() + patience);
    if (!expect("FIN-WAIT-2", "CLOSE-WAIT")) return 1;

    heading("4. server sends " + std::to_string(opts_.bytes) + " more bytes after the client's FIN");
    const auto more = pattern(opts_.bytes, 3);
    server_app_.send_more(server_, more);
    link_.run_until([&] { return client_app_.received.size() >= down.size() + more.size(); }, link_.now() + patience);
    if (!std::equal(more.begin(), more.end(), client_app_.received.begin() + static_cast<std::ptrdiff_t>(down.size())) ||
        client_app_.received.size() != down.size() + more.size()) {
      return fail("data after the FIN did not arrive intact");
    }
    if (!expect("FIN-WAIT-2", "CLOSE-WAIT")) return 1;

    heading("5. server close(): FIN, LAST-ACK; client ACKs and enters TIME-WAIT");
    if (server_.close(*server_app_.conn)) return fail("close failed");
    link_.run_until([&] { return state_of(server_) == "CLOSED" && state_of(client_) == "TIME-WAIT"; },
                    link_.now() + patience);
    if (!expect("TIME-WAIT", "CLOSED")) return 1;
    // The client entered TIME-WAIT (and reported on_closed) when the server's FIN arrived.
    if (!client_app_.closed_at) return fail("client did not report on_closed");
    const Instant entered = *client_app_.closed_at;

    heading("6. TIME-WAIT: the client's record expires after 2*MSL");
    link_.run_until([&] { return client_.time_wait_count() == 0; }, link_.now() + milliseconds{8 * opts_.msl_ms});
    // A retransmitted FIN arriving in TIME-WAIT restarts the 2*MSL timer (RFC 9293 3.10.7.4).
    const Instant restarted = std::max(entered, link_.last_fin_to_client.value_or(entered));
    const auto held_ms = std::chrono::duration_cast<milliseconds>(link_.now() - restarted).count();
    std::printf("%10.3f ms  TIME-WAIT record gone %lld ms after %s (2*MSL = %lld ms)\n", ms_since_start(link_.now()),
                static_cast<long long>(held_ms), restarted == entered ? "it was made" : "the last retransmitted FIN",
                static_cast<long long>(2 * opts_.msl_ms));
    if (!expect("CLOSED", "CLOSED")) return 1;
    if (held_ms != 2 * opts_.msl_ms) return fail("TIME-WAIT did not last 2*MSL");
    if (client_app_.closed != CloseReason::Normal) return fail("client's on_closed reason is not normal");

    summary();
    std::printf("\nOK: handshake, data both ways, half-close, data after FIN, close, TIME-WAIT for 2*MSL\n");
    return 0;
  }

 private:
  void heading(const std::string& what) { std::printf("\n== %s\n", what.c_str()); }

  bool expect(const char* client_state, const char* server_state) {
    const std::string c = state_of(client_), s = state_of(server_);
    const bool ok = c == client_state && s == server_state;
    std::printf("%10.3f ms  -- client: %s / server: %s%s\n", ms_since_start(link_.now()), c.c_str(), s.c_str(),
                ok ? "" : "   <-- unexpected");
    if (!ok) {
      std::fflush(stdout);
      std::fprintf(stderr, "riptide-trace: expected client %s / server %s, got %s / %s\n", client_state,
                   server_state, c.c_str(), s.c_str());
    }
    return ok;
  }

  int fail(const std::string& why) {
    std::fflush(stdout);
    std::fprintf(stderr, "riptide-trace: %s\n", why.c_str());
    return 1;
  }

  void summary() {
    std::printf("\n== counters (non-zero); %llu packets crossed the link, %llu lost\n",
                static_cast<unsigned long long>(link_.crossed), static_cast<unsigned long long>(link_.dropped));
    std::printf("  %-28s %10s %10s\n", "", "client", "server");
    for (std::size_t i = 0; i < kCounterCount; ++i) {
      const auto c = static_cast<Counter>(i);
      if (client_.counters()[c] == 0 && server_.counters()[c] == 0) continue;
      std::printf("  %-28.*s %10llu %10llu\n", static_cast<int>(counter_name(c).size()), counter_name(c).data(),
                  static_cast<unsigned long long>(client_.counters()[c]),
                  static_cast<unsigned long long>(server_.counters()[c]));
    }
  }

  Options opts_;
  App client_app_{"client"};
  App server_app_{"server"};
  Stack client_;
  Stack server_;
  Link link_;
};

}  // namespace

int main(int argc, char** argv) {
  const auto opts = parse_args(argc, argv);
  if (!opts) return 2;
  Script script(*opts);
  return script.run();
}
