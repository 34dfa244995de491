// Counters: names, and the status line's list of limits hit in an interval.
#include "common/counters.hpp"

#include <gtest/gtest.h>

namespace riptide {
namespace {

TEST(Counters, LimitsHitNamesWhatGrewAndByHowMuch) {
  Counters before;
  Counters now;
  EXPECT_EQ(limits_hit(now, before), "");
  now.inc(Counter::tcp_in, 100);  // not a limit
  now.inc(Counter::tcp_time_wait_recycled, 7);
  now.inc(Counter::tcp_cookie_no_record, 2);
  EXPECT_EQ(limits_hit(now, before), "tcp_cookie_no_record=2 tcp_time_wait_recycled=7");
  before = now;
  now.inc(Counter::tx_queue_full);
  EXPECT_EQ(limits_hit(now, before), "tx_queue_full=1") << "only what moved since the last line";
}

}  // namespace
}  // namespace riptide
