// Runs LLVMFuzzerTestOneInput over files and directories given on the command line
// (a seed corpus in tests/fuzz/, or crash files from scripts/fuzz), so the fuzz
// targets are exercised by every build, not only by clang's libFuzzer build.
// --no-prefixes: each file once (for replaying a large corpus, e.g. for coverage).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool g_prefixes = true;
const char* g_name = "fuzz_replay";

bool run_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "%s: cannot read %s\n", g_name, p.c_str());
    return false;
  }
  const std::vector<char> bytes{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  // Exactly sized heap copy so sanitizers see reads past the end.
  std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(data.data(), data.size());
  // Every prefix too: the corpus is small and truncations are where parsers break.
  for (std::size_t n = 0; g_prefixes && n < data.size(); ++n) {
    std::vector<std::uint8_t> prefix(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
    LLVMFuzzerTestOneInput(prefix.data(), prefix.size());
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t files = 0;
  bool ok = true;
  g_name = argc > 0 ? argv[0] : g_name;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--no-prefixes") {
      g_prefixes = false;
      continue;
    }
    const std::filesystem::path arg(argv[i]);
    if (std::filesystem::is_directory(arg)) {
      for (const auto& e : std::filesystem::directory_iterator(arg)) {
        if (!e.is_regular_file()) continue;
        ok = run_file(e.path()) && ok;
        ++files;
      }
    } else {
      ok = run_file(arg) && ok;
      ++files;
    }
  }
  std::printf("%s: %zu inputs\n", g_name, files);
  if (files == 0) {
    std::fprintf(stderr, "usage: %s [--no-prefixes] FILE_OR_DIR...\n", g_name);
    return 2;
  }
  return ok ? 0 : 1;
}
