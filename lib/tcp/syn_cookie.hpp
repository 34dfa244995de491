// SYN cookies (RFC 4987 3.6). When a listener cannot or will not keep state for a
// SYN, the SYN-ACK's sequence number carries what the handshake must remember:
//
//   bits 31..27  t: a counter of 64-second periods (mod 32)
//   bits 26..24  index into kCookieMssTable of the largest entry <= the peer's MSS
//   bits 23..0   SipHash-2-4(secret, 4-tuple, peer ISN, t, MSS index), truncated
//
// When the peer sent timestamps, the low 5 bits of our SYN-ACK TSval carry window
// scale (4 bits, 0xF = none) and SACK-permitted (1 bit); the peer echoes them in the
// TSecr of its ACK, so those options survive the stateless handshake (as Linux does).
// Without timestamps a cookie connection has no window scaling and no SACK.
//
// A cookie is accepted when its counter is at most kCookieMaxAge periods old and its
// hash matches: stale cookies and forged ACKs (2^-24 per guess) are rejected.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "common/ip_addr.hpp"
#include "common/seq_num.hpp"
#include "common/time.hpp"
#include "tcp/config.hpp"
#include "tcp/keyed_hash.hpp"

namespace riptide::tcp {

inline constexpr std::array<std::uint16_t, 8> kCookieMssTable = {536,  1200, 1360, 1400,
                                                                 1440, 1460, 4312, 8960};
inline constexpr Duration kCookiePeriod = std::chrono::seconds{64};
inline constexpr std::uint32_t kCookieMaxAge = 1;  // periods: valid 64..128 s
inline constexpr std::uint32_t kCookieTsBits = 5;
inline constexpr std::uint32_t kCookieTsMask = (1u << kCookieTsBits) - 1;
inline constexpr std::uint8_t kCookieNoWscale = 0xF;

// What a valid cookie gives back.
struct CookieOptions {
  std::uint16_t mss = 536;
  std::optional<std::uint8_t> window_scale;  // the peer's shift, when it offered one
  bool sack_permitted = false;
  bool timestamps = false;
};

class SynCookies {
 public:
  explicit SynCookies(const Secret& secret) noexcept : secret_(secret) {}

  // Our ISN for a SYN from `flow` with sequence number peer_isn offering peer_mss.
  [[nodiscard]] SeqNum make(const FlowKey& flow, SeqNum peer_isn, std::uint16_t peer_mss,
                            Instant now) const noexcept;

  // The TSval to send in the cookie SYN-ACK: our clock's value with the peer's
  // options in its low bits, never ahead of ts_now.
  [[nodiscard]] static std::uint32_t encode_ts(std::uint32_t ts_now,
                                               std::optional<std::uint8_t> peer_wscale,
                                               bool peer_sack_permitted) noexcept;

  // Validate the ACK completing a cookie handshake: ack_seq is SEG.ACK, seg_seq
  // SEG.SEQ (the peer's ISN + 1), tsecr the echoed timestamp if the ACK had one.
  [[nodiscard]] std::optional<CookieOptions> check(const FlowKey& flow, SeqNum seg_seq,
                                                   SeqNum ack_seq,
                                                   std::optional<std::uint32_t> tsecr,
                                                   Instant now) const noexcept;

  [[nodiscard]] static std::uint8_t mss_index(std::uint16_t peer_mss) noexcept;

 private:
  [[nodiscard]] std::uint32_t hash24(const FlowKey& flow, SeqNum peer_isn, std::uint32_t t,
                                     std::uint32_t mss_idx) const noexcept;
  Secret secret_;
};

}  // namespace riptide::tcp
