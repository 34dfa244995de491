// TCP segments and options: decode golden Linux segments, re-encode them byte for
// byte over a 0xAA pattern (Linux's option layout), round trips over every option
// combination, every truncation, and every impossible length we know of.
#include "wire/tcp.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "golden_packets.hpp"
#include "wire/format.hpp"

namespace riptide::wire {
namespace {

using namespace golden;
using namespace tcp_flags;

std::vector<std::byte> pattern(std::size_t n) { return std::vector<std::byte>(n, std::byte{0xAA}); }

template <std::size_t N>
std::span<const std::byte> segment_of(const std::array<std::uint8_t, N>& frame) {
  return bytes_of(frame).subspan(kL4Offset);
}

// A 20-byte header (ports 1 -> 2, ACK) followed by `options` (which must be a
// multiple of 4 long) and `payload`.
std::vector<std::byte> make_segment(std::vector<std::uint8_t> options,
                                    std::vector<std::uint8_t> payload = {}) {
  std::vector<std::uint8_t> s = {0, 1, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, kAck, 0xff, 0xff, 0, 0, 0, 0};
  s[12] = static_cast<std::uint8_t>(((20 + options.size()) / 4) << 4);
  s.insert(s.end(), options.begin(), options.end());
  s.insert(s.end(), payload.begin(), payload.end());
  const auto b = std::as_bytes(std::span(s));
  return std::vector<std::byte>(b.begin(), b.end());
}

Result<TcpOptions, ParseError> parse_options(std::vector<std::uint8_t> options) {
  while (options.size() % 4 != 0) options.push_back(tcp_option::kNop);
  const auto seg = make_segment(options);
  auto v = TcpView::parse(seg);
  if (!v) return Unexpected{v.error()};
  return v->options();
}

TcpOptions linux_syn_options(std::uint32_t tsval, std::uint32_t tsecr) {
  TcpOptions o;
  o.mss = 1460;
  o.sack_permitted = true;
  o.timestamps = TcpTimestamps{tsval, tsecr};
  o.window_scale = 10;
  return o;
}

// Writes h and payload into an exactly sized buffer pre-filled with 0xAA, finishes
// the checksum, and returns the bytes.
std::vector<std::byte> encode(const TcpHeader& h, std::span<const std::byte> payload,
                              Ipv4Addr src, Ipv4Addr dst) {
  auto buf = pattern(kTcpMinHeaderLen + tcp_options_length(h.options) + payload.size());
  const std::size_t hl = write_tcp_header(buf, h);
  EXPECT_EQ(hl, kTcpMinHeaderLen + tcp_options_length(h.options));
  if (!payload.empty()) std::memcpy(buf.data() + hl, payload.data(), payload.size());
  finish_tcp_checksum(buf, src, dst);
  return buf;
}

void expect_bytes_eq(std::span<const std::byte> got, std::span<const std::byte> want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(static_cast<int>(got[i]), static_cast<int>(want[i])) << "byte " << i;
  }
}

// ---- decode golden segments -------------------------------------------------

TEST(WireTcp, DecodesGoldenSyn) {
  auto t = TcpView::parse(segment_of(kSynFrame));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->src_port(), 40000);
  EXPECT_EQ(t->dst_port(), 80);
  EXPECT_EQ(t->seq(), SeqNum{3183956869u});
  EXPECT_EQ(t->ack(), SeqNum{0});
  EXPECT_EQ(t->header_length(), 40u);
  EXPECT_EQ(t->flags(), kSyn);
  EXPECT_TRUE(t->has(kSyn));
  EXPECT_FALSE(t->has(kAck));
  EXPECT_EQ(t->window(), 64240);
  EXPECT_EQ(t->checksum(), 0x915a);
  EXPECT_EQ(t->urgent_pointer(), 0);
  EXPECT_EQ(t->options(), linux_syn_options(3028929826u, 0));
  EXPECT_EQ(t->option_bytes().size(), 20u);
  EXPECT_TRUE(t->payload().empty());
  EXPECT_EQ(t->bytes().size(), 40u);
  EXPECT_TRUE(t->checksum_valid(kClientIp, kServerIp));
  EXPECT_FALSE(t->checksum_valid(kClientIp, Ipv4Addr::from_octets(198, 18, 0, 3)));
}

