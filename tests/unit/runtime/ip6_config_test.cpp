// [ip6] in the TOML config (docs/config.md "[ip6]"): every key read into the
// Interface's configuration, each bad value an error naming the key and its line,
// overrides, the to_toml round trip.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_helpers.hpp"
#include "runtime/config.hpp"

namespace riptide::runtime {
namespace {

using ::testing::HasSubstr;
using testing::load_error;
using testing::load_ok;

constexpr const char* kIp = "[ip]\naddress = \"198.18.0.1\"\n";

TEST(Ip6Config, OffByDefault) {
  const RuntimeConfig c = load_ok(kIp);
  EXPECT_FALSE(c.ip6.address);
  EXPECT_FALSE(interface_config(c, wire::MacAddr{}).ip6.address);
}

TEST(Ip6Config, EveryKeyReadIntoTheInterfaceConfig) {
  const RuntimeConfig c = load_ok(std::string(kIp) + R"([ip6]
address = "2001:db8::1"
prefix_len = 48
link_local = "fe80::1"
gateway = "fe80::fe"
mtu = 9000
hop_limit = 32
dad = true
icmp_error_rate = 5
icmp_error_burst = 7
nd_reachable_ms = 15000
nd_retrans_ms = 500
nd_max_multicast_solicit = 4
nd_max_unicast_solicit = 5
nd_cache = 64
nd_pending = 16
pmtu_cache = 32
pmtu_lifetime_ms = 900000
)");
  const InterfaceConfig i = interface_config(c, wire::MacAddr{{2, 0, 0, 0, 0, 1}});
  EXPECT_EQ(i.ip6.address, IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
  EXPECT_EQ(i.ip6.prefix_len, 48);
  EXPECT_EQ(i.ip6.link_local, IpAddr::v6(0xfe80, 0, 0, 0, 0, 0, 0, 1));
  EXPECT_EQ(i.ip6.gateway, IpAddr::v6(0xfe80, 0, 0, 0, 0, 0, 0, 0xfe));
  EXPECT_EQ(i.ip6.mtu, 9000u);
  EXPECT_EQ(i.ip6.hop_limit, 32);
  EXPECT_TRUE(i.ip6.dad);
  EXPECT_EQ(i.ip6.icmp_error_rate, 5u);
  EXPECT_EQ(i.ip6.icmp_error_burst, 7u);
  EXPECT_EQ(i.ip6.nd.reachable_time, std::chrono::milliseconds{15000});
  EXPECT_EQ(i.ip6.nd.retrans_timer, std::chrono::milliseconds{500});
  EXPECT_EQ(i.ip6.nd.max_multicast_solicit, 4u);
  EXPECT_EQ(i.ip6.nd.max_unicast_solicit, 5u);
  EXPECT_EQ(i.ip6.nd.cache_size, 64u);
  EXPECT_EQ(i.ip6.nd.pending_packets, 16u);
  EXPECT_EQ(i.ip6.pmtu.entries, 32u);
  EXPECT_EQ(i.ip6.pmtu.lifetime, std::chrono::milliseconds{900000});

  // to_toml and back.
  const RuntimeConfig again = load_ok(to_toml(c));
  EXPECT_EQ(to_toml(again), to_toml(c));
  EXPECT_EQ(again.ip6.gateway, c.ip6.gateway);
}

TEST(Ip6Config, GlobalGatewayOnThePrefix) {
  const RuntimeConfig c =
      load_ok(std::string(kIp) + "[ip6]\naddress = \"2001:db8:0:1::1\"\nprefix_len = 64\ngateway = \"2001:db8:0:1::fe\"\n");
  EXPECT_EQ(c.ip6.gateway, IpAddr::v6(0x2001, 0xdb8, 0, 1, 0, 0, 0, 0xfe));
}

TEST(Ip6Config, Overrides) {
  const RuntimeConfig c = load_ok(kIp, {"ip6.address=2001:db8::7", "ip6.dad=true", "ip6.nd_retrans_ms=250"});
  EXPECT_EQ(c.ip6.address, IpAddr::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7));
  EXPECT_TRUE(c.ip6.dad);
  EXPECT_EQ(c.ip6.nd.retrans_timer, std::chrono::milliseconds{250});
  const RuntimeConfig off = load_ok(std::string(kIp) + "[ip6]\naddress = \"2001:db8::1\"\n", {"ip6.address="});
  EXPECT_FALSE(off.ip6.address);
}

struct BadCase {
  const char* name;
  std::string text;
  const char* message;
};
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class Ip6ConfigErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(Ip6ConfigErrors, NameTheKeyAndLine) {
  EXPECT_THAT(load_error(GetParam().text), HasSubstr(GetParam().message));
}

const std::string kIp6 = std::string(kIp) + "[ip6]\n";  // [ip6] on line 3; its keys from line 4

INSTANTIATE_TEST_SUITE_P(
    All, Ip6ConfigErrors,
    ::testing::Values(
        BadCase{"AddressNotAnAddress", kIp6 + "address = \"2001:db8::g\"\n",
                "ip6.address: \"2001:db8::g\" is not a global IPv6 address"},
        BadCase{"AddressIpv4", kIp6 + "address = \"198.18.0.1\"\n", "ip6.address: \"198.18.0.1\" is not"},
        BadCase{"AddressLinkLocal", kIp6 + "address = \"fe80::1\"\n", "ip6.address: \"fe80::1\" is not"},
        BadCase{"AddressMulticast", kIp6 + "address = \"ff02::1\"\n", "ip6.address: \"ff02::1\" is not"},
        BadCase{"AddressUnspecified", kIp6 + "address = \"::\"\n", "ip6.address: \"::\" is not"},
        BadCase{"AddressLoopback", kIp6 + "address = \"::1\"\n", "ip6.address: \"::1\" is not"},
        BadCase{"AddressNotAString", kIp6 + "address = 1\n", "ip6.address: expected a string"},
        BadCase{"AddressLine", kIp6 + "address = \"x\"\n", "(line 4)"},
        BadCase{"PrefixZero", kIp6 + "address = \"2001:db8::1\"\nprefix_len = 0\n",
                "ip6.prefix_len: 0 is outside 1..128 (line 5)"},
        BadCase{"PrefixTooLong", kIp6 + "address = \"2001:db8::1\"\nprefix_len = 129\n",
                "ip6.prefix_len: 129 is outside 1..128"},
        BadCase{"LinkLocalGlobal", kIp6 + "address = \"2001:db8::1\"\nlink_local = \"2001:db8::2\"\n",
                "ip6.link_local: \"2001:db8::2\" is not a link-local IPv6 address (fe80::/10)"},
        BadCase{"GatewayMulticast", kIp6 + "address = \"2001:db8::1\"\ngateway = \"ff02::2\"\n",
                "ip6.gateway: \"ff02::2\" is not a unicast IPv6 address"},
        BadCase{"GatewayOffLink", kIp6 + "address = \"2001:db8::1\"\ngateway = \"2001:db9::1\"\n",
                "ip6.gateway: 2001:db9::1 is neither link-local nor on 2001:db8::1/64 (line 5)"},
        BadCase{"MtuBelowMinimum", kIp6 + "address = \"2001:db8::1\"\nmtu = 1279\n",
                "ip6.mtu: 1279 is outside 1280..65535"},
        BadCase{"HopLimitZero", kIp6 + "address = \"2001:db8::1\"\nhop_limit = 0\n",
                "ip6.hop_limit: 0 is outside 1..255"},
        BadCase{"DadNotABoolean", kIp6 + "address = \"2001:db8::1\"\ndad = 1\n", "ip6.dad: expected a boolean"},
        BadCase{"RetransZero", kIp6 + "address = \"2001:db8::1\"\nnd_retrans_ms = 0\n",
                "ip6.nd_retrans_ms: 0 is outside 1.."},
        BadCase{"SolicitZero", kIp6 + "address = \"2001:db8::1\"\nnd_max_multicast_solicit = 0\n",
                "ip6.nd_max_multicast_solicit: 0 is outside 1..255"},
        BadCase{"PmtuLifetimeUnderFiveMinutes", kIp6 + "address = \"2001:db8::1\"\npmtu_lifetime_ms = 60000\n",
                "ip6.pmtu_lifetime_ms: 60000 is outside 300000.."},
        BadCase{"UnknownKey", kIp6 + "address = \"2001:db8::1\"\nflow_label = 1\n",
                "unknown key 'ip6.flow_label' (line 5)"},
        BadCase{"GatewayWithoutAddress", kIp6 + "gateway = \"fe80::1\"\n",
                "ip6.gateway: set without ip6.address (IPv6 is off without it) (line 4)"},
        BadCase{"LinkLocalWithoutAddress", kIp6 + "link_local = \"fe80::1\"\n",
                "ip6.link_local: set without ip6.address"},
        BadCase{"DadWithoutAddress", kIp6 + "dad = true\n", "ip6.dad: set without ip6.address"},
        BadCase{"WithPorts",
                "[[ports]]\nname = \"a\"\ndevice = \"d0\"\naddress = \"198.18.0.1\"\n[ip6]\naddress = \"2001:db8::1\"\n",
                "ip6.address: not with [[ports]] (IPv6 is configured for the single-port form only) (line 6)"}),
    [](const ::testing::TestParamInfo<BadCase>& i) { return std::string(i.param.name); });

TEST(Ip6Config, BadOverrideNamesItself) {
  EXPECT_THAT(load_error(kIp, {"ip6.address=2001:db8::1", "ip6.mtu=100"}),
              HasSubstr("ip6.mtu: 100 is outside 1280..65535 (override 'ip6.mtu=100')"));
}

}  // namespace
}  // namespace riptide::runtime
