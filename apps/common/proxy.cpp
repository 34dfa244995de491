#include "common/proxy.hpp"


#include <algorithm>
#include <bit>
#include <cstring>
#include <unordered_map>

namespace riptide::apps::proxy {

// ---------------------------------------------------------------------------------
// ByteRing

void ByteRing::append(std::span<const std::byte> data) {
  if (data.empty()) return;
  if (size_ + data.size() > buf_.size()) {
    // Grow to the next power of two that holds it all, linearising the contents.
    const std::size_t want = std::bit_ceil(std::max<std::size_t>(size_ + data.size(), 4096));
    std::vector<std::byte> bigger(want);
    const std::size_t first = std::min(size_, buf_.size() - head_);
    if (size_ > 0) {
      std::memcpy(bigger.data(), buf_.data() + head_, first);
      std::memcpy(bigger.data() + first, buf_.data(), size_ - first);
    }
    buf_.swap(bigger);
    head_ = 0;
  }
  const std::size_t mask = buf_.size() - 1;
  const std::size_t tail = (head_ + size_) & mask;
  const std::size_t first = std::min(data.size(), buf_.size() - tail);
  std::memcpy(buf_.data() + tail, data.data(), first);
  std::memcpy(buf_.data(), data.data() + first, data.size() - first);
  size_ += data.size();
}

std::span<const std::byte> ByteRing::front() const noexcept {
  if (size_ == 0) return {};
  return {buf_.data() + head_, std::min(size_, buf_.size() - head_)};
}

void ByteRing::consume(std::size_t n) noexcept {
  n = std::min(n, size_);
  size_ -= n;
  head_ = size_ == 0 ? 0 : (head_ + n) & (buf_.size() - 1);
}

// ---------------------------------------------------------------------------------
// The pair, the listener, the leg handler

struct ProxyWorker::Pair {
  std::uint32_t index = 0;
  std::uint32_t generation = 0;
  bool used = false;
  Listener* listener = nullptr;
  std::optional<std::size_t> backend;  // in listener->pool, once picked
  ConnId client{};
  ConnId upstream{};
  bool client_open = false;    // we still hold the leg (its callbacks come to us)
  bool upstream_open = false;
  bool connected = false;      // the upstream reached ESTABLISHED
  bool client_fin = false;     // FIN received from that side
  bool upstream_fin = false;
  bool upstream_shut = false;  // the client's FIN forwarded: shutdown_write(upstream)
  bool client_shut = false;    // the backend's FIN forwarded: shutdown_write(client)
  std::uint32_t client_held = 0;    // what set_receive_held() was last told
  std::uint32_t upstream_held = 0;
  ByteRing to_upstream;  // from the client, not yet taken by the upstream's send buffer
  ByteRing to_client;    // from the backend, not yet taken by the client's
  Instant last_activity{};
  TimerEntry timer;
  // accept_proxy_protocol: the front's PROXY header, until it is complete (the
  // upstream is opened only then: source-hash needs the real client), and what it
  // said (forwarded in our own header when send_proxy_protocol is on).
  bool awaiting_header = false;
  std::vector<std::byte> header;
  std::optional<ProxiedFlow> origin;
  std::optional<IpAddr> counted_client;  // in listener->per_client (max_connections_per_client)
  std::uint32_t retries = 0;                     // connect_retries used
  // mode connect: the request is read into `header` until it is whole; then the
  // destination it named.
  bool awaiting_request = false;
  std::optional<Endpoint> tunnel;
};

// per_client's hash: the address's two 64-bit halves, multiplied and folded.
struct ClientHash {
  std::size_t operator()(const IpAddr& a) const noexcept {
    std::uint64_t hi = 0, lo = 0;
    std::memcpy(&hi, a.bytes.data(), 8);
    std::memcpy(&lo, a.bytes.data() + 8, 8);
    const std::uint64_t h = (hi * 0x9e3779b97f4a7c15ull) ^ (lo * 0xbf58476d1ce4e5b9ull);
    return static_cast<std::size_t>(h ^ (h >> 29));
  }
};

struct ProxyWorker::Listener {
  class Front final : public Handler {  // the listener's handler: only on_accept
   public:
    Front(ProxyWorker& w, Listener& l) : w_(w), l_(l) {}
    void on_accept(Stack&, ConnId c) override { w_.accept(l_, c); }

   private:
    ProxyWorker& w_;
    Listener& l_;
  };

  Listener(ProxyWorker& w, const ListenerSpec& s, std::uint64_t limit, std::uint32_t per_client)
      : spec(s),
        pool(s.backends, s.policy.balance, s.policy.down_after_failures,
             std::chrono::milliseconds{s.policy.down_retry_ms},
             HealthOptions{s.policy.health_check_interval_ms > 0, s.policy.health_check_rise,
                           s.policy.health_check_fall}),
        max_active(limit),
        max_per_client(per_client),
        front(w, *this) {}

