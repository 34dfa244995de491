// riptide-proxy's relay (apps/common/proxy.hpp) between three kinds of stack joined
// in memory on a virtual clock: a client (198.18.0.1), the proxy (198.18.0.5) and
// backends (198.18.0.2, 198.18.0.3). Transfers both ways at once, half-close each
// way, RST propagation each way, refused and timed-out backends (reset or close),
// passive down marking, bytes held before the upstream connects, a slow reader
// (the proxy's memory stays within the receive buffer), idle timeout, the
// connection limit, and the counters.
#include "common/proxy.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <iostream>
#include <map>
#include <memory>

#include "../scenario/link.hpp"  // pattern(), first_difference(), states()
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace riptide::apps::proxy {
namespace {

using scenario::first_difference;
using scenario::pattern;
using scenario::states;

const Ipv4Addr kClient = Ipv4Addr::from_octets(198, 18, 0, 1);
const Ipv4Addr kProxy = Ipv4Addr::from_octets(198, 18, 0, 5);
const Ipv4Addr kBackendA = Ipv4Addr::from_octets(198, 18, 0, 2);
const Ipv4Addr kBackendB = Ipv4Addr::from_octets(198, 18, 0, 3);
// IPv6 beside IPv4 (every stack has both): 2001:db8::<the IPv4 host byte>.
const IpAddr kClient6 = IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const IpAddr kProxy6 = IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 5);
const IpAddr kBackendA6 = IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
constexpr std::uint16_t kFront = 8080;
constexpr std::uint16_t kBack = 9000;
const Instant kStart = Instant{std::chrono::seconds{1000}};

// A packet on the wire, as the drop filter sees it.
struct Seen {
  Ipv4Addr src, dst;
  std::uint8_t flags = 0;
  std::size_t payload = 0;
};

// Stacks joined by the library's in-memory link (riptide::MemoryLink), routing by
// destination address, with the proxies' own timers on its clock: the host of the
// embedded API, for three or more stacks.
class Net {
 public:
  explicit Net(Instant start) : link_(start) {
    link_.set_filter([this](const LinkPacket& p) { return drop && drop(seen(p.bytes)); });
  }
  std::function<bool(const Seen&)> drop;  // true: the packet is lost

  [[nodiscard]] Instant now() const noexcept { return link_.now(); }
  // Packets handed to a stack's input() so far.
  [[nodiscard]] std::uint64_t delivered() const {
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < stacks_; ++i) n += link_.stats(i).delivered;
    return n;
  }

  void add(Stack& s) {
    link_.attach(s);
    ++stacks_;
  }
  void add(ProxyWorker& p) {
    link_.add_clock([&p] { return p.next_timer(); }, [&p](Instant t) { p.poll(t); });
  }

  // Runs every timer (stacks' and proxies') in deadline order until done() or `t`.
  bool run_until(const std::function<bool()>& done, Instant t) {
    if (!link_.run_until(done, t)) link_.run_until(t);
    if (link_.stalled()) ADD_FAILURE() << "the network did not go quiet";
    return done();
  }
  void run_for(Duration d) {
    run_until([] { return false; }, now() + d);
  }

 private:
  static Seen seen(std::span<const std::byte> bytes) {
    Seen out{};
    if (auto ip = wire::Ipv4View::parse(bytes)) {
      out.src = ip->src();
      out.dst = ip->dst();
      if (ip->protocol() == wire::kIpProtoTcp) {
        if (auto t = wire::TcpView::parse(ip->payload())) {
          out.flags = wire::header_of(*t).flags;
          out.payload = t->payload().size();
        }
      }
    }
    return out;
  }

  MemoryLink link_;
  std::size_t stacks_ = 0;
};

// An application end (client or backend server): sends `to_send` as space allows,
// then shuts its write side if asked; keeps what it receives; can hold its receive
// window shut (a reader that does not read) and answer a FIN with `reply`.
class End final : public Handler {
 public:
  std::optional<ConnId> conn;
  std::vector<std::byte> to_send;
  std::size_t sent = 0;
  bool shut_after_send = false;
  std::vector<std::byte> received;
  bool peer_closed = false;
  std::optional<CloseReason> closed;
  std::uint32_t accepts = 0;
  bool holding = false;                 // set_receive_held(everything received)
  std::vector<std::byte> reply_on_fin;  // sent after the peer's FIN, then our FIN
  std::size_t received_before_fin = 0;

  void on_accept(Stack& s, ConnId c) override {
    ++accepts;
    conn = c;  // (a server End follows its latest connection)
    sent = 0;
    shut_ = false;
    push(s);
  }
  void on_connected(Stack& s, ConnId c) override {
    conn = c;
    push(s);
  }
  void on_data(Stack& s, ConnId c, std::span<const std::byte> d) override {
    received.insert(received.end(), d.begin(), d.end());
    if (holding) (void)s.set_receive_held(c, static_cast<std::uint32_t>(received.size()));
  }
  void on_writable(Stack& s, ConnId) override { push(s); }
  void on_peer_closed(Stack& s, ConnId) override {
    peer_closed = true;
    received_before_fin = received.size();
    if (!reply_on_fin.empty()) {
      to_send = reply_on_fin;
      sent = 0;
      shut_after_send = true;
      push(s);
    }
  }
  void on_closed(Stack&, ConnId, CloseReason r) override { closed = r; }

  void release_hold(Stack& s) {
    holding = false;
    if (conn) (void)s.set_receive_held(*conn, 0);
  }
  void push(Stack& s) {
    if (!conn) return;
    while (sent < to_send.size()) {
      auto n = s.send(*conn, std::span(to_send).subspan(sent));
      if (!n || *n == 0) return;
      sent += *n;
    }
    if (shut_after_send && !shut_) {
      shut_ = true;
      (void)s.shutdown_write(*conn);
    }
  }

 private:
  bool shut_ = false;
};

StackConfig config(Ipv4Addr addr, std::uint8_t key, std::uint32_t rcv_buf) {
  StackConfig c;
  c.local_addrs = {addr};
  c.local_addrs6 = {IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, static_cast<std::uint16_t>(addr.value & 0xFF))};
  c.secret = {key, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, key};
  c.max_connections = 64;
  c.max_time_wait = 64;
  c.send_chunks = 2048;
  c.tcp.rcv_buf = rcv_buf;
  c.tcp.snd_buf = 65536;
  c.tcp.time_wait = std::chrono::seconds{1};
  return c;
}

class ProxyTest : public ::testing::Test {
 protected:
  // Two backends (A at .2, B at .3) on port 9000; one listener on the proxy's
  // :8080 whose pool is `backends`.
  void build(std::vector<BackendSpec> backends, const std::function<void(ListenerPolicy&)>& tweak = {},
             std::uint32_t proxy_rcv_buf = 65536, IpAddr bind = kProxy) {
    client = std::make_unique<Stack>(config(kClient, 1, 65536), kStart);
    proxy_stack = std::make_unique<Stack>(config(kProxy, 5, proxy_rcv_buf), kStart);
    backend_a = std::make_unique<Stack>(config(kBackendA, 2, 65536), kStart);
    backend_b = std::make_unique<Stack>(config(kBackendB, 3, 65536), kStart);
    ProxyConfig pc;
    ListenerSpec l;
    l.bind = Endpoint{bind, kFront};
    l.backends = std::move(backends);
    if (tweak) tweak(l.policy);
    pc.listeners.push_back(l);
    proxy = std::make_unique<ProxyWorker>(*proxy_stack, pc);
    ASSERT_FALSE(proxy->listen().has_value());
    net = std::make_unique<Net>(kStart);
    net->add(*client);
    net->add(*proxy_stack);
    net->add(*backend_a);
    net->add(*backend_b);
    net->add(*proxy);
  }
  void serve_a() { ASSERT_TRUE(backend_a->listen(kBackendA, kBack, srv_a)); }
  void serve_b() { ASSERT_TRUE(backend_b->listen(kBackendB, kBack, srv_b)); }
  static BackendSpec at(Ipv4Addr a, std::uint32_t weight = 1) { return BackendSpec{Endpoint{a, kBack}, weight}; }

  // A client connection through the proxy, with its own End.
  End& connect_client() {
    ends.push_back(std::make_unique<End>());
    End& e = *ends.back();
    EXPECT_TRUE(client->connect(kProxy, kFront, e));
    return e;
  }
  bool settle(const std::function<bool()>& done, Duration limit = std::chrono::seconds{30}) {
    return net->run_until(done, net->now() + limit);
  }
  const ListenerStats& stats() const { return proxy->listener_stats(0); }
  const BackendStats& backend_stats(std::size_t i) const { return proxy->pool(0).backend(i).stats; }

  void TearDown() override {
    if (HasFailure() && proxy_stack) {
      std::cout << "client: " << states(*client) << "; proxy: " << states(*proxy_stack)
                << "; backend A: " << states(*backend_a) << "; backend B: " << states(*backend_b) << "\n";
    }
  }

  End srv_a, srv_b;  // outlive the stacks that call them
  std::vector<std::unique_ptr<End>> ends;
  std::unique_ptr<Stack> client, proxy_stack, backend_a, backend_b;
  std::unique_ptr<ProxyWorker> proxy;
  std::unique_ptr<Net> net;
};

