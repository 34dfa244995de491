// The receive and loss-recovery bookkeeping split out of Connection (issue 11), on
// their own so a regression shows here before it shows end to end:
//   BM_ReassemblyInOrderNothingHeld   the common case: SACK blocks asked for, data
//                                     delivered, with nothing out of order (the
//                                     used-range count answers without a walk)
//   BM_ReassemblyHoleFill/N           N segments of 1448 bytes held behind a one-
//                                     segment hole, then the hole filled and all
//                                     N delivered in order; time per held segment
//   BM_ReassemblySackBlocks/N         SACK-block generation with N ranges held
//   BM_ScoreboardRecord/N             an ACK stream whose SACK blocks grow one
//                                     segment at a time above N holes; time per ACK
//   BM_ScoreboardPipeAndNextSeg/N     RFC 6675 SetPipe() and NextSeg() with N holes
#include <benchmark/benchmark.h>

#include <array>
#include <vector>

#include "tcp/reassembly.hpp"
#include "tcp/sack_scoreboard.hpp"
#include "tcp/send_buffer.hpp"

namespace riptide::tcp {
namespace {

constexpr std::uint32_t kSeg = 1448;
const SeqNum kStart{1'000'000};

std::vector<std::byte> segment_bytes() { return std::vector<std::byte>(kSeg, std::byte{0x5a}); }

void BM_ReassemblyInOrderNothingHeld(benchmark::State& state) {
  ChunkPool pool(64);
  Reassembly r;
  SeqNum rcv_nxt = kStart;
  std::array<wire::SackBlock, 4> blocks{};
  for (auto _ : state) {
    benchmark::DoNotOptimize(r.sack_blocks(blocks));
    r.deliver(rcv_nxt, pool, [](std::span<const std::byte>) { return true; });
    benchmark::DoNotOptimize(r.holds_data());
  }
  r.release(pool);
}
BENCHMARK(BM_ReassemblyInOrderNothingHeld);

void BM_ReassemblyHoleFill(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  ChunkPool pool(4096);
  Reassembly r;
  const auto data = segment_bytes();
  std::size_t delivered = 0;
  for (auto _ : state) {
    SeqNum rcv_nxt = kStart;
    // Segments 1..n arrive, segment 0 is missing.
    for (std::uint32_t i = 1; i <= n; ++i) (void)r.hold(kStart + i * kSeg, data, 1u << 24, pool);
    // Segment 0 arrives in order (the connection delivers it itself), then the rest
    // comes out of the reassembly queue.
    rcv_nxt += kSeg;
    r.deliver(rcv_nxt, pool, [&](std::span<const std::byte> s) {
      delivered += s.size();
      return true;
    });
  }
  r.release(pool);
  benchmark::DoNotOptimize(delivered);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * n);
}
BENCHMARK(BM_ReassemblyHoleFill)->Arg(1)->Arg(4)->Arg(7);

void BM_ReassemblySackBlocks(benchmark::State& state) {
  const auto n = static_cast<std::uint32_t>(state.range(0));
  ChunkPool pool(4096);
  Reassembly r;
  const auto data = segment_bytes();
  // n ranges, each one segment, separated by one-segment holes.
  for (std::uint32_t i = 0; i < n; ++i) (void)r.hold(kStart + (2 * i + 1) * kSeg, data, 1u << 24, pool);
  std::array<wire::SackBlock, 4> blocks{};
  for (auto _ : state) benchmark::DoNotOptimize(r.sack_blocks(blocks));
  r.release(pool);
}
BENCHMARK(BM_ReassemblySackBlocks)->Arg(0)->Arg(1)->Arg(4)->Arg(8);

void BM_ScoreboardRecord(benchmark::State& state) {
  const auto holes = static_cast<std::uint32_t>(state.range(0));
  const SeqNum snd_una = kStart;
  const SeqNum snd_max = kStart + 1000 * kSeg;
  for (auto _ : state) {
    SackScoreboard sb;  // cheap to make: part of what is timed
    // The peer reports `holes` lost segments, then keeps SACKing one more segment
    // of the last block per ACK (what a sender in recovery sees).
    std::array<wire::SackBlock, 3> blocks{};
    for (std::uint32_t a = 0; a < 64; ++a) {
      std::size_t k = 0;
      const std::uint32_t first = holes;  // blocks start after the last hole
      blocks[k++] = wire::SackBlock{kStart + (first + 1) * kSeg, kStart + (first + 2 + a) * kSeg};
      for (std::uint32_t h = 1; h < holes && k < blocks.size(); ++h) {
        blocks[k++] = wire::SackBlock{kStart + (2 * h - 1) * kSeg, kStart + (2 * h) * kSeg};
      }
      benchmark::DoNotOptimize(sb.record(std::span(blocks.data(), k), snd_una, snd_max));
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 64);
}
BENCHMARK(BM_ScoreboardRecord)->Arg(1)->Arg(3);

void BM_ScoreboardPipeAndNextSeg(benchmark::State& state) {
  const auto holes = static_cast<std::uint32_t>(state.range(0));
  const SeqNum snd_una = kStart;
  const SeqNum snd_max = kStart + 200 * kSeg;
  SackScoreboard sb;
  // `holes` one-segment holes, each followed by four SACKed segments.
  for (std::uint32_t h = 0; h < holes; ++h) {
    const std::array<wire::SackBlock, 1> b{wire::SackBlock{kStart + (5 * h + 1) * kSeg, kStart + (5 * h + 5) * kSeg}};
    (void)sb.record(b, snd_una, snd_max);
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(sb.pipe(snd_una, snd_max, snd_una, kSeg));
    benchmark::DoNotOptimize(sb.next_seg(snd_una, snd_max, snd_una, kSeg, /*lost_only=*/true));
  }
}
BENCHMARK(BM_ScoreboardPipeAndNextSeg)->Arg(1)->Arg(4)->Arg(16);

}  // namespace
}  // namespace riptide::tcp