TEST(WireTcp, DecodesGoldenSynAck) {
  auto t = TcpView::parse(segment_of(kSynAckFrame));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->src_port(), 80);
  EXPECT_EQ(t->dst_port(), 40000);
  EXPECT_EQ(t->seq(), SeqNum{3467251142u});
  EXPECT_EQ(t->ack(), SeqNum{3183956870u});
  EXPECT_EQ(t->flags(), kSyn | kAck);
  EXPECT_EQ(t->window(), 65160);
  EXPECT_EQ(t->checksum(), 0xac7e);
  EXPECT_EQ(t->options(), linux_syn_options(2728092198u, 3028929826u));
  EXPECT_TRUE(t->checksum_valid(kServerIp, kClientIp));
}

TEST(WireTcp, DecodesGoldenDataSegment) {
  auto t = TcpView::parse(segment_of(kDataFrame));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->seq(), SeqNum{3183956870u});
  EXPECT_EQ(t->ack(), SeqNum{3467251143u});
  EXPECT_EQ(t->header_length(), 32u);
  EXPECT_EQ(t->flags(), kPsh | kAck);
  EXPECT_TRUE(t->has(kPsh | kFin));  // any of
  EXPECT_EQ(t->window(), 63);
  EXPECT_EQ(t->checksum(), 0xee9b);
  TcpOptions want;
  want.timestamps = TcpTimestamps{3028929826u, 2728092198u};
  EXPECT_EQ(t->options(), want);
  ASSERT_EQ(t->payload().size(), 64u);
  EXPECT_EQ(std::memcmp(t->payload().data(), "GET / HTTP/1.1\r\n", 16), 0);
  EXPECT_TRUE(t->checksum_valid(kClientIp, kServerIp));
}

TEST(WireTcp, DecodesSackSegment) {
  auto t = TcpView::parse(bytes_of(kSackSegment));
  ASSERT_TRUE(t);
  const SeqNum base{3183956934u};
  EXPECT_EQ(t->options().sack_count, 2);
  EXPECT_EQ(t->options().sack_blocks[0], (SackBlock{base + 100, base + 200}));
  EXPECT_EQ(t->options().sack_blocks[1], (SackBlock{base + 300, base + 400}));
  EXPECT_EQ(t->options().sack_blocks[2], SackBlock{});
  ASSERT_TRUE(t->options().timestamps);
  EXPECT_EQ(t->options().timestamps->tsval, 2728092198u);
  EXPECT_TRUE(t->checksum_valid(kServerIp, kClientIp));
}

TEST(WireTcp, CorruptedPayloadFailsChecksum) {
  auto seg = heap_copy(segment_of(kDataFrame));
  seg[40] ^= std::byte{0x01};
  auto t = TcpView::parse(seg);
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->checksum_valid(kClientIp, kServerIp));
}

// ---- encode golden segments -------------------------------------------------

TEST(WireTcp, EncodesGoldenSynByteForByte) {
  const TcpHeader h{.src_port = 40000, .dst_port = 80, .seq = SeqNum{3183956869u},
                    .ack = SeqNum{0}, .flags = kSyn, .window = 64240, .urgent_pointer = 0,
                    .options = linux_syn_options(3028929826u, 0)};
  expect_bytes_eq(encode(h, {}, kClientIp, kServerIp), segment_of(kSynFrame));
}

TEST(WireTcp, EncodesGoldenSynAckByteForByte) {
  const TcpHeader h{.src_port = 80, .dst_port = 40000, .seq = SeqNum{3467251142u},
                    .ack = SeqNum{3183956870u}, .flags = kSyn | kAck, .window = 65160,
                    .urgent_pointer = 0, .options = linux_syn_options(2728092198u, 3028929826u)};
  expect_bytes_eq(encode(h, {}, kServerIp, kClientIp), segment_of(kSynAckFrame));
}

