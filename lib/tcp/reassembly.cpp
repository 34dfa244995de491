#include "tcp/reassembly.hpp"

#include <algorithm>
#include <cassert>

namespace riptide::tcp {

Reassembly::~Reassembly() {
  assert(used_ == 0 && "Reassembly::release() not called");
  for ([[maybe_unused]] const Range& r : ranges_) assert(!r.data.holds_chunks() && "Reassembly::release() not called");
}

Reassembly::Held Reassembly::hold(SeqNum start, std::span<const std::byte> data, std::size_t limit,
                                  ChunkPool& pool) {
  Held held;
  if (fin_) {  // nothing lies beyond the peer's FIN
    if (!(start < *fin_)) return Held{data.empty(), std::nullopt};
    const auto before_fin = static_cast<std::size_t>(*fin_ - start);
    if (data.size() > before_fin) {
      data = data.first(before_fin);
      held.complete = false;
    }
  }
  const SeqNum end = start + static_cast<std::uint32_t>(data.size());
  SeqNum cur = start;
  ++stamp_;
  while (cur < end) {
    Range* covering = nullptr;
    Range* next = nullptr;       // the nearest range starting after cur
    Range* ends_here = nullptr;  // a range ending exactly at cur: extend it
    Range* free_slot = nullptr;
    for (Range& r : ranges_) {
      if (!r.used) {
        if (free_slot == nullptr) free_slot = &r;
        continue;
      }
      if (r.start <= cur && cur < r.end) covering = &r;
      if (cur < r.start && (next == nullptr || r.start < next->start)) next = &r;
      if (r.end == cur) ends_here = &r;
    }
    if (covering != nullptr) {
      // Already held: skip to the end of the covering range (RFC 2883 4.2 example
      // 5: the caller reports it, then the block that holds it, most recent first).
      if (!held.duplicate) held.duplicate = wire::SackBlock{cur, seq_min(covering->end, end)};
      covering->stamp = stamp_;
      cur = covering->end;
      continue;
    }
    const SeqNum piece_end = (next != nullptr && next->start < end) ? next->start : end;
    const auto off = static_cast<std::size_t>(cur - start);
    const auto len = static_cast<std::size_t>(piece_end - cur);
    Range* target = ends_here;
    if (target == nullptr) {
      if (free_slot == nullptr) break;  // too many holes: the rest is not held
      target = free_slot;
      occupy(*target);
      target->start = cur;
      target->end = cur;
    }
    const std::size_t put = target->data.append(data.subspan(off, len), limit, pool);
    target->end += static_cast<std::uint32_t>(put);
    target->stamp = stamp_;
    if (target->data.empty()) vacate(*target);
    if (put < len) break;  // the range is full or the chunk pool ran dry
    cur = piece_end;
  }
  if (cur < end) held.complete = false;
  merge_touching(limit, pool);
  return held;
}

void Reassembly::merge_touching(std::size_t limit, ChunkPool& pool) noexcept {
  // Ranges that now touch are merged (the later one's bytes appended).
  if (used_ < 2) return;
  for (Range& a : ranges_) {
    for (Range& b : ranges_) {
      if (&a == &b || !a.used || !b.used || a.end != b.start) continue;
      std::array<std::byte, 1024> tmp{};
      std::size_t off = 0;
      while (off < b.data.size()) {
        const std::size_t n = std::min(tmp.size(), b.data.size() - off);
        b.data.copy_out(off, std::span(tmp).first(n));
        const std::size_t put = a.data.append(std::span(tmp).first(n), limit, pool);
        a.end += static_cast<std::uint32_t>(put);
        off += put;
        if (put < n) break;
      }
      b.data.consume(off, pool);
      b.start += static_cast<std::uint32_t>(off);
      if (b.data.empty()) {
        b.data.release(pool);
        vacate(b);
      }
      a.stamp = std::max(a.stamp, b.stamp);
    }
  }
}

bool Reassembly::hold_fin(SeqNum fin_at) noexcept {
  if (fin_) return *fin_ == fin_at;  // a second, different FIN: keep the first
  fin_ = fin_at;
  fin_stamp_ = ++stamp_;
  return true;
}

bool Reassembly::ends_at(SeqNum s) const noexcept {
  return used_ != 0 && std::any_of(ranges_.begin(), ranges_.end(), [&](const Range& r) { return r.used && r.end == s; });
}

std::size_t Reassembly::held_sack_blocks(std::span<wire::SackBlock> out) const noexcept {
  struct Block {
    wire::SackBlock block;
    std::uint32_t stamp;
  };
  std::array<Block, kMaxRanges + 1> order{};
  std::size_t n = 0;
  bool fin_in_range = false;
  for (const Range& r : ranges_) {
    if (!r.used) continue;
    const bool ends_at_fin = fin_ && r.end == *fin_;
    fin_in_range = fin_in_range || ends_at_fin;
    order[n++] = Block{wire::SackBlock{r.start, ends_at_fin ? r.end + 1 : r.end},
                       ends_at_fin ? std::max(r.stamp, fin_stamp_) : r.stamp};
  }
  if (fin_ && !fin_in_range) order[n++] = Block{wire::SackBlock{*fin_, *fin_ + 1}, fin_stamp_};
  for (std::size_t i = 1; i < n; ++i) {  // insertion sort by recency (n <= 9)
    for (std::size_t j = i; j > 0 && order[j - 1].stamp < order[j].stamp; --j) std::swap(order[j - 1], order[j]);
  }
  const std::size_t count = std::min(n, out.size());
  for (std::size_t i = 0; i < count; ++i) out[i] = order[i].block;
  return count;
}

void Reassembly::release(ChunkPool& pool) noexcept {
  if (used_ != 0) {
    for (Range& r : ranges_) {
      if (r.data.holds_chunks()) r.data.release(pool);
      r.used = false;
    }
    used_ = 0;
  }
  fin_.reset();
}

}  // namespace riptide::tcp
