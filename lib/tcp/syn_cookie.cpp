#include "tcp/syn_cookie.hpp"

#include <algorithm>

namespace riptide::tcp {

namespace {
constexpr std::uint8_t kDomainCookie = 3;

std::uint32_t period_of(Instant now) noexcept {
  return static_cast<std::uint32_t>(now.time_since_epoch() / kCookiePeriod);
}
}  // namespace

std::uint8_t SynCookies::mss_index(std::uint16_t peer_mss) noexcept {
  std::uint8_t idx = 0;
  for (std::uint8_t i = 0; i < kCookieMssTable.size(); ++i) {
    if (kCookieMssTable[i] <= peer_mss) idx = i;
  }
  return idx;
}

std::uint32_t SynCookies::hash24(const FlowKey& flow, SeqNum peer_isn, std::uint32_t t,
                                 std::uint32_t mss_idx) const noexcept {
  // The counter and the MSS index are hashed too, so an attacker can neither
  // refresh an old cookie by rewriting its top bits nor raise its MSS.
  const std::uint64_t h =
      keyed_flow_hash(secret_, flow, kDomainCookie, peer_isn.raw(), (t << 3) | mss_idx);
  return static_cast<std::uint32_t>(h) & 0xFFFFFFu;
}

SeqNum SynCookies::make(const FlowKey& flow, SeqNum peer_isn, std::uint16_t peer_mss,
                        Instant now) const noexcept {
  const std::uint32_t t = period_of(now) & 0x1F;
  const std::uint32_t idx = mss_index(peer_mss);
  return SeqNum{(t << 27) | (idx << 24) | hash24(flow, peer_isn, t, idx)};
}

std::uint32_t SynCookies::encode_ts(std::uint32_t ts_now, std::optional<std::uint8_t> peer_wscale,
                                    bool peer_sack_permitted) noexcept {
  const std::uint32_t ws = peer_wscale ? std::min<std::uint32_t>(*peer_wscale, 14) : kCookieNoWscale;
  const std::uint32_t bits = ws | (peer_sack_permitted ? 0x10u : 0u);
  std::uint32_t ts = (ts_now & ~kCookieTsMask) | bits;
  // Never send a TSval ahead of our clock: later segments must not look older to the
  // peer's PAWS check (RFC 7323 5).
  if (static_cast<std::int32_t>(ts - ts_now) > 0) ts -= kCookieTsMask + 1;
  return ts;
}

std::optional<CookieOptions> SynCookies::check(const FlowKey& flow, SeqNum seg_seq,
                                               SeqNum ack_seq, std::optional<std::uint32_t> tsecr,
                                               Instant now) const noexcept {
  const std::uint32_t cookie = (ack_seq - 1).raw();
  const std::uint32_t t = cookie >> 27;
  const std::uint32_t age = (period_of(now) - t) & 0x1F;
  if (age > kCookieMaxAge) return std::nullopt;  // stale
  const SeqNum peer_isn = seg_seq - 1;
  const std::uint32_t idx = (cookie >> 24) & 0x7;
  if ((cookie & 0xFFFFFFu) != hash24(flow, peer_isn, t, idx)) return std::nullopt;  // forged

  CookieOptions opts;
  opts.mss = kCookieMssTable[idx];
  if (tsecr) {
    // RFC 7323 3.2: the ACK echoes our TSval, so its low bits are the options the
    // SYN offered.
    opts.timestamps = true;
    const std::uint32_t ws = *tsecr & 0xF;
    if (ws != kCookieNoWscale) {
      if (ws > 14) return std::nullopt;
      opts.window_scale = static_cast<std::uint8_t>(ws);
    }
    opts.sack_permitted = (*tsecr & 0x10) != 0;
  }
  return opts;
}

std::string_view to_string(SynCookieMode m) noexcept {
  switch (m) {
    case SynCookieMode::Auto: return "auto";
    case SynCookieMode::Always: return "always";
    case SynCookieMode::Never: return "never";
  }
  return "?";
}

std::string_view to_string(CookieNoRecord p) noexcept {
  switch (p) {
    case CookieNoRecord::Reset: return "reset";
    case CookieNoRecord::Drop: return "drop";
  }
  return "?";
}

std::optional<CookieNoRecord> parse_cookie_no_record(std::string_view s) noexcept {
  for (auto p : {CookieNoRecord::Reset, CookieNoRecord::Drop}) {
    if (to_string(p) == s) return p;
  }
  return std::nullopt;
}

}  // namespace riptide::tcp
