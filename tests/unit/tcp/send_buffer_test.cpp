// SendBuffer over a ChunkPool: the bytes between SND.UNA and what the application
// queued, in 2 KiB chunks from a fixed per-core pool (no allocation on the data
// path). Limits, pool exhaustion, copy_out at every offset, consume and release.
#include "tcp/send_buffer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace riptide::tcp {
namespace {

// Payload bytes per chunk (the chunk starts with the next pointer).
constexpr std::size_t kPerChunk = ChunkPool::kChunkBytes - sizeof(std::byte*);

std::vector<std::byte> pattern(std::size_t n, std::uint32_t seed = 7) {
  std::vector<std::byte> v(n);
  std::uint32_t x = seed;
  for (auto& b : v) {
    x = x * 1103515245u + 12345u;
    b = static_cast<std::byte>(x >> 16);
  }
  return v;
}

std::vector<std::byte> copy_all(const SendBuffer& b, std::size_t offset, std::size_t len) {
  std::vector<std::byte> out(len, std::byte{0xEE});
  b.copy_out(offset, out);
  return out;
}

TEST(ChunkPool, AllocUntilEmptyThenFreeRefills) {
  ChunkPool pool(4);
  EXPECT_EQ(pool.capacity(), 4u);
  EXPECT_EQ(pool.available(), 4u);
  std::vector<std::byte*> got;
  for (int i = 0; i < 4; ++i) {
    std::byte* c = pool.alloc();
    ASSERT_NE(c, nullptr);
    got.push_back(c);
  }
  EXPECT_EQ(pool.available(), 0u);
  EXPECT_EQ(pool.alloc(), nullptr);
  // Distinct, non-overlapping chunks.
  for (std::size_t i = 0; i < got.size(); ++i) {
    for (std::size_t j = i + 1; j < got.size(); ++j) {
      const auto d = got[i] > got[j] ? got[i] - got[j] : got[j] - got[i];
      EXPECT_GE(static_cast<std::size_t>(d), ChunkPool::kChunkBytes);
    }
  }
  for (std::byte* c : got) pool.free(c);
  EXPECT_EQ(pool.available(), 4u);
}

TEST(SendBuffer, AppendStopsAtLimit) {
  ChunkPool pool(16);
  SendBuffer b;
  const auto data = pattern(10000);
  EXPECT_EQ(b.append(data, 5000, pool), 5000u);
  EXPECT_EQ(b.size(), 5000u);
  EXPECT_EQ(b.append(data, 5000, pool), 0u);  // full: nothing more
  EXPECT_EQ(b.append(std::span(data).subspan(5000), 5001, pool), 1u);
  EXPECT_EQ(b.size(), 5001u);
  EXPECT_EQ(copy_all(b, 0, 5000), std::vector<std::byte>(data.begin(), data.begin() + 5000));
  EXPECT_EQ(copy_all(b, 5000, 1)[0], data[5000]);
  // 5001 bytes need ceil(5001 / kPerChunk) chunks.
  EXPECT_EQ(pool.available(), 16u - (5001 + kPerChunk - 1) / kPerChunk);
  b.release(pool);
  EXPECT_EQ(pool.available(), 16u);
  EXPECT_TRUE(b.empty());
}

TEST(SendBuffer, PoolExhaustionGivesPartialAppend) {
  ChunkPool pool(2);
  SendBuffer b;
  const auto data = pattern(10000);
  EXPECT_EQ(b.append(data, 1 << 20, pool), 2 * kPerChunk);
  EXPECT_EQ(pool.available(), 0u);
  EXPECT_EQ(b.append(data, 1 << 20, pool), 0u);
  // Acknowledging the first chunk frees it; the next append continues the stream.
  b.consume(kPerChunk, pool);
  EXPECT_EQ(pool.available(), 1u);
  EXPECT_EQ(b.append(std::span(data).subspan(2 * kPerChunk), 1 << 20, pool), kPerChunk);
  EXPECT_EQ(copy_all(b, 0, 2 * kPerChunk),
            std::vector<std::byte>(data.begin() + static_cast<std::ptrdiff_t>(kPerChunk),
                                   data.begin() + static_cast<std::ptrdiff_t>(3 * kPerChunk)));
  b.release(pool);
  EXPECT_EQ(pool.available(), 2u);
}

TEST(SendBuffer, AppendInSmallPiecesFillsChunksContiguously) {
  ChunkPool pool(8);
  SendBuffer b;
  const auto data = pattern(6000);
  for (std::size_t off = 0; off < data.size(); off += 7) {
    const std::size_t n = std::min<std::size_t>(7, data.size() - off);
    ASSERT_EQ(b.append(std::span(data).subspan(off, n), 1 << 20, pool), n);
  }
  EXPECT_EQ(pool.available(), 8u - 3u);  // 6000 bytes: 3 chunks, none wasted
  EXPECT_EQ(copy_all(b, 0, data.size()), data);
  b.release(pool);
}

TEST(SendBuffer, CopyOutAtEveryOffsetAcrossChunkBoundaries) {
  ChunkPool pool(8);
  SendBuffer b;
  const auto data = pattern(10 * 1024);
  ASSERT_EQ(b.append(data, 1 << 20, pool), data.size());
  for (std::size_t off = 0; off < data.size(); ++off) {
    // The rest of the buffer, and a short piece (most cross at most one boundary).
    const std::size_t rest = data.size() - off;
    const auto all = copy_all(b, off, rest);
    ASSERT_TRUE(std::equal(all.begin(), all.end(), data.begin() + static_cast<std::ptrdiff_t>(off)))
        << "offset " << off;
    const std::size_t n = std::min<std::size_t>(rest, 37);
    const auto piece = copy_all(b, off, n);
    ASSERT_TRUE(std::equal(piece.begin(), piece.end(), data.begin() + static_cast<std::ptrdiff_t>(off)))
        << "offset " << off;
  }
  // Zero-length copies anywhere (including the end) are no-ops.
  EXPECT_TRUE(copy_all(b, data.size(), 0).empty());
  b.release(pool);
  EXPECT_EQ(pool.available(), 8u);
}

TEST(SendBuffer, CopyOutAfterPartialConsumeIsRelativeToNewStart) {
  ChunkPool pool(8);
  SendBuffer b;
  const auto data = pattern(10 * 1024, 99);
  ASSERT_EQ(b.append(data, 1 << 20, pool), data.size());
  std::size_t consumed = 0;
  // Consume in uneven steps; after each, every offset still reads the right byte.
  for (const std::size_t step : {1u, 100u, 1939u, 1u, 2040u, 3000u, 7u}) {
    b.consume(step, pool);
    consumed += step;
    ASSERT_EQ(b.size(), data.size() - consumed);
    for (std::size_t off = 0; off < b.size(); off += 13) {
      const std::size_t n = std::min<std::size_t>(b.size() - off, 2100);
      const auto got = copy_all(b, off, n);
      ASSERT_TRUE(std::equal(got.begin(), got.end(),
                             data.begin() + static_cast<std::ptrdiff_t>(consumed + off)))
          << "consumed " << consumed << " offset " << off;
    }
  }
  b.release(pool);
  EXPECT_EQ(pool.available(), 8u);
}

TEST(SendBuffer, ConsumeReturnsChunksToThePool) {
  ChunkPool pool(8);
  SendBuffer b;
  const auto data = pattern(3 * kPerChunk + 500);  // 4 chunks, the last part-full
  ASSERT_EQ(b.append(data, 1 << 20, pool), data.size());
  EXPECT_EQ(pool.available(), 4u);

  b.consume(100, pool);  // partial: the head chunk stays
  EXPECT_EQ(pool.available(), 4u);
  b.consume(kPerChunk - 100, pool);  // exactly the rest of the head chunk
  EXPECT_EQ(pool.available(), 5u);
  b.consume(kPerChunk + 1, pool);  // a whole chunk and one byte of the next
  EXPECT_EQ(pool.available(), 6u);
  EXPECT_EQ(b.size(), kPerChunk - 1 + 500);
  b.consume(b.size(), pool);  // everything, tail included
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(pool.available(), 8u);

  // The emptied buffer works again from scratch.
  ASSERT_EQ(b.append(data, 1 << 20, pool), data.size());
  EXPECT_EQ(copy_all(b, 0, data.size()), data);
  b.release(pool);
  EXPECT_EQ(pool.available(), 8u);
}

TEST(SendBuffer, ConsumeExactlyAFullTailChunk) {
  ChunkPool pool(4);
  SendBuffer b;
  const auto data = pattern(2 * kPerChunk);
  ASSERT_EQ(b.append(data, 1 << 20, pool), data.size());
  EXPECT_EQ(pool.available(), 2u);
  b.consume(data.size(), pool);
  EXPECT_EQ(pool.available(), 4u);
  EXPECT_TRUE(b.empty());
  const auto more = pattern(10, 3);
  ASSERT_EQ(b.append(more, 1 << 20, pool), more.size());
  EXPECT_EQ(copy_all(b, 0, more.size()), more);
  b.release(pool);
}

TEST(SendBuffer, InterleavedAppendAndConsumeKeepsTheStream) {
  // The steady state of a connection: queue, acknowledge, queue more.
  ChunkPool pool(6);
  SendBuffer b;
  const auto data = pattern(200000, 5);
  std::size_t queued = 0, acked = 0;
  while (acked < data.size()) {
    queued += b.append(std::span(data).subspan(queued, std::min<std::size_t>(3333, data.size() - queued)),
                       8000, pool);
    ASSERT_LE(b.size(), 8000u);
    const std::size_t n = std::min<std::size_t>(b.size(), 2777);
    const auto got = copy_all(b, 0, n);
    ASSERT_TRUE(std::equal(got.begin(), got.end(), data.begin() + static_cast<std::ptrdiff_t>(acked)))
        << "at " << acked;
    b.consume(n, pool);
    acked += n;
  }
  EXPECT_EQ(queued, data.size());
  EXPECT_EQ(pool.available(), 6u);
  b.release(pool);
}

TEST(SendBuffer, CopiesInAnyOrderMatchTheStreamAcrossConsumes) {
  // copy_out remembers where it ended (segments go out in order); copies that go
  // backwards (retransmissions), forwards, or after a consume must not be fooled.
  ChunkPool pool(64);
  SendBuffer b;
  const auto data = pattern(400000, 9);
  std::size_t queued = 0, acked = 0;
  std::uint32_t x = 12345;
  auto rnd = [&](std::size_t n) {
    x = x * 1103515245u + 12345u;
    return n == 0 ? 0 : (x >> 8) % n;
  };
  while (acked < data.size()) {
    queued += b.append(std::span(data).subspan(queued, std::min<std::size_t>(rnd(9000), data.size() - queued)),
                       100000, pool);
    for (int k = 0; k < 4 && b.size() > 0; ++k) {
      const std::size_t off = rnd(b.size());
      const std::size_t len = std::min<std::size_t>(b.size() - off, 1 + rnd(3000));
      const auto got = copy_all(b, off, len);
      ASSERT_TRUE(std::equal(got.begin(), got.end(), data.begin() + static_cast<std::ptrdiff_t>(acked + off)))
          << "acked " << acked << " off " << off << " len " << len;
    }
    const std::size_t n = std::min<std::size_t>(b.size(), rnd(7000));
    b.consume(n, pool);
    acked += n;
    if (queued == data.size() && b.size() < 100) {
      b.consume(b.size(), pool);
      acked = queued;
    }
  }
  EXPECT_EQ(pool.available(), 64u);
  b.release(pool);
}

TEST(SendBuffer, ReleaseReturnsEverything) {
  ChunkPool pool(8);
  SendBuffer b;
  const auto data = pattern(7 * kPerChunk);
  ASSERT_EQ(b.append(data, 1 << 20, pool), data.size());
  b.consume(kPerChunk + 5, pool);
  b.release(pool);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(pool.available(), 8u);
}

}  // namespace
}  // namespace riptide::tcp
