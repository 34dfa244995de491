// riptide-appliance: an example embedder (issue 13, docs/embedding.md). A tiny
// l2fwd-style packet appliance that owns its DPDK loop: it answers UDP datagrams to
// one port itself (it swaps the addresses and sends the frame back out: "traffic it
// forwards itself"), and gives every other frame to riptide, which terminates TCP on
// one port with an echo service (and answers ARP and ICMP echo).
//
// Built outside the tree against the installed library:
//   c++ -std=c++20 -O2 appliance.cpp $(pkg-config --cflags --libs riptide) -o riptide-appliance
// Run (EAL arguments first, then the appliance's):
//   riptide-appliance --no-huge --no-pci --vdev=net_af_packet0,iface=veth0 -- --addr 198.18.0.1/24 --tcp-port 7 --udp-port 9 --seconds 60
// It stops after --seconds or on SIGINT/SIGTERM and prints what it did.
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include <riptide/riptide.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

volatile std::sig_atomic_t g_stop = 0;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "riptide-appliance: %s\n", what.c_str());
  std::exit(1);
}

riptide::Instant now() {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::steady_clock::now().time_since_epoch());
  return riptide::Instant{riptide::Duration{ns.count()}};
}

// The TCP side: echo every byte back. What send() cannot take yet waits in `pending`
// and is held against the receive window (set_receive_held), so a client that does
// not read is slowed by TCP's own flow control instead of filling our memory.
class Echo final : public riptide::Handler {
 public:
  std::uint64_t accepted = 0;
  std::uint64_t bytes = 0;

  void on_accept(riptide::Stack&, riptide::ConnId c) override {
    ++accepted;
    conns_[key(c)];
  }
  void on_data(riptide::Stack& s, riptide::ConnId c, std::span<const std::byte> data) override {
    bytes += data.size();
    Conn& k = conns_[key(c)];
    k.pending.insert(k.pending.end(), data.begin(), data.end());
    flush(s, c, k);
  }
  void on_writable(riptide::Stack& s, riptide::ConnId c) override { flush(s, c, conns_[key(c)]); }
  void on_peer_closed(riptide::Stack& s, riptide::ConnId c) override {
    Conn& k = conns_[key(c)];
    k.closing = true;
    flush(s, c, k);
  }
  void on_closed(riptide::Stack&, riptide::ConnId c, riptide::CloseReason) override { conns_.erase(key(c)); }

 private:
  struct Conn {
    std::vector<std::byte> pending;  // received, not yet taken by send()
    bool closing = false;            // the peer's FIN came: close once pending is sent
  };
  static std::uint64_t key(riptide::ConnId c) { return std::uint64_t{c.slot} << 32 | c.generation; }
  static void flush(riptide::Stack& s, riptide::ConnId c, Conn& k) {
    if (!k.pending.empty()) {
      auto sent = s.send(c, k.pending);
      if (sent && *sent > 0) k.pending.erase(k.pending.begin(), k.pending.begin() + static_cast<std::ptrdiff_t>(*sent));
      (void)s.set_receive_held(c, static_cast<std::uint32_t>(k.pending.size()));
    }
    if (k.pending.empty() && k.closing) (void)s.close(c);
  }
  std::unordered_map<std::uint64_t, Conn> conns_;
};

