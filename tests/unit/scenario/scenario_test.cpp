// Two stacks over an in-memory link (link.hpp): the connection lifecycle end to end,
// one behaviour per test, each checking the states both ends pass through. A failing
// test prints the packet trace.
#include <gtest/gtest.h>

#include <iostream>
#include <memory>

#include "fixture.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace riptide::scenario {
namespace {

// --------------------------------------------------------------------------------
// Opening

// RFC 9293 3.5 figure 7: SYN, SYN-ACK, ACK; both ends ESTABLISHED with the options
// both offered (MSS 1460 less the 12-byte timestamp option, wscale 7, SACK, TS).
TEST_F(Scenario, ThreeWayHandshake) {
  build();
  ASSERT_TRUE(server->listen(kServerAddr, kPort, s));
  auto id = client->connect(kServerAddr, kPort, c);
  ASSERT_TRUE(id);
  EXPECT_EQ(states(*client), "SYN-SENT");
  EXPECT_EQ(states(*server), "none");

  EXPECT_EQ(link->step(), 1u);  // SYN
  EXPECT_EQ(states(*server), "SYN-RECEIVED");
  EXPECT_EQ(link->step(), 1u);  // SYN-ACK
  EXPECT_EQ(states(*client), "ESTABLISHED");
  EXPECT_EQ(states(*server), "SYN-RECEIVED");
  EXPECT_EQ(c.joined(), "connected");
  EXPECT_EQ(link->step(), 1u);  // ACK
  EXPECT_EQ(states(*server), "ESTABLISHED");
  EXPECT_EQ(s.joined(), "accept");
  EXPECT_EQ(link->step(), 0u);  // and then nothing

  ASSERT_EQ(link->packets.size(), 3u);
  const Packet& syn = link->packets[0];
  const Packet& synack = link->packets[1];
  const Packet& ack = link->packets[2];
  EXPECT_EQ(syn.tcp.flags, kSyn);
  EXPECT_EQ(synack.tcp.flags, kSyn | kAck);
  EXPECT_EQ(ack.tcp.flags, kAck);
  EXPECT_EQ(synack.tcp.ack, syn.tcp.seq + 1);  // SYN consumes one sequence number
  EXPECT_EQ(ack.tcp.seq, syn.tcp.seq + 1);
  EXPECT_EQ(ack.tcp.ack, synack.tcp.seq + 1);
  EXPECT_EQ(syn.tcp.options.mss, std::optional<std::uint16_t>{1460});
  EXPECT_EQ(syn.tcp.options.window_scale, std::optional<std::uint8_t>{7});
  EXPECT_TRUE(syn.tcp.options.sack_permitted);
  ASSERT_TRUE(syn.tcp.options.timestamps);
  ASSERT_TRUE(synack.tcp.options.timestamps);
  EXPECT_EQ(synack.tcp.options.timestamps->tsecr, syn.tcp.options.timestamps->tsval);

  const auto ci = client->info(*c.conn);
  const auto si = server->info(*s.conn);
  ASSERT_TRUE(ci && si);
  EXPECT_EQ(ci->iss, syn.tcp.seq);
  EXPECT_EQ(si->irs, syn.tcp.seq);
  EXPECT_EQ(ci->irs, synack.tcp.seq);
  EXPECT_EQ(si->iss, synack.tcp.seq);
  for (const ConnInfo& i : {*ci, *si}) {
    EXPECT_TRUE(i.ts_ok);
    EXPECT_TRUE(i.sack_ok);
    EXPECT_EQ(i.snd_wscale, 7);
    EXPECT_EQ(i.rcv_wscale, 7);
    EXPECT_EQ(i.snd_mss, 1448);
  }
  EXPECT_EQ(ci->key.remote_port, kPort);
  EXPECT_GE(ci->key.local_port, 32768);
  EXPECT_EQ(client->counters()[Counter::tcp_active_open], 1u);
  EXPECT_EQ(server->counters()[Counter::tcp_passive_open], 1u);
}

// RFC 9293 3.5 figure 8: both ends send SYN at once; each goes SYN-SENT ->
// SYN-RECEIVED -> ESTABLISHED, and both report on_connected.
TEST_F(Scenario, SimultaneousOpen) {
  build();
  ASSERT_TRUE(client->connect(kServerAddr, 6000, c, local_port(5000)));
  ASSERT_TRUE(server->connect(kClientAddr, 5000, s, local_port(6000)));
  EXPECT_EQ(states(*client), "SYN-SENT");
  EXPECT_EQ(states(*server), "SYN-SENT");

  EXPECT_EQ(link->step(), 2u);  // the SYNs cross
  EXPECT_EQ(states(*client), "SYN-RECEIVED");
  EXPECT_EQ(states(*server), "SYN-RECEIVED");
  link->pump();  // SYN-ACKs cross, then ACKs
  EXPECT_EQ(states(*client), "ESTABLISHED");
  EXPECT_EQ(states(*server), "ESTABLISHED");
  EXPECT_EQ(c.joined(), "connected");
  EXPECT_EQ(s.joined(), "connected");
  EXPECT_EQ(link->sent_by_a(kSyn).size(), 2u);  // SYN, SYN-ACK
  EXPECT_EQ(link->sent_by_b(kSyn).size(), 2u);

  // The sequence numbers agree: data flows both ways.
  c.to_send = pattern(3000, 1);
  s.to_send = pattern(5000, 2);
  c.push(*client);
  s.push(*server);
  link->pump();
  EXPECT_EQ(first_difference(s.received, c.to_send), -1);
  EXPECT_EQ(first_difference(c.received, s.to_send), -1);
}

// A stack connects to its own address and port: its SYN comes back to it
// (simultaneous open with itself), and the connection works and closes.
TEST_F(Scenario, SelfConnect) {
  Stack self(config(kClientAddr, 3), kStart);
  link = std::make_unique<Link>(self, self, kStart, "self", "self");
  auto id = self.connect(kClientAddr, 7000, c, local_port(7000));
  ASSERT_TRUE(id);
  EXPECT_EQ(states(self), "SYN-SENT");
  EXPECT_EQ(link->step(), 1u);  // our SYN, to ourselves
  EXPECT_EQ(states(self), "SYN-RECEIVED");
  link->pump();
  EXPECT_EQ(states(self), "ESTABLISHED");
  EXPECT_EQ(self.connection_count(), 1u);
  EXPECT_EQ(c.joined(), "connected");
  const auto i = self.info(*id);
  ASSERT_TRUE(i);
  EXPECT_EQ(i->key.local_port, i->key.remote_port);
  EXPECT_EQ(i->iss, i->irs);

  c.to_send = pattern(4000, 3);
  c.push(self);
  link->pump();
  EXPECT_EQ(first_difference(c.received, c.to_send), -1);

  // Closing meets our own FIN: FIN-WAIT-1 -> CLOSING -> TIME-WAIT.
  EXPECT_FALSE(self.shutdown_write(*id));
  EXPECT_EQ(states(self), "FIN-WAIT-1");
  link->step();
  EXPECT_EQ(states(self), "CLOSING");
  link->step();
  EXPECT_EQ(states(self), "TIME-WAIT");
  EXPECT_EQ(c.joined(), "connected peer_closed closed:normal");
  link->run_for(seconds{61});
  EXPECT_EQ(states(self), "none");
  link.reset();  // before `self` goes
}

// RFC 9293 3.10.7.1: a SYN to a port with no listener draws <SEQ=0><ACK=SEG.SEQ+1>
// <CTL=RST,ACK>; the client reports on_closed(Refused).
TEST_F(Scenario, SynToClosedPortGetsRst) {
  build();
  ASSERT_TRUE(client->connect(kServerAddr, 9, c));
  link->pump();
  EXPECT_EQ(c.joined(), "closed:refused");
  EXPECT_EQ(states(*client), "none");
  EXPECT_EQ(client->connection_count(), 0u);
  ASSERT_EQ(link->packets.size(), 2u);
  const Packet& syn = link->packets[0];
  const Packet& rst = link->packets[1];
  EXPECT_EQ(rst.tcp.flags, kRst | kAck);
  EXPECT_EQ(rst.tcp.seq, SeqNum{0});
  EXPECT_EQ(rst.tcp.ack, syn.tcp.seq + 1);
  EXPECT_EQ(server->counters()[Counter::tcp_rst_no_connection], 1u);
  EXPECT_EQ(client->counters()[Counter::tcp_rst_received], 1u);
  EXPECT_EQ(client->counters()[Counter::tcp_conn_closed], 0u) << "never opened: not counted closed";
}

// RFC 6298 / RFC 9293 3.8.3: with the server silent, the SYN is retransmitted with
// exponential back-off from a 1 s RTO: at 1, 3, 7, 15, 31, 63 s (syn_retries = 6),
// and the connect fails with TimedOut 64 s after the last one, at 127 s.
TEST_F(Scenario, ConnectTimeoutAfterBackoff) {
  build();
  ASSERT_TRUE(server->listen(kServerAddr, kPort, s));
  link->set_filter([](const Packet& p) { return p.from_a; });  // nothing reaches the server
  ASSERT_TRUE(client->connect(kServerAddr, kPort, c));
  ASSERT_TRUE(link->run_until([&] { return c.closed_reason.has_value(); }, kStart + seconds{300}));
  EXPECT_EQ(c.joined(), "closed:timed out");

  const auto syns = link->sent_by_a(kSyn);
  ASSERT_EQ(syns.size(), 7u);
  const std::int64_t want_ms[] = {0, 1000, 3000, 7000, 15000, 31000, 63000};
  for (std::size_t i = 0; i < syns.size(); ++i) {
    EXPECT_EQ(ms_between(syns[0].at, syns[i].at), want_ms[i]) << "SYN #" << i;
    EXPECT_EQ(syns[i].tcp.seq, syns[0].tcp.seq);  // the same ISN each time
    EXPECT_TRUE(syns[i].dropped);
  }
  EXPECT_EQ(ms_between(syns[0].at, *c.closed_at), 127000);
  EXPECT_EQ(client->counters()[Counter::tcp_connect_timeout], 1u);
  EXPECT_EQ(client->counters()[Counter::tcp_retransmit_segment], 6u);
  EXPECT_EQ(states(*client), "none");
  EXPECT_EQ(server->counters()[Counter::tcp_in], 0u);
}

// --------------------------------------------------------------------------------
// Closing

// RFC 9293 3.6 figure 12, client closing first: client FIN-WAIT-1 -> FIN-WAIT-2 ->
// TIME-WAIT, server CLOSE-WAIT -> LAST-ACK -> CLOSED. Both ends use shutdown_write
// so they keep hearing about the connection (after close() the stack reports
// nothing more), and both see on_closed(Normal).
TEST_F(Scenario, FourWayCloseActiveAndPassive) {
  build();
  establish();
  EXPECT_FALSE(client->shutdown_write(*c.conn));
  EXPECT_EQ(states(*client), "FIN-WAIT-1");
  EXPECT_EQ(states(*server), "ESTABLISHED");

  EXPECT_EQ(link->step(), 1u);  // client FIN
  EXPECT_EQ(states(*server), "CLOSE-WAIT");
  EXPECT_EQ(s.joined(), "accept peer_closed");
  EXPECT_EQ(states(*client), "FIN-WAIT-1");
  EXPECT_EQ(link->step(), 1u);  // server ACK of it
  EXPECT_EQ(states(*client), "FIN-WAIT-2");
  EXPECT_EQ(link->step(), 0u);

  EXPECT_FALSE(server->shutdown_write(*s.conn));
  EXPECT_EQ(states(*server), "LAST-ACK");
  EXPECT_EQ(link->step(), 1u);  // server FIN
  EXPECT_EQ(states(*client), "TIME-WAIT");
  EXPECT_EQ(client->time_wait_count(), 1u);
  EXPECT_EQ(client->connection_count(), 0u);  // a compact record, not a connection
  EXPECT_EQ(c.joined(), "connected peer_closed closed:normal");
  EXPECT_EQ(states(*server), "LAST-ACK");
  EXPECT_EQ(link->step(), 1u);  // client ACK of it
  EXPECT_EQ(states(*server), "none");
  EXPECT_EQ(server->connection_count(), 0u);
  EXPECT_EQ(s.joined(), "accept peer_closed closed:normal");
  EXPECT_EQ(link->step(), 0u);

  const auto flags = [&] {
    std::vector<std::string> v;
    for (const Packet& p : link->packets) v.push_back(wire::format_tcp_flags(p.tcp.flags));
    return v;
  }();
  EXPECT_EQ(flags, (std::vector<std::string>{"S", "S.", ".", "F.", ".", "F.", "."}));
  // FIN consumes one sequence number: each ACK is one past the FIN.
  EXPECT_EQ(link->packets[4].tcp.ack, link->packets[3].tcp.seq + 1);
  EXPECT_EQ(link->packets[6].tcp.ack, link->packets[5].tcp.seq + 1);
  EXPECT_EQ(client->counters()[Counter::tcp_time_wait_entered], 1u);
  EXPECT_EQ(server->counters()[Counter::tcp_time_wait_entered], 0u);
  // The balance scripts/soak checks: opened = closed + records still open.
  EXPECT_EQ(client->counters()[Counter::tcp_conn_closed], 1u) << "TIME-WAIT releases the record";
  EXPECT_EQ(server->counters()[Counter::tcp_conn_closed], 1u);
}

// Half-close (RFC 9293 3.6): the client shuts its write side; the server, in
// CLOSE-WAIT, goes on sending 100 KB that the client (FIN-WAIT-2) receives intact;
// then the server closes.
TEST_F(Scenario, HalfCloseWithDataAfterFin) {
  build();
  establish();
  c.to_send = pattern(1000, 4);  // some data first, to close behind
  c.push(*client);
  EXPECT_FALSE(client->shutdown_write(*c.conn));
  EXPECT_EQ(client->send(*c.conn, pattern(10, 5)).error(), Error::Closing);
  link->pump();
  EXPECT_EQ(states(*client), "FIN-WAIT-2");
  EXPECT_EQ(states(*server), "CLOSE-WAIT");
  EXPECT_TRUE(s.peer_closed);
  EXPECT_EQ(first_difference(s.received, c.to_send), -1);

  s.to_send = pattern(100 * 1024, 6);
  s.push(*server);
  link->pump();
  EXPECT_EQ(s.sent, s.to_send.size());
  EXPECT_EQ(first_difference(c.received, s.to_send), -1)
      << "client got " << c.received.size() << " of " << s.to_send.size();
  EXPECT_EQ(states(*client), "FIN-WAIT-2");
  EXPECT_EQ(states(*server), "CLOSE-WAIT");

  EXPECT_FALSE(server->close(*s.conn));
  EXPECT_EQ(states(*server), "LAST-ACK");
  link->pump();
  EXPECT_EQ(states(*client), "TIME-WAIT");
  EXPECT_EQ(states(*server), "none");
  EXPECT_EQ(c.joined(), "connected peer_closed closed:normal");
  EXPECT_EQ(s.joined(), "accept peer_closed");  // close(): nothing more reported
}

// RFC 9293 3.6 figure 13: both close() at the same instant; both FINs cross, both
// go FIN-WAIT-1 -> CLOSING -> TIME-WAIT.
TEST_F(Scenario, SimultaneousClose) {
  build();
  establish();
  EXPECT_FALSE(client->close(*c.conn));
  EXPECT_FALSE(server->close(*s.conn));
  EXPECT_EQ(states(*client), "FIN-WAIT-1");
  EXPECT_EQ(states(*server), "FIN-WAIT-1");
  EXPECT_EQ(link->step(), 2u);  // the FINs cross
  EXPECT_EQ(states(*client), "CLOSING");
  EXPECT_EQ(states(*server), "CLOSING");
  EXPECT_EQ(link->step(), 2u);  // the ACKs cross
  EXPECT_EQ(states(*client), "TIME-WAIT");
  EXPECT_EQ(states(*server), "TIME-WAIT");
  EXPECT_EQ(link->step(), 0u);
  EXPECT_EQ(client->counters()[Counter::tcp_time_wait_entered], 1u);
  EXPECT_EQ(server->counters()[Counter::tcp_time_wait_entered], 1u);
  EXPECT_EQ(c.joined(), "connected");  // close() silences the callbacks
  EXPECT_EQ(s.joined(), "accept");
}

// RFC 9293 3.3.2: TIME-WAIT lasts 2*MSL (here time_wait = 10 s, an MSL of 5 s).
TEST_F(Scenario, TimeWaitExpiresAfter2Msl) {
  const Duration two_msl = seconds{10};
  build([&](StackConfig& cfg) { cfg.tcp.time_wait = two_msl; });
  establish();
  link->run_for(milliseconds{500});
  EXPECT_FALSE(client->shutdown_write(*c.conn));
  link->pump();
  EXPECT_FALSE(server->shutdown_write(*s.conn));
  link->pump();
  ASSERT_EQ(states(*client), "TIME-WAIT");
  const Instant entered = link->now();

  link->run_until(entered + two_msl - milliseconds{1});
  EXPECT_EQ(client->time_wait_count(), 1u);
  EXPECT_EQ(states(*client), "TIME-WAIT");
  link->run_until(entered + two_msl + milliseconds{1});
  EXPECT_EQ(client->time_wait_count(), 0u);
  EXPECT_EQ(states(*client), "none");
}

// RFC 9293 3.10.7.4 TIME-WAIT: the client's last ACK is lost, the server
// retransmits its FIN; the TIME-WAIT record ACKs it and restarts its 2*MSL.
TEST_F(Scenario, TimeWaitAcksRetransmittedFinAndRestarts) {
  const Duration two_msl = seconds{10};
  build([&](StackConfig& cfg) { cfg.tcp.time_wait = two_msl; });
  establish();
  EXPECT_FALSE(client->shutdown_write(*c.conn));
  link->pump();
  EXPECT_FALSE(server->shutdown_write(*s.conn));
  link->drop_next([](const Packet& p) { return p.from_a && p.tcp.flags == kAck; });
  link->pump();
  ASSERT_EQ(states(*client), "TIME-WAIT");
  ASSERT_EQ(states(*server), "LAST-ACK");
  const Instant entered = link->now();

  ASSERT_TRUE(link->run_until([&] { return states(*server) == "none"; }, entered + seconds{5}));
  const Instant restarted = link->now();
  EXPECT_GT(restarted, entered);
  EXPECT_EQ(link->sent_by_b(kFin).size(), 2u);
  EXPECT_EQ(s.joined(), "accept peer_closed closed:normal");

  link->run_until(entered + two_msl + milliseconds{1});
  EXPECT_EQ(client->time_wait_count(), 1u) << "the retransmitted FIN restarts 2*MSL";
  link->run_until(restarted + two_msl - milliseconds{1});
  EXPECT_EQ(client->time_wait_count(), 1u);
  link->run_until(restarted + two_msl + milliseconds{1});
  EXPECT_EQ(client->time_wait_count(), 0u);
}

// --------------------------------------------------------------------------------
// Load

// Writes a spoofed SYN (as a flood would) into `out`; returns its length.
std::size_t spoofed_syn(std::span<std::byte> out, Ipv4Addr src, std::uint16_t sport, SeqNum seq) {
  wire::TcpHeader h;
  h.src_port = sport;
  h.dst_port = kPort;
  h.seq = seq;
  h.flags = kSyn;
  h.window = 64240;
  h.options.mss = 1460;
  h.options.sack_permitted = true;
  h.options.timestamps = wire::TcpTimestamps{seq.raw() ^ 0x5555u, 0};
  h.options.window_scale = 7;
  const std::size_t th = wire::write_tcp_header(out.subspan(wire::kIpv4MinHeaderLen), h);
  wire::Ipv4Header ip;
  ip.protocol = wire::kIpProtoTcp;
  ip.src = src;
  ip.dst = kServerAddr;
  ip.id = sport;
  const std::size_t hl = wire::write_ipv4_header(out, ip, static_cast<std::uint16_t>(th));
  wire::finish_tcp_checksum(out.subspan(hl, th), src, kServerAddr);
  return hl + th;
}

// RFC 4987 3.6: 1000 spoofed SYNs from 198.18.0.0/15 fill a listener's SYN queue
// (backlog 8); the rest are answered with cookies. A real client that connects
// during the flood completes its handshake through a cookie, with its window
// scale and SACK carried in the timestamp, and data flows both ways.
TEST_F(Scenario, SynFloodThenCookieClient) {
  build();
  ListenOptions opts;
  opts.backlog = 8;
  ASSERT_TRUE(server->listen(kServerAddr, kPort, s, opts));
  std::array<std::byte, 128> buf{};
  for (std::uint32_t i = 0; i < 1000; ++i) {
    // 198.19.x.y and 198.18.1..3.y: never the two real hosts.
    const Ipv4Addr src = i % 2 == 0 ? Ipv4Addr::from_octets(198, 19, static_cast<std::uint8_t>(i / 250),
                                                             static_cast<std::uint8_t>(1 + i % 250))
                                    : Ipv4Addr::from_octets(198, 18, static_cast<std::uint8_t>(1 + i % 3),
                                                            static_cast<std::uint8_t>(i % 256));
    const auto sport = static_cast<std::uint16_t>(1024 + (i * 7919) % 60000);
    const std::size_t n = spoofed_syn(buf, src, sport, SeqNum{i * 2654435761u});
    server->input(std::span(buf).first(n), link->now());
    link->pump();  // the SYN-ACKs go to the client's side, which is not them: dropped
  }
  EXPECT_EQ(states(*server), "SYN-RECEIVED x8");
  EXPECT_EQ(server->counters()[Counter::tcp_syn_queue_full], 992u);
  EXPECT_EQ(server->counters()[Counter::tcp_cookie_sent], 992u);
  EXPECT_EQ(client->counters()[Counter::ip_drop_not_ours], 1000u);

  link->run_for(milliseconds{100});
  ASSERT_TRUE(client->connect(kServerAddr, kPort, c));
  link->pump();
  EXPECT_EQ(server->counters()[Counter::tcp_cookie_sent], 993u);
  EXPECT_EQ(server->counters()[Counter::tcp_cookie_accepted], 1u);
  EXPECT_EQ(server->counters()[Counter::tcp_cookie_rejected], 0u);
  EXPECT_EQ(c.joined(), "connected");
  EXPECT_EQ(s.joined(), "accept");
  EXPECT_EQ(states(*client), "ESTABLISHED");
  EXPECT_EQ(states(*server), "SYN-RECEIVED x8, ESTABLISHED");
  ASSERT_TRUE(s.conn);
  const auto si = server->info(*s.conn);
  ASSERT_TRUE(si);
  EXPECT_TRUE(si->ts_ok);
  EXPECT_TRUE(si->sack_ok);
  EXPECT_EQ(si->snd_wscale, 7);  // the client's shift, recovered from TSecr
  EXPECT_EQ(si->snd_mss, 1448);

  c.to_send = pattern(20000, 7);
  s.to_send = pattern(30000, 8);
  c.push(*client);
  s.push(*server);
  link->pump();
  EXPECT_EQ(first_difference(s.received, c.to_send), -1) << "server got " << s.received.size();
  EXPECT_EQ(first_difference(c.received, s.to_send), -1) << "client got " << c.received.size();
}

// 1 MB each way at once over a link that loses one packet in 50: retransmission
// recovers every loss and both byte streams arrive intact; then a clean close.
TEST_F(Scenario, DataBothWaysLarge) {
  build();
  establish();
  std::size_t crossing = 0;
  link->set_filter([&crossing](const Packet&) { return ++crossing % 50 == 0; });
  c.to_send = pattern(1 << 20, 9);
  s.to_send = pattern(1 << 20, 10);
  c.push(*client);
  s.push(*server);
  const bool done = link->run_until(
      [&] { return c.received.size() >= s.to_send.size() && s.received.size() >= c.to_send.size(); },
      link->now() + seconds{600});
  EXPECT_TRUE(done) << "client got " << c.received.size() << ", server got " << s.received.size();
  EXPECT_EQ(first_difference(s.received, c.to_send), -1);
  EXPECT_EQ(first_difference(c.received, s.to_send), -1);
  std::size_t dropped = 0;
  for (const Packet& p : link->packets) dropped += p.dropped ? 1 : 0;
  EXPECT_GT(dropped, 20u);
  EXPECT_GT(client->counters()[Counter::tcp_retransmit_segment], 0u);
  EXPECT_GT(server->counters()[Counter::tcp_retransmit_segment], 0u);

  EXPECT_FALSE(client->shutdown_write(*c.conn));
  EXPECT_FALSE(server->shutdown_write(*s.conn));
  EXPECT_TRUE(link->run_until([&] { return c.closed_reason && s.closed_reason; }, link->now() + seconds{120}));
  EXPECT_EQ(c.closed_reason, std::optional{CloseReason::Normal});
  EXPECT_EQ(s.closed_reason, std::optional{CloseReason::Normal});
}

// --------------------------------------------------------------------------------
// The lean connect-request-response-close exchange (what riptide-load's CRR does):
// the request rides on the handshake's last ACK, the server's FIN on the response,
// the client's FIN on its ACK of the response. Six segments, nothing else.

class CrrEnd : public Handler {
 public:
  explicit CrrEnd(bool client) : client_(client) {}
  std::string got;
  std::optional<CloseReason> closed;
  void on_connected(Stack& s, ConnId c) override { send(s, c, "GET"); }
  void on_data(Stack& s, ConnId c, std::span<const std::byte> d) override {
    got.append(reinterpret_cast<const char*>(d.data()), d.size());
    if (!client_ && got == "GET") send(s, c, "RESPONSE");
    (void)s.close(c);  // both ends close as soon as their exchange is done
  }
  void on_closed(Stack&, ConnId, CloseReason r) override { closed = r; }

