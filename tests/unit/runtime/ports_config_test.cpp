// Several ports in the TOML config: [[ports]] and [[routes]] (docs/config.md,
// "Several ports"), their errors each naming the key, --set on their entries, the
// to_toml round trip, and the single-port keys meaning one port.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_helpers.hpp"
#include "runtime/config.hpp"

namespace riptide::runtime {
namespace {

using ::testing::HasSubstr;

using testing::load_error;
using testing::load_ok;

Ipv4Addr ip(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) { return Ipv4Addr::from_octets(a, b, c, d); }

constexpr const char* kTwoPorts = R"(
[[ports]]
name = "client"
device = "net_memif0"
address = "198.18.0.1"
prefix_len = 24

[[ports]]
name = "server"
device = "net_memif1"
address = "198.18.1.1"
address_count = 2
prefix_len = 24
mac = "02:00:00:00:01:01"
rx_descriptors = 512

[[routes]]
prefix = "198.19.0.0/16"
port = "server"
gateway = "198.18.1.254"

[[routes]]
prefix = "0.0.0.0/0"
port = "client"
gateway = "198.18.0.254"
)";

TEST(PortsConfig, SinglePortKeysMeanOnePortNamedPort0) {
  const RuntimeConfig c = load_ok("[port]\ndevice = \"net_ring0\"\n[ip]\naddress = \"198.18.0.1\"\n"
                                  "prefix_len = 16\ngateway = \"198.18.0.254\"\n");
  EXPECT_TRUE(c.ports.empty());
  const auto ports = ports_of(c);
  ASSERT_EQ(ports.size(), 1u);
  EXPECT_EQ(ports[0].name, "port0");
  EXPECT_EQ(ports[0].spec.device, "net_ring0");
  EXPECT_EQ(ports[0].address, ip(198, 18, 0, 1));
  EXPECT_EQ(ports[0].prefix_len, 16);
  // ip.gateway is the default route through the one port.
  const RouteTable t = routes_of(c);
  ASSERT_EQ(t.routes().size(), 1u);
  EXPECT_EQ(t.lookup(ip(10, 0, 0, 1)), (NextHop{0, ip(198, 18, 0, 254)}));
}

// pools.mbufs must cover every port's rings on every worker (README "Limits"):
// 1 x ((1024 + 1024 + 2 x 32) + (512 + 1024 + 2 x 32) + 256) + 256 = 4224.
TEST(PortsConfig, MbufPoolCoversEveryPortsRings) {
  EXPECT_THAT(load_error(std::string(kTwoPorts) + "[pools]\nmbufs = 4223\n"),
              HasSubstr("pools.mbufs: 4223 is fewer than the 4224 the rings need: lcores.workers (1) x "
                        "(ports.0.rx_descriptors (1024) + ports.0.tx_descriptors (1024) + 2 x pools.burst (32) + "
                        "ports.1.rx_descriptors (512) + ports.1.tx_descriptors (1024) + 2 x pools.burst (32) + "
                        "pools.mbuf_cache (256)) + 256"));
  (void)load_ok(std::string(kTwoPorts) + "[pools]\nmbufs = 4224\n");
}

TEST(PortsConfig, TwoPortsAndTheirRoutes) {
  const RuntimeConfig c = load_ok(kTwoPorts);
  ASSERT_EQ(c.ports.size(), 2u);
  EXPECT_EQ(c.ports[0].name, "client");
  EXPECT_EQ(c.ports[1].spec.device, "net_memif1");
  EXPECT_EQ(c.ports[1].spec.rx_descriptors, 512);
  EXPECT_EQ(c.ports[1].address_count, 2u);
  EXPECT_EQ(c.ports[1].mac, wire::MacAddr::parse("02:00:00:00:01:01"));
  // The single-port fields mirror the first port.
  EXPECT_EQ(c.address, ip(198, 18, 0, 1));
  EXPECT_EQ(c.port.device, "net_memif0");
  EXPECT_FALSE(c.gateway);
  // The stack holds every port's addresses, the first port's first.
  tcp::Secret s{};
  const StackConfig sc = stack_config(c, s);
  EXPECT_EQ(sc.local_addrs, (std::vector<Ipv4Addr>{ip(198, 18, 0, 1), ip(198, 18, 1, 1), ip(198, 18, 1, 2)}));
  // Routes with their ports resolved to indexes.
  const RouteTable t = routes_of(c);
  EXPECT_EQ(t.lookup(ip(198, 19, 5, 5)), (NextHop{1, ip(198, 18, 1, 254)}));
  EXPECT_EQ(t.lookup(ip(8, 8, 8, 8)), (NextHop{0, ip(198, 18, 0, 254)}));
  // The per-port interface answers ARP for its own addresses only.
  const InterfaceConfig ic = interface_config(c, c.ports[1], wire::MacAddr{});
  EXPECT_EQ(ic.addr, ip(198, 18, 1, 1));
  EXPECT_EQ(ic.addr_count, 2u);
  EXPECT_EQ(ic.mac, wire::MacAddr::parse("02:00:00:00:01:01"));
  EXPECT_FALSE(ic.gateway);
}

TEST(PortsConfig, RoundTripsThroughToToml) {
  const RuntimeConfig c = load_ok(kTwoPorts);
  const std::string text = to_toml(c);
  EXPECT_THAT(text, HasSubstr("[[ports]]"));
  EXPECT_THAT(text, HasSubstr("prefix = \"198.19.0.0/16\""));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("[ip]")));
  const RuntimeConfig d = load_ok(text);
  ASSERT_EQ(d.ports.size(), 2u);
  ASSERT_EQ(d.routes.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(d.ports[i].name, c.ports[i].name);
    EXPECT_EQ(d.ports[i].spec.device, c.ports[i].spec.device);
    EXPECT_EQ(d.ports[i].address, c.ports[i].address);
    EXPECT_EQ(d.ports[i].address_count, c.ports[i].address_count);
    EXPECT_EQ(d.ports[i].prefix_len, c.ports[i].prefix_len);
    EXPECT_EQ(d.ports[i].mac, c.ports[i].mac);
    EXPECT_EQ(d.routes[i].prefix, c.routes[i].prefix);
    EXPECT_EQ(d.routes[i].prefix_len, c.routes[i].prefix_len);
    EXPECT_EQ(d.routes[i].port, c.routes[i].port);
    EXPECT_EQ(d.routes[i].gateway, c.routes[i].gateway);
  }
}

