#include "common/ip_addr.hpp"

#include <gtest/gtest.h>

namespace riptide {
namespace {

TEST(Ipv4Addr, ParsesDottedQuad) {
  auto a = Ipv4Addr::parse("198.18.0.1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->value, 0xC6120001u);
  EXPECT_EQ(to_string(*a), "198.18.0.1");
}

TEST(Ipv4Addr, RejectsMalformed) {
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "a.b.c.d",
                          "1.2.3.4 ", " 1.2.3.4", "1.2.3.-4", "0001.2.3.4"}) {
    EXPECT_FALSE(Ipv4Addr::parse(bad)) << bad;
  }
}

TEST(FlowKey, PrintsLocalThenRemote) {
  FlowKey k{Ipv4Addr::from_octets(198, 18, 0, 1), Ipv4Addr::from_octets(198, 18, 0, 2), 80,
            40000};
  EXPECT_EQ(to_string(k), "198.18.0.1:80 <- 198.18.0.2:40000");
}

}  // namespace
}  // namespace riptide
