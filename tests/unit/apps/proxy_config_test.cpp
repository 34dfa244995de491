// riptide-proxy's [proxy] section (apps/common/proxy_config.hpp): listeners with
// their backends and inherited defaults, overrides, every class of error naming
// the key, the to_toml round trip, and the shipped config/riptide.toml.
#include "common/proxy_config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runtime/config.hpp"
#include "runtime/source_root.hpp"  // generated: RIPTIDE_SOURCE_ROOT

namespace riptide::apps::proxy {
namespace {

using ::testing::HasSubstr;

const Ipv4Addr kLocal = Ipv4Addr::from_octets(198, 18, 0, 1);

constexpr const char* kOne =
    "[[proxy.listener]]\n"
    "bind = \"198.18.0.1:8080\"\n"
    "backends = [\"198.18.0.2:9000\"]\n";

ProxyConfig load_ok(const std::string& text, const std::vector<std::string>& overrides = {}) {
  auto r = load_proxy_config(text, "", overrides, {kLocal});
  if (auto* e = std::get_if<ProxyConfigError>(&r)) {
    ADD_FAILURE() << "unexpected error: " << e->message;
    return {};
  }
  return std::get<ProxyConfig>(r);
}

std::string load_error(const std::string& text, const std::vector<std::string>& overrides = {},
                       const std::vector<IpAddr>& local = {kLocal}) {
  auto r = load_proxy_config(text, "", overrides, local);
  if (auto* e = std::get_if<ProxyConfigError>(&r)) return e->message;
  ADD_FAILURE() << "loaded, but an error was expected";
  return {};
}

Endpoint ep(std::uint8_t host, std::uint16_t port) { return Endpoint{Ipv4Addr::from_octets(198, 18, 0, host), port}; }

TEST(ProxyConfig, OneListenerTakesTheDefaults) {
  const ProxyConfig c = load_ok(kOne);
  ASSERT_EQ(c.listeners.size(), 1u);
  const ListenerSpec& l = c.listeners[0];
  EXPECT_EQ(l.bind, ep(1, 8080));
  ASSERT_EQ(l.backends.size(), 1u);
  EXPECT_EQ(l.backends[0], (BackendSpec{ep(2, 9000), 1}));
  EXPECT_EQ(l.policy, ListenerPolicy{});
  EXPECT_EQ(l.policy.balance, Balance::RoundRobin);
  EXPECT_EQ(l.policy.connect_timeout_ms, 5000u);
  EXPECT_EQ(l.policy.idle_timeout_ms, 300000u);
  EXPECT_EQ(l.policy.on_backend_failure, BackendFailure::Reset);
  EXPECT_EQ(l.policy.down_after_failures, 3u);
  EXPECT_EQ(l.policy.down_retry_ms, 10000u);
}

TEST(ProxyConfig, ListenersInheritDefaultsAndOverrideThem) {
  const ProxyConfig c = load_ok(
      "[proxy]\n"
      "balance = \"least-connections\"\n"
      "connect_timeout_ms = 700\n"
      "idle_timeout_ms = 0\n"
      "max_connections = 100\n"
      "on_backend_failure = \"close\"\n"
      "down_after_failures = 0\n"
      "down_retry_ms = 2500\n"
      "[[proxy.listener]]\n"
      "bind = \"198.18.0.1:80\"\n"
      "backends = [\"198.18.0.2:80\", { address = \"198.18.0.3:80\", weight = 5 }]\n"
      "[[proxy.listener]]\n"
      "bind = \"0.0.0.0:443\"\n"
      "backends = [\"198.18.0.4:443\"]\n"
      "balance = \"source-hash\"\n"
      "max_connections = 7\n");
  ASSERT_EQ(c.listeners.size(), 2u);
  const ListenerPolicy& a = c.listeners[0].policy;
  EXPECT_EQ(a.balance, Balance::LeastConnections);
  EXPECT_EQ(a.connect_timeout_ms, 700u);
  EXPECT_EQ(a.idle_timeout_ms, 0u);
  EXPECT_EQ(a.max_connections, 100u);
  EXPECT_EQ(a.on_backend_failure, BackendFailure::Close);
  EXPECT_EQ(a.down_after_failures, 0u);
  EXPECT_EQ(a.down_retry_ms, 2500u);
  EXPECT_EQ(c.listeners[0].backends[1], (BackendSpec{ep(3, 80), 5}));
  const ListenerPolicy& b = c.listeners[1].policy;
  EXPECT_EQ(b.balance, Balance::SourceHash);
  EXPECT_EQ(b.max_connections, 7u);
  EXPECT_EQ(b.connect_timeout_ms, 700u) << "inherited";
  EXPECT_EQ(c.listeners[1].bind, (Endpoint{Ipv4Addr{}, 443}));
  EXPECT_EQ(c.defaults, a);
}

TEST(ProxyConfig, OverridesSetDefaultsAndListenerKeys) {
  const std::string text = std::string(kOne) + "balance = \"source-hash\"\n";
  const ProxyConfig c = load_ok(text, {"proxy.balance=least-connections", "proxy.connect_timeout_ms=250",
                                       "proxy.listener.0.bind=198.18.0.1:81",
                                       "proxy.listener.0.backends=198.18.0.2:1, 198.18.0.3:2",
                                       "proxy.listener.1.bind=198.18.0.1:82",
                                       "proxy.listener.1.backends=[{address=\"198.18.0.5:5\",weight=3}]",
                                       "tcp.mss=1400"});  // not ours: ignored here
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].policy.balance, Balance::SourceHash) << "the listener's own key wins over a default";
  EXPECT_EQ(c.listeners[0].policy.connect_timeout_ms, 250u);
  EXPECT_EQ(c.listeners[0].bind, ep(1, 81));
  EXPECT_EQ(c.listeners[0].backends, (std::vector<BackendSpec>{{ep(2, 1), 1}, {ep(3, 2), 1}}));
  EXPECT_EQ(c.listeners[1].policy.balance, Balance::LeastConnections);
  EXPECT_EQ(c.listeners[1].backends, (std::vector<BackendSpec>{{ep(5, 5), 3}}));
}

