// BackendPool: one listener's backends on one worker, and the choice of a backend
// for each new proxied connection (riptide-proxy, issue 12).
//
//   round-robin        smooth weighted round robin (nginx's): every pick adds each
//                      available backend's weight to its running score, takes the
//                      highest and takes the total off it; weights 1 and 3 give
//                      b a b b | b a b b ..., never a burst of one backend.
//   least-connections  the fewest active connections per unit of weight
//                      (active/weight, compared without division); ties go round
//                      robin from the last pick.
//   source-hash        weighted rendezvous hashing (Thaler & Ravishankar; weights as
//                      in Schindelhauer & Schomaker): each backend scores
//                      weight / -ln(u), u a hash of (client address, backend address
//                      and port; IPv4 or IPv6) in (0,1); the highest available score wins. A backend
//                      that goes down moves only the clients it had (each to its next
//                      best); the others keep theirs, and it gets them back when it
//                      returns. Keyed by the backend's address, not its position, so
//                      reordering the list moves nobody.
//
// Passive health: `down_after` consecutive connect failures (refused, timed out)
// mark a backend down for `retry`; it gets no new connections until then, after
// which the next pick may try it again (one failure then marks it down again at
// once, a success clears the count). down_after 0: never marked down. When every
// backend is down, pick() returns nothing (the proxy counts no_backend and fails
// the client).
//
// Active health (Health::active, the proxy's health checks report check_result()):
// `fall` failed checks in a row take a backend that is up down, `rise` successful
// ones in a row bring it back. With active checks on, passive marking feeds the
// same state: down_after connect failures in a row mark the backend down (as HAProxy's
// observe layer4 + on-error mark-down does) and only `rise` good checks bring it
// back (down_retry_ms is not used: the checks say when it is back, no client
// connection is spent finding out). Without active checks, passive marking works
// as above.
//
// Draining: a backend with weight 0 or drain = true, or set_drain(i, true) at run
// time, is not picked; the connections it has go on until they end.
//
// Per worker: each worker has its own pool (state and counters touched only by its
// core), so health is learned per worker and round robin runs per worker.
//
// Thread-safety: none; the owning core only. Counters (BackendStats) may be read by
// another thread for reports, as Runtime::total_counters() reads the stack's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <vector>

#include "common/endpoint.hpp"
#include "common/proxy_config.hpp"
#include "common/time.hpp"

namespace riptide::apps::proxy {

// Counters per backend, per worker.
struct BackendStats {
  std::uint64_t attempts = 0;        // connects started toward it
  std::uint64_t connected = 0;       // ... that reached ESTABLISHED
  std::uint64_t refused = 0;         // ... answered with a RST
  std::uint64_t timeouts = 0;        // ... that did not connect within connect_timeout_ms
  std::uint64_t failed_other = 0;    // ... that failed otherwise (stack out of ports or memory)
  std::uint64_t bytes_to_backend = 0;
  std::uint64_t bytes_to_client = 0;
  std::uint64_t active = 0;          // proxied connections using it now
  std::uint64_t marked_down = 0;     // times passive health marked it down
  std::uint64_t checks = 0;          // active health checks completed
  std::uint64_t checks_failed = 0;   // ... that failed (refused, timed out, wrong reply, closed)
  std::uint64_t went_down = 0;       // times `fall` failed checks took it down
  std::uint64_t went_up = 0;         // times `rise` good checks brought it back
};

// Every BackendStats counter with its name, in the order above: the sum over
// workers, /riptide/proxy and the exit summary walk this one list.
struct BackendCounter {
  const char* name;
  std::uint64_t BackendStats::*field;
};
inline constexpr BackendCounter kBackendCounters[] = {
    {"attempts", &BackendStats::attempts},
    {"connected", &BackendStats::connected},
    {"refused", &BackendStats::refused},
    {"timeouts", &BackendStats::timeouts},
    {"failed_other", &BackendStats::failed_other},
    {"bytes_to_backend", &BackendStats::bytes_to_backend},
    {"bytes_to_client", &BackendStats::bytes_to_client},
    {"active", &BackendStats::active},
    {"marked_down", &BackendStats::marked_down},
    {"checks", &BackendStats::checks},
    {"checks_failed", &BackendStats::checks_failed},
    {"went_down", &BackendStats::went_down},
    {"went_up", &BackendStats::went_up},
};
static_assert(std::size(kBackendCounters) * sizeof(std::uint64_t) == sizeof(BackendStats),
              "kBackendCounters lists every BackendStats counter");

// Active health checks as the pool sees them (off: passive marking only).
struct HealthOptions {
  bool active = false;
  std::uint32_t rise = 2;
  std::uint32_t fall = 3;
};

enum class Health : std::uint8_t { Up, Down, Drain };
[[nodiscard]] std::string_view to_string(Health h) noexcept;

class BackendPool {
 public:
  struct Backend {
    BackendSpec spec;
    std::int64_t current = 0;               // smooth round robin's running score
    std::uint32_t consecutive_failures = 0;
    bool down = false;
    Instant down_until{};
    BackendStats stats;
    bool drain = false;          // no new connections (spec.draining(), or set_drain())
    bool check_down = false;     // active health says down (or passive marking, with checks on)
    std::uint32_t check_run = 0;  // consecutive check results in the direction that would change it
  };

