// riptide-load's lab flood modes (issue 14): the attacks a server on riptide must
// survive, generated on riptide's own data path so that a lab can offer them at
// rates a scripting tool cannot reach.
//
//   syn          SYNs from spoofed sources (a range of addresses and ports), as a
//                SYN flood's bots send them: MSS, SACK-permitted, window scale
//   ack          bare ACKs from spoofed sources (to a listener: each one is checked
//                as a SYN-cookie completion and rejected)
//   rst          blind RSTs; `window` says how the sequence numbers are chosen:
//                In sweeps the sequence space with a stride (every receive window
//                at least that wide is hit once per 2^32/stride packets, RFC 5961's
//                blind in-window attack), Out picks them at random (out of any
//                window but for a chance of window/2^32)
//   data-closed  ACK+PSH segments with a payload to ports nobody listens on
//   hold         connection exhaustion: open `hold` real connections (through the
//                state machine, at `rate` opens/s), keep them idle until the end;
//                with `no_read`, never consume what arrives, so their receive
//                windows close and the server's data waits in its send buffers
//
// Flood packets (every kind but hold) are built whole here, IPv4 and TCP with
// correct checksums, and queued with Stack::output_raw(): they leave through the
// same port as the stack's own segments (the Interface resolves the target's MAC
// with ARP) and never pass the TCP state machine; replies to the spoofed sources
// are not ours and are dropped on arrival.
//
// IPv4 only: riptide-load refuses an IPv6 --server for every kind (issue 13
// leaves IPv6 floods out: they would need IPv6 frames and a lab range of their own).
//
// Bounds (a lab tool, TESTING.md): every address, sources and target, must lie in
// 198.18.0.0/15 (RFC 2544's benchmarking range); a run is bounded both in packets
// (`count`) and in time (`duration`, at most kMaxDuration); validate() refuses
// anything else with the reason.
//
// The pure parts (range parsing, the source picker, the token bucket, the
// sequence source, the packet builder) need neither DPDK nor a Stack and are unit
// tested on their own (tests/unit/apps/flood_test.cpp).
//
// Thread-safety: a FloodGenerator or HoldGenerator is touched only by its Stack's
// core; finished() is atomic and stats() may be read racily by a reporter thread
// (64-bit loads do not tear on x86-64), as LoadGenerator's are.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_addr.hpp"
#include "common/time.hpp"
#include "common/load.hpp"
#include "stack/stack.hpp"

namespace riptide::apps::flood {

enum class Kind : std::uint8_t { Syn, Ack, Rst, DataClosed, Hold };
enum class Window : std::uint8_t { In, Out };  // rst and ack: how sequence numbers are picked
[[nodiscard]] std::string_view to_string(Kind k) noexcept;
[[nodiscard]] std::optional<Kind> parse_kind(std::string_view s) noexcept;

// 198.18.0.0/15: the only addresses a flood may use, as source or target.
[[nodiscard]] constexpr bool in_lab_range(Ipv4Addr a) noexcept { return (a.value & 0xFFFE0000u) == 0xC6120000u; }

inline constexpr Duration kMaxDuration = std::chrono::seconds{600};
inline constexpr std::uint64_t kMaxCount = 1'000'000'000;
inline constexpr double kMaxRate = 100'000'000;  // packets (hold: opens) per second

// An inclusive range of addresses ("A", "A-B" or "A/LEN").
struct AddrRange {
  Ipv4Addr lo{}, hi{};
  [[nodiscard]] std::uint64_t size() const noexcept { return std::uint64_t{hi.value} - lo.value + 1; }
};
[[nodiscard]] std::optional<AddrRange> parse_addr_range(std::string_view s) noexcept;
// An inclusive range of ports ("P" or "LO-HI", 1..65535).
struct PortRange {
  std::uint16_t lo = 1, hi = 65535;
  [[nodiscard]] std::uint32_t size() const noexcept { return std::uint32_t{hi} - lo + 1; }
};
[[nodiscard]] std::optional<PortRange> parse_port_range(std::string_view s) noexcept;

struct FloodParams {
  Kind kind = Kind::Syn;
  Ipv4Addr target{};                   // the server under attack
  PortRange target_ports{80, 80};      // data-closed: closed ports to hit
  AddrRange sources{Ipv4Addr{0xC6130000u}, Ipv4Addr{0xC613FFFFu}};  // 198.19.0.0-198.19.255.255
  PortRange source_ports{1024, 65535};
  double rate = 0;                     // packets/s (hold: opens/s) for this worker; > 0
  std::uint64_t count = 0;             // packets (hold: connections) for this worker; > 0
  Duration duration{};                 // at most kMaxDuration; > 0
  Window window = Window::Out;
  std::uint32_t seq_stride = 65536;    // Window::In
  std::uint16_t payload = 64;          // data-closed bytes per segment (<= 1400)
  std::uint64_t seed = 1;              // random sequence numbers and ISNs
  // hold:
  bool no_read = false;                // never consume data: windows close
  std::string request;                 // sent once on each held connection (may be empty)
  Duration timeout = std::chrono::seconds{5};  // an open that takes longer counts as failed
};
// Empty when `p` is a run this tool may make; else why not, as one sentence.
[[nodiscard]] std::optional<std::string> validate(const FloodParams& p);

// ---------------------------------------------------------------------------------
// Pure parts.

// Spoofed (source address, source port) pairs: the i-th packet's source walks
// the addresses fastest, then the ports, so consecutive packets come from
// different hosts and every pair is used once before any repeats.
class SourcePicker {
 public:
  SourcePicker(AddrRange a, PortRange p) noexcept : a_(a), p_(p) {}
  struct Source {
    Ipv4Addr addr;
    std::uint16_t port;
  };
  [[nodiscard]] Source at(std::uint64_t i) const noexcept {
    const std::uint64_t n = a_.size();
    return {Ipv4Addr{static_cast<std::uint32_t>(a_.lo.value + i % n)},
            static_cast<std::uint16_t>(p_.lo + (i / n) % p_.size())};
  }

