// Under overload (issue 14): what the stack does when its limits are reached, each
// case with the counter that shows it. Limits are shrunk by config so a handful of
// segments reach them.
#include "harness.hpp"

namespace riptide::testing {
namespace {

// A stack with `records` connection records and a stateless listener (every SYN
// answered with a cookie), so the table fills only as handshakes complete.
StackConfig small_table(std::uint32_t records) {
  StackConfig c = default_config();
  c.max_connections = records;
  return c;
}

// The scripted peer completes a cookie handshake from `port`; returns what came back.
std::vector<Out> cookie_handshake(Harness& h, std::uint16_t port) {
  h.remote_port = port;
  h.stack_isn = SeqNum{};
  h.in("S", 0);
  h.expect("S.", 0, 1);
  h.in(".", 1, 1);
  return h.take();
}

// ------------------------------------------------------------------------------------
// A valid cookie ACK when no record is free

TEST(CookieNoRecord, ResetTellsTheClientAtOnce) {
  Harness h(small_table(1));
  h.listen({.backlog = 16, .auto_accept = true, .syn_cookies = tcp::SynCookieMode::Always});
  EXPECT_TRUE(cookie_handshake(h, 40000).empty());
  ASSERT_EQ(h.stack.connection_count(), 1u);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"accept"});

  auto outs = cookie_handshake(h, 40001);
  ASSERT_EQ(outs.size(), 1u);
  // RFC 9293 3.10.7.2: <SEQ=SEG.ACK><CTL=RST>, which the client (in ESTABLISHED,
  // RCV.NXT = our cookie + 1) accepts.
  Harness::check(outs[0], "R", 1, 0);
  EXPECT_EQ(h.counter(Counter::tcp_cookie_no_record), 1u);
  EXPECT_EQ(h.counter(Counter::tcp_cookie_accepted), 1u);
  EXPECT_EQ(h.stack.connection_count(), 1u);
  EXPECT_TRUE(h.handler.take().empty());
}

TEST(CookieNoRecord, DropIsSilentButCounted) {
  StackConfig cfg = small_table(1);
  cfg.tcp.cookie_no_record = tcp::CookieNoRecord::Drop;
  Harness h(cfg);
  h.listen({.backlog = 16, .auto_accept = true, .syn_cookies = tcp::SynCookieMode::Always});
  EXPECT_TRUE(cookie_handshake(h, 40000).empty());
  EXPECT_TRUE(cookie_handshake(h, 40001).empty());
  EXPECT_EQ(h.counter(Counter::tcp_cookie_no_record), 1u);
  EXPECT_EQ(h.counter(Counter::tcp_rst_sent), 0u);
  EXPECT_EQ(h.stack.connection_count(), 1u);
}

TEST(CookieNoRecord, AFreedRecordServesTheNextCookie) {
  Harness h(small_table(1));
  h.listen({.backlog = 16, .auto_accept = true, .syn_cookies = tcp::SynCookieMode::Always});
  EXPECT_TRUE(cookie_handshake(h, 40000).empty());
  const ConnId first = h.handler.last;
  ASSERT_EQ(cookie_handshake(h, 40001).size(), 1u);  // the RST
  ASSERT_FALSE(h.stack.abort(first).has_value());
  h.take();
  h.handler.take();
  // The client that was reset tries again, and now gets a record.
  EXPECT_TRUE(cookie_handshake(h, 40001).empty());
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"accept"});
  EXPECT_EQ(h.counter(Counter::tcp_cookie_no_record), 1u);
  EXPECT_EQ(h.counter(Counter::tcp_cookie_accepted), 2u);
}


// ------------------------------------------------------------------------------------
// Records scarce (limits.pressure_percent): SYNs go to cookies, half-open entries
// give up early

// Ten records, scarce from five on.
StackConfig pressured() {
  StackConfig c = small_table(10);
  c.pressure_percent = 50;
  return c;
}

// SYNs from ports 40000.. that each leave a half-open (SYN-RECEIVED) entry.
void half_open(Harness& h, std::uint16_t first, int n) {
  for (int i = 0; i < n; ++i) {
    h.remote_port = static_cast<std::uint16_t>(first + i);
    h.stack_isn = SeqNum{};
    h.in("S", 0);
    h.expect("S.", 0, 1);
  }
}

TEST(RecordsScarce, NewSynsAreAnsweredWithCookies) {
  Harness h(pressured());
  h.listen();  // syn_cookies auto, backlog 128: the SYN queue is not what fills
  half_open(h, 40000, 5);
  EXPECT_EQ(h.stack.connection_count(), 5u);
  EXPECT_EQ(h.counter(Counter::tcp_cookie_sent), 0u);
  // The sixth SYN finds half the table taken: a cookie, no record.
  half_open(h, 40005, 1);
  EXPECT_EQ(h.stack.connection_count(), 5u);
  EXPECT_EQ(h.counter(Counter::tcp_cookie_sent), 1u);
  EXPECT_EQ(h.counter(Counter::tcp_syn_cookie_pressure), 1u);
  EXPECT_EQ(h.counter(Counter::tcp_syn_queue_full), 0u);
  // Its ACK still gets a record (five remain for completed handshakes).
  h.in(".", 1, 1);
  h.expect_nothing();
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"accept"});
  EXPECT_EQ(h.stack.connection_count(), 6u);
}

