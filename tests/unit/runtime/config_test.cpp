// The TOML loader: defaults, every key, every class of error naming the key,
// overrides, to_toml round trip, and the shipped config/riptide.toml.
#include "runtime/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_helpers.hpp"
#include "runtime/source_root.hpp"  // generated: RIPTIDE_SOURCE_ROOT

namespace riptide::runtime {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kMinimal = "[ip]\naddress = \"198.18.0.1\"\n";

using testing::load_error;
using testing::load_ok;

// Field by field (RuntimeConfig and TcpConfig have no operator==).
void expect_same(const RuntimeConfig& a, const RuntimeConfig& b) {
  EXPECT_EQ(a.port.device, b.port.device);
  EXPECT_EQ(a.port.rx_descriptors, b.port.rx_descriptors);
  EXPECT_EQ(a.port.tx_descriptors, b.port.tx_descriptors);
  EXPECT_EQ(a.port.promiscuous, b.port.promiscuous);
  EXPECT_EQ(a.address, b.address);
  EXPECT_EQ(a.prefix_len, b.prefix_len);
  EXPECT_EQ(a.gateway, b.gateway);
  EXPECT_EQ(a.mac, b.mac);
  EXPECT_EQ(a.lcores, b.lcores);
  EXPECT_EQ(a.mbufs, b.mbufs);
  EXPECT_EQ(a.mbuf_cache, b.mbuf_cache);
  EXPECT_EQ(a.burst, b.burst);
  EXPECT_EQ(a.tx_drain_us, b.tx_drain_us);
  EXPECT_EQ(a.max_connections, b.max_connections);
  EXPECT_EQ(a.max_time_wait, b.max_time_wait);
  EXPECT_EQ(a.pressure_percent, b.pressure_percent);
  EXPECT_EQ(a.arp_cache, b.arp_cache);
  EXPECT_EQ(a.pcap_path, b.pcap_path);
  const tcp::TcpConfig& x = a.tcp;
  const tcp::TcpConfig& y = b.tcp;
  EXPECT_EQ(x.mss, y.mss);
  EXPECT_EQ(x.rcv_buf, y.rcv_buf);
  EXPECT_EQ(x.snd_buf, y.snd_buf);
  EXPECT_EQ(x.window_scale, y.window_scale);
  EXPECT_EQ(x.window_scaling, y.window_scaling);
  EXPECT_EQ(x.timestamps, y.timestamps);
  EXPECT_EQ(x.sack, y.sack);
  EXPECT_EQ(x.nodelay, y.nodelay);
  EXPECT_EQ(x.rto_initial, y.rto_initial);
  EXPECT_EQ(x.rto_min, y.rto_min);
  EXPECT_EQ(x.rto_max, y.rto_max);
  EXPECT_EQ(x.syn_retries, y.syn_retries);
  EXPECT_EQ(x.connect_timeout, y.connect_timeout);
  EXPECT_EQ(x.synack_retries, y.synack_retries);
  EXPECT_EQ(x.synack_retries_pressure, y.synack_retries_pressure);
  EXPECT_EQ(x.max_retries, y.max_retries);
  EXPECT_EQ(x.time_wait, y.time_wait);
  EXPECT_EQ(x.syn_cookies, y.syn_cookies);
  EXPECT_EQ(x.cookie_no_record, y.cookie_no_record);
  EXPECT_EQ(x.default_backlog, y.default_backlog);
  EXPECT_EQ(x.challenge_ack_limit, y.challenge_ack_limit);
  EXPECT_EQ(x.ephemeral_port_min, y.ephemeral_port_min);
  EXPECT_EQ(x.ephemeral_port_max, y.ephemeral_port_max);
}

// Every key set away from its default.
constexpr const char* kEverything = R"(
[port]
device = "0000:03:00.0"
rx_descriptors = 2048
tx_descriptors = 512
promiscuous = true

[ip]
address = "10.1.2.3"
prefix_len = 16
gateway = "10.1.0.1"
mac = "02:00:00:00:00:07"

[lcores]
workers = 4

[pools]
mbufs = 65535
mbuf_cache = 512
burst = 64
tx_drain_us = 50

[limits]
max_connections = 1000
max_time_wait = 2000
pressure_percent = 75
arp_cache = 64

[capture]
pcap = "/tmp/riptide.pcapng"

[tcp]
mss = 1400
rcv_buf = 1048576
snd_buf = 65536
window_scale = 9
window_scaling = false
timestamps = false
sack = false
nodelay = true
rto_initial_ms = 500
rto_min_ms = 100
rto_max_ms = 60000
syn_retries = 3
connect_timeout_ms = 10000
synack_retries = 2
synack_retries_pressure = 0
max_retries = 8
time_wait_ms = 1000
syn_cookies = "always"
cookie_no_record = "drop"
default_backlog = 512
challenge_ack_limit = 100
ephemeral_port_min = 10000
ephemeral_port_max = 20000
)";

