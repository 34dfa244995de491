// A test peer for one Stack: scripts segments in and reads exactly the segments out,
// with sequence numbers relative to each side's ISN (as packetdrill writes them).
// The stack under test is 198.18.0.1:8080 (or an ephemeral port when it connects);
// the scripted peer is 198.18.0.2:40000 with ISN 1000000.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "stack/stack.hpp"
#include "wire/format.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace riptide::testing {

using namespace wire::tcp_flags;

inline constexpr std::uint32_t kPeerIsn = 1000000;

// Flags written as tcpdump prints them: "S", "S.", ".", "P.", "F.", "R", "R.".
inline std::uint8_t parse_flags(std::string_view f) {
  std::uint8_t v = 0;
  for (char ch : f) {
    switch (ch) {
      case 'S': v |= kSyn; break;
      case 'F': v |= kFin; break;
      case 'R': v |= kRst; break;
      case 'P': v |= kPsh; break;
      case '.': v |= kAck; break;
      default: ADD_FAILURE() << "bad flag letter " << ch;
    }
  }
  return v;
}

// One segment the stack sent, with seq relative to its ISN and ack to the peer's.
struct Out {
  std::uint8_t flags = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint16_t win = 0;
  wire::TcpOptions options;
  std::string data;
  std::string line;  // tcpdump style, absolute numbers
};

// Records callbacks as short strings: "accept", "connected", "data:hello",
// "writable", "peer_closed", "closed:reset".
class RecordingHandler : public Handler {
 public:
  std::vector<std::string> events;
  ConnId last{};
  void on_accept(Stack&, ConnId c) override { last = c; events.push_back("accept"); }
  void on_acceptable(Stack&, ListenerId) override { events.push_back("acceptable"); }
  void on_connected(Stack&, ConnId c) override { last = c; events.push_back("connected"); }
  void on_data(Stack&, ConnId, std::span<const std::byte> d) override {
    events.push_back("data:" + std::string(reinterpret_cast<const char*>(d.data()), d.size()));
  }
  void on_writable(Stack&, ConnId) override { events.push_back("writable"); }
  void on_peer_closed(Stack&, ConnId) override { events.push_back("peer_closed"); }
  void on_closed(Stack& s, ConnId c, CloseReason r) override {
    events.push_back("closed:" + std::string(tcp::to_string(r)));
    user_data_at_close = s.user_data(c);
  }
  void* user_data_at_close = nullptr;
  std::vector<std::string> take() { return std::exchange(events, {}); }
};

