// riptide-httpd: an HTTP/1.1 responder on riptide, for curl, wrk and ab.
//   riptide-httpd [EAL args] -- --config config/riptide.toml [--port 80]
//                 [--body-size 64] [--stats 1] [--set KEY=VALUE ...]
// GET /bytes/N answers a body of N bytes (<= 1 GiB) instead of --body-size.
#include <cstdio>
#include <memory>
#include <vector>

#include "common/program.hpp"
#include "common/servers.hpp"

int main(int argc, char** argv) {
  CLI::App app{"riptide-httpd: HTTP/1.1 responder on the riptide TCP stack", "riptide-httpd"};
  riptide::apps::CommonFlags flags;
  riptide::apps::add_common_flags(app, flags);
  std::uint16_t port = 80;
  std::size_t body = 64;
  app.add_option("--port", port, "TCP port to listen on")->check(CLI::Range(1, 65535));
  app.add_option("--body-size", body, "response body size in bytes");
  int status = 0;
  auto rt = riptide::apps::start_program(argc, argv, app, flags, status);
  if (!rt) return status;

  // One server per worker: each core's connections and state are its own.
  std::vector<std::unique_ptr<riptide::apps::HttpServer>> servers;
  for (std::size_t i = 0; i < rt->worker_count(); ++i) {
    servers.push_back(std::make_unique<riptide::apps::HttpServer>(body));
    // `::`: both families (IPv4, and IPv6 when ip6.address is set).
    auto l = rt->worker(i).stack().listen(riptide::IpAddr{}, port, *servers.back());
    if (!l) {
      std::fprintf(stderr, "riptide-httpd: listen on port %u: %s\n", port,
                   std::string(riptide::to_string(l.error())).c_str());
      return 1;
    }
  }
  std::printf("riptide-httpd: listening on %s:%u (%s), body %zu bytes, %zu worker(s)\n",
              riptide::to_string(rt->config().address).c_str(), port,
              rt->interface().config().mac.to_string().c_str(), body, rt->worker_count());
  std::fflush(stdout);
  const int rc = rt->run({flags.stats, "riptide-httpd"});
  riptide::apps::ServerStats s;
  for (const auto& srv : servers) {
    s.connections += srv->stats().connections;
    s.requests += srv->stats().requests;
    s.bad_requests += srv->stats().bad_requests;
  }
  std::printf("riptide-httpd: %llu connections, %llu requests, %llu bad requests\n",
              static_cast<unsigned long long>(s.connections), static_cast<unsigned long long>(s.requests),
              static_cast<unsigned long long>(s.bad_requests));
  rt.reset();
  riptide::runtime::cleanup_eal();
  return rc;
}