TEST(Config, DefaultsNeedOnlyTheAddress) {
  const RuntimeConfig c = load_ok(kMinimal);
  RuntimeConfig expected;
  expected.address = Ipv4Addr::from_octets(198, 18, 0, 1);
  expect_same(c, expected);
  EXPECT_EQ(c.tcp.mss, 1460);
  EXPECT_EQ(c.tcp.syn_cookies, tcp::SynCookieMode::Auto);
  EXPECT_FALSE(c.gateway);
  EXPECT_FALSE(c.mac);
}

TEST(Config, ParsesEverySection) {
  const RuntimeConfig c = load_ok(kEverything);
  EXPECT_EQ(c.port.device, "0000:03:00.0");
  EXPECT_EQ(c.port.rx_descriptors, 2048);
  EXPECT_EQ(c.port.tx_descriptors, 512);
  EXPECT_TRUE(c.port.promiscuous);
  EXPECT_EQ(c.address, Ipv4Addr::from_octets(10, 1, 2, 3));
  EXPECT_EQ(c.prefix_len, 16);
  EXPECT_EQ(c.gateway, Ipv4Addr::from_octets(10, 1, 0, 1));
  ASSERT_TRUE(c.mac);
  EXPECT_EQ(c.mac->to_string(), "02:00:00:00:00:07");
  EXPECT_EQ(c.lcores, 4u);
  EXPECT_EQ(c.mbufs, 65535u);
  EXPECT_EQ(c.mbuf_cache, 512);
  EXPECT_EQ(c.burst, 64);
  EXPECT_EQ(c.tx_drain_us, 50u);
  EXPECT_EQ(c.max_connections, 1000u);
  EXPECT_EQ(c.max_time_wait, 2000u);
  EXPECT_EQ(c.pressure_percent, 75u);
  EXPECT_EQ(c.arp_cache, 64u);
  EXPECT_EQ(c.pcap_path, "/tmp/riptide.pcapng");
  EXPECT_EQ(c.tcp.mss, 1400);
  EXPECT_EQ(c.tcp.rcv_buf, 1048576u);
  EXPECT_EQ(c.tcp.snd_buf, 65536u);
  EXPECT_EQ(c.tcp.window_scale, 9);
  EXPECT_FALSE(c.tcp.window_scaling);
  EXPECT_FALSE(c.tcp.timestamps);
  EXPECT_FALSE(c.tcp.sack);
  EXPECT_TRUE(c.tcp.nodelay);
  EXPECT_EQ(c.tcp.rto_initial, milliseconds{500});
  EXPECT_EQ(c.tcp.rto_min, milliseconds{100});
  EXPECT_EQ(c.tcp.rto_max, milliseconds{60000});
  EXPECT_EQ(c.tcp.syn_retries, 3);
  EXPECT_EQ(c.tcp.connect_timeout, milliseconds{10000});
  EXPECT_EQ(c.tcp.synack_retries, 2);
  EXPECT_EQ(c.tcp.synack_retries_pressure, 0);
  EXPECT_EQ(c.tcp.max_retries, 8);
  EXPECT_EQ(c.tcp.time_wait, milliseconds{1000});
  EXPECT_EQ(c.tcp.syn_cookies, tcp::SynCookieMode::Always);
  EXPECT_EQ(c.tcp.cookie_no_record, tcp::CookieNoRecord::Drop);
  EXPECT_EQ(c.tcp.default_backlog, 512u);
  EXPECT_EQ(c.tcp.challenge_ack_limit, 100u);
  EXPECT_EQ(c.tcp.ephemeral_port_min, 10000);
  EXPECT_EQ(c.tcp.ephemeral_port_max, 20000);
}

