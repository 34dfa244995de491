// EthPort: one DPDK ethdev port (a PCI NIC or a vdev: af_packet, af_xdp, tap, ring,
// null, memif) with one rx and one tx queue per worker, burst I/O on mbufs.
//
// Thread-safety: configuration from one thread at start-up; each queue pair is
// then used by exactly one lcore.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.hpp"
#include "wire/ethernet.hpp"

struct rte_mbuf;
struct rte_mempool;

namespace riptide::io {

struct PortOptions {
  std::string device;  // EAL name (PCI address or vdev name); empty: the first port
  int port_id = -1;    // or the ethdev port id directly (ports made in-process, e.g. rte_eth_from_rings)
  std::uint16_t queues = 1;
  std::uint16_t rx_descriptors = 1024;
  std::uint16_t tx_descriptors = 1024;
  bool promiscuous = false;
  // With several queues: program RSS with this key (and a round-robin RETA) when
  // the port supports RSS on IPv4/TCP; PortCapabilities::hw_rss says if it did.
  const std::uint8_t* rss_key = nullptr;
  std::uint8_t rss_key_len = 0;
  /// IPv6 is configured: RSS must hash IPv6/TCP too (RTE_ETH_RSS_NONFRAG_IPV6_TCP),
  /// else the port is steered in software (a port that hashed only IPv4 would put
  /// every IPv6 segment on queue 0, whatever worker owns its flow).
  bool rss_ipv6 = false;
  bool tx_checksum_offload = true;  // enable IPv4+TCP TX checksum offload if offered
};

// What the port offers that riptide uses.
struct PortCapabilities {
  bool tx_ipv4_cksum = false;
  bool tx_tcp_cksum = false;
  bool rx_cksum = false;
  bool tx_cksum_enabled = false;  // both TX offloads offered and turned on
  std::uint16_t max_queues = 1;
  bool hw_rss = false;  // RSS programmed with our key and a round-robin RETA
  std::uint16_t reta_size = 0;
  std::string driver;
};

class EthPort {
 public:
  // Finds, configures and starts the port. The error says what failed and why.
  static Result<EthPort, std::string> open(const PortOptions& opts, rte_mempool* pool);
  // The ethdev port id of `device` (an EAL name; empty: the first port), or why
  // there is none. open() finds its port with it.
  static Result<std::uint16_t, std::string> find(const std::string& device);

  EthPort(EthPort&& o) noexcept : id_(o.id_), mac_(o.mac_), caps_(o.caps_), started_(o.started_) {
    o.started_ = false;
  }
  EthPort& operator=(EthPort&&) = delete;
  EthPort(const EthPort&) = delete;
  ~EthPort();

  std::uint16_t rx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept;
  std::uint16_t tx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept;

  [[nodiscard]] std::uint16_t id() const noexcept { return id_; }
  [[nodiscard]] const wire::MacAddr& mac() const noexcept { return mac_; }
  [[nodiscard]] const PortCapabilities& capabilities() const noexcept { return caps_; }
  void stop() noexcept;

 private:
  EthPort(std::uint16_t id, wire::MacAddr mac, PortCapabilities caps)
      : id_(id), mac_(mac), caps_(std::move(caps)), started_(true) {}
  std::uint16_t id_;
  wire::MacAddr mac_;
  PortCapabilities caps_;
  bool started_;
};

}  // namespace riptide::io
