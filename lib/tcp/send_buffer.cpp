#include "tcp/send_buffer.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace riptide::tcp {

ChunkPool::ChunkPool(std::size_t chunks)
    : count_(chunks), storage_(std::make_unique_for_overwrite<std::byte[]>(chunks * kChunkBytes)) {}

SendBuffer::~SendBuffer() { assert(head_ == nullptr && "SendBuffer::release() not called"); }

std::size_t SendBuffer::append(std::span<const std::byte> data, std::size_t limit,
                               ChunkPool& pool) noexcept {
  std::size_t room = limit > size_ ? limit - size_ : 0;
  std::size_t done = 0;
  while (done < data.size() && room > 0) {
    if (tail_ == nullptr || tail_len_ == kPayload) {
      std::byte* c = pool.alloc();
      if (c == nullptr) break;
      next_of(c) = nullptr;
      if (tail_) next_of(tail_) = c; else head_ = c;
      tail_ = c;
      tail_len_ = 0;
    }
    const std::size_t n = std::min({data.size() - done, room, kPayload - tail_len_});
    std::memcpy(data_of(tail_) + tail_len_, data.data() + done, n);
    tail_len_ += n;
    done += n;
    room -= n;
    size_ += n;
  }
  return done;
}

void SendBuffer::copy_out(std::size_t offset, std::span<std::byte> out) const noexcept {
  assert(offset + out.size() <= size_);
  const std::size_t at = head_off_ + offset;
  const std::byte* c = head_;
  std::size_t base = 0;  // position of c's first byte
  if (cursor_ != nullptr && cursor_pos_ <= at) {
    c = cursor_;
    base = cursor_pos_;
  }
  while (at - base >= kPayload) {
    base += kPayload;
    c = next_of(const_cast<std::byte*>(c));
  }
  cursor_ = c;
  cursor_pos_ = base;
  std::size_t pos = at - base;
  std::size_t done = 0;
  while (done < out.size()) {
    const std::size_t n = std::min(out.size() - done, kPayload - pos);
    std::memcpy(out.data() + done, data_of(const_cast<std::byte*>(c)) + pos, n);
    done += n;
    pos = 0;
    c = next_of(const_cast<std::byte*>(c));
  }
}

void SendBuffer::consume(std::size_t n, ChunkPool& pool) noexcept {
  assert(n <= size_);
  size_ -= n;
  head_off_ += n;
  while (head_ != nullptr && (head_off_ >= kPayload || (head_ == tail_ && size_ == 0))) {
    std::byte* next = next_of(head_);
    const std::size_t used = head_ == tail_ ? tail_len_ : kPayload;
    head_off_ = head_off_ >= used ? head_off_ - used : 0;
    if (head_ == tail_) {
      tail_ = nullptr;
      tail_len_ = 0;
      head_off_ = 0;
    }
    if (cursor_ == head_) {
      cursor_ = nullptr;
    } else if (cursor_ != nullptr) {
      cursor_pos_ -= kPayload;  // positions count from the new head
    }
    pool.free(head_);
    head_ = next;
  }
}

void SendBuffer::release(ChunkPool& pool) noexcept {
  while (head_ != nullptr) {
    std::byte* next = next_of(head_);
    pool.free(head_);
    head_ = next;
  }
  tail_ = nullptr;
  cursor_ = nullptr;
  head_off_ = tail_len_ = size_ = cursor_pos_ = 0;
}

}  // namespace riptide::tcp