TEST(WireTcp, EncodesGoldenDataAndFinByteForByte) {
  TcpHeader h{.src_port = 40000, .dst_port = 80, .seq = SeqNum{3183956870u},
              .ack = SeqNum{3467251143u}, .flags = kPsh | kAck, .window = 63};
  h.options.timestamps = TcpTimestamps{3028929826u, 2728092198u};
  const auto data = segment_of(kDataFrame).subspan(32);
  expect_bytes_eq(encode(h, data, kClientIp, kServerIp), segment_of(kDataFrame));

  h.seq = SeqNum{3183956934u};
  h.ack = SeqNum{3467251181u};
  h.flags = kFin | kAck;
  h.options.timestamps = TcpTimestamps{3028929926u, 2728092198u};
  expect_bytes_eq(encode(h, {}, kClientIp, kServerIp), segment_of(kFinAckFrame));
}

TEST(WireTcp, EncodesSackSegmentByteForByte) {
  const SeqNum base{3183956934u};
  TcpHeader h{.src_port = 80, .dst_port = 40000, .seq = SeqNum{3467251181u}, .ack = base,
              .flags = kAck, .window = 64};
  h.options.timestamps = TcpTimestamps{2728092198u, 3028929926u};
  h.options.sack_count = 2;
  h.options.sack_blocks[0] = {base + 100, base + 200};
  h.options.sack_blocks[1] = {base + 300, base + 400};
  expect_bytes_eq(encode(h, {}, kServerIp, kClientIp), bytes_of(kSackSegment));
}

TEST(WireTcp, WriteLeavesBytesPastTheHeaderAlone) {
  const TcpHeader h{.src_port = 1, .dst_port = 2, .flags = kSyn,
                    .options = linux_syn_options(1, 0)};
  auto buf = pattern(50);
  ASSERT_EQ(write_tcp_header(buf, h), 40u);
  for (std::size_t i = 40; i < buf.size(); ++i) EXPECT_EQ(buf[i], std::byte{0xAA}) << i;
  EXPECT_EQ(static_cast<int>(buf[16]), 0);  // checksum left 0
  EXPECT_EQ(static_cast<int>(buf[17]), 0);
}

TEST(WireTcp, WriteIntoTooSmallBufferWritesNothing) {
  const TcpHeader h{.flags = kSyn, .options = linux_syn_options(1, 0)};
  auto buf = pattern(39);
  EXPECT_EQ(write_tcp_header(buf, h), 0u);
  for (auto b : buf) EXPECT_EQ(b, std::byte{0xAA});
  auto tiny = pattern(19);
  EXPECT_EQ(write_tcp_header(tiny, TcpHeader{}), 0u);
  for (auto b : tiny) EXPECT_EQ(b, std::byte{0xAA});
}

TEST(WireTcp, FinishChecksumOddPayload) {
  TcpHeader h{.src_port = 5, .dst_port = 6, .seq = SeqNum{7}, .flags = kAck | kPsh};
  const std::array<std::uint8_t, 5> data = {'h', 'e', 'l', 'l', 'o'};
  const auto seg = encode(h, bytes_of(data), kClientIp, kServerIp);
  auto t = TcpView::parse(seg);
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->checksum_valid(kClientIp, kServerIp));
  EXPECT_EQ(t->payload().size(), 5u);
}

// ---- Linux option layout ----------------------------------------------------

std::vector<std::uint8_t> written_options(const TcpOptions& o) {
  std::vector<std::byte> buf(kTcpMaxHeaderLen);
  const std::size_t n = write_tcp_header(buf, TcpHeader{.options = o});
  std::vector<std::uint8_t> out;
  for (std::size_t i = 20; i < n; ++i) out.push_back(static_cast<std::uint8_t>(buf[i]));
  return out;
}

TEST(WireTcpOptions, LinuxLayoutWithoutTimestamps) {
  // Linux SYN with net.ipv4.tcp_timestamps=0: "mss 1460,nop,nop,sackOK,nop,wscale 7".
  TcpOptions o;
  o.mss = 1460;
  o.sack_permitted = true;
  o.window_scale = 7;
  EXPECT_EQ(written_options(o), (std::vector<std::uint8_t>{2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7}));
}

