// riptide-proxy's configuration: the [proxy] section of the TOML file (one file
// serves every program; the runtime loader skips [proxy], runtime::kProgramSections)
// and `--set proxy....` overrides. docs/config.md "riptide-proxy" lists every key;
// config/riptide.toml documents them in place.
//
//   [proxy]                         defaults for every listener
//   balance = "round-robin"         | "least-connections" | "source-hash"
//   connect_timeout_ms = 5000       backend connect deadline
//   connect_retries = 0             after a refusal or timeout, try this many other backends
//   idle_timeout_ms = 300000        no byte either way this long: both legs reset (0: never)
//   max_connections = 0             proxied connections per listener (0: the pool's limit)
//   max_connections_per_client = 0  ... from one client address (0: no limit)
//   on_backend_failure = "reset"    | "close": what the client gets when no backend answers
//   down_after_failures = 3         consecutive connect failures that mark a backend down (0: never)
//   down_retry_ms = 10000           how long a backend marked down gets no new connections
//   send_proxy_protocol = "off"     | "v1" | "v2": a PROXY protocol header to the backend first
//   accept_proxy_protocol = false   true: clients are a trusted front that starts with a PROXY header
//   accept_proxy_from = []          ... and only these CIDRs may be that front (others: reset); []: anyone
//   mode = "tcp"                    | "connect": HTTP CONNECT tunnels (apps/common/http_connect.hpp)
//   connect_allow = []              connect mode: the destinations allowed, "CIDR:PORTS"
//   connect_request_max_bytes = 4096   connect mode: the request's size limit
//   connect_request_timeout_ms = 10000 connect mode: the request's time limit
//   health_check_interval_ms = 0    active health checks of the backends every this long (0: off)
//   health_check_timeout_ms = 2000  ... each within this long
//   health_check_rise = 2           ... this many successes in a row bring a backend that is down up
//   health_check_fall = 3           ... this many failures in a row take one that is up down
//   health_check_send = ""          ... bytes sent once connected (TOML escapes: "PING\r\n")
//   health_check_expect = ""        ... the reply must start with these bytes ("": connecting is enough)
//
//   [[proxy.listener]]              one per listening address
//   bind = "198.18.0.1:8080"        REQUIRED: a local address and port; 0.0.0.0: any IPv4 address,
//                                   "[::]:8080" both families, "[2001:db8::1]:8080" one IPv6 address
//   backends = ["198.18.0.2:8080", { address = "198.18.0.3:8080", weight = 2, drain = false }]   REQUIRED
//                                   (IPv6 backends as "[2001:db8::2]:8080"; either family whatever the
//                                   client's: the stack picks the source address, ConnectOptions)
//                                   (weight 0 or drain = true: draining, no new connections)
//                                   (in mode "connect": not allowed; connect_allow not empty instead)
//   ...and any of the defaults above, for this listener only
//
// Overrides: `proxy.KEY=VALUE` sets a default; `proxy.listener.N.KEY=VALUE` sets a
// key of listener N (0-based, in file order); N equal to the number of listeners so
// far adds one. A listener's own key wins over the default whatever the order.
// `backends` also takes a bare comma-separated list: `proxy.listener.0.backends=
// 198.18.0.2:80,198.18.0.3:80`.
//
// Errors name the key as overrides spell it (`proxy.listener.0.balance`), with the
// file line or the override, one per line, in file order, as the runtime loader's.
//
// Start-up only: allocates, and toml++ may throw internally (caught here).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/endpoint.hpp"
#include "common/http_connect.hpp"
#include "common/ip_addr.hpp"
#include "common/proxy_protocol.hpp"

namespace riptide::apps::proxy {

enum class Balance : std::uint8_t { RoundRobin, LeastConnections, SourceHash };
enum class BackendFailure : std::uint8_t { Reset, Close };
// tcp: relay to the listener's backends. connect: HTTP CONNECT tunnels to the
// destination each client asks for, within connect_allow.
enum class ListenerMode : std::uint8_t { Tcp, Connect };
[[nodiscard]] std::string_view to_string(Balance b) noexcept;
[[nodiscard]] std::string_view to_string(BackendFailure f) noexcept;
[[nodiscard]] std::string_view to_string(ListenerMode m) noexcept;

struct BackendSpec {
  Endpoint address;
  std::uint32_t weight = 1;  // 0..1000 (0: draining, as drain = true)
  bool drain = false;        // no new connections; those it has finish
  [[nodiscard]] bool draining() const noexcept { return drain || weight == 0; }
  bool operator==(const BackendSpec&) const = default;
};

// The keys a listener inherits from [proxy] unless it sets them itself.
struct ListenerPolicy {
  Balance balance = Balance::RoundRobin;
  std::uint32_t connect_timeout_ms = 5000;
  std::uint32_t connect_retries = 0;
  std::uint32_t idle_timeout_ms = 300000;
  std::uint32_t max_connections = 0;
  std::uint32_t max_connections_per_client = 0;
  BackendFailure on_backend_failure = BackendFailure::Reset;
  std::uint32_t down_after_failures = 3;
  std::uint32_t down_retry_ms = 10000;
  ProxyProtocol send_proxy_protocol = ProxyProtocol::Off;
  bool accept_proxy_protocol = false;
  std::vector<Cidr> accept_proxy_from;  // with accept_proxy_protocol: the fronts trusted; empty: any address
  ListenerMode mode = ListenerMode::Tcp;
  std::vector<AllowRule> connect_allow;  // empty: nothing (a connect listener then is a config error)
  std::uint32_t connect_request_max_bytes = 4096;
  std::uint32_t connect_request_timeout_ms = 10000;
  std::uint32_t health_check_interval_ms = 0;  // 0: no active checks
  std::uint32_t health_check_timeout_ms = 2000;
  std::uint32_t health_check_rise = 2;
  std::uint32_t health_check_fall = 3;
  std::string health_check_send;
  std::string health_check_expect;
  bool operator==(const ListenerPolicy&) const = default;
};

struct ListenerSpec {
  Endpoint bind;
  std::vector<BackendSpec> backends;
  ListenerPolicy policy;  // resolved: the listener's own keys over the defaults
};

struct ProxyConfig {
  ListenerPolicy defaults;
  std::vector<ListenerSpec> listeners;
};

struct ProxyConfigError {
  std::string message;
};

// The [proxy] section of `toml_text` (the whole file; other sections are ignored)
// plus the overrides whose key starts with "proxy." (others are ignored). `file_name`
// only labels messages. `local_addrs`: the addresses a listener may bind (the
// runtime's ip.address range and ip6.address); 0.0.0.0 and :: are always allowed;
// empty: not checked.
// At least one listener is required.
std::variant<ProxyConfig, ProxyConfigError> load_proxy_config(const std::string& toml_text,
                                                              const std::string& file_name,
                                                              const std::vector<std::string>& overrides,
                                                              const std::vector<IpAddr>& local_addrs);
// The same, reading the file (path "" reads nothing: overrides alone).
std::variant<ProxyConfig, ProxyConfigError> load_proxy_config_file(const std::string& path,
                                                                   const std::vector<std::string>& overrides,
                                                                   const std::vector<IpAddr>& local_addrs);

// The configuration as TOML ([proxy] with the defaults, then one [[proxy.listener]]
// per listener with every key resolved); load_proxy_config(to_toml(c)) gives c back.
std::string to_toml(const ProxyConfig& c);

}  // namespace riptide::apps::proxy
