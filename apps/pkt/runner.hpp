// Runs one parsed packetdrill script against a riptide Stack on a virtual clock,
// with the SocketLayer serving the system calls, or (linux_kernel) against the
// Linux kernel behind a tun device on real time. TESTING.md, "`.pkt` scripts and
// `riptide-pkt`" and "Linux as the oracle", is the specification.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pcapng.hpp"
#include "script.hpp"

namespace riptide::pkt {

struct RunOptions {
  bool lenient = false;  // options as a set; outbound window and TSval unchecked
  bool verbose = false;  // print the exchange as it happens
  PcapngWriter* pcap = nullptr;
  // --linux: the kernel is the stack under test. The caller has moved the process
  // into a private network namespace (enter_private_netns()).
  bool linux_kernel = false;
  // The outbound `win` is not compared (receive-window sizing is each stack's
  // buffer policy; Linux's autotunes): --linux does this unless --check-window.
  bool ignore_window = false;
  // The tolerance never goes below this (real time on a loaded machine).
  std::int64_t min_tolerance_us = 0;
};

struct RunResult {
  enum class Status : std::uint8_t { Pass, Fail, Skip } status = Status::Pass;
  int line = 0;             // the failing line
  std::string message;      // why it failed or was skipped (several lines allowed)
  int skipped_lines = 0;    // %{ }% and `shell` lines not run
  std::vector<std::string> warnings;  // header options ignored, ...
  std::string trace;        // the exchange (verbose)
};

RunResult run_script(const Script& script, const RunOptions& opts);

}  // namespace riptide::pkt