TEST_F(ProxyTest, RelaysBothWaysAtOnceAndClosesBothLegs) {
  build({at(kBackendA)});
  serve_a();
  const auto up = pattern(3 << 20, 1), down = pattern(2 << 20, 2);
  srv_a.to_send = down;
  srv_a.shut_after_send = true;
  End& c = connect_client();
  c.to_send = up;
  c.shut_after_send = true;
  ASSERT_TRUE(settle([&] { return c.closed && srv_a.closed && stats().active == 0; }));
  EXPECT_EQ(first_difference(srv_a.received, up), -1) << srv_a.received.size();
  EXPECT_EQ(first_difference(c.received, down), -1) << c.received.size();
  EXPECT_EQ(*c.closed, CloseReason::Normal);
  EXPECT_EQ(*srv_a.closed, CloseReason::Normal);
  EXPECT_EQ(stats().accepted, 1u);
  EXPECT_EQ(stats().connected, 1u);
  EXPECT_EQ(stats().bytes_to_backend, up.size());
  EXPECT_EQ(stats().bytes_to_client, down.size());
  EXPECT_EQ(backend_stats(0).bytes_to_backend, up.size());
  EXPECT_EQ(backend_stats(0).bytes_to_client, down.size());
  EXPECT_EQ(backend_stats(0).active, 0u);
  EXPECT_EQ(proxy->relay_stats().buffered, 0u);
  EXPECT_EQ(proxy->relay_stats().over_window, 0u);
  EXPECT_LE(proxy->relay_stats().pair_peak, 65536u);
  // Both legs gone from the proxy (TIME-WAIT records aside).
  ASSERT_TRUE(settle([&] { return proxy_stack->connection_count() == 0; }));
}

// send_proxy_protocol: the backend reads the header (the client's address and
// port, the proxy address and port it connected to) and then, unchanged, the
// client's bytes; the client never sees it.
class ProxyProtocolTest : public ProxyTest, public ::testing::WithParamInterface<ProxyProtocol> {};

TEST_P(ProxyProtocolTest, HeaderGoesToTheBackendBeforeTheClientsBytes) {
  const ProxyProtocol version = GetParam();
  build({at(kBackendA)}, [&](ListenerPolicy& p) { p.send_proxy_protocol = version; });
  serve_a();
  const auto request = pattern(20000, 5), reply = pattern(30000, 6);
  srv_a.reply_on_fin = reply;
  ends.push_back(std::make_unique<End>());
  End& c = *ends.back();
  const auto id = client->connect(kProxy, kFront, c);
  ASSERT_TRUE(id);
  c.to_send = request;
  c.shut_after_send = true;
  const auto info = client->info(*id);  // SYN-SENT: its port is chosen
  ASSERT_TRUE(info);
  const std::uint16_t client_port = info->key.local_port;
  ASSERT_TRUE(settle([&] { return c.closed && srv_a.closed; }));
  const auto header = proxy_header(version, ProxiedFlow{kClient, kProxy, client_port, kFront});
  ASSERT_GE(srv_a.received.size(), header.size());
  EXPECT_TRUE(std::equal(header.begin(), header.end(), srv_a.received.begin())) << "the header comes first";
  if (version == ProxyProtocol::V1) {
    const std::string text(reinterpret_cast<const char*>(srv_a.received.data()), header.size());
    EXPECT_EQ(text, "PROXY TCP4 198.18.0.1 198.18.0.5 " + std::to_string(client_port) + " 8080\r\n");
  } else {
    EXPECT_EQ(header.size(), 28u);
  }
  const std::vector<std::byte> after(srv_a.received.begin() + static_cast<std::ptrdiff_t>(header.size()),
                                     srv_a.received.end());
  EXPECT_EQ(first_difference(after, request), -1);
  EXPECT_EQ(first_difference(c.received, reply), -1) << "the client gets the reply, no header";
  EXPECT_EQ(stats().proxy_headers, 1u);
  EXPECT_EQ(stats().bytes_to_backend, request.size());
}

// A listener on [::] takes both families (issue 13): an IPv6 client's header is
// TCP6 (v1) or AF_INET6 (v2, 52 bytes) with its own addresses, an IPv4 client's
// through the same listener TCP4, and both reach an IPv6 backend.
TEST_P(ProxyProtocolTest, Ipv6ClientsGetTheirOwnFamilysHeaderThroughAListenerOnBothFamilies) {
  const ProxyProtocol version = GetParam();
  build({BackendSpec{Endpoint{kBackendA6, kBack}, 1}}, [&](ListenerPolicy& p) { p.send_proxy_protocol = version; },
        65536, IpAddr{});
  ASSERT_TRUE(backend_a->listen(IpAddr{}, kBack, srv_a));
  for (const IpAddr to : {IpAddr{kProxy6}, IpAddr{kProxy}}) {
    SCOPED_TRACE(to_string(to));
    srv_a.received.clear();
    srv_a.closed.reset();
    const auto request = pattern(5000, 7);
    ends.push_back(std::make_unique<End>());
    End& c = *ends.back();
    const auto id = client->connect(to, kFront, c);
    ASSERT_TRUE(id);
    c.to_send = request;
    c.shut_after_send = true;
    const auto info = client->info(*id);
    ASSERT_TRUE(info);
    const std::uint16_t port = info->key.local_port;
    srv_a.reply_on_fin = pattern(100, 8);
    ASSERT_TRUE(settle([&] { return c.closed && srv_a.closed; }));
    const bool v6 = to.is_v6();
    const auto header =
        proxy_header(version, v6 ? ProxiedFlow{kClient6, kProxy6, port, kFront} : ProxiedFlow{kClient, kProxy, port, kFront});
    ASSERT_GE(srv_a.received.size(), header.size());
    EXPECT_TRUE(std::equal(header.begin(), header.end(), srv_a.received.begin())) << "the header comes first";
    if (version == ProxyProtocol::V1) {
      const std::string text(reinterpret_cast<const char*>(srv_a.received.data()), header.size());
      EXPECT_EQ(text, v6 ? "PROXY TCP6 2001:db8::1 2001:db8::5 " + std::to_string(port) + " 8080\r\n"
                         : "PROXY TCP4 198.18.0.1 198.18.0.5 " + std::to_string(port) + " 8080\r\n");
    } else {
      EXPECT_EQ(header.size(), v6 ? 52u : 28u);
    }
    const std::vector<std::byte> after(srv_a.received.begin() + static_cast<std::ptrdiff_t>(header.size()),
                                       srv_a.received.end());
    EXPECT_EQ(first_difference(after, request), -1);
    EXPECT_EQ(first_difference(c.received, pattern(100, 8)), -1);
  }
  EXPECT_EQ(stats().proxy_headers, 2u);
  EXPECT_EQ(stats().connected, 2u);
}

INSTANTIATE_TEST_SUITE_P(Versions, ProxyProtocolTest, ::testing::Values(ProxyProtocol::V1, ProxyProtocol::V2),
                         [](const auto& i) { return std::string(to_string(i.param)); });

TEST(ProxyProtocolHeader, MatchesTheSpecification) {
  // HAProxy's proxy-protocol.txt 2.1 and 2.2, for 198.18.0.1:56324 -> 198.18.0.5:443.
  const ProxiedFlow f{Ipv4Addr::from_octets(198, 18, 0, 1), Ipv4Addr::from_octets(198, 18, 0, 5), 56324, 443};
  const auto v1 = proxy_header(ProxyProtocol::V1, f);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(v1.data()), v1.size()),
            "PROXY TCP4 198.18.0.1 198.18.0.5 56324 443\r\n");
  const auto v2 = proxy_header(ProxyProtocol::V2, f);
  const std::vector<std::uint8_t> want{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49,
                                       0x54, 0x0A, 0x21, 0x11, 0x00, 0x0C, 198,  18,   0,    1,
                                       198,  18,   0,    5,    0xDC, 0x04, 0x01, 0xBB};
  ASSERT_EQ(v2.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(static_cast<std::uint8_t>(v2[i]), want[i]) << i;
  EXPECT_TRUE(proxy_header(ProxyProtocol::Off, f).empty());
}

