// The Linux back end of riptide-pkt (`--linux`): the kernel's own TCP is the stack
// under test, as in packetdrill. The process lives in a private network namespace
// with a tun device holding 198.18.0.1/24 (2001:db8::1/64 for --ip_version=ipv6);
// packets the kernel sends to the remote (198.18.0.2, 2001:db8::2) come out of the
// tun fd and packets written to it are received by the kernel. Time is real.
// docs/pkt.md, "riptide-pkt --linux", says how and why.
#pragma once

#include <memory>
#include <string>

#include "backend.hpp"
#include "runner.hpp"
#include "script.hpp"

namespace riptide::pkt {

// Moves the calling process into a fresh network namespace of its own (it dies with
// the process: nothing is left behind). Needs root (CAP_SYS_ADMIN). Empty on
// success, else why not.
std::string enter_private_netns();

// Whether --linux can run here (root and /dev/net/tun); empty when it can.
std::string linux_mode_unavailable();

// Sets up the namespace (lo, the tun device, sysctls for the script's
// `--riptide.*` knobs) and returns the back end. On failure returns null with
// `error`; a knob with no Linux equivalent sets `skip` (the script is not
// applicable to Linux) and returns null.
std::unique_ptr<Backend> make_linux_backend(const Script& script, const RunOptions& opts, std::string& error,
                                            std::string& skip);

}  // namespace riptide::pkt
