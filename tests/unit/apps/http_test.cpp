// riptide-httpd's request framing (RFC 9112): keep-alive rules, pipelining, bodies
// skipped by Content-Length, and garbage rejected.
#include <gtest/gtest.h>

#include "common/http.hpp"

namespace riptide::apps {
namespace {

void feed(HttpFramer& f, std::string_view s) { f.feed(std::as_bytes(std::span(s.data(), s.size()))); }

TEST(HttpFramer, Http11DefaultsToKeepAlive) {
  HttpFramer f;
  feed(f, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  HttpRequest r;
  ASSERT_EQ(f.next(r), HttpParse::Request);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/");
  EXPECT_TRUE(r.keep_alive);
  EXPECT_FALSE(r.head);
}

TEST(HttpFramer, ConnectionCloseAndHttp10) {
  HttpFramer f;
  feed(f, "GET /a HTTP/1.1\r\nConnection: Keep-Alive, close\r\n\r\n");
  HttpRequest r;
  ASSERT_EQ(f.next(r), HttpParse::Request);
  EXPECT_FALSE(r.keep_alive);
  f.consume();
  feed(f, "GET /b HTTP/1.0\r\n\r\n");
  ASSERT_EQ(f.next(r), HttpParse::Request);
  EXPECT_FALSE(r.keep_alive);
  f.consume();
  feed(f, "HEAD /c HTTP/1.0\r\nconnection: keep-alive\r\n\r\n");
  ASSERT_EQ(f.next(r), HttpParse::Request);
  EXPECT_TRUE(r.keep_alive);
  EXPECT_TRUE(r.head);
}

TEST(HttpFramer, PipelinedRequestsComeOutInOrder) {
  HttpFramer f;
  feed(f, "GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /3 HTTP/1.1\r\n\r\n");
  HttpRequest r;
  std::vector<std::string> targets;
  while (f.next(r) == HttpParse::Request) {
    targets.emplace_back(r.target);
    f.consume();
  }
  EXPECT_EQ(targets, (std::vector<std::string>{"/1", "/2", "/3"}));
  EXPECT_EQ(f.buffered(), 0u);
}

TEST(HttpFramer, PartialRequestsWait) {
  HttpFramer f;
  HttpRequest r;
  feed(f, "GET / HTTP/1.1\r\nHo");
  EXPECT_EQ(f.next(r), HttpParse::NeedMore);
  feed(f, "st: x\r\nContent-Length: 3\r\n\r\nab");
  EXPECT_EQ(f.next(r), HttpParse::NeedMore) << "body incomplete";
  feed(f, "c");
  EXPECT_EQ(f.next(r), HttpParse::Request);
}

TEST(HttpFramer, GarbageIsBadRequest) {
  for (const char* bad : {"\r\n\r\n", "GET\r\n\r\n", "GET / HTTP/2.0\r\n\r\n", "G(T / HTTP/1.1\r\n\r\n",
                          "GET / HTTP/1.1\r\nNoColon\r\n\r\n", "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
                          "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"}) {
    HttpFramer f;
    feed(f, bad);
    HttpRequest r;
    EXPECT_EQ(f.next(r), HttpParse::Bad) << bad;
  }
}

TEST(HttpFramer, OversizedHeadIsRejected) {
  HttpFramer f;
  feed(f, "GET / HTTP/1.1\r\nX: " + std::string(HttpFramer::kMaxHead, 'a'));
  HttpRequest r;
  EXPECT_EQ(f.next(r), HttpParse::TooLarge);
}

TEST(HttpResponse, ContentLengthIsExact) {
  EXPECT_EQ(http_response_head(1234, true).find("Content-Length: 1234\r\n") != std::string::npos, true);
  EXPECT_NE(http_response_head(0, false).find("Connection: close\r\n"), std::string::npos);
  EXPECT_NE(http_bad_request().find("400 Bad Request"), std::string::npos);
}

}  // namespace
}  // namespace riptide::apps
