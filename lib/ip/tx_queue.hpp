/// \file
/// TxQueue: the IP packets a Stack wants sent, oldest first. IP output
/// (lib/ip/ip_layer.hpp) and the TCP output of lib/stack build packets in place in
/// the next slot (reserve(), then commit(len)); the host takes them with
/// Stack::drain_tx(). Allocated once; a full queue is a counted drop (tx_queue_full).
///
/// Where the bytes live. By default each slot is 2 KiB of the queue's own memory,
/// and a host that sends through DPDK copies each packet into an mbuf. A host can
/// instead lend the queue its own buffers (set_buffer_source(): riptide's
/// io::MbufEngine lends mbufs), so that a segment is built once, in the buffer the
/// port sends, and the payload is copied once, from the send buffer (issue 11's "one
/// copy at most"). During drain() the host claims the packet it is handed
/// (claim()): the buffer is then the host's, and the slot takes a fresh one at its
/// next reserve(). A packet the host does not claim (held for ARP, no route: it
/// copied what it needed) goes back to the source when drain() moves past it.
///
/// Thread-safety: none; the queue belongs to its Stack's core.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <memory>
#include <span>

#include "common/counters.hpp"

namespace riptide::ip {

/// Buffers a host lends a TxQueue. acquire(ctx, &handle) returns at least
/// `capacity` writable bytes (null when it has none: the queue uses its own slot);
/// release(ctx, handle) takes back one the host did not claim. The host outlives the
/// queue, or takes its source back first (set_buffer_source({})): the queue gives
/// back what it holds when destroyed.
struct TxBufferSource {
  std::byte* (*acquire)(void* ctx, void** handle) = nullptr;
  void (*release)(void* ctx, void* handle) = nullptr;
  void* ctx = nullptr;
  std::size_t capacity = 0;
};

class TxQueue {
 public:
  static constexpr std::size_t kSlotBytes = 2048;

  TxQueue(std::size_t slots, Counters& counters)
      : slots_(std::make_unique<Slot[]>(slots)), size_(slots), counters_(counters) {}
  ~TxQueue() { set_buffer_source({}); }
  TxQueue(const TxQueue&) = delete;
  TxQueue& operator=(const TxQueue&) = delete;

  /// Lends the queue the host's buffers from now on (a default-constructed source:
  /// back to the queue's own slots). Meant for set-up and tear-down: every buffer
  /// held from the previous source goes back to it, and packets still queued in
  /// the queue are dropped (counted in tx_dropped_detach).
  void set_buffer_source(const TxBufferSource& src) noexcept {
    bool dropped = false;
    for (std::size_t i = 0; i < size_; ++i) {
      Slot& s = slots_[i];
      if (s.handle == nullptr) continue;
      dropped = dropped || is_queued(i);
      give_back(s);
    }
    if (dropped) {
      counters_.inc(Counter::tx_dropped_detach, count_);
      head_ = tail_ = count_ = 0;
    }
    src_ = src.acquire != nullptr && src.capacity >= kMinCapacity ? src : TxBufferSource{};
  }

  /// The next free slot, or empty (counted in tx_queue_full) when full. At most
  /// kSlotBytes; a host buffer may be smaller (never below an Ethernet MTU's packet).
  std::span<std::byte> reserve() noexcept {
    if (count_ == size_) {
      counters_.inc(Counter::tx_queue_full);
      return {};
    }
    Slot& s = slots_[tail_];
    if (s.data == nullptr) {
      s.data = src_.acquire != nullptr ? src_.acquire(src_.ctx, &s.handle) : nullptr;
      if (s.data == nullptr) {
        s.handle = nullptr;
        s.data = s.own.data();
      }
    }
    return {s.data, s.handle != nullptr ? std::min(src_.capacity, kSlotBytes) : kSlotBytes};
  }
  /// Queues the slot reserve() returned, holding `len` bytes.
  void commit(std::size_t len) noexcept {
    slots_[tail_].len = len;
    tail_ = tail_ + 1 == size_ ? 0 : tail_ + 1;
    ++count_;
  }
  /// Calls f(std::span<const std::byte>) for each queued packet, oldest first.
  template <class F>
  std::size_t drain(F&& f) {
    std::size_t n = 0;
    while (count_ > 0) {
      Slot& s = slots_[head_];
      draining_ = &s;
      f(std::span<const std::byte>(s.data, s.len));
      draining_ = nullptr;
      if (s.handle != nullptr) give_back(s);  // not claimed: the host copied it
      head_ = head_ + 1 == size_ ? 0 : head_ + 1;
      --count_;
      ++n;
    }
    return n;
  }
  /// Inside drain()'s f: if `packet` is the one being handed over and lives in a
  /// host buffer, that buffer becomes the caller's (its handle is returned) and the
  /// slot forgets it; otherwise null (the caller copies, as from any other packet).
  [[nodiscard]] void* claim(std::span<const std::byte> packet) noexcept {
    Slot* s = draining_;
    if (s == nullptr || s->handle == nullptr || packet.data() != s->data) return nullptr;
    void* h = s->handle;
    s->handle = nullptr;
    s->data = nullptr;
    return h;
  }
  [[nodiscard]] std::size_t pending() const noexcept { return count_; }

 private:
  /// A host buffer must hold a full-size Ethernet packet (1500) with room to spare.
  static constexpr std::size_t kMinCapacity = 1536;
  struct Slot {
    std::byte* data = nullptr;  ///< own.data() or a host buffer; null: none yet
    void* handle = nullptr;     ///< the host's buffer, or null for own
    std::size_t len = 0;
    std::array<std::byte, kSlotBytes> own;
  };
  void give_back(Slot& s) noexcept {
    if (src_.release != nullptr) src_.release(src_.ctx, s.handle);
    s.handle = nullptr;
    s.data = nullptr;
  }
  [[nodiscard]] bool is_queued(std::size_t i) const noexcept {
    const std::size_t off = i >= head_ ? i - head_ : i + size_ - head_;
    return off < count_;
  }

  std::unique_ptr<Slot[]> slots_;
  std::size_t size_;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;  ///< the slot reserve() hands out: (head_ + count_) mod size_, kept
  std::size_t count_ = 0;
  Slot* draining_ = nullptr;
  TxBufferSource src_{};
  Counters& counters_;
};

}  // namespace riptide::ip
