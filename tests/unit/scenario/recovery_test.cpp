// Scenarios where something goes wrong: lost handshake and FIN segments, aborts,
// data after close, orphaned FIN-WAIT-2, TIME-WAIT reuse, a peer that restarted
// (half-open), connect deadlines, cookies without timestamps. Each checks what both
// ends go through; a failing test prints the packet trace.
#include <gtest/gtest.h>

#include "fixture.hpp"

namespace riptide::scenario {
namespace {

bool is_pure_ack(const Packet& p) { return p.is_tcp && p.tcp.flags == kAck && p.payload_len == 0; }

// --------------------------------------------------------------------------------
// Losses during the handshake and the close

// RFC 9293 3.8.1 / RFC 6298 5: the SYN-ACK is lost; the client's SYN
// retransmission (1 s) is answered with the SYN-ACK again and the handshake completes.
TEST_F(Scenario, LostSynAckRecoveredBySynRetransmit) {
  build();
  ASSERT_TRUE(server->listen(kServerAddr, kPort, s));
  link->drop_next([](const Packet& p) { return !p.from_a && p.has(kSyn); });
  ASSERT_TRUE(client->connect(kServerAddr, kPort, c));
  link->pump();
  EXPECT_EQ(states(*client), "SYN-SENT");
  EXPECT_EQ(states(*server), "SYN-RECEIVED");
  ASSERT_TRUE(link->run_until([&] { return c.conn && s.conn; }, kStart + seconds{10}));
  EXPECT_EQ(ms_between(kStart, link->now()), 1000);
  EXPECT_EQ(states(*client), "ESTABLISHED");
  EXPECT_EQ(states(*server), "ESTABLISHED");
  EXPECT_EQ(c.joined(), "connected");
  EXPECT_EQ(s.joined(), "accept");
  const auto syns = link->sent_by_a(kSyn);
  ASSERT_EQ(syns.size(), 2u);
  EXPECT_EQ(syns[1].tcp.seq, syns[0].tcp.seq);
}

// The client's ACK completing the handshake is lost: the server retransmits its
// SYN-ACK, the ESTABLISHED client answers it with an ACK, the server completes.
TEST_F(Scenario, LostHandshakeAckRecoveredBySynAckRetransmit) {
  build();
  ASSERT_TRUE(server->listen(kServerAddr, kPort, s));
  link->drop_next([](const Packet& p) { return p.from_a && is_pure_ack(p); });
  ASSERT_TRUE(client->connect(kServerAddr, kPort, c));
  link->pump();
  EXPECT_EQ(states(*client), "ESTABLISHED");
  EXPECT_EQ(states(*server), "SYN-RECEIVED");
  ASSERT_TRUE(link->run_until([&] { return s.conn.has_value(); }, kStart + seconds{10}));
  EXPECT_EQ(ms_between(kStart, link->now()), 1000);  // the initial RTO
  EXPECT_EQ(states(*server), "ESTABLISHED");
  EXPECT_EQ(c.joined(), "connected");  // once, not again for the duplicate SYN-ACK
  EXPECT_EQ(link->sent_by_b(kSyn | kAck).size(), 2u);
}

// The handshake's ACK is lost but the client's first data segment carries the
// same acknowledgment: the server completes the handshake on it and takes the data.
TEST_F(Scenario, LostHandshakeAckRecoveredByData) {
  build();
  ASSERT_TRUE(server->listen(kServerAddr, kPort, s));
  link->drop_next([](const Packet& p) { return p.from_a && is_pure_ack(p); });
  c.to_send = pattern(500, 11);  // sent from on_connected
  ASSERT_TRUE(client->connect(kServerAddr, kPort, c));
  link->pump();
  EXPECT_EQ(states(*client), "ESTABLISHED");
  EXPECT_EQ(states(*server), "ESTABLISHED");
  EXPECT_EQ(s.joined(), "accept");
  EXPECT_EQ(first_difference(s.received, c.to_send), -1);
}

// The client's FIN is lost: it is retransmitted after the RTO and the close goes on.
TEST_F(Scenario, LostFinIsRetransmitted) {
  build();
  establish();
  link->drop_next([](const Packet& p) { return p.from_a && p.has(kFin); });
  const Instant closed_at = link->now();
  EXPECT_FALSE(client->shutdown_write(*c.conn));
  link->pump();
  EXPECT_EQ(states(*client), "FIN-WAIT-1");
  EXPECT_EQ(states(*server), "ESTABLISHED");
  ASSERT_TRUE(link->run_until([&] { return states(*client) == "FIN-WAIT-2"; }, link->now() + seconds{10}));
  EXPECT_EQ(states(*server), "CLOSE-WAIT");
  const auto fins = link->sent_by_a(kFin);
  ASSERT_EQ(fins.size(), 2u);
  EXPECT_EQ(fins[1].tcp.seq, fins[0].tcp.seq);
  // RTT 0 on this link, so the RTO is rto_min (200 ms).
  EXPECT_EQ(ms_between(closed_at, fins[1].at), 200);
  EXPECT_EQ(client->counters()[Counter::tcp_retransmit_timeout], 1u);
}

// The server's FIN is lost while the client waits in FIN-WAIT-2; the server
// retransmits it from LAST-ACK and both finish normally.
TEST_F(Scenario, LostFinFromLastAckIsRetransmitted) {
  build();
  establish();
  EXPECT_FALSE(client->shutdown_write(*c.conn));
  link->pump();
  link->drop_next([](const Packet& p) { return !p.from_a && p.has(kFin); });
  EXPECT_FALSE(server->shutdown_write(*s.conn));
  link->pump();
  EXPECT_EQ(states(*client), "FIN-WAIT-2");
  EXPECT_EQ(states(*server), "LAST-ACK");
  ASSERT_TRUE(link->run_until([&] { return s.closed_reason.has_value(); }, link->now() + seconds{10}));
  EXPECT_EQ(states(*client), "TIME-WAIT");
  EXPECT_EQ(states(*server), "none");
  EXPECT_EQ(c.closed_reason, std::optional{CloseReason::Normal});
  EXPECT_EQ(s.closed_reason, std::optional{CloseReason::Normal});
}

// --------------------------------------------------------------------------------
// Resets

// RFC 9293 3.10.5 ABORT: <SEQ=SND.NXT><CTL=RST>; the peer reports Reset.
TEST_F(Scenario, AbortResetsPeer) {
  build();
  establish();
  c.to_send = pattern(3000, 12);
  c.push(*client);
  link->pump();
  EXPECT_FALSE(client->abort(*c.conn));
  EXPECT_EQ(states(*client), "none");
  link->pump();
  EXPECT_EQ(states(*server), "none");
  EXPECT_EQ(s.joined(), "accept closed:reset");
  EXPECT_EQ(c.joined(), "connected");  // abort() silences the callbacks
  const Packet& rst = link->packets.back();
  EXPECT_EQ(rst.tcp.flags, kRst | kAck);  // an active reset carries the ACK, as Linux
  const auto acks = link->sent_by_b(kAck);
  ASSERT_FALSE(acks.empty());
  EXPECT_EQ(rst.tcp.seq, acks.back().tcp.ack);  // exactly the server's RCV.NXT
  EXPECT_EQ(server->counters()[Counter::tcp_rst_received], 1u);
}

// RFC 1122 4.2.2.13 / RFC 2525 2.17: data arriving for an application that has
// called close() is answered with a RST, and the sender sees Reset.
TEST_F(Scenario, DataAfterCloseDrawsRst) {
  build();
  establish();
  EXPECT_FALSE(server->close(*s.conn));
  link->pump();
  EXPECT_EQ(states(*server), "FIN-WAIT-2");
  EXPECT_EQ(states(*client), "CLOSE-WAIT");
  EXPECT_TRUE(c.peer_closed);
  c.to_send = pattern(100, 13);
  c.push(*client);  // legal in CLOSE-WAIT
  link->pump();
  EXPECT_EQ(states(*server), "none");
  EXPECT_EQ(states(*client), "none");
  EXPECT_EQ(c.joined(), "connected peer_closed closed:reset");
  EXPECT_EQ(server->counters()[Counter::tcp_drop_after_close], 1u);
  EXPECT_TRUE(link->packets.back().has(kRst));
}

// RFC 9293 3.10.4 CLOSE in SYN-SENT deletes the TCB. The server's SYN-ACK then
// finds no connection and draws a RST, which ends the server's SYN-RECEIVED
// child; the application never hears of it.
TEST_F(Scenario, CloseInSynSentLeavesNothingBehind) {
  build();
  ASSERT_TRUE(server->listen(kServerAddr, kPort, s));
  auto id = client->connect(kServerAddr, kPort, c);
  ASSERT_TRUE(id);
  EXPECT_FALSE(client->close(*id));
  EXPECT_EQ(states(*client), "none");
  link->pump();
  EXPECT_EQ(states(*server), "none");
  EXPECT_EQ(s.joined(), "");
  EXPECT_EQ(c.joined(), "");
  EXPECT_EQ(wire::format_tcp_flags(link->packets.back().tcp.flags), "R");
}

// RFC 9293 3.5.2 figure 10 (half-open) with RFC 5961: the client restarts and
// connects again from the same port. Its SYN draws an ACK from the old
// connection; the client answers with a RST carrying that ACK number, which
// resets the old connection exactly; the client's SYN retransmission then opens a
// new one.
TEST_F(Scenario, HalfOpenRecoveredAfterPeerRestart) {
  build();
  ASSERT_TRUE(server->listen(kServerAddr, kPort, s));
  ASSERT_TRUE(client->connect(kServerAddr, kPort, c, local_port(5555)));
  link->pump();
  ASSERT_EQ(states(*server), "ESTABLISHED");
  link->run_for(seconds{10});
  const Instant t = link->now();

  // The client "reboots": a new stack, same address and secret, no memory of it.
  link.reset();
  client = std::make_unique<Stack>(config(kClientAddr, 1), t);
  link = std::make_unique<Link>(*client, *server, t, "client'", "server");
  Recorder c2;
  ASSERT_TRUE(client->connect(kServerAddr, kPort, c2, local_port(5555)));
  link->pump();
  EXPECT_EQ(s.joined(), "accept closed:reset");
  EXPECT_EQ(states(*server), "none");
  EXPECT_EQ(states(*client), "SYN-SENT");
  ASSERT_GE(link->packets.size(), 3u);
  EXPECT_EQ(wire::format_tcp_flags(link->packets[1].tcp.flags), ".");  // ACK from the old connection
  EXPECT_EQ(link->packets[2].tcp.flags, kRst);
  EXPECT_EQ(link->packets[2].tcp.seq, link->packets[1].tcp.ack);

  ASSERT_TRUE(link->run_until([&] { return c2.conn.has_value(); }, link->now() + seconds{10}));
  EXPECT_EQ(c2.joined(), "connected");
  EXPECT_EQ(states(*server), "ESTABLISHED");
  EXPECT_EQ(s.joined(), "accept closed:reset accept");
  link.reset();
  client.reset();  // before c2 goes
}

// --------------------------------------------------------------------------------
// Timers

// An orphaned FIN-WAIT-2 (the application closed, the peer never sends its FIN)
// is dropped after the TIME-WAIT length, as Linux's tcp_fin_timeout does.
TEST_F(Scenario, OrphanedFinWait2TimesOut) {
  build([](StackConfig& cfg) { cfg.tcp.time_wait = seconds{10}; });
  establish();
  EXPECT_FALSE(client->close(*c.conn));
  link->pump();
  EXPECT_EQ(states(*client), "FIN-WAIT-2");
  EXPECT_EQ(states(*server), "CLOSE-WAIT");
  const Instant entered = link->now();
  link->run_until(entered + seconds{10} - milliseconds{1});
  EXPECT_EQ(states(*client), "FIN-WAIT-2");
  link->run_until(entered + seconds{10} + milliseconds{1});
  EXPECT_EQ(states(*client), "none");
  EXPECT_EQ(states(*server), "CLOSE-WAIT");
}

// A connect deadline shorter than the SYN back-off: SYNs at 0, 1 and 3 s, then
// TimedOut at exactly 5 s (the last wait is cut short).
TEST_F(Scenario, ConnectTimeoutDeadline) {
  build([](StackConfig& cfg) { cfg.tcp.connect_timeout = seconds{5}; });
  link->set_filter([](const Packet& p) { return p.from_a; });
  ASSERT_TRUE(client->connect(kServerAddr, kPort, c));
  ASSERT_TRUE(link->run_until([&] { return c.closed_reason.has_value(); }, kStart + seconds{60}));
  EXPECT_EQ(c.joined(), "closed:timed out");
  const auto syns = link->sent_by_a(kSyn);
  ASSERT_EQ(syns.size(), 3u);
  EXPECT_EQ(ms_between(kStart, syns[1].at), 1000);
  EXPECT_EQ(ms_between(kStart, syns[2].at), 3000);
  EXPECT_EQ(ms_between(kStart, *c.closed_at), 5000);
}

// --------------------------------------------------------------------------------
// TIME-WAIT reuse (RFC 6191)

// The server closed first and holds TIME-WAIT; the client connects again from the
// same port a second later. With timestamps its SYN's TSval is newer than
// TS.Recent, so the record is reused and a new connection opens at once.
TEST_F(Scenario, TimeWaitReusedByNewerTimestamp) {
  build();
  ASSERT_TRUE(server->listen(kServerAddr, kPort, s));
  ASSERT_TRUE(client->connect(kServerAddr, kPort, c, local_port(5555)));
  link->pump();
  EXPECT_FALSE(server->shutdown_write(*s.conn));
  link->pump();
  EXPECT_FALSE(client->shutdown_write(*c.conn));
  link->pump();
  ASSERT_EQ(states(*server), "TIME-WAIT");
  ASSERT_EQ(states(*client), "none");
  link->run_for(seconds{1});

  Recorder c2;
  ASSERT_TRUE(client->connect(kServerAddr, kPort, c2, local_port(5555)));
  link->pump();
  EXPECT_EQ(server->counters()[Counter::tcp_time_wait_reused], 1u);
  EXPECT_EQ(server->time_wait_count(), 0u);
  EXPECT_EQ(states(*server), "ESTABLISHED");
  EXPECT_EQ(states(*client), "ESTABLISHED");
  EXPECT_EQ(c2.joined(), "connected");
  EXPECT_EQ(s.joined(), "accept peer_closed closed:normal accept");
  link.reset();
  client.reset();
  server.reset();
}

// The same without timestamps: the SYN's sequence number is beyond the old
// RCV.NXT (the ISN clock moved on by 250000 in a second), so the record is reused.
TEST_F(Scenario, TimeWaitReusedByHigherSequenceWithoutTimestamps) {
  build([](StackConfig& cfg) { cfg.tcp.timestamps = false; });
  ASSERT_TRUE(server->listen(kServerAddr, kPort, s));
  ASSERT_TRUE(client->connect(kServerAddr, kPort, c, local_port(5555)));
  link->pump();
  EXPECT_FALSE(server->shutdown_write(*s.conn));
  link->pump();
  EXPECT_FALSE(client->shutdown_write(*c.conn));
  link->pump();
  ASSERT_EQ(states(*server), "TIME-WAIT");
  link->run_for(seconds{1});

  Recorder c2;
  ASSERT_TRUE(client->connect(kServerAddr, kPort, c2, local_port(5555)));
  link->pump();
  EXPECT_EQ(server->counters()[Counter::tcp_time_wait_reused], 1u);
  EXPECT_EQ(states(*server), "ESTABLISHED");
  EXPECT_EQ(c2.joined(), "connected");
  link.reset();
  client.reset();
  server.reset();
}

// A segment from the server's address and port to the client, built by hand (as an
// attacker or a stale duplicate would send it) and input straight into the client.
void inject_to_client(Stack& client, Instant now, const Packet& like, std::uint8_t flags, SeqNum seq,
                      SeqNum ack, std::optional<std::uint32_t> tsval) {
  wire::TcpHeader h;
  h.src_port = like.tcp.src_port;
  h.dst_port = like.tcp.dst_port;
  h.seq = seq;
  h.ack = ack;
  h.flags = flags;
  h.window = 1000;
  if (tsval) h.options.timestamps = wire::TcpTimestamps{*tsval, 0};
  std::array<std::byte, 80> buf{};
  const std::size_t th = wire::write_tcp_header(std::span(buf).subspan(wire::kIpv4MinHeaderLen), h);
  wire::Ipv4Header ip;
  ip.protocol = wire::kIpProtoTcp;
  ip.src = like.src.v4();
  ip.dst = like.dst.v4();
  const std::size_t hl = wire::write_ipv4_header(buf, ip, static_cast<std::uint16_t>(th));
  wire::finish_tcp_checksum(std::span(buf).subspan(hl, th), ip.src, ip.dst);
  client.input(std::span(buf).first(hl + th), now);
}

// After a four-way close the client holds TIME-WAIT; returns the server's FIN.
Packet close_into_client_time_wait(Link& link, Stack& client, Stack& server, Recorder& c, Recorder& s) {
  EXPECT_FALSE(client.shutdown_write(*c.conn));
  link.pump();
  EXPECT_FALSE(server.shutdown_write(*s.conn));
  link.pump();
  EXPECT_EQ(states(client), "TIME-WAIT");
  return link.sent_by_b(kFin).back();
}

// RFC 1337: a RST, even one exactly at RCV.NXT, does not end TIME-WAIT.
TEST_F(Scenario, RstDoesNotEndTimeWait) {
  build();
  establish();
  const Packet fin = close_into_client_time_wait(*link, *client, *server, c, s);
  const std::size_t before = link->packets.size();
  inject_to_client(*client, link->now(), fin, kRst, fin.tcp.seq + 1, SeqNum{0}, std::nullopt);
  inject_to_client(*client, link->now(), fin, kRst | kAck, fin.tcp.seq + 1, fin.tcp.ack, std::nullopt);
  link->pump();
  EXPECT_EQ(link->packets.size(), before);  // nothing sent
  EXPECT_EQ(client->time_wait_count(), 1u);
  EXPECT_EQ(client->counters()[Counter::tcp_drop_rst_in_time_wait], 2u);
}

// RFC 6191 / RFC 5961 4: a SYN whose timestamp is not newer than TS.Recent may
// not reuse a TIME-WAIT tuple; it gets a (challenge) ACK and the record stays.
TEST_F(Scenario, OldSynInTimeWaitGetsChallengeAck) {
  build();
  establish();
  const Packet fin = close_into_client_time_wait(*link, *client, *server, c, s);
  ASSERT_TRUE(fin.tcp.options.timestamps);
  const std::size_t before = link->packets.size();
  inject_to_client(*client, link->now(), fin, kSyn, fin.tcp.seq + 100000, SeqNum{0},
                   fin.tcp.options.timestamps->tsval - 1);
  link->step();
  ASSERT_EQ(link->packets.size(), before + 1);
  const Packet& ack = link->packets.back();
  EXPECT_TRUE(ack.from_a);
  EXPECT_EQ(ack.tcp.flags, kAck);
  EXPECT_EQ(ack.tcp.ack, fin.tcp.seq + 1);  // <SEQ=SND.NXT><ACK=RCV.NXT>
  EXPECT_EQ(ack.tcp.seq, fin.tcp.ack);
  EXPECT_EQ(client->time_wait_count(), 1u);
  EXPECT_EQ(client->counters()[Counter::tcp_challenge_ack], 1u);
  link->pump();
  EXPECT_EQ(states(*server), "none");  // the server's stack answers that ACK with a RST; no harm
}

// --------------------------------------------------------------------------------
// Cookies

// RFC 4987 with a peer that does not use timestamps: the cookie cannot carry
// window scale or SACK, so the SYN-ACK offers neither and the connection runs
// unscaled on both ends; data still flows both ways.
TEST_F(Scenario, CookieClientWithoutTimestamps) {
  build();
  // Rebuild the client without timestamps.
  link.reset();
  StackConfig cc = config(kClientAddr, 1);
  cc.tcp.timestamps = false;
  client = std::make_unique<Stack>(cc, kStart);
  link = std::make_unique<Link>(*client, *server, kStart);

  ListenOptions opts;
  opts.syn_cookies = tcp::SynCookieMode::Always;
  ASSERT_TRUE(server->listen(kServerAddr, kPort, s, opts));
  ASSERT_TRUE(client->connect(kServerAddr, kPort, c));
  link->pump();
  EXPECT_EQ(server->counters()[Counter::tcp_cookie_sent], 1u);
  EXPECT_EQ(server->counters()[Counter::tcp_cookie_accepted], 1u);
  ASSERT_EQ(states(*server), "ESTABLISHED");
  ASSERT_EQ(states(*client), "ESTABLISHED");
  const Packet& synack = link->packets[1];
  EXPECT_FALSE(synack.tcp.options.window_scale.has_value());
  EXPECT_FALSE(synack.tcp.options.sack_permitted);
  EXPECT_FALSE(synack.tcp.options.timestamps.has_value());
  const auto ci = client->info(*c.conn);
  const auto si = server->info(*s.conn);
  ASSERT_TRUE(ci && si);
  for (const ConnInfo& i : {*ci, *si}) {
    EXPECT_EQ(i.snd_wscale, 0);
    EXPECT_EQ(i.rcv_wscale, 0);
    EXPECT_FALSE(i.ts_ok);
    EXPECT_FALSE(i.sack_ok);
    EXPECT_EQ(i.snd_mss, 1460);
  }
  c.to_send = pattern(200000, 14);
  s.to_send = pattern(150000, 15);
  c.push(*client);
  s.push(*server);
  link->pump();
  EXPECT_EQ(first_difference(s.received, c.to_send), -1) << "server got " << s.received.size();
  EXPECT_EQ(first_difference(c.received, s.to_send), -1) << "client got " << c.received.size();
}

}  // namespace
}  // namespace riptide::scenario
