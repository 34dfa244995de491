// riptide-pkt: runs packetdrill-syntax .pkt scripts against riptide on a virtual
// clock. Usage:
//   riptide-pkt [--lenient] [--verbose] [--pcap FILE] PATH...
// A PATH that is a directory runs every *.pkt beneath it (sorted). Prints one line
// per script and closes with "N passed, N failed, N skipped"; exits 1 if any failed,
// 2 on a usage error.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "pcapng.hpp"
#include "runner.hpp"
#include "script.hpp"

namespace fs = std::filesystem;
using namespace riptide::pkt;

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: riptide-pkt [--lenient] [--verbose] [--pcap FILE] PATH...\n"
               "  --lenient   compare TCP options as a set; leave outbound window and TSval unchecked\n"
               "              (for scripts written for other stacks)\n"
               "  --verbose   print each script's packet exchange\n"
               "  --pcap FILE write every packet exchanged (all scripts) to FILE as pcapng\n"
               "  PATH        a .pkt file, or a directory searched for *.pkt\n");
}

}  // namespace

int main(int argc, char** argv) {
  RunOptions opts;
  PcapngWriter pcap;
  std::vector<fs::path> scripts;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--lenient") {
      opts.lenient = true;
    } else if (a == "--verbose" || a == "-v") {
      opts.verbose = true;
    } else if (a == "--pcap") {
      if (i + 1 >= argc) {
        usage();
        return 2;
      }
      if (!pcap.open(argv[++i])) {
        std::fprintf(stderr, "riptide-pkt: cannot write %s: %s\n", argv[i], std::strerror(errno));
        return 2;
      }
      opts.pcap = &pcap;
    } else if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else if (a.rfind("--", 0) == 0) {
      std::fprintf(stderr, "riptide-pkt: unknown option %s\n", a.c_str());
      usage();
      return 2;
    } else {
      std::error_code ec;
      if (fs::is_directory(a, ec)) {
        std::vector<fs::path> found;
        for (const auto& e : fs::recursive_directory_iterator(a)) {
          if (e.is_regular_file() && e.path().extension() == ".pkt") found.push_back(e.path());
        }
        std::sort(found.begin(), found.end());
        scripts.insert(scripts.end(), found.begin(), found.end());
      } else if (fs::is_regular_file(a, ec)) {
        scripts.emplace_back(a);
      } else {
        std::fprintf(stderr, "riptide-pkt: %s: no such file or directory\n", a.c_str());
        return 2;
      }
    }
  }
  if (scripts.empty()) {
    usage();
    return 2;
  }

  int passed = 0, failed = 0, skipped = 0;
  for (const fs::path& path : scripts) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = parse_script(path.string(), text.str());
    if (auto* pf = std::get_if<ParseFailure>(&parsed)) {
      ++failed;
      std::printf("FAIL %s:%d:%d: parse error: %s\n", path.c_str(), pf->pos.line, pf->pos.column,
                  pf->message.c_str());
      continue;
    }
    const RunResult r = run_script(std::get<Script>(parsed), opts);
    std::string extra;
    if (r.skipped_lines > 0) extra = " (" + std::to_string(r.skipped_lines) + " lines skipped: %{ }% or `shell`)";
    switch (r.status) {
      case RunResult::Status::Pass:
        ++passed;
        std::printf("PASS %s%s\n", path.c_str(), extra.c_str());
        break;
      case RunResult::Status::Skip:
        ++skipped;
        std::printf("SKIP %s: %s\n", path.c_str(), r.message.c_str());
        break;
      case RunResult::Status::Fail:
        ++failed;
        std::printf("FAIL %s:%d: %s%s\n", path.c_str(), r.line, r.message.c_str(), extra.c_str());
        break;
    }
    for (const auto& w : r.warnings) std::printf("     warning: %s\n", w.c_str());
    if (opts.verbose && !r.trace.empty()) std::printf("%s", r.trace.c_str());
  }
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed > 0 ? 1 : 0;
}