TEST(Config, DottedKeysAndInlineTablesAreTheSameKeys) {
  const RuntimeConfig c = load_ok("ip.address = \"198.18.0.9\"\ntcp = { mss = 1000 }\n");
  EXPECT_EQ(c.address, Ipv4Addr::from_octets(198, 18, 0, 9));
  EXPECT_EQ(c.tcp.mss, 1000);
}

TEST(Config, UnknownKeyNamesKeyAndLine) {
  const std::string e = load_error(std::string(kMinimal) + "[tcp]\nmss = 1400\nmsss = 1400\n");
  EXPECT_EQ(e, "unknown key 'tcp.msss' (line 5)");
}

TEST(Config, UnknownSectionNamesSection) {
  EXPECT_THAT(load_error(std::string(kMinimal) + "[tpc]\nmss = 1\n"),
              HasSubstr("unknown section 'tpc' (line 3)"));
  // A key outside any section.
  EXPECT_THAT(load_error(std::string("mss = 1400\n") + kMinimal),
              HasSubstr("unknown key 'mss' (line 1)"));
  // A sub-table of a known section.
  EXPECT_THAT(load_error(std::string(kMinimal) + "[tcp.rto]\nmin = 1\n"),
              HasSubstr("unknown key 'tcp.rto'"));
}

TEST(Config, ProgramSectionsAreLeftToTheirProgram) {
  // [proxy] belongs to riptide-proxy (apps/common/proxy_config.hpp): every other
  // program reads the same file and skips it, and overrides of its keys, unchecked.
  const RuntimeConfig c = load_ok(std::string(kMinimal) +
                                      "[proxy]\nbalance = \"whatever\"\n"
                                      "[[proxy.listener]]\nbind = \"198.18.0.1:80\"\nnonsense = 1\n",
                                  {"proxy.listener.0.bind=x", "proxy.anything=1"});
  EXPECT_EQ(c.address, Ipv4Addr::from_octets(198, 18, 0, 1));
  EXPECT_THAT(to_toml(c), Not(HasSubstr("proxy")));
  // Only the sections listed in kProgramSections: a near miss is still an error.
  EXPECT_THAT(load_error(std::string(kMinimal) + "[proxyy]\nx = 1\n"), HasSubstr("unknown section 'proxyy'"));
  EXPECT_TRUE(is_program_section("proxy"));
  EXPECT_FALSE(is_program_section("tcp"));
}

TEST(Config, WrongTypeNamesKeyAndExpectedType) {
  const std::string m = kMinimal;
  EXPECT_THAT(load_error(m + "[tcp]\nmss = \"1400\"\n"),
              HasSubstr("tcp.mss: expected an integer, got a string (line 4)"));
  EXPECT_THAT(load_error(m + "[tcp]\nsack = 1\n"),
              HasSubstr("tcp.sack: expected a boolean, got an integer"));
  EXPECT_THAT(load_error(m + "[tcp]\nrto_min_ms = 0.5\n"),
              HasSubstr("tcp.rto_min_ms: expected an integer (milliseconds), got a float"));
  EXPECT_THAT(load_error(m + "[port]\ndevice = 3\n"),
              HasSubstr("port.device: expected a string, got an integer"));
  EXPECT_THAT(load_error("[ip]\naddress = [198, 18, 0, 1]\n"),
              HasSubstr("ip.address: expected a string, got an array"));
  EXPECT_THAT(load_error("tcp = 5\n" + m), HasSubstr("tcp: expected a table, got an integer"));
}