// The appliance's own forwarding: an IPv4/UDP datagram to `port` at `addr` goes
// back where it came from (MACs, addresses and ports swapped: neither the IPv4 nor
// the UDP checksum changes when the two halves of a sum trade places).
bool reflect_udp(rte_mbuf* m, std::uint32_t addr_be, std::uint16_t port_be) {
  if (m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr)) return false;
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) return false;
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  if (ip->next_proto_id != IPPROTO_UDP || ip->dst_addr != addr_be) return false;
  const std::size_t ihl = rte_ipv4_hdr_len(ip);
  if (m->data_len < sizeof(rte_ether_hdr) + ihl + sizeof(rte_udp_hdr)) return false;
  if ((rte_be_to_cpu_16(ip->fragment_offset) & 0x3FFF) != 0) return false;  // fragments: riptide drops them
  auto* udp = reinterpret_cast<rte_udp_hdr*>(reinterpret_cast<std::uint8_t*>(ip) + ihl);
  if (udp->dst_port != port_be) return false;
  std::swap(eth->src_addr, eth->dst_addr);
  const rte_be32_t a = ip->src_addr;  // packed fields: swapped by value
  ip->src_addr = ip->dst_addr;
  ip->dst_addr = a;
  const rte_be16_t p = udp->src_port;
  udp->src_port = udp->dst_port;
  udp->dst_port = p;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const int eal = rte_eal_init(argc, argv);
  if (eal < 0) die("rte_eal_init failed (EAL arguments come before --)");
  argc -= eal;
  argv += eal;

  std::string addr_text = "198.18.0.1/24";
  unsigned tcp_port = 7, udp_port = 9, seconds = 60;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(std::string(a) + " needs a value");
      return argv[++i];
    };
    if (a == "--addr") addr_text = value();
    else if (a == "--tcp-port") tcp_port = static_cast<unsigned>(std::stoul(value()));
    else if (a == "--udp-port") udp_port = static_cast<unsigned>(std::stoul(value()));
    else if (a == "--seconds") seconds = static_cast<unsigned>(std::stoul(value()));
    else die("unknown argument " + std::string(a) + " (--addr A.B.C.D/LEN --tcp-port N --udp-port N --seconds N)");
  }
  if (tcp_port == 0 || tcp_port > 65535 || udp_port == 0 || udp_port > 65535) die("ports are 1..65535");
  const auto slash = addr_text.find('/');
  const auto addr = riptide::Ipv4Addr::parse(addr_text.substr(0, slash));
  const unsigned prefix = slash == std::string::npos ? 24 : static_cast<unsigned>(std::stoul(addr_text.substr(slash + 1)));
  if (!addr || prefix == 0 || prefix > 32) die("--addr: want A.B.C.D/LEN, got " + addr_text);

  std::printf("riptide-appliance: libriptide %s (headers %s)\n", riptide::version(), RIPTIDE_VERSION_STRING);
  if (rte_eth_dev_count_avail() == 0) die("no ethdev port (give one with --vdev or a PCI device)");
  const std::uint16_t port = 0;
  // An af_xdp port takes the pool as its UMEM and wants it without gaps.
  riptide::io::MbufPoolOptions pool_opts;
  pool_opts.name = "appliance";
  pool_opts.socket = static_cast<int>(rte_socket_id());
  if (riptide::io::device_is_af_xdp("")) pool_opts.layout = riptide::io::MbufPoolLayout::PageSlots;
  auto made = riptide::io::create_mbuf_pool(pool_opts);
  if (!made) die("cannot create the mbuf pool: " + made.error());
  rte_mempool* pool = *made;
  rte_eth_conf conf{};
  if (rte_eth_dev_configure(port, 1, 1, &conf) != 0) die("rte_eth_dev_configure failed");
  if (rte_eth_rx_queue_setup(port, 0, 1024, rte_eth_dev_socket_id(port), nullptr, pool) != 0 ||
      rte_eth_tx_queue_setup(port, 0, 1024, rte_eth_dev_socket_id(port), nullptr) != 0) {
    die("queue set-up failed");
  }
  if (rte_eth_dev_start(port) != 0) die("rte_eth_dev_start failed");
  rte_ether_addr mac{};
  rte_eth_macaddr_get(port, &mac);

  {  // the driver (and the mbufs it holds) goes before the port and the EAL
    // riptide: one Stack on this core, fed through the mbuf glue.
    riptide::StackConfig sc;
    sc.local_addrs = {*addr};
    sc.secret = riptide::random_secret();
    sc.max_connections = 4096;
    sc.max_time_wait = 16384;
    riptide::InterfaceConfig ic;
    std::memcpy(ic.mac.bytes.data(), mac.addr_bytes, 6);
    ic.addr = *addr;
    ic.prefix_len = static_cast<std::uint8_t>(prefix);
    if (auto problem = riptide::validate(sc)) die(*problem);
    riptide::io::MbufDriver driver(pool, sc, ic, {}, now());
    Echo echo;
    if (auto l = driver.stack().listen(*addr, static_cast<std::uint16_t>(tcp_port), echo); !l) {
      die("listen: " + std::string(riptide::to_string(l.error())));
    }
    driver.announce();
    std::printf("riptide-appliance: %s/%u, TCP echo on %u (riptide), UDP reflect on %u (the appliance), %u s\n",
                addr_text.substr(0, slash).c_str(), prefix, tcp_port, udp_port, seconds);
    std::fflush(stdout);

    std::signal(SIGINT, [](int) { g_stop = 1; });
    std::signal(SIGTERM, [](int) { g_stop = 1; });
    const std::uint32_t addr_be = rte_cpu_to_be_32(addr->value);
    const std::uint16_t udp_be = rte_cpu_to_be_16(static_cast<std::uint16_t>(udp_port));
    std::uint64_t reflected = 0, to_riptide = 0, tx_dropped = 0;
    const riptide::Instant deadline = now() + std::chrono::seconds{seconds};
    rte_mbuf* rx[32];
    rte_mbuf* keep[32];
    rte_mbuf* out[32];
    rte_mbuf* back[32];
    while (g_stop == 0) {
      const riptide::Instant t = now();
      if (t >= deadline) break;
      const std::uint16_t n = rte_eth_rx_burst(port, 0, rx, 32);
      std::uint16_t k = 0, r = 0;
      for (std::uint16_t i = 0; i < n; ++i) {
        if (reflect_udp(rx[i], addr_be, udp_be)) back[r++] = rx[i];
        else keep[k++] = rx[i];
      }
      to_riptide += k;
      driver.input(keep, k, t);  // riptide takes these and frees them
      driver.advance(t);
      std::uint16_t sent = r > 0 ? rte_eth_tx_burst(port, 0, back, r) : 0;
      reflected += sent;
      for (std::uint16_t i = sent; i < r; ++i, ++tx_dropped) rte_pktmbuf_free(back[i]);
      const std::uint16_t m = driver.take_tx(out, 32, t);  // we own these now
      sent = m > 0 ? rte_eth_tx_burst(port, 0, out, m) : 0;
      for (std::uint16_t i = sent; i < m; ++i, ++tx_dropped) rte_pktmbuf_free(out[i]);
    }
    const riptide::Counters& c = driver.stack().counters();
    std::printf("riptide-appliance: UDP datagrams reflected %llu, frames given to riptide %llu, tx dropped %llu\n",
                static_cast<unsigned long long>(reflected), static_cast<unsigned long long>(to_riptide),
                static_cast<unsigned long long>(tx_dropped));
    std::printf("riptide-appliance: TCP connections accepted %llu, bytes echoed %llu, riptide segments in %llu out %llu\n",
                static_cast<unsigned long long>(echo.accepted), static_cast<unsigned long long>(echo.bytes),
                static_cast<unsigned long long>(c[riptide::Counter::tcp_in]),
                static_cast<unsigned long long>(c[riptide::Counter::tcp_out]));
  }
  rte_eth_dev_stop(port);
  rte_eth_dev_close(port);
  rte_eal_cleanup();
  return 0;
}
