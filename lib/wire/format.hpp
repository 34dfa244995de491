// tcpdump-style one-line text for traces, logs and test failure output.
// Not for the data path: these allocate.
#pragma once

#include <cstddef>
#include <string>

#include "common/ip_addr.hpp"
#include "wire/tcp.hpp"

namespace riptide::wire {

// Options in the order write_tcp_header() lays them out, with the NOP padding it
// would emit: "mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7",
// "nop,nop,TS val 5 ecr 6", "nop,nop,sack 2 {100:200}{300:400}". Empty if none.
std::string format_tcp_options(const TcpOptions& o);

// "198.18.0.2.40000 > 198.18.0.1.80: Flags [S.], seq 100:200, ack 5, win 65535,
//  options [mss 1460], length 100"
// As tcpdump -nn -S, with two differences: seq is always shown (tcpdump omits it
// on pure ACKs), and flags letters follow tcpdump's order F S R P . U E W ("none"
// when no flag is set). ", urg N" follows win when URG is set; ack is omitted
// without ACK; options [...] is omitted when there are none to write.
std::string format_tcp(const IpAddr& src, const IpAddr& dst, const TcpHeader& h, std::size_t payload_len);

// The flag letters alone, e.g. "S." or "FP.", "none" for 0.
std::string format_tcp_flags(std::uint8_t flags);

// The view's fields as a value (options as decoded, unknown_count included).
TcpHeader header_of(const TcpView& v) noexcept;

// format_tcp(src, dst, header_of(v), v.payload().size()).
std::string format_tcp(const IpAddr& src, const IpAddr& dst, const TcpView& v);

}  // namespace riptide::wire