TEST(RecordsScarce, CookiesOffKeepTakingRecordsUntilFull) {
  Harness h(pressured());
  h.listen({.backlog = 128, .auto_accept = true, .syn_cookies = tcp::SynCookieMode::Never});
  half_open(h, 40000, 10);
  EXPECT_EQ(h.stack.connection_count(), 10u);
  EXPECT_EQ(h.counter(Counter::tcp_syn_cookie_pressure), 0u);
  h.remote_port = 40010;
  h.in("S", 0);
  h.expect_nothing();
  EXPECT_EQ(h.counter(Counter::tcp_drop_no_memory), 1u);
}

TEST(RecordsScarce, HalfOpenEntriesGiveUpAfterOneSynAckRetransmission) {
  Harness h(pressured());
  h.listen();
  half_open(h, 40000, 5);
  // One retransmission each after 1 s, as usual...
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{1});
  EXPECT_EQ(h.take().size(), 5u);
  // ...then, records being scarce, they give up at the next timeout (3 s after the
  // SYN instead of 63 s), silently: the peer never completed the handshake.
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{2});
  h.expect_nothing();
  EXPECT_EQ(h.stack.connection_count(), 0u);
  EXPECT_EQ(h.counter(Counter::tcp_synack_pressure_timeout), 5u);
  EXPECT_EQ(h.counter(Counter::tcp_connection_timeout), 5u);
  EXPECT_TRUE(h.handler.take().empty());
}

TEST(RecordsScarce, WithoutPressureHalfOpenEntriesKeepEveryRetry) {
  Harness h(pressured());
  h.listen();
  half_open(h, 40000, 4);  // below the mark
  for (int w : {1, 2, 4, 8, 16}) {
    EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{w});
    EXPECT_EQ(h.take().size(), 4u);
  }
  EXPECT_EQ(h.run_to_next_timer(), std::chrono::seconds{32});
  EXPECT_EQ(h.stack.connection_count(), 0u);
  EXPECT_EQ(h.counter(Counter::tcp_synack_pressure_timeout), 0u);
  EXPECT_EQ(h.counter(Counter::tcp_connection_timeout), 4u);
}

TEST(RecordsScarce, EstablishedConnectionsAreNotCutShort) {
  Harness h(pressured());
  h.listen();
  // Five established connections fill the table to its mark.
  for (std::uint16_t p = 40000; p < 40005; ++p) {
    h.remote_port = p;
    h.stack_isn = SeqNum{};
    h.in("S", 0);
    h.expect("S.", 0, 1);
    h.in(".", 1, 1);
    h.expect_nothing();
  }
  h.conn = h.handler.last;
  ASSERT_EQ(h.stack.connection_count(), 5u);
  // Data that is never acknowledged is retransmitted the usual number of times.
  h.send("x");
  h.expect("P.", 1, 1, "x");
  for (int i = 0; i < 3; ++i) {
    h.run_to_next_timer();
    h.expect("P.", 1, 1, "x");
  }
  EXPECT_EQ(h.state(), State::Established);
  EXPECT_EQ(h.counter(Counter::tcp_synack_pressure_timeout), 0u);
}

// ------------------------------------------------------------------------------------
// Overload control: while the worker is behind (Stack::set_shedding), new SYNs get
// cookies only and established connections keep their records

TEST(Shedding, NewSynsGetCookiesOnlyWhileBehind) {
  Harness h;
  h.listen();  // cookies auto; nothing full, nothing scarce
  h.stack.set_shedding(true);
  h.in("S", 0);
  h.expect("S.", 0, 1);
  EXPECT_EQ(h.stack.connection_count(), 0u) << "no record, no SYN-ACK timer";
  EXPECT_FALSE(h.stack.next_timer().has_value());
  EXPECT_EQ(h.counter(Counter::tcp_syn_shed_overload), 1u);
  EXPECT_EQ(h.counter(Counter::tcp_cookie_sent), 1u);
  // The handshake completes from the cookie, shedding or not.
  h.in(".", 1, 1);
  h.expect_nothing();
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"accept"});
  EXPECT_EQ(h.stack.connection_count(), 1u);
}

TEST(Shedding, SynsGetRecordsAgainOnceCaughtUp) {
  Harness h;
  h.listen();
  h.stack.set_shedding(true);
  h.stack.set_shedding(false);
  h.in("S", 0);
  h.expect("S.", 0, 1);
  EXPECT_EQ(h.stack.connection_count(), 1u);
  EXPECT_EQ(h.counter(Counter::tcp_syn_shed_overload), 0u);
}

TEST(Shedding, ListenersWithoutCookiesAreLeftAlone) {
  Harness h;
  h.listen({.backlog = 16, .auto_accept = true, .syn_cookies = tcp::SynCookieMode::Never});
  h.stack.set_shedding(true);
  h.in("S", 0);
  h.expect("S.", 0, 1);
  EXPECT_EQ(h.stack.connection_count(), 1u);
  EXPECT_EQ(h.counter(Counter::tcp_syn_shed_overload), 0u);
}

TEST(Shedding, EstablishedTrafficIsServedAsUsual) {
  Harness h;
  h.to_established_passive();
  h.stack.set_shedding(true);
  h.in("P.", 1, 1, "hello");
  h.expect(".", 1, 6);
  EXPECT_EQ(h.handler.take(), std::vector<std::string>{"data:hello"});
}

}  // namespace
}  // namespace riptide::testing
