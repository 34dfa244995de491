// The SACK scoreboard: what the peer reported holding above SND.UNA (RFC 2018), and
// the RFC 6675 queries loss recovery asks of it (IsLost, SetPipe, NextSeg). This is
// FreeBSD's tcp_sack: Connection decides when to enter and leave recovery and what
// to send; this type only keeps the blocks and answers questions about the holes.
//
// Blocks are disjoint and kept in sequence order. At most kMaxBlocks; when full, the
// highest goes (losing SACK information only makes the sender resend more, never
// less). HighACK is SND.UNA and HighData is SND.MAX, passed in by the caller.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "common/seq_num.hpp"
#include "wire/tcp.hpp"

namespace riptide::tcp {

class SackScoreboard {
 public:
  static constexpr std::size_t kMaxBlocks = 16;
  static constexpr std::uint32_t kDupThresh = 3;  // RFC 6675 DupThresh

  // Records the blocks of an arriving ACK; only what lies above SND.UNA and within
  // SND.MAX counts (a D-SACK block below SND.UNA, or anything bogus, does not).
  // Returns the number of octets newly SACKed (RFC 6675's DupAck test).
  std::uint32_t record(std::span<const wire::SackBlock> blocks, SeqNum snd_una, SeqNum snd_max) noexcept;
  // SND.UNA moved to `snd_una`: drops the blocks below it, trims the first.
  void prune(SeqNum snd_una) noexcept;

  [[nodiscard]] std::size_t count() const noexcept { return count_; }
  // Empty, as constructed (blocks past count() are never read).
  void clear() noexcept { count_ = 0; }
  [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
  [[nodiscard]] std::span<const wire::SackBlock> blocks() const noexcept { return {blocks_.data(), count_}; }
  // The block holding `s`, if any.
  [[nodiscard]] const wire::SackBlock* at(SeqNum s) const noexcept;
  // The first SACKed octet above `s`.
  [[nodiscard]] std::optional<SeqNum> next_after(SeqNum s) const noexcept;
  // SACKed octets below `s` (the blocks all lie above SND.UNA).
  [[nodiscard]] std::uint32_t below(SeqNum s) const noexcept;

  // RFC 6675 4 IsLost() for the hole at SND.UNA (HighACK + 1).
  [[nodiscard]] bool lost_at(SeqNum snd_una, SeqNum snd_max, std::uint32_t smss) const noexcept;
  // RFC 6675 4 SetPipe(): each octet not SACKed counts once if not lost, and once
  // more if it was retransmitted (below HighRxt).
  [[nodiscard]] std::uint32_t pipe(SeqNum snd_una, SeqNum snd_max, SeqNum high_rxt, std::uint32_t smss) const noexcept;
  struct NextSeg {
    SeqNum seq;
    std::uint32_t len;
  };
  // RFC 6675 4 NextSeg() rule (1): the first unSACKed octet above HighRxt in a lost
  // hole; rule (3) (lost_only false): in any hole. At most SMSS octets.
  [[nodiscard]] std::optional<NextSeg> next_seg(SeqNum snd_una, SeqNum snd_max, SeqNum high_rxt, std::uint32_t smss,
                                                bool lost_only) const noexcept;

  // Calls f(start, end, lost) for each hole between SND.UNA and SND.MAX, in order,
  // until f returns false. Everything in one hole has the same SACKed data above it,
  // so IsLost() is a property of the hole; the last hole (nothing SACKed above) is
  // never lost.
  template <class F>
  void for_each_hole(SeqNum snd_una, SeqNum snd_max, std::uint32_t smss, F&& f) const;

 private:
  [[nodiscard]] static bool is_lost_hole(std::size_t blocks_above, std::uint32_t sacked_above,
                                         std::uint32_t smss) noexcept {
    // RFC 6675 4 IsLost(): DupThresh discontiguous SACKed blocks above, or more than
    // (DupThresh - 1) * SMSS bytes SACKed above.
    return blocks_above >= kDupThresh || sacked_above > (kDupThresh - 1) * smss;
  }

  std::array<wire::SackBlock, kMaxBlocks> blocks_{};
  std::size_t count_ = 0;
};

template <class F>
void SackScoreboard::for_each_hole(SeqNum snd_una, SeqNum snd_max, std::uint32_t smss, F&& f) const {
  std::uint32_t sacked_above = 0;
  for (std::size_t j = 0; j < count_; ++j) sacked_above += blocks_[j].right - blocks_[j].left;
  SeqNum pos = snd_una;
  for (std::size_t j = 0; j < count_; ++j) {
    if (pos < blocks_[j].left) {
      if (!f(pos, blocks_[j].left, is_lost_hole(count_ - j, sacked_above, smss))) return;
    }
    sacked_above -= blocks_[j].right - blocks_[j].left;
    pos = seq_max(pos, blocks_[j].right);
  }
  if (pos < snd_max) f(pos, snd_max, false);
}

}  // namespace riptide::tcp
