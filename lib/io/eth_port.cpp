#include "io/eth_port.hpp"

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace riptide::io {

namespace {
std::string dpdk_error(int rc) { return std::string(rte_strerror(rc < 0 ? -rc : rc)); }
}  // namespace

Result<std::uint16_t, std::string> EthPort::find(const std::string& device) {
  std::uint16_t id = RTE_MAX_ETHPORTS;
  if (device.empty()) {
    std::uint16_t pid;
    RTE_ETH_FOREACH_DEV(pid) {
      id = pid;
      break;
    }
    if (id == RTE_MAX_ETHPORTS) {
      return Unexpected{std::string("no DPDK port found: bind a NIC or give --vdev (e.g. net_af_packet0,iface=eth0)")};
    }
  } else if (rte_eth_dev_get_port_by_name(device.c_str(), &id) != 0) {
    return Unexpected{"port '" + device + "' not found (is it in the EAL arguments, e.g. --vdev=" + device +
                      ",iface=...?)"};
  }
  return id;
}

Result<EthPort, std::string> EthPort::open(const PortOptions& opts, rte_mempool* pool) {
  std::uint16_t id = RTE_MAX_ETHPORTS;
  if (opts.port_id >= 0) {
    if (!rte_eth_dev_is_valid_port(static_cast<std::uint16_t>(opts.port_id))) {
      return Unexpected{"port id " + std::to_string(opts.port_id) + " is not a valid ethdev port"};
    }
    id = static_cast<std::uint16_t>(opts.port_id);
  } else {
    auto found = find(opts.device);
    if (!found) return Unexpected{found.error()};
    id = *found;
  }
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(id, &info); rc != 0) {
    return Unexpected{"rte_eth_dev_info_get: " + dpdk_error(rc)};
  }
  PortCapabilities caps;
  caps.driver = info.driver_name ? info.driver_name : "?";
  caps.tx_ipv4_cksum = (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0;
  caps.tx_tcp_cksum = (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) != 0;
  caps.rx_cksum = (info.rx_offload_capa & (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM)) ==
                  (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM);
  caps.max_queues = std::min(info.max_rx_queues, info.max_tx_queues);
  if (opts.queues > caps.max_queues) {
    return Unexpected{"port '" + opts.device + "' (" + caps.driver + ") has " + std::to_string(caps.max_queues) +
                      " queue pairs; " + std::to_string(opts.queues) + " asked"};
  }

  rte_eth_conf conf{};
  // RSS: only when there are several queues, the port hashes IPv4/TCP and takes
  // a key of our length (the symmetric key makes both directions hash alike).
  const bool want_rss = opts.queues > 1 && opts.rss_key != nullptr &&
                        (info.flow_type_rss_offloads & RTE_ETH_RSS_NONFRAG_IPV4_TCP) != 0 &&
                        (!opts.rss_ipv6 || (info.flow_type_rss_offloads & RTE_ETH_RSS_NONFRAG_IPV6_TCP) != 0) &&
                        (info.hash_key_size == 0 || info.hash_key_size == opts.rss_key_len);
  // RX checksum offload when offered: the flags it sets spare a software check.
  if (caps.rx_cksum) conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
  if (want_rss) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = const_cast<std::uint8_t*>(opts.rss_key);
    conf.rx_adv_conf.rss_conf.rss_key_len = opts.rss_key_len;
    // IPv6/TCP too where offered (the symmetric key works over the IPv6 tuple:
    // Steering::hash); needed when IPv6 is configured (want_rss above).
    conf.rx_adv_conf.rss_conf.rss_hf = (RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_IPV4 |
                                        RTE_ETH_RSS_NONFRAG_IPV6_TCP | RTE_ETH_RSS_IPV6) &
                                       info.flow_type_rss_offloads;
  }
  // TX checksum offload when the port has both IPv4 and TCP: the stack then
  // leaves the sums to the NIC (StackConfig::tx_checksum_offload).
  if (opts.tx_checksum_offload && caps.tx_ipv4_cksum && caps.tx_tcp_cksum) {
    conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
    caps.tx_cksum_enabled = true;
  }
  if (int rc = rte_eth_dev_configure(id, opts.queues, opts.queues, &conf); rc != 0) {
    return Unexpected{"rte_eth_dev_configure: " + dpdk_error(rc)};
  }
  std::uint16_t nb_rx = opts.rx_descriptors, nb_tx = opts.tx_descriptors;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(id, &nb_rx, &nb_tx); rc != 0) {
    return Unexpected{"rte_eth_dev_adjust_nb_rx_tx_desc: " + dpdk_error(rc)};
  }
  const int socket = rte_eth_dev_socket_id(id);
  const unsigned sock = socket < 0 ? 0u : static_cast<unsigned>(socket);
  for (std::uint16_t q = 0; q < opts.queues; ++q) {
    if (int rc = rte_eth_rx_queue_setup(id, q, nb_rx, sock, nullptr, pool); rc != 0) {
      return Unexpected{"rte_eth_rx_queue_setup: " + dpdk_error(rc)};
    }
    if (int rc = rte_eth_tx_queue_setup(id, q, nb_tx, sock, nullptr); rc != 0) {
      return Unexpected{"rte_eth_tx_queue_setup: " + dpdk_error(rc)};
    }
  }
  if (int rc = rte_eth_dev_start(id); rc != 0) return Unexpected{"rte_eth_dev_start: " + dpdk_error(rc)};
  if (opts.promiscuous) rte_eth_promiscuous_enable(id);
  if (want_rss && info.reta_size > 0) {
    // Round-robin RETA: entry i -> queue i % queues, as Steering assumes.
    std::vector<rte_eth_rss_reta_entry64> reta(std::max<std::size_t>(1, info.reta_size / RTE_ETH_RETA_GROUP_SIZE));
    for (std::size_t i = 0; i < info.reta_size; ++i) {
      auto& g = reta[i / RTE_ETH_RETA_GROUP_SIZE];
      g.mask |= 1ull << (i % RTE_ETH_RETA_GROUP_SIZE);
      g.reta[i % RTE_ETH_RETA_GROUP_SIZE] = static_cast<std::uint16_t>(i % opts.queues);
    }
    caps.hw_rss = rte_eth_dev_rss_reta_update(id, reta.data(), info.reta_size) == 0;
    caps.reta_size = info.reta_size;
  }
  rte_ether_addr a{};
  rte_eth_macaddr_get(id, &a);
  wire::MacAddr mac;
  std::memcpy(mac.bytes.data(), a.addr_bytes, 6);
  return EthPort(id, mac, caps);
}

EthPort::~EthPort() { stop(); }

void EthPort::stop() noexcept {
  if (!started_) return;
  started_ = false;
  rte_eth_dev_stop(id_);
  rte_eth_dev_close(id_);
}

std::uint16_t EthPort::rx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept {
  return rte_eth_rx_burst(id_, queue, pkts, n);
}

std::uint16_t EthPort::tx_burst(std::uint16_t queue, rte_mbuf** pkts, std::uint16_t n) noexcept {
  return rte_eth_tx_burst(id_, queue, pkts, n);
}

}  // namespace riptide::io
