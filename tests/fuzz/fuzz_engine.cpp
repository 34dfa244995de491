// libFuzzer target for the TCP engine (lib/tcp + lib/stack): a stateful fuzzer in
// the shape of smoltcp's loopback fuzzer, lwIP's multi-frame inputs and TCP-Fuzz's
// packets mixed with system calls. docs/fuzzing.md describes the input format and
// the invariants; tests/fuzz/gen_engine_seeds.py writes seeds in it.
//
// One input is a configuration byte followed by steps, all on a virtual clock:
//   stack A (198.18.0.1) and stack B (198.18.0.2), joined by an in-memory link whose
//   queues the input delivers, drops, duplicates and reorders; and a scripted peer
//   (198.18.0.3) that sends segments to either stack, built relative to what it
//   last saw the stack send (SEQ, ACK, window, TSval) and then mutated, or raw
//   bytes as a whole IPv4 packet; application calls on either stack; clock
//   advances that fire timers.
// After every step the invariants are checked (check_stack); at the end everything
// is aborted, the clock runs past every timer and nothing may be left allocated.
// A violation prints what broke and aborts (a crash for libFuzzer).
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "stack/stack.hpp"
#include "wire/checksum.hpp"
#include "wire/format.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace riptide::fuzz {
namespace {

using namespace wire::tcp_flags;

[[noreturn]] void fail(const char* what, unsigned a = 0, unsigned b = 0) {
  std::fprintf(stderr, "fuzz_engine: invariant violated: %s (%u, %u)\n", what, a, b);
  std::abort();
}
// FUZZ_ENGINE_TRACE=1: print every step, packet and state change (to reproduce a finding).
const bool g_trace = std::getenv("FUZZ_ENGINE_TRACE") != nullptr;

void trace_packet(const char* dir, std::span<const std::byte> pkt) {
  if (!g_trace) return;
  auto ip = wire::Ipv4View::parse(pkt);
  if (!ip) {
    std::fprintf(stderr, "  %s (not IPv4, %zu bytes)\n", dir, pkt.size());
    return;
  }
  if (ip->protocol() != wire::kIpProtoTcp || !wire::TcpView::parse(ip->payload())) {
    std::fprintf(stderr, "  %s (IPv4 proto %u, %zu bytes)\n", dir, ip->protocol(), pkt.size());
    return;
  }
  auto t = wire::TcpView::parse(ip->payload());
  std::fprintf(stderr, "  %s %s\n", dir, wire::format_tcp(ip->src(), ip->dst(), *t).c_str());
}

#define ENGINE_CHECK(cond, ...) \
  do {                          \
    if (!(cond)) fail(#cond __VA_OPT__(, ) __VA_ARGS__); \
  } while (0)

// Reads the input front to back; past the end every read is 0 and done() is true.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> d) : d_(d) {}
  bool done() const { return pos_ >= d_.size(); }
  std::uint8_t u8() { return pos_ < d_.size() ? d_[pos_++] : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() << 8 | u8()); }
  std::uint32_t u32() { return std::uint32_t{u16()} << 16 | u16(); }
  std::span<const std::uint8_t> bytes(std::size_t n) {
    n = std::min(n, d_.size() - std::min(pos_, d_.size()));
    auto s = d_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

 private:
  std::span<const std::uint8_t> d_;
  std::size_t pos_ = 0;
};

const Ipv4Addr kAddr[2] = {Ipv4Addr::from_octets(198, 18, 0, 1), Ipv4Addr::from_octets(198, 18, 0, 2)};
const Ipv4Addr kPeer = Ipv4Addr::from_octets(198, 18, 0, 3);
constexpr std::uint16_t kListenPorts[4] = {80, 81, 443, 8080};
constexpr std::uint16_t kPeerPorts[4] = {1000, 1001, 1002, 1003};
constexpr std::uint32_t kMaxConns = 8;
constexpr std::size_t kQueueMax = 64;

// What the applications send: byte k of every stream is pattern_byte(k), so the
// receiving stack's application checks every byte it gets from the other stack
// (data integrity through loss, duplication, reordering and retransmission).
constexpr std::byte pattern_byte(std::uint64_t k) { return static_cast<std::byte>(k * 7 + 3); }
const std::array<std::byte, 65536 + 256> g_pattern = [] {
  std::array<std::byte, 65536 + 256> a{};
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = pattern_byte(i);
  return a;
}();

// --- RFC 9293 3.3.2's state diagram, as allowed edges ------------------------------
// Plus what every implementation adds: ABORT, an acceptable RST, a retransmission
// timeout or a lost SYN-ACK take any state to CLOSED.
bool edge_allowed(State from, State to) {
  using S = State;
  if (to == S::Closed) return from != S::Closed;
  switch (from) {
    case S::Closed: return to == S::Listen || to == S::SynSent || to == S::SynReceived;
    case S::Listen: return to == S::SynReceived || to == S::SynSent;
    case S::SynSent: return to == S::SynReceived || to == S::Established;
    case S::SynReceived: return to == S::Established || to == S::FinWait1 || to == S::Listen;
    case S::Established: return to == S::FinWait1 || to == S::CloseWait;
    case S::FinWait1: return to == S::FinWait2 || to == S::Closing || to == S::TimeWait;
    case S::FinWait2: return to == S::TimeWait;
    case S::CloseWait: return to == S::LastAck;
    case S::Closing: return to == S::TimeWait;
    case S::LastAck: return false;  // only CLOSED
    case S::TimeWait: return false;
  }
  return false;
}

void observe_state(void*, const FlowKey& k, State from, State to) {
  if (g_trace) {
    std::fprintf(stderr, "  state %s: %s -> %s\n", to_string(k).c_str(), std::string(tcp::to_string(from)).c_str(),
                 std::string(tcp::to_string(to)).c_str());
  }
  if (!edge_allowed(from, to)) fail("state change not in RFC 9293's diagram", static_cast<unsigned>(from), static_cast<unsigned>(to));
}

// --- the application on one stack ---------------------------------------------------
// What a handler does from inside a callback (re-entrancy is where engines break).
enum class React : std::uint8_t { Nothing, Send, ShutdownWrite, Close, Abort, kCount };

struct App final : Handler {
  Stack* stack = nullptr;
  struct Conn {
    ConnId id;
    std::uint32_t held = 0;  // received, not yet "read" (set_receive_held)
    bool hold = true;
    bool owned = true;
    std::uint64_t sent = 0;      // stream bytes send() accepted
    std::uint64_t received = 0;  // stream bytes on_data() delivered
  };
  // send() from where this connection's stream is (the pattern has period 256).
  void send_stream(Stack& s, ConnId c, std::uint32_t n) {
    Conn* x = find(c);
    // A made-up handle that happens to be live (a guessed slot and generation) is a
    // real connection: track its stream from here, or a second send would start
    // the pattern over (a harness bug the fuzzer itself found, not the stack's).
    if (x == nullptr && s.alive(c)) {
      add(c, /*owned=*/false);
      x = find(c);
    }
    const std::size_t from = x != nullptr ? x->sent % 256 : 0;
    auto got = s.send(c, std::span(g_pattern).subspan(from, n));
    if (got) ENGINE_CHECK(*got <= n);
    if (got && x != nullptr) {
      x = find(c);  // (a callback may have changed conns)
      if (x != nullptr) x->sent += *got;
    }
  }
  std::vector<Conn> conns;
  std::vector<ListenerId> listeners;
  React on_data_react = React::Nothing;
  React on_accept_react = React::Nothing;
  std::uint32_t react_bytes = 100;