TEST(ProxyConfig, OverridesAloneCanMakeAListener) {
  const ProxyConfig c = load_ok("", {"proxy.listener.0.bind=198.18.0.1:8080", "proxy.listener.0.backends=198.18.0.2:80"});
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].backends[0].address, ep(2, 80));
}

TEST(ProxyConfig, NoListenerIsAnError) {
  EXPECT_THAT(load_error(""), HasSubstr("proxy.listener: none configured"));
  EXPECT_THAT(load_error("[proxy]\nbalance = \"round-robin\"\n"), HasSubstr("proxy.listener: none configured"));
}

TEST(ProxyConfig, UnknownKeysNameKeyAndLine) {
  EXPECT_EQ(load_error(std::string("[proxy]\nbalanse = \"x\"\n") + kOne), "unknown key 'proxy.balanse' (line 2)");
  EXPECT_EQ(load_error(std::string(kOne) + "tiemout = 1\n"), "unknown key 'proxy.listener.0.tiemout' (line 4)");
  EXPECT_THAT(load_error(std::string(kOne), {"proxy.listener.0.nope=1"}),
              HasSubstr("unknown key 'proxy.listener.0.nope' (override 'proxy.listener.0.nope=1')"));
  EXPECT_THAT(load_error(std::string(kOne), {"proxy.nope=1"}), HasSubstr("unknown key 'proxy.nope'"));
  EXPECT_THAT(load_error("[[proxy.listener]]\nbind = \"198.18.0.1:1\"\n"
                         "backends = [{ address = \"198.18.0.2:1\", wieght = 2 }]\n"),
              HasSubstr("unknown key 'proxy.listener.0.backends[0].wieght' (address, weight, drain) (line 3)"));
}