TEST(Config, OutOfRangeNamesKeyAndRange) {
  const std::string m = kMinimal;
  EXPECT_THAT(load_error(m + "[tcp]\nwindow_scale = 15\n"),
              HasSubstr("tcp.window_scale: 15 is outside 0..14"));
  EXPECT_THAT(load_error(m + "[tcp]\nmss = 87\n"), HasSubstr("tcp.mss: 87 is outside 88..1968"));
  EXPECT_THAT(load_error(m + "[tcp]\nmss = 1969\n"), HasSubstr("tcp.mss: 1969 is outside 88..1968"));
  EXPECT_THAT(load_error(m + "[tcp]\nephemeral_port_max = 65536\n"),
              HasSubstr("tcp.ephemeral_port_max: 65536 is outside 1..65535"));
  EXPECT_THAT(load_error(m + "[tcp]\nephemeral_port_min = 0\n"),
              HasSubstr("tcp.ephemeral_port_min: 0 is outside 1..65535"));
  EXPECT_THAT(load_error("[ip]\naddress = \"198.18.0.1\"\nprefix_len = 33\n"),
              HasSubstr("ip.prefix_len: 33 is outside 0..32"));
  EXPECT_THAT(load_error(m + "[pools]\nburst = 513\n"), HasSubstr("pools.burst: 513 is outside 1..512"));
  EXPECT_THAT(load_error(m + "[lcores]\nworkers = 0\n"), HasSubstr("lcores.workers: 0 is outside 1.."));
  // Integers that do not fit their field.
  EXPECT_THAT(load_error(m + "[tcp]\nsyn_retries = 256\n"),
              HasSubstr("tcp.syn_retries: 256 is outside 0..255"));
  EXPECT_THAT(load_error(m + "[port]\nrx_descriptors = 65536\n"),
              HasSubstr("port.rx_descriptors: 65536 is outside 1..65535"));
  EXPECT_THAT(load_error(m + "[limits]\nmax_time_wait = -1\n"),
              HasSubstr("limits.max_time_wait: -1 is outside 0..4294967295"));
  EXPECT_THAT(load_error(m + "[limits]\npressure_percent = 0\n"),
              HasSubstr("limits.pressure_percent: 0 is outside 1..100"));
  EXPECT_THAT(load_error(m + "[tcp]\nrcv_buf = 4294967296\n"),
              HasSubstr("tcp.rcv_buf: 4294967296 is outside 1..4294967295"));
}

TEST(Config, BadValueOfAStringKeyNamesTheKey) {
  EXPECT_THAT(load_error("[ip]\naddress = \"198.18.0\"\n"),
              HasSubstr("ip.address: \"198.18.0\" is not an IPv4 address"));
  EXPECT_THAT(load_error(std::string(kMinimal) + "gateway = \"gw\"\n"),
              HasSubstr("ip.gateway: \"gw\" is not an IPv4 address"));
  EXPECT_THAT(load_error(std::string(kMinimal) + "mac = \"02:00:00:00:00\"\n"),
              HasSubstr("ip.mac: \"02:00:00:00:00\" is not a MAC address"));
  EXPECT_THAT(load_error(std::string(kMinimal) + "[tcp]\nsyn_cookies = \"sometimes\"\n"),
              HasSubstr("tcp.syn_cookies: \"sometimes\" is not one of \"auto\", \"always\", \"never\""));
  EXPECT_THAT(load_error(std::string(kMinimal) + "[tcp]\ncookie_no_record = \"retry\"\n"),
              HasSubstr("tcp.cookie_no_record: \"retry\" is not one of \"reset\", \"drop\""));
}

TEST(Config, EmptyOptionalAddressesMeanUnset) {
  const RuntimeConfig c = load_ok(std::string(kMinimal) + "gateway = \"\"\nmac = \"\"\n");
  EXPECT_FALSE(c.gateway);
  EXPECT_FALSE(c.mac);
}

TEST(Config, MissingAddressIsAnError) {
  EXPECT_THAT(load_error(""), HasSubstr("ip.address: required"));
  EXPECT_THAT(load_error("[tcp]\nmss = 1400\n"), HasSubstr("ip.address: required"));
}

