// The send buffer: bytes the application queued that the peer has not yet
// acknowledged, starting at SND.UNA. Memory comes from a per-core ChunkPool sized at
// start-up (DESIGN.md: no allocation on the data path); a connection holds a linked
// list of chunks. Running out of chunks is back-pressure (send() accepts less), not
// a failure.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <utility>

namespace riptide::tcp {

// Chunks are carved from one block reserved at start-up but touched only when first
// handed out: the block is not zeroed (make_unique_for_overwrite; the kernel maps its
// pages on first write), never-used chunks come from a bump index and freed ones from
// an intrusive LIFO list threaded through the chunks themselves. A pool of 524,288
// chunks (1 GiB) is therefore ready at once and costs resident memory only for the
// chunks the busiest moment used; zeroing it took ~5 s per worker at start-up.
class ChunkPool {
 public:
  static constexpr std::size_t kChunkBytes = 2048;

  explicit ChunkPool(std::size_t chunks);
  ChunkPool(const ChunkPool&) = delete;
  ChunkPool& operator=(const ChunkPool&) = delete;

  [[nodiscard]] std::byte* alloc() noexcept {
    std::byte* c;
    if (free_head_ != nullptr) {
      c = free_head_;
      std::memcpy(&free_head_, c, sizeof free_head_);
    } else if (carved_ < count_) {
      c = &storage_[carved_++ * kChunkBytes];
    } else {
      return nullptr;
    }
    ++in_use_;
    return c;
  }
  void free(std::byte* chunk) noexcept {
    assert(in_use_ > 0);
    assert(chunk >= storage_.get() && chunk < storage_.get() + count_ * kChunkBytes);
    std::memcpy(chunk, &free_head_, sizeof free_head_);
    free_head_ = chunk;
    --in_use_;
  }
  [[nodiscard]] std::size_t available() const noexcept { return count_ - in_use_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return count_; }

 private:
  std::size_t count_;
  std::unique_ptr<std::byte[]> storage_;  // uninitialised: see above
  std::size_t carved_ = 0;                // chunks [0, carved_) have been handed out once
  std::size_t in_use_ = 0;
  std::byte* free_head_ = nullptr;        // freed chunks; the link is a chunk's first bytes
};

// Also used for out-of-order data waiting for reassembly (one per range).
class SendBuffer {
 public:
  SendBuffer() = default;
  SendBuffer(const SendBuffer&) = delete;
  SendBuffer& operator=(const SendBuffer&) = delete;
  SendBuffer(SendBuffer&& o) noexcept
      : head_(std::exchange(o.head_, nullptr)), tail_(std::exchange(o.tail_, nullptr)),
        head_off_(std::exchange(o.head_off_, 0)), tail_len_(std::exchange(o.tail_len_, 0)),
        size_(std::exchange(o.size_, 0)), cursor_(std::exchange(o.cursor_, nullptr)),
        cursor_pos_(std::exchange(o.cursor_pos_, 0)) {}
  ~SendBuffer();  // asserts release() was called

  // Copies as much of `data` as fits under `limit` bytes in total and the pool.
  std::size_t append(std::span<const std::byte> data, std::size_t limit, ChunkPool& pool) noexcept;
  // Copies bytes [offset, offset + out.size()) (offset from the first unacked byte).
  void copy_out(std::size_t offset, std::span<std::byte> out) const noexcept;
  // Drops the first n bytes (acknowledged), returning emptied chunks to the pool.
  void consume(std::size_t n, ChunkPool& pool) noexcept;
  void release(ChunkPool& pool) noexcept;

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  // Whether release() has chunks to return (an empty buffer may still hold one).
  [[nodiscard]] bool holds_chunks() const noexcept { return head_ != nullptr; }

 private:
  static constexpr std::size_t kPayload = ChunkPool::kChunkBytes - sizeof(std::byte*);
  static std::byte*& next_of(std::byte* chunk) noexcept {
    return *reinterpret_cast<std::byte**>(chunk);
  }
  static std::byte* data_of(std::byte* chunk) noexcept { return chunk + sizeof(std::byte*); }

  std::byte* head_ = nullptr;
  std::byte* tail_ = nullptr;
  std::size_t head_off_ = 0;  // bytes of head_ already consumed
  std::size_t tail_len_ = 0;  // bytes filled in tail_
  std::size_t size_ = 0;
  // Where the last copy_out() ended: a chunk and the position of its first byte
  // (counted like head_off_ + offset). Segments go out in order, so the next copy
  // starts there instead of walking the list from SND.UNA (O(1) instead of
  // O(window / chunk) per segment).
  mutable const std::byte* cursor_ = nullptr;
  mutable std::size_t cursor_pos_ = 0;
};

}  // namespace riptide::tcp