  ListenerSpec spec;
  BackendPool pool;
  std::uint64_t max_active;  // this worker's share of max_connections; 0: none
  std::uint32_t max_per_client;  // this worker's share of max_connections_per_client; 0: none
  // Active pairs per client address (only with max_per_client; an entry goes when
  // its count does, so the map holds the clients connected now).
  std::unordered_map<IpAddr, std::uint32_t, ClientHash> per_client;
  ListenerStats stats;
  Front front;
};

// One backend's health check: its timer, and the check connection while one runs.
struct ProxyWorker::HealthCheck {
  Listener* listener = nullptr;
  std::size_t backend = 0;
  TimerEntry timer;
  ConnId conn{};
  bool in_flight = false;
  Instant started{};
  std::vector<std::byte> got;  // the reply so far (up to health_check_expect's length)
};

namespace {
constexpr std::uint16_t kPairTimer = 0;
constexpr std::uint16_t kCheckTimer = 1;
}  // namespace

class ProxyWorker::Probe final : public Handler {
 public:
  explicit Probe(ProxyWorker& w) : w_(w) {}
  void on_connected(Stack&, ConnId c) override { w_.check_connected(c); }
  void on_data(Stack&, ConnId c, std::span<const std::byte> d) override { w_.check_data(c, d); }
  void on_peer_closed(Stack&, ConnId c) override { w_.check_ended(c, std::nullopt); }
  void on_closed(Stack&, ConnId c, CloseReason r) override { w_.check_ended(c, r); }

 private:
  ProxyWorker& w_;
};

class ProxyWorker::Legs final : public Handler {
 public:
  explicit Legs(ProxyWorker& w) : w_(w) {}
  void on_connected(Stack&, ConnId c) override { w_.connected(c); }
  void on_data(Stack&, ConnId c, std::span<const std::byte> d) override { w_.data(c, d); }
  void on_writable(Stack&, ConnId c) override { w_.writable(c); }
  void on_peer_closed(Stack&, ConnId c) override { w_.peer_closed(c); }
  void on_closed(Stack&, ConnId c, CloseReason r) override { w_.closed(c, r); }