TEST(ProxyProtocolHeader, Ipv6MatchesTheSpecification) {
  // proxy-protocol.txt 2.1 ("TCP6", addresses as RFC 4291 writes them) and 2.2
  // (family 0x21 AF_INET6 + STREAM, length 36: 16 + 16 + 2 + 2), for
  // [2001:db8::2]:56324 -> [2001:db8::1]:443.
  const ProxiedFlow f{IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2), IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 56324,
                      443};
  const auto v1 = proxy_header(ProxyProtocol::V1, f);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(v1.data()), v1.size()),
            "PROXY TCP6 2001:db8::2 2001:db8::1 56324 443\r\n");
  const auto v2 = proxy_header(ProxyProtocol::V2, f);
  const std::vector<std::uint8_t> want{
      0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,  // signature
      0x21, 0x21, 0x00, 0x24,                                                  // v2 PROXY, AF_INET6 STREAM, 36
      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,              // source address
      0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,              // destination address
      0xDC, 0x04, 0x01, 0xBB};                                                 // 56324, 443
  ASSERT_EQ(v2.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(static_cast<std::uint8_t>(v2[i]), want[i]) << i;
  // The longest TCP6 line (two full-length addresses, five-digit ports) is the
  // specification's 104 bytes, within the 107 every v1 line fits.
  const IpAddr wide = IpAddr::v6(0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xfffe);
  EXPECT_EQ(proxy_header(ProxyProtocol::V1, ProxiedFlow{wide, wide, 65535, 65535}).size(), 104u);
  // Two families in one flow (never a connection's): no addresses claimed.
  const ProxiedFlow mixed{Ipv4Addr::from_octets(198, 18, 0, 1), f.dst, 1, 2};
  const auto m1 = proxy_header(ProxyProtocol::V1, mixed);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m1.data()), m1.size()), "PROXY UNKNOWN\r\n");
  const auto m2 = proxy_header(ProxyProtocol::V2, mixed);
  ASSERT_EQ(m2.size(), 16u);
  EXPECT_EQ(m2[13], std::byte{0x00});
  EXPECT_EQ(m2[15], std::byte{0x00});
}

std::vector<std::byte> bytes_of(std::string_view s) {
  return std::vector<std::byte>(reinterpret_cast<const std::byte*>(s.data()),
                                reinterpret_cast<const std::byte*>(s.data()) + s.size());
}

TEST(ProxyProtocolHeader, ReadsBothVersionsWhateverTheyAreCutInto) {
  using S = ParsedProxyHeader::Status;
  const ProxiedFlow f4{Ipv4Addr::from_octets(198, 19, 1, 2), Ipv4Addr::from_octets(198, 18, 0, 5), 40000, 8080};
  const ProxiedFlow f6{IpAddr::v6(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2), IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 5), 40000,
                       8080};
  for (const auto& [v, f] : {std::pair{ProxyProtocol::V1, f4}, std::pair{ProxyProtocol::V2, f4},
                             std::pair{ProxyProtocol::V1, f6}, std::pair{ProxyProtocol::V2, f6}}) {
    SCOPED_TRACE(std::string(to_string(v)) + (f.src.is_v4() ? " IPv4" : " IPv6"));
    auto stream = proxy_header(v, f);
    const std::size_t header_len = stream.size();
    const auto data = bytes_of("GET / HTTP/1.0\r\n\r\n");
    stream.insert(stream.end(), data.begin(), data.end());
    for (std::size_t cut = 1; cut < header_len; ++cut) {
      EXPECT_EQ(parse_proxy_header(std::span(stream).first(cut)).status, S::NeedMore) << cut;
    }
    const auto r = parse_proxy_header(stream);
    ASSERT_EQ(r.status, S::Done);
    EXPECT_EQ(r.length, header_len) << "what follows is the client's";
    ASSERT_TRUE(r.flow);
    EXPECT_EQ(r.flow->src, f.src);
    EXPECT_EQ(r.flow->dst, f.dst);
    EXPECT_EQ(r.flow->src_port, f.src_port);
    EXPECT_EQ(r.flow->dst_port, f.dst_port);
  }
}

TEST(ProxyProtocolHeader, UnknownLocalAndOtherFamiliesCarryNoAddress) {
  using S = ParsedProxyHeader::Status;
  auto r = parse_proxy_header(bytes_of("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nrest"));
  EXPECT_EQ(r.status, S::Done);
  EXPECT_EQ(r.length, 35u);  // the line, CRLF included
  EXPECT_FALSE(r.flow);
  // v2 AF_UNSPEC with PROXY, and AF_UNIX: skipped, no addresses.
  for (const std::uint8_t fam : {0x00, 0x31}) {
    std::vector<std::byte> h = proxy_header(ProxyProtocol::V2, ProxiedFlow{});
    h[13] = std::byte{fam};
    r = parse_proxy_header(h);
    EXPECT_EQ(r.status, S::Done) << int{fam};
    EXPECT_EQ(r.length, h.size());
    EXPECT_FALSE(r.flow) << int{fam};
  }
  // v2 LOCAL (the front's own health check), no addresses.
  std::vector<std::byte> local = proxy_header(ProxyProtocol::V2, ProxiedFlow{});
  local.resize(16);
  local[12] = std::byte{0x20};
  local[13] = std::byte{0x00};
  local[14] = local[15] = std::byte{0};
  r = parse_proxy_header(local);
  EXPECT_EQ(r.status, S::Done);
  EXPECT_EQ(r.length, 16u);
  EXPECT_FALSE(r.flow);
}

TEST(ProxyProtocolHeader, ReadsIpv6AndTheIpv4MappedForm) {
  using S = ParsedProxyHeader::Status;
  auto r = parse_proxy_header(bytes_of("PROXY TCP6 2001:db8::2 2001:db8::1 40000 443\r\n"));
  ASSERT_EQ(r.status, S::Done);
  ASSERT_TRUE(r.flow);
  EXPECT_EQ(r.flow->src, IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));
  EXPECT_EQ(r.flow->dst_port, 443);
  // A front on a dual-stack socket may write an IPv4 client mapped: it is IPv4.
  r = parse_proxy_header(bytes_of("PROXY TCP6 ::ffff:198.18.0.9 ::ffff:198.18.0.1 40000 443\r\n"));
  ASSERT_TRUE(r.flow);
  EXPECT_EQ(r.flow->src, IpAddr(Ipv4Addr::from_octets(198, 18, 0, 9)));
  // The families must match the protocol word.
  EXPECT_EQ(parse_proxy_header(bytes_of("PROXY TCP6 198.18.0.1 198.18.0.2 1 2\r\n")).status, S::Invalid);
  EXPECT_EQ(parse_proxy_header(bytes_of("PROXY TCP4 2001:db8::1 2001:db8::2 1 2\r\n")).status, S::Invalid);
  // v2 AF_INET6 with fewer than 36 address bytes.
  std::vector<std::byte> v2 = proxy_header(ProxyProtocol::V2, ProxiedFlow{});
  v2[15] = std::byte{35};
  v2.resize(16 + 35);
  EXPECT_EQ(parse_proxy_header(v2).status, S::Invalid);
}

TEST(ProxyProtocolHeader, RejectsWhatIsNotOne) {
  using S = ParsedProxyHeader::Status;
  EXPECT_EQ(parse_proxy_header(bytes_of("GET / HTTP/1.1\r\n")).status, S::Invalid);
  EXPECT_EQ(parse_proxy_header(bytes_of("PROXY TCP4 198.18.0.1 198.18.0.300 1 2\r\n")).status, S::Invalid);
  EXPECT_EQ(parse_proxy_header(bytes_of("PROXY TCP4 198.18.0.1 198.18.0.2 1 70000\r\n")).status, S::Invalid);
  EXPECT_EQ(parse_proxy_header(bytes_of("PROXY TCP4 198.18.0.1 198.18.0.2 1\r\n")).status, S::Invalid);
  EXPECT_EQ(parse_proxy_header(bytes_of("PROXY TCP4 198.18.0.1 198.18.0.2 1 2 3\r\n")).status, S::Invalid);
  EXPECT_EQ(parse_proxy_header(bytes_of("PROXY UDP4 198.18.0.1 198.18.0.2 1 2\r\n")).status, S::Invalid);
  EXPECT_EQ(parse_proxy_header(bytes_of("PROXY TCP4 198.18.0.1 198.18.0.2 1 2\n")).status, S::Invalid);
  EXPECT_EQ(parse_proxy_header(bytes_of("PROXY " + std::string(120, 'x'))).status, S::Invalid) << "over 107 bytes";
  std::vector<std::byte> v2 = proxy_header(ProxyProtocol::V2, ProxiedFlow{});
  v2[12] = std::byte{0x31};  // version 3
  EXPECT_EQ(parse_proxy_header(v2).status, S::Invalid);
  v2[12] = std::byte{0x22};  // command 2
  EXPECT_EQ(parse_proxy_header(v2).status, S::Invalid);
  v2[12] = std::byte{0x21};
  v2[14] = std::byte{0xFF};  // 65,292 bytes announced: over the limit
  EXPECT_EQ(parse_proxy_header(v2).status, S::Invalid);
}

TEST(ProxyProtocolHeader, ArbitraryBytesAfterEitherSignatureAreHandledWithinBounds) {
  // Untrusted input (a client that is not the front): seeded random bytes after
  // each prefix; Done never claims more bytes than there are, and a result never
  // changes from Invalid or Done to NeedMore as bytes are added.
  std::uint64_t x = 0x9E3779B97F4A7C15u;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  const std::vector<std::vector<std::byte>> prefixes{bytes_of("PROXY "), bytes_of("PROXY TCP4 ")};
  std::vector<std::byte> sig = proxy_header(ProxyProtocol::V2, ProxiedFlow{});
  sig.resize(12);
  for (int round = 0; round < 3000; ++round) {
    std::vector<std::byte> in = round % 3 == 2 ? sig : prefixes[static_cast<std::size_t>(round % 2)];
    const std::size_t extra = next() % 200;
    for (std::size_t i = 0; i < extra; ++i) {
      const auto r = next();
      // Mostly printable text with spaces, digits, dots and CRLF for v1; anything for v2.
      in.push_back(round % 3 == 2 ? static_cast<std::byte>(r) : static_cast<std::byte>(" 0123456789.\r\nTCP4UNKOW"[r % 24]));
    }
    bool settled = false;
    for (std::size_t n = 0; n <= in.size(); ++n) {
      const auto r = parse_proxy_header(std::span(in).first(n));
      if (r.status == ParsedProxyHeader::Status::Done) {
        ASSERT_LE(r.length, n);
        ASSERT_GT(r.length, 0u);
      }
      if (settled) {
        ASSERT_NE(r.status, ParsedProxyHeader::Status::NeedMore) << "round " << round << " n " << n;
      }
      settled = settled || r.status != ParsedProxyHeader::Status::NeedMore;
    }
  }
}

