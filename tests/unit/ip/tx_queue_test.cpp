// IP output: ip::TxQueue, where packets are built in place, oldest first, in the
// queue's own slots or in buffers the host lends (issue 11's "one copy at most":
// io::MbufEngine lends mbufs and claims each packet it sends, so nothing is copied
// on the way to the port); and IpLayer's IPv4 header.
#include "ip/tx_queue.hpp"

#include "common/byte_order.hpp"
#include "ip/ip_layer.hpp"
#include "wire/ipv4.hpp"

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

TEST(TxQueue, OrderAndRoomSurviveWrappingAroundTheRing) {
  // The queue keeps its tail index: across the wrap, packets still come out oldest
  // first and a full ring is still refused.
  Counters c;
  TxQueue q(3, c);
  std::vector<int> seen;
  auto drain = [&] { q.drain([&](std::span<const std::byte> p) { seen.push_back(static_cast<int>(p[0])); }); };
  put(q, 1, 20);
  put(q, 2, 20);
  drain();
  put(q, 3, 20);
  put(q, 4, 20);  // wraps to slot 0
  put(q, 5, 20);
  EXPECT_TRUE(q.reserve().empty());
  EXPECT_EQ(c[Counter::tx_queue_full], 1u);
  drain();
  put(q, 6, 20);
  drain();
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3, 4, 5, 6}));
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

namespace riptide::ip {
namespace {

// IpLayer::write_ipv4 sums the header from its field values (every IPv4 packet sent
// passes there); it must write what wire::write_ipv4_header writes, checksum
// included, for any address, length, TTL and identification.
TEST(IpLayerOutput, Ipv4HeaderMatchesTheWireWriter) {
  Counters c;
  TxQueue q(1, c);
  const std::uint8_t ttls[] = {64, 1, 255};
  const std::uint32_t addrs[][2] = {
      {0xC6120001u, 0xC6120002u}, {0xFFFFFFFFu, 0xFFFFFFFFu}, {0u, 0u}, {0xC613FFFEu, 0x0A000001u}};
  for (std::uint8_t ttl : ttls) {
    IpConfig cfg;
    cfg.ttl = ttl;
    IpLayer ip(cfg, c, q);
    for (const auto& a : addrs) {
      for (std::size_t payload : {std::size_t{0}, std::size_t{32}, std::size_t{1480}, std::size_t{65515}}) {
        for (int n = 0; n < 70000; n += 9973) {  // the identification walks on
          std::array<std::byte, 20> ours{}, theirs{};
          const Ipv4Addr src{a[0]}, dst{a[1]};
          // The wire writer with the identification IpLayer is about to use.
          wire::Ipv4Header h;
          h.ttl = ttl;
          h.protocol = wire::kIpProtoTcp;
          h.src = src;
          h.dst = dst;
          ip.write_ipv4(ours, src, dst, wire::kIpProtoTcp, payload);
          h.id = load_be16(ours.data() + 4);
          ASSERT_EQ(wire::write_ipv4_header(theirs, h, static_cast<std::uint16_t>(payload)), 20u);
          ASSERT_EQ(ours, theirs) << "ttl " << int{ttl} << " payload " << payload;
          for (int k = 0; k < 9973 && n + k < 70000; ++k) ip.write_ipv4(ours, src, dst, 6, 0);
        }
      }
    }
  }
}

}  // namespace
}  // namespace riptide::ip
