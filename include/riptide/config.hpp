/// \file
/// <riptide/config.hpp>: the TOML configuration (config/riptide.toml, docs/config.md)
/// and --set overrides, parsed into riptide::runtime::RuntimeConfig, and the
/// StackConfig / InterfaceConfig built from it. Errors name the key and the reason.
/// Thread-safety: plain functions over values; call from any thread.
/// Ownership: values in, values out.
///
/// Partial (issue 13): RuntimeConfig holds InterfaceConfig and RouteTable, so this
/// header includes lib/runtime/config.hpp and through it <riptide/interface.hpp>'s
/// internals (installed under riptide/detail/).
#pragma once

#include "riptide/stack.hpp"
#include "runtime/config.hpp"