TEST(Config, AddressThatIsNoHostsIsAnError) {
  EXPECT_THAT(load_error("[ip]\naddress = \"0.0.0.0\"\n"), HasSubstr("ip.address: 0.0.0.0"));
  EXPECT_THAT(load_error("[ip]\naddress = \"224.0.0.1\"\n"), HasSubstr("ip.address: 224.0.0.1"));
}

TEST(Config, GatewayOffTheSubnetIsAnError) {
  EXPECT_THAT(load_error(std::string(kMinimal) + "gateway = \"10.0.0.1\"\n"),
              HasSubstr("ip.gateway: 10.0.0.1 is not on 198.18.0.0/24"));
}

TEST(Config, CrossKeyChecksNameTheKeys) {
  const std::string m = kMinimal;
  // riptide::validate() on the StackConfig the runtime would build.
  EXPECT_THAT(load_error(m + "[tcp]\nrto_min_ms = 5000\nrto_initial_ms = 5000\nrto_max_ms = 1000\n"),
              HasSubstr("tcp.rto_min/rto_max"));
  EXPECT_THAT(load_error(m + "[tcp]\nrto_initial_ms = 100\n"), HasSubstr("tcp.rto_initial_ms: 100 is outside rto_min_ms..rto_max_ms (200..120000)"));
  EXPECT_THAT(load_error(m + "[tcp]\nephemeral_port_min = 5000\nephemeral_port_max = 4000\n"),
              HasSubstr("tcp.ephemeral_port_min"));
  EXPECT_THAT(load_error(m + "[pools]\nmbufs = 300\nmbuf_cache = 256\n"),
              HasSubstr("pools.mbuf_cache"));
  // The pool must cover the rings (README "Limits"): 1 x (1024 + 1024 + 256 + 2 x 32) + 256.
  EXPECT_THAT(load_error(m + "[pools]\nmbufs = 2623\n"),
              HasSubstr("pools.mbufs: 2623 is fewer than the 2624 the rings need: lcores.workers (1) x "
                        "(port.rx_descriptors (1024) + port.tx_descriptors (1024) + 2 x pools.burst (32) + "
                        "pools.mbuf_cache (256)) + 256"));
  EXPECT_THAT(load_error(m + "[lcores]\nworkers = 4\n"), HasSubstr("pools.mbufs: 8191 is fewer than the 9728"));
  (void)load_ok(m + "[pools]\nmbufs = 2624\n");
  (void)load_ok(m + "[port]\nrx_descriptors = 64\ntx_descriptors = 64\n[pools]\nmbufs = 511\nmbuf_cache = 0\n");
  // TIME-WAIT expiries are 32-bit milliseconds compared modulo 2^32.
  EXPECT_THAT(load_error(m + "[tcp]\ntime_wait_ms = 2147483648\n"),
              HasSubstr("tcp.time_wait: at most 2147483647 ms"));
}

TEST(Config, ReportsEveryProblemInFileOrder) {
  const std::string e = load_error(
      "[tcp]\nwindow_scale = 20\nmss = \"x\"\n[ip]\naddress = \"198.18.0.1\"\nbogus = 1\n",
      {"tcp.sack=2"});
  EXPECT_EQ(e,
            "tcp.window_scale: 20 is outside 0..14 (line 2)\n"
            "tcp.mss: expected an integer, got a string (line 3)\n"
            "unknown key 'ip.bogus' (line 6)\n"
            "tcp.sack: expected a boolean, got an integer (override 'tcp.sack=2')");
}

TEST(Config, SyntaxErrorGivesLine) {
  EXPECT_THAT(load_error("[ip]\naddress = \"198.18.0.1\"\nmss = \n"),
              ::testing::AllOf(HasSubstr("TOML syntax: "), HasSubstr("(line 3, column 7)")));
}