TEST(WireTcpOptions, LinuxLayoutPieces) {
  TcpOptions ts;
  ts.timestamps = TcpTimestamps{0x01020304, 0x05060708};
  EXPECT_EQ(written_options(ts),
            (std::vector<std::uint8_t>{1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8}));
  TcpOptions ws;
  ws.window_scale = 14;
  EXPECT_EQ(written_options(ws), (std::vector<std::uint8_t>{1, 3, 3, 14}));
  TcpOptions mss;
  mss.mss = 536;
  EXPECT_EQ(written_options(mss), (std::vector<std::uint8_t>{2, 4, 0x02, 0x18}));
  TcpOptions sack;
  sack.sack_count = 1;
  sack.sack_blocks[0] = {SeqNum{0x0a0b0c0d}, SeqNum{0x11121314}};
  EXPECT_EQ(written_options(sack),
            (std::vector<std::uint8_t>{1, 1, 5, 10, 0x0a, 0x0b, 0x0c, 0x0d, 0x11, 0x12, 0x13, 0x14}));
  EXPECT_TRUE(written_options(TcpOptions{}).empty());
  TcpOptions unknown;
  unknown.unknown_count = 3;  // never written
  EXPECT_TRUE(written_options(unknown).empty());
  EXPECT_EQ(tcp_options_length(unknown), 0u);
}

TEST(WireTcpOptions, SackBlocksTrimmedToFortyBytesLikeLinux) {
  TcpOptions o;
  o.sack_count = 4;
  for (std::uint32_t i = 0; i < 4; ++i) o.sack_blocks[i] = {SeqNum{i * 10}, SeqNum{i * 10 + 5}};
  EXPECT_EQ(tcp_sack_blocks_written(o), 4u);
  EXPECT_EQ(tcp_options_length(o), 36u);
  o.timestamps = TcpTimestamps{1, 2};  // with timestamps Linux fits 3 blocks
  EXPECT_EQ(tcp_sack_blocks_written(o), 3u);
  EXPECT_EQ(tcp_options_length(o), 40u);
  o.mss = 1460;
  o.window_scale = 7;
  o.sack_permitted = true;  // 4 + 12 + 4 = 20 bytes used: 2 blocks fit
  EXPECT_EQ(tcp_sack_blocks_written(o), 2u);
  EXPECT_EQ(tcp_options_length(o), 40u);
  auto written = written_options(o);
  ASSERT_EQ(written.size(), 40u);
  EXPECT_EQ(written[23], 2 + 2 * 8);  // SACK length byte
  o.sack_count = 200;  // nonsense count: clamped, never reads past the array
  EXPECT_EQ(tcp_sack_blocks_written(o), 2u);
}

TEST(WireTcpOptions, RoundTripEveryCombination) {
  for (int mss = 0; mss < 2; ++mss)
    for (int ws = 0; ws < 3; ++ws)
      for (int sackok = 0; sackok < 2; ++sackok)
        for (int ts = 0; ts < 2; ++ts)
          for (std::uint8_t nsack = 0; nsack <= 4; ++nsack) {
            TcpHeader h{.src_port = 443, .dst_port = 51000, .seq = SeqNum{0xfffffff0u},
                        .ack = SeqNum{17}, .flags = static_cast<std::uint8_t>(kAck | (ts ? kSyn : 0)),
                        .window = 1234, .urgent_pointer = 9};
            if (mss) h.options.mss = 8960;
            if (ws == 1) h.options.window_scale = 0;
            if (ws == 2) h.options.window_scale = 14;
            h.options.sack_permitted = sackok != 0;
            if (ts) h.options.timestamps = TcpTimestamps{0xdeadbeef, 0};
            h.options.sack_count = nsack;
            for (std::uint32_t i = 0; i < nsack; ++i) {
              h.options.sack_blocks[i] = {SeqNum{100 * i}, SeqNum{100 * i + 50}};
            }
            std::vector<std::byte> buf(kTcpMaxHeaderLen + 3, std::byte{0xAA});
            const std::size_t hl = write_tcp_header(buf, h);
            ASSERT_EQ(hl, 20 + tcp_options_length(h.options));
            ASSERT_LE(hl, kTcpMaxHeaderLen);
            ASSERT_EQ(hl % 4, 0u);
            buf.resize(hl);
            auto t = TcpView::parse(buf);
            ASSERT_TRUE(t) << to_string(t.error());
            // What comes back is what was written: SACK blocks beyond the room left.
            TcpHeader want = h;
            want.options.sack_count = static_cast<std::uint8_t>(tcp_sack_blocks_written(h.options));
            for (std::size_t i = want.options.sack_count; i < kTcpMaxSackBlocks; ++i) {
              want.options.sack_blocks[i] = {};
            }
            EXPECT_EQ(header_of(*t), want) << format_tcp_options(h.options);
            EXPECT_EQ(format_tcp_options(t->options()), format_tcp_options(want.options));
          }
}