 private:
  ProxyWorker& w_;
};

// ---------------------------------------------------------------------------------

ProxyWorker::ProxyWorker(Stack& stack, const ProxyConfig& cfg, std::size_t workers)
    : stack_(stack),
      cfg_(cfg),
      workers_(std::max<std::size_t>(workers, 1)),
      rcv_buf_(stack.config().tcp.rcv_buf),
      legs_(std::make_unique<Legs>(*this)),
      probe_(std::make_unique<Probe>(*this)),
      wheel_(std::chrono::milliseconds{1}, stack.now()) {
  for (const ListenerSpec& s : cfg_.listeners) {
    const std::uint64_t max = s.policy.max_connections;
    const std::uint64_t share = max == 0 ? 0 : (max + workers_ - 1) / workers_;
    // A client's connections spread over the workers by RSS like everyone's: each
    // worker enforces its share (exact with one worker, approximate with several).
    const std::uint32_t per = s.policy.max_connections_per_client;
    const auto per_share = static_cast<std::uint32_t>(per == 0 ? 0 : (per + workers_ - 1) / workers_);
    listeners_.push_back(std::make_unique<Listener>(*this, s, share, per_share));
  }
  // Each pair holds two of the stack's connections.
  pair_count_ = std::max<std::size_t>(stack.config().max_connections / 2, 1);
  pairs_ = std::make_unique<Pair[]>(pair_count_);
  free_.reserve(pair_count_);
  for (std::size_t i = pair_count_; i-- > 0;) {
    pairs_[i].index = static_cast<std::uint32_t>(i);
    pairs_[i].timer.owner = &pairs_[i];
    pairs_[i].timer.kind = kPairTimer;
    free_.push_back(static_cast<std::uint32_t>(i));
  }
}

const ListenerStats& ProxyWorker::listener_stats(std::size_t l) const noexcept { return listeners_[l]->stats; }
const BackendPool& ProxyWorker::pool(std::size_t l) const noexcept { return listeners_[l]->pool; }

ProxyWorker::~ProxyWorker() {
  for (std::size_t i = 0; i < pair_count_; ++i) wheel_.cancel(pairs_[i].timer);
  for (auto& h : checks_) wheel_.cancel(h->timer);
}

void ProxyWorker::set_drain(std::size_t l, std::size_t b, bool on) noexcept { listeners_[l]->pool.set_drain(b, on); }

std::optional<std::string> ProxyWorker::listen() {
  for (std::size_t i = 0; i < listeners_.size(); ++i) {
    Listener& l = *listeners_[i];
    auto r = stack_.listen(l.spec.bind.addr, l.spec.bind.port, l.front);
    if (!r) {
      return "proxy.listener." + std::to_string(i) + ": listen on " + to_string(l.spec.bind) + ": " +
             std::string(riptide::to_string(r.error()));
    }
    // Health checks: the first ones spread over the first interval.
    const std::uint32_t interval = l.spec.policy.health_check_interval_ms;
    if (interval == 0 || l.spec.policy.mode == ListenerMode::Connect) continue;
    const std::size_t n = l.pool.size();
    for (std::size_t b = 0; b < n; ++b) {
      checks_.push_back(std::make_unique<HealthCheck>());
      HealthCheck& h = *checks_.back();
      h.listener = &l;
      h.backend = b;
      h.timer.owner = &h;
      h.timer.kind = kCheckTimer;
      wheel_.schedule(h.timer, stack_.now() + std::chrono::milliseconds{std::uint64_t{interval} * b / n});
    }
  }
  return std::nullopt;
}

void ProxyWorker::poll(Instant now) {
  wheel_.advance(now, [this](TimerEntry& e) {
    if (e.kind == kCheckTimer) {
      on_check_timer(*static_cast<HealthCheck*>(e.owner));
    } else {
      on_timer(*static_cast<Pair*>(e.owner));
    }
  });
}

// ---------------------------------------------------------------------------------
// Health checks

ProxyWorker::HealthCheck* ProxyWorker::check_of(ConnId c) const {
  auto* h = static_cast<HealthCheck*>(stack_.user_data(c));
  return h != nullptr && h->in_flight && h->conn == c ? h : nullptr;
}

void ProxyWorker::on_check_timer(HealthCheck& h) {
  if (h.in_flight) {
    finish_check(h, false);  // health_check_timeout_ms: no (whole) answer
    return;
  }
  start_check(h);
}

void ProxyWorker::start_check(HealthCheck& h) {
  const ListenerPolicy& policy = h.listener->spec.policy;
  const Endpoint& to = h.listener->pool.backend(h.backend).spec.address;
  h.started = stack_.now();
  h.got.clear();
  auto c = stack_.connect(to.addr, to.port, *probe_);
  if (!c) {
    // No port or connection slot here: not the backend's failure; try next time.
    wheel_.schedule(h.timer, h.started + std::chrono::milliseconds{policy.health_check_interval_ms});
    return;
  }
  h.conn = *c;
  h.in_flight = true;
  stack_.set_user_data(*c, &h);
  (void)stack_.set_nodelay(*c, true);
  wheel_.schedule(h.timer, h.started + std::chrono::milliseconds{policy.health_check_timeout_ms});
}

void ProxyWorker::check_connected(ConnId c) {
  HealthCheck* h = check_of(c);
  if (h == nullptr) return;
  const ListenerPolicy& policy = h->listener->spec.policy;
  if (!policy.health_check_send.empty()) {
    // At most 1 KiB (the config's limit) into an empty send buffer: taken whole.
    const auto n = stack_.send(c, std::as_bytes(std::span(policy.health_check_send)));
    if (check_of(c) != h) return;
    if (!n || *n != policy.health_check_send.size()) {
      finish_check(*h, false);
      return;
    }
  }
  if (policy.health_check_expect.empty()) finish_check(*h, true);
}

void ProxyWorker::check_data(ConnId c, std::span<const std::byte> bytes) {
  HealthCheck* h = check_of(c);
  if (h == nullptr) return;
  const std::string& expect = h->listener->spec.policy.health_check_expect;
  if (expect.empty()) return;  // (finished at connect; bytes before that are not looked at)
  const std::size_t take = std::min(bytes.size(), expect.size() - h->got.size());
  h->got.insert(h->got.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
  // Prefix match: the reply must start with `expect`; a difference fails at once.
  const bool same = std::equal(h->got.begin(), h->got.end(), reinterpret_cast<const std::byte*>(expect.data()));
  if (!same) {
    finish_check(*h, false);
  } else if (h->got.size() == expect.size()) {
    finish_check(*h, true);
  }
}

void ProxyWorker::check_ended(ConnId c, std::optional<CloseReason> r) {
  HealthCheck* h = check_of(c);
  if (h == nullptr) return;
  if (r && *r == CloseReason::Aborted) {  // the host's abort_all(): no result
    h->in_flight = false;
    return;
  }
  // Refused, reset, timed out, or closed before the expected bytes.
  finish_check(*h, false, r.has_value());
}

void ProxyWorker::finish_check(HealthCheck& h, bool ok, bool conn_gone) {
  if (h.in_flight) {
    h.in_flight = false;
    stack_.set_user_data(h.conn, nullptr);
    if (!conn_gone) (void)stack_.abort(h.conn);  // RST: no TIME-WAIT per check
  }
  h.listener->pool.check_result(h.backend, ok);
  const Instant next = h.started + std::chrono::milliseconds{h.listener->spec.policy.health_check_interval_ms};
  wheel_.schedule(h.timer, std::max(next, stack_.now()));
}

ProxyWorker::Pair* ProxyWorker::pair_of(ConnId c) const {
  // Each leg carries its pair as the connection's user data, readable in every
  // callback up to and including on_closed(); the check against the pair's own
  // handles guards against a pair already reused.
  auto* p = static_cast<Pair*>(stack_.user_data(c));
  if (p == nullptr || !p->used) return nullptr;
  return (p->client_open && p->client == c) || (p->upstream_open && p->upstream == c) ? p : nullptr;
}

void ProxyWorker::account(std::int64_t delta) noexcept {
  relay_.buffered = static_cast<std::uint64_t>(static_cast<std::int64_t>(relay_.buffered) + delta);
  relay_.buffered_peak = std::max(relay_.buffered_peak, relay_.buffered);
}

// ---------------------------------------------------------------------------------
// Events

void ProxyWorker::accept(Listener& l, ConnId c) {
  ++l.stats.accepted;
  const ListenerPolicy& policy = l.spec.policy;
  if (policy.accept_proxy_protocol && !policy.accept_proxy_from.empty()) {
    const auto info = stack_.info(c);
    const bool trusted = info && std::any_of(policy.accept_proxy_from.begin(), policy.accept_proxy_from.end(),
                                             [&](const Cidr& f) {
                                               // IPv4 CIDRs: an IPv6 front is in none of them.
                                               return info->key.remote_addr.is_v4() &&
                                                      f.contains(info->key.remote_addr.v4());
                                             });
    if (!trusted) {
      ++l.stats.untrusted_fronts;
      (void)stack_.abort(c);
      return;
    }
  }
  if (l.max_active != 0 && l.stats.active >= l.max_active) {
    ++l.stats.over_limit;
    (void)stack_.abort(c);
    return;
  }
  if (free_.empty()) {
    ++l.stats.no_memory;
    (void)stack_.abort(c);
    return;
  }
  std::optional<IpAddr> counted_client;
  if (l.max_per_client != 0) {
    const auto info = stack_.info(c);
    const IpAddr addr = info ? info->key.remote_addr : IpAddr{};
    std::uint32_t& n = l.per_client[addr];
    if (n >= l.max_per_client) {
      if (n == 0) l.per_client.erase(addr);
      ++l.stats.over_client_limit;
      (void)stack_.abort(c);
      return;
    }
    ++n;
    counted_client = addr;
  }
  Pair& p = pairs_[free_.back()];
  free_.pop_back();
  p.used = true;
  p.listener = &l;
  p.counted_client = counted_client;
  p.client = c;
  p.client_open = true;
  p.last_activity = stack_.now();
  ++l.stats.active;
  (void)stack_.set_handler(c, *legs_);
  stack_.set_user_data(c, &p);
  // The relay forwards what it has at once: Nagle on the proxy would only add a
  // delay the endpoints did not ask for.
  (void)stack_.set_nodelay(c, true);
  if (l.spec.policy.accept_proxy_protocol) {
    // The front's header first; it must be complete within connect_timeout_ms.
    p.awaiting_header = true;
    wheel_.schedule(p.timer, stack_.now() + std::chrono::milliseconds{l.spec.policy.connect_timeout_ms});
    return;
  }
  if (l.spec.policy.mode == ListenerMode::Connect) {
    begin_request(p);
    return;
  }
  start_upstream(p);
}

BackendStats* ProxyWorker::backend_stats(Pair& p) noexcept {
  return p.backend ? &p.listener->pool.backend(*p.backend).stats : nullptr;
}

void ProxyWorker::begin_request(Pair& p) {
  // The whole request within connect_request_timeout_ms of the handshake (or of
  // the front's PROXY header).
  p.awaiting_request = true;
  wheel_.schedule(p.timer,
                  stack_.now() + std::chrono::milliseconds{p.listener->spec.policy.connect_request_timeout_ms});
}

void ProxyWorker::take_request(Pair& p, std::span<const std::byte> bytes) {
  Listener& l = *p.listener;
  p.last_activity = stack_.now();
  const std::size_t max = l.spec.policy.connect_request_max_bytes;
  const std::size_t take = std::min(bytes.size(), max - std::min(max, p.header.size()));
  p.header.insert(p.header.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
  const ParsedConnect r = parse_connect_request(p.header, max);
  using S = ParsedConnect::Status;
  switch (r.status) {
    case S::NeedMore: return;
    case S::Malformed: ++l.stats.connect_malformed; answer_and_close(p, 400); return;
    case S::TooLarge: ++l.stats.connect_too_large; answer_and_close(p, 400); return;
    case S::NotIpv4: ++l.stats.connect_not_ipv4; answer_and_close(p, 400); return;
    case S::MethodNotAllowed: ++l.stats.connect_bad_method; answer_and_close(p, 405); return;
    case S::Done: break;
  }
  ++l.stats.connect_requests;
  if (!allowed(l.spec.policy.connect_allow, r.target)) {
    ++l.stats.connect_forbidden;
    answer_and_close(p, 403);
    return;
  }
  p.awaiting_request = false;
  p.tunnel = r.target;
  // What followed the empty line is the tunnel's: relayed like any other bytes.
  std::vector<std::byte> rest(p.header.begin() + static_cast<std::ptrdiff_t>(r.length), p.header.end());
  rest.insert(rest.end(), bytes.begin() + static_cast<std::ptrdiff_t>(take), bytes.end());
  p.header.clear();
  wheel_.cancel(p.timer);
  const ConnId client = p.client;
  const std::uint32_t generation = p.generation;
  start_upstream(p);
  if (!p.used || p.generation != generation) return;  // the connect failed at once: answered
  if (!rest.empty()) data(client, rest);
}

void ProxyWorker::answer_and_close(Pair& p, unsigned status) {
  // The status line, then FIN; whatever else the client sent is dropped.
  if (p.client_open) {
    const std::string response = connect_error_response(status);
    const std::uint32_t generation = p.generation;
    (void)stack_.send(p.client, std::as_bytes(std::span(response)));
    if (!p.used || p.generation != generation) return;
    p.client_open = false;
    (void)stack_.close(p.client);
  }
  if (p.upstream_open) {
    p.upstream_open = false;
    (void)stack_.abort(p.upstream);
  }
  release(p);
}

void ProxyWorker::start_upstream(Pair& p, std::optional<std::size_t> failed) {
  Listener& l = *p.listener;
  Endpoint to{};
  if (p.tunnel) {
    to = *p.tunnel;  // mode connect: where the client asked to go
  } else {
    const auto info = stack_.info(p.client);
    const IpAddr client_addr = p.origin ? p.origin->src : info ? info->key.remote_addr : IpAddr{};
    const auto b = l.pool.pick(client_addr, stack_.now(), failed);
    if (!b) {
      if (!failed) ++l.stats.no_backend;  // (a retry with nowhere else to go is not)
      fail_client(p);
      return;
    }
    p.backend = *b;
    l.pool.started(*b);
    to = l.pool.backend(*b).spec.address;
  }
  // Stack::connect chooses an ephemeral port whose tuple this core owns
  // (StackConfig::owns): the backend's replies come back to this worker.
  auto up = stack_.connect(to.addr, to.port, *legs_);
  if (!up) {
    ++l.stats.connect_errors;
    if (p.backend) l.pool.failed(*p.backend, BackendPool::Failure::Other, stack_.now());
    fail_client(p, 502);
    return;
  }
  p.upstream = *up;
  p.upstream_open = true;
  stack_.set_user_data(*up, &p);
  (void)stack_.set_nodelay(*up, true);
  wheel_.schedule(p.timer, stack_.now() + std::chrono::milliseconds{l.spec.policy.connect_timeout_ms});
}

void ProxyWorker::connected(ConnId c) {
  Pair* p = pair_of(c);
  if (p == nullptr || !(c == p->upstream)) return;
  Listener& l = *p->listener;
  p->connected = true;
  p->last_activity = stack_.now();
  ++l.stats.connected;
  if (p->backend) l.pool.connected(*p->backend);
  if (l.spec.policy.idle_timeout_ms > 0) {
    wheel_.schedule(p->timer, p->last_activity + std::chrono::milliseconds{l.spec.policy.idle_timeout_ms});
  } else {
    wheel_.cancel(p->timer);
  }
  if (l.spec.policy.send_proxy_protocol != ProxyProtocol::Off) {
    // The PROXY protocol header goes first, before any of the client's bytes: the
    // upstream's send buffer is empty at this point, so it is taken whole.
    // The client as the front's header named it, else as this connection shows it.
    const auto info = stack_.info(p->client);
    if (!info && !p->origin) {
      abort_pair(*p);
      return;
    }
    const ProxiedFlow flow = p->origin ? *p->origin
                                       : ProxiedFlow{info->key.remote_addr, info->key.local_addr,
                                                     info->key.remote_port, info->key.local_port};
    const auto header = proxy_header(l.spec.policy.send_proxy_protocol, flow);
    const std::uint32_t generation = p->generation;
    const auto n = stack_.send(p->upstream, header);
    if (!p->used || p->generation != generation) return;
    if (!n || *n != header.size()) {
      abort_pair(*p);
      return;
    }
    ++l.stats.proxy_headers;
  }
  if (p->tunnel && p->client_open) {
    // RFC 9110 9.3.6: a 2xx answer, and from here on the connection is the tunnel.
    // Nothing went to the client before, so its send buffer takes it whole.
    const std::string_view ok = connect_established();
    const std::uint32_t generation = p->generation;
    const auto n = stack_.send(p->client, std::as_bytes(std::span(ok)));
    if (!p->used || p->generation != generation) return;
    if (!n || *n != ok.size()) {
      abort_pair(*p);
      return;
    }
    ++l.stats.connect_established;
  }
  flush(*p, true);  // what the client sent meanwhile, and its FIN
}

void ProxyWorker::data(ConnId c, std::span<const std::byte> bytes) {
  Pair* p = pair_of(c);
  if (p == nullptr) return;
  if (p->awaiting_header && c == p->client) {
    take_header(*p, bytes);
    return;
  }
  if (p->awaiting_request && c == p->client) {
    take_request(*p, bytes);
    return;
  }
  const bool from_client = c == p->client;
  p->last_activity = stack_.now();
  ByteRing& ring = from_client ? p->to_upstream : p->to_client;
  const bool connecting = from_client && !p->connected;  // held until the upstream is up
  const bool dst_ready = from_client ? p->connected && p->upstream_open : p->client_open;
  if (!dst_ready && !connecting) {
    // The other leg is gone (it closed normally, so it had this side's FIN):
    // these bytes have nowhere to go. Not expected of a correct peer.
    abort_pair(*p);
    return;
  }
  if (ring.empty() && dst_ready) {
    // Nothing queued ahead: straight into the other leg's send buffer.
    const std::uint32_t generation = p->generation;
    const auto n = stack_.send(from_client ? p->upstream : p->client, bytes);
    if (!p->used || p->generation != generation) return;  // (a callback inside send ended it)
    const std::size_t sent = n ? *n : 0;
    Listener& l = *p->listener;
    (from_client ? l.stats.bytes_to_backend : l.stats.bytes_to_client) += sent;
    if (BackendStats* b = backend_stats(*p)) (from_client ? b->bytes_to_backend : b->bytes_to_client) += sent;
    bytes = bytes.subspan(sent);
  }
  if (!bytes.empty()) {
    const std::size_t before_cap = ring.capacity();
    ring.append(bytes);
    account(static_cast<std::int64_t>(bytes.size()));
    relay_.ring_bytes += ring.capacity() - before_cap;
    relay_.pair_peak = std::max<std::uint64_t>(relay_.pair_peak, ring.size());
    if (ring.size() > rcv_buf_) relay_.over_window += std::min<std::uint64_t>(bytes.size(), ring.size() - rcv_buf_);
  }
  update_held(*p, from_client);
}

void ProxyWorker::take_header(Pair& p, std::span<const std::byte> bytes) {
  Listener& l = *p.listener;
  p.last_activity = stack_.now();
  const std::size_t take = std::min(bytes.size(), kMaxProxyHeader - p.header.size());
  p.header.insert(p.header.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
  const ParsedProxyHeader r = parse_proxy_header(p.header);
  if (r.status == ParsedProxyHeader::Status::NeedMore && p.header.size() < kMaxProxyHeader) return;
  if (r.status != ParsedProxyHeader::Status::Done) {
    ++l.stats.bad_proxy_headers;  // not from a front that speaks it: reset
    abort_pair(p);
    return;
  }
  ++l.stats.proxy_headers_accepted;
  p.awaiting_header = false;
  p.origin = r.flow;
  // What followed the header is the client's: relayed like any other bytes.
  std::vector<std::byte> rest(p.header.begin() + static_cast<std::ptrdiff_t>(r.length), p.header.end());
  rest.insert(rest.end(), bytes.begin() + static_cast<std::ptrdiff_t>(take), bytes.end());
  p.header.clear();
  p.header.shrink_to_fit();
  wheel_.cancel(p.timer);
  if (l.spec.policy.mode == ListenerMode::Connect) {  // the CONNECT request comes next
    begin_request(p);
    if (!rest.empty()) take_request(p, rest);
    return;
  }
  const ConnId client = p.client;
  const std::uint32_t generation = p.generation;
  start_upstream(p);
  if (!p.used || p.generation != generation) return;  // no backend: the client was failed
  if (!rest.empty()) data(client, rest);
}

void ProxyWorker::writable(ConnId c) {
  Pair* p = pair_of(c);
  if (p == nullptr) return;
  p->last_activity = stack_.now();  // bytes moved on: not idle
  flush(*p, c == p->upstream);
}

void ProxyWorker::peer_closed(ConnId c) {
  Pair* p = pair_of(c);
  if (p == nullptr) return;
  if (p->awaiting_header) {  // a FIN before the whole PROXY header: not a front
    ++p->listener->stats.bad_proxy_headers;
    abort_pair(*p);
    return;
  }
  if (p->awaiting_request) {  // a FIN before the request's end: a malformed request
    ++p->listener->stats.connect_malformed;
    answer_and_close(*p, 400);
    return;
  }
  if (c == p->client) {
    p->client_fin = true;
    flush(*p, true);
  } else {
    p->upstream_fin = true;
    flush(*p, false);
  }
}

void ProxyWorker::closed(ConnId c, CloseReason r) {
  Pair* p = pair_of(c);
  if (p == nullptr) return;
  Listener& l = *p->listener;
  const bool is_client = c == p->client;
  (is_client ? p->client_open : p->upstream_open) = false;
  if (r == CloseReason::Aborted) {
    // The host's abort_all() (shutdown): nobody's failure, nothing counted.
    abort_pair(*p);
    return;
  }
  if (!is_client && !p->connected) {
    // The backend did not take the connection.
    // An ICMP hard error (host unreachable, administratively prohibited) is the
    // backend's failure as much as a RST is: it counts toward marking it down.
    const auto f = r == CloseReason::Refused || r == CloseReason::Unreachable ? BackendPool::Failure::Refused
                   : r == CloseReason::TimedOut ? BackendPool::Failure::TimedOut
                                                : BackendPool::Failure::Other;
    if (p->backend) l.pool.failed(*p->backend, f, stack_.now());
    ++(f == BackendPool::Failure::Refused    ? l.stats.refused
       : f == BackendPool::Failure::TimedOut ? l.stats.timeouts
                                             : l.stats.connect_errors);
    if (p->client_open) {
      retry_or_fail(*p, f == BackendPool::Failure::TimedOut ? 504 : 502);
    } else {
      release(*p);
    }
    return;
  }
  if (r != CloseReason::Normal) {
    // RST from its peer, or retransmissions timed out: the other leg is reset too.
    ++(is_client ? l.stats.client_aborts : l.stats.backend_aborts);
    abort_pair(*p);
    return;
  }
  // Both FINs went through this leg. The other finishes its own close (and may
  // still have bytes to deliver); the pair ends with it.
  if (!p->client_open && !p->upstream_open) release(*p);
}

void ProxyWorker::on_timer(Pair& p) {
  if (!p.used) return;
  Listener& l = *p.listener;
  if (p.awaiting_header) {  // the front's header did not arrive in connect_timeout_ms
    ++l.stats.bad_proxy_headers;
    abort_pair(p);
    return;
  }
  if (p.awaiting_request) {  // RFC 9110 15.5.9: 408, the request took too long
    ++l.stats.connect_request_timeouts;
    answer_and_close(p, 408);
    return;
  }
  if (!p.connected) {
    // connect_timeout_ms: the backend did not answer.
    ++l.stats.timeouts;
    if (p.backend) l.pool.failed(*p.backend, BackendPool::Failure::TimedOut, stack_.now());
    if (p.upstream_open) {
      p.upstream_open = false;
      (void)stack_.abort(p.upstream);
    }
    retry_or_fail(p, 504);
    return;
  }
  const Instant deadline = p.last_activity + std::chrono::milliseconds{l.spec.policy.idle_timeout_ms};
  if (stack_.now() < deadline) {
    wheel_.schedule(p.timer, deadline);
    return;
  }
  ++l.stats.idle_timeouts;
  abort_pair(p);
}

// ---------------------------------------------------------------------------------
// Relay steps

void ProxyWorker::flush(Pair& p, bool to_upstream) {
  ByteRing& ring = to_upstream ? p.to_upstream : p.to_client;
  const bool ready = to_upstream ? p.connected && p.upstream_open : p.client_open;
  if (!ready) return;
  const ConnId dst = to_upstream ? p.upstream : p.client;
  Listener& l = *p.listener;
  BackendStats* b = backend_stats(p);
  const std::uint32_t generation = p.generation;
  while (!ring.empty()) {
    const auto piece = ring.front();
    const auto n = stack_.send(dst, piece);
    if (!p.used || p.generation != generation) return;  // (a callback inside send ended it)
    if (!n || *n == 0) break;
    ring.consume(*n);
    account(-static_cast<std::int64_t>(*n));
    (to_upstream ? l.stats.bytes_to_backend : l.stats.bytes_to_client) += *n;
    if (b != nullptr) (to_upstream ? b->bytes_to_backend : b->bytes_to_client) += *n;
    if (*n < piece.size()) break;  // full: on_writable resumes
  }
  update_held(p, to_upstream);
  // The FIN follows the data that came before it.
  const bool src_fin = to_upstream ? p.client_fin : p.upstream_fin;
  bool& shut = to_upstream ? p.upstream_shut : p.client_shut;
  if (ring.empty() && src_fin && !shut) {
    shut = true;
    (void)stack_.shutdown_write(dst);
  }
}

void ProxyWorker::update_held(Pair& p, bool from_client) {
  const ByteRing& ring = from_client ? p.to_upstream : p.to_client;
  const bool open = from_client ? p.client_open : p.upstream_open;
  std::uint32_t& held = from_client ? p.client_held : p.upstream_held;
  const auto now_held = static_cast<std::uint32_t>(std::min<std::size_t>(ring.size(), UINT32_MAX));
  if (!open || now_held == held) return;
  held = now_held;
  (void)stack_.set_receive_held(from_client ? p.client : p.upstream, now_held);
}

void ProxyWorker::retry_or_fail(Pair& p, unsigned status) {
  // connect_retries: the backend refused or timed out before the client heard
  // anything; another backend (the pool's next choice without this one) gets the
  // connection, what the client sent meanwhile still held for it.
  Listener& l = *p.listener;
  if (p.tunnel || p.retries >= l.spec.policy.connect_retries || !p.client_open) {
    fail_client(p, status);  // (a tunnel has one destination: nowhere else to try)
    return;
  }
  ++p.retries;
  ++l.stats.retries;
  const std::size_t failed = *p.backend;
  l.pool.finished(failed);
  p.backend.reset();
  p.upstream = ConnId{};
  start_upstream(p, failed);
}

void ProxyWorker::fail_client(Pair& p, unsigned status) {
  // A CONNECT client is answered (502 or 504) and closed.
  if (p.tunnel) {
    answer_and_close(p, status);
    return;
  }
  // on_backend_failure: RST (the default: the client sees the backend's refusal),
  // or an orderly FIN. Bytes the client sent are dropped either way.
  if (p.client_open) {
    p.client_open = false;
    if (p.listener->spec.policy.on_backend_failure == BackendFailure::Close) {
      (void)stack_.close(p.client);
    } else {
      (void)stack_.abort(p.client);
    }
  }
  if (p.upstream_open) {
    p.upstream_open = false;
    (void)stack_.abort(p.upstream);
  }
  release(p);
}

void ProxyWorker::abort_pair(Pair& p) {
  // Stack::abort detaches: no callback comes back for either leg.
  if (p.client_open) {
    p.client_open = false;
    (void)stack_.abort(p.client);
  }
  if (p.upstream_open) {
    p.upstream_open = false;
    (void)stack_.abort(p.upstream);
  }
  release(p);
}

void ProxyWorker::release(Pair& p) {
  Listener& l = *p.listener;
  wheel_.cancel(p.timer);
  if (p.backend) l.pool.finished(*p.backend);
  if (l.stats.active > 0) --l.stats.active;
  if (p.counted_client) {
    if (auto it = l.per_client.find(*p.counted_client); it != l.per_client.end() && --it->second == 0) {
      l.per_client.erase(it);
    }
    p.counted_client.reset();
  }
  account(-static_cast<std::int64_t>(p.to_upstream.size() + p.to_client.size()));
  p.to_upstream.clear();
  p.to_client.clear();
  for (const ConnId c : {p.client, p.upstream}) {
    if (stack_.user_data(c) == &p) stack_.set_user_data(c, nullptr);
  }
  const std::uint32_t index = p.index;
  const std::uint32_t generation = p.generation + 1;
  p.used = false;
  p.listener = nullptr;
  p.backend.reset();
  p.client = p.upstream = ConnId{};
  p.client_open = p.upstream_open = p.connected = false;
  p.client_fin = p.upstream_fin = p.upstream_shut = p.client_shut = false;
  p.client_held = p.upstream_held = 0;
  p.awaiting_header = false;
  p.header.clear();
  p.origin.reset();
  p.retries = 0;
  p.awaiting_request = false;
  p.tunnel.reset();
  p.generation = generation;
  free_.push_back(index);
}

}  // namespace riptide::apps::proxy
