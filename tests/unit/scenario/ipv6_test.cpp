// TCP over IPv6 (RFC 8200) between two Stacks on the in-memory link: the handshake,
// data both ways, close, RST, SYN cookies, listeners by family, and what lib/ip's
// IPv6 input does with extension headers, fragments and bad checksums. Client
// 2001:db8::1, server 2001:db8::2 (RFC 3849's documentation prefix); both stacks
// keep their IPv4 addresses too, so dual-stack listeners can be checked.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "common/byte_order.hpp"
#include "fixture.hpp"
#include "wire/checksum.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"

namespace riptide::scenario {
namespace {

const IpAddr kClient6 = *IpAddr::parse("2001:db8::1");
const IpAddr kServer6 = *IpAddr::parse("2001:db8::2");
const IpAddr kServerLinkLocal = *IpAddr::parse("fe80::2");

class Ipv6 : public Scenario {
 protected:
  void build6(const std::function<void(StackConfig&)>& tweak = {}) {
    build([&](StackConfig& c) {
      c.local_addrs6 = {c.local_addrs.front() == kClientAddr ? kClient6 : kServer6};
      if (c.local_addrs.front() == kServerAddr) c.local_addrs6.push_back(kServerLinkLocal);
      if (tweak) tweak(c);
    });
  }
  void establish6(ListenOptions opts = {}) {
    ASSERT_TRUE(server->listen(IpAddr{}, kPort, s, opts));  // `::`: both families
    ASSERT_TRUE(client->connect(kServer6, kPort, c));
    link->pump();
    ASSERT_EQ(states(*client), "ESTABLISHED");
    ASSERT_EQ(states(*server), "ESTABLISHED");
    ASSERT_TRUE(c.conn && s.conn);
  }
  // A segment from a made-up IPv6 peer 2001:db8::99 to the server, with `ext`
  // (extension headers, their first Next Header is `first`) before the TCP header.
  std::vector<std::byte> segment_to_server(const wire::TcpHeader& h, std::uint8_t first,
                                           std::vector<std::byte> ext = {}) const {
    std::vector<std::byte> pkt(wire::kIpv6HeaderLen + ext.size() + 60);
    const std::size_t th = wire::write_tcp_header(std::span(pkt).subspan(wire::kIpv6HeaderLen + ext.size()), h);
    pkt.resize(wire::kIpv6HeaderLen + ext.size() + th);
    std::copy(ext.begin(), ext.end(), pkt.begin() + wire::kIpv6HeaderLen);
    wire::finish_tcp_checksum(std::span(pkt).subspan(wire::kIpv6HeaderLen + ext.size()), kPeer, kServer6);
    wire::Ipv6Header ip;
    ip.next_header = ext.empty() ? wire::kIpProtoTcp : first;
    ip.src = kPeer;
    ip.dst = kServer6;
    wire::write_ipv6_header(pkt, ip, static_cast<std::uint16_t>(pkt.size() - wire::kIpv6HeaderLen));
    return pkt;
  }
  static wire::TcpHeader syn(std::uint16_t port = kPort) {
    wire::TcpHeader h;
    h.src_port = 50000;
    h.dst_port = port;
    h.seq = SeqNum{1000};
    h.flags = kSyn;
    h.window = 65535;
    return h;
  }
  const IpAddr kPeer = *IpAddr::parse("2001:db8::99");
};

// RFC 9293 3.5 over IPv6: SYN, SYN-ACK, ACK, all IPv6 between the two global
// addresses; each side offers MSS 1440 (tcp.mss 1460 less the 20 more bytes of
// IPv6 header, RFC 8200 8.3) and both connections show IPv6 endpoints.
TEST_F(Ipv6, Handshake) {
  build6();
  establish6();
  ASSERT_EQ(link->packets.size(), 3u);
  EXPECT_EQ(link->packets[0].src, kClient6);
  EXPECT_EQ(link->packets[0].dst, kServer6);
  ASSERT_TRUE(link->packets[0].has(kSyn));
  EXPECT_EQ(link->packets[0].tcp.options.mss, 1440);
  EXPECT_EQ(link->packets[1].src, kServer6);
  EXPECT_EQ(link->packets[1].tcp.options.mss, 1440);
  auto ci = client->info(*c.conn);
  auto si = server->info(*s.conn);
  ASSERT_TRUE(ci && si);
  EXPECT_EQ(ci->key.local_addr, kClient6);
  EXPECT_EQ(ci->key.remote_addr, kServer6);
  EXPECT_EQ(si->key.remote_addr, kClient6);
  EXPECT_EQ(ci->snd_mss, 1440 - 12);  // less the timestamp option
  EXPECT_EQ(to_string(si->key),
            "[2001:db8::2]:80 <- [2001:db8::1]:" + std::to_string(si->key.remote_port));
  EXPECT_EQ(server->counters()[Counter::ip6_in], 2u);
  EXPECT_EQ(server->counters()[Counter::ip_in], 0u);
  // for_each_connection lists the IPv6 tuple.
  int seen = 0;
  server->for_each_connection([&](const ConnInfo& i) {
    EXPECT_EQ(i.key, si->key);
    ++seen;
  });
  EXPECT_EQ(seen, 1);
}

// Data both ways, 300 kB each, byte for byte.
TEST_F(Ipv6, DataBothWays) {
  build6();
  establish6();
  std::vector<std::byte> up(300'000), down(300'000);
  for (std::size_t i = 0; i < up.size(); ++i) {
    up[i] = static_cast<std::byte>(i * 7 + 1);
    down[i] = static_cast<std::byte>(i * 13 + 5);
  }
  c.to_send = up;
  s.to_send = down;
  c.push(*client);
  s.push(*server);
  ASSERT_TRUE(link->run_until(
      [&] { return s.received.size() == up.size() && c.received.size() == down.size(); },
      link->now() + seconds{10}));
  EXPECT_EQ(s.received, up);
  EXPECT_EQ(c.received, down);
  // Full-sized segments carry 1440 - 12 bytes: the IPv6 MSS less timestamps.
  std::size_t largest = 0;
  for (const Packet& p : link->packets) largest = std::max(largest, p.payload_len);
  EXPECT_EQ(largest, 1428u);
  EXPECT_EQ(client->counters()[Counter::tcp_drop_checksum], 0u);
}

// RFC 8201 5.4: a 1280-byte hop between the two drops the client's full-sized
// segments; the Packet Too Big the router would send (the Interface hands its
// quote to StackEngine::icmp_error) shrinks them, and the transfer completes intact.
TEST_F(Ipv6, PacketTooBigShrinksSegments) {
  build6();
  establish6();
  std::optional<Packet> refused;
  link->set_filter([&](const Packet& p) {
    if (!p.from_a || p.payload_len + 40 + 20 + 12 <= 1280) return false;
    if (!refused) refused = p;
    return true;
  });
  std::vector<std::byte> up(200'000);
  for (std::size_t i = 0; i < up.size(); ++i) up[i] = static_cast<std::byte>(i * 7 + 1);
  c.to_send = up;
  c.push(*client);
  ASSERT_TRUE(link->run_until([&] { return refused.has_value(); }, link->now() + seconds{5}));
  // What the router quotes: our IPv6 header and the TCP ports and sequence number.
  std::vector<std::byte> quoted(48);
  wire::Ipv6Header ip;
  ip.next_header = wire::kIpProtoTcp;
  ip.src = refused->src;
  ip.dst = refused->dst;
  wire::write_ipv6_header(quoted, ip, 1400);
  store_be16(quoted.data() + 40, refused->tcp.src_port);
  store_be16(quoted.data() + 42, refused->tcp.dst_port);
  store_be32(quoted.data() + 44, refused->tcp.seq.raw());
  client->engine().icmp_error(ip::IcmpError{ip::IcmpError::Kind::PacketTooBig, 1280, /*v6=*/true}, quoted, link->now());
  EXPECT_EQ(client->counters()[Counter::tcp_pmtu_mss_lowered], 1u);
  EXPECT_EQ(client->info(*c.conn)->snd_mss, 1280 - 40 - 20 - 12);  // timestamps on every segment
  ASSERT_TRUE(link->run_until([&] { return s.received.size() == up.size(); }, link->now() + seconds{10}));
  EXPECT_EQ(s.received, up);
  EXPECT_EQ(client->counters()[Counter::tcp_retransmit_timeout], 0u);  // no RTO was needed
  // The same quote again (its sequence number now acknowledged): ignored.
  client->engine().icmp_error(ip::IcmpError{ip::IcmpError::Kind::PacketTooBig, 1280, /*v6=*/true}, quoted, link->now());
  EXPECT_EQ(client->counters()[Counter::tcp_icmp_drop_out_of_window], 1u);
}

// RFC 8201 5.4: a path MTU known before the connection (the Interface's PMTU
// cache, through set_path_mtu_source) caps the MSS its handshake agrees.
TEST_F(Ipv6, KnownPathMtuCapsTheMss) {
  build6();
  client->engine().set_path_mtu_source([](const void*, const IpAddr&, Instant) { return std::uint32_t{1300}; }, nullptr);
  establish6();
  EXPECT_EQ(client->info(*c.conn)->snd_mss, 1300 - 40 - 20 - 12);
  EXPECT_EQ(server->info(*s.conn)->snd_mss, 1440 - 12);  // the other way is not capped
}

// The four-way close: the client that closes first ends in TIME-WAIT on the IPv6
// tuple; both hear on_closed.
TEST_F(Ipv6, FourWayClose) {
  build6();
  establish6();
  const FlowKey key = client->info(*c.conn)->key;
  ASSERT_FALSE(client->shutdown_write(*c.conn));
  link->pump();
  EXPECT_TRUE(s.peer_closed);
  ASSERT_FALSE(server->shutdown_write(*s.conn));
  link->pump();
  EXPECT_EQ(states(*client), "TIME-WAIT");
  EXPECT_EQ(states(*server), "none");
  EXPECT_TRUE(client->time_wait_exists(key));
  EXPECT_EQ(client->state_of(key), State::TimeWait);
  EXPECT_EQ(s.closed_reason, CloseReason::Normal);
  EXPECT_EQ(c.closed_reason, CloseReason::Normal);
  int tw = 0;
  client->for_each_connection([&](const ConnInfo& i) {
    EXPECT_EQ(i.key, key);
    EXPECT_EQ(i.state, State::TimeWait);
    ++tw;
  });
  EXPECT_EQ(tw, 1);
}

// RFC 9293 3.10.7.1 over IPv6: a SYN to a port nobody listens on gets <RST,ACK>;
// the client hears "refused". An abort sends RST and the server hears "reset".
TEST_F(Ipv6, RstToClosedPortAndAbort) {
  build6();
  ASSERT_TRUE(client->connect(kServer6, 81, c));
  link->pump();
  EXPECT_EQ(c.closed_reason, CloseReason::Refused);
  ASSERT_FALSE(link->sent_by_b(kRst).empty());
  EXPECT_EQ(link->sent_by_b(kRst).back().src, kServer6);
  Recorder c2, s2;
  ASSERT_TRUE(server->listen(kServer6, kPort, s2));
  ASSERT_TRUE(client->connect(kServer6, kPort, c2));
  link->pump();
  ASSERT_TRUE(c2.conn && s2.conn);
  ASSERT_FALSE(client->abort(*c2.conn));
  link->pump();
  EXPECT_EQ(s2.closed_reason, CloseReason::Reset);
  EXPECT_EQ(states(*server), "none");
}

// RFC 4987 over IPv6: with cookies always on, the SYN-ACK carries a cookie made
// from the IPv6 tuple, and the ACK that returns it opens the connection.
TEST_F(Ipv6, SynCookies) {
  build6();
  ListenOptions o;
  o.syn_cookies = tcp::SynCookieMode::Always;
  establish6(o);
  EXPECT_EQ(server->counters()[Counter::tcp_cookie_sent], 1u);
  EXPECT_EQ(server->counters()[Counter::tcp_cookie_accepted], 1u);
  EXPECT_EQ(link->packets[1].tcp.options.mss, 1440);  // the cookie SYN-ACK's MSS: IPv6's
  c.to_send.assign(5000, std::byte{0x5a});
  c.push(*client);
  link->pump();
  EXPECT_EQ(s.received.size(), 5000u);
}

// Listeners by family: on an IPv4 address only IPv4; on an IPv6 address only that
// one; `::` both. A more specific listener wins over `::`.
TEST_F(Ipv6, ListenersByFamily) {
  build6();
  Recorder v4, v6, any, c4, c6, c6ll;
  ASSERT_TRUE(server->listen(kServerAddr, 80, v4));
  ASSERT_TRUE(server->listen(kServer6, 81, v6));
  ASSERT_TRUE(server->listen(IpAddr{}, 80, any));
  ASSERT_TRUE(server->listen(IpAddr{}, 81, any));
  EXPECT_EQ(server->listen(kServer6, 81, v6).error(), Error::AddressInUse);
  EXPECT_EQ(server->listen(*IpAddr::parse("2001:db8::77"), 82, v6).error(), Error::AddressNotLocal);
  ASSERT_TRUE(client->connect(kServerAddr, 80, c4));  // IPv4 -> the IPv4 listener
  ASSERT_TRUE(client->connect(kServer6, 80, c6));     // IPv6 -> `::`
  link->pump();
  EXPECT_TRUE(v4.conn.has_value());
  EXPECT_TRUE(any.conn.has_value());
  ASSERT_TRUE(c4.conn && c6.conn);
  EXPECT_TRUE(client->info(*c4.conn)->key.is_v4());
  EXPECT_FALSE(client->info(*c6.conn)->key.is_v4());
  // Mixed families are refused; an IPv6 destination from an IPv4-only source too.
  ConnectOptions mixed;
  mixed.local_addr = kClientAddr;
  EXPECT_EQ(client->connect(kServer6, 80, c6ll, mixed).error(), Error::InvalidArgument);
  EXPECT_EQ(client->connect(*IpAddr::parse("ff02::1"), 80, c6ll).error(), Error::InvalidArgument);
}

// Source selection (RFC 6724 5 rule 2): a link-local destination gets a link-local
// source; with none of ours, the connect is refused.
TEST_F(Ipv6, SourceSelectionByScope) {
  build6();
  Recorder r;
  EXPECT_EQ(client->connect(kServerLinkLocal, 80, r).error(), Error::AddressNotLocal);
  EXPECT_EQ(server->engine().ip_layer().select_source(*IpAddr::parse("fe80::1")), kServerLinkLocal);
  EXPECT_EQ(server->engine().ip_layer().select_source(*IpAddr::parse("2001:db8::1")), kServer6);
  EXPECT_EQ(server->engine().ip_layer().select_source(kClientAddr), IpAddr{kServerAddr});
}

// RFC 9293 3.7.1: a SYN with no MSS option means 1220 over IPv6 (RFC 8200 5's
// 1280-byte minimum MTU less 60), not IPv4's 536.
TEST_F(Ipv6, DefaultMssIs1220) {
  build6();
  ASSERT_TRUE(server->listen(IpAddr{}, kPort, s));
  server->input(segment_to_server(syn(), 0), link->now());
  ConnId id;
  const tcp::Connection* conn = nullptr;
  for (std::uint32_t i = 0; i < 64 && conn == nullptr; ++i) conn = server->engine().connection_at(i, &id);
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(server->info(id)->snd_mss, 1220);
}

// lib/ip's IPv6 input (RFC 8200 4): a Destination Options header of padding is
// skipped and the SYN answered; an unknown option with action 01 discards; a
// Routing header with segments left is a Parameter Problem (code 0, at the Routing
// Type), an unknown Next Header one with code 1 at the field that named it; a
// fragment and Next Header 59 are counted drops; a bad TCP checksum (over the IPv6
// pseudo-header) is a TCP drop.
TEST_F(Ipv6, ExtensionHeadersAndDrops) {
  build6();
  struct Problem {
    std::uint8_t code;
    std::uint32_t pointer;
  };
  std::vector<Problem> problems;
  ip::Icmpv6Hooks hooks;
  hooks.ctx = &problems;
  hooks.parameter_problem = [](void* ctx, const wire::Ipv6View&, std::uint8_t code, std::uint32_t pointer) {
    static_cast<std::vector<Problem>*>(ctx)->push_back({code, pointer});
  };
  server->engine().set_icmpv6_hooks(hooks);
  ASSERT_TRUE(server->listen(IpAddr{}, kPort, s));
  const auto b = [](std::initializer_list<int> v) {
    std::vector<std::byte> out;
    for (int x : v) out.push_back(static_cast<std::byte>(x));
    return out;
  };
  const std::size_t out_before = server->tx_pending();
  // Destination Options: next TCP, length 0 (8 bytes), PadN of 4 (2 + 4).
  server->input(segment_to_server(syn(), wire::kIpv6NextDestOptions, b({6, 0, 1, 4, 0, 0, 0, 0})), link->now());
  EXPECT_EQ(server->tx_pending(), out_before + 1);  // the SYN-ACK
  EXPECT_EQ(server->syn_queue_length(ListenerId{0}), 1u);
  // Option type 0x7f (action 01): discard silently.
  server->input(segment_to_server(syn(90), wire::kIpv6NextDestOptions, b({6, 0, 0x7f, 4, 0, 0, 0, 0})),
                link->now());
  EXPECT_EQ(server->counters()[Counter::ip6_drop_ext_header], 1u);
  // Option type 0x80 (action 10): Parameter Problem code 2 at the option (40 + 2).
  server->input(segment_to_server(syn(90), wire::kIpv6NextDestOptions, b({6, 0, 0x80, 4, 0, 0, 0, 0})),
                link->now());
  // Routing header type 4, segments left 1: code 0 at the Routing Type (40 + 2).
  server->input(segment_to_server(syn(90), wire::kIpv6NextRouting, b({6, 0, 4, 1, 0, 0, 0, 0})), link->now());
  // Hop-by-Hop after a Destination Options header: code 1 at the field naming it.
  server->input(segment_to_server(syn(90), wire::kIpv6NextDestOptions, b({0, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0})),
                link->now());
  // Next Header 253 (experimental: unknown) straight after the header: code 1 at 6.
  server->input(segment_to_server(syn(90), 253, b({6, 0, 1, 4, 0, 0, 0, 0})), link->now());
  EXPECT_EQ(server->counters()[Counter::ip6_drop_param_problem], 3u);
  EXPECT_EQ(server->counters()[Counter::ip6_drop_protocol], 1u);
  ASSERT_EQ(problems.size(), 4u);
  EXPECT_EQ(problems[0].code, 2);
  EXPECT_EQ(problems[0].pointer, 42u);
  EXPECT_EQ(problems[1].code, 0);
  EXPECT_EQ(problems[1].pointer, 42u);
  EXPECT_EQ(problems[2].code, 1);
  EXPECT_EQ(problems[2].pointer, 40u);
  EXPECT_EQ(problems[3].code, 1);
  EXPECT_EQ(problems[3].pointer, 6u);
  // A first fragment (M set): dropped. An atomic fragment (RFC 6946): processed.
  server->input(segment_to_server(syn(90), wire::kIpv6NextFragment, b({6, 0, 0, 1, 0, 0, 0, 7})), link->now());
  EXPECT_EQ(server->counters()[Counter::ip6_drop_fragment], 1u);
  const auto rst_before = server->counters()[Counter::tcp_rst_no_connection];
  server->input(segment_to_server(syn(90), wire::kIpv6NextFragment, b({6, 0, 0, 0, 0, 0, 0, 7})), link->now());
  EXPECT_EQ(server->counters()[Counter::tcp_rst_no_connection], rst_before + 1);  // port 90: RST
  // Next Header 59 after a Destination Options header.
  server->input(segment_to_server(syn(90), wire::kIpv6NextDestOptions, b({59, 0, 1, 4, 0, 0, 0, 0})), link->now());
  EXPECT_EQ(server->counters()[Counter::ip6_drop_no_next_header], 1u);
  // A corrupted TCP checksum.
  auto bad = segment_to_server(syn(), 0);
  bad[wire::kIpv6HeaderLen + 16] ^= std::byte{0x01};
  server->input(bad, link->now());
  EXPECT_EQ(server->counters()[Counter::tcp_drop_checksum], 1u);
  // Not ours; IPv4-mapped addresses on the wire; a truncated header.
  auto other = segment_to_server(syn(), 0);
  other[24 + 15] = std::byte{0x42};
  server->input(other, link->now());
  EXPECT_EQ(server->counters()[Counter::ip6_drop_not_ours], 1u);
  auto mapped = segment_to_server(syn(), 0);
  const IpAddr m{kClientAddr};
  std::memcpy(mapped.data() + 8, m.bytes.data(), 16);
  server->input(mapped, link->now());
  EXPECT_EQ(server->counters()[Counter::ip6_drop_bad_address], 1u);
  const auto whole = segment_to_server(syn(), 0);
  server->input(std::span(whole).first(39), link->now());
  EXPECT_EQ(server->counters()[Counter::ip6_drop_malformed], 1u);
  // ICMPv6 with no hook installed is counted.
  auto icmp = segment_to_server(syn(), 0);
  icmp[6] = std::byte{wire::kIpv6NextIcmpv6};
  server->input(icmp, link->now());
  EXPECT_EQ(server->counters()[Counter::ip6_drop_icmpv6], 1u);
}

// IPv4 and IPv6 connections side by side on one pair of stacks, over one `::`
// listener, with data on each.
TEST_F(Ipv6, DualStackSideBySide) {
  build6();
  Recorder c4, c6;
  ASSERT_TRUE(server->listen(IpAddr{}, kPort, s));
  ASSERT_TRUE(client->connect(kServerAddr, kPort, c4));
  ASSERT_TRUE(client->connect(kServer6, kPort, c6));
  link->pump();
  ASSERT_TRUE(c4.conn && c6.conn);
  EXPECT_EQ(states(*server), "ESTABLISHED x2");
  c4.to_send.assign(10'000, std::byte{4});
  c6.to_send.assign(20'000, std::byte{6});
  c4.push(*client);
  c6.push(*client);
  link->pump();
  EXPECT_EQ(s.received.size(), 30'000u);
  EXPECT_EQ(server->counters()[Counter::tcp_drop_checksum], 0u);
}

}  // namespace
}  // namespace riptide::scenario
