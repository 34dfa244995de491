// Worker: one lcore's run-to-completion step over one rx/tx queue pair (one per
// port with several ports, each polled in turn): receive a
// burst, feed the Interface (ARP) and Stack (IPv4/TCP), run due timers, build
// frames into mbufs and transmit them in batches (a partial batch waits at most
// tx_drain_us, and goes at once when the poll was idle).
//
// With several workers and no hardware RSS, a frame that lands on the wrong
// worker goes to its owner (Steering) through a single-producer/single-consumer
// mailbox (Boost.Lockfree), one per ordered pair of workers: a connection is only
// ever touched by its owner. ARP frames are handed to every worker (each keeps its
// own neighbour cache).
//
// Thread-safety: a Worker and everything it owns is touched only by its lcore;
// the mailboxes are the only shared state (one writer, one reader each).
#pragma once

#include <boost/lockfree/spsc_queue.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "io/mbuf_driver.hpp"
#include "ip/interface.hpp"
#include "ip/routes.hpp"
#include "stack/stack.hpp"

struct rte_mbuf;
struct rte_mempool;
struct rte_pcapng;

namespace riptide::io {
class EthPort;
}

namespace riptide::runtime {

class Steering;
using Mailbox = boost::lockfree::spsc_queue<rte_mbuf*, boost::lockfree::capacity<4096>>;

// A request from a control thread (telemetry) to a worker.
struct Command {
  enum class Kind : std::uint8_t { SnapshotConnections } kind = Kind::SnapshotConnections;
  std::uint64_t ticket = 0;
};
using CommandMailbox = boost::lockfree::spsc_queue<Command, boost::lockfree::capacity<64>>;

struct WorkerOptions {
  std::uint16_t queue = 0;  // also the worker's index
  std::uint16_t burst = 32;
  std::uint32_t tx_drain_us = 100;
  const Steering* steering = nullptr;  // null: one worker, or hardware RSS decides
  bool tx_checksum_offload = false;    // mark IPv4/TCP frames for the NIC to checksum
  // Stack::set_shedding() while rx bursts come back full: new SYNs get cookies only.
  // Off by default: a cookie saves a connection record, not CPU (the SYN-ACK and the
  // completing ACK each cost a SipHash more than a SYN-RECEIVED record does: about
  // +1,000 instructions per connection, measured with bench/e2e/callgrind.sh), and a
  // server at its CPU ceiling sees full bursts all the time, so shedding there would
  // lower the ceiling. Memory pressure is handled by limits.pressure_percent. For a
  // host whose records, not its CPU, run out under bursts of SYNs.
  bool shed_when_behind = false;
  // lcores.idle_sleep_us: after a poll that received nothing, sleep this long
  // (nanosleep) before the next, giving the core back to others; 0 (the default):
  // busy-poll. Timers and transmit batches wait at most this much longer.
  std::uint32_t idle_sleep_us = 0;
  // In a full receive burst, hand the stack every other frame before the pure SYNs
  // (new connection requests), counted in rx_syn_deferred; per-flow order holds
  // (a SYN without ACK starts a flow). On by default: a poll that is not behind
  // pays one comparison.
  bool syns_last = true;
};

class Worker {
 public:
  Worker(io::EthPort& port, rte_mempool* pool, const StackConfig& stack_cfg, const InterfaceConfig& if_cfg,
         const WorkerOptions& opts, Instant now);
  // Several ports: the worker polls queue opts.queue of every port in turn; port
  // i's link layer is if_cfgs[i]; `routes` (with the ports' connected subnets,
  // Router) picks each outgoing packet's port. One Stack behind all of them.
  Worker(std::vector<io::EthPort*> ports, rte_mempool* pool, const StackConfig& stack_cfg,
         const std::vector<InterfaceConfig>& if_cfgs, const RouteTable& routes, const WorkerOptions& opts,
         Instant now);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Mailboxes: outbox[k] carries frames to worker k, inbox[k] brings them from k
  // (null at our own index).
  void connect_mailboxes(std::vector<Mailbox*> outbox, std::vector<Mailbox*> inbox);

  // One iteration of the loop; returns how many frames were received.
  std::uint16_t poll_once(Instant now);
  // Sends whatever waits in the tx batch now.
  void flush(Instant now) { flush_tx(now, true); }

