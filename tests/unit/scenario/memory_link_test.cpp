// riptide::MemoryLink itself (lib/stack/memory_link.hpp): the one in-memory link the
// scenario tests, riptide-trace and the proxy tests are built on. Times here are
// the link's virtual clock, never the wall clock.
#include <gtest/gtest.h>

#include "fixture.hpp"

namespace riptide::scenario {
namespace {

// A delay on each direction: the handshake's SYN, SYN-ACK and ACK take three one-way
// trips of virtual time; every packet offered is delivered.
TEST(MemoryLink, DelayedPeerLinkDeliversEverythingInTime) {
  Stack a(scenario_config(kClientAddr, 1), kStart), b(scenario_config(kServerAddr, 2), kStart);
  Impairment slow;
  slow.delay = milliseconds{5};
  MemoryLink link(a, b, kStart, slow, slow);
  std::vector<std::pair<LinkEvent, std::size_t>> seen;
  link.set_observer([&](const LinkPacket& p) { seen.emplace_back(p.what, p.from); });
  Recorder c, s;
  ASSERT_TRUE(b.listen(kServerAddr, 80, s));
  ASSERT_TRUE(a.connect(kServerAddr, 80, c));
  ASSERT_TRUE(link.run_until([&] { return s.conn.has_value(); }, kStart + seconds{1}));
  EXPECT_EQ(link.now() - kStart, milliseconds{15});  // SYN, SYN-ACK, ACK
  EXPECT_EQ(link.stats(0).offered, 2u);
  EXPECT_EQ(link.stats(0).delivered, 2u);
  EXPECT_EQ(link.stats(1).offered, 1u);
  EXPECT_EQ(link.stats(1).delivered, 1u);
  ASSERT_EQ(seen.size(), 6u);  // each packet: Sent, then Delivered
  EXPECT_EQ(seen[0], std::make_pair(LinkEvent::Sent, std::size_t{0}));
  EXPECT_EQ(seen[1], std::make_pair(LinkEvent::Delivered, std::size_t{0}));
  EXPECT_EQ(link.in_flight(), 0u);
  EXPECT_FALSE(link.stalled());
}

// The filter loses what it chooses (counted, reported as Filtered), and the stack
// recovers by retransmission on the same clock.
TEST(MemoryLink, FilterLosesChosenPacketsAndTimersRecover) {
  Stack a(scenario_config(kClientAddr, 1), kStart), b(scenario_config(kServerAddr, 2), kStart);
  MemoryLink link(a, b, kStart);
  int syns_lost = 0;
  link.set_filter([&](const LinkPacket& p) { return p.from == 0 && syns_lost++ == 0; });  // the first SYN
  Recorder c, s;
  ASSERT_TRUE(b.listen(kServerAddr, 80, s));
  ASSERT_TRUE(a.connect(kServerAddr, 80, c));
  ASSERT_TRUE(link.run_until([&] { return c.conn.has_value(); }, kStart + seconds{10}));
  EXPECT_EQ(link.stats(0).filtered, 1u);
  EXPECT_GE(link.now() - kStart, milliseconds{900});  // the SYN's retransmission timeout
}

// Routing by address: three stacks on one network; a packet for an address no stack
// owns is counted as unroutable, not delivered anywhere.
TEST(MemoryLink, RoutesByDestinationAddress) {
  const Ipv4Addr third = Ipv4Addr::from_octets(198, 18, 0, 3);
  Stack a(scenario_config(kClientAddr, 1), kStart), b(scenario_config(kServerAddr, 2), kStart),
      c3(scenario_config(third, 3), kStart);
  MemoryLink link(kStart);
  EXPECT_EQ(link.attach(a), 0u);
  EXPECT_EQ(link.attach(b), 1u);
  EXPECT_EQ(link.attach(c3), 2u);
  Recorder ca, sb, sc, none;
  ASSERT_TRUE(b.listen(kServerAddr, 80, sb));
  ASSERT_TRUE(c3.listen(third, 80, sc));
  ASSERT_TRUE(a.connect(third, 80, ca));
  link.pump();
  EXPECT_TRUE(sc.conn.has_value());
  EXPECT_FALSE(sb.conn.has_value());
  EXPECT_EQ(link.stats(1).offered, 0u);  // b heard nothing it had to answer
  ASSERT_TRUE(a.connect(Ipv4Addr::from_octets(198, 18, 0, 9), 80, none));
  link.pump();
  EXPECT_EQ(link.stats(0).unroutable, 1u);
}

// A clock added beside the stacks is advanced on the same timeline and its deadlines
// count as events.
TEST(MemoryLink, AddedClockRunsOnTheSameTimeline) {
  Stack a(scenario_config(kClientAddr, 1), kStart), b(scenario_config(kServerAddr, 2), kStart);
  MemoryLink link(a, b, kStart);
  std::optional<Instant> due = kStart + milliseconds{250};
  std::vector<Instant> ticks;
  link.add_clock([&] { return due; }, [&](Instant t) {
    ticks.push_back(t);
    if (due && t >= *due) due.reset();
  });
  EXPECT_FALSE(link.run_until([] { return false; }, kStart + seconds{1}));
  ASSERT_FALSE(ticks.empty());
  EXPECT_EQ(ticks.front(), kStart + milliseconds{250});
  EXPECT_FALSE(due.has_value());
}

}  // namespace
}  // namespace riptide::scenario
