// riptide-httpd and riptide-echo's logic on a Stack, driven by the engine harness's
// scripted peer: what goes on the wire for keep-alive, close, garbage and echo.
#include "../engine/harness.hpp"
#include "common/servers.hpp"

namespace riptide::testing {
namespace {

// Accept a connection on a listener served by `h` and return the data it sends.
std::string payload_of(const std::vector<Out>& outs) {
  std::string s;
  for (const Out& o : outs) s += o.data;
  return s;
}

TEST(HttpServer, KeepAliveRequestGetsOneSegmentResponse) {
  Harness h;
  apps::HttpServer server(10);
  ASSERT_TRUE(h.stack.listen(h.local, h.local_port, server).has_value());
  h.in("S", 0);
  h.take();
  const std::string req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  h.in("P.", 1, 1, req);
  auto outs = h.take();
  ASSERT_EQ(outs.size(), 1u) << "head and body together, ACK on it";
  EXPECT_NE(outs[0].data.find("HTTP/1.1 200 OK"), std::string::npos);
  EXPECT_NE(outs[0].data.find("Content-Length: 10\r\n\r\n"), std::string::npos);
  EXPECT_EQ(outs[0].ack, 1 + req.size());
  EXPECT_EQ(server.stats().requests, 1u);
}

TEST(HttpServer, ConnectionCloseSendsFinAfterTheResponse) {
  Harness h;
  apps::HttpServer server(3);
  ASSERT_TRUE(h.stack.listen(h.local, h.local_port, server).has_value());
  h.in("S", 0);
  h.take();
  h.in("P.", 1, 1, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
  auto outs = h.take();
  ASSERT_FALSE(outs.empty());
  EXPECT_TRUE(outs.back().flags & kFin) << outs.back().line;
  EXPECT_NE(payload_of(outs).find("Connection: close"), std::string::npos);
}

TEST(HttpServer, GarbageGets400AndClose) {
  Harness h;
  apps::HttpServer server(3);
  ASSERT_TRUE(h.stack.listen(h.local, h.local_port, server).has_value());
  h.in("S", 0);
  h.take();
  h.in("P.", 1, 1, "\x16\x03\x01 not http\r\n\r\n");
  auto outs = h.take();
  EXPECT_NE(payload_of(outs).find("400 Bad Request"), std::string::npos);
  EXPECT_TRUE(outs.back().flags & kFin);
  EXPECT_EQ(server.stats().bad_requests, 1u);
}

TEST(HttpServer, LargeBodyFollowsTheSendWindow) {
  Harness h;
  apps::HttpServer server(200000);
  ASSERT_TRUE(h.stack.listen(h.local, h.local_port, server).has_value());
  h.in("S", 0, 0, {}, 65535);
  h.take();
  const std::string req = "GET / HTTP/1.1\r\n\r\n";
  h.in("P.", 1, 1, req);
  std::size_t got = 0;
  // Acknowledge everything sent until the response is complete.
  for (int round = 0; round < 400 && got < 200000; ++round) {
    auto outs = h.take();
    if (outs.empty()) break;
    for (const Out& o : outs) got += o.data.size();
    const auto& last = outs.back();
    h.in(".", 1 + static_cast<std::uint32_t>(req.size()), last.seq + static_cast<std::uint32_t>(last.data.size()));
  }
  EXPECT_GE(got, 200000u);
}

TEST(HttpServer, BytesTargetSetsTheBodySize) {
  Harness h;
  apps::HttpServer server(10);
  ASSERT_TRUE(h.stack.listen(h.local, h.local_port, server).has_value());
  h.in("S", 0);
  h.take();
  const std::string req = "GET /bytes/100 HTTP/1.1\r\n\r\nGET /bytes/x HTTP/1.1\r\n\r\n";
  h.in("P.", 1, 1, req);
  const std::string out = payload_of(h.take());
  const auto second = out.find("HTTP/1.1 200 OK", 1);
  ASSERT_NE(second, std::string::npos) << out;
  EXPECT_NE(out.substr(0, second).find("Content-Length: 100\r\n\r\n"), std::string::npos) << out;
  EXPECT_EQ(out.substr(0, second).size() - out.find("\r\n\r\n") - 4, 100u);
  EXPECT_NE(out.substr(second).find("Content-Length: 10\r\n\r\n"), std::string::npos) << "not a number: --body-size";
}

TEST(EchoServer, EchoesAndClosesAfterThePeer) {
  Harness h;
  apps::EchoServer server;
  ASSERT_TRUE(h.stack.listen(h.local, h.local_port, server).has_value());
  h.in("S", 0);
  h.take();
  h.in("P.", 1, 1, "ping");
  auto outs = h.take();
  ASSERT_EQ(outs.size(), 1u);
  EXPECT_EQ(outs[0].data, "ping");
  h.in("F.", 5, 5);
  outs = h.take();
  ASSERT_FALSE(outs.empty());
  EXPECT_TRUE(outs.back().flags & kFin);
}

}  // namespace
}  // namespace riptide::testing
