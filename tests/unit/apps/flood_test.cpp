// riptide-load's lab flood modes (apps/common/flood.hpp): the lab-range guard and
// parameter checks, the source picker, the token bucket, the sequence source, the
// packet builder (parsed back with lib/wire's views, checksums verified), and the
// generators against a server Stack over the scenario link on a virtual clock.
#include <gtest/gtest.h>

#include <set>

#include "../scenario/link.hpp"
#include "common/byte_order.hpp"
#include "common/flood.hpp"
#include "common/servers.hpp"
#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace riptide::apps::flood {
namespace {

using namespace wire::tcp_flags;
using scenario::kClientAddr;
using scenario::kServerAddr;
using scenario::kStart;

Ipv4Addr ip(const char* s) { return *Ipv4Addr::parse(s); }

// --- the lab range and the parameters ----------------------------------------------

TEST(FloodRange, OnlyBenchmarkingAddresses) {
  EXPECT_TRUE(in_lab_range(ip("198.18.0.0")));
  EXPECT_TRUE(in_lab_range(ip("198.19.255.255")));
  EXPECT_FALSE(in_lab_range(ip("198.17.255.255")));
  EXPECT_FALSE(in_lab_range(ip("198.20.0.0")));
  EXPECT_FALSE(in_lab_range(ip("10.0.0.1")));
}

TEST(FloodRange, ParsesSingleDashAndPrefix) {
  auto a = parse_addr_range("198.19.0.0/16");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->lo, ip("198.19.0.0"));
  EXPECT_EQ(a->hi, ip("198.19.255.255"));
  EXPECT_EQ(a->size(), 65536u);
  a = parse_addr_range("198.18.1.10-198.18.1.20");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->size(), 11u);
  a = parse_addr_range("198.18.0.7");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->lo, a->hi);
  EXPECT_FALSE(parse_addr_range("198.18.0.1/15")) << "host bits set";
  EXPECT_FALSE(parse_addr_range("198.18.0.9-198.18.0.1")) << "backwards";
  EXPECT_FALSE(parse_addr_range("198.18.0/24"));
  EXPECT_FALSE(parse_addr_range("198.18.0.0/33"));
  auto p = parse_port_range("1024-65535");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->size(), 64512u);
  EXPECT_FALSE(parse_port_range("0-10"));
  EXPECT_FALSE(parse_port_range("10-65536"));
  EXPECT_FALSE(parse_port_range("20-10"));
}

FloodParams good() {
  FloodParams p;
  p.target = ip("198.18.0.1");
  p.rate = 1000;
  p.count = 100;
  p.duration = std::chrono::seconds{1};
  return p;
}

TEST(FloodParams, RefusesAnythingOutsideTheLabOrUnbounded) {
  EXPECT_FALSE(validate(good()));
  auto p = good();
  p.target = ip("192.168.1.1");
  ASSERT_TRUE(validate(p));
  EXPECT_NE(validate(p)->find("outside 198.18.0.0/15"), std::string::npos) << *validate(p);
  p = good();
  p.sources = *parse_addr_range("198.19.255.0-198.20.0.10");
  EXPECT_TRUE(validate(p)) << "a source range that leaves the lab range";
  p = good();
  p.rate = 0;
  EXPECT_TRUE(validate(p));
  p = good();
  p.count = 0;
  EXPECT_TRUE(validate(p)) << "unbounded in count";
  p = good();
  p.duration = Duration::zero();
  EXPECT_TRUE(validate(p)) << "unbounded in time";
  p = good();
  p.duration = kMaxDuration + std::chrono::seconds{1};
  EXPECT_TRUE(validate(p));
  p = good();
  p.kind = Kind::DataClosed;
  p.payload = 1401;
  EXPECT_TRUE(validate(p));
}

TEST(FloodParams, KindNamesRoundTrip) {
  for (Kind k : {Kind::Syn, Kind::Ack, Kind::Rst, Kind::DataClosed, Kind::Hold}) {
    EXPECT_EQ(parse_kind(to_string(k)), k);
  }
  EXPECT_FALSE(parse_kind("smurf"));
}

// --- pure parts ------------------------------------------------------------------------

