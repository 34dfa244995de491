/// \file
/// TxQueue: the IP packets a Stack wants sent, in fixed 2 KiB slots, oldest first.
/// IP output (lib/ip/ip_layer.hpp) and the TCP output of lib/stack build packets in
/// place in the next slot (reserve(), then commit(len)); the host takes them with
/// Stack::drain_tx(). Allocated once; a full queue is a counted drop (tx_queue_full).
///
/// Thread-safety: none; the queue belongs to its Stack's core.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <vector>

#include "common/counters.hpp"

namespace riptide::ip {

class TxQueue {
 public:
  static constexpr std::size_t kSlotBytes = 2048;

  TxQueue(std::size_t slots, Counters& counters) : slots_(slots), counters_(counters) {}

  /// The next free slot (kSlotBytes), or empty (counted in tx_queue_full) when full.
  std::span<std::byte> reserve() noexcept {
    if (count_ == slots_.size()) {
      counters_.inc(Counter::tx_queue_full);
      return {};
    }
    return std::span<std::byte>(slots_[(head_ + count_) % slots_.size()].data);
  }
  /// Queues the slot reserve() returned, holding `len` bytes.
  void commit(std::size_t len) noexcept {
    slots_[(head_ + count_) % slots_.size()].len = len;
    ++count_;
  }
  /// Calls f(std::span<const std::byte>) for each queued packet, oldest first.
  template <class F>
  std::size_t drain(F&& f) {
    std::size_t n = 0;
    while (count_ > 0) {
      Slot& s = slots_[head_];
      f(std::span<const std::byte>(s.data.data(), s.len));
      head_ = (head_ + 1) % slots_.size();
      --count_;
      ++n;
    }
    return n;
  }
  [[nodiscard]] std::size_t pending() const noexcept { return count_; }

 private:
  struct Slot {
    std::array<std::byte, kSlotBytes> data;
    std::size_t len = 0;
  };
  std::vector<Slot> slots_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  Counters& counters_;
};

}  // namespace riptide::ip