// ---- option parsing rules ---------------------------------------------------

TEST(WireTcpOptions, UnknownOptionSkippedByLength) {
  // Kind 30 (MPTCP) with 4 bytes of value, then MSS.
  auto o = parse_options({30, 6, 1, 2, 3, 4, 2, 4, 0x05, 0xb4});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->unknown_count, 1);
  EXPECT_EQ(o->mss, 1460);
  // Kind 34 (TFO cookie request, length 2) and kind 254 (experimental, length 4).
  o = parse_options({34, 2, 254, 4, 0xf9, 0x89});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->unknown_count, 2);
  EXPECT_EQ(*o, (TcpOptions{.unknown_count = 2}));
}

TEST(WireTcpOptions, EndOfListStopsParsing) {
  // Anything after EOL is padding, even if it would not parse.
  auto o = parse_options({2, 4, 0x05, 0xb4, 0, 2, 0, 0});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->mss, 1460);
  EXPECT_EQ(o->unknown_count, 0);
  EXPECT_EQ(*parse_options({0, 0, 0, 0}), TcpOptions{});
  EXPECT_EQ(*parse_options({1, 1, 1, 1}), TcpOptions{});
}

TEST(WireTcpOptions, DuplicatesLastOneWins) {
  auto o = parse_options({2, 4, 0x05, 0xb4, 2, 4, 0x02, 0x18});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->mss, 536);
  // A second SACK replaces the first one's blocks.
  o = parse_options({5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
                     5, 10, 0, 0, 0, 9, 0, 0, 0, 10});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->sack_count, 1);
  EXPECT_EQ(o->sack_blocks[0], (SackBlock{SeqNum{9}, SeqNum{10}}));
  EXPECT_EQ(o->sack_blocks[1], SackBlock{});
}

TEST(WireTcpOptions, FourSackBlocksIsTheMost) {
  std::vector<std::uint8_t> four = {1, 1, 5, 34};
  for (int i = 0; i < 32; ++i) four.push_back(static_cast<std::uint8_t>(i));
  auto o = parse_options(four);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->sack_count, 4);
  EXPECT_EQ(o->sack_blocks[3].right, SeqNum{0x1c1d1e1f});
}

// ---- the common layouts' shortcuts agree with the general walk ---------------

// Both results equal: the same options, or the same error.
void expect_same(const Result<TcpOptions, ParseError>& got, const Result<TcpOptions, ParseError>& want,
                 const std::string& what) {
  ASSERT_EQ(got.has_value(), want.has_value()) << what;
  if (want) {
    EXPECT_EQ(*got, *want) << what << ": " << format_tcp_options(*got) << " vs " << format_tcp_options(*want);
  } else {
    EXPECT_EQ(got.error(), want.error()) << what;
  }
}