TEST(SourcePicker, AddressesFastestEveryPairOnceBeforeRepeats) {
  const SourcePicker s(*parse_addr_range("198.19.0.0-198.19.0.9"), PortRange{2000, 2004});
  EXPECT_EQ(s.at(0).addr, ip("198.19.0.0"));
  EXPECT_EQ(s.at(1).addr, ip("198.19.0.1"));
  EXPECT_EQ(s.at(0).port, 2000);
  EXPECT_EQ(s.at(10).addr, ip("198.19.0.0"));
  EXPECT_EQ(s.at(10).port, 2001);
  std::set<std::pair<std::uint32_t, std::uint16_t>> seen;
  for (std::uint64_t i = 0; i < 50; ++i) seen.insert({s.at(i).addr.value, s.at(i).port});
  EXPECT_EQ(seen.size(), 50u);
  EXPECT_EQ(s.at(50).addr, s.at(0).addr);
  EXPECT_EQ(s.at(50).port, s.at(0).port);
}

TEST(TokenBucket, RateOnTheCallersClockWithABurstCap) {
  TokenBucket b(1000, 20);  // 1000/s, at most 20 kept
  const Instant t0 = kStart;
  EXPECT_EQ(b.available(t0), 1u);
  b.take(1);
  EXPECT_EQ(b.available(t0), 0u);
  EXPECT_EQ(b.available(t0 + std::chrono::milliseconds{10}), 10u);
  b.take(4);
  EXPECT_EQ(b.available(t0 + std::chrono::milliseconds{10}), 6u);
  EXPECT_EQ(b.available(t0 + std::chrono::seconds{5}), 20u) << "a stall is not made up beyond the burst";
  b.take(20);
  EXPECT_EQ(b.available(t0 + std::chrono::seconds{5}), 0u);
}

TEST(SeqSource, SweepStridesAndRandomIsSeeded) {
  SeqSource in(Window::In, 65536, 7);
  const std::uint32_t a = in.next(), b = in.next(), c = in.next();
  EXPECT_EQ(b - a, 65536u);
  EXPECT_EQ(c - b, 65536u);
  SeqSource r1(Window::Out, 0, 7), r2(Window::Out, 0, 7), r3(Window::Out, 0, 8);
  std::set<std::uint32_t> seen;
  bool differs = false;
  for (int i = 0; i < 1000; ++i) {
    const std::uint32_t x = r1.next();
    EXPECT_EQ(x, r2.next());
    differs = differs || x != r3.next();
    seen.insert(x);
  }
  EXPECT_TRUE(differs);
  EXPECT_GT(seen.size(), 990u);
}

TEST(BuildPacket, SynParsesBackWithValidChecksums) {
  FloodPacket k;
  k.src = ip("198.19.1.2");
  k.dst = ip("198.18.0.1");
  k.sport = 40000;
  k.dport = 80;
  k.seq = 0x12345678;
  k.flags = kSyn;
  k.syn_options = true;
  k.ip_id = 9;
  std::array<std::byte, kMaxPacket> buf;
  buf.fill(std::byte{0xEE});
  const std::size_t n = build_packet(buf, k);
  ASSERT_GT(n, 0u);
  auto v = wire::Ipv4View::parse(std::span<const std::byte>(buf.data(), n));
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->checksum_valid());
  EXPECT_EQ(v->src(), k.src);
  EXPECT_EQ(v->dst(), k.dst);
  EXPECT_EQ(v->id(), 9);
  EXPECT_EQ(v->protocol(), wire::kIpProtoTcp);
  auto t = wire::TcpView::parse(v->payload());
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->checksum_valid(k.src, k.dst));
  EXPECT_EQ(t->src_port(), 40000);
  EXPECT_EQ(t->dst_port(), 80);
  EXPECT_EQ(t->seq(), SeqNum{0x12345678});
  EXPECT_EQ(t->flags(), kSyn);
  EXPECT_EQ(t->options().mss, 1460);
  EXPECT_TRUE(t->options().sack_permitted);
  EXPECT_EQ(t->options().window_scale, 7);
  EXPECT_TRUE(t->payload().empty());
  EXPECT_EQ(buf[n], std::byte{0xEE}) << "nothing written past the packet";
}

