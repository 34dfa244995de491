// lib/wire microbenchmarks: the per-segment receive work (parse + checksum), the
// SYN option decode, the checksum itself, and header writing.
#include <benchmark/benchmark.h>

#include <array>
#include <cstring>
#include <vector>

#include "tcp/segment.hpp"
#include "wire/checksum.hpp"
#include "wire/ethernet.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace riptide::wire {
namespace {

constexpr Ipv4Addr kSrc = Ipv4Addr::from_octets(198, 18, 0, 2);
constexpr Ipv4Addr kDst = Ipv4Addr::from_octets(198, 18, 0, 1);

// A data segment as Linux sends it mid-connection: 20 + 12 bytes of options
// (nop,nop,TS) and 64 bytes of payload, with a correct checksum.
TcpHeader data_header() {
  TcpHeader h{.src_port = 40000, .dst_port = 80, .seq = SeqNum{3183956870u},
              .ack = SeqNum{3467251143u}, .flags = tcp_flags::kPsh | tcp_flags::kAck,
              .window = 502};
  h.options.timestamps = TcpTimestamps{3028929826u, 2728092198u};
  return h;
}

std::vector<std::byte> make_segment(const TcpHeader& h, std::size_t payload_len) {
  std::vector<std::byte> seg(kTcpMinHeaderLen + tcp_options_length(h.options) + payload_len);
  const std::size_t hl = write_tcp_header(seg, h);
  for (std::size_t i = hl; i < seg.size(); ++i) seg[i] = static_cast<std::byte>('a' + i % 26);
  finish_tcp_checksum(seg, kSrc, kDst);
  return seg;
}

// Receive path per segment: parse (options included) and verify the checksum.
void BM_TcpParseValidate(benchmark::State& state) {
  const auto seg = make_segment(data_header(), 64);
  std::span<const std::byte> in(seg);
  for (auto _ : state) {
    benchmark::DoNotOptimize(in);
    auto t = TcpView::parse(in);
    bool ok = t.has_value() && t->checksum_valid(kSrc, kDst);
    benchmark::DoNotOptimize(ok);
    if (ok) {
      auto seq = t->seq().raw();
      benchmark::DoNotOptimize(seq);
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * seg.size()));
}
BENCHMARK(BM_TcpParseValidate);

// The same segment as the Stack's receive path takes it since issue 11: parsed
// straight into the tcp::Segment the state machine reads (no TcpView, no option
// block copied between layers), then the checksum. Compare with the one above.
void BM_SegmentParseInPlaceValidate(benchmark::State& state) {
  const auto seg = make_segment(data_header(), 64);
  std::span<const std::byte> in(seg);
  for (auto _ : state) {
    benchmark::DoNotOptimize(in);
    tcp::Segment s;
    ParseError err{};
    bool ok = tcp::Segment::parse(in, s, err) && tcp_checksum_valid(in, kSrc, kDst);
    benchmark::DoNotOptimize(ok);
    if (!ok || !s.options.timestamps || s.payload.size() != 64) {
      state.SkipWithError("the segment did not parse as built");
      break;
    }
    auto seq = s.seq.raw();
    benchmark::DoNotOptimize(seq);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * seg.size()));
}
BENCHMARK(BM_SegmentParseInPlaceValidate);

// A Linux SYN: mss 1460,sackOK,TS val ecr,nop,wscale 7 (no checksum check).
void BM_TcpParseSyn(benchmark::State& state) {
  TcpHeader h{.src_port = 40000, .dst_port = 80, .seq = SeqNum{1}, .flags = tcp_flags::kSyn,
              .window = 64240};
  h.options.mss = 1460;
  h.options.sack_permitted = true;
  h.options.timestamps = TcpTimestamps{1, 0};
  h.options.window_scale = 7;
  const auto seg = make_segment(h, 0);
  std::span<const std::byte> in(seg);
  for (auto _ : state) {
    benchmark::DoNotOptimize(in);
    auto t = TcpView::parse(in);
    auto mss = t.has_value() ? t->options().mss.value_or(0) : 0;
    benchmark::DoNotOptimize(mss);
  }
}
BENCHMARK(BM_TcpParseSyn);

// Ethernet -> IPv4 (with header checksum) -> TCP (with checksum): the whole
// per-frame receive decode.
void BM_WireFrameParseValidate(benchmark::State& state) {
  const auto seg = make_segment(data_header(), 64);
  std::vector<std::byte> frame(kEthernetHeaderLen + kIpv4MinHeaderLen + seg.size());
  write_ethernet_header(frame, {MacAddr{{2, 0, 0, 0, 0, 1}}, MacAddr{{2, 0, 0, 0, 0, 2}}, kEtherTypeIpv4});
  write_ipv4_header(std::span(frame).subspan(kEthernetHeaderLen),
                    {.protocol = kIpProtoTcp, .src = kSrc, .dst = kDst},
                    static_cast<std::uint16_t>(seg.size()));
  std::memcpy(frame.data() + kEthernetHeaderLen + kIpv4MinHeaderLen, seg.data(), seg.size());
  std::span<const std::byte> in(frame);
  for (auto _ : state) {
    benchmark::DoNotOptimize(in);
    bool ok = false;
    if (auto eth = EthernetView::parse(in); eth && eth->ether_type() == kEtherTypeIpv4) {
      if (auto ip = Ipv4View::parse(eth->payload()); ip && ip->checksum_valid()) {
        if (auto t = TcpView::parse(ip->payload()); t) ok = t->checksum_valid(ip->src(), ip->dst());
      }
    }
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * frame.size()));
}
BENCHMARK(BM_WireFrameParseValidate);

void BM_Checksum(benchmark::State& state) {
  std::vector<std::byte> buf(static_cast<std::size_t>(state.range(0)));
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<std::byte>(i * 7 + 3);
  std::span<const std::byte> in(buf);
  for (auto _ : state) {
    benchmark::DoNotOptimize(in);
    auto sum = internet_checksum(in);
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.size()));
}
BENCHMARK(BM_Checksum)->Arg(64)->Arg(512)->Arg(1460);

// Header + options (nop,nop,TS) into a buffer, checksum left 0.
void BM_WriteTcpHeader(benchmark::State& state) {
  TcpHeader h = data_header();
  std::array<std::byte, kTcpMaxHeaderLen> buf{};
  for (auto _ : state) {
    benchmark::DoNotOptimize(h);
    h.seq += 64;
    const std::size_t n = write_tcp_header(buf, h);
    benchmark::DoNotOptimize(n);
    benchmark::DoNotOptimize(buf.data());
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_WriteTcpHeader);

// Transmit path per segment: header, 64 bytes already in place, checksum.
void BM_WriteTcpSegmentWithChecksum(benchmark::State& state) {
  TcpHeader h = data_header();
  auto seg = make_segment(h, 64);
  for (auto _ : state) {
    benchmark::DoNotOptimize(h);
    h.seq += 64;
    write_tcp_header(seg, h);
    finish_tcp_checksum(seg, kSrc, kDst);
    benchmark::DoNotOptimize(seg.data());
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_WriteTcpSegmentWithChecksum);

}  // namespace
}  // namespace riptide::wire
