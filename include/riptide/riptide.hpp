/// \file
/// <riptide/riptide.hpp>: every public header (the Stack and its callback API, the
/// Interface, the socket layer, the configuration, the mbuf glue) and the version.
/// Partial (issue 13) as <riptide/interface.hpp> and <riptide/config.hpp> are: it
/// needs riptide/detail on the include path (pkg-config's --cflags give it).
#pragma once

#include "riptide/config.hpp"
#include "riptide/interface.hpp"
#include "riptide/mbuf.hpp"
#include "riptide/memory_link.hpp"
#include "riptide/socket.hpp"
#include "riptide/stack.hpp"
#include "riptide/version.hpp"
