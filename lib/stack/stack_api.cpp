// riptide::Stack, the public facade (include/riptide/stack.hpp): each call forwards
// to the engine (StackEngine, lib/stack/stack.hpp) it owns. One out-of-line call per
// API call; riptide's per-packet drivers skip it (Stack::engine()).
#include "stack/stack.hpp"

namespace riptide {

Stack::Stack(StackConfig cfg, Instant now)
    : engine_(std::make_unique<StackEngine>(*this, std::move(cfg), now)),
      counters_(&engine_->shared_counters()) {}

Stack::~Stack() = default;

void Stack::input(std::span<const std::byte> p, Instant now, RxChecksum rx) { engine_->input(p, now, rx); }
void Stack::input_ipv4(std::span<const std::byte> p, Instant now, RxChecksum rx) {
  engine_->input_ipv4(p, now, rx);
}
void Stack::input_ipv6(std::span<const std::byte> p, Instant now, RxChecksum rx) {
  engine_->input_ipv6(p, now, rx);
}
void Stack::advance(Instant now) { engine_->advance(now); }
void Stack::set_clock(Instant now) noexcept { engine_->set_clock(now); }
std::size_t Stack::drain_tx(PacketSink sink, void* ctx) {
  return engine_->drain_tx([sink, ctx](std::span<const std::byte> p) { sink(ctx, p); });
}
std::size_t Stack::tx_pending() const noexcept { return engine_->tx_pending(); }
bool Stack::output_raw(std::span<const std::byte> p) { return engine_->output_raw(p); }
std::optional<Instant> Stack::next_timer() const noexcept { return engine_->next_timer(); }
Instant Stack::now() const noexcept { return engine_->now(); }

Result<ListenerId, Error> Stack::listen(IpAddr addr, std::uint16_t port, Handler& h, ListenOptions opts) {
  return engine_->listen(addr, port, h, opts);
}
void Stack::unlisten(ListenerId l) { engine_->unlisten(l); }
std::optional<ConnId> Stack::accept(ListenerId l) { return engine_->accept(l); }
std::size_t Stack::accept_queue_length(ListenerId l) const { return engine_->accept_queue_length(l); }
std::size_t Stack::syn_queue_length(ListenerId l) const { return engine_->syn_queue_length(l); }
Result<ConnId, Error> Stack::connect(IpAddr remote, std::uint16_t remote_port, Handler& h, ConnectOptions opts) {
  return engine_->connect(remote, remote_port, h, opts);
}
Result<std::size_t, Error> Stack::send(ConnId c, std::span<const std::byte> data) { return engine_->send(c, data); }
std::optional<Error> Stack::shutdown_write(ConnId c) { return engine_->shutdown_write(c); }
std::optional<Error> Stack::close(ConnId c) { return engine_->close(c); }
std::optional<Error> Stack::abort(ConnId c) { return engine_->abort(c); }
void Stack::abort_all() { engine_->abort_all(); }
std::optional<Error> Stack::set_nodelay(ConnId c, bool on) { return engine_->set_nodelay(c, on); }
std::optional<Error> Stack::set_keepalive(ConnId c, const Keepalive& k) { return engine_->set_keepalive(c, k); }
std::optional<Error> Stack::set_congestion(ConnId c, tcp::CongestionAlgorithm a) {
  return engine_->set_congestion(c, a);
}
std::optional<Error> Stack::set_buffer_sizes(ConnId c, std::uint32_t rcv_buf, std::uint32_t snd_buf) {
  return engine_->set_buffer_sizes(c, rcv_buf, snd_buf);
}
std::optional<Error> Stack::set_receive_held(ConnId c, std::uint32_t bytes) {
  return engine_->set_receive_held(c, bytes);
}
std::optional<Error> Stack::set_handler(ConnId c, Handler& h) { return engine_->set_handler(c, h); }
void Stack::set_user_data(ConnId c, void* p) { engine_->set_user_data(c, p); }
void* Stack::user_data(ConnId c) const { return engine_->user_data(c); }
std::optional<ConnInfo> Stack::info(ConnId c) const { return engine_->info(c); }
bool Stack::alive(ConnId c) const noexcept { return engine_->alive(c); }
State Stack::state_of(const FlowKey& key) const { return engine_->state_of(key); }
void Stack::for_each_connection(ConnVisitor visit, void* ctx) const {
  engine_->for_each_connection([visit, ctx](const ConnInfo& c) { visit(ctx, c); });
}
bool Stack::time_wait_exists(const FlowKey& key) const { return engine_->time_wait_exists(key); }

std::size_t Stack::connection_count() const noexcept { return engine_->connection_count(); }
std::size_t Stack::time_wait_count() const noexcept { return engine_->time_wait_count(); }
std::array<std::size_t, tcp::kStateCount> Stack::connections_by_state() const noexcept {
  return engine_->connections_by_state();
}
const StackConfig& Stack::config() const noexcept { return engine_->config(); }
void Stack::set_shedding(bool on) noexcept { engine_->set_shedding(on); }
bool Stack::shedding() const noexcept { return engine_->shedding(); }
bool Stack::is_local(const IpAddr& a) const noexcept { return engine_->is_local(a); }
bool Stack::is_local(Ipv4Addr a) const noexcept { return engine_->is_local(a); }
void Stack::set_state_observer(StateObserver f, void* ctx) noexcept { engine_->set_state_observer(f, ctx); }

}  // namespace riptide
