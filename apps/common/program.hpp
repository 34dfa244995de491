// What every riptide program does at start-up: EAL arguments first, then "--",
// then the program's own flags (CLI11): --config FILE, --set KEY=VALUE (any config
// key), --stats SECONDS, --print-config, plus the program's own.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/config.hpp"
#include "runtime/runtime.hpp"

namespace riptide::apps {

struct CommonFlags {
  std::string config_path;
  std::vector<std::string> sets;
  unsigned stats = 0;
  bool print_config = false;
  std::string pcap;
};

inline void add_common_flags(CLI::App& app, CommonFlags& f) {
  app.add_option("--config", f.config_path, "TOML configuration file (see config/riptide.toml)");
  app.add_option("--set", f.sets, "override one configuration key: --set tcp.mss=1400 (repeatable)");
  app.add_option("--stats", f.stats, "print a status line every N seconds (0: never)");
  app.add_flag("--print-config", f.print_config, "print the effective configuration and exit");
  app.add_option("--pcap", f.pcap, "capture every frame received and sent to FILE (pcapng; FILE.N per worker)");
}

// A program's own configuration section (runtime::kProgramSections; riptide-proxy's
// [proxy]), loaded from the same file and --set overrides once the runtime's part has
// loaded. `load` returns the problems (one per line, naming the keys) or nothing;
// `print` gives the section's TOML for --print-config.
struct ProgramSection {
  std::function<std::optional<std::string>(const runtime::RuntimeConfig&, const CommonFlags&)> load;
  std::function<std::string()> print;
};

// Starts EAL, parses flags, loads the configuration (and the program's own section,
// if given) and creates the runtime. Returns null (after printing why) when the
// program should exit with `status`.
inline std::unique_ptr<runtime::Runtime> start_program(int argc, char** argv, CLI::App& app, CommonFlags& flags,
                                                       int& status, const ProgramSection* own = nullptr) {
  auto rest = runtime::init_eal(argc, argv);
  if (!rest) {
    std::fprintf(stderr, "%s: %s\n", app.get_name().c_str(), rest.error().c_str());
    status = 1;
    return nullptr;
  }
  std::vector<std::string> args(rest->rbegin(), rest->rend() - 1);  // CLI11 wants them reversed
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    status = app.exit(e);
    return nullptr;
  }
  if (!flags.pcap.empty()) flags.sets.push_back("capture.pcap=" + flags.pcap);
  auto cfg = flags.config_path.empty() ? runtime::load_config("", flags.sets)
                                       : runtime::load_config_file(flags.config_path, flags.sets);
  if (auto* err = std::get_if<runtime::ConfigError>(&cfg)) {
    std::fprintf(stderr, "%s: configuration: %s\n", app.get_name().c_str(), err->message.c_str());
    status = 1;
    return nullptr;
  }
  const auto& c = std::get<runtime::RuntimeConfig>(cfg);
  if (own != nullptr) {
    if (auto problem = own->load(c, flags)) {
      std::fprintf(stderr, "%s: configuration: %s\n", app.get_name().c_str(), problem->c_str());
      status = 1;
      return nullptr;
    }
  }
  if (flags.print_config) {
    std::printf("%s", runtime::to_toml(c).c_str());
    if (own != nullptr) std::printf("\n%s", own->print().c_str());
    status = 0;
    return nullptr;
  }
  auto rt = runtime::Runtime::create(c);
  if (!rt) {
    std::fprintf(stderr, "%s: %s\n", app.get_name().c_str(), rt.error().c_str());
    status = 1;
    return nullptr;
  }
  return std::move(*rt);
}

}  // namespace riptide::apps
