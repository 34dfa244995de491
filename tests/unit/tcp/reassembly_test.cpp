// Reassembly: out-of-order data held by sequence number (RFC 9293 3.10.7.4
// seventh), the SACK blocks that describe it, most recent first (RFC 2018 4), the
// duplicates it reports for D-SACK (RFC 2883) and a FIN held beyond a hole.
// Sequence numbers in the tables are offsets from RCV.NXT = 1000.
#include "tcp/reassembly.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace riptide::tcp {
namespace {

constexpr std::uint32_t kRcvNxt = 1000;

SeqNum at(std::uint32_t offset) { return SeqNum{kRcvNxt + offset}; }

// Byte i of the stream is (i * 7) & 0xFF, so any piece can be checked.
std::vector<std::byte> stream(std::uint32_t offset, std::uint32_t len) {
  std::vector<std::byte> v(len);
  for (std::uint32_t i = 0; i < len; ++i) v[i] = static_cast<std::byte>(((offset + i) * 7) & 0xFF);
  return v;
}

struct Fixture {
  ChunkPool pool{64};
  Reassembly r;
  ~Fixture() { r.release(pool); }
  Reassembly::Held hold(std::uint32_t offset, std::uint32_t len, std::size_t limit = 1 << 20) {
    return r.hold(at(offset), stream(offset, len), limit, pool);
  }
  std::vector<std::pair<std::uint32_t, std::uint32_t>> blocks() const {
    std::array<wire::SackBlock, Reassembly::kMaxRanges + 1> out{};
    const std::size_t n = r.sack_blocks(out);
    std::vector<std::pair<std::uint32_t, std::uint32_t>> v;
    for (std::size_t i = 0; i < n; ++i) v.emplace_back(out[i].left - at(0), out[i].right - at(0));
    return v;
  }
};

struct Case {
  std::string name;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> holds;  // (offset, length), in arrival order
  std::optional<std::uint32_t> fin;                            // a FIN held at this offset, after the data
  std::vector<std::pair<std::uint32_t, std::uint32_t>> blocks;  // expected [left, right), most recent first
};

const std::vector<Case> kCases = {
    {"one segment", {{100, 100}}, {}, {{100, 200}}},
    {"two ranges, most recent first", {{100, 100}, {300, 100}}, {}, {{300, 400}, {100, 200}}},
    {"touching segments merge", {{100, 100}, {200, 100}}, {}, {{100, 300}}},
    {"a segment that fills the gap merges three", {{100, 100}, {300, 100}, {200, 100}}, {}, {{100, 400}}},
    {"an overlap keeps the first copy and extends", {{100, 100}, {150, 100}}, {}, {{100, 250}}},
    {"a segment inside a range adds nothing", {{100, 200}, {150, 50}}, {}, {{100, 300}}},
    {"a segment spanning two ranges joins them", {{100, 50}, {200, 50}, {120, 150}}, {}, {{100, 270}}},
    {"a duplicate makes its range the most recent", {{100, 100}, {300, 100}, {100, 100}}, {}, {{100, 200}, {300, 400}}},
    {"a FIN alone is a one-octet block", {}, 500, {{500, 501}}},
    {"a FIN after held data extends its block", {{100, 100}}, 200, {{100, 201}}},
    {"a FIN beyond a second hole is its own block", {{100, 100}}, 300, {{300, 301}, {100, 200}}},
};

TEST(Reassembly, SackBlocksTable) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    Fixture f;
    for (auto [offset, len] : c.holds) EXPECT_TRUE(f.hold(offset, len).complete);
    if (c.fin) {
      EXPECT_TRUE(f.r.hold_fin(at(*c.fin)));
    }
    EXPECT_EQ(f.blocks(), c.blocks);
    EXPECT_EQ(f.r.block_count(), c.blocks.size());
    EXPECT_EQ(f.r.nothing_to_sack(), c.blocks.empty());
  }
}

TEST(Reassembly, NothingToSackAgreesWithTheBlocks) {
  // The sender skips sack_blocks() when nothing_to_sack() says so: they must agree
  // as ranges and a FIN come and go.
  Fixture f;
  auto agree = [&] { EXPECT_EQ(f.r.nothing_to_sack(), f.blocks().empty()); };
  EXPECT_TRUE(f.r.nothing_to_sack());
  agree();
  f.hold(100, 100);
  EXPECT_FALSE(f.r.nothing_to_sack());
  agree();
  SeqNum rcv_nxt = at(100);
  f.r.deliver(rcv_nxt, f.pool, [](std::span<const std::byte>) { return true; });
  EXPECT_TRUE(f.r.nothing_to_sack()) << "all delivered";
  agree();
  EXPECT_TRUE(f.r.hold_fin(at(300)));
  EXPECT_FALSE(f.r.nothing_to_sack()) << "a FIN alone is reported";
  agree();
  f.r.take_fin();
  EXPECT_TRUE(f.r.nothing_to_sack());
  agree();
}

