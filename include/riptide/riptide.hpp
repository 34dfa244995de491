/// \file
/// <riptide/riptide.hpp>: every public header (the Stack and its callback API, the
/// interface configuration, the socket layer, the configuration, the mbuf glue) and
/// the version.
/// Slim, as each of them (issue 13).
#pragma once

#include "riptide/config.hpp"
#include "riptide/interface.hpp"
#include "riptide/mbuf.hpp"
#include "riptide/memory_link.hpp"
#include "riptide/routes.hpp"
#include "riptide/socket.hpp"
#include "riptide/stack.hpp"
#include "riptide/version.hpp"
