/// \file
/// <riptide/config.hpp>: riptide::runtime::RuntimeConfig, everything a riptide program needs to start: ports, addresses,
/// lcores, pools, and every TCP knob. Loaded from a TOML file (config/riptide.toml
/// documents each key) with any key overridable on the command line
/// (`--set tcp.mss=1400`). Bad configuration stops start-up with a message that
/// names the key and the problem.
///
/// Slim (issue 13): <riptide/...> and the standard library only. Thread-safety:
/// plain functions over values; call from any thread. Ownership: values in, values
/// out.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "riptide/interface.hpp"
#include "riptide/ip_addr.hpp"
#include "riptide/mac_addr.hpp"
#include "riptide/routes.hpp"
#include "riptide/stack.hpp"
#include "riptide/tcp_config.hpp"

namespace riptide::runtime {

struct PortSpec {
  /// What EAL calls the device: a PCI address ("0000:03:00.0") or a vdev name as
  /// given to --vdev ("net_af_packet0"). Empty: the first port EAL found.
  std::string device;
  std::uint16_t rx_descriptors = 1024;
  std::uint16_t tx_descriptors = 1024;
  bool promiscuous = false;
};

/// One port of several (`[[ports]]`): its device and its own addresses.
struct PortConfig {
  std::string name;                ///< what [[routes]] call it; default "portN"
  PortSpec spec;                   ///< spec.device is required with several ports
  Ipv4Addr address{};              ///< required
  std::uint32_t address_count = 1;
  std::uint8_t prefix_len = 24;    ///< the connected subnet
  std::optional<wire::MacAddr> mac;  ///< default: the port's own
};

/// A static route (`[[routes]]`): prefix -> port, optionally through a gateway on
/// that port's subnet. The ports' connected subnets are implied (RouteTable).
struct RouteConfig {
  Ipv4Addr prefix{};
  std::uint8_t prefix_len = 0;
  std::string port;                ///< a port's name
  std::optional<Ipv4Addr> gateway;
};

struct RuntimeConfig {
  /// One port (the [port] and [ip] keys): `port`, `address`, `address_count`,
  /// `prefix_len`, `gateway` and `mac` below, and `ports` is empty. Several ports:
  /// `ports` lists them ([[ports]]) and the single-port fields mirror ports[0]
  /// (so a program printing "its" address prints the first port's); `gateway` is
  /// unset (a default route is a [[routes]] entry then). See ports_of()/routes_of().
  std::vector<PortConfig> ports;
  std::vector<RouteConfig> routes;  ///< [[routes]], in file order
  PortSpec port;
  Ipv4Addr address{};              ///< ours, e.g. 198.18.0.1
  /// Local addresses address .. address+count-1 (a load generator's range). At most
  /// 64: every received packet is looked up in the list.
  std::uint32_t address_count = 1;
  std::uint8_t prefix_len = 24;
  std::optional<Ipv4Addr> gateway;
  std::optional<wire::MacAddr> mac;  ///< default: the port's own
  std::uint32_t lcores = 1;          ///< worker lcores (one rx/tx queue pair each)
  std::uint32_t idle_sleep_us = 0;   ///< sleep after an idle poll (0: busy-poll)
  bool syns_last = true;             ///< WorkerOptions::syns_last
  bool shed_when_behind = false;     ///< WorkerOptions::shed_when_behind
  std::uint32_t mbufs = 8191;        ///< per socket
  std::uint16_t mbuf_cache = 256;
  std::uint16_t burst = 32;
  std::uint32_t tx_drain_us = 100;   ///< flush a partial tx batch after this long
  std::uint32_t max_connections = 65536;
  std::uint32_t max_time_wait = 262144;
  std::uint32_t pressure_percent = 90;  ///< StackConfig::pressure_percent
  std::uint32_t arp_cache = 1024;
  std::string pcap_path;             ///< --pcap: capture rx and tx as pcapng
  Ipv6InterfaceConfig ip6;           ///< [ip6]; off unless ip6.address is set
  tcp::TcpConfig tcp;
};

/// The TOML text, as a file's contents, merged with `overrides` ("key=value", the
/// same dotted keys as the file). On error: a message naming the key.
///
/// Rules (docs/config.md): unknown sections and keys, wrong types, out-of-range
/// values and addresses that do not parse are errors; ip.address is required.
/// Override values are TOML values (`tcp.mss=1400`, `tcp.syn_cookies="always"`);
/// a value that is not valid TOML, or any value of a string key, is taken as a
/// bare string (`ip.address=198.18.0.1`, `tcp.syn_cookies=always`). The result
/// is then checked as a whole, including riptide::validate() on stack_config().
/// Every problem found is reported, one per line, in file order.
///
/// Start-up only (allocates; toml++ may throw internally, caught here).
///
/// Program sections: one file serves every program, so sections that belong to one
/// program (riptide-proxy's [proxy]) are skipped here, in the file and in overrides
/// (`--set proxy.KEY=...`), unchecked; the program that owns the section loads and
/// checks it itself (apps/common/proxy_config.hpp for [proxy]).
inline constexpr std::array<std::string_view, 1> kProgramSections = {"proxy"};
[[nodiscard]] bool is_program_section(std::string_view section) noexcept;

struct ConfigError {
  std::string message;
};
std::variant<RuntimeConfig, ConfigError> load_config(const std::string& toml_text,
                                                     const std::vector<std::string>& overrides);
std::variant<RuntimeConfig, ConfigError> load_config_file(const std::string& path,
                                                          const std::vector<std::string>& overrides);

/// The configuration as TOML (what /riptide/config returns, and --print-config):
/// every key with its current value; load_config(to_toml(c), {}) gives c back.
/// Unset optionals (ip.gateway, ip.mac) print as "", which the loader reads as unset.
std::string to_toml(const RuntimeConfig& c);

/// Every port, whether configured as one ([port] and [ip]; named "port0") or as
/// several ([[ports]]).
[[nodiscard]] std::vector<PortConfig> ports_of(const RuntimeConfig& c);
/// The static routes with port names resolved to indexes into ports_of(c): the
/// [[routes]] entries, and for one port its ip.gateway as the default route.
[[nodiscard]] RouteTable routes_of(const RuntimeConfig& c);

/// The StackConfig the runtime builds for each lcore from `c`, keyed with `secret`
/// (random_secret() in production).
[[nodiscard]] StackConfig stack_config(const RuntimeConfig& c, const tcp::Secret& secret);
/// The InterfaceConfig for each lcore: `c.mac` if set, else the port's own MAC.
[[nodiscard]] InterfaceConfig interface_config(const RuntimeConfig& c,
                                               const wire::MacAddr& port_mac);
/// The InterfaceConfig of one of several ports (ARP answered for its own
/// addresses only; no gateway: routes_of() holds the routes).
[[nodiscard]] InterfaceConfig interface_config(const RuntimeConfig& c, const PortConfig& p,
                                               const wire::MacAddr& port_mac);

}  // namespace riptide::runtime
