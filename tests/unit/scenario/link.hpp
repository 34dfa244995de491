// Two Stacks joined by the library's in-memory link (riptide::MemoryLink) on a
// virtual clock, for scenario tests. Link moves IPv4 packets between the stacks'
// transmit queues (drain_tx) and their input(), advances both stacks' timers in
// order, can drop chosen packets, and records every packet that crossed (or was
// dropped) as a tcpdump-style line, so a failing test prints the whole exchange.
// Delivery is instant: a round trip takes no virtual time, so RTT samples are 0 and
// the RTO sits at rto_min.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "stack/memory_link.hpp"
#include "stack/stack.hpp"
#include "wire/format.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"

namespace riptide::scenario {

using namespace wire::tcp_flags;

inline const Ipv4Addr kClientAddr = Ipv4Addr::from_octets(198, 18, 0, 1);
inline const Ipv4Addr kServerAddr = Ipv4Addr::from_octets(198, 18, 0, 2);
inline const Instant kStart = Instant{seconds{1000}};

// One packet that crossed the link, decoded.
struct Packet {
  Instant at;
  bool from_a = true;  // sent by the link's first stack
  bool dropped = false;
  IpAddr src, dst;  // IPv4 (held mapped) or IPv6
  bool is_tcp = false;
  wire::TcpHeader tcp;
  std::size_t payload_len = 0;
  std::string line;

  [[nodiscard]] bool has(std::uint8_t f) const noexcept { return is_tcp && (tcp.flags & f) != 0; }
};

// "FIN-WAIT-1" or "ESTABLISHED x2, TIME-WAIT" or "none": the stack's nonzero
// connections_by_state(), in RFC order.
inline std::string states(const Stack& s) {
  const auto v = s.connections_by_state();
  std::string out;
  for (int i = 0; i < tcp::kStateCount; ++i) {
    if (v[static_cast<std::size_t>(i)] == 0) continue;
    if (!out.empty()) out += ", ";
    out += tcp::to_string(static_cast<State>(i));
    if (v[static_cast<std::size_t>(i)] > 1) out += " x" + std::to_string(v[static_cast<std::size_t>(i)]);
  }
  return out.empty() ? "none" : out;
}

// The scenario tests' view of riptide::MemoryLink (lib/stack/memory_link.hpp, the
// one in-memory link): two stacks on an instant, lossless wire, every packet that
// crossed (or was dropped) kept decoded, a drop filter, and gtest failures when the
// exchange does not go quiet.
class Link {
 public:
  using Filter = std::function<bool(const Packet&)>;

  // `a` and `b` may be the same stack (a loopback, for self-connect).
  Link(Stack& a, Stack& b, Instant start, std::string a_name = "client",
       std::string b_name = "server")
      : link_(a, b, start), same_(&a == &b), start_(start), a_name_(std::move(a_name)),
        b_name_(std::move(b_name)) {
    link_.set_observer([this](const LinkPacket& p) {
      if (p.what == LinkEvent::Sent) {
        packets.push_back(decode(p));
      } else if (p.what == LinkEvent::Filtered) {
        packets.back().dropped = true;
      }
    });
    link_.set_filter([this](const LinkPacket&) { return drops(packets.back()); });
  }

  std::vector<Packet> packets;  // everything that crossed, in order

  [[nodiscard]] Instant now() const noexcept { return link_.now(); }

  // Drops every packet for which f returns true, until cleared (set_filter({})).
  void set_filter(Filter f) { filter_ = std::move(f); }
  // Drops the first packet for which f returns true, then forgets f.
  void drop_next(Filter f) { one_shot_.push_back(std::move(f)); }

  // Moves what both stacks have queued right now to the other side, both
  // directions "at once" (collected before anything is delivered). Returns the
  // number of packets moved.
  std::size_t step() {
    const std::size_t before = packets.size();
    link_.step();
    return packets.size() - before;
  }

  // Steps until both transmit queues stay empty.
  void pump() {
    link_.pump();
    if (link_.stalled()) ADD_FAILURE() << "link did not go quiet";
  }

  // Runs both stacks' timers in deadline order up to `t` (inclusive), pumping the
  // link after each expiry; the clock ends at t.
  void run_until(Instant t) { run_until([] { return false; }, t); }
  void run_for(Duration d) { run_until(now() + d); }

  // As run_until(t), but stops as soon as done() holds (checked after every
  // expiry). Returns done().
  bool run_until(const std::function<bool()>& done, Instant t) {
    if (!link_.run_until(done, t)) link_.run_until(t);
    if (link_.stalled()) ADD_FAILURE() << "link did not go quiet";
    return done();
  }

  // The trace: one line per packet, "  +12.000 ms client > server  <tcpdump line>".
  // At most `last` lines (the latest), 0 for all.
  [[nodiscard]] std::string trace(std::size_t last = 0) const {
    std::ostringstream out;
    std::size_t first = 0;
    if (last != 0 && packets.size() > last) {
      first = packets.size() - last;
      out << "  ... " << first << " earlier packets not shown\n";
    }
    for (std::size_t i = first; i < packets.size(); ++i) out << format(packets[i]) << '\n';
    return out.str();
  }

  [[nodiscard]] std::string format(const Packet& p) const {
    char ms[32];
    std::snprintf(ms, sizeof ms, "%+10.3f", static_cast<double>((p.at - start_).count()) / 1e6);
    const std::string& from = p.from_a ? a_name_ : b_name_;
    const std::string& to = same_ ? a_name_ : (p.from_a ? b_name_ : a_name_);
    return std::string(ms) + " ms " + from + " > " + to + "  " + p.line +
           (p.dropped ? "  [dropped]" : "");
  }

