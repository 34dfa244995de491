// riptide-echo: echoes every connection's bytes back, any number of connections.
//   riptide-echo [EAL args] -- --config config/riptide.toml [--port 7] [--stats 1]
#include <cstdio>
#include <memory>
#include <vector>

#include "common/program.hpp"
#include "common/servers.hpp"

int main(int argc, char** argv) {
  CLI::App app{"riptide-echo: echo server on the riptide TCP stack", "riptide-echo"};
  riptide::apps::CommonFlags flags;
  riptide::apps::add_common_flags(app, flags);
  std::uint16_t port = 7;
  app.add_option("--port", port, "TCP port to listen on")->check(CLI::Range(1, 65535));
  int status = 0;
  auto rt = riptide::apps::start_program(argc, argv, app, flags, status);
  if (!rt) return status;

  // One server per worker: each core's connections and state are its own.
  std::vector<std::unique_ptr<riptide::apps::EchoServer>> servers;
  for (std::size_t i = 0; i < rt->worker_count(); ++i) {
    servers.push_back(std::make_unique<riptide::apps::EchoServer>());
    // `::`: both families (IPv4, and IPv6 when ip6.address is set).
    auto l = rt->worker(i).stack().listen(riptide::IpAddr{}, port, *servers.back());
    if (!l) {
      std::fprintf(stderr, "riptide-echo: listen on port %u: %s\n", port,
                   std::string(riptide::to_string(l.error())).c_str());
      return 1;
    }
  }
  std::printf("riptide-echo: listening on %s:%u\n", riptide::to_string(rt->config().address).c_str(), port);
  std::fflush(stdout);
  const int rc = rt->run({flags.stats, "riptide-echo"});
  riptide::apps::ServerStats s;
  for (const auto& srv : servers) {
    s.connections += srv->stats().connections;
    s.bytes_echoed += srv->stats().bytes_echoed;
  }
  std::printf("riptide-echo: %llu connections, %llu bytes echoed\n", static_cast<unsigned long long>(s.connections),
              static_cast<unsigned long long>(s.bytes_echoed));
  rt.reset();
  riptide::runtime::cleanup_eal();
  return rc;
}
