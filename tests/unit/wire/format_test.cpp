// tcpdump-style text: the golden segments must print as tcpdump -nn -S printed them
// (see golden_packets.hpp), minus tcpdump's -v "cksum" field.
#include "wire/format.hpp"

#include <gtest/gtest.h>

#include "golden_packets.hpp"

namespace riptide::wire {
namespace {

using namespace golden;
using namespace tcp_flags;

template <std::size_t N>
TcpView view_of(const std::array<std::uint8_t, N>& frame) {
  return *TcpView::parse(bytes_of(frame).subspan(kL4Offset));
}

TEST(WireFormat, GoldenSegmentsPrintLikeTcpdump) {
  EXPECT_EQ(format_tcp(kClientIp, kServerIp, view_of(kSynFrame)),
            "198.18.0.2.40000 > 198.18.0.1.80: Flags [S], seq 3183956869, win 64240, "
            "options [mss 1460,sackOK,TS val 3028929826 ecr 0,nop,wscale 10], length 0");
  EXPECT_EQ(format_tcp(kServerIp, kClientIp, view_of(kSynAckFrame)),
            "198.18.0.1.80 > 198.18.0.2.40000: Flags [S.], seq 3467251142, ack 3183956870, "
            "win 65160, options [mss 1460,sackOK,TS val 2728092198 ecr 3028929826,nop,wscale 10], "
            "length 0");
  EXPECT_EQ(format_tcp(kClientIp, kServerIp, view_of(kDataFrame)),
            "198.18.0.2.40000 > 198.18.0.1.80: Flags [P.], seq 3183956870:3183956934, "
            "ack 3467251143, win 63, options [nop,nop,TS val 3028929826 ecr 2728092198], length 64");
  EXPECT_EQ(format_tcp(kClientIp, kServerIp, view_of(kFinAckFrame)),
            "198.18.0.2.40000 > 198.18.0.1.80: Flags [F.], seq 3183956934, ack 3467251181, "
            "win 63, options [nop,nop,TS val 3028929926 ecr 2728092198], length 0");
}

TEST(WireFormat, SpecExample) {
  TcpHeader h{.src_port = 40000, .dst_port = 80, .seq = SeqNum{100}, .ack = SeqNum{5},
              .flags = kSyn | kAck, .window = 65535};
  h.options.mss = 1460;
  EXPECT_EQ(format_tcp(kClientIp, kServerIp, h, 100),
            "198.18.0.2.40000 > 198.18.0.1.80: Flags [S.], seq 100:200, ack 5, win 65535, "
            "options [mss 1460], length 100");
}

TEST(WireFormat, NoOptionsNoAckSeqWraps) {
  const TcpHeader h{.src_port = 1, .dst_port = 2, .seq = SeqNum{0xfffffffeu}, .ack = SeqNum{9},
                    .flags = kRst, .window = 0};
  EXPECT_EQ(format_tcp(kClientIp, kServerIp, h, 0),
            "198.18.0.2.1 > 198.18.0.1.2: Flags [R], seq 4294967294, win 0, length 0");
  EXPECT_EQ(format_tcp(kClientIp, kServerIp, h, 4),
            "198.18.0.2.1 > 198.18.0.1.2: Flags [R], seq 4294967294:2, win 0, length 4");
}

TEST(WireFormat, FlagLettersInTcpdumpOrder) {
  EXPECT_EQ(format_tcp_flags(0), "none");
  EXPECT_EQ(format_tcp_flags(kSyn), "S");
  EXPECT_EQ(format_tcp_flags(kSyn | kAck), "S.");
  EXPECT_EQ(format_tcp_flags(kFin | kPsh | kAck), "FP.");
  EXPECT_EQ(format_tcp_flags(kRst | kAck), "R.");
  EXPECT_EQ(format_tcp_flags(0xff), "FSRP.UEW");
  EXPECT_EQ(format_tcp_flags(kSyn | kEce | kCwr), "SEW");
}

TEST(WireFormat, UrgentPointerShownWithUrg) {
  const TcpHeader h{.src_port = 1, .dst_port = 2, .seq = SeqNum{1}, .ack = SeqNum{2},
                    .flags = kAck | kUrg, .window = 10, .urgent_pointer = 3};
  EXPECT_EQ(format_tcp(kClientIp, kServerIp, h, 0),
            "198.18.0.2.1 > 198.18.0.1.2: Flags [.U], seq 1, ack 2, win 10, urg 3, length 0");
}

TEST(WireFormat, OptionsIncludeWrittenPadding) {
  TcpOptions o;
  EXPECT_EQ(format_tcp_options(o), "");
  o.sack_permitted = true;
  EXPECT_EQ(format_tcp_options(o), "nop,nop,sackOK");
  o.mss = 1460;
  o.window_scale = 7;
  EXPECT_EQ(format_tcp_options(o), "mss 1460,nop,nop,sackOK,nop,wscale 7");
  o = TcpOptions{};
  o.timestamps = TcpTimestamps{5, 6};
  o.sack_count = 2;
  o.sack_blocks[0] = {SeqNum{100}, SeqNum{200}};
  o.sack_blocks[1] = {SeqNum{300}, SeqNum{400}};
  o.unknown_count = 1;  // not written, not shown
  EXPECT_EQ(format_tcp_options(o), "nop,nop,TS val 5 ecr 6,nop,nop,sack 2 {100:200}{300:400}");
}

TEST(WireFormat, HeaderOfCopiesEveryField) {
  const auto v = view_of(kSynAckFrame);
  const TcpHeader h = header_of(v);
  EXPECT_EQ(h.src_port, 80);
  EXPECT_EQ(h.dst_port, 40000);
  EXPECT_EQ(h.seq, v.seq());
  EXPECT_EQ(h.ack, v.ack());
  EXPECT_EQ(h.flags, kSyn | kAck);
  EXPECT_EQ(h.window, 65160);
  EXPECT_EQ(h.urgent_pointer, 0);
  EXPECT_EQ(h.options, v.options());
}

}  // namespace
}  // namespace riptide::wire