TEST(ProxyConfig, BadValuesNameTheKey) {
  EXPECT_EQ(load_error(std::string(kOne) + "balance = \"random\"\n"),
            "proxy.listener.0.balance: \"random\" is not one of \"round-robin\", \"least-connections\", "
            "\"source-hash\" (line 4)");
  EXPECT_THAT(load_error(std::string(kOne) + "on_backend_failure = \"drop\"\n"),
              HasSubstr("proxy.listener.0.on_backend_failure: \"drop\" is not one of \"reset\", \"close\""));
  EXPECT_THAT(load_error(std::string("[proxy]\nconnect_timeout_ms = 0\n") + kOne),
              HasSubstr("proxy.connect_timeout_ms: 0 is outside 1..4294967295 (line 2)"));
  EXPECT_THAT(load_error(std::string(kOne) + "idle_timeout_ms = -1\n"),
              HasSubstr("proxy.listener.0.idle_timeout_ms: -1 is outside 0..4294967295"));
  EXPECT_THAT(load_error(std::string(kOne) + "max_connections = \"many\"\n"),
              HasSubstr("proxy.listener.0.max_connections: expected an integer, got a string"));
  EXPECT_THAT(load_error("[[proxy.listener]]\nbind = \"198.18.0.1\"\nbackends = [\"198.18.0.2:1\"]\n"),
              HasSubstr("proxy.listener.0.bind: \"198.18.0.1\" is not an address and port"));
  EXPECT_THAT(load_error("[[proxy.listener]]\nbind = \"198.18.0.1:1\"\nbackends = [\"198.18.0.2:0\"]\n"),
              HasSubstr("proxy.listener.0.backends[0]: \"198.18.0.2:0\" is not an address and port"));
  EXPECT_THAT(load_error("[[proxy.listener]]\nbind = \"198.18.0.1:1\"\nbackends = [\"0.0.0.0:80\"]\n"),
              HasSubstr("proxy.listener.0.backends[0]: \"0.0.0.0:80\""));
  EXPECT_THAT(load_error("[[proxy.listener]]\nbind = \"198.18.0.1:1\"\n"
                         "backends = [{ address = \"198.18.0.2:1\", weight = 1001 }]\n"),
              HasSubstr("proxy.listener.0.backends[0].weight: 1001 is outside 0..1000"));
  EXPECT_THAT(load_error("[[proxy.listener]]\nbind = \"198.18.0.1:1\"\nbackends = []\n"),
              HasSubstr("proxy.listener.0.backends: empty (at least one backend)"));
  EXPECT_THAT(load_error("[[proxy.listener]]\nbind = \"198.18.0.1:1\"\nbackends = \"198.18.0.2:1\"\n"),
              HasSubstr("proxy.listener.0.backends: expected an array"));
  EXPECT_THAT(load_error("[[proxy.listener]]\nbind = \"198.18.0.1:1\"\nbackends = [\"198.18.0.2:1\", 7]\n"),
              HasSubstr("proxy.listener.0.backends[1]: expected \"address:port\" or { address, weight }"));
  EXPECT_THAT(load_error("[proxy]\nlistener = 3\n"), HasSubstr("proxy.listener: expected an array of tables"));
  EXPECT_THAT(load_error("proxy = 3\n"), HasSubstr("proxy: expected a table, got an integer (line 1)"));
  EXPECT_THAT(load_error(kOne, {"proxy.listener.0.balance=fastest"}),
              HasSubstr("proxy.listener.0.balance: \"fastest\" is not one of"));
  EXPECT_THAT(load_error(std::string(kOne) + "send_proxy_protocol = \"v3\"\n"),
              HasSubstr("proxy.listener.0.send_proxy_protocol: \"v3\" is not one of \"off\", \"v1\", \"v2\""));
  EXPECT_THAT(load_error(kOne, {"proxy.idle_timeout_ms=soon"}),
              HasSubstr("proxy.idle_timeout_ms: expected an integer, got a string (override"));
}

TEST(ProxyConfig, MissingAndConflictingListenerKeys) {
  EXPECT_EQ(load_error("[[proxy.listener]]\nbackends = [\"198.18.0.2:1\"]\n"),
            "proxy.listener.0.bind: required (address:port to listen on) (line 1)");
  EXPECT_EQ(load_error("[[proxy.listener]]\nbind = \"198.18.0.1:1\"\n"),
            "proxy.listener.0.backends: required (at least one \"address:port\") (line 1)");
  EXPECT_THAT(load_error(std::string(kOne) + kOne),
              HasSubstr("proxy.listener.1.bind: 198.18.0.1:8080 overlaps proxy.listener.0 (198.18.0.1:8080) (line 4)"));
  EXPECT_THAT(load_error(std::string(kOne) + "[[proxy.listener]]\nbind = \"0.0.0.0:8080\"\nbackends = [\"198.18.0.2:1\"]\n"),
              HasSubstr("proxy.listener.1.bind: 0.0.0.0:8080 overlaps proxy.listener.0"));
  EXPECT_THAT(load_error("[[proxy.listener]]\nbind = \"198.18.0.1:1\"\nbackends = [\"198.18.0.2:1\", \"198.18.0.2:1\"]\n"),
              HasSubstr("proxy.listener.0.backends[1]: 198.18.0.2:1 is listed twice"));
  EXPECT_THAT(load_error("[[proxy.listener]]\nbind = \"198.18.0.9:1\"\nbackends = [\"198.18.0.2:1\"]\n"),
              HasSubstr("proxy.listener.0.bind: 198.18.0.9 is not one of this host's addresses (ip.address 198.18.0.1"));
  EXPECT_THAT(load_error(kOne, {"proxy.listener.2.bind=198.18.0.1:1"}),
              HasSubstr("proxy.listener.2: there are 1 listeners; the next one is proxy.listener.1"));
  EXPECT_THAT(load_error(kOne, {"proxy.listener.x.bind=198.18.0.1:1"}), HasSubstr("bad override"));
  EXPECT_THAT(load_error(kOne, {"proxy.listener.1.bind=198.18.0.1:2"}),
              HasSubstr("proxy.listener.1.backends: required (at least one \"address:port\") (added by an override)"));
}

