// SeqNum: modular comparison per RFC 9293 3.4 ("a <= b < c" with wrap-around).
#include "common/seq_num.hpp"

#include <gtest/gtest.h>

namespace riptide {
namespace {

TEST(SeqNum, ComparesAcrossWrap) {
  SeqNum near_top{0xFFFFFFF0u};
  SeqNum wrapped = near_top + 0x20;
  EXPECT_EQ(wrapped.raw(), 0x10u);
  EXPECT_LT(near_top, wrapped);
  EXPECT_GT(wrapped, near_top);
  EXPECT_EQ(wrapped - near_top, 0x20);
  EXPECT_EQ(near_top - wrapped, -0x20);
}

TEST(SeqNum, EqualIsNeitherLessNorGreater) {
  SeqNum a{7};
  EXPECT_FALSE(a < a);
  EXPECT_FALSE(a > a);
  EXPECT_LE(a, a);
  EXPECT_GE(a, a);
}

TEST(SeqNum, InRangeIsHalfOpen) {
  SeqNum lo{0xFFFFFFFEu};
  SeqNum hi = lo + 4;  // wraps to 2
  EXPECT_TRUE(seq_in_range(lo, lo, hi));
  EXPECT_TRUE(seq_in_range(lo, SeqNum{0}, hi));
  EXPECT_TRUE(seq_in_range(lo, SeqNum{1}, hi));
  EXPECT_FALSE(seq_in_range(lo, hi, hi));
  EXPECT_FALSE(seq_in_range(lo, lo - 1, hi));
}

TEST(SeqNum, MaxMinFollowModularOrder) {
  SeqNum a{0xFFFFFFFFu};
  SeqNum b{1};
  EXPECT_EQ(seq_max(a, b), b);
  EXPECT_EQ(seq_min(a, b), a);
}

TEST(SeqNum, HalfSpaceBoundary) {
  SeqNum a{0};
  EXPECT_LT(a, a + 0x7FFFFFFFu);
  // Exactly 2^31 apart is "behind" in both directions' signed arithmetic: callers must
  // never compare numbers that far apart (windows are < 2^30 by RFC 7323 2.3).
  EXPECT_LT(a + 0x80000000u, a);
}

}  // namespace
}  // namespace riptide
