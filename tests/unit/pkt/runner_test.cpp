// riptide-pkt's runner: a script must fail when the stack does something else, and
// say where. (The pkt suite shows scripts passing; these show they can fail.)
#include <gtest/gtest.h>

#include "runner.hpp"
#include "script.hpp"

namespace riptide::pkt {
namespace {

RunResult run(const std::string& text, bool lenient = false) {
  auto r = parse_script("t.pkt", text);
  if (auto* f = std::get_if<ParseFailure>(&r)) {
    ADD_FAILURE() << f->message;
    return {};
  }
  RunOptions o;
  o.lenient = lenient;
  return run_script(std::get<Script>(r), o);
}

const std::string kListen =
    "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
    "+0 bind(3, ..., ...) = 0\n"
    "+0 listen(3, 1) = 0\n";

TEST(PktRunner, PassesAMatchingExchange) {
  RunResult r = run(kListen +
                    "+0 < S 0:0(0) win 65535 <mss 1000>\n"
                    "+0 > S. 0:0(0) ack 1 <mss 1460>\n"
                    "+0 < . 1:1(0) ack 1 win 65535\n"
                    "+0 accept(3, ..., ...) = 4\n"
                    "+0 %{ assert tcpi_state == TCP_ESTABLISHED }%\n");
  EXPECT_EQ(r.status, RunResult::Status::Pass) << r.message;
}

TEST(PktRunner, FailsOnWrongFlagsWithExpectedAndActual) {
  RunResult r = run(kListen + "+0 < S 0:0(0) win 65535\n+0 > R. 0:0(0) ack 1\n");
  ASSERT_EQ(r.status, RunResult::Status::Fail);
  EXPECT_EQ(r.line, 5);
  EXPECT_NE(r.message.find("flags differ"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("expected: >"), std::string::npos);
  EXPECT_NE(r.message.find("actual:"), std::string::npos);
  EXPECT_NE(r.message.find("state:"), std::string::npos);
}

TEST(PktRunner, FailsOnAnUnexpectedPacket) {
  RunResult r = run(kListen + "+0 < S 0:0(0) win 65535\n+0 close(3) = 0\n");
  ASSERT_EQ(r.status, RunResult::Status::Fail);
  EXPECT_NE(r.message.find("unexpected packet"), std::string::npos) << r.message;
}

TEST(PktRunner, FailsWhenAnExpectedPacketNeverComes) {
  RunResult r = run(kListen + "+0 > S. 0:0(0) ack 1\n");
  ASSERT_EQ(r.status, RunResult::Status::Fail);
  EXPECT_NE(r.message.find("was not sent"), std::string::npos) << r.message;
}

TEST(PktRunner, FailsOnTiming) {
  // The SYN-ACK goes at once, not 1 s later.
  RunResult r = run(kListen + "+0 < S 0:0(0) win 65535\n+1 > S. 0:0(0) ack 1 <mss 1460>\n");
  ASSERT_EQ(r.status, RunResult::Status::Fail);
  EXPECT_NE(r.message.find("sent at"), std::string::npos) << r.message;
}

TEST(PktRunner, FailsOnWrongReturnValueOrErrno) {
  RunResult r = run("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 listen(3, 1) = 0\n");
  ASSERT_EQ(r.status, RunResult::Status::Fail);
  EXPECT_NE(r.message.find("EINVAL"), std::string::npos) << r.message;
}

TEST(PktRunner, FailsOnWrongTcpiState) {
  RunResult r = run(kListen + "+0 %{ assert tcpi_state == TCP_ESTABLISHED }%\n");
  ASSERT_EQ(r.status, RunResult::Status::Fail);
  EXPECT_NE(r.message.find("LISTEN"), std::string::npos) << r.message;
}

TEST(PktRunner, UnsupportedCallsAndOptionsFailHonestly) {
  RunResult r = run("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 poll(3, 1, 0) = 0\n");
  ASSERT_EQ(r.status, RunResult::Status::Fail);
  EXPECT_NE(r.message.find("unsupported system call"), std::string::npos);
  r = run("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 setsockopt(3, IPPROTO_TCP, TCP_CORK, [1], 4) = 0\n");
  ASSERT_EQ(r.status, RunResult::Status::Fail);
  EXPECT_NE(r.message.find("ENOPROTOOPT"), std::string::npos);
}

TEST(PktRunner, SkippedLinesAreCountedAndUnknownIpVersionIsSkipped) {
  RunResult r = run("`sysctl -q net.ipv4.tcp_timestamps=0`\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 %{ print(1) }%\n");
  EXPECT_EQ(r.status, RunResult::Status::Pass);
  EXPECT_EQ(r.skipped_lines, 2);
  r = run("--ip_version=ipv5\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n");
  EXPECT_EQ(r.status, RunResult::Status::Skip);
  // ipv6 runs (tests/pkt/ipv6), ipv4-mapped-ipv6 runs as IPv4.
  r = run("--ip_version=ipv6\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n");
  EXPECT_EQ(r.status, RunResult::Status::Pass) << r.message;
  r = run("--ip_version=ipv4-mapped-ipv6\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n");
  EXPECT_EQ(r.status, RunResult::Status::Pass) << r.message;
}

TEST(PktRunner, LenientComparesOptionsAsASet) {
  const std::string s = kListen +
                        "+0 < S 0:0(0) win 65535 <mss 1000,sackOK,nop,wscale 2>\n"
                        "+0 > S. 0:0(0) ack 1 win 1 <mss 1460,sackOK,nop,nop,nop,wscale 9>\n";
  EXPECT_EQ(run(s, true).status, RunResult::Status::Pass) << run(s, true).message;
  EXPECT_EQ(run(s, false).status, RunResult::Status::Fail);
}

TEST(PktRunner, BadRiptideKnobFailsTheScript) {
  RunResult r = run("--riptide.syn_cookies=sometimes\n0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n");
  ASSERT_EQ(r.status, RunResult::Status::Fail);
  EXPECT_NE(r.message.find("syn_cookies"), std::string::npos);
}

TEST(PktRunner, InboundSegmentsUpToAnIpv4Datagram) {
  // 60000 bytes of payload in one segment (2048 bytes was the limit once); one more
  // than fits an IPv4 datagram fails the script.
  const std::string open = kListen +
                           "+0 < S 0:0(0) win 65535 <mss 1460>\n"
                           "+0 > S. 0:0(0) ack 1 <mss 1460>\n"
                           "+0 < . 1:1(0) ack 1 win 65535\n"
                           "+0 accept(3, ..., ...) = 4\n";
  RunResult r = run(open + "+0 < P. 1:60001(60000) ack 1 win 65535\n+0 > . 1:1(0) ack 60001\n+0 read(4, ..., 70000) = 60000\n");
  EXPECT_EQ(r.status, RunResult::Status::Pass) << r.message;
  r = run(open + "+0 < P. 1:65496(65495) ack 1 win 65535\n");
  ASSERT_EQ(r.status, RunResult::Status::Fail);
  EXPECT_NE(r.message.find("65535"), std::string::npos) << r.message;
}

TEST(PktRunner, NoteAfterAValueIsChecked) {
  EXPECT_EQ(run("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 fcntl(3, F_GETFL) = 0x2 (flags O_RDWR)\n").status,
            RunResult::Status::Pass);
  EXPECT_EQ(run("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 fcntl(3, F_GETFL) = 0x3 (flags O_RDWR)\n").status,
            RunResult::Status::Fail);
}

}  // namespace
}  // namespace riptide::pkt