 private:
  AddrRange a_;
  PortRange p_;
};

// A token bucket on the caller's clock: `rate` tokens a second, at most `burst`
// kept (starts the caller could not use are dropped beyond that, so a stalled
// core does not come back with a burst larger than `burst`).
class TokenBucket {
 public:
  TokenBucket(double rate, double burst) noexcept : rate_(rate), burst_(burst) {}
  // Tokens available at `now` (whole ones), after refilling. The first call starts
  // the clock with one token.
  std::uint64_t available(Instant now) noexcept;
  void take(std::uint64_t n) noexcept { tokens_ -= static_cast<double>(n); }

 private:
  double rate_, burst_;
  double tokens_ = 1.0;
  Instant last_{};
  bool started_ = false;
};

// Sequence numbers for the i-th packet: Window::In sweeps (seed-derived base +
// i * stride), Window::Out is a seeded xorshift64* stream.
class SeqSource {
 public:
  SeqSource(Window w, std::uint32_t stride, std::uint64_t seed) noexcept;
  std::uint32_t next() noexcept;

 private:
  Window w_;
  std::uint32_t stride_;
  std::uint32_t base_;
  std::uint64_t state_;
  std::uint64_t i_ = 0;
};

// One flood segment.
struct FloodPacket {
  Ipv4Addr src{}, dst{};
  std::uint16_t sport = 0, dport = 0;
  std::uint32_t seq = 0, ack = 0;
  std::uint8_t flags = 0;         // wire::tcp_flags::kSyn, ...
  std::uint16_t window = 65535;
  bool syn_options = false;       // MSS 1460, SACK-permitted, window scale 7
  std::uint16_t payload = 0;      // bytes of 'x'
  std::uint16_t ip_id = 0;
};
// The largest packet build_packet() writes (IPv4 + TCP with options + 1400 bytes).
inline constexpr std::size_t kMaxPacket = 20 + 60 + 1400;
// Writes the IPv4 packet into `out`; returns its length (0: `out` too small).
// `offload`: the TCP checksum holds the pseudo-header sum and the IP checksum 0,
// as a port with transmit checksum offload expects (StackConfig::tx_checksum_offload).
std::size_t build_packet(std::span<std::byte> out, const FloodPacket& p, bool offload = false) noexcept;
// The i-th packet of a flood of kind `p.kind` (not Hold).
[[nodiscard]] FloodPacket packet_for(const FloodParams& p, const SourcePicker& src, SeqSource& seq,
                                     std::uint64_t i) noexcept;

struct FloodStats {
  std::uint64_t syn = 0, ack = 0, rst = 0, data = 0;  // packets queued, by kind
  std::uint64_t tx_full = 0;       // packets not queued: the transmit queue was full
  std::uint64_t hold_opened = 0;   // hold: connections established
  std::uint64_t hold_failed = 0;   // hold: opens refused, reset, timed out, or no port
  std::uint64_t hold_closed = 0;   // hold: held connections the server closed or reset
  std::uint64_t hold_active = 0;   // hold: open now (a gauge)
  std::uint64_t hold_bytes_held = 0;  // hold --no-read: bytes received and never read
  [[nodiscard]] std::uint64_t sent() const noexcept { return syn + ack + rst + data; }
  void add(const FloodStats& o) noexcept;
};

// The run's report: the whole run's parameters (totals over workers), what was
// sent, the flooder's own stack figures.
struct FloodReport {
  FloodParams params;
  std::uint16_t target_port = 0;  // --server's port (data-closed: params.target_ports)
  unsigned workers = 1;
  double seconds = 0;             // from the first poll to the last worker's end
  FloodStats totals;
  load::StackFigures stack;
};
// "riptide-load: flood syn sent 50000 (syn 50000) in 5.00 s, 10000/s; not queued 0"
// (hold: opened, failed, closed by the server, bytes held); one or two lines.
[[nodiscard]] std::string summary_text(const FloodReport& r);
// Schema "riptide-load-flood/1" (README "riptide-load"), newline-terminated.
[[nodiscard]] std::string to_json(const FloodReport& r);

// ---------------------------------------------------------------------------------
// The generators.


// Packet floods (every kind but Hold) on one worker's Stack.
class FloodGenerator {
 public:
  // Worker w of n takes packet indices w, w + n, w + 2n, ... (first_index = w,
  // step = n), so the workers' sources do not overlap.
  FloodGenerator(Stack& stack, const FloodParams& p, std::uint64_t first_index = 0, std::uint64_t step = 1);
  // One step on the Stack's core: queues what the rate allows (no more than the
  // transmit queue takes in one poll), ends the run at count or duration.
  void poll(Instant now);
  [[nodiscard]] bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }
  [[nodiscard]] const FloodStats& stats() const noexcept { return stats_; }
  [[nodiscard]] Instant started_at() const noexcept { return started_at_; }
  [[nodiscard]] Instant finished_at() const noexcept { return finished_at_; }