TEST_F(ProxyTest, AcceptedProxyHeaderNamesTheClientForTheBackend) {
  // A trusted front (the test's client) starts with a v1 header, cut in two, then
  // its request; the proxy reads the header, relays the request alone, and tells
  // the backend (in its own v2 header) about the client the front named.
  build({at(kBackendA)}, [&](ListenerPolicy& p) {
    p.accept_proxy_protocol = true;
    p.send_proxy_protocol = ProxyProtocol::V2;
  });
  serve_a();
  const ProxiedFlow origin{Ipv4Addr::from_octets(198, 19, 1, 2), Ipv4Addr::from_octets(198, 18, 7, 7), 40000, 443};
  auto stream = proxy_header(ProxyProtocol::V1, origin);
  const auto request = pattern(5000, 7), reply = pattern(8000, 8);
  stream.insert(stream.end(), request.begin(), request.end());
  srv_a.reply_on_fin = reply;
  End& c = connect_client();
  c.to_send = stream;
  c.shut_after_send = true;
  ASSERT_TRUE(settle([&] { return c.closed && srv_a.closed; }));
  const auto expected_header = proxy_header(ProxyProtocol::V2, origin);
  ASSERT_GE(srv_a.received.size(), expected_header.size());
  EXPECT_TRUE(std::equal(expected_header.begin(), expected_header.end(), srv_a.received.begin()));
  const std::vector<std::byte> after(srv_a.received.begin() + static_cast<std::ptrdiff_t>(expected_header.size()),
                                     srv_a.received.end());
  EXPECT_EQ(first_difference(after, request), -1) << "the front's header is not relayed";
  EXPECT_EQ(first_difference(c.received, reply), -1);
  EXPECT_EQ(stats().proxy_headers_accepted, 1u);
  EXPECT_EQ(stats().bad_proxy_headers, 0u);
}

