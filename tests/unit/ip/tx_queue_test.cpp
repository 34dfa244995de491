// ip::TxQueue: packets built in place, oldest first, in the queue's own slots or in
// buffers the host lends (issue 11's "one copy at most": io::MbufEngine lends mbufs
// and claims each packet it sends, so nothing is copied on the way to the port).
#include "ip/tx_queue.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

namespace riptide::ip {
namespace {

// A host with a few numbered buffers: lends them while it has any, and records
// what it gets back.
struct Host {
  std::vector<std::array<std::byte, 1600>> buffers = std::vector<std::array<std::byte, 1600>>(4);
  std::vector<int> free_list{3, 2, 1, 0};
  std::vector<int> returned;
  static std::byte* lend(void* ctx, void** handle) {
    auto& h = *static_cast<Host*>(ctx);
    if (h.free_list.empty()) return nullptr;
    const int i = h.free_list.back();
    h.free_list.pop_back();
    *handle = reinterpret_cast<void*>(static_cast<std::intptr_t>(i + 1));  // never null
    return h.buffers[static_cast<std::size_t>(i)].data();
  }
  static void take_back(void* ctx, void* handle) {
    auto& h = *static_cast<Host*>(ctx);
    const int i = static_cast<int>(reinterpret_cast<std::intptr_t>(handle)) - 1;
    h.returned.push_back(i);
    h.free_list.push_back(i);
  }
  TxBufferSource source() { return {&Host::lend, &Host::take_back, this, 1600}; }
};

void put(TxQueue& q, std::uint8_t tag, std::size_t len) {
  std::span<std::byte> out = q.reserve();
  ASSERT_GE(out.size(), len);
  std::memset(out.data(), tag, len);
  q.commit(len);
}

TEST(TxQueue, OwnSlotsDrainOldestFirstAndCannotBeClaimed) {
  Counters c;
  TxQueue q(3, c);
  put(q, 1, 40);
  put(q, 2, 60);
  EXPECT_EQ(q.reserve().size(), TxQueue::kSlotBytes);
  std::vector<std::pair<int, std::size_t>> seen;
  EXPECT_EQ(q.drain([&](std::span<const std::byte> p) {
    seen.emplace_back(static_cast<int>(p[0]), p.size());
    EXPECT_EQ(q.claim(p), nullptr);  // the queue's own memory: the host copies
  }), 2u);
  EXPECT_EQ(seen, (std::vector<std::pair<int, std::size_t>>{{1, 40}, {2, 60}}));
  EXPECT_EQ(q.pending(), 0u);
}

TEST(TxQueue, FullQueueIsACountedDrop) {
  Counters c;
  TxQueue q(2, c);
  put(q, 1, 20);
  put(q, 2, 20);
  EXPECT_TRUE(q.reserve().empty());
  EXPECT_EQ(c[Counter::tx_queue_full], 1u);
}

TEST(TxQueue, LentBuffersAreBuiltInPlaceAndHandedOverWhenClaimed) {
  Host h;  // outlives the queue, which gives back what it holds when destroyed
  Counters c;
  TxQueue q(8, c);
  q.set_buffer_source(h.source());
  std::span<std::byte> out = q.reserve();
  EXPECT_EQ(out.data(), h.buffers[0].data());  // the host's buffer, not a slot
  EXPECT_EQ(out.size(), 1600u);                // what the host lends, below 2 KiB
  put(q, 7, 100);                               // the same reservation, committed
  put(q, 8, 50);
  std::vector<void*> claimed;
  q.drain([&](std::span<const std::byte> p) {
    EXPECT_EQ(q.claim(p.subspan(1)), nullptr);  // only the packet itself, whole
    if (p[0] == std::byte{7}) {
      EXPECT_EQ(p.data(), h.buffers[0].data());
      claimed.push_back(q.claim(p));
      EXPECT_EQ(q.claim(p), nullptr);  // once
    }
  });
  // The first was claimed (now the host's: not given back); the second was not, so
  // it went back to the host when the drain moved past it.
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0], reinterpret_cast<void*>(std::intptr_t{1}));
  EXPECT_EQ(h.returned, std::vector<int>{1});
  // The next reservation takes a fresh buffer.
  EXPECT_EQ(q.reserve().data(), h.buffers[1].data());
}

TEST(TxQueue, WithNothingToLendTheQueueUsesItsOwnSlot) {
  Host h;  // outlives the queue, which gives back what it holds when destroyed
  Counters c;
  TxQueue q(8, c);
  h.free_list.clear();  // the pool ran dry
  q.set_buffer_source(h.source());
  put(q, 5, 64);
  int drained = 0;
  q.drain([&](std::span<const std::byte> p) {
    EXPECT_EQ(p.size(), 64u);
    EXPECT_EQ(p[63], std::byte{5});
    EXPECT_EQ(q.claim(p), nullptr);  // copy it
    ++drained;
  });
  EXPECT_EQ(drained, 1);
}

TEST(TxQueue, TakingTheSourceBackReturnsItsBuffersAndDropsWhatWasQueuedInThem) {
  Host h;  // outlives the queue, which gives back what it holds when destroyed
  Counters c;
  TxQueue q(8, c);
  q.set_buffer_source(h.source());
  put(q, 1, 10);
  put(q, 2, 10);
  (void)q.reserve();  // a third buffer held by the next free slot
  q.set_buffer_source({});
  EXPECT_EQ(h.free_list.size(), 4u);  // every buffer back
  EXPECT_EQ(q.pending(), 0u);
  EXPECT_EQ(c[Counter::tx_dropped_detach], 2u);
  // On with the queue's own slots.
  put(q, 3, 10);
  EXPECT_EQ(q.drain([&](std::span<const std::byte> p) { EXPECT_EQ(q.claim(p), nullptr); }), 1u);
}

TEST(TxQueue, TooSmallASourceIsRefused) {
  Host h;
  Counters c;
  TxQueue q(2, c);
  TxBufferSource s = h.source();
  s.capacity = 576;  // below a full-size Ethernet packet
  q.set_buffer_source(s);
  EXPECT_EQ(q.reserve().size(), TxQueue::kSlotBytes);
  EXPECT_EQ(h.free_list.size(), 4u);
}

}  // namespace
}  // namespace riptide::ip
