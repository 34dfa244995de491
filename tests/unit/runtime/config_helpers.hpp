// load_ok / load_error: riptide::runtime::load_config() in the config tests
// (config_test.cpp, ports_config_test.cpp), failing the test on the unexpected
// outcome.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "runtime/config.hpp"

namespace riptide::runtime::testing {

inline RuntimeConfig load_ok(const std::string& text, const std::vector<std::string>& overrides = {}) {
  auto r = load_config(text, overrides);
  if (auto* e = std::get_if<ConfigError>(&r)) {
    ADD_FAILURE() << "unexpected error: " << e->message;
    return {};
  }
  return std::get<RuntimeConfig>(r);
}

inline std::string load_error(const std::string& text, const std::vector<std::string>& overrides = {}) {
  auto r = load_config(text, overrides);
  if (auto* e = std::get_if<ConfigError>(&r)) return e->message;
  ADD_FAILURE() << "loaded, but an error was expected";
  return {};
}

}  // namespace riptide::runtime::testing