TEST(ProxyConfig, ReportsEveryProblemInFileOrder) {
  const std::string e = load_error(
      "[proxy]\nbalance = \"x\"\n[[proxy.listener]]\nbind = \"nope\"\nbackends = []\n", {"proxy.down_retry_ms=0"});
  EXPECT_EQ(e,
            "proxy.balance: \"x\" is not one of \"round-robin\", \"least-connections\", \"source-hash\" (line 2)\n"
            "proxy.listener.0.bind: \"nope\" is not an address and port (e.g. \"198.18.0.1:8080\" or \"[2001:db8::1]:8080\") (line 4)\n"
            "proxy.listener.0.backends: empty (at least one backend) (line 5)\n"
            "proxy.down_retry_ms: 0 is outside 1..4294967295 (override 'proxy.down_retry_ms=0')");
}

TEST(ProxyConfig, SendProxyProtocolIsOffUnlessAsked) {
  EXPECT_EQ(load_ok(kOne).listeners[0].policy.send_proxy_protocol, ProxyProtocol::Off);
  EXPECT_EQ(load_ok(std::string(kOne) + "send_proxy_protocol = \"v2\"\n").listeners[0].policy.send_proxy_protocol,
            ProxyProtocol::V2);
  EXPECT_EQ(load_ok(kOne, {"proxy.send_proxy_protocol=v1"}).listeners[0].policy.send_proxy_protocol,
            ProxyProtocol::V1);
}

TEST(ProxyConfig, RoundTripsThroughToToml) {
  const ProxyConfig a = load_ok(
      "[proxy]\nbalance = \"least-connections\"\nidle_timeout_ms = 0\n"
      "[[proxy.listener]]\nbind = \"198.18.0.1:80\"\n"
      "backends = [\"198.18.0.2:80\", { address = \"198.18.0.3:80\", weight = 5 }]\n"
      "on_backend_failure = \"close\"\n"
      "[[proxy.listener]]\nbind = \"198.18.0.1:81\"\nbackends = [\"198.18.0.4:81\"]\n");
  const std::string text = to_toml(a);
  const ProxyConfig b = load_ok(text);
  EXPECT_EQ(to_toml(b), text);
  EXPECT_EQ(b.defaults, a.defaults);
  ASSERT_EQ(b.listeners.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(b.listeners[i].bind, a.listeners[i].bind);
    EXPECT_EQ(b.listeners[i].backends, a.listeners[i].backends);
    EXPECT_EQ(b.listeners[i].policy, a.listeners[i].policy);
  }
  EXPECT_THAT(text, HasSubstr("{ address = \"198.18.0.3:80\", weight = 5 }"));
  // And the runtime loader reads the same text (it skips [proxy]).
  auto r = runtime::load_config(text, {"ip.address=198.18.0.1"});
  EXPECT_TRUE(std::holds_alternative<runtime::RuntimeConfig>(r));
}

TEST(ProxyConfig, ShippedFileLoadsCleanly) {
  const std::string path = std::string(RIPTIDE_SOURCE_ROOT) + "/config/riptide.toml";
  auto r = load_proxy_config_file(path, {}, {kLocal});
  if (auto* e = std::get_if<ProxyConfigError>(&r)) FAIL() << e->message;
  const ProxyConfig& c = std::get<ProxyConfig>(r);
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].bind, ep(1, 8080));
  EXPECT_EQ(c.defaults, ListenerPolicy{}) << "the shipped file lists the defaults";
  // Errors in a file name it.
  auto bad = load_proxy_config("proxy = 1\n", "my.toml", {}, {kLocal});
  ASSERT_TRUE(std::holds_alternative<ProxyConfigError>(bad));
  EXPECT_THAT(std::get<ProxyConfigError>(bad).message, HasSubstr("(my.toml line 1)"));
}


