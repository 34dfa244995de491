// SackScoreboard: the SACK blocks a sender keeps (RFC 2018) and RFC 6675's
// IsLost / SetPipe / NextSeg over the holes between them. Sequence numbers in the
// tables are offsets from SND.UNA = 5000; SND.MAX is 5000 + 10000; SMSS 1000.
#include "tcp/sack_scoreboard.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace riptide::tcp {
namespace {

constexpr std::uint32_t kUna = 5000;
constexpr std::uint32_t kSmss = 1000;
SeqNum at(std::uint32_t offset) { return SeqNum{kUna + offset}; }
const SeqNum kSndMax = at(10000);

using Blocks = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

std::uint32_t record(SackScoreboard& sb, const Blocks& in) {
  std::vector<wire::SackBlock> b;
  for (auto [l, r] : in) b.push_back(wire::SackBlock{at(l), at(r)});
  return sb.record(b, at(0), kSndMax);
}

Blocks held(const SackScoreboard& sb) {
  Blocks v;
  for (const wire::SackBlock& b : sb.blocks()) v.emplace_back(b.left - at(0), b.right - at(0));
  return v;
}

struct RecordCase {
  std::string name;
  std::vector<Blocks> acks;  // the SACK blocks of each arriving ACK
  Blocks expected;           // the scoreboard after them, in sequence order
  std::uint32_t newly;       // octets the last ACK newly SACKed
};

const std::vector<RecordCase> kRecord = {
    {"one block", {{{1000, 2000}}}, {{1000, 2000}}, 1000},
    {"kept in sequence order", {{{3000, 4000}}, {{1000, 2000}}}, {{1000, 2000}, {3000, 4000}}, 1000},
    {"touching blocks merge", {{{1000, 2000}}, {{2000, 3000}}}, {{1000, 3000}}, 1000},
    {"an overlap adds only the new octets", {{{1000, 2000}}, {{1500, 2500}}}, {{1000, 2500}}, 500},
    {"a block bridging two joins them", {{{1000, 2000}, {3000, 4000}}, {{1500, 3500}}}, {{1000, 4000}}, 1000},
    {"a repeated block is no news", {{{1000, 2000}}, {{1000, 2000}}}, {{1000, 2000}}, 0},
    {"D-SACK below SND.UNA ignored", {{{-500u, 0}}}, {}, 0},
    {"a block beyond SND.MAX ignored", {{{9000, 11000}}}, {}, 0},
    {"an empty or reversed block ignored", {{{2000, 2000}, {3000, 2500}}}, {}, 0},
};

TEST(SackScoreboard, RecordTable) {
  for (const RecordCase& c : kRecord) {
    SCOPED_TRACE(c.name);
    SackScoreboard sb;
    std::uint32_t newly = 0;
    for (const Blocks& ack : c.acks) newly = record(sb, ack);
    EXPECT_EQ(held(sb), c.expected);
    EXPECT_EQ(newly, c.newly);
  }
}

TEST(SackScoreboard, FullDropsTheHighestBlock) {
  SackScoreboard sb;
  for (std::uint32_t i = 0; i < SackScoreboard::kMaxBlocks; ++i) record(sb, {{100 + 500 * i, 200 + 500 * i}});
  EXPECT_EQ(sb.count(), SackScoreboard::kMaxBlocks);
  record(sb, {{10, 20}});  // below all: the highest goes
  EXPECT_EQ(sb.count(), SackScoreboard::kMaxBlocks);
  EXPECT_EQ(held(sb).front(), (std::pair<std::uint32_t, std::uint32_t>{10, 20}));
  EXPECT_EQ(held(sb).back().first, 100 + 500 * (SackScoreboard::kMaxBlocks - 2));
  EXPECT_EQ(record(sb, {{9900, 9950}}), 0u) << "above all, when full: not kept";
}

TEST(SackScoreboard, PruneAsSndUnaAdvances) {
  SackScoreboard sb;
  record(sb, {{1000, 2000}, {3000, 4000}});
  sb.prune(at(1500));
  EXPECT_EQ(held(sb), (Blocks{{1500, 2000}, {3000, 4000}}));
  sb.prune(at(3500));
  EXPECT_EQ(held(sb), (Blocks{{3500, 4000}}));
  sb.prune(at(4000));
  EXPECT_TRUE(sb.empty());
}

TEST(SackScoreboard, Queries) {
  SackScoreboard sb;
  record(sb, {{1000, 2000}, {3000, 4000}});
  EXPECT_EQ(sb.at(at(1500))->left, at(1000));
  EXPECT_EQ(sb.at(at(2500)), nullptr);
  EXPECT_EQ(sb.next_after(at(2000)), at(3000));
  EXPECT_EQ(sb.next_after(at(3000)), std::nullopt);
  EXPECT_EQ(sb.below(at(3500)), 1500u);
}

// RFC 6675 4 IsLost(): DupThresh (3) blocks above, or more than 2 * SMSS SACKed above.
TEST(SackScoreboard, IsLostPerHole) {
  SackScoreboard sb;
  record(sb, {{1000, 2000}, {3000, 4000}});  // 2000 octets above the first hole: not lost
  EXPECT_FALSE(sb.lost_at(at(0), kSndMax, kSmss));
  record(sb, {{5000, 5001}});  // a third block above it: lost
  EXPECT_TRUE(sb.lost_at(at(0), kSndMax, kSmss));
  SackScoreboard big;
  record(big, {{1000, 3001}});  // 2001 octets above: lost
  EXPECT_TRUE(big.lost_at(at(0), kSndMax, kSmss));
}

TEST(SackScoreboard, HolesPipeAndNextSeg) {
  SackScoreboard sb;
  record(sb, {{1000, 2000}, {3000, 4000}, {5000, 6000}});
  // Holes: 0-1000 (3 blocks above: lost), 2000-3000 (2 blocks, 2000 octets: not
  // lost), 4000-5000 (1 block: not), 6000-10000 (nothing above: not).
  std::vector<std::tuple<std::uint32_t, std::uint32_t, bool>> holes;
  sb.for_each_hole(at(0), kSndMax, kSmss, [&](SeqNum s, SeqNum e, bool lost) {
    holes.emplace_back(s - at(0), e - at(0), lost);
    return true;
  });
  EXPECT_EQ(holes, (std::vector<std::tuple<std::uint32_t, std::uint32_t, bool>>{
                       {0, 1000, true}, {2000, 3000, false}, {4000, 5000, false}, {6000, 10000, false}}));
  // SetPipe: the non-lost holes (1000 + 1000 + 4000), plus what was retransmitted.
  EXPECT_EQ(sb.pipe(at(0), kSndMax, at(0), kSmss), 6000u);
  EXPECT_EQ(sb.pipe(at(0), kSndMax, at(500), kSmss), 6500u);
  // NextSeg rule 1: the lost hole, from HighRxt; rule 3: any hole.
  auto r1 = sb.next_seg(at(0), kSndMax, at(500), kSmss, /*lost_only=*/true);
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->seq, at(500));
  EXPECT_EQ(r1->len, 500u);
  EXPECT_FALSE(sb.next_seg(at(0), kSndMax, at(1000), kSmss, true)) << "the lost hole is all retransmitted";
  auto r3 = sb.next_seg(at(0), kSndMax, at(1000), kSmss, /*lost_only=*/false);
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->seq, at(2000));
  EXPECT_EQ(r3->len, kSmss);
}

}  // namespace
}  // namespace riptide::tcp