  [[nodiscard]] Stack& stack() noexcept { return driver_.stack(); }
  [[nodiscard]] Interface& interface() noexcept { return driver_.interface(); }
  [[nodiscard]] Interface& interface(std::size_t port) noexcept { return driver_.interface(port); }
  [[nodiscard]] std::size_t port_count() const noexcept { return ports_.size(); }
  // Frames this worker received from and handed to port i (its own queue pair).
  struct PortTraffic {
    std::uint64_t rx = 0, tx = 0, tx_dropped = 0;
  };
  [[nodiscard]] const PortTraffic& traffic(std::size_t port) const noexcept { return traffic_[port]; }

  // An application step run on the worker's core at every poll, after received
  // packets and due timers and before the transmit batch is built: work that is not
  // a reaction to a packet (a load generator pacing new connections). Set before
  // Runtime::run(); null (the default): none.
  using PollHook = void (*)(void* ctx, Stack& stack, Instant now);
  void set_poll_hook(PollHook hook, void* ctx) noexcept {
    poll_hook_ = hook;
    poll_hook_ctx_ = ctx;
  }
  [[nodiscard]] std::uint16_t index() const noexcept { return opts_.queue; }
  [[nodiscard]] std::uint32_t idle_sleep_us() const noexcept { return opts_.idle_sleep_us; }

  // --pcap: every frame received and sent is copied (from `pool`) into `file`.
  void set_capture(rte_pcapng* file, rte_mempool* pool) noexcept {
    capture_ = file;
    capture_pool_ = pool;
  }

  // A control thread's request for the connection listing travels through the
  // worker's command mailbox and is served on the worker's own core at its next
  // poll (the only safe way to read its tables): request_snapshot() returns a
  // ticket (0 if the mailbox was full); snapshot_ready(ticket) says when
  // snapshot() holds the answer. Producers (telemetry threads) serialise on a
  // mutex, off the data path; the worker's side is lock-free.
  std::uint64_t request_snapshot() {
    std::lock_guard<std::mutex> lock(command_producers_);
    const std::uint64_t ticket = ++next_ticket_;
    return commands_.push(Command{Command::Kind::SnapshotConnections, ticket}) ? ticket : 0;
  }
  [[nodiscard]] bool snapshot_ready(std::uint64_t ticket) const noexcept {
    return snapshot_served_.load(std::memory_order_acquire) >= ticket;
  }
  [[nodiscard]] const std::vector<ConnInfo>& snapshot() const noexcept { return snapshot_; }

 private:
  void flush_tx(Instant now, bool force);
  void flush_port(std::size_t p, Instant now, bool force);
  void capture(std::size_t port, rte_mbuf* const* pkts, std::uint16_t n, bool outbound) noexcept;
  // Moves the pure SYNs among pkts[0, n) after the other frames (stable); returns
  // how many SYNs now follow a frame they came before.
  static std::uint16_t syns_last(rte_mbuf** pkts, std::uint16_t n) noexcept;
  void serve_snapshot();
  bool steer(rte_mbuf* m);                      // true: handed to another worker

  std::vector<io::EthPort*> ports_;
  rte_mempool* pool_;
  WorkerOptions opts_;
  io::MbufEngine driver_;  // the Stack and its Interfaces, fed and drained with mbufs
  struct TxBatch {
    std::vector<rte_mbuf*> frames;
    Instant oldest{};
  };
  std::vector<TxBatch> tx_;  // one per port
  std::vector<PortTraffic> traffic_;  // one per port
  std::vector<Mailbox*> outbox_;
  std::vector<Mailbox*> inbox_;
  rte_pcapng* capture_ = nullptr;
  rte_mempool* capture_pool_ = nullptr;
  CommandMailbox commands_;
  std::mutex command_producers_;
  std::uint64_t next_ticket_ = 0;  // guarded by command_producers_
  std::atomic<std::uint64_t> snapshot_served_{0};
  std::vector<ConnInfo> snapshot_;
  PollHook poll_hook_ = nullptr;
  void* poll_hook_ctx_ = nullptr;
};

}  // namespace riptide::runtime
