// TCP data path microbenchmarks (issue 4, "Benchmarks"): one connection on a Stack,
// driven the way the runtime drives it (input() per received packet, drain_tx() after
// each burst with every packet built in place in a transmit buffer the host lent,
// advance()), reporting
// ns per segment:
//   BM_DataPathRecvInOrder     full-MSS data (1448 B + timestamps) in order; ACKed
//                              by the default policy (delayed ACK 40 ms: after the
//                              first 16 quick ACKs, every second segment)
//   BM_DataPathRecvOutOfOrder  every 8th segment arrives after the next 7: seven go to
//                              reassembly, each answered by a dup ACK with SACK, then
//                              the hole fills and 8 segments are delivered
//   BM_DataPathSendSegment     send() of 256 KiB cut into MSS segments as ACKs (one per
//                              two segments) open a 45-segment peer window; Arg
//                              in_place 1 builds each segment in the buffer the host
//                              lends (the runtime's mbuf), 0 copies it out of the
//                              queue's own memory (the runtime before issue 11)
//   BM_DataPathSackAck         128 segments in flight, segments 0, 50 and 90 lost: 125
//                              dup ACKs with 1-3 SACK blocks, RFC 6675 recovery (what
//                              the stack sends is part of the cost), then the 3 ACKs
//                              as the resends fill the holes; ns per ACK
//   BM_DataPathRequestResponse RR on one connection: a 64-byte request that ACKs the
//                              previous response, the application's 64-byte echo sent
//                              from on_data with the ACK riding on it; ns per
//                              request. Every request must take header prediction
//                              (tcp_header_predicted) and every response is built
//                              from the connection's segment template (issue 11).
// Arg csum_offload: 0 checksums computed in software (the Stack's default), 1 the port
// verifies and fills them (RxChecksum Good on input, tx_checksum_offload).
//
// Each benchmark iteration is a batch. The peer's packets for a batch are built before
// it, and only the stack's work is timed: UseManualTime with the thread's CPU time
// around the batch, so time descheduled on a shared machine is left out (cache
// pollution from neighbours is not); read the median of repetitions.
// Every benchmark checks what happened (bytes delivered in order and equal to bytes
// sent, ACKs and SACK blocks, counters) and fails with SkipWithError otherwise.
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "stack/stack.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace riptide {
namespace {

using namespace wire::tcp_flags;

// CPU time of this thread: on a shared machine, time spent descheduled is not the
// stack's. (A syscall, ~0.3 us, once per batch of 128+ segments.)
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

constexpr std::uint32_t kMss = 1448;  // 1460 minus the timestamp option (RFC 6691)
constexpr std::size_t kHeaders = wire::kIpv4MinHeaderLen + wire::kTcpMinHeaderLen + 12;  // + NOP NOP TS
constexpr std::size_t kBurst = 32;    // packets per input burst (a typical rx burst)
constexpr std::uint16_t kLocalPort = 80;
constexpr std::uint32_t kPeerIsn = 1000000;
const Ipv4Addr kLocal = Ipv4Addr::from_octets(198, 18, 0, 1);
const Ipv4Addr kRemote = Ipv4Addr::from_octets(198, 18, 0, 2);

// The stream's byte at offset o. 251 is prime and does not divide the MSS, so a
// segment delivered in the wrong place shows at its first or last byte.
constexpr std::byte pattern_at(std::uint64_t o) { return static_cast<std::byte>(o % 251); }

// pattern_at(o + i) is bytes[o % 251 + i] for i < 2048: a payload is one span.
struct Pattern {
  std::array<std::byte, 251 + 2048> bytes{};
  Pattern() {
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = pattern_at(i);
  }
  [[nodiscard]] std::span<const std::byte> at(std::uint64_t o, std::size_t len) const {
    return std::span<const std::byte>(bytes).subspan(o % 251, len);
  }
};
const Pattern kPattern;

struct alignas(64) Packet {
  std::array<std::byte, 1536> buf;
  std::size_t len = 0;
  [[nodiscard]] std::span<const std::byte> bytes() const { return {buf.data(), len}; }
};

// Builds one IPv4+TCP packet from the peer with correct checksums.
void build(Packet& p, const wire::TcpHeader& h, std::span<const std::byte> payload = {}) {
  const std::size_t th = wire::kTcpMinHeaderLen + wire::tcp_options_length(h.options);
  wire::Ipv4Header ip;
  ip.protocol = wire::kIpProtoTcp;
  ip.src = kRemote;
  ip.dst = kLocal;
  const std::size_t hl = wire::write_ipv4_header(p.buf, ip, static_cast<std::uint16_t>(th + payload.size()));
  auto seg = std::span<std::byte>(p.buf).subspan(hl, th + payload.size());
  wire::write_tcp_header(seg, h);
  if (!payload.empty()) std::memcpy(seg.data() + th, payload.data(), payload.size());
  wire::finish_tcp_checksum(seg, kRemote, kLocal);
  p.len = hl + th + payload.size();
}

// One segment the stack sent, decoded (outside the timed sections only).
struct Sent {
  std::uint8_t flags = 0;
  SeqNum seq, ack;
  std::uint16_t window = 0;
  std::size_t payload_offset = 0;  // into the packet
  std::size_t payload_len = 0;
  std::uint32_t tsval = 0;
  wire::TcpOptions options;
};
std::optional<Sent> decode(std::span<const std::byte> pkt, bool check_csum) {
  auto ip = wire::Ipv4View::parse(pkt);
  if (!ip) return std::nullopt;
  auto t = wire::TcpView::parse(ip->payload());
  if (!t || (check_csum && !t->checksum_valid(ip->src(), ip->dst()))) return std::nullopt;
  Sent s;
  s.flags = t->flags();
  s.seq = t->seq();
  s.ack = t->ack();
  s.window = t->window();
  s.payload_len = t->payload().size();
  s.payload_offset = pkt.size() - s.payload_len;
  s.options = t->options();
  if (t->options().timestamps) s.tsval = t->options().timestamps->tsval;
  return s;
}

// What the runtime does with each packet drain_tx() hands it (io::MbufEngine): the
// stack built it in a transmit buffer the host lent its queue (an mbuf there,
// ip::TxBufferSource), and the host claims that buffer and sends it, with no copy; a
// packet in the queue's own memory (the host had no buffer to lend) is copied.
// 256 buffers on a free list, so the bytes stay real; the last packet's buffer is
// kept until the next one (last()).
struct TxCopy {
  static constexpr std::size_t kBuffers = 256;
  std::vector<std::array<std::byte, 2048>> mbufs = std::vector<std::array<std::byte, 2048>>(kBuffers);
  std::vector<std::array<std::byte, 2048>*> free_list;
  std::array<std::byte, 2048> copied{};
  std::span<const std::byte> last_packet;
  std::array<std::byte, 2048>* last_buffer = nullptr;
  StackEngine* engine = nullptr;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t copies = 0;