TEST(BuildPacket, DataCarriesItsPayloadAndOffloadLeavesThePseudoHeaderSum) {
  FloodPacket k;
  k.src = ip("198.19.1.2");
  k.dst = ip("198.18.0.1");
  k.sport = 1;
  k.dport = 9;
  k.flags = kAck | kPsh;
  k.payload = 100;
  std::array<std::byte, kMaxPacket> buf;
  const std::size_t n = build_packet(buf, k);
  ASSERT_EQ(n, 20u + 20u + 100u);
  auto v = wire::Ipv4View::parse(std::span<const std::byte>(buf.data(), n));
  ASSERT_TRUE(v);
  auto t = wire::TcpView::parse(v->payload());
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->checksum_valid(k.src, k.dst));
  EXPECT_EQ(t->payload().size(), 100u);
  const std::size_t m = build_packet(buf, k, true);
  ASSERT_EQ(m, n);
  EXPECT_EQ(load_be16(buf.data() + 10), 0) << "IP checksum left to the port";
  const std::uint32_t ph = wire::pseudo_header_sum(k.src, k.dst, wire::kIpProtoTcp, 120);
  EXPECT_EQ(load_be16(buf.data() + 20 + 16), static_cast<std::uint16_t>(~wire::checksum_fold(ph)));
  EXPECT_EQ(build_packet(std::span<std::byte>(buf.data(), 100), k), 0u) << "too small: nothing";
}

TEST(PacketFor, FlagsPerKindAndTargetPortsCycle) {
  FloodParams p = good();
  p.target_ports = PortRange{9000, 9002};
  const SourcePicker src(p.sources, p.source_ports);
  SeqSource seq(Window::Out, 0, 1);
  p.kind = Kind::Syn;
  EXPECT_EQ(packet_for(p, src, seq, 0).flags, kSyn);
  EXPECT_TRUE(packet_for(p, src, seq, 0).syn_options);
  p.kind = Kind::Ack;
  EXPECT_EQ(packet_for(p, src, seq, 0).flags, kAck);
  p.kind = Kind::Rst;
  EXPECT_EQ(packet_for(p, src, seq, 0).flags, kRst);
  p.kind = Kind::DataClosed;
  const FloodPacket d = packet_for(p, src, seq, 4);
  EXPECT_EQ(d.flags, kAck | kPsh);
  EXPECT_EQ(d.payload, 64);
  EXPECT_EQ(d.dport, 9001);
  EXPECT_EQ(d.dst, p.target);
  EXPECT_TRUE(in_lab_range(d.src));
}

// --- the generators against a server Stack ----------------------------------------------

struct Bench {
  Bench() {
    auto cfg = [&](Ipv4Addr a, std::uint8_t key) {
      StackConfig c;
      c.local_addrs = {a};
      c.secret = {key, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, key};
      c.max_connections = 256;
      c.max_time_wait = 256;
      c.send_chunks = 4096;
      c.tcp.default_backlog = 16;
      return c;
    };
    flooder = std::make_unique<Stack>(cfg(kClientAddr, 1), kStart);
    server = std::make_unique<Stack>(cfg(kServerAddr, 2), kStart);
    link = std::make_unique<scenario::Link>(*flooder, *server, kStart, "flooder", "server");
  }
  template <class G>
  void run(G& g, Duration limit = std::chrono::seconds{30}) {
    const Instant end = link->now() + limit;
    while (!g.finished() && link->now() < end) {
      g.poll(link->now());
      link->run_for(std::chrono::milliseconds{1});
    }
    ASSERT_TRUE(g.finished()) << "the run did not end";
  }
  FloodParams params(Kind k, std::uint64_t count) const {
    FloodParams p;
    p.kind = k;
    p.target = kServerAddr;
    p.target_ports = PortRange{80, 80};
    p.rate = 10000;
    p.count = count;
    p.duration = std::chrono::seconds{10};
    return p;
  }
  std::unique_ptr<Stack> flooder, server;
  std::unique_ptr<scenario::Link> link;
};