  Conn* find(ConnId c) {
    for (auto& x : conns) if (x.id == c) return &x;
    return nullptr;
  }
  // After close() or abort() the application hears nothing more (StackEngine::detach).
  void forget(ConnId c) {
    conns.erase(std::remove_if(conns.begin(), conns.end(), [&](const Conn& x) { return x.id == c; }),
                conns.end());
  }
  // Owned: from connect(), on_accept(), on_connected() or accept(). A child still in
  // a listener's accept queue reaches the application only through on_data() and
  // friends: it is tracked (for the stream check) but not owned, because the
  // stack may reset it silently (unlisten(), Stack::unlisten's contract).
  void add(ConnId c, bool owned = true) {
    if (Conn* x = find(c)) {
      x->owned = x->owned || owned;
      return;
    }
    conns.push_back(Conn{c});
    conns.back().owned = owned;
  }
  void react(Stack& s, ConnId c, React r) {
    switch (r) {
      case React::Nothing: case React::kCount: break;
      case React::Send: send_stream(s, c, react_bytes); break;
      case React::ShutdownWrite: (void)s.shutdown_write(c); break;
      case React::Close: if (!s.close(c)) forget(c); break;
      case React::Abort: if (!s.abort(c)) forget(c); break;
    }
  }
  void on_accept(Stack& s, ConnId c) override {
    if (g_trace) std::fprintf(stderr, "  on_accept %u/%u\n", c.slot, c.generation);
    add(c);
    react(s, c, on_accept_react);
  }
  void on_connected(Stack& s, ConnId c) override {
    if (g_trace) std::fprintf(stderr, "  on_connected %u/%u\n", c.slot, c.generation);
    add(c);
    react(s, c, on_accept_react);
  }
  void on_data(Stack& s, ConnId c, std::span<const std::byte> d) override {
    ENGINE_CHECK(s.alive(c));
    if (find(c) == nullptr) add(c, /*owned=*/false);  // a child still in the accept queue
    if (Conn* x = find(c); x != nullptr) {
      // In order and intact, from the other stack (the peer's payload is no stream).
      if (auto in = s.info(c); in && in->key.remote_addr != kPeer) {
        for (std::size_t k = 0; k < d.size(); ++k) {
          if (d[k] != pattern_byte(x->received + k)) fail("stream byte corrupted", static_cast<unsigned>(x->received + k));
        }
      }
      x->received += d.size();
      if (x->hold) {
        x->held += static_cast<std::uint32_t>(d.size());
        (void)s.set_receive_held(c, x->held);
      }
    }
    react(s, c, on_data_react);
  }
  void on_writable(Stack& s, ConnId c) override { ENGINE_CHECK(s.alive(c)); }
  void on_peer_closed(Stack& s, ConnId c) override { ENGINE_CHECK(s.alive(c)); }
  void on_closed(Stack&, ConnId c, CloseReason why) override {
    if (g_trace) std::fprintf(stderr, "  on_closed %u/%u %s\n", c.slot, c.generation, std::string(to_string(why)).c_str());
    forget(c);
  }
};

// --- what the scripted peer knows about one of its connections ----------------------
struct PeerFlow {
  int stack = 0;
  std::uint16_t stack_port = 0, peer_port = 0;
  SeqNum my_isn, my_nxt;    // the peer's own sequence space
  SeqNum their_nxt;         // the stack's highest SEQ seen + its length (incl. SYN/FIN)
  SeqNum their_ack;         // the stack's last ACK (its RCV.NXT)
  SeqNum their_una_guess;   // what the peer acknowledged last
  std::uint16_t their_wnd = 0;
  std::uint32_t their_tsval = 0;
  std::uint32_t my_ts = 1;
  bool seen_syn = false;
};

// Per connection, across steps: RCV.NXT may only move forward.
struct Track {
  ConnId id{};
  bool valid = false;
  bool have_rcv = false;
  SeqNum rcv_nxt;
  std::uint32_t max_rcv_buf = 0;
};

struct World {
  Instant now = Instant{seconds{1000}};
  std::optional<Stack> stacks[2];
  App apps[2];
  std::vector<std::vector<std::byte>> link[2];  // link[i]: queued from stack i to the other
  std::vector<PeerFlow> flows;
  std::array<Track, kMaxConns> track[2];
  std::uint16_t ip_id = 0;
  // For the counter balances: packets handed to each stack, and what it sent.
  std::uint64_t inputs[2] = {0, 0};
  std::uint64_t tcp_sent[2] = {0, 0};
  std::uint64_t other_sent[2] = {0, 0};
  bool spoofed = false;  // a raw packet claimed to come from one of the stacks
};

const tcp::Connection* find_conn(const Stack& s, const FlowKey& k) {
  for (std::uint32_t slot = 0; slot < kMaxConns; ++slot) {
    const tcp::Connection* c = s.engine().connection_at(slot);
    if (c != nullptr && c->key() == k) return c;
  }
  return nullptr;
}

// Takes what stack i wants sent: packets for the other stack join the link queue;
// packets for the scripted peer update what it knows; anything else is dropped.
void drain(World& w, int i) {
  w.stacks[i]->drain_tx([&](std::span<const std::byte> pkt) {
    trace_packet("out", pkt);
    auto ip = wire::Ipv4View::parse(pkt);
    ENGINE_CHECK(ip.has_value());  // the stack only sends well-formed IPv4
    ENGINE_CHECK(ip->checksum_valid());
    ENGINE_CHECK(ip->src() == kAddr[i]);
    if (ip->protocol() != wire::kIpProtoTcp) {
      ++w.other_sent[i];
    } else {
      ++w.tcp_sent[i];
      auto t = wire::TcpView::parse(ip->payload());
      ENGINE_CHECK(t.has_value());
      ENGINE_CHECK(t->checksum_valid(ip->src(), ip->dst()));
      // RFC 6691: options and data of a segment fit the peer's MSS (SND.MSS leaves
      // room for the timestamp option; SACK blocks come out of the payload).
      const FlowKey k{ip->src(), ip->dst(), t->src_port(), t->dst_port()};
      if (const tcp::Connection* c = find_conn(*w.stacks[i], k); c != nullptr && !t->has(kSyn)) {
        const std::size_t room = c->tcb().snd_mss + (c->tcb().ts_ok ? 12u : 0u);
        ENGINE_CHECK(t->payload().size() + t->option_bytes().size() <= room,
                     static_cast<unsigned>(t->payload().size() + t->option_bytes().size()), static_cast<unsigned>(room));
      }
    }
    if (ip->dst() == kAddr[1 - i]) {
      if (w.link[i].size() < kQueueMax) w.link[i].emplace_back(pkt.begin(), pkt.end());
      return;
    }
    if (ip->dst() != kPeer || ip->protocol() != wire::kIpProtoTcp) return;
    auto t = wire::TcpView::parse(ip->payload());
    PeerFlow* f = nullptr;
    for (auto& x : w.flows) {
      if (x.stack == i && x.stack_port == t->src_port() && x.peer_port == t->dst_port()) f = &x;
    }
    if (f == nullptr) {
      if (!t->has(kSyn) || w.flows.size() >= 8) return;
      w.flows.push_back(PeerFlow{});
      f = &w.flows.back();
      f->stack = i;
      f->stack_port = t->src_port();
      f->peer_port = t->dst_port();
      f->my_isn = SeqNum{0x10000000u * static_cast<std::uint32_t>(w.flows.size())};
      f->my_nxt = f->my_isn;
    }
    const std::uint32_t len = static_cast<std::uint32_t>(t->payload().size()) +
                              (t->has(kSyn) ? 1u : 0u) + (t->has(kFin) ? 1u : 0u);
    if (t->has(kSyn)) {
      f->seen_syn = true;
      f->their_nxt = t->seq() + len;
    } else if (t->seq() + len > f->their_nxt || !f->seen_syn) {
      f->their_nxt = t->seq() + len;
      f->seen_syn = true;
    }
    if (t->has(kAck)) f->their_ack = t->ack();
    f->their_wnd = t->window();
    if (t->options().timestamps) f->their_tsval = t->options().timestamps->tsval;
  });
}

void drain_all(World& w) {
  drain(w, 0);
  drain(w, 1);
}

// --- building segments from the peer -------------------------------------------------
std::size_t build_options(Reader& r, PeerFlow& f, std::uint8_t* out, bool syn) {
  std::size_t n = 0;
  const std::uint8_t which = r.u8();
  auto room = [&](std::size_t k) { return n + k <= 40; };
  if ((which & 1) && room(4)) {  // MSS
    static constexpr std::uint16_t kMss[8] = {536, 1460, 88, 1, 0, 65535, 1200, 9000};
    const std::uint8_t m = r.u8();
    const std::uint16_t v = (m & 0x80) ? static_cast<std::uint16_t>(m << 4) : kMss[m & 7];
    out[n++] = 2; out[n++] = 4; out[n++] = static_cast<std::uint8_t>(v >> 8); out[n++] = static_cast<std::uint8_t>(v);
  }
  if ((which & 2) && room(4)) {  // window scale
    out[n++] = 1; out[n++] = 3; out[n++] = 3; out[n++] = static_cast<std::uint8_t>(r.u8() % 16);
  }
  if ((which & 4) && room(4)) {  // SACK-permitted
    out[n++] = 1; out[n++] = 1; out[n++] = 4; out[n++] = 2;
  }
  if ((which & 8) && room(12)) {  // timestamps
    std::uint32_t val = f.my_ts += r.u8();
    std::uint32_t ecr = f.their_tsval;
    if (which & 0x40) { val = r.u32(); ecr = r.u32(); }
    out[n++] = 1; out[n++] = 1; out[n++] = 8; out[n++] = 10;
    for (std::uint32_t v : {val, ecr}) {
      out[n++] = static_cast<std::uint8_t>(v >> 24); out[n++] = static_cast<std::uint8_t>(v >> 16);
      out[n++] = static_cast<std::uint8_t>(v >> 8); out[n++] = static_cast<std::uint8_t>(v);
    }
  }
  if ((which & 0x10) && !syn) {  // SACK blocks, around what the stack has sent
    const std::size_t blocks = 1 + r.u8() % 4;
    if (room(4 + 8 * blocks) ) {
      out[n++] = 1; out[n++] = 1; out[n++] = 5; out[n++] = static_cast<std::uint8_t>(2 + 8 * blocks);
      for (std::size_t b = 0; b < blocks; ++b) {
        const std::uint8_t k = r.u8();
        SeqNum left = f.their_nxt - std::uint32_t{r.u16()};
        if (k & 0x80) left = SeqNum{r.u32()};
        SeqNum right = left + ((k & 0x40) ? std::uint32_t{r.u16()} : std::uint32_t{k & 0x3fu} * 100u);
        for (std::uint32_t v : {left.raw(), right.raw()}) {
          out[n++] = static_cast<std::uint8_t>(v >> 24); out[n++] = static_cast<std::uint8_t>(v >> 16);
          out[n++] = static_cast<std::uint8_t>(v >> 8); out[n++] = static_cast<std::uint8_t>(v);
        }
      }
    }
  }
  if (which & 0x20) {  // garbage option bytes
    auto g = r.bytes(r.u8() % 12);
    for (auto b : g) if (room(1)) out[n++] = b;
  }
  while (n % 4 != 0) out[n++] = 0;  // EOL padding
  return n;
}

void send_to_stack(World& w, int i, std::span<const std::byte> pkt) {
  trace_packet(i == 0 ? "in A" : "in B", pkt);
  ++w.inputs[i];
  w.stacks[i]->input(pkt, w.now);
  drain_all(w);
}

// A TCP segment from the peer (or raw TCP bytes) wrapped in a valid IPv4 header.
void send_tcp(World& w, int i, std::span<const std::uint8_t> tcp, bool fix_checksum) {
  std::array<std::byte, 2048> buf{};
  const std::size_t len = std::min<std::size_t>(tcp.size(), buf.size() - 20);
  wire::Ipv4Header ih;
  ih.protocol = wire::kIpProtoTcp;
  ih.src = kPeer;
  ih.dst = kAddr[i];
  ih.id = w.ip_id++;
  const std::size_t hl = wire::write_ipv4_header(buf, ih, static_cast<std::uint16_t>(len));
  if (len != 0) std::memcpy(buf.data() + hl, tcp.data(), len);
  if (fix_checksum && len >= 20) wire::finish_tcp_checksum(std::span(buf).subspan(hl, len), kPeer, kAddr[i]);
  send_to_stack(w, i, std::span(buf).first(hl + len));
}

void peer_segment(World& w, Reader& r) {
  // Reads never depend on the state (what is read is fixed by the bytes alone), so
  // seeds can be written by a generator that knows only the format.
  const std::uint8_t pick = r.u8();
  PeerFlow nf;
  nf.stack = (pick >> 6) & 1;
  nf.stack_port = kListenPorts[pick & 3];
  nf.peer_port = kPeerPorts[(pick >> 2) & 3];
  nf.my_isn = SeqNum{0x01000000u * (std::uint32_t{pick} + 1)};
  if (pick & 0x80) {  // a new flow, with a port and ISN of its own
    if (pick & 0x20) nf.stack_port = r.u16();
    nf.my_isn = SeqNum{r.u32()};
  }
  nf.my_nxt = nf.my_isn;
  PeerFlow* f = nullptr;
  if (!w.flows.empty() && (pick & 0x80) == 0) f = &w.flows[pick % w.flows.size()];
  for (auto& x : w.flows) {
    if (f == nullptr && x.stack == nf.stack && x.stack_port == nf.stack_port && x.peer_port == nf.peer_port) f = &x;
  }
  if (f == nullptr && w.flows.size() < 8) {
    w.flows.push_back(nf);
    f = &w.flows.back();
  }
  if (f == nullptr) f = &w.flows[pick % w.flows.size()];
  // Templates: what a well-behaved peer would send next, before mutation.
  const std::uint8_t kind = r.u8();
  std::uint8_t flags = 0;
  switch (kind & 7) {
    case 0: flags = kSyn; break;
    case 1: flags = kSyn | kAck; break;
    case 2: flags = kAck; break;
    case 3: flags = kAck | kPsh; break;
    case 4: flags = kFin | kAck; break;
    case 5: flags = kRst; break;
    case 6: flags = kRst | kAck; break;
    case 7: flags = r.u8(); break;
  }
  SeqNum seq = (flags & kSyn) ? f->my_isn : (f->seen_syn ? f->their_ack : f->my_nxt);
  switch ((kind >> 3) & 7) {
    case 0: case 1: case 2: break;
    case 3: seq = seq + static_cast<std::uint32_t>(static_cast<std::int8_t>(r.u8())); break;
    case 4: seq = seq + static_cast<std::uint32_t>(static_cast<std::int16_t>(r.u16())); break;
    case 5: seq = f->my_nxt; break;
    case 6: seq = seq + (std::uint32_t{r.u16()} << 8); break;  // far ahead / behind by wrap
    case 7: seq = SeqNum{r.u32()}; break;
  }
  SeqNum ack = f->their_nxt;
  const std::uint8_t ack_mode = r.u8();
  switch (ack_mode & 7) {
    case 0: case 1: case 2: break;
    case 3: ack = ack - std::uint32_t{r.u8()}; break;  // partial / duplicate
    case 4: ack = ack + std::uint32_t{r.u8()}; break;  // beyond what was sent
    case 5: ack = f->their_una_guess; break;
    case 6: ack = ack - std::uint32_t{r.u16()}; break;
    case 7: ack = SeqNum{r.u32()}; break;
  }
  std::uint16_t window = 65535;
  switch ((ack_mode >> 3) & 3) {
    case 0: break;
    case 1: window = 0; break;
    case 2: window = r.u8(); break;
    case 3: window = r.u16(); break;
  }
  std::size_t payload = 0;
  switch ((ack_mode >> 5) & 7) {
    case 0: case 1: case 2: break;
    case 3: payload = 1 + r.u8() % 64; break;
    case 4: case 5: payload = r.u16() % 1461; break;
    case 6: payload = 1; break;
    case 7: payload = r.u16() % 2000; break;
  }
  if ((kind & 0xC0) == 0xC0) flags ^= r.u8();  // flip flags after the template

  std::array<std::uint8_t, 60 + 2000> seg{};
  const std::size_t optlen = build_options(r, *f, seg.data() + 20, (flags & kSyn) != 0);
  const std::size_t hl = 20 + optlen;
  auto put16 = [&](std::size_t o, std::uint16_t v) { seg[o] = static_cast<std::uint8_t>(v >> 8); seg[o + 1] = static_cast<std::uint8_t>(v); };
  auto put32 = [&](std::size_t o, std::uint32_t v) { put16(o, static_cast<std::uint16_t>(v >> 16)); put16(o + 2, static_cast<std::uint16_t>(v)); };
  put16(0, f->peer_port);
  put16(2, f->stack_port);
  put32(4, seq.raw());
  put32(8, ack.raw());
  seg[12] = static_cast<std::uint8_t>((hl / 4) << 4);
  seg[13] = flags;
  put16(14, window);
  put16(18, (flags & kUrg) ? r.u16() : 0);
  payload = std::min(payload, seg.size() - hl);
  for (std::size_t k = 0; k < payload; ++k) seg[hl + k] = static_cast<std::uint8_t>('a' + k % 26);
  send_tcp(w, f->stack, std::span(seg).first(hl + payload), (kind & 0xC0) != 0x80 || (flags & kUrg) == 0);
  const std::uint32_t used = static_cast<std::uint32_t>(payload) + ((flags & kSyn) ? 1u : 0u) + ((flags & kFin) ? 1u : 0u);
  if (seq + used > f->my_nxt) f->my_nxt = seq + used;
  if (flags & kAck) f->their_una_guess = ack;
}

// --- application calls ----------------------------------------------------------------
App::Conn* pick_conn(World& w, int i, std::uint8_t b) {
  auto& v = w.apps[i].conns;
  if (v.empty()) return nullptr;
  return &v[b % v.size()];
}

void app_call(World& w, Reader& r) {
  const std::uint8_t op = r.u8();
  const int i = op & 1;
  Stack& s = *w.stacks[i];
  App& app = w.apps[i];
  const std::uint8_t arg = r.u8();
  // A handle the application holds, or (arg bit 7, or none held) a made-up one that
  // is most likely stale: the API must refuse it, not crash.
  ConnId id{arg % kMaxConns, (arg & 0x80) ? r.u8() : 0u};
  App::Conn* c = pick_conn(w, i, arg);
  if (c != nullptr && (arg & 0x80) == 0) id = c->id;
  s.set_clock(w.now);
  if (g_trace) std::fprintf(stderr, "  app %c call %u on %u/%u\n", "AB"[i], (op >> 1) % 16, id.slot, id.generation);
  switch ((op >> 1) % 16) {
    case 0: {  // listen
      ListenOptions o;
      o.backlog = r.u8() % 6;
      o.auto_accept = (arg & 0x10) == 0;
      if (arg & 0x20) o.syn_cookies = static_cast<tcp::SynCookieMode>(r.u8() % 3);
      auto l = s.listen((arg & 0x40) ? kAddr[i] : Ipv4Addr{}, kListenPorts[arg & 3], app, o);
      if (l) app.listeners.push_back(*l);
      break;
    }
    case 1:  // unlisten
      if (!app.listeners.empty()) {
        const std::size_t k = arg % app.listeners.size();
        s.unlisten(app.listeners[k]);
        app.listeners.erase(app.listeners.begin() + static_cast<std::ptrdiff_t>(k));
      }
      break;
    case 2:  // accept
      for (auto l : app.listeners) {
        if (auto a = s.accept(l)) {
          app.add(*a);
          app.react(s, *a, app.on_accept_react);
          break;
        }
      }
      break;
    case 3: {  // connect: to the other stack or to the scripted peer
      ConnectOptions o;
      if (arg & 0x08) o.local_port = static_cast<std::uint16_t>(2000 + (arg & 3));
      const bool to_peer = (arg & 0x10) != 0;
      const std::uint16_t port = to_peer ? kPeerPorts[(arg >> 5) & 3] : kListenPorts[(arg >> 5) & 3];
      auto cid = s.connect(to_peer ? kPeer : kAddr[1 - i], port, app, o);
      if (cid) app.add(*cid);
      break;
    }
    case 4: case 5: {  // send
      static constexpr std::uint32_t kSizes[8] = {1, 100, 536, 1460, 1461, 4096, 20000, 65536};
      const std::uint8_t k = r.u8();
      const std::uint32_t n = (k & 0x80) ? (std::uint32_t{r.u16()} % 65536 + 1) : kSizes[k & 7];
      app.send_stream(s, id, n);
      break;
    }
    case 6: (void)s.shutdown_write(id); break;
    case 7: if (!s.close(id)) app.forget(id); break;
    case 8: if (!s.abort(id)) app.forget(id); break;
    case 9: (void)s.set_nodelay(id, (arg & 0x40) != 0); break;
    case 10: {
      Stack::Keepalive k;
      k.on = (arg & 0x40) == 0;
      k.idle = seconds{1 + r.u8()};
      k.interval = seconds{1 + r.u8() % 16};
      k.count = static_cast<std::uint8_t>(r.u8() % 10);
      (void)s.set_keepalive(id, k);
      break;
    }
    case 11:
      (void)s.set_congestion(id, (arg & 0x40) ? tcp::CongestionAlgorithm::Cubic : tcp::CongestionAlgorithm::NewReno);
      break;
    case 12: {
      static constexpr std::uint32_t kBufs[8] = {0, 1, 536, 2048, 8192, 65536, 300000, 1u << 31};
      (void)s.set_buffer_sizes(id, kBufs[r.u8() & 7], kBufs[r.u8() & 7]);
      break;
    }
    case 13: case 14: {  // read: the application consumes what it held
      const std::uint8_t k = r.u8();
      if (c == nullptr) break;
      const std::uint32_t n = (k & 0x80) ? c->held : std::min<std::uint32_t>(c->held, std::uint32_t{k} * 64);
      c->held -= n;
      if (k & 0x40) c->hold = !c->hold;
      (void)s.set_receive_held(c->id, c->held);
      break;
    }
    case 15:  // what handlers do from inside callbacks
      app.on_data_react = static_cast<React>(r.u8() % static_cast<std::uint8_t>(React::kCount));
      app.on_accept_react = static_cast<React>(r.u8() % static_cast<std::uint8_t>(React::kCount));
      app.react_bytes = 1 + r.u16() % 8192;
      break;
  }
  drain_all(w);
}

void advance_to(World& w, Instant t) {
  w.now = std::max(w.now, t);
  w.stacks[0]->advance(w.now);
  drain_all(w);
  w.stacks[1]->advance(w.now);
  drain_all(w);
}

void clock_step(World& w, Reader& r) {
  const std::uint8_t k = r.u8();
  switch (k & 3) {
    case 0: advance_to(w, w.now + milliseconds{k >> 2}); break;
    case 1: advance_to(w, w.now + milliseconds{std::int64_t{r.u8()} * 20}); break;
    case 2: advance_to(w, w.now + seconds{r.u8()}); break;  // up to ~4 minutes
    case 3: {  // to the next timer of either stack
      std::optional<Instant> t;
      for (auto& s : w.stacks) {
        if (auto n = s->next_timer()) t = t ? std::min(*t, *n) : *n;
      }
      if (t) advance_to(w, *t);
      break;
    }
  }
}

// Delivers, drops, duplicates or reorders packets queued between the two stacks.
void link_step(World& w, Reader& r) {
  const std::uint8_t k = r.u8();
  const int from = k & 1;
  auto& q = w.link[from];
  const std::uint8_t x = r.u8(), y = r.u8();  // always read, used or not
  switch ((k >> 1) % 6) {
    case 0:  // pump: deliver everything both ways until quiet
      for (int round = 0; round < 16 && (!w.link[0].empty() || !w.link[1].empty()); ++round) {
        for (int d = 0; d < 2; ++d) {
          auto batch = std::move(w.link[d]);
          w.link[d].clear();
          for (auto& p : batch) send_to_stack(w, 1 - d, p);
        }
      }
      break;
    case 1:  // deliver the oldest
      if (!q.empty()) {
        auto p = std::move(q.front());
        q.erase(q.begin());
        send_to_stack(w, 1 - from, p);
      }
      break;
    case 2:  // drop one
      if (!q.empty()) q.erase(q.begin() + static_cast<std::ptrdiff_t>(x % q.size()));
      break;
    case 3:  // duplicate one
      if (!q.empty() && q.size() < kQueueMax) {
        auto p = q[x % q.size()];
        q.push_back(std::move(p));
      }
      break;
    case 4:  // reorder: swap two
      if (q.size() >= 2) std::swap(q[x % q.size()], q[y % q.size()]);
      break;
    case 5:  // deliver one from the middle, corrupting a bit when y is not 0
      if (!q.empty()) {
        const std::size_t at = x % q.size();
        auto p = std::move(q[at]);
        q.erase(q.begin() + static_cast<std::ptrdiff_t>(at));
        if (y != 0 && p.size() > 40) p[40 + y % (p.size() - 40)] ^= std::byte{0x01};
        send_to_stack(w, 1 - from, p);
      }
      break;
  }
}

// --- invariants -------------------------------------------------------------------------
void check_connection(World& w, int si, std::uint32_t slot, const tcp::Connection& c, ConnId id) {
  const tcp::Tcb& t = c.tcb();
  const State st = c.state();
  ENGINE_CHECK(st != State::Closed && st != State::Listen && st != State::TimeWait, static_cast<unsigned>(st));
  // RFC 9293 3.3.1: SND.UNA <= SND.NXT <= SND.MAX, all at or after ISS.
  ENGINE_CHECK(t.snd_una <= t.snd_nxt, t.snd_una.raw(), t.snd_nxt.raw());
  ENGINE_CHECK(t.snd_nxt <= t.snd_max, t.snd_nxt.raw(), t.snd_max.raw());
  ENGINE_CHECK(t.iss <= t.snd_una, t.iss.raw(), t.snd_una.raw());
  // The send buffer holds every byte from SND.UNA not yet acknowledged: what is in
  // flight (less the SYN and FIN, which occupy sequence space but no buffer).
  const std::uint32_t outstanding = static_cast<std::uint32_t>(t.snd_max - t.snd_una);
  const std::uint32_t syn_out = (t.snd_una == t.iss && t.snd_max != t.iss) ? 1 : 0;
  const std::uint32_t fin_out = (c.fin_sent() && !c.fin_acked()) ? 1 : 0;
  ENGINE_CHECK(outstanding >= syn_out + fin_out, outstanding, syn_out + fin_out);
  ENGINE_CHECK(outstanding - syn_out - fin_out <= c.send_queued(), outstanding, static_cast<unsigned>(c.send_queued()));
  if (c.fin_sent()) {
    ENGINE_CHECK(c.fin_queued());
    ENGINE_CHECK(t.snd_max == c.fin_seq() + 1, t.snd_max.raw(), c.fin_seq().raw());
    if (c.fin_acked()) {
      ENGINE_CHECK(c.send_queued() == 0, static_cast<unsigned>(c.send_queued()));
    } else {
      // All data comes before the FIN.
      ENGINE_CHECK(t.snd_una + syn_out + static_cast<std::uint32_t>(c.send_queued()) == c.fin_seq(),
                   t.snd_una.raw(), static_cast<unsigned>(c.send_queued()));
    }
  }
  // The receive side: RCV.NXT only moves forward; the window never exceeds the
  // receive buffer (the largest it has been: a shrunk buffer keeps the edge already
  // promised, RFC 9293 3.8.6.2.2).
  Track& tr = w.track[si][slot];
  if (!tr.valid || !(tr.id == id)) tr = Track{id, true, false, SeqNum{}, 0};
  tr.max_rcv_buf = std::max(tr.max_rcv_buf, c.rcv_buf());
  if (st != State::SynSent) {
    if (tr.have_rcv) ENGINE_CHECK(tr.rcv_nxt <= t.rcv_nxt, tr.rcv_nxt.raw(), t.rcv_nxt.raw());
    tr.have_rcv = true;
    tr.rcv_nxt = t.rcv_nxt;
    ENGINE_CHECK(t.irs < t.rcv_nxt, t.irs.raw(), t.rcv_nxt.raw());
    ENGINE_CHECK(c.rcv_wnd() <= tr.max_rcv_buf, c.rcv_wnd(), tr.max_rcv_buf);
    const std::int32_t promised = t.rcv_adv - t.rcv_nxt;
    ENGINE_CHECK(promised <= static_cast<std::int32_t>(tr.max_rcv_buf), static_cast<unsigned>(promised), tr.max_rcv_buf);
  }
  ENGINE_CHECK(c.send_queued() <= std::max<std::size_t>(c.snd_buf(), std::uint32_t{1} << 31));
}

void check_stack(World& w, int si) {
  const Stack& s = *w.stacks[si];
  std::size_t live = 0;
  std::size_t syn_rcvd_passive = 0;
  for (std::uint32_t slot = 0; slot < kMaxConns; ++slot) {
    ConnId id;
    const tcp::Connection* c = s.engine().connection_at(slot, &id);
    if (c == nullptr) {
      w.track[si][slot].valid = false;
      continue;
    }
    ++live;
    if (c->state() == State::SynReceived && c->passive()) ++syn_rcvd_passive;
    check_connection(w, si, slot, *c, id);
  }
  ENGINE_CHECK(live == s.connection_count(), static_cast<unsigned>(live), static_cast<unsigned>(s.connection_count()));
  const auto by = s.connections_by_state();
  std::size_t sum = 0;
  for (int k = 0; k < tcp::kStateCount; ++k) {
    if (k != static_cast<int>(State::TimeWait)) sum += by[static_cast<std::size_t>(k)];
  }
  ENGINE_CHECK(sum == s.connection_count(), static_cast<unsigned>(sum), static_cast<unsigned>(s.connection_count()));
  ENGINE_CHECK(by[static_cast<std::size_t>(State::Closed)] == 0);  // finished slots are released by every call
  ENGINE_CHECK(s.time_wait_count() <= s.config().max_time_wait);
  // Counter balances: every packet handed in is counted once (IPv4 or IPv6 by its
  // version nibble: a mutated IPv4 packet may become IPv6), and either dropped at
  // the IP layer with a reason, handed to TCP, or answered (ICMP echo); every TCP
  // segment sent is counted.
  const Counters& n = s.counters();
  const std::uint64_t ip_in = n[Counter::ip_in] + n[Counter::ip6_in];
  ENGINE_CHECK(ip_in == w.inputs[si], static_cast<unsigned>(ip_in), static_cast<unsigned>(w.inputs[si]));
  const std::uint64_t accounted =
      n[Counter::ip_drop_malformed] + n[Counter::ip_drop_checksum] + n[Counter::ip_drop_not_ours] +
      n[Counter::ip_drop_fragment] + n[Counter::ip_drop_protocol] + n[Counter::ip6_drop_malformed] +
      n[Counter::ip6_drop_bad_address] + n[Counter::ip6_drop_not_ours] + n[Counter::ip6_drop_ext_header] +
      n[Counter::ip6_drop_no_next_header] + n[Counter::ip6_drop_fragment] + n[Counter::ip6_drop_param_problem] +
      n[Counter::ip6_drop_protocol] + n[Counter::ip6_drop_icmpv6] + n[Counter::tcp_in] +
      n[Counter::tcp_drop_malformed] + n[Counter::tcp_drop_checksum];
  ENGINE_CHECK(accounted <= ip_in, static_cast<unsigned>(accounted), static_cast<unsigned>(ip_in));
  ENGINE_CHECK(ip_in <= accounted + w.other_sent[si] + n[Counter::tx_queue_full]);
  ENGINE_CHECK(n[Counter::tcp_out] == w.tcp_sent[si] + s.tx_pending(), static_cast<unsigned>(n[Counter::tcp_out]),
               static_cast<unsigned>(w.tcp_sent[si]));
  std::size_t syn_queued = 0;
  for (auto l : w.apps[si].listeners) {
    syn_queued += s.syn_queue_length(l);
    ENGINE_CHECK(s.accept_queue_length(l) <= live);
  }
  ENGINE_CHECK(syn_queued <= syn_rcvd_passive, static_cast<unsigned>(syn_queued), static_cast<unsigned>(syn_rcvd_passive));
  ENGINE_CHECK(s.engine().chunks().available() <= s.engine().chunks().capacity());
  if (live == 0) {
    ENGINE_CHECK(s.engine().chunks().available() == s.engine().chunks().capacity(),
                 static_cast<unsigned>(s.engine().chunks().available()), static_cast<unsigned>(s.engine().chunks().capacity()));
  }
  // Handles the application holds are live (on_closed removed the others).
  auto& conns = w.apps[si].conns;
  for (const auto& c : conns) {
    if (c.owned) ENGINE_CHECK(s.alive(c.id), c.id.slot, c.id.generation);
  }
  conns.erase(std::remove_if(conns.begin(), conns.end(), [&](const App::Conn& c) { return !s.alive(c.id); }),
              conns.end());
}

// Across the link: for a connection between A and B (the same incarnation on both
// sides), what one side has received lies between what the other has had
// acknowledged and what it has sent: SND.UNA(B) <= RCV.NXT(A) <= SND.MAX(B).
void check_pair(World& w, int a) {
  const Stack& sa = *w.stacks[a];
  const Stack& sb = *w.stacks[1 - a];
  for (std::uint32_t slot = 0; slot < kMaxConns; ++slot) {
    const tcp::Connection* c = sa.engine().connection_at(slot);
    if (c == nullptr || c->key().remote_addr != kAddr[1 - a] || c->state() == State::SynSent) continue;
    const FlowKey& k = c->key();
    const tcp::Connection* o = find_conn(sb, FlowKey{k.remote_addr, k.local_addr, k.remote_port, k.local_port});
    if (o == nullptr || o->tcb().iss != c->tcb().irs) continue;
    const tcp::Tcb& t = c->tcb();
    const tcp::Tcb& u = o->tcb();
    ENGINE_CHECK(u.snd_una <= t.rcv_nxt, u.snd_una.raw(), t.rcv_nxt.raw());
    ENGINE_CHECK(t.rcv_nxt <= u.snd_max, t.rcv_nxt.raw(), u.snd_max.raw());
  }
}

void check_all(World& w) {
  check_stack(w, 0);
  check_stack(w, 1);
  // A connection rebuilt from a SYN cookie may be the ghost of one already closed
  // (a late duplicate of the handshake's ACK carries a still valid cookie: RFC 4987
  // 3.6's weakness, Linux alike), whose peer is far ahead of it: from the first
  // cookie on, the two ends need not be one incarnation.
  const bool cookies = w.stacks[0]->counters()[Counter::tcp_cookie_accepted] != 0 ||
                       w.stacks[1]->counters()[Counter::tcp_cookie_accepted] != 0;
  if (!w.spoofed && !cookies) {
    check_pair(w, 0);
    check_pair(w, 1);
  }
}

// End of input: abort everything, run the clock past every timer, and nothing may
// be left: no connection, no TIME-WAIT record, no send chunk, no queued child.
void teardown(World& w) {
  for (int i = 0; i < 2; ++i) {
    w.stacks[i]->set_clock(w.now);
    w.stacks[i]->abort_all();
    drain_all(w);
  }
  check_all(w);
  for (int guard = 0; guard < 100000; ++guard) {
    std::optional<Instant> t;
    for (auto& s : w.stacks) {
      if (auto n = s->next_timer()) t = t ? std::min(*t, *n) : *n;
    }
    if (!t) break;
    // Timers of dead connections may remain armed until they fire; run them.
    advance_to(w, std::max(*t, w.now + milliseconds{1}));
    w.link[0].clear();
    w.link[1].clear();
  }
  for (int i = 0; i < 2; ++i) {
    const Stack& s = *w.stacks[i];
    ENGINE_CHECK(!s.next_timer().has_value());
    ENGINE_CHECK(s.connection_count() == 0, static_cast<unsigned>(s.connection_count()));
    ENGINE_CHECK(s.time_wait_count() == 0, static_cast<unsigned>(s.time_wait_count()));
    ENGINE_CHECK(s.engine().chunks().available() == s.engine().chunks().capacity(),
                 static_cast<unsigned>(s.engine().chunks().available()), static_cast<unsigned>(s.engine().chunks().capacity()));
    ENGINE_CHECK(s.tx_pending() == 0);
    for (auto l : w.apps[i].listeners) {
      ENGINE_CHECK(s.accept_queue_length(l) == 0, static_cast<unsigned>(s.accept_queue_length(l)));
      ENGINE_CHECK(s.syn_queue_length(l) == 0, static_cast<unsigned>(s.syn_queue_length(l)));
    }
    for (const auto& c : w.apps[i].conns) ENGINE_CHECK(!c.owned && !s.alive(c.id), c.id.slot, c.id.generation);
    for (std::uint32_t slot = 0; slot < kMaxConns; ++slot) ENGINE_CHECK(s.engine().connection_at(slot) == nullptr);
  }
}

StackConfig make_config(Reader& r, int i) {
  const std::uint8_t a = r.u8();
  const std::uint8_t b = r.u8();
  StackConfig cfg;
  cfg.local_addrs = {kAddr[i]};
  cfg.max_connections = kMaxConns;
  cfg.max_time_wait = (a & 1) ? 2 : 8;
  cfg.max_listeners = 4;
  cfg.send_chunks = (a & 2) ? 24 : 128;
  cfg.tx_queue = (a & 4) ? 8 : 64;
  cfg.secret = {1, 2, 3, static_cast<std::uint8_t>(4 + i)};
  static constexpr std::uint16_t kMss[4] = {1460, 536, 88, 1968};
  cfg.tcp.mss = kMss[(a >> 3) & 3];
  static constexpr std::uint32_t kBuf[4] = {256 * 1024, 4096, 16384, 65536};
  cfg.tcp.rcv_buf = kBuf[(a >> 5) & 3];
  cfg.tcp.snd_buf = kBuf[(b >> 0) & 3];
  cfg.tcp.window_scaling = (a & 0x80) == 0;
  cfg.tcp.window_scale = static_cast<std::uint8_t>((b >> 2) & 7);
  cfg.tcp.timestamps = (b & 0x20) == 0;
  cfg.tcp.sack = (b & 0x40) == 0;
  cfg.tcp.delayed_ack = (b & 0x80) ? milliseconds{40} : Duration::zero();
  const std::uint8_t c = r.u8();
  cfg.tcp.syn_cookies = static_cast<tcp::SynCookieMode>(c % 3);
  cfg.tcp.congestion = (c & 4) ? tcp::CongestionAlgorithm::Cubic : tcp::CongestionAlgorithm::NewReno;
  cfg.tcp.tail_loss_probe = (c & 8) == 0;
  cfg.tcp.keepalive = (c & 0x10) != 0;
  if (c & 0x10) {
    cfg.tcp.keepalive_idle = seconds{10};
    cfg.tcp.keepalive_interval = seconds{5};
    cfg.tcp.keepalive_count = 3;
  }
  cfg.tcp.syn_retries = (c & 0x20) ? 2 : 6;
  cfg.tcp.max_retries = (c & 0x40) ? 3 : 15;
  cfg.tcp.connect_timeout = (c & 0x80) ? seconds{5} : Duration::zero();
  cfg.tcp.default_backlog = 4;
  cfg.tcp.challenge_ack_limit = (a & 0x40) ? 2 : 1000;
  return cfg;
}

constexpr const char* kStepNames[8] = {"peer", "peer", "peer", "app", "app", "clock", "link", "raw"};

void run(std::span<const std::uint8_t> data) {
  Reader r(data);
  World w;
  for (int i = 0; i < 2; ++i) {
    w.stacks[i].emplace(make_config(r, i), w.now);
    w.stacks[i]->set_state_observer(observe_state, nullptr);
    w.apps[i].stack = &*w.stacks[i];
  }
  for (int steps = 0; !r.done() && steps < 2000; ++steps) {
    const std::uint8_t op = r.u8();
    if (g_trace) std::fprintf(stderr, "step %d: op %u (%s) t=%lld ms\n", steps, op,
                              kStepNames[op % 8],
                              static_cast<long long>(to_ms(w.now)));
    switch (op % 8) {
      case 0: case 1: case 2: peer_segment(w, r); break;
      case 3: case 4: app_call(w, r); break;
      case 5: clock_step(w, r); break;
      case 6: link_step(w, r); break;
      case 7: {  // raw bytes: a whole IPv4 packet, or raw TCP bytes in a valid IPv4 header
        const int i = (op >> 3) & 1;
        auto raw = r.bytes(r.u8() + ((op & 0x10) ? 256u : 0u));
        if (op & 0x20) {
          send_tcp(w, i, raw, (op & 0x40) != 0);
        } else {
          std::vector<std::byte> p(raw.size());
          if (!raw.empty()) std::memcpy(p.data(), raw.data(), raw.size());
          if (raw.size() >= 16 && raw[12] == 198 && raw[13] == 18 && raw[14] == 0) w.spoofed = true;
          // op bit6: addressed to the stack, with a valid header checksum, so ICMP,
          // fragments and other protocols get past the IP checks.
          const std::size_t ihl = raw.empty() ? 0 : std::size_t{raw[0] & 0x0Fu} * 4;
          if ((op & 0x40) && ihl >= 20 && ihl <= p.size()) {
            const std::uint32_t a = kAddr[i].value;
            for (int b = 0; b < 4; ++b) p[16 + b] = static_cast<std::byte>(a >> (24 - 8 * b));
            p[10] = p[11] = std::byte{0};
            const std::uint16_t sum = wire::internet_checksum(std::span(p).first(ihl));
            p[10] = static_cast<std::byte>(sum >> 8);
            p[11] = static_cast<std::byte>(sum);
          }
          send_to_stack(w, i, p);
        }
        break;
      }
    }
    check_all(w);
  }
  teardown(w);
}

}  // namespace
}  // namespace riptide::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  riptide::fuzz::run(std::span<const std::uint8_t>(data, size));
  return 0;
}
