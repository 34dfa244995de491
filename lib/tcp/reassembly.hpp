// Out-of-order data held for reassembly, and the SACK blocks that describe it.
//
// RFC 9293 3.10.7.4 (seventh): segments beyond RCV.NXT "SHOULD be held for later
// processing"; RFC 2018 4: the receiver reports what it holds in SACK blocks, the
// block holding the most recently received segment first; RFC 2883: a duplicate
// is reported in a D-SACK block (the caller keeps that one: it is a fact about a
// segment, not about what is held). A FIN beyond a hole is held here too and counts
// as one more octet in the SACK blocks (as Linux queues it). This is FreeBSD's
// tcp_reass: Connection decides what is acceptable and when to ACK; this type only
// keeps bytes by sequence number.
//
// At most kMaxRanges disjoint ranges, each a SendBuffer of chunks from the per-core
// ChunkPool, so memory is bounded; what does not fit is not held (hold() says so).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "common/seq_num.hpp"
#include "tcp/send_buffer.hpp"
#include "wire/tcp.hpp"

namespace riptide::tcp {

class Reassembly {
 public:
  static constexpr std::size_t kMaxRanges = 8;

  Reassembly() = default;
  Reassembly(const Reassembly&) = delete;
  Reassembly& operator=(const Reassembly&) = delete;
  ~Reassembly();  // asserts release() was called if anything is held

  struct Held {
    bool complete = true;                       // every byte offered is now held
    std::optional<wire::SackBlock> duplicate;  // the first piece that already was
  };
  // Holds [start, start + data.size()) (all of it beyond RCV.NXT). Bytes already
  // held are skipped (the first such piece is returned for a D-SACK); a range
  // holds at most `limit` bytes; nothing at or beyond a held FIN is kept.
  Held hold(SeqNum start, std::span<const std::byte> data, std::size_t limit, ChunkPool& pool);
  // Holds a FIN at `fin_at` if no other FIN is held. The caller has checked that it
  // is in the window and that the data before it in its segment was held.
  bool hold_fin(SeqNum fin_at) noexcept;
  // Whether a held range ends exactly at `s`.
  [[nodiscard]] bool ends_at(SeqNum s) const noexcept;

  // Hands over, in order, the held bytes that now follow `rcv_nxt`, advancing it;
  // stops when `deliver(span)` returns false (the connection went away).
  template <class Deliver>
  void deliver(SeqNum& rcv_nxt, ChunkPool& pool, Deliver&& deliver);
  // Whether the held FIN is next in sequence; take_fin() consumes it.
  [[nodiscard]] bool fin_next(SeqNum rcv_nxt) const noexcept { return fin_ && *fin_ == rcv_nxt; }
  void take_fin() noexcept { fin_.reset(); }
  [[nodiscard]] bool fin_held() const noexcept { return fin_.has_value(); }

  // Whether sack_blocks() has nothing to report (no data, no FIN held): inline, for
  // the sender's every segment.
  [[nodiscard]] bool nothing_to_sack() const noexcept { return used_ == 0 && !fin_; }
  // Whether any data is held (a held FIN alone does not count).
  [[nodiscard]] bool holds_data() const noexcept { return used_ != 0; }
  // The SACK blocks for what is held, most recent first (RFC 2018 4); a held FIN
  // extends the range it ends, or is a one-octet block of its own. Returns how
  // many were written (at most out.size()). Inline for the common in-order case,
  // asked on every segment sent: nothing held, nothing to report.
  std::size_t sack_blocks(std::span<wire::SackBlock> out) const noexcept {
    return nothing_to_sack() ? 0 : held_sack_blocks(out);
  }
  // How many blocks sack_blocks() would write given room for all.
  [[nodiscard]] std::size_t block_count() const noexcept {
    return used_ + (fin_ && !ends_at(*fin_) ? 1 : 0);
  }

  void release(ChunkPool& pool) noexcept;  // drop everything held
  // After release(): as constructed (the ranges are already unused and empty).
  void reset() noexcept {
    stamp_ = 0;
    fin_stamp_ = 0;
  }

 private:
  struct Range {
    bool used = false;
    SeqNum start;
    SeqNum end;
    std::uint32_t stamp = 0;  // when a segment last landed in it (recency)
    SendBuffer data;
  };
  void merge_touching(std::size_t limit, ChunkPool& pool) noexcept;
  std::size_t held_sack_blocks(std::span<wire::SackBlock> out) const noexcept;  // sack_blocks(), something held
  void occupy(Range& r) noexcept {
    r.used = true;
    ++used_;
  }
  void vacate(Range& r) noexcept {
    r.used = false;
    --used_;
  }

  std::array<Range, kMaxRanges> ranges_{};
  // How many ranges are used: the in-order common case (nothing held) answers every
  // query without walking the ranges.
  std::size_t used_ = 0;
  std::uint32_t stamp_ = 0;
  std::optional<SeqNum> fin_;
  std::uint32_t fin_stamp_ = 0;
};

template <class Deliver>
void Reassembly::deliver(SeqNum& rcv_nxt, ChunkPool& pool, Deliver&& deliver) {
  for (bool progress = used_ != 0; progress;) {
    progress = false;
    for (Range& r : ranges_) {
      if (!r.used || rcv_nxt < r.start) continue;
      if (r.end <= rcv_nxt) {  // wholly delivered already
        r.data.release(pool);
        vacate(r);
        continue;
      }
      // From RCV.NXT to the range's end, a chunk-sized piece at a time.
      auto off = static_cast<std::size_t>(rcv_nxt - r.start);
      std::array<std::byte, ChunkPool::kChunkBytes> piece{};
      while (off < r.data.size()) {
        const std::size_t n = std::min(piece.size(), r.data.size() - off);
        r.data.copy_out(off, std::span(piece).first(n));
        rcv_nxt += static_cast<std::uint32_t>(n);
        off += n;
        if (!deliver(std::span<const std::byte>(piece.data(), n))) return;
      }
      r.data.release(pool);
      vacate(r);
      progress = true;
    }
  }
}

}  // namespace riptide::tcp
