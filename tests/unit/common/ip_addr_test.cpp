// IpAddr: both textual forms in, RFC 5952's canonical form out, the IPv4-mapped
// layout, and FlowKey's printing with brackets (RFC 5952 6).
#include "common/ip_addr.hpp"

#include <gtest/gtest.h>

namespace riptide {
namespace {

struct Case {
  const char* in;
  const char* canonical;  // RFC 5952 4
};

// Expected outputs are RFC 5952's own examples (sections 4.1 to 4.3 and 5) plus
// the edges of the "::" rule; each input parses and prints as given.
constexpr Case kCanonical[] = {
    {"2001:db8::1", "2001:db8::1"},
    {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},      // 4.1: leading zeros
    {"2001:db8:0:0:0:0:2:1", "2001:db8::2:1"},                       // 4.2.1: longest run
    {"2001:db8:0000:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},             // 4.2.2: one group stays
    {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},                         // 4.2.3: the longer run
    {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},                   // 4.2.3: first on a tie
    {"2001:DB8::AbCd", "2001:db8::abcd"},                            // 4.3: lower case
    {"::", "::"},
    {"::1", "::1"},
    {"1::", "1::"},
    {"fe80::1:2", "fe80::1:2"},
    {"ff02::1:ff00:1", "ff02::1:ff00:1"},
    {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
    {"1:0:0:0:0:0:0:0", "1::"},
    {"0:0:0:0:0:0:0:1", "::1"},
    {"1:2:3:4:5:6::8", "1:2:3:4:5:6:0:8"},                           // "::" for one group read
    {"::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"},
    {"2001:db8::192.0.2.1", "2001:db8::c000:201"},                   // RFC 4291 2.2 form 3
    {"64:ff9b::198.18.0.1", "64:ff9b::c612:1"},
    {"198.18.0.1", "198.18.0.1"},                                    // IPv4, held mapped
    {"::ffff:198.18.0.1", "198.18.0.1"},                             // the mapped form is IPv4
    {"::ffff:c612:1", "198.18.0.1"},
};

TEST(IpAddr, ParsesAndPrintsCanonically) {
  for (const Case& c : kCanonical) {
    auto a = IpAddr::parse(c.in);
    ASSERT_TRUE(a) << c.in;
    EXPECT_EQ(to_string(*a), c.canonical) << c.in;
    // The canonical form parses back to the same address.
    auto b = IpAddr::parse(to_string(*a));
    ASSERT_TRUE(b) << c.canonical;
    EXPECT_EQ(*a, *b) << c.canonical;
  }
}

TEST(IpAddr, RejectsMalformed) {
  for (const char* bad :
       {"", ":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "g::1",
        ":1::2", "1::2:", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "1.2.3.4::", "::1.2.3",
        "::1.2.3.4:5", "1:2:3:4:5:6:7:1.2.3.4", "[::1]", "::1%eth0", "2001:db8::/32", " ::1",
        "::1 ", "1.2.3.4.5", "256.0.0.1", "-::1", "1:::2"}) {
    EXPECT_FALSE(IpAddr::parse(bad)) << bad;
  }
}

TEST(IpAddr, Ipv4IsHeldMapped) {
  const IpAddr a = Ipv4Addr::from_octets(198, 18, 0, 1);  // implicit
  EXPECT_TRUE(a.is_v4());
  EXPECT_FALSE(a.is_v6());
  EXPECT_EQ(a.v4(), Ipv4Addr::from_octets(198, 18, 0, 1));
  const std::array<std::uint8_t, 16> mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1};
  EXPECT_EQ(a.bytes, mapped);
  EXPECT_NE(a, IpAddr::v6(0, 0, 0, 0, 0, 0, 0xc612, 1));  // ::198.18.0.1 is not IPv4
  EXPECT_FALSE(IpAddr::v6(0, 0, 0, 0, 0, 0, 0xc612, 1).is_v4());
}

TEST(IpAddr, Classes) {
  EXPECT_TRUE(IpAddr{}.is_unspecified());
  EXPECT_TRUE(IpAddr{}.is_v6_unspecified());
  EXPECT_TRUE(IpAddr{Ipv4Addr{}}.is_unspecified());
  EXPECT_FALSE(IpAddr{Ipv4Addr{}}.is_v6_unspecified());
  EXPECT_TRUE(IpAddr::parse("::1")->is_v6_loopback());
  EXPECT_TRUE(IpAddr::parse("ff02::1")->is_v6_multicast());
  EXPECT_TRUE(IpAddr::parse("fe80::1")->is_v6_link_local());
  EXPECT_TRUE(IpAddr::parse("febf::1")->is_v6_link_local());
  EXPECT_FALSE(IpAddr::parse("fec0::1")->is_v6_link_local());
  EXPECT_FALSE(IpAddr::parse("2001:db8::1")->is_v6_multicast());
}

TEST(IpAddr, PrintsWithPort) {
  EXPECT_EQ(to_string(*IpAddr::parse("2001:db8::1"), 80), "[2001:db8::1]:80");
  EXPECT_EQ(to_string(IpAddr{Ipv4Addr::from_octets(198, 18, 0, 1)}, 80), "198.18.0.1:80");
  FlowKey k{*IpAddr::parse("2001:db8::1"), *IpAddr::parse("2001:db8::2"), 80, 40000};
  EXPECT_EQ(to_string(k), "[2001:db8::1]:80 <- [2001:db8::2]:40000");
}

}  // namespace
}  // namespace riptide