constexpr const char* kConnect =
    "[[proxy.listener]]\n"
    "bind = \"198.18.0.1:3128\"\n"
    "mode = \"connect\"\n"
    "connect_allow = [\"198.18.0.0/16:443\", \"198.18.0.2:8000-8100\", \"198.19.0.0/16:*\"]\n";

TEST(ProxyConfig, ConnectListener) {
  const ProxyConfig c = load_ok(kConnect);
  ASSERT_EQ(c.listeners.size(), 1u);
  const ListenerPolicy& p = c.listeners[0].policy;
  EXPECT_EQ(p.mode, ListenerMode::Connect);
  EXPECT_TRUE(c.listeners[0].backends.empty());
  ASSERT_EQ(p.connect_allow.size(), 3u);
  EXPECT_EQ(p.connect_allow[1], (AllowRule{Ipv4Addr::from_octets(198, 18, 0, 2), 32, 8000, 8100}));
  EXPECT_EQ(p.connect_request_max_bytes, 4096u);
  EXPECT_EQ(p.connect_request_timeout_ms, 10000u);
  EXPECT_EQ(load_ok(kOne).listeners[0].policy.mode, ListenerMode::Tcp) << "tcp unless asked";
  EXPECT_TRUE(load_ok(kOne).listeners[0].policy.connect_allow.empty()) << "nothing allowed by default";
}

TEST(ProxyConfig, ConnectKeysByOverride) {
  const ProxyConfig c = load_ok(kOne, {"proxy.listener.1.bind=198.18.0.1:3128", "proxy.listener.1.mode=connect",
                                       "proxy.listener.1.connect_allow=198.18.0.0/16:443,198.18.0.9:22",
                                       "proxy.connect_request_max_bytes=1024",
                                       "proxy.listener.1.connect_request_timeout_ms=500"});
  ASSERT_EQ(c.listeners.size(), 2u);
  const ListenerPolicy& p = c.listeners[1].policy;
  EXPECT_EQ(p.mode, ListenerMode::Connect);
  ASSERT_EQ(p.connect_allow.size(), 2u);
  EXPECT_EQ(to_string(p.connect_allow[1]), "198.18.0.9/32:22");
  EXPECT_EQ(p.connect_request_max_bytes, 1024u);
  EXPECT_EQ(p.connect_request_timeout_ms, 500u);
  const ProxyConfig t = load_ok(kConnect, {"proxy.listener.0.connect_allow=[\"198.18.0.7:80\"]"});
  ASSERT_EQ(t.listeners[0].policy.connect_allow.size(), 1u);
  EXPECT_EQ(to_string(t.listeners[0].policy.connect_allow[0]), "198.18.0.7/32:80");
}

TEST(ProxyConfig, ConnectErrorsNameTheKey) {
  EXPECT_THAT(load_error("[[proxy.listener]]\nbind = \"198.18.0.1:3128\"\nmode = \"connect\"\n"),
              HasSubstr("proxy.listener.0.connect_allow: empty in mode \"connect\" (nothing would be allowed"));
  EXPECT_THAT(load_error(std::string(kConnect) + "backends = [\"198.18.0.2:1\"]\n"),
              HasSubstr("proxy.listener.0.backends: not used in mode \"connect\""));
  EXPECT_THAT(load_error(std::string(kOne) + "mode = \"socks\"\n"),
              HasSubstr("proxy.listener.0.mode: \"socks\" is not one of \"tcp\", \"connect\" (line 4)"));
  EXPECT_THAT(load_error("[[proxy.listener]]\nbind = \"198.18.0.1:3128\"\nmode = \"connect\"\n"
                         "connect_allow = [\"198.18.0.1/16:443\"]\n"),
              HasSubstr("proxy.listener.0.connect_allow: [0]: \"198.18.0.1/16\" has host bits set"));
  EXPECT_THAT(load_error("[[proxy.listener]]\nbind = \"198.18.0.1:3128\"\nmode = \"connect\"\n"
                         "connect_allow = [\"198.18.0.0/16:443\", \"198.18.0.0/16\"]\n"),
              HasSubstr("proxy.listener.0.connect_allow: [1]: \"198.18.0.0/16\" has no port"));
  EXPECT_THAT(load_error("[[proxy.listener]]\nbind = \"198.18.0.1:3128\"\nmode = \"connect\"\nconnect_allow = \"x\"\n"),
              HasSubstr("proxy.listener.0.connect_allow: expected an array of strings, got a string"));
  EXPECT_THAT(load_error(kConnect, {"proxy.listener.0.connect_allow=198.18.0.0/16:99999"}),
              HasSubstr("proxy.listener.0.connect_allow: [0]: \"198.18.0.0/16:99999\": the port must be"));
  EXPECT_THAT(load_error(kConnect, {"proxy.connect_request_max_bytes=10"}),
              HasSubstr("proxy.connect_request_max_bytes: 10 is outside 64..65536"));
  EXPECT_THAT(load_error(kConnect, {"proxy.listener.0.connect_request_timeout_ms=0"}),
              HasSubstr("proxy.listener.0.connect_request_timeout_ms: 0 is outside 1..4294967295"));
}

