// The owned-loop runtime: EAL start-up, the mbuf pool, the port, and one worker
// loop per lcore that polls its rx queue, runs the Interface and Stack, transmits
// in batches and advances the timers. Programs (apps/) build on this.
//
// Status: one worker (the main lcore, queue 0). Multi-queue RSS, software steering
// through mailboxes, pcapng capture and TX checksum offload are the next steps of
// the runtime issue (see README "Not yet").
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/counters.hpp"
#include "common/result.hpp"
#include "runtime/config.hpp"
#include "ip/interface.hpp"
#include "stack/stack.hpp"
#include "runtime/steering.hpp"
#include "runtime/worker.hpp"

struct rte_mempool;
struct rte_mbuf;
struct rte_pcapng;

namespace riptide::io {
class EthPort;
}

namespace riptide::runtime {

// Starts EAL with the arguments before "--"; returns the program's own arguments
// (argv[0] first). The error is EAL's.
Result<std::vector<std::string>, std::string> init_eal(int argc, char** argv);
void cleanup_eal();

// The current time from the TSC, as the Stack's Instant.
Instant tsc_now() noexcept;

struct LoopOptions {
  unsigned stats_interval_s = 0;  // print a status line every N seconds (0: never)
  std::string program = "riptide";
};

class Runtime {
 public:
  static Result<std::unique_ptr<Runtime>, std::string> create(const RuntimeConfig& cfg);
  ~Runtime();

  // Worker 0's stack and interface (the only ones with lcores.workers = 1).
  [[nodiscard]] Stack& stack() noexcept { return workers_.front()->stack(); }
  [[nodiscard]] Interface& interface() noexcept { return workers_.front()->interface(); }
  // One per worker lcore; set each one's listeners and handlers up before run().
  [[nodiscard]] std::size_t worker_count() const noexcept { return workers_.size(); }
  [[nodiscard]] Worker& worker(std::size_t i) noexcept { return *workers_[i]; }
  // Counters summed over the workers (racy reads of other cores' counters are
  // fine: 64-bit loads do not tear on x86-64).
  [[nodiscard]] Counters total_counters() const;
  [[nodiscard]] const RuntimeConfig& config() const noexcept { return cfg_; }
  // Ports (ports_of(config()), in order), and what went through each: the
  // workers' frames and the ethdev's counters (/riptide/ports, the exit summary).
  [[nodiscard]] std::size_t port_count() const noexcept { return ports_.size(); }
  struct PortReport {
    std::string name, address;
    std::uint16_t ethdev_id = 0;
    std::uint64_t rx = 0, tx = 0, tx_dropped = 0;
    std::uint64_t ipackets = 0, opackets = 0, imissed = 0, ierrors = 0, rx_nombuf = 0;
  };
  [[nodiscard]] PortReport port_report(std::size_t port) const;
  [[nodiscard]] const rte_mempool* mbuf_pool() const noexcept { return pool_; }

  // Polls until SIGINT/SIGTERM or request_stop(); then resets what is still open,
  // flushes, prints the summary and stops the port. Returns the exit status.
  int run(const LoopOptions& o);
  static void request_stop() noexcept;

 private:
  Runtime() = default;
  void print_status(const LoopOptions& o, Instant now);
  void print_summary(const LoopOptions& o);
  void register_telemetry();

  RuntimeConfig cfg_;
  rte_mempool* pool_ = nullptr;
  std::vector<std::unique_ptr<io::EthPort>> ports_;  // ports_of(cfg_), in order
  struct OwnerContext {
    const Steering* steering;
    std::uint16_t index;
  };
  std::unique_ptr<Steering> steering_;
  std::vector<std::unique_ptr<OwnerContext>> owner_ctx_;
  std::vector<std::unique_ptr<Mailbox>> mailboxes_;  // [from * n + to]
  std::vector<std::unique_ptr<Worker>> workers_;
  rte_mempool* capture_pool_ = nullptr;
  std::vector<rte_pcapng*> captures_;
  // Status-line bookkeeping.
  Counters last_{};
  Instant last_status_{};
  Instant started_{};
};

}  // namespace riptide::runtime