TEST(Reassembly, DuplicateIsReportedOnce) {
  Fixture f;
  EXPECT_FALSE(f.hold(100, 100).duplicate);
  // 50..150 overlaps the held 100..200: the new part is held, 100..150 is a duplicate.
  const auto h = f.hold(50, 100);
  EXPECT_TRUE(h.complete);
  ASSERT_TRUE(h.duplicate);
  EXPECT_EQ(h.duplicate->left - at(0), 100u);
  EXPECT_EQ(h.duplicate->right - at(0), 150u);
  EXPECT_EQ(f.blocks(), (std::vector<std::pair<std::uint32_t, std::uint32_t>>{{50, 200}}));
}

TEST(Reassembly, AtMostEightRanges) {
  Fixture f;
  for (std::uint32_t i = 0; i < Reassembly::kMaxRanges; ++i) EXPECT_TRUE(f.hold(100 + 200 * i, 100).complete);
  EXPECT_FALSE(f.hold(5000, 100).complete) << "a ninth hole is not held";
  EXPECT_EQ(f.r.block_count(), Reassembly::kMaxRanges);
  EXPECT_TRUE(f.hold(200, 100).complete) << "but a segment extending a range is";
}

TEST(Reassembly, RangeLimitAndDryPoolHoldLess) {
  Fixture f;
  EXPECT_FALSE(f.hold(100, 3000, /*limit=*/1000).complete);
  EXPECT_EQ(f.blocks(), (std::vector<std::pair<std::uint32_t, std::uint32_t>>{{100, 1100}}));
  ChunkPool tiny(1);
  Reassembly r;
  EXPECT_FALSE(r.hold(at(0), stream(0, 5000), 1 << 20, tiny).complete);
  EXPECT_EQ(tiny.available(), 0u);
  r.release(tiny);
  EXPECT_EQ(tiny.available(), 1u);
}

TEST(Reassembly, NothingBeyondAHeldFin) {
  Fixture f;
  EXPECT_TRUE(f.r.hold_fin(at(200)));
  EXPECT_FALSE(f.r.hold_fin(at(300))) << "a second, different FIN";
  EXPECT_FALSE(f.hold(150, 100).complete) << "200..250 lies beyond the FIN";
  EXPECT_FALSE(f.hold(300, 10).complete);
  EXPECT_EQ(f.blocks(), (std::vector<std::pair<std::uint32_t, std::uint32_t>>{{150, 201}}));
}

TEST(Reassembly, DeliversInOrderOnceTheHoleFills) {
  Fixture f;
  f.hold(100, 100);
  f.hold(300, 2500);  // spans chunks
  SeqNum rcv_nxt = at(0);
  std::vector<std::byte> got;
  auto collect = [&](std::span<const std::byte> p) {
    got.insert(got.end(), p.begin(), p.end());
    return true;
  };
  f.r.deliver(rcv_nxt, f.pool, collect);
  EXPECT_TRUE(got.empty()) << "RCV.NXT has not reached anything held";
  rcv_nxt = at(100);  // the caller delivered 0..100 itself
  f.r.deliver(rcv_nxt, f.pool, collect);
  EXPECT_EQ(rcv_nxt, at(200));
  EXPECT_EQ(got, stream(100, 100));
  got.clear();
  rcv_nxt = at(300);
  f.r.deliver(rcv_nxt, f.pool, collect);
  EXPECT_EQ(rcv_nxt, at(2800));
  EXPECT_EQ(got, stream(300, 2500));
  EXPECT_FALSE(f.r.holds_data());
  EXPECT_EQ(f.pool.available(), f.pool.capacity());
}

TEST(Reassembly, DeliveryStopsWhenTheConnectionGoes) {
  Fixture f;
  f.hold(0, 5000);
  SeqNum rcv_nxt = at(0);
  int pieces = 0;
  f.r.deliver(rcv_nxt, f.pool, [&](std::span<const std::byte>) { return ++pieces < 1; });
  EXPECT_EQ(pieces, 1);
  EXPECT_EQ(rcv_nxt - at(0), ChunkPool::kChunkBytes);
}

TEST(Reassembly, FinIsNextOnlyAtRcvNxt) {
  Fixture f;
  f.hold(100, 100);
  EXPECT_TRUE(f.r.hold_fin(at(200)));
  EXPECT_FALSE(f.r.fin_next(at(0)));
  EXPECT_TRUE(f.r.fin_next(at(200)));
  f.r.take_fin();
  EXPECT_FALSE(f.r.fin_held());
}

}  // namespace
}  // namespace riptide::tcp