  BackendPool(const std::vector<BackendSpec>& backends, Balance balance, std::uint32_t down_after,
              Duration retry, HealthOptions health = {});

  // The backend for a new connection from `client` at `now`, or nothing when every
  // backend is down. Does not count anything: the caller calls started() with it.
  // `exclude` takes no part (a retry after that backend failed): source-hash then
  // gives the client's next-ranked backend, the others their next choice.
  [[nodiscard]] std::optional<std::size_t> pick(const IpAddr& client, Instant now,
                                                std::optional<std::size_t> exclude = std::nullopt);

  // A connect toward backend i started (active and attempts go up).
  void started(std::size_t i) noexcept;
  // Its connect completed: the failure count clears, the backend is up.
  void connected(std::size_t i) noexcept;
  enum class Failure : std::uint8_t { Refused, TimedOut, Other };
  // Its connect failed at `now` (refused or timed out count toward down_after).
  void failed(std::size_t i, Failure f, Instant now) noexcept;
  // A proxied connection through backend i ended (active goes down).
  void finished(std::size_t i) noexcept;
  // An active health check of backend i ended: `ok` or not (rise/fall).
  void check_result(std::size_t i, bool ok) noexcept;
  // Draining on or off (on: no new connections; those it has go on).
  void set_drain(std::size_t i, bool on) noexcept { backends_[i].drain = on; }
  // Its state for reports: Drain, Down (active, or passive until its retry time), Up.
  [[nodiscard]] Health health(std::size_t i, Instant now) const noexcept;
  [[nodiscard]] const HealthOptions& health_options() const noexcept { return health_; }

  // Available for new connections at `now`: not down, or its retry time has come.
  [[nodiscard]] bool available(std::size_t i, Instant now) const noexcept {
    const Backend& b = backends_[i];
    return i != excluded_ && !b.drain && !b.check_down && (!b.down || now >= b.down_until);
  }
  [[nodiscard]] std::size_t size() const noexcept { return backends_.size(); }
  [[nodiscard]] const Backend& backend(std::size_t i) const noexcept { return backends_[i]; }
  [[nodiscard]] Backend& backend(std::size_t i) noexcept { return backends_[i]; }
  [[nodiscard]] Balance balance() const noexcept { return balance_; }

  // The rendezvous score's hash for (client, backend): 64 bits, well mixed; either
  // family (an IPv4 client and backend hash as they did before IPv6).
  [[nodiscard]] static std::uint64_t hash(const IpAddr& client, const Endpoint& backend) noexcept;

 private:
  std::optional<std::size_t> pick_round_robin(Instant now);
  std::optional<std::size_t> pick_least_connections(Instant now);
  std::optional<std::size_t> pick_source_hash(const IpAddr& client, Instant now) const;

  std::vector<Backend> backends_;
  Balance balance_;
  std::uint32_t down_after_;
  Duration retry_;
  HealthOptions health_;
  std::size_t next_ = 0;  // least-connections: where ties start
  std::size_t excluded_ = SIZE_MAX;  // during pick(): the backend left out
};

}  // namespace riptide::apps::proxy