// parse_tcp_options() and the receive path's parse (TcpView::parse and
// parse_tcp_header_into, for areas a header can carry) against the walk alone.
void expect_agrees(const std::vector<std::uint8_t>& area, const std::string& what) {
  const auto bytes = std::as_bytes(std::span(area));
  const auto want = parse_tcp_options_general(bytes);
  expect_same(parse_tcp_options(bytes), want, what + " (parse_tcp_options)");
  if (area.size() % 4 != 0 || area.size() > kTcpMaxOptionsLen) return;
  const auto seg = make_segment(area, {0x55});
  auto t = TcpView::parse(seg);
  expect_same(t ? Result<TcpOptions, ParseError>{t->options()} : Result<TcpOptions, ParseError>{Unexpected{t.error()}},
              want, what + " (TcpView::parse)");
  if (t) {
    EXPECT_EQ(t->payload().size(), 1u) << what;
  }
}

TEST(WireTcpOptions, ShortcutsAgreeWithTheGeneralWalk) {
  // Made by hand from write_tcp_header()'s layouts (Linux's), then bent.
  const std::vector<std::uint8_t> syn = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0xb4, 0x89, 0x6d, 0x22,
                                         0, 0, 0, 0, 1, 3, 3, 10};
  const std::vector<std::uint8_t> syn_no_sack = {2, 4, 0x05, 0xb4, 1, 1, 8, 10, 0, 0, 0, 9,
                                                 0, 0, 0, 1, 1, 3, 3, 14};
  const std::vector<std::uint8_t> ts = {1, 1, 8, 10, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1};
  const struct {
    const char* what;
    std::vector<std::uint8_t> area;
  } cases[] = {
      {"Linux SYN", syn},
      {"Linux SYN without SACK", syn_no_sack},
      {"timestamps alone", ts},
      {"SYN without timestamps (12 bytes)", {2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7}},
      {"TS first, then NOP NOP", {8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1}},
      {"TS after SACK-permitted", {4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}},
      {"NOP NOP TS then SACK", {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 10, 0, 0, 0, 5, 0, 0, 0, 6}},
      {"NOP NOP TS with TS length 12", {1, 1, 8, 12, 0, 0, 0, 1, 0, 0, 0, 2}},
      {"NOP NOP TS with TS length 9", {1, 1, 8, 9, 0, 0, 0, 1, 0, 0, 0, 2}},
      {"NOP NOP TS cut to 11 bytes", {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0}},
      {"NOP NOP TS padded to 16 bytes", {1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0}},
      {"EOL NOP TS", {0, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}},
      {"SYN with MSS length 5", {2, 5, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7}},
      {"SYN with WS length 4", {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 4, 7}},
      {"SYN with EOL before WS", {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 0, 3, 3, 7}},
      {"SYN with SACK-permitted length 3", {2, 4, 0x05, 0xb4, 4, 3, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7}},
      {"SYN with an unknown option for SACK-permitted", {2, 4, 0x05, 0xb4, 30, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7}},
      {"SYN with WS first, MSS last", {1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 2, 4, 0x05, 0xb4}},
      {"SYN padded to 24 bytes", {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7, 0, 0, 0, 0}},
      {"SYN, TS past the end", {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3}},
  };
  for (const auto& c : cases) {
    expect_agrees(c.area, c.what);
    // Every truncation of the area (the walk's overruns), and every area the
    // shortcut layouts become with one byte changed.
    for (std::size_t n = 0; n < c.area.size(); ++n) {
      expect_agrees(std::vector<std::uint8_t>(c.area.begin(), c.area.begin() + static_cast<std::ptrdiff_t>(n)),
                    std::string(c.what) + " cut to " + std::to_string(n));
    }
  }
  // Option kinds and lengths near the ones the shortcuts look for.
  constexpr std::uint8_t kByteValues[] = {0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 0x80, 0xff};
  for (const auto& base : {syn, syn_no_sack, ts}) {
    for (std::size_t i = 0; i < base.size(); ++i) {
      for (const std::uint8_t v : kByteValues) {
        auto area = base;
        area[i] = v;
        expect_agrees(area, "byte " + std::to_string(i) + " = " + std::to_string(v) + " in a " +
                                std::to_string(base.size()) + "-byte layout");
      }
    }
  }
  // The decoded values themselves, not only agreement.
  auto o = parse_tcp_options(std::as_bytes(std::span(syn)));
  ASSERT_TRUE(o);
  EXPECT_EQ(*o, linux_syn_options(0xb4896d22u, 0)) << format_tcp_options(*o);
  o = parse_tcp_options(std::as_bytes(std::span(syn_no_sack)));
  ASSERT_TRUE(o);
  EXPECT_EQ(*o, (TcpOptions{.mss = 1460, .window_scale = 14, .timestamps = TcpTimestamps{9, 1}}));
  o = parse_tcp_options(std::as_bytes(std::span(ts)));
  ASSERT_TRUE(o);
  EXPECT_EQ(*o, (TcpOptions{.timestamps = TcpTimestamps{0xdeadbeef, 1}}));
}

