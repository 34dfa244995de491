#include "tcp/sack_scoreboard.hpp"

#include <algorithm>

namespace riptide::tcp {

std::uint32_t SackScoreboard::record(std::span<const wire::SackBlock> blocks, SeqNum snd_una,
                                     SeqNum snd_max) noexcept {
  std::uint32_t before = 0;
  for (std::size_t j = 0; j < count_; ++j) before += blocks_[j].right - blocks_[j].left;
  for (wire::SackBlock b : blocks) {
    // Only blocks above SND.UNA and within what was sent count (a D-SACK block
    // reports a duplicate below it; anything else is bogus).
    if (!(snd_una < b.right) || b.right <= b.left || snd_max < b.right) continue;
    if (b.left < snd_una) b.left = snd_una;
    // Merge with what overlaps or touches.
    for (std::size_t j = 0; j < count_;) {
      const wire::SackBlock& o = blocks_[j];
      if (o.left <= b.right && b.left <= o.right) {
        b.left = seq_min(b.left, o.left);
        b.right = seq_max(b.right, o.right);
        for (std::size_t k = j + 1; k < count_; ++k) blocks_[k - 1] = blocks_[k];
        --count_;
      } else {
        ++j;
      }
    }
    // Insert in sequence order; when full, the highest block goes.
    std::size_t at = 0;
    while (at < count_ && blocks_[at].left < b.left) ++at;
    if (count_ == kMaxBlocks) {
      if (at == kMaxBlocks) continue;
      --count_;
    }
    for (std::size_t k = count_; k > at; --k) blocks_[k] = blocks_[k - 1];
    blocks_[at] = b;
    ++count_;
  }
  std::uint32_t after = 0;
  for (std::size_t j = 0; j < count_; ++j) after += blocks_[j].right - blocks_[j].left;
  return after > before ? after - before : 0;
}

void SackScoreboard::prune(SeqNum snd_una) noexcept {
  // The blocks are in order: drop those now below SND.UNA, trim the first.
  std::size_t gone = 0;
  while (gone < count_ && blocks_[gone].right <= snd_una) ++gone;
  if (gone > 0) {
    for (std::size_t k = gone; k < count_; ++k) blocks_[k - gone] = blocks_[k];
    count_ -= gone;
  }
  if (count_ > 0 && blocks_[0].left < snd_una) blocks_[0].left = snd_una;
}

const wire::SackBlock* SackScoreboard::at(SeqNum s) const noexcept {
  for (std::size_t j = 0; j < count_; ++j) {
    if (blocks_[j].left <= s && s < blocks_[j].right) return &blocks_[j];
  }
  return nullptr;
}

std::uint32_t SackScoreboard::below(SeqNum s) const noexcept {
  std::uint32_t n = 0;
  for (std::size_t j = 0; j < count_ && blocks_[j].left < s; ++j) n += seq_min(blocks_[j].right, s) - blocks_[j].left;
  return n;
}

std::optional<SeqNum> SackScoreboard::next_after(SeqNum s) const noexcept {
  std::optional<SeqNum> best;
  for (std::size_t j = 0; j < count_; ++j) {
    if (s < blocks_[j].left && (!best || blocks_[j].left < *best)) best = blocks_[j].left;
  }
  return best;
}

bool SackScoreboard::lost_at(SeqNum snd_una, SeqNum snd_max, std::uint32_t smss) const noexcept {
  bool lost = false;
  for_each_hole(snd_una, snd_max, smss, [&](SeqNum start, SeqNum, bool hole_lost) {
    lost = start == snd_una && hole_lost;
    return false;  // only the first hole matters
  });
  return lost;
}

std::uint32_t SackScoreboard::pipe(SeqNum snd_una, SeqNum snd_max, SeqNum high_rxt, std::uint32_t smss) const noexcept {
  std::uint32_t pipe = 0;
  for_each_hole(snd_una, snd_max, smss, [&](SeqNum start, SeqNum end, bool lost) {
    if (!lost) pipe += end - start;
    if (start < high_rxt) pipe += seq_min(end, high_rxt) - start;
    return true;
  });
  return pipe;
}

std::optional<SackScoreboard::NextSeg> SackScoreboard::next_seg(SeqNum snd_una, SeqNum snd_max, SeqNum high_rxt,
                                                                std::uint32_t smss, bool lost_only) const noexcept {
  std::optional<NextSeg> next;
  for_each_hole(snd_una, snd_max, smss, [&](SeqNum start, SeqNum end, bool lost) {
    const SeqNum from = seq_max(start, high_rxt);
    if (from < end && (lost || !lost_only)) {
      next = NextSeg{from, std::min<std::uint32_t>(end - from, smss)};
      return false;
    }
    return true;
  });
  return next;
}

}  // namespace riptide::tcp