TEST(ProxyConfig, ConnectListenerRoundTrips) {
  const ProxyConfig a = load_ok(std::string(kOne) + kConnect);
  const std::string text = to_toml(a);
  const ProxyConfig b = load_ok(text);
  EXPECT_EQ(to_toml(b), text);
  ASSERT_EQ(b.listeners.size(), 2u);
  EXPECT_EQ(b.listeners[1].policy, a.listeners[1].policy);
  EXPECT_THAT(text, HasSubstr("connect_allow = [\"198.18.0.0/16:443\", \"198.18.0.2/32:8000-8100\", \"198.19.0.0/16:*\"]"));
}


TEST(ProxyConfig, TrustedFronts) {
  const ProxyConfig c = load_ok(std::string(kOne) + "accept_proxy_protocol = true\n"
                                "accept_proxy_from = [\"198.18.0.0/24\", \"198.19.0.9\"]\n");
  const ListenerPolicy& p = c.listeners[0].policy;
  ASSERT_EQ(p.accept_proxy_from.size(), 2u);
  EXPECT_EQ(p.accept_proxy_from[0], (Cidr{Ipv4Addr::from_octets(198, 18, 0, 0), 24}));
  EXPECT_EQ(p.accept_proxy_from[1], (Cidr{Ipv4Addr::from_octets(198, 19, 0, 9), 32}));
  EXPECT_TRUE(load_ok(kOne).listeners[0].policy.accept_proxy_from.empty());
  const ProxyConfig o = load_ok(kOne, {"proxy.accept_proxy_from=198.18.0.0/16,198.19.0.0/16"});
  EXPECT_EQ(o.listeners[0].policy.accept_proxy_from.size(), 2u) << "a default, by override";
  const std::string text = to_toml(c);
  EXPECT_THAT(text, HasSubstr("accept_proxy_from = [\"198.18.0.0/24\", \"198.19.0.9/32\"]"));
  EXPECT_EQ(load_ok(text).listeners[0].policy, p);
  EXPECT_THAT(load_error(std::string(kOne) + "accept_proxy_from = [\"198.18.0.1/24\"]\n"),
              HasSubstr("proxy.listener.0.accept_proxy_from: [0]: \"198.18.0.1/24\" has host bits set (did you mean "
                        "\"198.18.0.0/24\"?) (line 4)"));
  EXPECT_THAT(load_error(kOne, {"proxy.listener.0.accept_proxy_from=front.example"}),
              HasSubstr("proxy.listener.0.accept_proxy_from: [0]: \"front.example\" is not an IPv4 address or CIDR "
                        "block (override"));
  EXPECT_THAT(load_error(std::string(kOne) + "accept_proxy_from = \"198.18.0.0/24\"\n"),
              HasSubstr("proxy.listener.0.accept_proxy_from: expected an array of strings"));
}