inline StackConfig default_config() {
  StackConfig c;
  c.local_addrs = {Ipv4Addr::from_octets(198, 18, 0, 1)};
  c.secret = tcp::Secret{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  c.max_connections = 256;
  c.max_time_wait = 256;
  c.send_chunks = 4096;
  return c;
}

class Harness {
 public:
  explicit Harness(StackConfig cfg = default_config())
      : now(std::chrono::seconds{1000}), stack(std::move(cfg), now) {}

  const Ipv4Addr local = Ipv4Addr::from_octets(198, 18, 0, 1);
  const Ipv4Addr remote = Ipv4Addr::from_octets(198, 18, 0, 2);
  std::uint16_t local_port = 8080;
  std::uint16_t remote_port = 40000;
  Instant now;
  Stack stack;
  RecordingHandler handler;
  SeqNum stack_isn{};  // learned from the stack's SYN or SYN-ACK
  ListenerId listener{};
  ConnId conn{};

  // --- script the peer ---------------------------------------------------------------
  // Injects <flags> seq (relative to kPeerIsn) ack (relative to the stack's ISN).
  void in(std::string_view flags, std::uint32_t seq, std::uint32_t ack = 0, std::string_view data = {},
          std::uint16_t win = 65535, wire::TcpOptions opts = {}) {
    wire::TcpHeader h;
    h.src_port = remote_port;
    h.dst_port = local_port;
    h.flags = parse_flags(flags);
    h.seq = SeqNum{kPeerIsn + seq};
    h.ack = (h.flags & kAck) ? stack_isn + ack : SeqNum{0};
    h.window = win;
    h.options = opts;
    inject(h, data);
  }

  void inject(const wire::TcpHeader& h, std::string_view data) {
    std::array<std::byte, 2048> buf{};
    const std::size_t th = wire::kTcpMinHeaderLen + wire::tcp_options_length(h.options);
    wire::Ipv4Header ip;
    ip.protocol = wire::kIpProtoTcp;
    ip.src = remote;
    ip.dst = local;
    const std::size_t hl = wire::write_ipv4_header(buf, ip, static_cast<std::uint16_t>(th + data.size()));
    auto seg = std::span<std::byte>(buf).subspan(hl, th + data.size());
    wire::write_tcp_header(seg, h);
    if (!data.empty()) std::memcpy(seg.data() + th, data.data(), data.size());
    wire::finish_tcp_checksum(seg, remote, local);
    stack.input(std::span<const std::byte>(buf.data(), hl + th + data.size()), now);
  }

  void advance(Duration d) {
    now += d;
    stack.advance(now);
  }
  // Moves the clock to the stack's next timer (like packetdrill's idle wait).
  Duration run_to_next_timer() {
    auto next = stack.next_timer();
    if (!next) return Duration::zero();
    const Duration waited = *next - now;
    now = *next;
    stack.advance(now);
    return waited;
  }

  // --- read what the stack sent --------------------------------------------------------
  std::vector<Out> take() {
    std::vector<Out> outs;
    stack.drain_tx([&](std::span<const std::byte> pkt) {
      auto ip = wire::Ipv4View::parse(pkt);
      EXPECT_TRUE(ip.has_value());
      if (!ip) return;
      auto tcp = wire::TcpView::parse(ip->payload());
      EXPECT_TRUE(tcp.has_value());
      if (!tcp) return;
      EXPECT_TRUE(tcp->checksum_valid(ip->src(), ip->dst())) << "bad checksum on output";
      Out o;
      o.flags = tcp->flags();
      if (stack_isn == SeqNum{} && tcp->has(kSyn)) stack_isn = tcp->seq();
      o.seq = (tcp->seq() - stack_isn);
      o.ack = tcp->has(kAck) ? (tcp->ack() - SeqNum{kPeerIsn}) : 0;
      o.win = tcp->window();
      o.options = tcp->options();
      o.data.assign(reinterpret_cast<const char*>(tcp->payload().data()), tcp->payload().size());
      o.line = wire::format_tcp(ip->src(), ip->dst(), *tcp);
      outs.push_back(std::move(o));
    });
    return outs;
  }

  // Exactly one segment out, matching flags/seq/ack (relative).
  Out expect(std::string_view flags, std::uint32_t seq, std::uint32_t ack, std::string_view data = {}) {
    auto outs = take();
    if (outs.size() != 1) {
      std::string all;
      for (auto& o : outs) all += "\n  " + o.line;
      ADD_FAILURE() << "expected one segment [" << flags << "] seq " << seq << " ack " << ack
                    << ", got " << outs.size() << ":" << all;
      return outs.empty() ? Out{} : outs.front();
    }
    check(outs.front(), flags, seq, ack, data);
    return outs.front();
  }
  static void check(const Out& o, std::string_view flags, std::uint32_t seq, std::uint32_t ack,
                    std::string_view data = {}) {
    EXPECT_EQ(wire::format_tcp_flags(o.flags), wire::format_tcp_flags(parse_flags(flags))) << o.line;
    EXPECT_EQ(o.seq, seq) << "relative seq; " << o.line;
    if (o.flags & kAck) {
      EXPECT_EQ(o.ack, ack) << "relative ack; " << o.line;
    }
    EXPECT_EQ(o.data, data) << o.line;
  }
  void expect_nothing() {
    auto outs = take();
    std::string all;
    for (auto& o : outs) all += "\n  " + o.line;
    EXPECT_TRUE(outs.empty()) << "expected no segment, got:" << all;
  }

  // --- build a connection in a given state -----------------------------------------------
  void listen(ListenOptions opts = {}) {
    auto l = stack.listen(local, local_port, handler, opts);
    ASSERT_TRUE(l.has_value());
    listener = *l;
  }
  State state() const {
    auto i = stack.info(conn);
    return i ? i->state : State::Closed;
  }
  // LISTEN -> SYN-RECEIVED: the peer's SYN (no options: MSS 536, no TS).
  void to_syn_received() {
    listen();
    in("S", 0, 0, {}, 65535, syn_options());
    expect("S.", 0, 1);
  }
  // Passive open, ESTABLISHED, with the peer's SYN carrying syn_options().
  void to_established_passive() {
    to_syn_received();
    in(".", 1, 1);
    expect_nothing();
    EXPECT_EQ(handler.take(), std::vector<std::string>{"accept"});
    conn = handler.last;
    ASSERT_EQ(state(), State::Established);
  }
  // Active open, ESTABLISHED.
  void to_established_active() {
    auto c = stack.connect(remote, remote_port, handler);
    ASSERT_TRUE(c.has_value());
    conn = *c;
    local_port = stack.info(conn)->key.local_port;
    expect("S", 0, 0);
    in("S.", 0, 1, {}, 65535, syn_options());
    expect(".", 1, 1);
    EXPECT_EQ(handler.take(), std::vector<std::string>{"connected"});
    ASSERT_EQ(state(), State::Established);
  }
  // The options the scripted peer offers in its SYN (none by default).
  wire::TcpOptions peer_syn_options{};
  wire::TcpOptions syn_options() const { return peer_syn_options; }

  void send(std::string_view s) {
    auto r = stack.send(conn, std::as_bytes(std::span(s.data(), s.size())));
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(*r, s.size());
  }
  std::size_t counter(Counter c) const { return stack.counters()[c]; }
};

}  // namespace riptide::testing
