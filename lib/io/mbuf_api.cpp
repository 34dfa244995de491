// io::MbufDriver, the public facade (include/riptide/mbuf.hpp): each call forwards
// to the engine (MbufEngine, lib/io/mbuf_driver.hpp) it owns, one call per burst.
#include "io/mbuf_driver.hpp"

namespace riptide::io {

MbufDriver::MbufDriver(rte_mempool* pool, const StackConfig& stack_cfg, const InterfaceConfig& if_cfg,
                       MbufDriverOptions opts, Instant now)
    : engine_(std::make_unique<MbufEngine>(pool, stack_cfg, if_cfg, opts, now)), stack_(&engine_->stack()) {}

MbufDriver::MbufDriver(rte_mempool* pool, const StackConfig& stack_cfg, const std::vector<InterfaceConfig>& ports,
                       const RouteTable& routes, MbufDriverOptions opts, Instant now)
    : engine_(std::make_unique<MbufEngine>(pool, stack_cfg, ports, routes, opts, now)),
      stack_(&engine_->stack()) {}

MbufDriver::~MbufDriver() = default;

std::size_t MbufDriver::port_count() const noexcept { return engine_->port_count(); }
void MbufDriver::announce() {
  for (std::size_t i = 0; i < engine_->port_count(); ++i) engine_->interface(i).announce();
}
void MbufDriver::input(rte_mbuf** pkts, std::uint16_t n, Instant now, bool answer_arp, std::uint16_t port) {
  engine_->input(pkts, n, now, answer_arp, port);
}
void MbufDriver::input_one(const rte_mbuf* m, Instant now, bool answer_arp, std::uint16_t port) {
  engine_->input_one(m, now, answer_arp, port);
}
void MbufDriver::advance(Instant now) { engine_->advance(now); }
std::uint16_t MbufDriver::take_tx(rte_mbuf** out, std::uint16_t max, Instant now) {
  return engine_->take_tx(out, max, now);
}
std::size_t MbufDriver::build_tx(Instant now, MbufSink sink, void* ctx) {
  return engine_->build_tx(now, [sink, ctx](rte_mbuf* m) { sink(ctx, m); });
}
std::size_t MbufDriver::tx_backlog() const noexcept { return engine_->tx_backlog(); }

}  // namespace riptide::io
