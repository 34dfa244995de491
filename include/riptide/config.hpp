/// \file
/// <riptide/config.hpp>: the TOML configuration (config/riptide.toml, docs/config.md)
/// and --set overrides, parsed into riptide::runtime::RuntimeConfig, and the
/// StackConfig / InterfaceConfig built from it. Errors name the key and the reason.
/// Thread-safety: plain functions over values; call from any thread.
#pragma once

#include "riptide/stack.hpp"
#include "runtime/config.hpp"
