// Worker: one lcore's run-to-completion step over one rx/tx queue pair: receive a
// burst, feed the Interface (ARP) and Stack (IPv4/TCP), run due timers, build
// frames into mbufs and transmit them in batches (a partial batch waits at most
// tx_drain_us, and goes at once when the poll was idle).
//
// Thread-safety: a Worker and everything it owns is touched only by its lcore.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "stack/interface.hpp"
#include "stack/stack.hpp"

struct rte_mbuf;
struct rte_mempool;

namespace riptide::io {
class EthPort;
}

namespace riptide::runtime {

struct WorkerOptions {
  std::uint16_t queue = 0;
  std::uint16_t burst = 32;
  std::uint32_t tx_drain_us = 100;
};

class Worker {
 public:
  Worker(io::EthPort& port, rte_mempool* pool, const StackConfig& stack_cfg, const InterfaceConfig& if_cfg,
         const WorkerOptions& opts, Instant now);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // One iteration of the loop; returns how many frames were received.
  std::uint16_t poll_once(Instant now);
  // Sends whatever waits in the tx batch now.
  void flush(Instant now) { flush_tx(now, true); }

  [[nodiscard]] Stack& stack() noexcept { return stack_; }
  [[nodiscard]] Interface& interface() noexcept { return iface_; }

 private:
  void flush_tx(Instant now, bool force);

  io::EthPort& port_;
  rte_mempool* pool_;
  WorkerOptions opts_;
  Stack stack_;
  Interface iface_;
  std::vector<rte_mbuf*> tx_;
  Instant tx_oldest_{};
};

}  // namespace riptide::runtime
