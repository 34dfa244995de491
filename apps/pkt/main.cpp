// riptide-pkt: runs packetdrill-syntax .pkt scripts against riptide on a virtual
// clock, or (--linux) against the Linux kernel in a private network namespace.
// Usage:
//   riptide-pkt [--lenient] [--verbose] [--pcap FILE] [-D NAME]... PATH...
//   riptide-pkt --linux [--oracle] [--tolerance-us N] [--check-window] [--jobs N] ... PATH...
// A PATH that is a directory runs every *.pkt beneath it (sorted). Prints one line
// per script and closes with "N passed, N failed, N skipped"; exits 1 if any failed,
// 2 on a usage error, 77 when --linux cannot run here (not root, no /dev/net/tun).
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "linux_backend.hpp"
#include "pcapng.hpp"
#include "runner.hpp"
#include "script.hpp"

namespace fs = std::filesystem;
using namespace riptide::pkt;

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: riptide-pkt [--lenient] [--verbose] [--pcap FILE] [-D NAME]... PATH...\n"
               "       riptide-pkt --linux [--oracle] [--tolerance-us N] [--check-window] [--jobs N] PATH...\n"
               "  --lenient   compare TCP options as a set; leave outbound window and TSval unchecked\n"
               "              (for scripts written for other stacks)\n"
               "  --verbose   print each script's packet exchange\n"
               "  --pcap FILE write every packet exchanged (all scripts) to FILE as pcapng\n"
               "  -D NAME     define NAME for #ifdef NAME / #ifndef NAME in scripts\n"
               "  --linux     run the scripts against the Linux kernel (a tun device in a private\n"
               "              network namespace, real time; needs root and /dev/net/tun)\n"
               "  --oracle    with --linux: AGREE / DIFFERS (documented by '// linux-differs: why')\n"
               "              / UNEXPLAINED / MARKER-STALE per script\n"
               "  --tolerance-us N  with --linux: the least timing tolerance (default 25000)\n"
               "  --check-window    with --linux: compare the outbound win too\n"
               "  --jobs N    with --linux: scripts run at once, each in its own namespace (default 8)\n"
               "  PATH        a .pkt file, or a directory searched for *.pkt\n");
}