TEST(Config, OverridesWinOverTheFile) {
  const RuntimeConfig c =
      load_ok(std::string(kMinimal) + "[tcp]\nmss = 1400\nsack = true\n",
              {"tcp.mss=1200", "tcp.sack = false", "tcp.syn_cookies=\"never\"", "tcp.mss=1300"});
  EXPECT_EQ(c.tcp.mss, 1300);  // the last one wins
  EXPECT_FALSE(c.tcp.sack);
  EXPECT_EQ(c.tcp.syn_cookies, tcp::SynCookieMode::Never);
}

TEST(Config, OverridesAcceptBareWordsForStrings) {
  const RuntimeConfig c =
      load_ok("", {"ip.address=198.18.0.2", "tcp.syn_cookies=always", "port.device=0000:03:00.0",
                   "ip.mac=02:00:00:00:00:01", "capture.pcap=/tmp/x.pcapng", "ip.gateway=198.18.0.254"});
  EXPECT_EQ(c.address, Ipv4Addr::from_octets(198, 18, 0, 2));
  EXPECT_EQ(c.tcp.syn_cookies, tcp::SynCookieMode::Always);
  EXPECT_EQ(c.port.device, "0000:03:00.0");
  ASSERT_TRUE(c.mac);
  EXPECT_EQ(c.mac->to_string(), "02:00:00:00:00:01");
  EXPECT_EQ(c.pcap_path, "/tmp/x.pcapng");
  EXPECT_EQ(c.gateway, Ipv4Addr::from_octets(198, 18, 0, 254));
  // A string key takes its text verbatim even when it looks like another type.
  EXPECT_EQ(load_ok(kMinimal, {"port.device=1"}).port.device, "1");
  EXPECT_EQ(load_ok(kMinimal, {"port.device=\"net_tap0\""}).port.device, "net_tap0");
  // An empty value unsets an optional / clears a string.
  EXPECT_FALSE(load_ok(std::string(kMinimal) + "gateway = \"198.18.0.254\"\n", {"ip.gateway="}).gateway);
}

TEST(Config, BadOverrideIsAnError) {
  EXPECT_THAT(load_error(kMinimal, {"tcp.mss"}), HasSubstr("bad override 'tcp.mss'"));
  EXPECT_THAT(load_error(kMinimal, {"mss=1400"}), HasSubstr("bad override 'mss=1400'"));
  EXPECT_THAT(load_error(kMinimal, {"=1"}), HasSubstr("bad override '=1'"));
  EXPECT_THAT(load_error(kMinimal, {"tcp.mss=fast"}),
              HasSubstr("tcp.mss: expected an integer, got a string (override 'tcp.mss=fast')"));
  EXPECT_THAT(load_error(kMinimal, {"tcp.mss=99999"}),
              HasSubstr("tcp.mss: 99999 is outside 88..1968 (override 'tcp.mss=99999')"));
  EXPECT_THAT(load_error(kMinimal, {"ip.address=198.18.0"}), HasSubstr("ip.address: \"198.18.0\""));
  EXPECT_THAT(load_error(kMinimal, {"tcp.syn_cookies=maybe"}), HasSubstr("tcp.syn_cookies"));
}

TEST(Config, UnknownOverrideKeyIsAnError) {
  EXPECT_EQ(load_error(kMinimal, {"tcp.msss=1400"}), "unknown key 'tcp.msss' (override 'tcp.msss=1400')");
  EXPECT_THAT(load_error(kMinimal, {"tpc.mss=1400"}), HasSubstr("unknown key 'tpc.mss'"));
  EXPECT_THAT(load_error(kMinimal, {"tcp.mss.x=1"}), HasSubstr("unknown key 'tcp.mss.x'"));
}

TEST(Config, OverrideCanSupplyTheAddress) {
  EXPECT_EQ(load_ok("", {"ip.address=198.18.0.3"}).address, Ipv4Addr::from_octets(198, 18, 0, 3));
}

