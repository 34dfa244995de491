// Runs LLVMFuzzerTestOneInput over files and directories given on the command line
// (the seed corpus in tests/fuzz/corpus, or crash files from scripts/fuzz), so the
// fuzz target is exercised by every build, not only by clang's libFuzzer build.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool run_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "fuzz_parsers_replay: cannot read %s\n", p.c_str());
    return false;
  }
  const std::vector<char> bytes{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
  // Exactly sized heap copy so sanitizers see reads past the end.
  std::vector<std::uint8_t> data(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(data.data(), data.size());
  // Every prefix too: the corpus is small and truncations are where parsers break.
  for (std::size_t n = 0; n < data.size(); ++n) {
    std::vector<std::uint8_t> prefix(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
    LLVMFuzzerTestOneInput(prefix.data(), prefix.size());
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t files = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
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
  std::printf("fuzz_parsers_replay: %zu inputs\n", files);
  if (files == 0) {
    std::fprintf(stderr, "usage: fuzz_parsers_replay FILE_OR_DIR...\n");
    return 2;
  }
  return ok ? 0 : 1;
}