TEST(PortsConfig, SetChangesAnEntry) {
  const RuntimeConfig c = load_ok(kTwoPorts, {"ports.1.device=net_memif7", "ports.0.prefix_len=16",
                                              "routes.0.gateway=198.18.1.253"});
  EXPECT_EQ(c.ports[1].spec.device, "net_memif7");
  EXPECT_EQ(c.ports[0].prefix_len, 16);
  EXPECT_EQ(c.routes[0].gateway, ip(198, 18, 1, 253));
}

TEST(PortsConfig, SetCannotAddEntries) {
  EXPECT_THAT(load_error(kTwoPorts, {"ports.2.device=x"}),
              HasSubstr("'ports.2.device': the file has 2 [[ports]] entries"));
  EXPECT_THAT(load_error(kTwoPorts, {"ports.x.device=x"}), HasSubstr("expected ports.N.key=value"));
  EXPECT_THAT(load_error(kTwoPorts, {"ports.0.colour=red"}), HasSubstr("unknown key 'ports.0.colour'"));
}

TEST(PortsConfig, RoutesWorkWithTheSinglePortToo) {
  const RuntimeConfig c = load_ok("[ip]\naddress = \"198.18.0.1\"\n[[routes]]\nprefix = \"198.19.0.0/16\"\n"
                                  "port = \"port0\"\ngateway = \"198.18.0.9\"\n");
  EXPECT_EQ(routes_of(c).lookup(ip(198, 19, 1, 1)), (NextHop{0, ip(198, 18, 0, 9)}));
}

struct BadCase {
  const char* name;
  std::string text;
  std::string message;
};

class PortsConfigErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(PortsConfigErrors, NameTheKey) { EXPECT_THAT(load_error(GetParam().text), HasSubstr(GetParam().message)); }

const std::string kPort0 = "[[ports]]\nname = \"a\"\ndevice = \"d0\"\naddress = \"198.18.0.1\"\n";
const std::string kPort1 = "[[ports]]\nname = \"b\"\ndevice = \"d1\"\naddress = \"198.18.1.1\"\n";

