// The parsed form of a packetdrill script: header options and a list of events,
// each with its time and its source line. Written for riptide-pkt; the grammar is
// packetdrill's (github.com/google/packetdrill), restricted to IPv4/TCP.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace riptide::pkt {

struct SourcePos {
  int line = 0;
  int column = 0;
};

// When an event happens. Times are in microseconds from the script's start.
struct EventTime {
  enum class Kind : std::uint8_t { Absolute, Relative, Any } kind = Kind::Absolute;
  std::int64_t us = 0;
  std::optional<std::int64_t> range_end_us;  // "a~b": happens anywhere in [a, b]
  bool range_end_relative = false;
};

// One TCP option as written in a script.
struct ScriptOption {
  enum class Kind : std::uint8_t { Nop, Eol, Mss, WindowScale, SackPermitted, Sack, Timestamp };
  Kind kind = Kind::Nop;
  std::uint32_t value = 0;   // mss, wscale
  std::uint32_t ts_val = 0;  // TS val
  std::uint32_t ts_ecr = 0;  // TS ecr
  std::vector<std::pair<std::uint32_t, std::uint32_t>> sack;  // relative edges
};

struct PacketEvent {
  bool inbound = false;  // '<': injected into the stack; '>': expected from it
  std::uint8_t flags = 0;
  std::uint32_t seq_start = 0;
  std::uint32_t seq_end = 0;
  std::uint32_t payload_len = 0;
  std::optional<std::uint32_t> ack;
  std::optional<std::uint32_t> window;
  bool any_options = false;                    // "<...>"
  std::optional<std::vector<ScriptOption>> options;  // absent: no option list written
  std::string text;  // the packet as written, for messages
};

// A syscall argument expression.
struct Expr {
  enum class Kind : std::uint8_t { Ellipsis, Integer, Symbol, String, List, Struct, BitOr };
  Kind kind = Kind::Integer;
  std::int64_t integer = 0;
  std::string name;  // Symbol name; Struct field names are in `fields`
  std::vector<Expr> items;  // List elements, BitOr operands, Struct values
  std::vector<std::string> fields;
  SourcePos pos;
};

struct SyscallEvent {
  std::string name;
  std::vector<Expr> args;
  std::int64_t expected_result = 0;
  std::optional<std::string> expected_errno;  // "EINPROGRESS"
  bool blocking = false;                      // written "start...end"
  std::int64_t end_us = 0;                    // completion time when blocking
  bool end_relative = false;                  // "start...+d": end is start + d
};

// %{ ... }%: riptide understands `assert tcpi_state == NAME`, `assert
// tcpi_snd_cwnd == N` and `assert tcpi_snd_ssthresh == N` (segments, as Linux's
// tcp_info reports them); anything else is skipped.
struct CommandEvent {
  std::optional<std::string> tcpi_state;  // the state name asserted
  std::optional<std::string> tcpi_field;  // "snd_cwnd" or "snd_ssthresh"
  std::int64_t tcpi_value = 0;
  std::string text;
};

// `shell command`: never run; counted as skipped.
struct ShellEvent {
  std::string text;
};

struct Event {
  SourcePos pos;
  EventTime time;
  std::variant<PacketEvent, SyscallEvent, CommandEvent, ShellEvent> body;
};

struct Script {
  std::string path;
  std::vector<std::pair<std::string, std::string>> options;  // --name=value header lines
  std::vector<Event> events;
};

// A parse error names the line and column (TESTING.md: a script the runner does not
// understand fails, never passes).
struct ParseFailure {
  SourcePos pos;
  std::string message;
};

// Parses script text. On failure returns the first error. `defines` are the names
// `-D NAME` defined, for `#ifdef NAME` / `#ifndef NAME` / `#else` / `#endif`.
std::variant<Script, ParseFailure> parse_script(const std::string& path, const std::string& text,
                                                const std::set<std::string>& defines = {});

}  // namespace riptide::pkt