TEST(FloodGenerator, SynFloodFillsTheSynQueueThenCookies) {
  Bench b;
  HttpServer httpd(64);
  ASSERT_TRUE(b.server->listen(kServerAddr, 80, httpd));
  FloodGenerator g(*b.flooder, b.params(Kind::Syn, 500));
  b.run(g);
  EXPECT_EQ(g.stats().syn, 500u);
  EXPECT_EQ(g.stats().tx_full, 0u);
  const Counters& c = b.server->counters();
  EXPECT_EQ(c[Counter::tcp_in], 500u) << "every SYN arrived with a valid checksum";
  EXPECT_EQ(c[Counter::tcp_drop_checksum], 0u);
  EXPECT_GT(c[Counter::tcp_cookie_sent], 0u) << "the SYN queue (16) filled: cookies";
  EXPECT_LE(b.server->connection_count(), 16u) << "records bounded by the backlog";
  EXPECT_EQ(c[Counter::tcp_passive_open], 0u);
  // 500 SYNs at 10,000/s take about 50 ms of the virtual clock.
  EXPECT_GE(g.finished_at() - g.started_at(), std::chrono::milliseconds{45});
}

TEST(FloodGenerator, EndsAtItsDurationWhateverTheCount) {
  Bench b;
  FloodParams p = b.params(Kind::Rst, 1'000'000);
  p.rate = 1000;
  p.duration = std::chrono::milliseconds{100};
  FloodGenerator g(*b.flooder, p);
  b.run(g);
  EXPECT_GE(g.stats().rst, 95u);
  EXPECT_LE(g.stats().rst, 102u);
  EXPECT_EQ(b.server->counters()[Counter::tcp_rst_sent], 0u) << "RSTs are never answered";
}

TEST(FloodGenerator, AckFloodIsRejectedAsCookiesAndDataToClosedPortsReset) {
  Bench b;
  HttpServer httpd(64);
  ASSERT_TRUE(b.server->listen(kServerAddr, 80, httpd));
  FloodGenerator a(*b.flooder, b.params(Kind::Ack, 200));
  b.run(a);
  EXPECT_EQ(a.stats().ack, 200u);
  EXPECT_EQ(b.server->connection_count(), 0u);
  EXPECT_EQ(b.server->counters()[Counter::tcp_passive_open], 0u);
  FloodParams p = b.params(Kind::DataClosed, 100);
  p.target_ports = PortRange{9000, 9009};
  FloodGenerator d(*b.flooder, p);
  b.run(d);
  EXPECT_EQ(d.stats().data, 100u);
  EXPECT_GE(b.server->counters()[Counter::tcp_rst_no_connection], 100u);
}

TEST(HoldGenerator, OpensAndHoldsThenResetsAtTheEnd) {
  Bench b;
  HttpServer httpd(100000);
  ASSERT_TRUE(b.server->listen(kServerAddr, 80, httpd));
  FloodParams p = b.params(Kind::Hold, 20);
  p.rate = 1000;
  p.duration = std::chrono::milliseconds{500};
  p.no_read = true;
  p.request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  HoldGenerator g(*b.flooder, p);
  const Instant mid = b.link->now() + std::chrono::milliseconds{300};
  while (b.link->now() < mid) {
    g.poll(b.link->now());
    b.link->run_for(std::chrono::milliseconds{1});
  }
  EXPECT_EQ(g.stats().hold_opened, 20u);
  EXPECT_EQ(g.stats().hold_active, 20u);
  EXPECT_EQ(b.server->connection_count(), 20u) << "every connection held open on the server";
  EXPECT_GT(g.stats().hold_bytes_held, 0u) << "the responses arrived and were never read";
  b.run(g);
  EXPECT_EQ(g.stats().hold_active, 0u);
  EXPECT_EQ(g.stats().hold_failed, 0u);
  b.link->run_for(std::chrono::milliseconds{10});
  EXPECT_EQ(b.server->connection_count(), 0u) << "the server freed every record";
}

TEST(FloodReport, SummaryAndJson) {
  FloodReport r;
  r.params = good();
  r.params.kind = Kind::Syn;
  r.target_port = 80;
  r.seconds = 2;
  r.totals.syn = 1000;
  const std::string s = summary_text(r);
  EXPECT_NE(s.find("flood syn against 198.18.0.1:80"), std::string::npos) << s;
  EXPECT_NE(s.find("sent 1000 (syn 1000"), std::string::npos) << s;
  EXPECT_NE(s.find("500/s"), std::string::npos) << s;
  const std::string j = to_json(r);
  EXPECT_NE(j.find("\"schema\": \"riptide-load-flood/1\""), std::string::npos) << j;
  EXPECT_NE(j.find("\"total\": 1000"), std::string::npos) << j;
}

}  // namespace
}  // namespace riptide::apps::flood
