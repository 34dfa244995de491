#include "common/backend_pool.hpp"

#include <cmath>

namespace riptide::apps::proxy {

namespace {

// splitmix64's finaliser: every input bit affects every output bit.
constexpr std::uint64_t mix(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

std::string_view to_string(Health h) noexcept {
  switch (h) {
    case Health::Up: return "up";
    case Health::Down: return "down";
    case Health::Drain: return "drain";
  }
  return "?";
}

BackendPool::BackendPool(const std::vector<BackendSpec>& backends, Balance balance, std::uint32_t down_after,
                         Duration retry, HealthOptions health)
    : balance_(balance), down_after_(down_after), retry_(retry), health_(health) {
  backends_.reserve(backends.size());
  for (const BackendSpec& b : backends) {
    Backend k{b, 0, 0, false, {}, {}};
    k.drain = b.draining();
    backends_.push_back(k);
  }
}

Health BackendPool::health(std::size_t i, Instant now) const noexcept {
  const Backend& b = backends_[i];
  if (b.drain) return Health::Drain;
  if (b.check_down || (b.down && now < b.down_until)) return Health::Down;
  return Health::Up;
}

void BackendPool::check_result(std::size_t i, bool ok) noexcept {
  Backend& b = backends_[i];
  ++b.stats.checks;
  if (!ok) ++b.stats.checks_failed;
  // check_run counts results in a row that point away from the present state.
  if (ok == !b.check_down) {
    b.check_run = 0;
    return;
  }
  ++b.check_run;
  if (b.check_down && b.check_run >= health_.rise) {
    b.check_down = false;
    b.check_run = 0;
    b.consecutive_failures = 0;
    ++b.stats.went_up;
  } else if (!b.check_down && b.check_run >= health_.fall) {
    b.check_down = true;
    b.check_run = 0;
    ++b.stats.went_down;
  }
}

namespace {

// An address as one 64-bit word for the hash: an IPv4 address its 32 bits (as
// before IPv6, so IPv4 clients keep their backends across the change); an IPv6
// address its two halves folded through mix(), so every bit counts.
std::uint64_t fold(const IpAddr& a) noexcept {
  if (a.is_v4()) return a.v4().value;
  std::uint64_t hi = 0, lo = 0;
  for (int i = 0; i < 8; ++i) {
    hi = (hi << 8) | a.bytes[static_cast<std::size_t>(i)];
    lo = (lo << 8) | a.bytes[static_cast<std::size_t>(i + 8)];
  }
  return mix(hi) ^ lo;
}

}  // namespace

std::uint64_t BackendPool::hash(const IpAddr& client, const Endpoint& backend) noexcept {
  const std::uint64_t b = (fold(backend.addr) << 16) | backend.port;
  return mix(mix(fold(client)) ^ b);
}

std::optional<std::size_t> BackendPool::pick(const IpAddr& client, Instant now, std::optional<std::size_t> exclude) {
  excluded_ = exclude.value_or(SIZE_MAX);
  std::optional<std::size_t> chosen;
  switch (balance_) {
    case Balance::RoundRobin: chosen = pick_round_robin(now); break;
    case Balance::LeastConnections: chosen = pick_least_connections(now); break;
    case Balance::SourceHash: chosen = pick_source_hash(client, now); break;
  }
  excluded_ = SIZE_MAX;
  return chosen;
}

std::optional<std::size_t> BackendPool::pick_round_robin(Instant now) {
  // Smooth weighted round robin (nginx ngx_http_upstream_get_peer): over the
  // available backends, current += weight; the highest current wins and gives
  // back the total. A backend that is down takes no part (its score stays).
  std::optional<std::size_t> best;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < backends_.size(); ++i) {
    if (!available(i, now)) continue;
    Backend& b = backends_[i];
    b.current += b.spec.weight;
    total += b.spec.weight;
    if (!best || b.current > backends_[*best].current) best = i;
  }
  if (best) backends_[*best].current -= total;
  return best;
}

std::optional<std::size_t> BackendPool::pick_least_connections(Instant now) {
  // The lowest active/weight, compared as active_a * weight_b < active_b * weight_a;
  // the scan starts after the last pick, so ties rotate.
  std::optional<std::size_t> best;
  const std::size_t n = backends_.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (next_ + k) % n;
    if (!available(i, now)) continue;
    if (!best) {
      best = i;
      continue;
    }
    const Backend& a = backends_[i];
    const Backend& b = backends_[*best];
    if (a.stats.active * b.spec.weight < b.stats.active * a.spec.weight) best = i;
  }
  if (best) next_ = (*best + 1) % n;
  return best;
}

std::optional<std::size_t> BackendPool::pick_source_hash(const IpAddr& client, Instant now) const {
  // Weighted rendezvous hashing: score = weight / -ln(u), u in (0,1) from the hash
  // (53 bits, offset by half a step so it is never 0 or 1). The highest available
  // score wins; a backend that is down only hands its own clients on.
  std::optional<std::size_t> best;
  double best_score = 0;
  for (std::size_t i = 0; i < backends_.size(); ++i) {
    if (!available(i, now)) continue;
    const double u = (static_cast<double>(hash(client, backends_[i].spec.address) >> 11) + 0.5) * 0x1.0p-53;
    const double score = static_cast<double>(backends_[i].spec.weight) / -std::log(u);
    if (!best || score > best_score) {
      best = i;
      best_score = score;
    }
  }
  return best;
}

void BackendPool::started(std::size_t i) noexcept {
  ++backends_[i].stats.attempts;
  ++backends_[i].stats.active;
}

void BackendPool::connected(std::size_t i) noexcept {
  Backend& b = backends_[i];
  ++b.stats.connected;
  b.consecutive_failures = 0;
  b.down = false;
}

void BackendPool::failed(std::size_t i, Failure f, Instant now) noexcept {
  Backend& b = backends_[i];
  switch (f) {
    case Failure::Refused: ++b.stats.refused; break;
    case Failure::TimedOut: ++b.stats.timeouts; break;
    case Failure::Other: ++b.stats.failed_other; return;  // ours, not the backend's
  }
  ++b.consecutive_failures;
  if (health_.active) {
    // With active checks the mark is theirs to lift: down until `rise` good checks.
    if (down_after_ > 0 && b.consecutive_failures >= down_after_ && !b.check_down) {
      ++b.stats.marked_down;
      b.check_down = true;
      b.check_run = 0;
    }
    return;
  }
  if (down_after_ > 0 && b.consecutive_failures >= down_after_) {
    if (!b.down) ++b.stats.marked_down;
    b.down = true;
    b.down_until = now + retry_;
  }
}

void BackendPool::finished(std::size_t i) noexcept {
  if (backends_[i].stats.active > 0) --backends_[i].stats.active;
}

}  // namespace riptide::apps::proxy