struct BadOptionCase {
  const char* what;
  std::vector<std::uint8_t> options;
  ParseError want;
};

TEST(WireTcpOptions, RejectsImpossibleLengths) {
  const BadOptionCase cases[] = {
      {"MSS length 0", {2, 0, 0, 0}, ParseError::ZeroLengthOption},
      {"MSS length 1", {2, 1, 0, 0}, ParseError::ZeroLengthOption},
      {"unknown length 0", {99, 0, 1, 1}, ParseError::ZeroLengthOption},
      {"unknown length 1", {1, 1, 99, 1}, ParseError::ZeroLengthOption},
      {"MSS length 3", {2, 3, 5, 1}, ParseError::BadOptionLength},
      {"MSS length 6", {2, 6, 5, 0xb4, 0, 0, 1, 1}, ParseError::BadOptionLength},
      {"WS length 4", {3, 4, 7, 0}, ParseError::BadOptionLength},
      {"WS length 2", {3, 2, 1, 1}, ParseError::BadOptionLength},
      {"SACK-permitted length 3", {4, 3, 0, 1}, ParseError::BadOptionLength},
      {"TS length 9", {8, 9, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1}, ParseError::BadOptionLength},
      {"TS length 12", {8, 12, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0}, ParseError::BadOptionLength},
      {"SACK length 2 (no block)", {5, 2, 1, 1}, ParseError::BadOptionLength},
      {"SACK length 11", {5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1}, ParseError::BadOptionLength},
      {"SACK length 9", {5, 9, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1}, ParseError::BadOptionLength},
      {"length byte missing", {1, 1, 1, 2}, ParseError::OptionOverrun},
      {"length past header", {2, 8, 5, 0xb4}, ParseError::OptionOverrun},
      {"unknown past header", {1, 1, 30, 7, 0, 0, 0, 0}, ParseError::OptionOverrun},
      {"TS past header", {1, 1, 8, 10, 0, 0, 0, 1}, ParseError::OptionOverrun},
      {"SACK 5 blocks", {5, 42, 0, 0}, ParseError::OptionOverrun},
  };
  for (const auto& c : cases) {
    auto o = parse_options(c.options);
    ASSERT_FALSE(o) << c.what;
    EXPECT_EQ(o.error(), c.want) << c.what << ": got " << to_string(o.error());
  }
}

TEST(WireTcp, RejectsImpossibleDataOffset) {
  auto seg = heap_copy(segment_of(kSynFrame));
  for (std::uint8_t off = 0; off < 5; ++off) {
    seg[12] = static_cast<std::byte>(off << 4);
    auto t = TcpView::parse(seg);
    ASSERT_FALSE(t) << int{off};
    EXPECT_EQ(t.error(), ParseError::BadDataOffset);
  }
  seg[12] = std::byte{0xb0};  // 44 bytes > 40
  EXPECT_EQ(TcpView::parse(seg).error(), ParseError::BadDataOffset);
  seg[12] = std::byte{0xf0};  // 60 bytes
  EXPECT_EQ(TcpView::parse(seg).error(), ParseError::BadDataOffset);
  seg[12] = std::byte{0xaf};  // reserved bits set: ignored
  EXPECT_TRUE(TcpView::parse(seg));
}