// One script's outcome, as printed.
struct Outcome {
  RunResult::Status status = RunResult::Status::Pass;
  std::string text;  // the PASS/FAIL/SKIP line(s)
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// `// linux-differs: <reason>`: Linux is known to differ from riptide on this script.
std::optional<std::string> linux_differs(const std::string& text) {
  const std::string tag = "// linux-differs:";
  const auto at = text.find(tag);
  if (at == std::string::npos) return std::nullopt;
  const auto eol = text.find('\n', at);
  std::string r = text.substr(at + tag.size(), eol == std::string::npos ? std::string::npos : eol - at - tag.size());
  r.erase(0, r.find_first_not_of(" \t"));
  while (!r.empty() && std::isspace(static_cast<unsigned char>(r.back()))) r.pop_back();
  return r;
}

Outcome run_one(const fs::path& path, const RunOptions& opts, const std::set<std::string>& defines) {
  Outcome out;
  char line[512];
  auto parsed = parse_script(path.string(), read_file(path), defines);
  if (auto* pf = std::get_if<ParseFailure>(&parsed)) {
    out.status = RunResult::Status::Fail;
    std::snprintf(line, sizeof line, "FAIL %s:%d:%d: parse error: ", path.c_str(), pf->pos.line, pf->pos.column);
    out.text = line + pf->message + "\n";
    return out;
  }
  const RunResult r = run_script(std::get<Script>(parsed), opts);
  std::string extra;
  if (r.skipped_lines > 0) extra = " (" + std::to_string(r.skipped_lines) + " lines skipped: %{ }% or `shell`)";
  out.status = r.status;
  switch (r.status) {
    case RunResult::Status::Pass: out.text = "PASS " + path.string() + extra + "\n"; break;
    case RunResult::Status::Skip: out.text = "SKIP " + path.string() + ": " + r.message + "\n"; break;
    case RunResult::Status::Fail:
      out.text = "FAIL " + path.string() + ":" + std::to_string(r.line) + ": " + r.message + extra + "\n";
      break;
  }
  for (const auto& w : r.warnings) out.text += "     warning: " + w + "\n";
  if (opts.verbose && !r.trace.empty()) out.text += r.trace;
  return out;
}

// --linux: every script in a child process of its own, in a network namespace of
// its own (fresh sysctls, nothing left by the previous script, and gone when the
// child exits), up to `jobs` at once: they mostly wait on real time.
std::vector<Outcome> run_linux(const std::vector<fs::path>& scripts, const RunOptions& opts,
                               const std::set<std::string>& defines, int jobs) {
  struct Child {
    pid_t pid;
    int fd;
    std::size_t index;
    std::string text;
  };
  std::vector<Outcome> out(scripts.size());
  std::vector<Child> running;
  std::size_t next = 0;
  std::fflush(stdout);
  while (next < scripts.size() || !running.empty()) {
    while (next < scripts.size() && static_cast<int>(running.size()) < jobs) {
      int p[2];
      if (::pipe(p) < 0) {
        out[next] = {RunResult::Status::Fail, "FAIL " + scripts[next].string() + ": pipe: " + std::strerror(errno) + "\n"};
        ++next;
        continue;
      }
      const pid_t pid = ::fork();
      if (pid == 0) {
        // Only stdio below our own fds: the script's sockets are then 3, 4, ...
        const int result_fd = ::fcntl(p[1], F_DUPFD_CLOEXEC, 300);
        ::close_range(3, 299, 0);
        p[1] = result_fd;
        Outcome o;
        if (auto e = enter_private_netns(); !e.empty()) {
          o = {RunResult::Status::Fail, "FAIL " + scripts[next].string() + ": " + e + "\n"};
        } else {
          o = run_one(scripts[next], opts, defines);
        }
        for (std::size_t k = 0; k < o.text.size();) {
          const ssize_t w = ::write(p[1], o.text.data() + k, o.text.size() - k);
          if (w <= 0) break;
          k += static_cast<std::size_t>(w);
        }
        ::_exit(o.status == RunResult::Status::Pass ? 0 : o.status == RunResult::Status::Skip ? 3 : 1);
      }
      ::close(p[1]);
      if (pid < 0) {
        ::close(p[0]);
        out[next] = {RunResult::Status::Fail, "FAIL " + scripts[next].string() + ": fork: " + std::strerror(errno) + "\n"};
        ++next;
        continue;
      }
      running.push_back({pid, p[0], next++, {}});
    }
    std::vector<pollfd> pfds;
    for (const Child& c : running) pfds.push_back({c.fd, POLLIN, 0});
    (void)::poll(pfds.data(), pfds.size(), -1);
    for (std::size_t k = running.size(); k-- > 0;) {
      if (pfds[k].revents == 0) continue;
      Child& c = running[k];
      char buf[4096];
      const ssize_t n = ::read(c.fd, buf, sizeof buf);
      if (n > 0) {
        c.text.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      ::close(c.fd);
      int st = 0;
      (void)::waitpid(c.pid, &st, 0);
      const int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      Outcome& o = out[c.index];
      o.text = c.text;
      o.status = code == 0 ? RunResult::Status::Pass : code == 3 ? RunResult::Status::Skip : RunResult::Status::Fail;
      if (code < 0 || o.text.empty()) {
        o.status = RunResult::Status::Fail;
        o.text = "FAIL " + scripts[c.index].string() + ": the child running it died (status " + std::to_string(st) + ")\n";
      }
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(k));
    }
  }
  return out;
}

// --oracle: each Linux outcome against the script's `// linux-differs:` marker.
int report_oracle(const std::vector<fs::path>& scripts, const std::vector<Outcome>& outcomes) {
  int agree = 0, documented = 0, unexplained = 0, stale = 0, not_applicable = 0;
  for (std::size_t k = 0; k < scripts.size(); ++k) {
    const auto marker = linux_differs(read_file(scripts[k]));
    const Outcome& o = outcomes[k];
    const char* p = scripts[k].c_str();
    switch (o.status) {
      case RunResult::Status::Skip:
        ++not_applicable;
        std::printf("%s", o.text.c_str());
        break;
      case RunResult::Status::Pass:
        if (marker && marker->starts_with("timing:")) {
          // A difference in when a timer fires that is smaller than the timer
          // wheel's granularity plus the tolerance: Linux passes in some runs.
          ++agree;
          std::printf("AGREE %s (this run; documented %s)\n", p, marker->c_str());
        } else if (marker) {
          ++stale;
          std::printf("MARKER-STALE %s: passes against Linux, yet says linux-differs: %s\n", p, marker->c_str());
        } else {
          ++agree;
          std::printf("AGREE %s\n", p);
        }
        break;
      case RunResult::Status::Fail:
        if (marker) {
          ++documented;
          std::printf("DIFFERS %s (documented: %s)\n", p, marker->c_str());
        } else {
          ++unexplained;
          std::printf("UNEXPLAINED %s", o.text.substr(o.text.find(' ') + 1).c_str());
        }
        break;
    }
  }
  std::printf("%d stale linux-differs markers, %d not applicable to Linux\n", stale, not_applicable);
  std::printf("%d agree, %d documented differences, %d unexplained\n", agree, documented, unexplained);
  std::printf("%d passed, %d failed, %d skipped\n", agree + documented, unexplained + stale, not_applicable);
  return unexplained + stale > 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  RunOptions opts;
  PcapngWriter pcap;
  std::vector<fs::path> scripts;
  std::set<std::string> defines;
  bool oracle = false;
  int jobs = 8;
  std::int64_t linux_tolerance_us = 25000;
  bool check_window = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto number = [&](long long& v) {
      if (i + 1 >= argc) return false;
      char* end = nullptr;
      v = std::strtoll(argv[++i], &end, 10);
      return *end == '\0' && v >= 0;
    };
    long long n = 0;
    if (a == "-D" || (a.rfind("-D", 0) == 0 && a.size() > 2)) {
      if (a == "-D" && i + 1 >= argc) {
        usage();
        return 2;
      }
      defines.insert(a == "-D" ? argv[++i] : a.substr(2));
    } else if (a == "--linux") {
      opts.linux_kernel = true;
    } else if (a == "--oracle") {
      oracle = true;
    } else if (a == "--check-window") {
      check_window = true;
    } else if (a == "--tolerance-us" || a == "--jobs") {
      if (!number(n) || (a == "--jobs" && n == 0)) {
        usage();
        return 2;
      }
      if (a == "--jobs") jobs = static_cast<int>(n);
      else linux_tolerance_us = n;
    } else if (a == "--lenient") {
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

  if (oracle && !opts.linux_kernel) {
    std::fprintf(stderr, "riptide-pkt: --oracle needs --linux\n");
    return 2;
  }
  std::vector<Outcome> outcomes;
  if (opts.linux_kernel) {
    if (auto why = linux_mode_unavailable(); !why.empty()) {
      std::printf("SKIP riptide-pkt --linux: needs root and /dev/net/tun (%s)\n", why.c_str());
      return 77;
    }
    opts.min_tolerance_us = linux_tolerance_us;
    opts.ignore_window = !check_window;
    outcomes = run_linux(scripts, opts, defines, jobs);
    if (oracle) return report_oracle(scripts, outcomes);
  } else {
    for (const fs::path& path : scripts) {
      outcomes.push_back(run_one(path, opts, defines));
      std::printf("%s", outcomes.back().text.c_str());
    }
  }
  int passed = 0, failed = 0, skipped = 0;
  for (const Outcome& o : outcomes) {
    if (opts.linux_kernel) std::printf("%s", o.text.c_str());
    passed += o.status == RunResult::Status::Pass;
    failed += o.status == RunResult::Status::Fail;
    skipped += o.status == RunResult::Status::Skip;
  }
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed > 0 ? 1 : 0;
}
