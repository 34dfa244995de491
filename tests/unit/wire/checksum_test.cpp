// RFC 1071 checksum: the RFC's worked example, odd lengths, every alignment against
// a byte-at-a-time reference, and real packets folding to zero.
#include "wire/checksum.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "common/byte_order.hpp"

#include "golden_packets.hpp"

namespace riptide::wire {
namespace {

using golden::bytes_of;

// Reference: RFC 1071 section 4.1's loop, one big-endian 16-bit word at a time.
std::uint16_t reference_checksum(std::span<const std::byte> d) {
  std::uint64_t sum = 0;
  std::size_t i = 0;
  for (; i + 1 < d.size(); i += 2) {
    sum += (static_cast<unsigned>(d[i]) << 8) | static_cast<unsigned>(d[i + 1]);
  }
  if (i < d.size()) sum += static_cast<unsigned>(d[i]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

TEST(WireChecksum, Rfc1071Example) {
  // RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (one's complement).
  const std::array<std::uint8_t, 8> data = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(checksum_fold(checksum_add(bytes_of(data))), static_cast<std::uint16_t>(~0xddf2));
  EXPECT_EQ(internet_checksum(bytes_of(data)), 0x220d);
}

TEST(WireChecksum, OddLengthPadsOnTheRight) {
  const std::array<std::uint8_t, 3> data = {0x12, 0x34, 0x56};
  // 0x1234 + 0x5600 = 0x6834 -> ~ = 0x97cb
  EXPECT_EQ(internet_checksum(bytes_of(data)), 0x97cb);
  const std::array<std::uint8_t, 1> one = {0xab};
  EXPECT_EQ(internet_checksum(bytes_of(one)), static_cast<std::uint16_t>(~0xab00));
}

TEST(WireChecksum, EmptyIsAllOnes) {
  EXPECT_EQ(internet_checksum({}), 0xffff);
  EXPECT_EQ(checksum_add({}, 0x1234), 0x1234u);
}

TEST(WireChecksum, MatchesReferenceAtEveryLengthAndAlignment) {
  std::vector<std::byte> buf(600);
  std::uint32_t x = 12345;
  for (auto& b : buf) {
    x = x * 1103515245 + 12345;
    b = static_cast<std::byte>(x >> 16);
  }
  for (std::size_t offset = 0; offset < 8; ++offset) {
    for (std::size_t len = 0; len + offset <= buf.size(); ++len) {
      const auto s = std::span<const std::byte>(buf).subspan(offset, len);
      ASSERT_EQ(internet_checksum(s), reference_checksum(s)) << "offset " << offset << " len " << len;
    }
  }
}

TEST(WireChecksum, MatchesReferenceOnRandomLengthsAlignmentsAndSums) {
  // Bytes drawn mostly from 0xff and 0x00 stress the carries; a random starting sum
  // (as the pseudo header gives) must fold in with end-around carry.
  std::vector<std::byte> buf(2048 + 8);
  std::uint64_t x = 0x9e3779b97f4a7c15u;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int round = 0; round < 2000; ++round) {
    const int bias = round % 3;  // 0: uniform bytes, 1: mostly 0xff, 2: mostly 0x00 and 0xff
    for (auto& b : buf) {
      const std::uint64_t r = next();
      b = static_cast<std::byte>(bias == 0 || (r >> 8) % 4 == 0 ? r : (bias == 1 || r & 1 ? 0xff : 0x00));
    }
    const std::size_t offset = next() % 8;
    const std::size_t len = next() % (buf.size() - offset + 1);
    const auto s = std::span<const std::byte>(buf).subspan(offset, len);
    ASSERT_EQ(internet_checksum(s), reference_checksum(s)) << "offset " << offset << " len " << len;
    // A starting sum below 2^20, as pseudo_header_sum() gives, prepended as one word.
    const auto start = static_cast<std::uint32_t>(next() % (1u << 20));
    std::vector<std::byte> with_start(2);
    std::uint32_t start16 = (start & 0xffff) + (start >> 16);
    start16 = (start16 & 0xffff) + (start16 >> 16);
    store_be16(with_start.data(), static_cast<std::uint16_t>(start16));
    with_start.insert(with_start.end(), s.begin(), s.end());
    ASSERT_EQ(checksum_fold(checksum_add(s, start)), reference_checksum(with_start))
        << "offset " << offset << " len " << len << " start " << start;
  }
}

TEST(WireChecksum, AllOnesDataCarriesCorrectly) {
  // Worst case for carries: every word 0xffff.
  std::vector<std::byte> buf(4099, std::byte{0xff});
  for (std::size_t len : {1u, 2u, 7u, 8u, 31u, 32u, 33u, 1500u, 4099u}) {
    const auto s = std::span<const std::byte>(buf).first(len);
    EXPECT_EQ(internet_checksum(s), reference_checksum(s)) << len;
  }
}

TEST(WireChecksum, ChainsOverEvenPieces) {
  const auto frame = bytes_of(golden::kDataFrame);
  const auto whole = checksum_add(frame);
  const auto chained = checksum_add(frame.subspan(20), checksum_add(frame.first(20)));
  EXPECT_EQ(checksum_fold(whole), checksum_fold(chained));
  // A large starting sum still folds correctly (end-around carry).
  EXPECT_EQ(checksum_fold(checksum_add(frame, 0xffffffffu)),
            checksum_fold(checksum_add(frame) + 0xffffu));
}

TEST(WireChecksum, PseudoHeaderSum) {
  // 198.18.0.2 -> 198.18.0.1, TCP, length 40: c612+0002+c612+0001+0006+0028.
  EXPECT_EQ(pseudo_header_sum(golden::kClientIp, golden::kServerIp, 6, 40),
            0xc612u + 0x0002u + 0xc612u + 0x0001u + 0x0006u + 0x0028u);
}

TEST(WireChecksum, RealPacketsFoldToZero) {
  using namespace golden;
  // IPv4 header of the SYN.
  EXPECT_EQ(internet_checksum(bytes_of(kSynFrame).subspan(kIpOffset, 20)), 0);
  // ICMP echo request: the whole message.
  EXPECT_EQ(internet_checksum(bytes_of(kIcmpEchoRequestFrame).subspan(kL4Offset)), 0);
  // TCP segments with their pseudo headers (addresses taken from the IPv4 header).
  for (auto frame : {bytes_of(kSynFrame), bytes_of(kSynAckFrame), bytes_of(kAckFrame),
                     bytes_of(kDataFrame), bytes_of(kFinAckFrame)}) {
    const auto seg = frame.subspan(kL4Offset);
    const Ipv4Addr src{load_be32(frame.data() + 26)};
    const Ipv4Addr dst{load_be32(frame.data() + 30)};
    const auto len = static_cast<std::uint16_t>(seg.size());
    EXPECT_EQ(checksum_fold(checksum_add(seg, pseudo_header_sum(src, dst, 6, len))), 0);
  }
  // The hand-made SACK segment, server -> client.
  EXPECT_EQ(checksum_fold(checksum_add(bytes_of(kSackSegment),
                                       pseudo_header_sum(kServerIp, kClientIp, 6, 52))),
            0);
}

}  // namespace
}  // namespace riptide::wire