 private:
  static void send(Stack& s, ConnId c, std::string_view m) {
    (void)s.send(c, std::as_bytes(std::span(m.data(), m.size())));
  }
  bool client_;
};

TEST_F(Scenario, ConnectRequestResponseCloseInSixSegments) {
  build();
  CrrEnd cli(true), srv(false);
  ListenOptions lo;
  ASSERT_TRUE(server->listen(kServerAddr, kPort, srv, lo));
  ASSERT_TRUE(client->connect(kServerAddr, kPort, cli));
  link->pump();
  EXPECT_EQ(cli.got, "RESPONSE");
  EXPECT_EQ(srv.got, "GET");
  // close() detached both applications; the stacks finished the job. The server's
  // FIN went first: it holds TIME-WAIT. The client closed from on_data, but the
  // segment's FIN counts first (as if it had read to the end): LAST-ACK, then gone.
  EXPECT_EQ(states(*client), "none");
  EXPECT_EQ(states(*server), "TIME-WAIT");
  ASSERT_EQ(link->packets.size(), 6u) << link->trace();
  const std::uint8_t want[6] = {kSyn, kSyn | kAck, kAck | kPsh, kAck | kPsh | kFin, kAck | kFin, kAck};
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(link->packets[i].tcp.flags, want[i]) << "segment " << i;
}

}  // namespace
}  // namespace riptide::scenario