TEST(WireTcp, ShortenedOptionAreaOfGoldenSyn) {
  // Data offsets 5..10 over the SYN's bytes cut the option list at each word
  // (mss | sackOK, TS kind+len | TS val | TS ecr | nop,wscale).
  auto seg = heap_copy(segment_of(kSynFrame));
  for (std::size_t off = 5; off <= 10; ++off) {
    seg[12] = static_cast<std::byte>(off << 4);
    auto t = TcpView::parse(seg);
    switch (off) {
      case 5:
        ASSERT_TRUE(t);
        EXPECT_EQ(t->options(), TcpOptions{});
        EXPECT_EQ(t->payload().size(), 20u);
        break;
      case 6:
        ASSERT_TRUE(t);
        EXPECT_EQ(t->options(), (TcpOptions{.mss = 1460}));
        break;
      case 7: case 8:  // TS cut short
        ASSERT_FALSE(t) << off;
        EXPECT_EQ(t.error(), ParseError::OptionOverrun);
        break;
      case 9: {  // all but nop,wscale
        ASSERT_TRUE(t);
        auto want = linux_syn_options(3028929826u, 0);
        want.window_scale.reset();
        EXPECT_EQ(t->options(), want);
        break;
      }
      default:
        ASSERT_TRUE(t);
        EXPECT_EQ(t->options(), linux_syn_options(3028929826u, 0));
    }
  }
}

TEST(WireTcp, EveryTruncationOfEveryGoldenSegment) {
  for (auto seg : {segment_of(kSynFrame), segment_of(kSynAckFrame), segment_of(kAckFrame),
                   segment_of(kDataFrame), segment_of(kFinAckFrame), bytes_of(kSackSegment)}) {
    auto full = TcpView::parse(seg);
    ASSERT_TRUE(full);
    for (std::size_t n = 0; n <= seg.size(); ++n) {
      const auto copy = heap_copy(seg.first(n));
      auto t = TcpView::parse(copy);
      if (n < kTcpMinHeaderLen) {
        ASSERT_FALSE(t) << n;
        EXPECT_EQ(t.error(), ParseError::Truncated);
      } else if (n < full->header_length()) {
        ASSERT_FALSE(t) << n;
        EXPECT_EQ(t.error(), ParseError::BadDataOffset);
      } else {
        ASSERT_TRUE(t) << n;
        EXPECT_EQ(header_of(*t), header_of(*full));
        EXPECT_EQ(t->payload().size(), n - full->header_length());
        EXPECT_EQ(t->checksum_valid(kClientIp, kServerIp), n == seg.size());  // pseudo header sum is symmetric
      }
    }
  }
}

TEST(WireParseError, NamesAreSnakeCase) {
  EXPECT_STREQ(to_string(ParseError::Truncated), "truncated");
  EXPECT_STREQ(to_string(ParseError::BadVersion), "bad_version");
  EXPECT_STREQ(to_string(ParseError::BadHeaderLength), "bad_header_length");
  EXPECT_STREQ(to_string(ParseError::BadTotalLength), "bad_total_length");
  EXPECT_STREQ(to_string(ParseError::BadDataOffset), "bad_data_offset");
  EXPECT_STREQ(to_string(ParseError::OptionOverrun), "option_overrun");
  EXPECT_STREQ(to_string(ParseError::ZeroLengthOption), "zero_length_option");
  EXPECT_STREQ(to_string(ParseError::BadOptionLength), "bad_option_length");
  EXPECT_STREQ(to_string(ParseError::BadHardwareType), "bad_hardware_type");
  EXPECT_STREQ(to_string(ParseError::BadProtocolType), "bad_protocol_type");
  EXPECT_STREQ(to_string(ParseError::BadAddressLength), "bad_address_length");
  EXPECT_STREQ(to_string(ParseError::Unsupported), "unsupported");
  for (std::uint8_t i = 0; i < kParseErrorCount; ++i) {
    EXPECT_STRNE(to_string(static_cast<ParseError>(i)), "unknown") << int{i};
  }
}

}  // namespace
}  // namespace riptide::wire
