// Runs one parsed packetdrill script against a riptide Stack on a virtual clock,
// with the SocketLayer serving the system calls. TESTING.md, "`.pkt` scripts and
// `riptide-pkt`", is the specification.
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