INSTANTIATE_TEST_SUITE_P(
    All, PortsConfigErrors,
    ::testing::Values(
        BadCase{"PortsNotAnArrayOfTables", "[ports]\ndevice = \"x\"\n", "ports: expected an array of tables"},
        BadCase{"UnknownPortKey", kPort0 + "speed = 10\n", "unknown key 'ports.0.speed' (line 5)"},
        BadCase{"PortAddressRequired", "[[ports]]\ndevice = \"d0\"\n", "ports.0.address: required"},
        BadCase{"PortAddressBad", "[[ports]]\naddress = \"198.18.0\"\n", "ports.0.address: \"198.18.0\" is not"},
        BadCase{"PortAddressNotAHost", "[[ports]]\naddress = \"224.0.0.1\"\n", "ports.0.address: 224.0.0.1 cannot"},
        BadCase{"PortPrefixOutOfRange", kPort0 + "prefix_len = 40\n", "ports.0.prefix_len: 40 is outside 0..32"},
        BadCase{"PortMacMulticast", kPort0 + "mac = \"01:00:5e:00:00:01\"\n", "ports.0.mac: 01:00:5e:00:00:01 is a multicast"},
        BadCase{"DeviceRequiredWithSeveral", kPort0 + "[[ports]]\naddress = \"198.18.1.1\"\n",
                "ports.1.device: required with several ports"},
        BadCase{"DuplicateName", kPort0 + "[[ports]]\nname = \"a\"\ndevice = \"d1\"\naddress = \"198.18.1.1\"\n",
                "ports.1.name: \"a\" is also ports.0's"},
        BadCase{"DuplicateDevice", kPort0 + "[[ports]]\ndevice = \"d0\"\naddress = \"198.18.1.1\"\n",
                "ports.1.device: \"d0\" is also ports.0's"},
        BadCase{"OverlappingAddresses",
                kPort0 + "address_count = 4\n[[ports]]\ndevice = \"d1\"\naddress = \"198.18.0.3\"\n",
                "ports.1.address: 198.18.0.3 (x1) overlaps ports.0's addresses"},
        BadCase{"SinglePortKeysWithPorts", "[ip]\naddress = \"198.18.0.1\"\n" + kPort1,
                "ip.address: not with [[ports]]"},
        BadCase{"PortSectionWithPorts", "[port]\ndevice = \"x\"\n" + kPort1, "port.device: not with [[ports]]"},
        BadCase{"RoutePrefixRequired", kPort0 + "[[routes]]\nport = \"a\"\n", "routes.0.prefix: required"},
        BadCase{"RoutePortRequired", kPort0 + "[[routes]]\nprefix = \"0.0.0.0/0\"\n", "routes.0.port: required"},
        BadCase{"RoutePrefixMalformed", kPort0 + "[[routes]]\nprefix = \"198.19.0.0\"\nport = \"a\"\n",
                "routes.0.prefix: \"198.19.0.0\" is not a prefix"},
        BadCase{"RoutePrefixTooLong", kPort0 + "[[routes]]\nprefix = \"198.19.0.0/33\"\nport = \"a\"\n",
                "routes.0.prefix: \"198.19.0.0/33\" is not a prefix"},
        BadCase{"RoutePrefixHostBits", kPort0 + "[[routes]]\nprefix = \"198.19.7.9/16\"\nport = \"a\"\n",
                "has host bits set (did you mean \"198.19.0.0/16\"?)"},
        BadCase{"RouteUnknownPort", kPort0 + "[[routes]]\nprefix = \"0.0.0.0/0\"\nport = \"z\"\n",
                "routes.0.port: no port is called \"z\" (ports: \"a\")"},
        BadCase{"RouteGatewayOffSubnet",
                kPort0 + "[[routes]]\nprefix = \"0.0.0.0/0\"\nport = \"a\"\ngateway = \"198.18.9.1\"\n",
                "routes.0.gateway: 198.18.9.1 is not on port \"a\"'s subnet 198.18.0.0/24"},
        BadCase{"RouteDuplicate",
                kPort0 + "[[routes]]\nprefix = \"0.0.0.0/0\"\nport = \"a\"\n[[routes]]\nprefix = \"0.0.0.0/0\"\nport = \"a\"\n",
                "routes.1.prefix: 0.0.0.0/0 is also routes.0's"},
        BadCase{"RouteUnknownKey", kPort0 + "[[routes]]\nmetric = 1\n", "unknown key 'routes.0.metric'"},
        BadCase{"DefaultRouteTwice",
                "[ip]\naddress = \"198.18.0.1\"\ngateway = \"198.18.0.254\"\n[[routes]]\nprefix = \"0.0.0.0/0\"\n"
                "port = \"port0\"\n",
                "a default route, and ip.gateway is one too"},
        BadCase{"NoAddressAtAll", "[tcp]\nmss = 1400\n", "or [[ports]] tables with an address each"}),
    [](const ::testing::TestParamInfo<BadCase>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace riptide::runtime