  void lend_to(Stack& stack) {
    engine = &stack.engine();
    for (auto& b : mbufs) free_list.push_back(&b);
    engine->set_tx_buffers({&TxCopy::lend, &TxCopy::take_back, this, 2048});
  }
  static std::byte* lend(void* ctx, void** handle) {
    auto& t = *static_cast<TxCopy*>(ctx);
    if (t.free_list.empty()) return nullptr;
    *handle = t.free_list.back();
    t.free_list.pop_back();
    return static_cast<std::array<std::byte, 2048>*>(*handle)->data();
  }
  static void take_back(void* ctx, void* handle) {
    static_cast<TxCopy*>(ctx)->free_list.push_back(static_cast<std::array<std::byte, 2048>*>(handle));
  }
  void operator()(std::span<const std::byte> p) {
    if (last_buffer != nullptr) free_list.push_back(last_buffer);  // "sent"
    last_buffer = static_cast<std::array<std::byte, 2048>*>(engine != nullptr ? engine->claim_tx(p) : nullptr);
    if (last_buffer != nullptr) {
      last_packet = p;
    } else {
      std::memcpy(copied.data(), p.data(), p.size());
      last_packet = {copied.data(), p.size()};
      ++copies;
    }
    ++packets;
    bytes += p.size();
  }
  [[nodiscard]] std::span<const std::byte> last() const { return last_packet; }
};

// The application: consumes in-order data, checking that it is the stream's next bytes.
class App : public Handler {
 public:
  ConnId conn{};
  bool accepted = false;
  std::uint64_t delivered = 0;
  std::uint64_t misplaced = 0;
  void on_accept(Stack&, ConnId c) override {
    conn = c;
    accepted = true;
  }
  bool echo = false;  // send every piece back (the RR benchmark)
  void on_data(Stack& s, ConnId c, std::span<const std::byte> d) override {
    if (d.front() != pattern_at(delivered) || d.back() != pattern_at(delivered + d.size() - 1)) ++misplaced;
    delivered += d.size();
    if (echo) (void)s.send(c, d);
  }
};

struct PeerOptions {
  bool window_scale = true;
  std::uint16_t window = 65535;  // the window field on every segment after the SYN
};

// A Stack listening on kLocal:80 and a scripted peer at kRemote with one connection.
class Rig {
 public:
  /// in_place = false: the host lends no buffers, so every packet is built in the
  /// queue's own memory and copied out (what the runtime did before issue 11).
  Rig(bool offload, std::uint32_t snd_buf = 256 * 1024, bool in_place = true)
      : offload(offload), stack_(config(offload, snd_buf), now) {
    if (offload) rx = RxChecksum{RxChecksum::Verdict::Good, RxChecksum::Verdict::Good};
    listening_ = stack_.listen(Ipv4Addr{}, kLocalPort, app).has_value();
    if (in_place) tx.lend_to(stack_);
  }
  ~Rig() { stack_.engine().set_tx_buffers({}); }