TEST(ProxyConfig, HealthCheckKeys) {
  const ProxyConfig c = load_ok(
      "[proxy]\nhealth_check_interval_ms = 2000\nhealth_check_fall = 2\n" + std::string(kOne) +
      "health_check_timeout_ms = 700\nhealth_check_rise = 5\nhealth_check_send = \"PING\\r\\n\"\n"
      "health_check_expect = \"+PONG\"\n");
  const ListenerPolicy& p = c.listeners[0].policy;
  EXPECT_EQ(p.health_check_interval_ms, 2000u);
  EXPECT_EQ(p.health_check_timeout_ms, 700u);
  EXPECT_EQ(p.health_check_rise, 5u);
  EXPECT_EQ(p.health_check_fall, 2u);
  EXPECT_EQ(p.health_check_send, "PING\r\n");
  EXPECT_EQ(p.health_check_expect, "+PONG");
  const ListenerPolicy d = load_ok(kOne).listeners[0].policy;
  EXPECT_EQ(d.health_check_interval_ms, 0u) << "off unless asked";
  EXPECT_EQ(d.health_check_timeout_ms, 2000u);
  EXPECT_EQ(d.health_check_rise, 2u);
  EXPECT_EQ(d.health_check_fall, 3u);
  const ProxyConfig o = load_ok(kOne, {"proxy.health_check_interval_ms=500", "proxy.listener.0.health_check_send=HELO",
                                       "proxy.listener.0.health_check_expect=\"250\""});
  EXPECT_EQ(o.listeners[0].policy.health_check_interval_ms, 500u);
  EXPECT_EQ(o.listeners[0].policy.health_check_send, "HELO");
  EXPECT_EQ(o.listeners[0].policy.health_check_expect, "250");
  const std::string text = to_toml(c);
  EXPECT_THAT(text, HasSubstr("health_check_send = \"PING\\u000d\\u000a\""));
  EXPECT_EQ(load_ok(text).listeners[0].policy, p);
  EXPECT_THAT(load_error(std::string(kOne) + "health_check_rise = 0\n"),
              HasSubstr("proxy.listener.0.health_check_rise: 0 is outside 1..1000 (line 4)"));
  EXPECT_THAT(load_error(kOne, {"proxy.health_check_fall=1001"}),
              HasSubstr("proxy.health_check_fall: 1001 is outside 1..1000"));
  EXPECT_THAT(load_error(kOne, {"proxy.health_check_timeout_ms=0"}),
              HasSubstr("proxy.health_check_timeout_ms: 0 is outside 1..4294967295"));
  EXPECT_THAT(load_error(kOne, {"proxy.health_check_interval_ms=-1"}),
              HasSubstr("proxy.health_check_interval_ms: -1 is outside 0..4294967295"));
  EXPECT_THAT(load_error(std::string(kOne) + "health_check_expect = \"" + std::string(1025, 'x') + "\"\n"),
              HasSubstr("proxy.listener.0.health_check_expect: 1025 bytes is over the limit of 1024"));
  EXPECT_THAT(load_error(std::string(kOne) + "health_check_send = 7\n"),
              HasSubstr("proxy.listener.0.health_check_send: expected a string, got an integer"));
}

TEST(ProxyConfig, DrainAndWeightZero) {
  const ProxyConfig c = load_ok(
      "[[proxy.listener]]\nbind = \"198.18.0.1:80\"\n"
      "backends = [\"198.18.0.2:80\", { address = \"198.18.0.3:80\", weight = 0 }, "
      "{ address = \"198.18.0.4:80\", drain = true }]\n");
  const auto& b = c.listeners[0].backends;
  ASSERT_EQ(b.size(), 3u);
  EXPECT_FALSE(b[0].draining());
  EXPECT_TRUE(b[1].draining());
  EXPECT_EQ(b[1].weight, 0u);
  EXPECT_TRUE(b[2].drain);
  EXPECT_EQ(b[2].weight, 1u);
  const std::string text = to_toml(c);
  EXPECT_THAT(text, HasSubstr("{ address = \"198.18.0.4:80\", weight = 1, drain = true }"));
  EXPECT_EQ(load_ok(text).listeners[0].backends, b);
  EXPECT_EQ(load_ok(kOne, {"proxy.listener.0.backends=[{address=\"198.18.0.2:9000\",drain=true}]"})
                .listeners[0].backends[0].drain, true);
  EXPECT_THAT(load_error("[[proxy.listener]]\nbind = \"198.18.0.1:1\"\n"
                         "backends = [{ address = \"198.18.0.2:1\", drain = \"yes\" }]\n"),
              HasSubstr("proxy.listener.0.backends[0].drain: expected a boolean, got a string (line 3)"));
  EXPECT_THAT(load_error("[[proxy.listener]]\nbind = \"198.18.0.1:1\"\n"
                         "backends = [{ address = \"198.18.0.2:1\", weight = -1 }]\n"),
              HasSubstr("proxy.listener.0.backends[0].weight: -1 is outside 0..1000"));
}