TEST(Config, RoundTripsThroughToToml) {
  for (const std::string& text : {std::string(kMinimal), std::string(kEverything)}) {
    RuntimeConfig c = load_ok(text);
    const std::string printed = to_toml(c);
    const RuntimeConfig back = load_ok(printed);
    expect_same(back, c);
    EXPECT_EQ(to_toml(back), printed);
  }
  // Strings that need escaping.
  RuntimeConfig c = load_ok(kMinimal);
  c.port.device = "net_\"odd\"\\dev\tice";
  c.pcap_path = "/tmp/caf\xc3\xa9.pcapng";
  expect_same(load_ok(to_toml(c)), c);
}

TEST(Config, ToTomlPrintsEveryKey) {
  const std::string t = to_toml(load_ok(kMinimal));
  for (const char* line :
       {"[port]\n", "device = \"\"\n", "rx_descriptors = 1024\n", "promiscuous = false\n", "[ip]\n",
        "address = \"198.18.0.1\"\n", "prefix_len = 24\n", "gateway = \"\"\n", "mac = \"\"\n",
        "[lcores]\n", "workers = 1\n", "[pools]\n", "mbufs = 8191\n", "burst = 32\n", "[limits]\n",
        "arp_cache = 1024\n", "[capture]\n", "pcap = \"\"\n", "[tcp]\n", "mss = 1460\n",
        "rto_initial_ms = 1000\n", "time_wait_ms = 60000\n", "syn_cookies = \"auto\"\n",
        "ephemeral_port_max = 60999\n"}) {
    EXPECT_THAT(t, HasSubstr(line));
  }
  EXPECT_THAT(t, Not(HasSubstr("  ")));
}

TEST(Config, ShippedFileLoadsCleanly) {
  const std::string path = std::string(RIPTIDE_SOURCE_ROOT) + "/config/riptide.toml";
  auto r = load_config_file(path, {});
  ASSERT_TRUE(std::holds_alternative<RuntimeConfig>(r)) << std::get<ConfigError>(r).message;
  const RuntimeConfig& c = std::get<RuntimeConfig>(r);
  EXPECT_EQ(c.port.device, "net_af_packet0");
  EXPECT_EQ(c.address, Ipv4Addr::from_octets(198, 18, 0, 1));
  EXPECT_EQ(c.prefix_len, 24);
  // The shipped file states the defaults: apart from the demo's port and address,
  // it is a default RuntimeConfig.
  RuntimeConfig expected;
  expected.port.device = "net_af_packet0";
  expected.address = c.address;
  expect_same(c, expected);
}

TEST(Config, FileErrorsNameTheFile) {
  auto r = load_config_file("/nonexistent/riptide.toml", {});
  ASSERT_TRUE(std::holds_alternative<ConfigError>(r));
  EXPECT_THAT(std::get<ConfigError>(r).message, HasSubstr("/nonexistent/riptide.toml: cannot open"));
}

TEST(Config, StackAndInterfaceConfigsComeFromIt) {
  const RuntimeConfig c = load_ok(kEverything);
  tcp::Secret secret{};
  secret.fill(7);
  const StackConfig s = stack_config(c, secret);
  ASSERT_EQ(s.local_addrs.size(), 1u);
  EXPECT_EQ(s.local_addrs[0], c.address);
  EXPECT_EQ(s.tcp.mss, 1400);
  EXPECT_EQ(s.max_connections, 1000u);
  EXPECT_EQ(s.max_time_wait, 2000u);
  EXPECT_EQ(s.pressure_percent, 75u);
  EXPECT_EQ(s.secret, secret);
  EXPECT_FALSE(validate(s));

  const wire::MacAddr port_mac{{0x02, 0, 0, 0, 0, 0x99}};
  const InterfaceConfig i = interface_config(c, port_mac);
  EXPECT_EQ(i.mac, *c.mac);
  EXPECT_EQ(i.addr, c.address);
  EXPECT_EQ(i.prefix_len, 16);
  EXPECT_EQ(i.gateway, c.gateway);
  EXPECT_EQ(i.arp_cache_size, 64u);
  EXPECT_EQ(interface_config(load_ok(kMinimal), port_mac).mac, port_mac);
}

}  // namespace
}  // namespace riptide::runtime
