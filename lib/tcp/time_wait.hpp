// TIME-WAIT as a compact record (DESIGN.md): the 4-tuple, the next sequence numbers
// and the last timestamp; no buffers, no timers of the connection's own. 52 bytes
// (the tuple holds two 16-byte addresses, IPv4 or IPv6):
// at hundreds of thousands of closes per second a core holds millions of these. Our
// TSval offset is not kept: it is a keyed hash of the tuple (IsnGenerator::
// ts_offset), computed again for the rare ACK a record sends. The stack keeps the
// records in a ring ordered by expiry (lib/stack/stack.hpp); time_wait_action()
// decides what an arriving segment does to one.
#pragma once

#include <cstdint>

#include "common/ip_addr.hpp"
#include "common/seq_num.hpp"
#include "common/time.hpp"
#include "tcp/segment.hpp"

namespace riptide::tcp {

struct TimeWaitRecord {
  FlowKey key;
  SeqNum snd_nxt;               // after our FIN
  SeqNum rcv_nxt;               // after the peer's FIN
  std::uint32_t ts_recent = 0;  // RFC 7323 TS.Recent
  std::uint16_t window = 0;     // the window field we last advertised
  bool ts_ok = false;
  std::uint8_t rcv_wscale = 0;  // its scale: the window is window << rcv_wscale
};
static_assert(sizeof(TimeWaitRecord) == 52, "TIME-WAIT records are kept compact: see the top of the file");

enum class TimeWaitAction : std::uint8_t {
  Ignore,          // drop silently
  IgnoreRst,       // RFC 1337: RST does not end TIME-WAIT
  Ack,             // unacceptable segment: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
  AckAndRestart,   // retransmitted FIN: ACK it and restart the 2*MSL timer
  ChallengeAck,    // SYN that may not reuse the tuple (RFC 5961 4)
  Reuse,           // SYN that may reuse the tuple (RFC 6191): end TIME-WAIT, open anew
};

[[nodiscard]] TimeWaitAction time_wait_action(const TimeWaitRecord& tw, const Segment& seg) noexcept;

}  // namespace riptide::tcp
