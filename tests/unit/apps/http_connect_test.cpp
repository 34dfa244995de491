// The HTTP CONNECT request parser and allow-list (apps/common/http_connect.hpp):
// a table of requests and what each must give, every split of a good request
// into two pieces, the size limit, and the CIDR/port rules.
#include "common/http_connect.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace riptide::apps::proxy {
namespace {

using S = ParsedConnect::Status;

std::span<const std::byte> bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

const Endpoint kTarget{Ipv4Addr::from_octets(198, 18, 0, 2), 443};

struct Case {
  const char* what;
  std::string request;
  S status;
};

TEST(HttpConnect, RequestTable) {
  const std::vector<Case> cases{
      // Accepted (RFC 9112 3, 3.2.3; 2.2 bare LF and leading empty lines).
      {"minimal", "CONNECT 198.18.0.2:443 HTTP/1.1\r\n\r\n", S::Done},
      {"curl's", "CONNECT 198.18.0.2:443 HTTP/1.1\r\nHost: 198.18.0.2:443\r\nUser-Agent: curl/7.88.1\r\n"
                 "Proxy-Connection: Keep-Alive\r\n\r\n", S::Done},
      {"HTTP/1.0", "CONNECT 198.18.0.2:443 HTTP/1.0\r\n\r\n", S::Done},
      {"bare LF", "CONNECT 198.18.0.2:443 HTTP/1.1\nHost: x\n\n", S::Done},
      {"leading empty lines", "\r\n\r\nCONNECT 198.18.0.2:443 HTTP/1.1\r\n\r\n", S::Done},
      {"field without a value", "CONNECT 198.18.0.2:443 HTTP/1.1\r\nX-Empty:\r\n\r\n", S::Done},
      {"obs-text in a value", "CONNECT 198.18.0.2:443 HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n", S::Done},
      {"tab in a value", "CONNECT 198.18.0.2:443 HTTP/1.1\r\nX: a\tb\r\n\r\n", S::Done},
      // Not whole yet.
      {"empty", "", S::NeedMore},
      {"half a request-line", "CONNECT 198.18.0.2:4", S::NeedMore},
      {"no empty line", "CONNECT 198.18.0.2:443 HTTP/1.1\r\nHost: x\r\n", S::NeedMore},
      {"a CR short", "CONNECT 198.18.0.2:443 HTTP/1.1\r\n\r", S::NeedMore},
      // Malformed request-lines (400).
      {"no target", "CONNECT HTTP/1.1\r\n\r\n", S::Malformed},
      {"two spaces", "CONNECT  198.18.0.2:443 HTTP/1.1\r\n\r\n", S::Malformed},
      {"trailing space", "CONNECT 198.18.0.2:443 HTTP/1.1 \r\n\r\n", S::Malformed},
      {"tab separator", "CONNECT\t198.18.0.2:443 HTTP/1.1\r\n\r\n", S::Malformed},
      {"HTTP/2.0", "CONNECT 198.18.0.2:443 HTTP/2.0\r\n\r\n", S::Malformed},
      {"lowercase version", "CONNECT 198.18.0.2:443 http/1.1\r\n\r\n", S::Malformed},
      {"no version", "CONNECT 198.18.0.2:443\r\n\r\n", S::Malformed},
      {"no port", "CONNECT 198.18.0.2 HTTP/1.1\r\n\r\n", S::Malformed},
      {"empty port", "CONNECT 198.18.0.2: HTTP/1.1\r\n\r\n", S::Malformed},
      {"port 0", "CONNECT 198.18.0.2:0 HTTP/1.1\r\n\r\n", S::Malformed},
      {"port 65536", "CONNECT 198.18.0.2:65536 HTTP/1.1\r\n\r\n", S::Malformed},
      {"port with a sign", "CONNECT 198.18.0.2:+443 HTTP/1.1\r\n\r\n", S::Malformed},
      {"port with letters", "CONNECT 198.18.0.2:https HTTP/1.1\r\n\r\n", S::Malformed},
      {"no host", "CONNECT :443 HTTP/1.1\r\n\r\n", S::Malformed},
      {"userinfo", "CONNECT user@198.18.0.2:443 HTTP/1.1\r\n\r\n", S::Malformed},
      {"origin-form", "CONNECT / HTTP/1.1\r\n\r\n", S::Malformed},
      {"absolute-form", "CONNECT http://198.18.0.2:443/ HTTP/1.1\r\n\r\n", S::Malformed},
      {"unclosed IPv6 literal", "CONNECT [::1:443 HTTP/1.1\r\n\r\n", S::Malformed},
      {"control byte in the target", "CONNECT 198.18.0.2\x01:443 HTTP/1.1\r\n\r\n", S::Malformed},
      {"bare CR in the request-line", "CONNECT 198.18.0.2:443\rHTTP/1.1\r\n\r\n", S::Malformed},
      {"binary (TLS ClientHello)", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", 12), S::Malformed},
      // Malformed field lines (400).
      {"space before the colon (RFC 9112 5.1)", "CONNECT 198.18.0.2:443 HTTP/1.1\r\nHost : x\r\n\r\n",
       S::Malformed},
      {"obs-fold (RFC 9112 5.2)", "CONNECT 198.18.0.2:443 HTTP/1.1\r\nX: a\r\n  b\r\n\r\n", S::Malformed},
      {"no colon", "CONNECT 198.18.0.2:443 HTTP/1.1\r\nHost x\r\n\r\n", S::Malformed},
      {"empty name", "CONNECT 198.18.0.2:443 HTTP/1.1\r\n: x\r\n\r\n", S::Malformed},
      {"control byte in a value", "CONNECT 198.18.0.2:443 HTTP/1.1\r\nX: a\x01\r\n\r\n", S::Malformed},
      {"NUL in a value", std::string("CONNECT 198.18.0.2:443 HTTP/1.1\r\nX: a") + '\0' + "b\r\n\r\n", S::Malformed},
      {"bare CR in a field", "CONNECT 198.18.0.2:443 HTTP/1.1\r\nX: a\rb\r\n\r\n", S::Malformed},
      {"a bad field after the first", "CONNECT 198.18.0.2:443 HTTP/1.1\r\nHost: x\r\nbad line\r\n", S::Malformed},
      // Other methods (405): the method is case-sensitive (RFC 9110 9.1).
      {"lowercase method", "connect 198.18.0.2:443 HTTP/1.1\r\n\r\n", S::MethodNotAllowed},
      {"mixed-case method", "Connect 198.18.0.2:443 HTTP/1.1\r\n\r\n", S::MethodNotAllowed},
      {"GET", "GET http://198.18.0.2/ HTTP/1.1\r\nHost: 198.18.0.2\r\n\r\n", S::MethodNotAllowed},
      {"method with a bad byte", "CONN\x01" "ECT 198.18.0.2:443 HTTP/1.1\r\n\r\n", S::Malformed},
      // Hosts that are not IPv4 literals (400: riptide has no resolver).
      {"a name", "CONNECT example.com:443 HTTP/1.1\r\n\r\n", S::NotIpv4},
      {"localhost", "CONNECT localhost:443 HTTP/1.1\r\n\r\n", S::NotIpv4},
      {"IPv6 literal", "CONNECT [2001:db8::1]:443 HTTP/1.1\r\n\r\n", S::NotIpv4},
      {"leading zero (octal to inet_aton)", "CONNECT 198.018.0.2:443 HTTP/1.1\r\n\r\n", S::NotIpv4},
      {"octet over 255", "CONNECT 198.18.0.256:443 HTTP/1.1\r\n\r\n", S::NotIpv4},
      {"three octets", "CONNECT 198.18.2:443 HTTP/1.1\r\n\r\n", S::NotIpv4},
      {"a decimal integer", "CONNECT 3323068418:443 HTTP/1.1\r\n\r\n", S::NotIpv4},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    const ParsedConnect r = parse_connect_request(bytes(c.request), 4096);
    EXPECT_EQ(static_cast<int>(r.status), static_cast<int>(c.status));
    if (c.status == S::Done) {
      EXPECT_EQ(r.target, kTarget);
      EXPECT_EQ(r.length, c.request.size());
    }
  }
}

TEST(HttpConnect, BytesAfterTheEmptyLineAreNotPartOfTheRequest) {
  const std::string request = "CONNECT 198.18.0.2:443 HTTP/1.1\r\nHost: 198.18.0.2:443\r\n\r\n";
  const std::string stream = request + "\x16\x03\x01 tunnel bytes\r\n\r\nCONNECT x";
  const ParsedConnect r = parse_connect_request(bytes(stream), 4096);
  ASSERT_EQ(r.status, S::Done);
  EXPECT_EQ(r.length, request.size());
  EXPECT_EQ(r.target, kTarget);
}

TEST(HttpConnect, EverySplitOfARequestWaitsThenParsesTheSame) {
  // As the proxy meets it: the first n bytes (a segment boundary anywhere), then all.
  const std::string request =
      "CONNECT 198.18.0.2:443 HTTP/1.1\r\nHost: 198.18.0.2:443\r\nProxy-Authorization: Basic eDp5\r\n\r\n";
  for (std::size_t n = 0; n < request.size(); ++n) {
    EXPECT_EQ(parse_connect_request(bytes(std::string_view(request).substr(0, n)), 4096).status, S::NeedMore) << n;
  }
  const ParsedConnect r = parse_connect_request(bytes(request), 4096);
  ASSERT_EQ(r.status, S::Done);
  EXPECT_EQ(r.length, request.size());
}

TEST(HttpConnect, AnErrorIsKnownAsSoonAsItsLineIsWhole) {
  // A lowercase method is refused once its line ends, whatever follows.
  EXPECT_EQ(parse_connect_request(bytes("connect 198.18.0.2:443 HTTP/1.1\r\n"), 4096).status, S::MethodNotAllowed);
  EXPECT_EQ(parse_connect_request(bytes("CONNECT 198.18.0.2:443 HTTP/1.1\r\nbad\r\n"), 4096).status, S::Malformed);
}

TEST(HttpConnect, SizeLimit) {
  const std::string head = "CONNECT 198.18.0.2:443 HTTP/1.1\r\n";
  const std::string exact = head + "X: " + std::string(100 - head.size() - 7, 'a') + "\r\n\r\n";
  ASSERT_EQ(exact.size(), 100u);
  EXPECT_EQ(parse_connect_request(bytes(exact), 100).status, S::Done) << "a request of exactly the limit fits";
  EXPECT_EQ(parse_connect_request(bytes(exact), 99).status, S::TooLarge);
  // Over the limit without an end: refused at once, not after more bytes.
  const std::string endless = head + "X: " + std::string(5000, 'a');
  EXPECT_EQ(parse_connect_request(bytes(endless), 4096).status, S::TooLarge);
  EXPECT_EQ(parse_connect_request(bytes(std::string_view(endless).substr(0, 4095)), 4096).status, S::NeedMore);
  EXPECT_EQ(parse_connect_request(bytes(std::string_view(endless).substr(0, 4096)), 4096).status, S::TooLarge);
  // Tunnel bytes after a request within the limit do not count against it.
  const std::string with_data = exact + std::string(1000, 'z');
  const ParsedConnect r = parse_connect_request(bytes(with_data), 100);
  EXPECT_EQ(r.status, S::Done);
  EXPECT_EQ(r.length, 100u);
  // Empty lines before the request-line count (they are bytes the client sent).
  EXPECT_EQ(parse_connect_request(bytes(std::string(200, '\n')), 100).status, S::TooLarge);
}

TEST(HttpConnect, ArbitraryBytesAreHandledWithinBounds) {
  // Untrusted input: seeded random text after a few prefixes, every prefix of it
  // parsed. Done never claims more bytes than there are or than the limit, and an
  // answer, once given, stays the same as bytes are added (so the proxy may act
  // on the first one).
  std::uint64_t x = 0x2545F4914F6CDD1Du;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  const std::vector<std::string> prefixes{"", "CONNECT ", "CONNECT 198.18.0.2:443 HTTP/1.1\r\n",
                                          "CONNECT 198.18.0.2:443 HTTP/1.1\r\nHost: x\r\n"};
  constexpr std::string_view kAlphabet = " :.0123456789\r\n\r\nCONECTHP/1a\t\x01\xff[]-";
  for (int round = 0; round < 4000; ++round) {
    std::string in = prefixes[static_cast<std::size_t>(round) % prefixes.size()];
    const std::size_t extra = next() % 120;
    for (std::size_t i = 0; i < extra; ++i) in.push_back(kAlphabet[next() % kAlphabet.size()]);
    const std::size_t max = 64 + next() % 100;
    std::optional<ParsedConnect> settled;
    for (std::size_t n = 0; n <= in.size(); ++n) {
      const ParsedConnect r = parse_connect_request(bytes(std::string_view(in).substr(0, n)), max);
      if (r.status == S::Done) {
        ASSERT_GT(r.length, 0u);
        ASSERT_LE(r.length, std::min(n, max));
      }
      if (settled) {
        ASSERT_EQ(static_cast<int>(r.status), static_cast<int>(settled->status)) << "round " << round << " n " << n;
        ASSERT_EQ(r.length, settled->length);
        ASSERT_EQ(r.target, settled->target);
      } else if (r.status != S::NeedMore) {
        settled = r;
      }
    }
  }
}

TEST(HttpConnect, Responses) {
  EXPECT_EQ(connect_established(), "HTTP/1.1 200 Connection established\r\n\r\n");
  EXPECT_EQ(connect_error_response(403), "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(connect_error_response(405),
            "HTTP/1.1 405 Method Not Allowed\r\nAllow: CONNECT\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  for (const unsigned s : {400u, 408u, 502u, 504u}) {
    EXPECT_EQ(connect_error_response(s).rfind("HTTP/1.1 " + std::to_string(s) + " ", 0), 0u) << s;
  }
}

TEST(AllowList, RulesParseAndAdmit) {
  const auto rule = [](std::string_view t) {
    const AllowParse p = parse_allow_rule(t);
    EXPECT_TRUE(p.rule.has_value()) << t << ": " << p.error;
    return p.rule.value_or(AllowRule{});
  };
  const Endpoint a{Ipv4Addr::from_octets(198, 18, 0, 2), 443};
  const Endpoint b{Ipv4Addr::from_octets(198, 19, 7, 9), 8080};
  EXPECT_TRUE(rule("198.18.0.0/16:443").admits(a));
  EXPECT_FALSE(rule("198.18.0.0/16:443").admits(b));
  EXPECT_FALSE(rule("198.18.0.0/16:444").admits(a));
  EXPECT_TRUE(rule("198.18.0.0/15:*").admits(b));
  EXPECT_TRUE(rule("198.18.0.2:443").admits(a)) << "a bare address is /32";
  EXPECT_FALSE(rule("198.18.0.3:443").admits(a));
  EXPECT_TRUE(rule("0.0.0.0/0:8000-8080").admits(b));
  EXPECT_FALSE(rule("0.0.0.0/0:8000-8079").admits(b));
  EXPECT_TRUE(allowed({rule("198.19.0.0/16:1-1024"), rule("198.18.0.2:443")}, a));
  EXPECT_FALSE(allowed({}, a)) << "an empty list allows nothing";
  for (const char* t : {"198.18.0.0/16:443", "198.18.0.2/32:8000-8100", "198.18.0.0/15:*", "0.0.0.0/0:1"}) {
    EXPECT_EQ(to_string(rule(t)), t);
  }
  EXPECT_EQ(to_string(rule("198.18.0.2:80")), "198.18.0.2/32:80");
  EXPECT_EQ(to_string(rule("198.18.0.2:1-65535")), "198.18.0.2/32:*");
}

TEST(AllowList, BadRulesSayWhy) {
  const auto error = [](std::string_view t) {
    const AllowParse p = parse_allow_rule(t);
    EXPECT_FALSE(p.rule.has_value()) << t;
    return p.error;
  };
  EXPECT_NE(error("198.18.0.0/16").find("has no port"), std::string::npos);
  EXPECT_NE(error("198.18.0.1/16:443").find("host bits set (did you mean \"198.18.0.0/16\"?)"), std::string::npos);
  EXPECT_NE(error("198.18.0.0/33:443").find("prefix length must be 0..32"), std::string::npos);
  EXPECT_NE(error("198.18.0.0/:443").find("prefix length"), std::string::npos);
  EXPECT_NE(error("example.com:443").find("not an IPv4 address or CIDR block"), std::string::npos);
  for (const char* t : {"198.18.0.0/16:0", "198.18.0.0/16:65536", "198.18.0.0/16:", "198.18.0.0/16:9-8",
                        "198.18.0.0/16:80,443", "198.18.0.0/16:a", "198.18.0.0/16:1-"}) {
    EXPECT_NE(error(t).find("the port must be"), std::string::npos) << t;
  }
}

TEST(AllowList, Cidrs) {
  const auto c = parse_cidr("198.18.0.0/15");
  ASSERT_TRUE(c.cidr);
  EXPECT_TRUE(c.cidr->contains(Ipv4Addr::from_octets(198, 19, 255, 255)));
  EXPECT_FALSE(c.cidr->contains(Ipv4Addr::from_octets(198, 20, 0, 0)));
  EXPECT_EQ(to_string(*c.cidr), "198.18.0.0/15");
  const auto all = parse_cidr("0.0.0.0/0");
  ASSERT_TRUE(all.cidr);
  EXPECT_TRUE(all.cidr->contains(Ipv4Addr::from_octets(1, 2, 3, 4)));
  const auto one = parse_cidr("198.18.0.7");
  ASSERT_TRUE(one.cidr);
  EXPECT_EQ(one.cidr->prefix, 32);
  EXPECT_FALSE(one.cidr->contains(Ipv4Addr::from_octets(198, 18, 0, 8)));
}

}  // namespace
}  // namespace riptide::apps::proxy
