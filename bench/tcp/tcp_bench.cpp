// Hot paths of lib/tcp and one whole connection on the engine:
//   BM_IsnGenerate           RFC 6528 ISN (SipHash-2-4 of the 4-tuple + 4 us clock)
//   BM_SynCookieMake/Check   RFC 4987 cookie on the SYN and on the completing ACK
//   BM_HandshakeAndClose     a full passive connection on a Stack: SYN in, SYN-ACK
//                            out, ACK in, close, FIN out, FIN+ACK in, ACK out
//                            (TIME-WAIT record made); time per connection
#include <benchmark/benchmark.h>

#include <array>
#include <cstring>

#include "stack/stack.hpp"
#include "tcp/isn.hpp"
#include "tcp/syn_cookie.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace riptide {
namespace {

using namespace wire::tcp_flags;

constexpr tcp::Secret kSecret{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};

FlowKey key_for(std::uint32_t i) {
  return FlowKey{Ipv4Addr::from_octets(198, 18, 0, 1), Ipv4Addr{0xC6130000u + (i & 0xFFFF)}, 80,
                 static_cast<std::uint16_t>(1024 + (i >> 16))};
}

void BM_IsnGenerate(benchmark::State& state) {
  tcp::IsnGenerator gen(kSecret);
  std::uint32_t i = 0;
  Instant now{};
  for (auto _ : state) {
    benchmark::DoNotOptimize(gen.isn(key_for(i++), now));
    now += std::chrono::microseconds{1};
  }
}
BENCHMARK(BM_IsnGenerate);

void BM_SynCookieMake(benchmark::State& state) {
  tcp::SynCookies cookies(kSecret);
  std::uint32_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(cookies.make(key_for(i), SeqNum{i * 7919u}, 1460, Instant{}));
    ++i;
  }
}
BENCHMARK(BM_SynCookieMake);

void BM_SynCookieCheck(benchmark::State& state) {
  tcp::SynCookies cookies(kSecret);
  std::array<SeqNum, 1024> made{};
  for (std::uint32_t i = 0; i < made.size(); ++i) {
    made[i] = cookies.make(key_for(i), SeqNum{i * 7919u}, 1460, Instant{});
  }
  std::uint32_t i = 0;
  for (auto _ : state) {
    const std::uint32_t k = i++ & 1023;
    auto ok = cookies.check(key_for(k), SeqNum{k * 7919u} + 1, made[k] + 1, std::nullopt, Instant{});
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_SynCookieCheck);

// A minimal peer that builds IPv4+TCP packets into a buffer.
struct Packet {
  std::array<std::byte, 128> buf{};
  std::size_t len = 0;
  void build(Ipv4Addr src, Ipv4Addr dst, std::uint16_t sport, std::uint16_t dport, std::uint8_t flags,
             SeqNum seq, SeqNum ack) {
    wire::TcpHeader h;
    h.src_port = sport;
    h.dst_port = dport;
    h.seq = seq;
    h.ack = ack;
    h.flags = flags;
    h.window = 65535;
    wire::Ipv4Header ip;
    ip.protocol = wire::kIpProtoTcp;
    ip.src = src;
    ip.dst = dst;
    const std::size_t hl = wire::write_ipv4_header(buf, ip, 20);
    auto seg = std::span<std::byte>(buf).subspan(hl, 20);
    wire::write_tcp_header(seg, h);
    wire::finish_tcp_checksum(seg, src, dst);
    len = hl + 20;
  }
};

class NullHandler : public Handler {
 public:
  ConnId last{};
  void on_accept(Stack& s, ConnId c) override {
    last = c;
    (void)s.close(c);
  }
};

void BM_HandshakeAndClose(benchmark::State& state) {
  StackConfig cfg;
  cfg.local_addrs = {Ipv4Addr::from_octets(198, 18, 0, 1)};
  cfg.secret = kSecret;
  cfg.max_connections = 1024;
  cfg.max_time_wait = 1 << 17;
  cfg.tcp.time_wait = std::chrono::milliseconds{1};
  Instant now{std::chrono::seconds{1}};
  Stack stack(cfg, now);
  NullHandler handler;
  if (!stack.listen(Ipv4Addr{}, 80, handler)) {
    state.SkipWithError("listen failed");
    return;
  }
  const Ipv4Addr server = cfg.local_addrs.front();
  std::uint32_t n = 0;
  Packet p;
  SeqNum server_isn;
  for (auto _ : state) {
    const Ipv4Addr client{0xC6130000u + (n & 0xFFFF)};
    const auto port = static_cast<std::uint16_t>(1024 + ((n >> 16) & 0x7FFF));
    ++n;
    const SeqNum cisn{n * 2654435761u};
    p.build(client, server, port, 80, kSyn, cisn, SeqNum{0});
    stack.input({p.buf.data(), p.len}, now);
    stack.drain_tx([&](std::span<const std::byte> pkt) {
      auto ip = wire::Ipv4View::parse(pkt);
      auto t = wire::TcpView::parse(ip->payload());
      server_isn = t->seq();
    });
    p.build(client, server, port, 80, kAck, cisn + 1, server_isn + 1);
    stack.input({p.buf.data(), p.len}, now);  // ESTABLISHED -> on_accept -> close -> FIN
    stack.drain_tx([](std::span<const std::byte>) {});
    p.build(client, server, port, 80, kFin | kAck, cisn + 1, server_isn + 2);
    stack.input({p.buf.data(), p.len}, now);  // -> TIME-WAIT, ACK out
    stack.drain_tx([](std::span<const std::byte>) {});
    if ((n & 1023) == 0) {
      now += std::chrono::milliseconds{2};
      stack.advance(now);  // expire TIME-WAIT records in bulk
    }
  }
  state.counters["conns_per_s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
  if (stack.counters()[Counter::tcp_passive_open] != n) state.SkipWithError("handshakes did not complete");
}
BENCHMARK(BM_HandshakeAndClose);

}  // namespace
}  // namespace riptide