  const bool offload;  // checksums by the "port": the stack's output has none to check
  Instant now{std::chrono::seconds{1}};
  Stack& stack() { return stack_; }
  App app;
  TxCopy tx;
  RxChecksum rx;
  ConnId conn{};
  std::uint16_t port = 40000;
  SeqNum peer_nxt{kPeerIsn + 1};  // the peer's next sequence number
  SeqNum stack_isn{};
  std::uint32_t tsval = 1;        // the peer's timestamp clock
  std::uint32_t tsecr = 0;        // the stack's last TSval seen
  PeerOptions peer;

  // One packet in, as the runtime passes it (1 us of virtual time per packet).
  void in(const Packet& p) {
    now += std::chrono::microseconds{1};
    stack_.input(p.bytes(), now, rx);
  }
  void drain() { stack_.drain_tx(tx); }

  // The peer's segment header: its ports, ACK, window and a timestamp.
  [[nodiscard]] wire::TcpHeader header(std::uint8_t flags, SeqNum seq, SeqNum ack) {
    wire::TcpHeader h;
    h.src_port = port;
    h.dst_port = kLocalPort;
    h.flags = flags;
    h.seq = seq;
    h.ack = ack;
    h.window = peer.window;
    h.options.timestamps = wire::TcpTimestamps{tsval++, tsecr};
    return h;
  }

  // Passive open from `port`: SYN (MSS 1460, SACK-permitted, TS, WS 7 unless
  // disabled), SYN-ACK, ACK. Returns an error message or nothing.
  std::optional<std::string> open(std::uint16_t from_port) {
    if (!listening_) return "listen failed";
    port = from_port;
    app.accepted = false;
    wire::TcpHeader syn = header(kSyn, SeqNum{kPeerIsn}, SeqNum{0});
    syn.window = 65535;
    syn.options.mss = 1460;
    syn.options.sack_permitted = true;
    if (peer.window_scale) syn.options.window_scale = 7;
    Packet p;
    build(p, syn);
    in(p);
    std::optional<Sent> synack;
    stack_.drain_tx([&](std::span<const std::byte> pkt) { synack = decode(pkt, !offload); });
    if (!synack || synack->flags != (kSyn | kAck)) return "no SYN-ACK";
    stack_isn = synack->seq;
    tsecr = synack->tsval;
    peer_nxt = SeqNum{kPeerIsn + 1};
    build(p, header(kAck, peer_nxt, stack_isn + 1));
    in(p);
    drain();
    if (!app.accepted) return "handshake did not complete";
    conn = app.conn;
    auto i = stack_.info(conn);
    if (!i || i->state != State::Established || !i->sack_ok || !i->ts_ok || i->snd_mss != kMss) {
      return "connection not ESTABLISHED with SACK, timestamps and MSS 1448";
    }
    return std::nullopt;
  }

  [[nodiscard]] std::uint64_t counter(Counter c) const { return stack_.counters()[c]; }