 private:
  Stack& stack_;
  FloodParams p_;
  SourcePicker src_;
  SeqSource seq_;
  TokenBucket bucket_;
  std::uint64_t next_;  // packet index
  std::uint64_t step_;
  std::uint64_t done_ = 0;
  FloodStats stats_;
  Instant started_at_{}, finished_at_{}, end_at_{};
  std::atomic<bool> finished_{false};
  std::array<std::byte, kMaxPacket> buf_{};
};

// Connection exhaustion (Kind::Hold) on one worker's Stack: the Handler of the
// connections it opens.
class HoldGenerator final : public Handler {
 public:
  HoldGenerator(Stack& stack, const FloodParams& p);
  ~HoldGenerator() override;
  void poll(Instant now);
  [[nodiscard]] bool finished() const noexcept { return finished_.load(std::memory_order_acquire); }
  [[nodiscard]] const FloodStats& stats() const noexcept { return stats_; }
  [[nodiscard]] Instant started_at() const noexcept { return started_at_; }
  [[nodiscard]] Instant finished_at() const noexcept { return finished_at_; }

  void on_connected(Stack& s, ConnId c) override;
  void on_data(Stack& s, ConnId c, std::span<const std::byte> data) override;
  void on_peer_closed(Stack& s, ConnId c) override;
  void on_closed(Stack& s, ConnId c, CloseReason r) override;

 private:
  struct Held {
    ConnId conn{};
    bool open = false;       // established
    bool live = false;       // the stack still has it
    Instant deadline{};      // an open not done by then failed
    std::uint32_t held = 0;  // bytes received and not read (no_read)
  };
  Held* find(ConnId c) noexcept;
  void drop(Held& h) noexcept;  // abort() and forget it

  Stack& stack_;
  FloodParams p_;
  TokenBucket bucket_;
  std::vector<Held> held_;
  std::vector<std::uint32_t> by_conn_;  // stack slot -> index + 1 (0: none)
  std::uint64_t started_ = 0;
  FloodStats stats_;
  Instant started_at_{}, finished_at_{}, end_at_{}, next_check_{};
  bool running_ = false, stopping_ = false;
  std::atomic<bool> finished_{false};
};

}  // namespace riptide::apps::flood