  // Packets sent by one side, optionally only those with all of `flags` set.
  [[nodiscard]] std::vector<Packet> sent_by_a(std::uint8_t flags = 0) const { return sent(true, flags); }
  [[nodiscard]] std::vector<Packet> sent_by_b(std::uint8_t flags = 0) const { return sent(false, flags); }

 private:
  [[nodiscard]] std::vector<Packet> sent(bool from_a, std::uint8_t flags) const {
    std::vector<Packet> v;
    for (const Packet& p : packets) {
      if (p.from_a == from_a && p.is_tcp && (p.tcp.flags & flags) == flags) v.push_back(p);
    }
    return v;
  }

  static Packet decode(const LinkPacket& lp) {
    Packet p;
    p.at = lp.at;
    p.from_a = lp.from == 0;
    if (!lp.bytes.empty() && (static_cast<std::uint8_t>(lp.bytes[0]) >> 4) == 6) {
      // IPv6: what riptide sends has no extension headers.
      if (auto ip = wire::Ipv6View::parse(lp.bytes)) {
        p.src = ip->src();
        p.dst = ip->dst();
        if (ip->next_header() == wire::kIpProtoTcp) {
          if (auto t = wire::TcpView::parse(ip->payload())) {
            p.is_tcp = true;
            p.tcp = wire::header_of(*t);
            p.payload_len = t->payload().size();
            p.line = wire::format_tcp(p.src, p.dst, *t);
          }
        }
        if (!p.is_tcp) p.line = to_string(p.src) + " > " + to_string(p.dst) + ": next header " +
                                std::to_string(ip->next_header());
      } else {
        p.line = "unparsable IPv6 packet of " + std::to_string(lp.bytes.size()) + " bytes";
      }
    } else if (auto ip = wire::Ipv4View::parse(lp.bytes)) {
      p.src = ip->src();
      p.dst = ip->dst();
      if (ip->protocol() == wire::kIpProtoTcp) {
        if (auto t = wire::TcpView::parse(ip->payload())) {
          p.is_tcp = true;
          p.tcp = wire::header_of(*t);
          p.payload_len = t->payload().size();
          p.line = wire::format_tcp(p.src, p.dst, *t);
        }
      }
      if (!p.is_tcp) p.line = to_string(p.src) + " > " + to_string(p.dst) + ": protocol " +
                              std::to_string(ip->protocol());
    } else {
      p.line = "unparsable IPv4 packet of " + std::to_string(lp.bytes.size()) + " bytes";
    }
    return p;
  }

  bool drops(const Packet& p) {
    if (filter_ && filter_(p)) return true;
    for (auto it = one_shot_.begin(); it != one_shot_.end(); ++it) {
      if ((*it)(p)) {
        one_shot_.erase(it);
        return true;
      }
    }
    return false;
  }

  MemoryLink link_;
  bool same_;
  Instant start_;
  std::string a_name_, b_name_;
  Filter filter_;
  std::vector<Filter> one_shot_;
};

// Records callbacks ("accept", "connected", "peer_closed", "closed:normal", ...),
// keeps received bytes, and can stream a buffer out, refilling on on_writable.
class Recorder : public Handler {
 public:
  std::vector<std::string> events;
  std::optional<ConnId> conn;
  std::vector<std::byte> received;
  std::optional<CloseReason> closed_reason;
  std::optional<Instant> closed_at;
  bool peer_closed = false;

  // Data to send once connected; sent as space allows.
  std::vector<std::byte> to_send;
  std::size_t sent = 0;
  // Called on on_peer_closed, after recording it.
  std::function<void(Stack&, ConnId)> on_peer_closed_hook;

  void on_accept(Stack& s, ConnId c) override {
    conn = c;
    events.emplace_back("accept");
    push(s);
  }
  void on_connected(Stack& s, ConnId c) override {
    conn = c;
    events.emplace_back("connected");
    push(s);
  }
  void on_data(Stack&, ConnId, std::span<const std::byte> d) override {
    received.insert(received.end(), d.begin(), d.end());
  }
  void on_writable(Stack& s, ConnId) override { push(s); }
  void on_peer_closed(Stack& s, ConnId c) override {
    peer_closed = true;
    events.emplace_back("peer_closed");
    if (on_peer_closed_hook) on_peer_closed_hook(s, c);
  }
  void on_closed(Stack& s, ConnId, CloseReason r) override {
    closed_reason = r;
    closed_at = s.now();
    events.emplace_back("closed:" + std::string(tcp::to_string(r)));
  }

  // Queues as much of to_send as the stack takes.
  void push(Stack& s) {
    if (!conn) return;
    while (sent < to_send.size()) {
      auto n = s.send(*conn, std::span(to_send).subspan(sent));
      if (!n || *n == 0) return;
      sent += *n;
    }
  }

  [[nodiscard]] std::string joined() const {
    std::string out;
    for (const auto& e : events) out += (out.empty() ? "" : " ") + e;
    return out;
  }
};

// A byte pattern that differs per direction and has no short period.
inline std::vector<std::byte> pattern(std::size_t n, std::uint32_t seed) {
  std::vector<std::byte> v(n);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<std::byte>(x);
  }
  return v;
}

// Index of the first differing byte, or -1 if equal (sizes included).
inline std::ptrdiff_t first_difference(const std::vector<std::byte>& got, const std::vector<std::byte>& want) {
  const std::size_t n = std::min(got.size(), want.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (got[i] != want[i]) return static_cast<std::ptrdiff_t>(i);
  }
  return got.size() == want.size() ? -1 : static_cast<std::ptrdiff_t>(n);
}

}  // namespace riptide::scenario