// IPv6 listeners and backends (issue 13): "[::]:PORT" takes both families, an
// IPv6 address must be one of ours, backends of either family, and what to_toml
// writes reads back.
TEST(ProxyConfig, Ipv6ListenersAndBackends) {
  const IpAddr local6 = IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
  const std::vector<IpAddr> locals{kLocal, local6};
  const std::string text =
      "[[proxy.listener]]\n"
      "bind = \"[::]:8080\"\n"
      "backends = [\"[2001:db8::2]:9000\", { address = \"198.18.0.3:9000\", weight = 2 }]\n"
      "balance = \"source-hash\"\n"
      "[[proxy.listener]]\n"
      "bind = \"[2001:db8::1]:443\"\n"
      "backends = [\"[2001:db8::2]:443\"]\n";
  auto r = load_proxy_config(text, "", {}, locals);
  ASSERT_TRUE(std::holds_alternative<ProxyConfig>(r)) << std::get<ProxyConfigError>(r).message;
  const ProxyConfig c = std::get<ProxyConfig>(r);
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].bind, (Endpoint{IpAddr{}, 8080}));
  EXPECT_EQ(c.listeners[0].backends[0], (BackendSpec{Endpoint{IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2), 9000}, 1}));
  EXPECT_EQ(c.listeners[0].backends[1], (BackendSpec{ep(3, 9000), 2}));
  EXPECT_EQ(c.listeners[1].bind, (Endpoint{local6, 443}));
  const std::string toml = to_toml(c);
  EXPECT_THAT(toml, HasSubstr("\"[::]:8080\""));
  EXPECT_THAT(toml, HasSubstr("\"[2001:db8::2]:9000\""));
  auto back = load_proxy_config(toml, "", {}, locals);
  ASSERT_TRUE(std::holds_alternative<ProxyConfig>(back)) << std::get<ProxyConfigError>(back).message;
  EXPECT_EQ(std::get<ProxyConfig>(back).listeners[0].backends, c.listeners[0].backends);
  EXPECT_EQ(std::get<ProxyConfig>(back).listeners[1].bind, c.listeners[1].bind);

  // Backends as a bare list in an override, both families.
  auto o = load_proxy_config(kOne, "", {"proxy.listener.0.backends=[2001:db8::2]:1,198.18.0.2:2"}, locals);
  ASSERT_TRUE(std::holds_alternative<ProxyConfig>(o)) << std::get<ProxyConfigError>(o).message;
  EXPECT_EQ(std::get<ProxyConfig>(o).listeners[0].backends.size(), 2u);

  EXPECT_THAT(load_error("[[proxy.listener]]\nbind = \"[2001:db8::9]:1\"\nbackends = [\"198.18.0.2:1\"]\n", {},
                         locals),
              HasSubstr("proxy.listener.0.bind: 2001:db8::9 is not one of this host's addresses"));
  EXPECT_THAT(load_error("[[proxy.listener]]\nbind = \"198.18.0.1:1\"\nbackends = [\"[::]:80\"]\n", {}, locals),
              HasSubstr("proxy.listener.0.backends[0]: \"[::]:80\" is not an address and port"));
  EXPECT_THAT(load_error("[[proxy.listener]]\nbind = \"2001:db8::1:80\"\nbackends = [\"198.18.0.2:1\"]\n", {},
                         locals),
              HasSubstr("proxy.listener.0.bind: \"2001:db8::1:80\" is not an address and port"));
  // [::] takes every address of both families on its port; 0.0.0.0 only IPv4's.
  const std::string any6 = "[[proxy.listener]]\nbind = \"[::]:8080\"\nbackends = [\"198.18.0.2:1\"]\n";
  EXPECT_THAT(load_error(std::string(kOne) + any6, {}, locals),
              HasSubstr("proxy.listener.1.bind: [::]:8080 overlaps proxy.listener.0 (198.18.0.1:8080)"));
  EXPECT_THAT(load_error(any6 + "[[proxy.listener]]\nbind = \"0.0.0.0:8080\"\nbackends = [\"198.18.0.2:1\"]\n",
                         {}, locals),
              HasSubstr("proxy.listener.1.bind: 0.0.0.0:8080 overlaps proxy.listener.0 ([::]:8080)"));
  auto side_by_side = load_proxy_config(
      "[[proxy.listener]]\nbind = \"0.0.0.0:8080\"\nbackends = [\"198.18.0.2:1\"]\n"
      "[[proxy.listener]]\nbind = \"[2001:db8::1]:8080\"\nbackends = [\"[2001:db8::2]:1\"]\n",
      "", {}, locals);
  EXPECT_TRUE(std::holds_alternative<ProxyConfig>(side_by_side)) << "0.0.0.0 and an IPv6 address do not overlap";
}

}  // namespace
}  // namespace riptide::apps::proxy

