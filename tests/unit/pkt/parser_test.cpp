// riptide-pkt's parser: packetdrill's grammar, and errors that name line and column.
#include <gtest/gtest.h>

#include "script.hpp"
#include "wire/tcp.hpp"

namespace riptide::pkt {
namespace {

using namespace riptide::wire::tcp_flags;

Script parse_ok(const std::string& text) {
  auto r = parse_script("t.pkt", text);
  if (auto* f = std::get_if<ParseFailure>(&r)) {
    ADD_FAILURE() << "line " << f->pos.line << ":" << f->pos.column << ": " << f->message;
    return {};
  }
  return std::get<Script>(r);
}

ParseFailure parse_fail(const std::string& text) {
  auto r = parse_script("t.pkt", text);
  if (auto* f = std::get_if<ParseFailure>(&r)) return *f;
  ADD_FAILURE() << "expected a parse error";
  return {};
}

TEST(PktParser, TimesAbsoluteRelativeAnyAndRanges) {
  Script s = parse_ok("0 close(3) = 0\n+.1 close(3) = 0\n* close(3) = 0\n+1~+1.5 close(3) = 0\n0.250 close(3) = 0\n");
  ASSERT_EQ(s.events.size(), 5u);
  EXPECT_EQ(s.events[0].time.kind, EventTime::Kind::Absolute);
  EXPECT_EQ(s.events[1].time.kind, EventTime::Kind::Relative);
  EXPECT_EQ(s.events[1].time.us, 100000);
  EXPECT_EQ(s.events[2].time.kind, EventTime::Kind::Any);
  EXPECT_EQ(s.events[3].time.us, 1000000);
  EXPECT_EQ(s.events[3].time.range_end_us, 1500000);
  EXPECT_TRUE(s.events[3].time.range_end_relative);
  EXPECT_EQ(s.events[4].time.us, 250000);
}

TEST(PktParser, InboundPacketWithOptions) {
  Script s = parse_ok("+0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,TS val 100 ecr 0,nop,wscale 7>\n");
  ASSERT_EQ(s.events.size(), 1u);
  const auto& p = std::get<PacketEvent>(s.events[0].body);
  EXPECT_TRUE(p.inbound);
  EXPECT_EQ(p.flags, kSyn);
  EXPECT_EQ(p.window, 32792u);
  ASSERT_TRUE(p.options);
  ASSERT_EQ(p.options->size(), 7u);
  EXPECT_EQ((*p.options)[0].kind, ScriptOption::Kind::Mss);
  EXPECT_EQ((*p.options)[0].value, 1000u);
  EXPECT_EQ((*p.options)[4].kind, ScriptOption::Kind::Timestamp);
  EXPECT_EQ((*p.options)[4].ts_val, 100u);
  EXPECT_EQ((*p.options)[6].value, 7u);
}

TEST(PktParser, OutboundPacketFlagsSeqAckSack) {
  Script s = parse_ok("+0 > P. 1:1001(1000) ack 5 <nop,nop,sack 10:20 30:40>\n+0 > F. 1:1(0) ack 1 <...>\n");
  const auto& p = std::get<PacketEvent>(s.events[0].body);
  EXPECT_FALSE(p.inbound);
  EXPECT_EQ(p.flags, kPsh | kAck);
  EXPECT_EQ(p.seq_start, 1u);
  EXPECT_EQ(p.seq_end, 1001u);
  EXPECT_EQ(p.payload_len, 1000u);
  EXPECT_EQ(p.ack, 5u);
  ASSERT_TRUE(p.options);
  EXPECT_EQ((*p.options)[2].sack.size(), 2u);
  EXPECT_TRUE(std::get<PacketEvent>(s.events[1].body).any_options);
}

TEST(PktParser, SyscallsWithErrnoStructsAndFlags) {
  Script s = parse_ok(
      "0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)\n"
      "+0 setsockopt(4, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0\n"
      "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
      "0...0.1 accept(3, ..., ...) = 4\n");
  const auto& c = std::get<SyscallEvent>(s.events[0].body);
  EXPECT_EQ(c.name, "connect");
  EXPECT_EQ(c.expected_result, -1);
  EXPECT_EQ(c.expected_errno, "EINPROGRESS");
  const auto& so = std::get<SyscallEvent>(s.events[1].body);
  EXPECT_EQ(so.args[3].kind, Expr::Kind::Struct);
  EXPECT_EQ(so.args[3].fields, (std::vector<std::string>{"l_onoff", "l_linger"}));
  EXPECT_EQ(std::get<SyscallEvent>(s.events[2].body).args[2].kind, Expr::Kind::BitOr);
  const auto& a = std::get<SyscallEvent>(s.events[3].body);
  EXPECT_TRUE(a.blocking);
  EXPECT_EQ(a.end_us, 100000);
}

TEST(PktParser, CommandsShellHeadersAndComments) {
  Script s = parse_ok(
      "--tolerance_usecs=10000\n"
      "// a comment\n/* a block\n comment */\n"
      "`../common/defaults.sh`\n"
      "+0 %{ assert tcpi_state == TCP_ESTABLISHED, tcpi_state }%\n"
      "+0 %{ print(tcpi_rto) }%\n");
  ASSERT_EQ(s.options.size(), 1u);
  EXPECT_EQ(s.options[0].first, "tolerance_usecs");
  EXPECT_EQ(s.options[0].second, "10000");
  ASSERT_EQ(s.events.size(), 3u);
  EXPECT_TRUE(std::holds_alternative<ShellEvent>(s.events[0].body));
  EXPECT_EQ(std::get<CommandEvent>(s.events[1].body).tcpi_state, "TCP_ESTABLISHED");
  EXPECT_FALSE(std::get<CommandEvent>(s.events[2].body).tcpi_state.has_value());
}

TEST(PktParser, ErrorsNameLineAndColumn) {
  ParseFailure f = parse_fail("0 close(3) = 0\n+0 < Q 0:0(0) win 1\n");
  EXPECT_EQ(f.pos.line, 2);
  EXPECT_EQ(f.pos.column, 6);
  EXPECT_NE(f.message.find("unknown TCP flag"), std::string::npos);

  f = parse_fail("+0 > S. 0:5(0) ack 1\n");
  EXPECT_NE(f.message.find("disagree"), std::string::npos);

  f = parse_fail("+0 < S 0:0(0) win 1 <mss 1000,md5 1>\n");
  EXPECT_NE(f.message.find("unsupported TCP option 'md5'"), std::string::npos);

  f = parse_fail("+0 < . 1:1(0) win 1\n");
  EXPECT_NE(f.message.find("needs 'ack N'"), std::string::npos);

  f = parse_fail("close(3) = 0\n");
  EXPECT_EQ(f.pos.line, 1);
  EXPECT_EQ(f.pos.column, 1);

  f = parse_fail("+0 %{ assert tcpi_state == TCP_LISTEN\n");
  EXPECT_NE(f.message.find("unterminated"), std::string::npos);

  f = parse_fail("+0 close(3) = 0 extra\n");
  EXPECT_NE(f.message.find("unexpected text"), std::string::npos);
}

TEST(PktParser, NoteAfterAValue) {
  // packetdrill's `expression opt_errno opt_note`: a note may follow any value.
  Script s = parse_ok("0 fcntl(4, F_GETFL) = 0x2 (flags O_RDWR)\n+0 close(4) = -1 EBADF (Bad file)\n");
  ASSERT_EQ(s.events.size(), 2u);
  const auto& sc = std::get<SyscallEvent>(s.events[0].body);
  EXPECT_EQ(sc.expected_result, 2);
  EXPECT_FALSE(sc.expected_errno);
  EXPECT_EQ(std::get<SyscallEvent>(s.events[1].body).expected_errno, "EBADF");
  EXPECT_EQ(parse_fail("0 close(4) = 0 (unclosed\n").pos.line, 1);
}

TEST(PktParser, IfdefIfndefElseEndifNested) {
  const std::string text =
      "#ifdef Linux\n"
      "0 close(3) = 0\n"
      "#ifndef Quiet\n"
      "+0 close(4) = 0\n"
      "#else\n"
      "+0 close(5) = 0\n"
      "#endif\n"
      "#else\n"
      "0 close(6) = 0\n"
      "#endif\n"
      "+0 close(7) = 0\n";
  auto fds = [](const std::variant<Script, ParseFailure>& r) {
    std::vector<std::int64_t> v;
    for (const Event& e : std::get<Script>(r).events) v.push_back(std::get<SyscallEvent>(e.body).args[0].integer);
    return v;
  };
  EXPECT_EQ(fds(parse_script("t.pkt", text)), (std::vector<std::int64_t>{6, 7}));
  EXPECT_EQ(fds(parse_script("t.pkt", text, {"Linux"})), (std::vector<std::int64_t>{3, 4, 7}));
  EXPECT_EQ(fds(parse_script("t.pkt", text, {"Linux", "Quiet"})), (std::vector<std::int64_t>{3, 5, 7}));
  // Lines keep their numbers.
  EXPECT_EQ(std::get<Script>(parse_script("t.pkt", text)).events[0].pos.line, 9);
  EXPECT_EQ(parse_fail("#ifdef X\n0 close(3) = 0\n").message, "#ifdef without #endif");
  EXPECT_EQ(parse_fail("#endif\n").message, "#endif without #ifdef");
  EXPECT_EQ(parse_fail("#ifdef X\n#else\n#else\n#endif\n").pos.line, 3);
}

}  // namespace
}  // namespace riptide::pkt
