// The riptide back end of riptide-pkt: a Stack on a virtual clock with an
// in-memory link; the SocketLayer serves the system calls.
#pragma once

#include <memory>
#include <string>

#include "backend.hpp"
#include "script.hpp"

namespace riptide::pkt {

// The stack runs with riptide's defaults changed by the script's `--riptide.KNOB=VALUE`
// header lines; a bad knob sets `error` (the script fails) and a stand-in default
// stack is built.
std::unique_ptr<Backend> make_riptide_backend(const Script& script, std::string& error);

}  // namespace riptide::pkt
