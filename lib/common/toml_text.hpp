// Small text helpers shared by the TOML configuration loaders (lib/runtime/config.cpp
// for the runtime's sections, apps/common/proxy_config.cpp for [proxy]): how a node's
// type is named in error messages, and TOML basic-string quoting. Header-only so the
// DPDK-free proxy library need not link the runtime. Pure; thread-safe.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include <toml++/toml.h>

namespace riptide::toml_format {

inline std::string_view type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

// "expected EXPECTED, got a string" (for a key's message).
inline std::string wrong_type(std::string_view expected, const toml::node& n) {
  return "expected " + std::string(expected) + ", got " + std::string(type_name(n));
}

// A TOML basic string: quotes, backslashes and control characters escaped.
inline std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

}  // namespace riptide::toml_format