 private:
  static StackConfig config(bool offload, std::uint32_t snd_buf) {
    StackConfig c;
    c.local_addrs = {kLocal};
    c.secret = tcp::Secret{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    c.max_connections = 64;
    c.max_time_wait = 64;
    c.send_chunks = 4096;  // 8 MiB of 2 KiB chunks
    c.tcp.snd_buf = snd_buf;
    c.tx_checksum_offload = offload;
    return c;
  }
  Stack stack_;
  bool listening_ = false;
};

// Drops that would mean the benchmark measured something other than the data path.
std::optional<std::string> check_no_drops(const Rig& r) {
  for (Counter c : {Counter::ip_drop_checksum, Counter::tcp_drop_checksum, Counter::tcp_drop_unacceptable,
                    Counter::tcp_drop_out_of_order, Counter::tcp_drop_bad_ack, Counter::tcp_drop_old_ack,
                    Counter::tcp_paws_rejected, Counter::tx_queue_full}) {
    if (r.counter(c) != 0) return std::string("unexpected drop counter: ") + std::string(counter_name(c));
  }
  return std::nullopt;
}

void report(benchmark::State& state, std::uint64_t items, std::uint64_t bytes, const char* per) {
  state.SetItemsProcessed(static_cast<std::int64_t>(items));
  if (bytes > 0) state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.counters[per] = benchmark::Counter(static_cast<double>(items),
                                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// ---- receive -------------------------------------------------------------------------

constexpr std::size_t kRecvBatch = 256;  // segments per iteration (370 KiB of packets)

// Builds the next kRecvBatch data segments of the stream, in arrival order `order`
// (a permutation of 0..7 applied to each group of 8).
void build_recv_batch(Rig& r, std::vector<Packet>& pkts, std::uint64_t first_offset,
                      const std::array<std::size_t, 8>& order) {
  for (std::size_t g = 0; g < kRecvBatch; g += 8) {
    const std::uint32_t ts = r.tsval++;  // the peer sent the group in one go
    for (std::size_t k = 0; k < 8; ++k) {
      const std::uint64_t o = first_offset + (g + order[k]) * kMss;
      wire::TcpHeader h = r.header(kAck, SeqNum{kPeerIsn + 1} + static_cast<std::uint32_t>(o), r.stack_isn + 1);
      h.options.timestamps->tsval = ts;
      build(pkts[g + k], h, kPattern.at(o, kMss));
    }
  }
}

void run_recv(benchmark::State& state, const std::array<std::size_t, 8>& order) {
  const bool offload = state.range(0) != 0;
  const bool in_order = order[0] == 0;
  Rig r(offload);
  if (auto err = r.open(40000)) {
    state.SkipWithError(err->c_str());
    return;
  }
  std::vector<Packet> pkts(kRecvBatch);
  std::uint64_t offset = 0;

  // Untimed check of one group: exactly the ACKs RFC 5681 4.2 and RFC 2018 call for.
  build_recv_batch(r, pkts, offset, order);
  std::vector<Sent> acks;
  for (std::size_t k = 0; k < 8; ++k) {
    r.in(pkts[k]);
    r.stack().drain_tx([&](std::span<const std::byte> p) {
      if (auto s = decode(p, !offload)) acks.push_back(*s);
    });
  }
  const SeqNum base{kPeerIsn + 1};
  bool ok = acks.size() == 8;
  for (std::size_t k = 0; ok && k < 8; ++k) {
    const Sent& a = acks[k];
    ok = a.flags == kAck && a.payload_len == 0;
    if (in_order) {
      ok = ok && a.ack == base + static_cast<std::uint32_t>((k + 1) * kMss) && a.options.sack_count == 0;
    } else if (k < 7) {  // segments 1..k+1 held above the hole at 0
      ok = ok && a.ack == base && a.options.sack_count == 1 &&
           a.options.sack_blocks[0] == wire::SackBlock{base + kMss, base + static_cast<std::uint32_t>((k + 2) * kMss)};
    } else {  // the hole filled: everything ACKed, no SACK left
      ok = ok && a.ack == base + 8 * kMss && a.options.sack_count == 0;
    }
  }
  if (!ok || r.app.delivered != 8 * kMss) {
    state.SkipWithError("the first group was not ACKed (and SACKed) as expected");
    return;
  }
  // The rest of this batch is dropped; the stream goes on from the next batch. (The
  // peer's unused packets were never sent.)
  offset = 8 * kMss;
  const std::uint64_t acks_before = r.tx.packets;

  std::uint64_t segments = 0;
  for (auto _ : state) {
    build_recv_batch(r, pkts, offset, order);
    const double t0 = cpu_seconds();
    for (std::size_t b = 0; b < kRecvBatch; b += kBurst) {
      for (std::size_t k = b; k < b + kBurst; ++k) r.in(pkts[k]);
      r.drain();
      r.stack().advance(r.now);
    }
    const double t1 = cpu_seconds();
    state.SetIterationTime(t1 - t0);
    offset += kRecvBatch * kMss;
    segments += kRecvBatch;
  }

  // Everything sent was delivered, in order, with at least one ACK per two segments,
  // and the last ACK acknowledges the whole stream.
  auto last = decode(r.tx.last(), !offload);
  if (r.app.delivered != offset || r.app.misplaced != 0) {
    state.SkipWithError("bytes delivered differ from bytes sent, or out of place");
  } else if (2 * (r.tx.packets - acks_before) < segments) {
    // RFC 9293 3.8.6.3: an ACK for at least every second full-sized segment. (The
    // check asked for one per segment, which stopped holding when the quick-ACK
    // mode ended after the first 16; it failed on main too.)
    state.SkipWithError("fewer than one ACK per two segments");
  } else if (!last || last->ack != base + static_cast<std::uint32_t>(offset)) {
    state.SkipWithError("the last ACK does not cover the stream");
  } else if (!in_order && r.counter(Counter::tcp_out_of_order) != (segments + 8) / 8 * 7) {
    state.SkipWithError("not 7 of every 8 segments through reassembly");
  } else if (in_order && r.counter(Counter::tcp_header_predicted) < segments) {
    state.SkipWithError("in-order segments missed header prediction");
  } else if (auto err = check_no_drops(r)) {
    state.SkipWithError(err->c_str());
  }
  report(state, segments, segments * kMss, "ns_per_segment");
}

void BM_DataPathRecvInOrder(benchmark::State& state) { run_recv(state, {0, 1, 2, 3, 4, 5, 6, 7}); }
BENCHMARK(BM_DataPathRecvInOrder)->ArgName("csum_offload")->Arg(0)->Arg(1)->UseManualTime();

void BM_DataPathRecvOutOfOrder(benchmark::State& state) { run_recv(state, {1, 2, 3, 4, 5, 6, 7, 0}); }
BENCHMARK(BM_DataPathRecvOutOfOrder)->ArgName("csum_offload")->Arg(0)->Arg(1)->UseManualTime();

// ---- send ------------------------------------------------------------------------------

constexpr std::uint32_t kSendRound = 256 * 1024;                      // one send() per iteration
constexpr std::uint32_t kSendSegments = (kSendRound + kMss - 1) / kMss;  // 182: 181 full + 56 B
constexpr std::uint32_t kSendAcks = (kSendSegments + 1) / 2;            // one ACK per 2 segments
constexpr std::uint16_t kSendWindow = 45 * kMss;                       // unscaled: 65160
// A fresh connection this often: cwnd grows without bound in an uncongested slow
// start (one SMSS per ACK, ssthresh "arbitrarily high") and would wrap its uint32.
constexpr std::uint64_t kRoundsPerConnection = 2048;

void BM_DataPathSendSegment(benchmark::State& state) {
  const bool offload = state.range(0) != 0;
  const bool in_place = state.range(1) != 0;
  Rig r(offload, 256 * 1024, in_place);
  r.peer = PeerOptions{.window_scale = false, .window = kSendWindow};
  // The application's data: the stream pattern, so any round's 256 KiB is one span.
  std::vector<std::byte> pattern(kSendRound + 251);
  for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = pattern_at(i);
  std::span<const std::byte> app_data;
  std::vector<Packet> acks(kSendAcks);
  std::uint64_t rounds_this_conn = 0;
  std::uint64_t segments = 0;
  std::uint64_t payload = 0;
  std::uint64_t retransmits = 0;
  std::uint16_t port = 40000;
  std::uint64_t stream = 0;  // offset of this connection's next byte

  // One round: send(); the stack emits what the window allows; ACKs for every
  // second segment arrive in bursts of 16, each letting two more out.
  auto round = [&](auto&& drain) -> bool {
    auto n = r.stack().send(r.conn, app_data);
    if (!n || *n != kSendRound) return false;
    r.stack().drain_tx(drain);
    for (std::size_t i = 0; i < kSendAcks; i += 16) {
      for (std::size_t k = i; k < std::min<std::size_t>(i + 16, kSendAcks); ++k) r.in(acks[k]);
      r.stack().drain_tx(drain);
    }
    r.stack().advance(r.now);
    return true;
  };
  auto build_acks = [&] {
    const SeqNum base = r.stack_isn + 1 + static_cast<std::uint32_t>(stream);
    for (std::uint32_t i = 0; i < kSendAcks; ++i) {
      const std::uint32_t acked = std::min<std::uint32_t>((i + 1) * 2 * kMss, kSendRound);
      build(acks[i], r.header(kAck, r.peer_nxt, base + acked));
    }
  };
  auto fill_app = [&] { app_data = std::span<const std::byte>(pattern).subspan(stream % 251, kSendRound); };
  // A new connection, and one round whose every segment is decoded and checked:
  // MSS-sized, in sequence, the right bytes, valid checksums, the window respected.
  auto connect = [&]() -> std::optional<std::string> {
    if (rounds_this_conn > 0) {
      (void)r.stack().abort(r.conn);
      r.drain();
    }
    if (auto err = r.open(port++)) return err;
    rounds_this_conn = 0;
    stream = 0;
    fill_app();
    build_acks();
    SeqNum expect = r.stack_isn + 1;
    std::size_t count = 0;
    bool good = true;
    auto check = [&](std::span<const std::byte> p) {
      auto s = decode(p, !offload);
      const std::uint32_t off = s ? static_cast<std::uint32_t>(s->seq - (r.stack_isn + 1)) : 0;
      const std::uint32_t len = std::min<std::uint32_t>(kMss, kSendRound - off);
      good = good && s && s->seq == expect && s->payload_len == len &&
             std::memcmp(p.data() + s->payload_offset, kPattern.at(off, len).data(), len) == 0;
      if (s) {
        expect = s->seq + static_cast<std::uint32_t>(s->payload_len);
        r.tsecr = s->tsval;
      }
      ++count;
    };
    if (!round(check) || !good || count != kSendSegments) return "the checked round was wrong";
    auto i = r.stack().info(r.conn);
    if (!i || i->snd_una != expect || i->send_queued != 0) return "the checked round was not all ACKed";
    stream = kSendRound;
    return std::nullopt;
  };

  if (auto err = connect()) {
    state.SkipWithError(err->c_str());
    return;
  }
  for (auto _ : state) {
    if (rounds_this_conn == kRoundsPerConnection) {
      retransmits += r.counter(Counter::tcp_retransmit_segment);
      if (auto err = connect()) {
        state.SkipWithError(err->c_str());
        break;
      }
    }
    fill_app();  // the application's next 256 KiB (untimed)
    build_acks();
    const std::uint64_t pkts_before = r.tx.packets;
    const std::uint64_t bytes_before = r.tx.bytes;
    const double t0 = cpu_seconds();
    const bool sent = round(r.tx);
    const double t1 = cpu_seconds();
    state.SetIterationTime(t1 - t0);
    const std::uint64_t out = r.tx.packets - pkts_before;
    if (!sent || out != kSendSegments || r.tx.bytes - bytes_before - out * kHeaders != kSendRound) {
      state.SkipWithError("a round did not send 256 KiB in 182 segments");
      break;
    }
    r.tsecr = decode(r.tx.last(), false)->tsval;
    segments += out;
    payload += kSendRound;
    stream += kSendRound;
    ++rounds_this_conn;
  }
  auto i = r.stack().info(r.conn);
  if (!i || i->snd_una != r.stack_isn + 1 + static_cast<std::uint32_t>(stream) || i->send_queued != 0) {
    state.SkipWithError("not everything sent was acknowledged");
  } else if (retransmits + r.counter(Counter::tcp_retransmit_segment) != 0) {
    state.SkipWithError("retransmissions on a lossless path");
  } else if (auto err = check_no_drops(r)) {
    state.SkipWithError(err->c_str());
  }
  if (in_place && r.tx.copies != 0) state.SkipWithError("a segment was not built in the lent transmit buffer");
  report(state, segments, payload, "ns_per_segment");
  state.counters["acks_per_segment"] = static_cast<double>(kSendAcks) / kSendSegments;
}
BENCHMARK(BM_DataPathSendSegment)
    ->ArgNames({"csum_offload", "in_place"})
    ->Args({0, 0})
    ->Args({0, 1})
    ->Args({1, 0})
    ->Args({1, 1})
    ->UseManualTime();

// ---- ACK processing with SACK ------------------------------------------------------------

constexpr std::uint32_t kFlight = 128;                        // segments outstanding
constexpr std::array<std::uint32_t, 3> kLost{0, 50, 90};      // segments the peer never got
constexpr std::uint32_t kSackAcks = kFlight - 1 - 2 + 3;      // 125 dup ACKs + 3 that advance

void BM_DataPathSackAck(benchmark::State& state) {
  const bool offload = state.range(0) != 0;
  // 512 KiB of send buffer: new data (RFC 6675 NextSeg rule 2) is there for the whole
  // recovery, so the stack never falls back to resending in-flight data (rule 3).
  Rig r(offload, 512 * 1024);
  r.peer = PeerOptions{.window_scale = true, .window = 0xFFFF};  // 8 MiB: cwnd is the limit
  const std::vector<std::byte> app_data(512 * 1024);  // content not checked here
  std::vector<Packet> acks(kSackAcks);
  std::uint16_t port = 40000;
  bool have_conn = false;
  std::uint64_t batches = 0;
  std::uint64_t sent_in_batches = 0;
  std::uint64_t retransmitted = 0;

  // A fresh connection whose cwnd slow-started to exactly kFlight segments (IW 4380
  // bytes plus one SMSS per ACKed segment: 125 ACKs), all of them in flight.
  auto prepare = [&]() -> std::optional<std::string> {
    if (have_conn) {
      (void)r.stack().abort(r.conn);
      r.drain();
    }
    if (auto err = r.open(port++)) return err;
    if (port == 0) port = 40000;
    have_conn = true;
    std::vector<SeqNum> ends;
    std::uint32_t acked_segments = 0;
    Packet p;
    for (int guard = 0; guard < 1000; ++guard) {
      if (!r.stack().send(r.conn, app_data)) return "send failed";  // tops the buffer up
      r.stack().drain_tx([&](std::span<const std::byte> pkt) {
        if (auto s = decode(pkt, false); s && s->payload_len > 0) {
          ends.push_back(s->seq + static_cast<std::uint32_t>(s->payload_len));
          r.tsecr = s->tsval;
        }
      });
      if (acked_segments == kFlight - 3) break;
      if (ends.empty()) return "nothing in flight to ACK";
      build(p, r.header(kAck, r.peer_nxt, ends.front()));
      ends.erase(ends.begin());
      r.in(p);
      ++acked_segments;
    }
    auto i = r.stack().info(r.conn);
    if (!i || i->snd_nxt - i->snd_una != static_cast<std::int32_t>(kFlight * kMss)) {
      return "could not get exactly 128 segments in flight";
    }
    // The peer's ACKs for this flight, relative to U = SND.UNA: a dup ACK for each
    // segment that arrives, SACKing the runs above the holes (the newest first, at
    // most 3 with timestamps); then the three resends fill the holes in turn.
    const SeqNum u = i->snd_una;
    auto at = [&](std::uint32_t seg) { return u + seg * kMss; };
    std::size_t n = 0;
    for (std::uint32_t k = 1; k < kFlight; ++k) {
      if (k == kLost[1] || k == kLost[2]) continue;
      wire::TcpHeader h = r.header(kAck, r.peer_nxt, u);
      auto& o = h.options;
      auto sack = [&](std::uint32_t from, std::uint32_t to) { o.sack_blocks[o.sack_count++] = {at(from), at(to)}; };
      if (k < kLost[1]) {
        sack(1, k + 1);
      } else if (k < kLost[2]) {
        sack(kLost[1] + 1, k + 1);
        sack(1, kLost[1]);
      } else {
        sack(kLost[2] + 1, k + 1);
        sack(kLost[1] + 1, kLost[2]);
        sack(1, kLost[1]);
      }
      build(acks[n++], h);
    }
    wire::TcpHeader h = r.header(kAck, r.peer_nxt, at(kLost[1]));
    h.options.sack_count = 2;
    h.options.sack_blocks[0] = {at(kLost[2] + 1), at(kFlight)};
    h.options.sack_blocks[1] = {at(kLost[1] + 1), at(kLost[2])};
    build(acks[n++], h);
    h = r.header(kAck, r.peer_nxt, at(kLost[2]));
    h.options.sack_count = 1;
    h.options.sack_blocks[0] = {at(kLost[2] + 1), at(kFlight)};
    build(acks[n++], h);
    build(acks[n++], r.header(kAck, r.peer_nxt, at(kFlight)));
    if (n != kSackAcks) return "ACK script has the wrong length";
    return std::nullopt;
  };

  for (auto _ : state) {
    if (auto err = prepare()) {
      state.SkipWithError(err->c_str());
      break;
    }
    const SeqNum una = r.stack().info(r.conn)->snd_una;
    const std::uint64_t recoveries = r.counter(Counter::tcp_sack_recovery);
    const std::uint64_t dups = r.counter(Counter::tcp_dup_ack);
    const std::uint64_t rtx = r.counter(Counter::tcp_sack_retransmit);
    const std::uint64_t out_before = r.tx.packets;
    const double t0 = cpu_seconds();
    for (std::size_t b = 0; b < kSackAcks; b += 16) {
      for (std::size_t k = b; k < std::min<std::size_t>(b + 16, kSackAcks); ++k) r.in(acks[k]);
      r.drain();
    }
    const double t1 = cpu_seconds();
    state.SetIterationTime(t1 - t0);
    sent_in_batches += r.tx.packets - out_before;
    // One SACK recovery, 125 duplicates counted, every hole resent, the 128 ACKed.
    // What the stack sent beyond them (new data, RFC 6675 NextSeg rule 2) is still
    // in flight: one more ACK (untimed) covers it and must end the recovery.
    auto i = r.stack().info(r.conn);
    const bool scripted = r.counter(Counter::tcp_sack_recovery) == recoveries + 1 &&
                          r.counter(Counter::tcp_dup_ack) == dups + 125 &&
                          r.counter(Counter::tcp_sack_retransmit) >= rtx + kLost.size() && i &&
                          i->snd_una == una + kFlight * kMss;
    SeqNum all{};
    if (i) {
      Packet p;
      all = i->snd_nxt;
      build(p, r.header(kAck, r.peer_nxt, all));
      r.in(p);
      r.drain();
      i = r.stack().info(r.conn);
    }
    if (!scripted || !i || i->in_recovery || i->snd_una != all) {
      state.SkipWithError("the recovery episode did not go as scripted");
      break;
    }
    retransmitted += r.counter(Counter::tcp_sack_retransmit) - rtx;
    ++batches;
  }
  if (auto err = check_no_drops(r)) state.SkipWithError(err->c_str());
  report(state, batches * kSackAcks, 0, "ns_per_ack");
  if (batches > 0) {
    state.counters["rtx_per_batch"] = static_cast<double>(retransmitted) / static_cast<double>(batches);
    state.counters["sent_per_batch"] = static_cast<double>(sent_in_batches) / static_cast<double>(batches);
  }
}
BENCHMARK(BM_DataPathSackAck)->ArgName("csum_offload")->Arg(0)->Arg(1)->UseManualTime();

// ---- request/response ------------------------------------------------------------------

constexpr std::size_t kRrBatch = 256;  // requests per iteration
constexpr std::uint32_t kRrSize = 64;

void BM_DataPathRequestResponse(benchmark::State& state) {
  const bool offload = state.range(0) != 0;
  Rig r(offload);
  if (auto err = r.open(40000)) {
    state.SkipWithError(err->c_str());
    return;
  }
  r.app.echo = true;
  std::vector<Packet> reqs(kRrBatch);
  std::uint64_t done = 0;  // requests answered so far
  // Request k: 64 bytes at the peer's offset 64k, acknowledging the k responses
  // before it (the stack's bytes [0, 64k)).
  auto build_batch = [&] {
    for (std::size_t i = 0; i < kRrBatch; ++i) {
      const std::uint64_t k = done + i;
      const auto off = static_cast<std::uint32_t>(k * kRrSize);
      build(reqs[i], r.header(kAck | kPsh, SeqNum{kPeerIsn + 1} + off, r.stack_isn + 1 + off),
            kPattern.at(off, kRrSize));
    }
  };
  const std::uint64_t tx_before = r.tx.packets;
  const std::uint64_t predicted_before = r.counter(Counter::tcp_header_predicted);
  for (auto _ : state) {
    build_batch();
    const double t0 = cpu_seconds();
    for (std::size_t b = 0; b < kRrBatch; b += kBurst) {
      for (std::size_t k = b; k < b + kBurst; ++k) {
        r.in(reqs[k]);
        r.drain();
      }
      r.stack().advance(r.now);
    }
    const double t1 = cpu_seconds();
    state.SetIterationTime(t1 - t0);
    done += kRrBatch;
  }
  // One response per request, the last one the stream's last 64 bytes with the
  // ACK of every request; each request through header prediction.
  auto last = decode(r.tx.last(), !offload);
  const SeqNum peer_end = SeqNum{kPeerIsn + 1} + static_cast<std::uint32_t>(done * kRrSize);
  if (r.app.delivered != done * kRrSize || r.app.misplaced != 0) {
    state.SkipWithError("requests delivered differ from requests sent");
  } else if (r.tx.packets - tx_before != done) {
    state.SkipWithError("not one segment (the response) per request");
  } else if (!last || last->payload_len != kRrSize || last->ack != peer_end) {
    state.SkipWithError("the last response is not 64 bytes acknowledging every request");
  } else if (r.counter(Counter::tcp_header_predicted) - predicted_before != done) {
    state.SkipWithError("a request missed header prediction");
  } else if (auto err = check_no_drops(r)) {
    state.SkipWithError(err->c_str());
  }
  report(state, done, done * kRrSize, "ns_per_request");
}
BENCHMARK(BM_DataPathRequestResponse)->ArgName("csum_offload")->Arg(0)->Arg(1)->UseManualTime();

}  // namespace
}  // namespace riptide
