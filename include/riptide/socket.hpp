/// \file
/// <riptide/socket.hpp>: a BSD-socket-style layer (file descriptors, non-blocking
/// read/write/accept, poll-style readiness) over a Stack, for code written against
/// sockets. Thread-safety: none; it belongs to its Stack's core.
#pragma once

#include "riptide/stack.hpp"
#include "stack/socket.hpp"