TEST_F(ProxyTest, AClientWithoutTheExpectedProxyHeaderIsReset) {
  build({at(kBackendA)}, [&](ListenerPolicy& p) { p.accept_proxy_protocol = true; });
  serve_a();
  End& c = connect_client();
  c.to_send = bytes_of("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(settle([&] { return c.closed.has_value(); }));
  EXPECT_EQ(*c.closed, CloseReason::Reset);
  EXPECT_EQ(stats().bad_proxy_headers, 1u);
  EXPECT_EQ(backend_stats(0).attempts, 0u) << "no backend connection for it";
  EXPECT_EQ(stats().active, 0u);
}

TEST_F(ProxyTest, AFrontThatNeverCompletesItsHeaderIsResetAfterTheConnectTimeout) {
  build({at(kBackendA)}, [&](ListenerPolicy& p) {
    p.accept_proxy_protocol = true;
    p.connect_timeout_ms = 2000;
  });
  serve_a();
  End& c = connect_client();
  c.to_send = bytes_of("PROXY TCP4 198.19.1.2");  // and then nothing
  ASSERT_TRUE(settle([&] { return c.closed.has_value(); }));
  EXPECT_EQ(*c.closed, CloseReason::Reset);
  EXPECT_EQ(stats().bad_proxy_headers, 1u);
  EXPECT_EQ(stats().active, 0u);
}

TEST_F(ProxyTest, ClientHalfCloseStillGetsTheReply) {
  // The client sends a request and shuts its write side; the backend sees the
  // request, then the FIN (after the data), and only then answers and closes.
  build({at(kBackendA)});
  serve_a();
  const auto request = pattern(100000, 3), reply = pattern(300000, 4);
  srv_a.reply_on_fin = reply;
  End& c = connect_client();
  c.to_send = request;
  c.shut_after_send = true;
  ASSERT_TRUE(settle([&] { return c.closed && srv_a.closed; }));
  EXPECT_EQ(srv_a.received_before_fin, request.size()) << "the FIN came after all the data";
  EXPECT_EQ(first_difference(c.received, reply), -1);
  EXPECT_TRUE(c.peer_closed);
  EXPECT_EQ(*c.closed, CloseReason::Normal);
  EXPECT_EQ(*srv_a.closed, CloseReason::Normal);
  EXPECT_EQ(stats().active, 0u);
}

TEST_F(ProxyTest, BackendHalfCloseLetsTheClientKeepSending) {
  // The backend sends a greeting and closes its side at once; the client keeps
  // uploading for a while, then closes.
  build({at(kBackendA)});
  serve_a();
  const auto greeting = pattern(5000, 5), upload = pattern(1 << 20, 6);
  srv_a.to_send = greeting;
  srv_a.shut_after_send = true;
  End& c = connect_client();
  ASSERT_TRUE(settle([&] { return c.peer_closed; }));
  EXPECT_EQ(first_difference(c.received, greeting), -1);
  c.to_send = upload;
  c.shut_after_send = true;
  c.push(*client);
  ASSERT_TRUE(settle([&] { return c.closed && srv_a.closed; }));
  EXPECT_EQ(first_difference(srv_a.received, upload), -1);
  EXPECT_EQ(*c.closed, CloseReason::Normal);
  EXPECT_EQ(*srv_a.closed, CloseReason::Normal);
}

TEST_F(ProxyTest, ClientResetAbortsTheBackendLeg) {
  build({at(kBackendA)});
  serve_a();
  End& c = connect_client();
  ASSERT_TRUE(settle([&] { return srv_a.conn.has_value() && stats().connected == 1; }));
  ASSERT_FALSE(client->abort(*c.conn));
  ASSERT_TRUE(settle([&] { return srv_a.closed.has_value(); }));
  EXPECT_EQ(*srv_a.closed, CloseReason::Reset);
  EXPECT_EQ(stats().client_aborts, 1u);
  EXPECT_EQ(stats().active, 0u);
  EXPECT_EQ(proxy_stack->connection_count(), 0u);
}

TEST_F(ProxyTest, BackendResetAbortsTheClientLeg) {
  build({at(kBackendA)});
  serve_a();
  End& c = connect_client();
  ASSERT_TRUE(settle([&] { return srv_a.conn.has_value() && stats().connected == 1; }));
  ASSERT_FALSE(backend_a->abort(*srv_a.conn));
  ASSERT_TRUE(settle([&] { return c.closed.has_value(); }));
  EXPECT_EQ(*c.closed, CloseReason::Reset);
  EXPECT_EQ(stats().backend_aborts, 1u);
  EXPECT_EQ(stats().active, 0u);
}

TEST_F(ProxyTest, ARefusedConnectIsRetriedOnAnotherBackendWithTheClientsBytes) {
  // connect_retries = 1: A refuses (nothing listens there), B takes the retry; the
  // bytes the client sent while the proxy was trying are relayed to B intact.
  for (const Balance balance : {Balance::RoundRobin, Balance::LeastConnections, Balance::SourceHash}) {
    SCOPED_TRACE(std::string(to_string(balance)));
    build({at(kBackendA), at(kBackendB)}, [&](ListenerPolicy& p) {
      p.connect_retries = 1;
      p.balance = balance;
      p.down_after_failures = 0;  // A stays eligible: each client must meet it first
    });
    serve_b();
    std::size_t retried = 0;
    for (int i = 0; i < 4; ++i) {
      const auto request = pattern(30000, static_cast<std::uint8_t>(10 + i)), reply = pattern(1000, 2);
      srv_b.reply_on_fin = reply;
      End& c = connect_client();
      c.to_send = request;
      c.shut_after_send = true;
      ASSERT_TRUE(settle([&] { return c.closed && srv_b.closed; })) << i;
      EXPECT_EQ(*c.closed, CloseReason::Normal) << i;
      EXPECT_EQ(first_difference(srv_b.received, request), -1) << i;
      EXPECT_EQ(first_difference(c.received, reply), -1) << i;
      srv_b.received.clear();
      srv_b.closed.reset();
      retried = stats().retries;
    }
    EXPECT_EQ(stats().refused, retried) << "every refusal was retried";
    EXPECT_EQ(stats().connected, 4u);
    EXPECT_EQ(backend_stats(1).connected, 4u);
    if (balance == Balance::RoundRobin) {
      EXPECT_EQ(retried, 2u) << "A's turns, every other client";
    }
    EXPECT_EQ(stats().active, 0u);
    EXPECT_EQ(backend_stats(0).active, 0u) << "the failed attempt is not left counted";
  }
}

TEST_F(ProxyTest, WithNoOtherBackendTheRetryFailsTheClient) {
  build({at(kBackendA)}, [](ListenerPolicy& p) { p.connect_retries = 3; });
  End& c = connect_client();
  c.to_send = pattern(1000, 7);
  ASSERT_TRUE(settle([&] { return c.closed.has_value(); }));
  EXPECT_EQ(*c.closed, CloseReason::Reset);
  EXPECT_EQ(stats().refused, 1u);
  EXPECT_EQ(stats().retries, 1u);
  EXPECT_EQ(stats().no_backend, 0u) << "a retry with nowhere to go is not 'no backend'";
  EXPECT_EQ(backend_stats(0).attempts, 1u);
  EXPECT_EQ(stats().active, 0u);
}

TEST_F(ProxyTest, RefusedBackendResetsTheClient) {
  build({at(kBackendA)});  // nothing listens on A: its stack answers the SYN with a RST
  End& c = connect_client();
  c.to_send = pattern(1000, 7);
  ASSERT_TRUE(settle([&] { return c.closed.has_value(); }));
  EXPECT_EQ(*c.closed, CloseReason::Reset);
  EXPECT_EQ(stats().accepted, 1u);
  EXPECT_EQ(stats().refused, 1u);
  EXPECT_EQ(stats().connected, 0u);
  EXPECT_EQ(backend_stats(0).refused, 1u);
  EXPECT_EQ(backend_stats(0).attempts, 1u);
  EXPECT_EQ(stats().active, 0u);
  EXPECT_EQ(proxy->relay_stats().buffered, 0u);
}

TEST_F(ProxyTest, RefusedBackendClosesTheClientWhenConfigured) {
  build({at(kBackendA)}, [](ListenerPolicy& p) { p.on_backend_failure = BackendFailure::Close; });
  End& c = connect_client();
  ASSERT_TRUE(settle([&] { return c.peer_closed; }));
  EXPECT_FALSE(c.closed.has_value() && *c.closed != CloseReason::Normal);
  EXPECT_EQ(stats().refused, 1u);
  ASSERT_FALSE(client->close(*c.conn));
  ASSERT_TRUE(settle([&] { return proxy_stack->connection_count() == 0; }));
}

TEST_F(ProxyTest, SilentBackendTimesOutAndTheClientIsReset) {
  build({at(kBackendA)}, [](ListenerPolicy& p) { p.connect_timeout_ms = 1500; });
  serve_a();
  net->drop = [](const Seen& s) { return s.dst == kBackendA; };  // SYNs vanish
  End& c = connect_client();
  ASSERT_TRUE(settle([&] { return stats().accepted == 1; }));
  const Instant accepted_at = net->now();
  ASSERT_TRUE(settle([&] { return c.closed.has_value(); }));
  EXPECT_EQ(*c.closed, CloseReason::Reset);
  EXPECT_GE(net->now() - accepted_at, std::chrono::milliseconds{1500});
  EXPECT_LT(net->now() - accepted_at, std::chrono::milliseconds{1600});
  EXPECT_EQ(stats().timeouts, 1u);
  EXPECT_EQ(backend_stats(0).timeouts, 1u);
  EXPECT_EQ(proxy_stack->connection_count(), 0u) << "the half-open upstream was dropped too";
}

TEST_F(ProxyTest, FailingBackendIsMarkedDownAndSkipped) {
  // Round robin over A (refuses) and B (serves); after 2 refusals A is down, so
  // every later connection goes to B until the retry time.
  build({at(kBackendA), at(kBackendB)}, [](ListenerPolicy& p) {
    p.down_after_failures = 2;
    p.down_retry_ms = 60000;
  });
  serve_b();
  srv_b.reply_on_fin = pattern(2, 8);  // and then its FIN
  int reset = 0;
  for (int i = 0; i < 8; ++i) {
    End& c = connect_client();
    c.to_send = pattern(10, 8);
    c.shut_after_send = true;
    ASSERT_TRUE(settle([&] { return c.closed.has_value(); }));
    if (*c.closed == CloseReason::Reset) ++reset;
  }
  EXPECT_EQ(reset, 2) << "two connections went to A before it was marked down";
  EXPECT_EQ(backend_stats(0).refused, 2u);
  EXPECT_EQ(backend_stats(0).marked_down, 1u);
  EXPECT_EQ(backend_stats(1).connected, 6u);
  EXPECT_FALSE(proxy->pool(0).available(0, net->now()));
}

TEST_F(ProxyTest, BytesBeforeTheUpstreamConnectsAreHeldNotLost) {
  // The backend's first SYN is lost, so the upstream connects only after the SYN
  // is retransmitted (rto_initial 1 s); the client's request and FIN arrive
  // meanwhile.
  build({at(kBackendA)});
  serve_a();
  bool dropped = false;
  net->drop = [&](const Seen& s) {
    if (!dropped && s.dst == kBackendA && (s.flags & wire::tcp_flags::kSyn)) return dropped = true;
    return false;
  };
  const auto request = pattern(40000, 9);
  End& c = connect_client();
  c.to_send = request;
  c.shut_after_send = true;
  ASSERT_TRUE(settle([&] { return stats().accepted == 1 && c.sent == request.size(); },
                     std::chrono::milliseconds{500}));
  EXPECT_EQ(stats().connected, 0u);
  EXPECT_EQ(proxy->relay_stats().buffered, request.size());
  srv_a.reply_on_fin = pattern(10, 10);
  ASSERT_TRUE(settle([&] { return c.closed && srv_a.closed; }));
  EXPECT_TRUE(dropped);
  EXPECT_EQ(first_difference(srv_a.received, request), -1);
  EXPECT_EQ(srv_a.received_before_fin, request.size());
  EXPECT_EQ(*c.closed, CloseReason::Normal);
}

TEST_F(ProxyTest, SlowReaderHoldsTheSenderBackWithinTheBufferBound) {
  // The backend does not read (its window closes); the client tries to upload
  // 4 MiB. The proxy's ring for that direction stays within its receive buffer
  // (64 KiB), the client's send stalls; once the backend reads, everything
  // arrives intact.
  build({at(kBackendA)});
  serve_a();
  srv_a.holding = true;
  const auto upload = pattern(4 << 20, 11);
  End& c = connect_client();
  c.to_send = upload;
  c.shut_after_send = true;
  net->run_for(std::chrono::seconds{20});
  EXPECT_LT(c.sent, upload.size() / 4) << "the client was held back";
  EXPECT_LE(proxy->relay_stats().pair_peak, 65536u);
  EXPECT_EQ(proxy->relay_stats().over_window, 0u);
  EXPECT_GT(proxy->relay_stats().buffered, 0u) << "the ring is what closes the client's window";
  srv_a.release_hold(*backend_a);
  ASSERT_TRUE(settle([&] { return srv_a.peer_closed; }, std::chrono::seconds{120}));
  EXPECT_EQ(first_difference(srv_a.received, upload), -1) << srv_a.received.size();
  EXPECT_EQ(proxy->relay_stats().over_window, 0u);
}

TEST_F(ProxyTest, IdleConnectionIsResetBothWays) {
  build({at(kBackendA)}, [](ListenerPolicy& p) { p.idle_timeout_ms = 2000; });
  serve_a();
  End& c = connect_client();
  c.to_send = pattern(100, 12);
  ASSERT_TRUE(settle([&] { return srv_a.received.size() == 100; }));
  const Instant last = net->now();
  ASSERT_TRUE(settle([&] { return c.closed && srv_a.closed; }));
  EXPECT_EQ(*c.closed, CloseReason::Reset);
  EXPECT_EQ(*srv_a.closed, CloseReason::Reset);
  EXPECT_GE(net->now() - last, std::chrono::milliseconds{2000});
  EXPECT_EQ(stats().idle_timeouts, 1u);
}

TEST_F(ProxyTest, ConnectionsBeyondTheLimitAreReset) {
  build({at(kBackendA)}, [](ListenerPolicy& p) { p.max_connections = 2; });
  serve_a();
  End& a = connect_client();
  End& b = connect_client();
  ASSERT_TRUE(settle([&] { return stats().connected == 2; }));
  End& third = connect_client();
  ASSERT_TRUE(settle([&] { return third.closed.has_value(); }));
  EXPECT_EQ(*third.closed, CloseReason::Reset);
  EXPECT_EQ(stats().over_limit, 1u);
  EXPECT_FALSE(a.closed.has_value());
  EXPECT_FALSE(b.closed.has_value());
  // One ends: a new one fits again.
  ASSERT_FALSE(client->abort(*a.conn));
  ASSERT_TRUE(settle([&] { return stats().active == 1; }));
  End& fourth = connect_client();
  ASSERT_TRUE(settle([&] { return stats().connected == 3; }));
  EXPECT_FALSE(fourth.closed.has_value());
}

TEST_F(ProxyTest, ConnectionsBeyondThePerClientLimitAreResetOtherClientsStillGetIn) {
  build({at(kBackendA)}, [](ListenerPolicy& p) { p.max_connections_per_client = 2; });
  serve_a();
  // A second client address: its own stack on the same in-memory net.
  const Ipv4Addr kOther = Ipv4Addr::from_octets(198, 18, 0, 7);
  End o;  // outlives the stack that calls it
  auto other = std::make_unique<Stack>(config(kOther, 7, 65536), kStart);
  net->add(*other);
  End& a = connect_client();
  End& b = connect_client();
  ASSERT_TRUE(settle([&] { return stats().connected == 2; }));
  End& third = connect_client();
  ASSERT_TRUE(settle([&] { return third.closed.has_value(); }));
  EXPECT_EQ(*third.closed, CloseReason::Reset);
  EXPECT_EQ(stats().over_client_limit, 1u);
  ASSERT_TRUE(other->connect(kProxy, kFront, o));
  ASSERT_TRUE(settle([&] { return stats().connected == 3; })) << "another address is not limited by the first";
  EXPECT_FALSE(o.closed.has_value());
  EXPECT_FALSE(a.closed.has_value());
  EXPECT_FALSE(b.closed.has_value());
  // One of the first client's ends: it may open one again.
  ASSERT_FALSE(client->abort(*a.conn));
  ASSERT_TRUE(settle([&] { return stats().active == 2; }));
  End& fourth = connect_client();
  ASSERT_TRUE(settle([&] { return stats().connected == 4; }));
  EXPECT_FALSE(fourth.closed.has_value());
  EXPECT_EQ(stats().over_client_limit, 1u);
  ASSERT_FALSE(other->abort(*o.conn));
  ASSERT_TRUE(settle([&] { return stats().active == 2; }));
}

// The per-client limit keys on the whole client address (issue 13): one host's
// IPv6 and IPv4 addresses are two clients, and another IPv6 address a third.
TEST_F(ProxyTest, PerClientLimitCountsIpv6AddressesApart) {
  build({at(kBackendA)}, [](ListenerPolicy& p) { p.max_connections_per_client = 2; }, 65536, IpAddr{});
  serve_a();
  End o;  // outlives the stack that calls it
  auto other = std::make_unique<Stack>(config(Ipv4Addr::from_octets(198, 18, 0, 7), 7, 65536), kStart);
  net->add(*other);
  std::vector<End*> v6;
  for (int i = 0; i < 3; ++i) {
    ends.push_back(std::make_unique<End>());
    v6.push_back(ends.back().get());
    ASSERT_TRUE(client->connect(kProxy6, kFront, *v6.back()));
    if (i == 1) {
      ASSERT_TRUE(settle([&] { return stats().connected == 2; }));
    }
  }
  ASSERT_TRUE(settle([&] { return v6[2]->closed.has_value(); }));
  EXPECT_EQ(*v6[2]->closed, CloseReason::Reset);
  EXPECT_EQ(stats().over_client_limit, 1u);
  End& v4 = connect_client();  // the same host over IPv4: another address
  ASSERT_TRUE(other->connect(kProxy6, kFront, o));  // 2001:db8::7
  ASSERT_TRUE(settle([&] { return stats().connected == 4; }));
  EXPECT_FALSE(v4.closed.has_value());
  EXPECT_FALSE(o.closed.has_value());
  EXPECT_EQ(stats().over_client_limit, 1u);
  ASSERT_FALSE(other->abort(*o.conn));
  ASSERT_TRUE(settle([&] { return stats().active == 3; }));
}

TEST_F(ProxyTest, ShutdownResetsEveryPairWithoutCountingFailures) {
  // The runtime's abort_all() at exit: both legs of every pair reset (peers are not
  // left half-open), one pair still connecting; no failure is counted for it.
  build({at(kBackendA), at(kBackendB)});
  serve_a();
  net->drop = [](const Seen& s) { return s.dst == kBackendB; };  // B's SYN stays unanswered
  End& a = connect_client();  // -> A, connected
  ASSERT_TRUE(settle([&] { return stats().connected == 1; }));
  End& b = connect_client();  // -> B, connecting
  ASSERT_TRUE(settle([&] { return stats().accepted == 2; }, std::chrono::milliseconds{100}));
  proxy_stack->abort_all();
  ASSERT_TRUE(settle([&] { return a.closed && b.closed && srv_a.closed; }, std::chrono::milliseconds{100}));
  EXPECT_EQ(*a.closed, CloseReason::Reset);
  EXPECT_EQ(*b.closed, CloseReason::Reset);
  EXPECT_EQ(*srv_a.closed, CloseReason::Reset);
  EXPECT_EQ(stats().active, 0u);
  EXPECT_EQ(stats().client_aborts + stats().backend_aborts + stats().connect_errors + stats().timeouts, 0u);
  EXPECT_EQ(backend_stats(1).failed_other + backend_stats(1).timeouts, 0u);
  EXPECT_EQ(backend_stats(1).active, 0u);
}

TEST_F(ProxyTest, LeastConnectionsFollowsWhatIsOpen) {
  build({at(kBackendA), at(kBackendB)}, [](ListenerPolicy& p) { p.balance = Balance::LeastConnections; });
  serve_a();
  serve_b();
  End& first = connect_client();  // -> A (tie, first)
  ASSERT_TRUE(settle([&] { return stats().connected == 1; }));
  End& second = connect_client();  // -> B
  ASSERT_TRUE(settle([&] { return stats().connected == 2; }));
  (void)second;
  ASSERT_FALSE(client->abort(*first.conn));  // A has none now
  ASSERT_TRUE(settle([&] { return stats().active == 1; }));
  connect_client();
  ASSERT_TRUE(settle([&] { return stats().connected == 3; }));
  EXPECT_EQ(srv_a.accepts, 2u);
  EXPECT_EQ(srv_b.accepts, 1u);
}


// ---------------------------------------------------------------------------------
// HTTP CONNECT tunnels (mode "connect")

std::string text_of(const std::vector<std::byte>& b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

AllowRule allow(std::string_view t) { return *parse_allow_rule(t).rule; }

void connect_mode(ListenerPolicy& p) {
  p.mode = ListenerMode::Connect;
  p.connect_allow = {allow("198.18.0.2:9000"), allow("198.18.0.2:9001")};
}

constexpr std::string_view kEstablished = "HTTP/1.1 200 Connection established\r\n\r\n";

TEST_F(ProxyTest, ConnectOpensATunnelAndKeepsTheBytesThatFollowTheRequest) {
  // One send: the request and the first tunnel bytes share a segment; the backend
  // gets exactly the tunnel bytes, the client the 200 and then the reply.
  build({}, connect_mode);
  serve_a();
  const auto upload = pattern(50000, 21), reply = pattern(70000, 22);
  srv_a.reply_on_fin = reply;
  auto stream = bytes_of("CONNECT 198.18.0.2:9000 HTTP/1.1\r\nHost: 198.18.0.2:9000\r\n\r\n");
  const std::size_t request_size = stream.size();
  stream.insert(stream.end(), upload.begin(), upload.end());
  End& c = connect_client();
  c.to_send = stream;
  c.shut_after_send = true;
  ASSERT_TRUE(settle([&] { return c.closed && srv_a.closed && stats().active == 0; }));
  EXPECT_EQ(first_difference(srv_a.received, upload), -1) << "tunnel bytes in the request's segment are relayed";
  ASSERT_GE(c.received.size(), kEstablished.size());
  EXPECT_EQ(text_of(c.received).substr(0, kEstablished.size()), kEstablished);
  const std::vector<std::byte> after(c.received.begin() + static_cast<std::ptrdiff_t>(kEstablished.size()),
                                     c.received.end());
  EXPECT_EQ(first_difference(after, reply), -1);
  EXPECT_EQ(*c.closed, CloseReason::Normal);
  EXPECT_EQ(stats().connect_requests, 1u);
  EXPECT_EQ(stats().connect_established, 1u);
  EXPECT_EQ(stats().connected, 1u);
  EXPECT_EQ(stats().bytes_to_backend, upload.size()) << "the request itself is not relayed";
  EXPECT_EQ(stats().bytes_to_client, reply.size()) << "nor is the 200 counted";
  EXPECT_LT(request_size, 100u);
}

TEST_F(ProxyTest, ConnectRequestSplitAcrossSegments) {
  build({}, connect_mode);
  serve_a();
  End& c = connect_client();
  ASSERT_TRUE(settle([&] { return stats().accepted == 1 && c.conn.has_value(); }));
  ASSERT_FALSE(client->set_nodelay(*c.conn, true));  // each piece its own segment
  const std::uint64_t segments_before = net->delivered();
  const std::string request = "CONNECT 198.18.0.2:9000 HTTP/1.1\r\nHost: 198.18.0.2:9000\r\nX-Long: " +
                              std::string(300, 'v') + "\r\n\r\ntunnel";
  for (std::size_t at = 0; at < request.size(); at += 7) {  // 7-byte pieces, each delivered before the next
    const auto piece = bytes_of(std::string_view(request).substr(at, 7));
    c.to_send.insert(c.to_send.end(), piece.begin(), piece.end());
    c.push(*client);
    ASSERT_TRUE(settle([&] { return proxy_stack->connection_count() >= 1 && c.sent == c.to_send.size(); },
                       std::chrono::milliseconds{300}));
  }
  EXPECT_GE(net->delivered() - segments_before, request.size() / 7) << "the request came in pieces";
  ASSERT_TRUE(settle([&] { return text_of(srv_a.received) == "tunnel"; }));
  EXPECT_EQ(text_of(c.received), kEstablished);
  EXPECT_EQ(stats().connect_established, 1u);
}

struct ConnectRefusal {
  const char* what;
  std::string request;  // sent whole, no FIN
  std::string status;   // the status line's code
  std::uint64_t ListenerStats::*counter;
};

TEST_F(ProxyTest, ConnectRefusalsAreAnsweredClosedAndCounted) {
  const std::vector<ConnectRefusal> cases{
      {"malformed", "CONNECT 198.18.0.2 HTTP/1.1\r\n\r\n", "400", &ListenerStats::connect_malformed},
      {"lowercase method", "connect 198.18.0.2:9000 HTTP/1.1\r\n\r\n", "405", &ListenerStats::connect_bad_method},
      {"GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "405", &ListenerStats::connect_bad_method},
      {"a name", "CONNECT backend.example:9000 HTTP/1.1\r\n\r\n", "400", &ListenerStats::connect_not_ipv4},
      {"not allowed: other host", "CONNECT 198.18.0.3:9000 HTTP/1.1\r\n\r\n", "403",
       &ListenerStats::connect_forbidden},
      {"not allowed: other port", "CONNECT 198.18.0.2:22 HTTP/1.1\r\n\r\n", "403", &ListenerStats::connect_forbidden},
      {"too large", "CONNECT 198.18.0.2:9000 HTTP/1.1\r\nX: " + std::string(5000, 'a') + "\r\n\r\n", "400",
       &ListenerStats::connect_too_large},
      {"refused", "CONNECT 198.18.0.2:9001 HTTP/1.1\r\n\r\n", "502", &ListenerStats::refused},
  };
  for (const ConnectRefusal& k : cases) {
    SCOPED_TRACE(k.what);
    build({}, connect_mode);
    serve_a();
    serve_b();
    End& c = connect_client();
    c.to_send = bytes_of(k.request);
    ASSERT_TRUE(settle([&] { return c.peer_closed; }));
    const std::string got = text_of(c.received);
    EXPECT_EQ(got.substr(0, 13), "HTTP/1.1 " + k.status + " ") << got;
    EXPECT_NE(got.find("Connection: close\r\n\r\n"), std::string::npos) << got;
    EXPECT_EQ(stats().*k.counter, 1u);
    EXPECT_EQ(stats().connect_established, 0u);
    EXPECT_EQ(srv_a.accepts + srv_b.accepts, 0u) << "no tunnel was opened";
    EXPECT_EQ(stats().active, 0u);
  }
}

TEST_F(ProxyTest, ConnectTimeoutIsAnswered504) {
  build({}, [](ListenerPolicy& p) {
    connect_mode(p);
    p.connect_timeout_ms = 1500;
  });
  serve_a();
  net->drop = [](const Seen& s) { return s.dst == kBackendA; };  // SYNs vanish
  End& c = connect_client();
  c.to_send = bytes_of("CONNECT 198.18.0.2:9000 HTTP/1.1\r\n\r\nearly bytes");
  ASSERT_TRUE(settle([&] { return c.peer_closed; }));
  EXPECT_EQ(text_of(c.received).substr(0, 13), "HTTP/1.1 504 ");
  EXPECT_EQ(stats().timeouts, 1u);
  EXPECT_EQ(stats().connect_requests, 1u);
  EXPECT_EQ(stats().active, 0u);
  EXPECT_EQ(proxy->relay_stats().buffered, 0u) << "the early bytes were dropped with the pair";
}

TEST_F(ProxyTest, ConnectRequestTimeLimitIsAnswered408) {
  build({}, [](ListenerPolicy& p) {
    connect_mode(p);
    p.connect_request_timeout_ms = 3000;
  });
  serve_a();
  End& c = connect_client();
  c.to_send = bytes_of("CONNECT 198.18.0.2:9000 HTTP/1.1\r\nHost:");  // and then nothing
  ASSERT_TRUE(settle([&] { return stats().accepted == 1; }));
  const Instant accepted = net->now();
  ASSERT_TRUE(settle([&] { return c.peer_closed; }));
  EXPECT_GE(net->now() - accepted, std::chrono::milliseconds{3000});
  EXPECT_EQ(text_of(c.received).substr(0, 13), "HTTP/1.1 408 ");
  EXPECT_EQ(stats().connect_request_timeouts, 1u);
  EXPECT_EQ(srv_a.accepts, 0u);
}

TEST_F(ProxyTest, ConnectRequestCutByAFinIsMalformed) {
  build({}, connect_mode);
  serve_a();
  End& c = connect_client();
  c.to_send = bytes_of("CONNECT 198.18.0.2:9000 HTTP/1.1\r\n");
  c.shut_after_send = true;
  ASSERT_TRUE(settle([&] { return c.closed.has_value(); }));
  EXPECT_EQ(text_of(c.received).substr(0, 13), "HTTP/1.1 400 ");
  EXPECT_EQ(stats().connect_malformed, 1u);
  EXPECT_EQ(srv_a.accepts, 0u);
}

TEST_F(ProxyTest, ConnectAfterATrustedFrontsProxyHeader) {
  build({}, [](ListenerPolicy& p) {
    connect_mode(p);
    p.accept_proxy_protocol = true;
  });
  serve_a();
  auto stream = proxy_header(ProxyProtocol::V1, ProxiedFlow{Ipv4Addr::from_octets(198, 19, 1, 2), kProxy, 4000, kFront});
  const auto request = bytes_of("CONNECT 198.18.0.2:9000 HTTP/1.1\r\n\r\nhello");
  stream.insert(stream.end(), request.begin(), request.end());
  End& c = connect_client();
  c.to_send = stream;
  ASSERT_TRUE(settle([&] { return text_of(srv_a.received) == "hello"; }));
  EXPECT_EQ(text_of(c.received), kEstablished);
  EXPECT_EQ(stats().proxy_headers_accepted, 1u);
  EXPECT_EQ(stats().connect_established, 1u);
}


// ---------------------------------------------------------------------------------
// Trusted fronts (accept_proxy_from)

TEST_F(ProxyTest, OnlyTrustedFrontsMaySendAProxyHeader) {
  // The front is 198.18.0.7; the test's usual client (198.18.0.1) is not in the
  // list: reset at once, even with a well-formed header, and no backend hears of it.
  const Ipv4Addr kFrontAddr = Ipv4Addr::from_octets(198, 18, 0, 7);
  build({at(kBackendA)}, [](ListenerPolicy& p) {
    p.accept_proxy_protocol = true;
    p.accept_proxy_from = {*parse_cidr("198.18.0.4/31").cidr, *parse_cidr("198.18.0.7").cidr};
  });
  serve_a();
  End f;  // outlives the stack that calls it
  auto front = std::make_unique<Stack>(config(kFrontAddr, 7, 65536), kStart);
  net->add(*front);
  const ProxiedFlow origin{Ipv4Addr::from_octets(198, 19, 1, 2), kProxy, 40000, kFront};
  auto stream = proxy_header(ProxyProtocol::V1, origin);
  const auto request = pattern(3000, 31);
  stream.insert(stream.end(), request.begin(), request.end());

  End& c = connect_client();
  c.to_send = stream;
  ASSERT_TRUE(settle([&] { return c.closed.has_value(); }));
  EXPECT_EQ(*c.closed, CloseReason::Reset);
  EXPECT_EQ(stats().untrusted_fronts, 1u);
  EXPECT_EQ(stats().proxy_headers_accepted, 0u);
  EXPECT_EQ(backend_stats(0).attempts, 0u);
  EXPECT_EQ(stats().active, 0u);

  f.to_send = stream;
  f.shut_after_send = true;
  srv_a.reply_on_fin = pattern(10, 32);
  ASSERT_TRUE(front->connect(kProxy, kFront, f));
  ASSERT_TRUE(settle([&] { return f.closed && srv_a.closed; }));
  EXPECT_EQ(*f.closed, CloseReason::Normal);
  EXPECT_EQ(first_difference(srv_a.received, request), -1) << "the trusted front's client bytes, header read";
  EXPECT_EQ(stats().proxy_headers_accepted, 1u);
  EXPECT_EQ(stats().untrusted_fronts, 1u);
}

TEST_F(ProxyTest, AnEmptyTrustListTrustsEveryone) {
  build({at(kBackendA)}, [](ListenerPolicy& p) { p.accept_proxy_protocol = true; });
  serve_a();
  auto stream = proxy_header(ProxyProtocol::V2, ProxiedFlow{Ipv4Addr::from_octets(198, 19, 1, 2), kProxy, 1, kFront});
  End& c = connect_client();
  c.to_send = stream;
  ASSERT_TRUE(settle([&] { return stats().proxy_headers_accepted == 1 && stats().connected == 1; }));
  EXPECT_EQ(stats().untrusted_fronts, 0u);
}

TEST_F(ProxyTest, TheTrustListMattersOnlyWithAcceptProxyProtocol) {
  build({at(kBackendA)}, [](ListenerPolicy& p) { p.accept_proxy_from = {*parse_cidr("198.18.0.7").cidr}; });
  serve_a();
  End& c = connect_client();
  c.to_send = bytes_of("plain");
  ASSERT_TRUE(settle([&] { return srv_a.received.size() == 5; }));
  EXPECT_EQ(stats().untrusted_fronts, 0u);
}


// ---------------------------------------------------------------------------------
// Active health checks and draining

TEST_F(ProxyTest, HealthChecksTakeADeadBackendDownAfterFallAndBackAfterRise) {
  build({at(kBackendA), at(kBackendB)}, [](ListenerPolicy& p) {
    p.health_check_interval_ms = 1000;
    p.health_check_timeout_ms = 500;
    p.health_check_rise = 2;
    p.health_check_fall = 3;
    p.down_after_failures = 0;  // active checks alone
  });
  auto la = backend_a->listen(kBackendA, kBack, srv_a);
  ASSERT_TRUE(la);
  serve_b();
  ASSERT_TRUE(settle([&] { return backend_stats(0).checks >= 3 && backend_stats(1).checks >= 3; }));
  EXPECT_EQ(backend_stats(0).checks_failed, 0u);
  EXPECT_EQ(proxy->pool(0).health(0, net->now()), Health::Up);

  // A stops listening: its stack answers the checks' SYNs with RSTs.
  backend_a->unlisten(*la);
  const std::uint64_t failed_before = backend_stats(0).checks_failed;
  ASSERT_TRUE(settle([&] { return proxy->pool(0).health(0, net->now()) == Health::Down; }));
  EXPECT_EQ(backend_stats(0).checks_failed - failed_before, 3u) << "down after exactly `fall` failures";
  EXPECT_EQ(backend_stats(0).went_down, 1u);
  EXPECT_EQ(proxy->pool(0).health(1, net->now()), Health::Up);

  // While it is down, every new connection goes to B; none is tried on A.
  for (int i = 0; i < 4; ++i) {
    End& c = connect_client();
    c.to_send = pattern(100, 40);
    ASSERT_TRUE(settle([&] { return stats().connected == static_cast<std::uint64_t>(i + 1); })) << i;
  }
  EXPECT_EQ(backend_stats(0).attempts, 0u);
  EXPECT_EQ(backend_stats(1).connected, 4u);

  // It listens again: up after `rise` good checks, and it gets its turns again.
  la = backend_a->listen(kBackendA, kBack, srv_a);
  ASSERT_TRUE(la);
  const std::uint64_t checks_before = backend_stats(0).checks;
  ASSERT_TRUE(settle([&] { return proxy->pool(0).health(0, net->now()) == Health::Up; }));
  EXPECT_EQ(backend_stats(0).checks - checks_before, 2u) << "up after exactly `rise` successes";
  EXPECT_EQ(backend_stats(0).went_up, 1u);
  End& c = connect_client();
  End& d = connect_client();
  ASSERT_TRUE(settle([&] { return stats().connected == 6; }));
  (void)c;
  (void)d;
  EXPECT_EQ(backend_stats(0).connected, 1u) << "round robin includes A again";
  EXPECT_EQ(stats().refused + stats().no_backend, 0u) << "no client met the dead backend";
}

TEST_F(ProxyTest, HealthCheckSendsAndExpectsAReplyPrefix) {
  build({at(kBackendA)}, [](ListenerPolicy& p) {
    p.health_check_interval_ms = 1000;
    p.health_check_timeout_ms = 400;
    p.health_check_rise = 1;
    p.health_check_fall = 1;
    p.health_check_send = "PING\r\n";
    p.health_check_expect = "+PONG";
  });
  serve_a();
  srv_a.to_send = bytes_of("+PONG and more\r\n");  // sent to each connection it accepts
  ASSERT_TRUE(settle([&] { return backend_stats(0).checks >= 2; }));
  EXPECT_EQ(backend_stats(0).checks_failed, 0u);
  EXPECT_EQ(text_of(srv_a.received).substr(0, 6), "PING\r\n") << "the check sent its bytes";
  EXPECT_EQ(proxy->pool(0).health(0, net->now()), Health::Up);
  EXPECT_EQ(proxy_stack->time_wait_count(), 0u) << "check connections end with a RST";

  srv_a.to_send = bytes_of("-ERR\r\n");  // a different reply: down at once (fall 1)
  ASSERT_TRUE(settle([&] { return proxy->pool(0).health(0, net->now()) == Health::Down; }));
  EXPECT_EQ(backend_stats(0).went_down, 1u);

  srv_a.to_send = bytes_of("+PO");  // the start of it and then silence: times out
  const std::uint64_t failed = backend_stats(0).checks_failed;
  ASSERT_TRUE(settle([&] { return backend_stats(0).checks_failed >= failed + 2; }));
  EXPECT_EQ(proxy->pool(0).health(0, net->now()), Health::Down);

  srv_a.to_send = bytes_of("+PONG");
  ASSERT_TRUE(settle([&] { return proxy->pool(0).health(0, net->now()) == Health::Up; }));
  EXPECT_EQ(backend_stats(0).went_up, 1u);
}

TEST_F(ProxyTest, WithActiveChecksAPassiveMarkLastsUntilRiseGoodChecks) {
  // Checks every 30 s; A refuses one client (down_after_failures 1): it is down
  // until two good checks, not just for down_retry_ms.
  build({at(kBackendA), at(kBackendB)}, [](ListenerPolicy& p) {
    p.health_check_interval_ms = 30000;
    p.health_check_timeout_ms = 1000;
    p.health_check_rise = 2;
    p.down_after_failures = 1;
    p.down_retry_ms = 10;
  });
  serve_b();
  End& first = connect_client();  // round robin: A, which refuses
  ASSERT_TRUE(settle([&] { return first.closed.has_value(); }));
  EXPECT_EQ(*first.closed, CloseReason::Reset);
  EXPECT_EQ(backend_stats(0).marked_down, 1u);
  serve_a();  // A is back, but nothing has checked it yet
  net->run_for(std::chrono::seconds{1});  // far past down_retry_ms
  EXPECT_EQ(proxy->pool(0).health(0, net->now()), Health::Down);
  for (int i = 0; i < 3; ++i) {
    End& c = connect_client();
    ASSERT_TRUE(settle([&] { return stats().connected == static_cast<std::uint64_t>(i + 1); }));
    (void)c;
  }
  EXPECT_EQ(backend_stats(0).attempts, 1u) << "only the first client met A";
  ASSERT_TRUE(settle([&] { return proxy->pool(0).health(0, net->now()) == Health::Up; }, std::chrono::seconds{120}));
  EXPECT_EQ(backend_stats(0).went_up, 1u);
}

TEST_F(ProxyTest, ADrainingBackendGetsNoNewConnectionsAndItsOwnFinish) {
  build({at(kBackendA), at(kBackendB)});
  serve_a();
  serve_b();
  const auto upload = pattern(200000, 41), reply = pattern(1000, 42);
  End& old = connect_client();  // round robin: A
  ASSERT_TRUE(settle([&] { return stats().connected == 1 && srv_a.conn.has_value(); }));
  proxy->set_drain(0, 0, true);
  EXPECT_EQ(proxy->pool(0).health(0, net->now()), Health::Drain);
  for (int i = 0; i < 3; ++i) {
    End& c = connect_client();
    ASSERT_TRUE(settle([&] { return stats().connected == static_cast<std::uint64_t>(i + 2); }));
    (void)c;
  }
  EXPECT_EQ(backend_stats(0).attempts, 1u) << "nothing new for A";
  EXPECT_EQ(backend_stats(1).connected, 3u);
  // The connection A had goes on to its end.
  srv_a.reply_on_fin = reply;
  old.to_send = upload;
  old.shut_after_send = true;
  old.push(*client);
  ASSERT_TRUE(settle([&] { return old.closed.has_value(); }));
  EXPECT_EQ(*old.closed, CloseReason::Normal);
  EXPECT_EQ(first_difference(srv_a.received, upload), -1);
  EXPECT_EQ(first_difference(old.received, reply), -1);
  proxy->set_drain(0, 0, false);
  connect_client();
  connect_client();
  ASSERT_TRUE(settle([&] { return stats().connected == 6; }));
  EXPECT_EQ(backend_stats(0).attempts, 2u) << "A takes new connections again (one of the two)";
}

TEST_F(ProxyTest, DrainOrWeightZeroInTheConfigurationKeepsABackendOutOfRotation) {
  for (const BackendSpec b : {BackendSpec{Endpoint{kBackendB, kBack}, 1, true}, BackendSpec{Endpoint{kBackendB, kBack}, 0}}) {
    build({at(kBackendA), b});
    serve_a();
    serve_b();
    for (int i = 0; i < 4; ++i) {
      End& c = connect_client();
      ASSERT_TRUE(settle([&] { return stats().connected == static_cast<std::uint64_t>(i + 1); }));
      (void)c;
    }
    EXPECT_EQ(backend_stats(0).connected, 4u);
    EXPECT_EQ(backend_stats(1).attempts, 0u);
    EXPECT_EQ(proxy->pool(0).health(1, net->now()), Health::Drain);
  }
}

}  // namespace
}  // namespace riptide::apps::proxy
