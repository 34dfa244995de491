// RuntimeConfig from TOML. One table lists every key (section, name, type, range,
// how to read it, how to print it); the loader, the override parser and to_toml()
// all walk that table, so a key added there is loadable, overridable and printed.
//
// toml++: Debian ships it as a shared library built with exceptions, so parse()
// throws toml::parse_error. That is caught in parse_toml() and nowhere else; the
// rest of this file only uses the non-throwing node accessors.
#include "runtime/config.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <string_view>
#include <type_traits>

#include <toml++/toml.h>

#include "common/toml_text.hpp"

namespace riptide::runtime {
namespace {

// Where a value came from, for messages: a line of the file or an override.
struct Origin {
  std::uint32_t line = 0;   // 0: not from the file
  std::string where;        // " (line 12)", " (override 'tcp.mss=1')"
};

struct Problem {
  std::uint32_t line;  // for ordering; overrides sort after the file
  std::string message;
};

using toml_format::quote;
using toml_format::type_name;
using toml_format::wrong_type;

// One key: reads a node into the config (returning the problem, without the key
// name, if it cannot) and prints the current value as a TOML value.
// Cfg: RuntimeConfig for the sections, PortConfig and RouteConfig for the entries
// of [[ports]] and [[routes]].
template <class Cfg>
struct BasicKey {
  std::string_view section;
  std::string_view name;
  bool is_string = false;  // override values are taken verbatim
  std::function<std::optional<std::string>(const toml::node&, Cfg&)> set;
  std::function<std::string(const Cfg&)> get;
};
using Key = BasicKey<RuntimeConfig>;

// Field accessors are generic lambdas `[](auto& c) -> auto& { return c.x; }` so
// one accessor serves both set (mutable) and get (const).
template <class F, class Cfg = RuntimeConfig>
using FieldOf = std::remove_cvref_t<decltype(std::declval<F>()(std::declval<Cfg&>()))>;

template <class Cfg = RuntimeConfig, class F>
BasicKey<Cfg> integer(std::string_view section, std::string_view name, F field,
            std::int64_t lo = std::numeric_limits<FieldOf<F, Cfg>>::min(),
            std::int64_t hi = static_cast<std::int64_t>(std::numeric_limits<FieldOf<F, Cfg>>::max())) {
  using T = FieldOf<F, Cfg>;
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  return BasicKey<Cfg>{section, name, false,
             [field, lo, hi](const toml::node& n, Cfg& c) -> std::optional<std::string> {
               const auto v = n.value_exact<std::int64_t>();
               if (!v) return wrong_type("an integer", n);
               if (*v < lo || *v > hi) {
                 return std::to_string(*v) + " is outside " + std::to_string(lo) + ".." +
                        std::to_string(hi);
               }
               field(c) = static_cast<T>(*v);
               return std::nullopt;
             },
             [field](const Cfg& c) { return std::to_string(field(c)); }};
}

// A Duration held as whole milliseconds (the key's name ends in _ms).
template <class F>
Key milliseconds_key(std::string_view section, std::string_view name, F field, std::int64_t lo) {
  constexpr std::int64_t hi = std::numeric_limits<std::uint32_t>::max();  // ~49 days
  return Key{section, name, false,
             [field, lo](const toml::node& n, RuntimeConfig& c) -> std::optional<std::string> {
               const auto v = n.value_exact<std::int64_t>();
               if (!v) return wrong_type("an integer (milliseconds)", n);
               if (*v < lo || *v > hi) {
                 return std::to_string(*v) + " is outside " + std::to_string(lo) + ".." +
                        std::to_string(hi);
               }
               field(c) = std::chrono::milliseconds{*v};
               return std::nullopt;
             },
             [field](const RuntimeConfig& c) {
               return std::to_string(
                   std::chrono::duration_cast<std::chrono::milliseconds>(field(c)).count());
             }};
}

template <class Cfg = RuntimeConfig, class F>
BasicKey<Cfg> boolean(std::string_view section, std::string_view name, F field) {
  return BasicKey<Cfg>{section, name, false,
             [field](const toml::node& n, Cfg& c) -> std::optional<std::string> {
               const auto v = n.value_exact<bool>();
               if (!v) return wrong_type("a boolean", n);
               field(c) = *v;
               return std::nullopt;
             },
             [field](const Cfg& c) { return std::string(field(c) ? "true" : "false"); }};
}

template <class Cfg = RuntimeConfig, class F>
BasicKey<Cfg> string(std::string_view section, std::string_view name, F field) {
  return BasicKey<Cfg>{section, name, true,
             [field](const toml::node& n, Cfg& c) -> std::optional<std::string> {
               const auto v = n.value_exact<std::string>();
               if (!v) return wrong_type("a string", n);
               field(c) = *v;
               return std::nullopt;
             },
             [field](const Cfg& c) { return quote(field(c)); }};
}

// A string parsed by parse(text) -> optional<T>; `optional_field`: "" unsets it.
template <class T, class Cfg = RuntimeConfig, class F, class Parse, class Print>
BasicKey<Cfg> parsed(std::string_view section, std::string_view name, std::string_view what, F field,
           Parse parse, Print print) {
  constexpr bool kOptional = !std::is_same_v<FieldOf<F, Cfg>, T>;
  return BasicKey<Cfg>{section, name, true,
             [=](const toml::node& n, Cfg& c) -> std::optional<std::string> {
               const auto v = n.value_exact<std::string>();
               if (!v) return wrong_type("a string", n);
               if constexpr (kOptional) {
                 if (v->empty()) {
                   field(c).reset();
                   return std::nullopt;
                 }
               }
               auto parsed_value = parse(*v);
               if (!parsed_value) return quote(*v) + " is not " + std::string(what);
               field(c) = *parsed_value;
               return std::nullopt;
             },
             [=](const Cfg& c) -> std::string {
               if constexpr (kOptional) {
                 return field(c) ? quote(print(*field(c))) : std::string("\"\"");
               } else {
                 return quote(print(field(c)));
               }
             }};
}

std::optional<tcp::SynCookieMode> parse_syn_cookies(std::string_view s) {
  for (auto m : {tcp::SynCookieMode::Auto, tcp::SynCookieMode::Always, tcp::SynCookieMode::Never}) {
    if (tcp::to_string(m) == s) return m;
  }
  return std::nullopt;
}

const std::vector<Key>& keys() {
  static const std::vector<Key> table = [] {
    const auto addr = [](std::string_view s) { return Ipv4Addr::parse(s); };
    const auto addr_text = [](Ipv4Addr a) { return to_string(a); };
    const auto mac = [](std::string_view s) { return wire::MacAddr::parse(s); };
    const auto mac_text = [](const wire::MacAddr& m) { return m.to_string(); };
    const auto syn_text = [](tcp::SynCookieMode m) { return std::string(tcp::to_string(m)); };
    // IPv6 (RFC 4291 2.4's address types): a host's global address, a link-local
    // one, any unicast one.
    const auto unicast6 = [](std::string_view t) -> std::optional<IpAddr> {
      auto a = IpAddr::parse(t);
      if (!a || a->is_v4() || a->is_v6_multicast() || a->is_v6_unspecified() || a->is_v6_loopback()) return std::nullopt;
      return a;
    };
    const auto global6 = [unicast6](std::string_view t) -> std::optional<IpAddr> {
      auto a = unicast6(t);
      if (!a || a->is_v6_link_local()) return std::nullopt;
      return a;
    };
    const auto link_local6 = [unicast6](std::string_view t) -> std::optional<IpAddr> {
      auto a = unicast6(t);
      if (!a || !a->is_v6_link_local()) return std::nullopt;
      return a;
    };
    const auto addr6_text = [](const IpAddr& a) { return to_string(a); };
    const auto cc_text = [](tcp::CongestionAlgorithm a) { return std::string(tcp::to_string(a)); };
    constexpr std::int64_t kU32 = std::numeric_limits<std::uint32_t>::max();
    constexpr std::int64_t kU16 = std::numeric_limits<std::uint16_t>::max();
    return std::vector<Key>{
        string("port", "device", [](auto& c) -> auto& { return c.port.device; }),
        integer("port", "rx_descriptors", [](auto& c) -> auto& { return c.port.rx_descriptors; }, 1),
        integer("port", "tx_descriptors", [](auto& c) -> auto& { return c.port.tx_descriptors; }, 1),
        boolean("port", "promiscuous", [](auto& c) -> auto& { return c.port.promiscuous; }),

        parsed<Ipv4Addr>("ip", "address", "an IPv4 address (dotted quad, e.g. 198.18.0.1)",
                         [](auto& c) -> auto& { return c.address; }, addr, addr_text),
        integer("ip", "address_count", [](auto& c) -> auto& { return c.address_count; }, 1, 64),
        integer("ip", "prefix_len", [](auto& c) -> auto& { return c.prefix_len; }, 0, 32),
        parsed<Ipv4Addr>("ip", "gateway", "an IPv4 address (dotted quad, or \"\" for none)",
                         [](auto& c) -> auto& { return c.gateway; }, addr, addr_text),
        parsed<wire::MacAddr>("ip", "mac", "a MAC address (02:00:00:00:00:01, or \"\" for the port's)",
                              [](auto& c) -> auto& { return c.mac; }, mac, mac_text),

        // [ip6]: IPv6 on the (single) port; off unless ip6.address is set.
        parsed<IpAddr>("ip6", "address",
                       "a global IPv6 address (e.g. 2001:db8::1; not link-local, multicast, :: or ::1), or \"\" for none",
                       [](auto& c) -> auto& { return c.ip6.address; }, global6, addr6_text),
        integer("ip6", "prefix_len", [](auto& c) -> auto& { return c.ip6.prefix_len; }, 1, 128),
        parsed<IpAddr>("ip6", "link_local",
                       "a link-local IPv6 address (fe80::/10), or \"\" for the one derived from the MAC",
                       [](auto& c) -> auto& { return c.ip6.link_local; }, link_local6, addr6_text),
        parsed<IpAddr>("ip6", "gateway", "a unicast IPv6 address (link-local or on ip6.address's prefix), or \"\"",
                       [](auto& c) -> auto& { return c.ip6.gateway; }, unicast6, addr6_text),
        integer("ip6", "mtu", [](auto& c) -> auto& { return c.ip6.mtu; }, 1280, 65535),
        integer("ip6", "hop_limit", [](auto& c) -> auto& { return c.ip6.hop_limit; }, 1, 255),
        boolean("ip6", "dad", [](auto& c) -> auto& { return c.ip6.dad; }),
        integer("ip6", "icmp_error_rate", [](auto& c) -> auto& { return c.ip6.icmp_error_rate; }, 0, 1000000),
        integer("ip6", "icmp_error_burst", [](auto& c) -> auto& { return c.ip6.icmp_error_burst; }, 0, 1000000),
        milliseconds_key("ip6", "nd_reachable_ms", [](auto& c) -> auto& { return c.ip6.nd.reachable_time; }, 1),
        milliseconds_key("ip6", "nd_retrans_ms", [](auto& c) -> auto& { return c.ip6.nd.retrans_timer; }, 1),
        integer("ip6", "nd_max_multicast_solicit",
                [](auto& c) -> auto& { return c.ip6.nd.max_multicast_solicit; }, 1, 255),
        integer("ip6", "nd_max_unicast_solicit", [](auto& c) -> auto& { return c.ip6.nd.max_unicast_solicit; }, 1, 255),
        integer("ip6", "nd_cache", [](auto& c) -> auto& { return c.ip6.nd.cache_size; }, 1),
        integer("ip6", "nd_pending", [](auto& c) -> auto& { return c.ip6.nd.pending_packets; }, 1),
        integer("ip6", "pmtu_cache", [](auto& c) -> auto& { return c.ip6.pmtu.entries; }, 1),
        // RFC 8201 4: no sooner than 5 minutes.
        milliseconds_key("ip6", "pmtu_lifetime_ms", [](auto& c) -> auto& { return c.ip6.pmtu.lifetime; }, 300000),

        integer("lcores", "workers", [](auto& c) -> auto& { return c.lcores; }, 1),
        integer("lcores", "idle_sleep_us", [](auto& c) -> auto& { return c.idle_sleep_us; }, 0, 1000000),
        boolean("lcores", "syns_last", [](auto& c) -> auto& { return c.syns_last; }),
        boolean("lcores", "shed_when_behind", [](auto& c) -> auto& { return c.shed_when_behind; }),

        integer("pools", "mbufs", [](auto& c) -> auto& { return c.mbufs; }, 1),
        // DPDK's RTE_MEMPOOL_CACHE_MAX_SIZE.
        integer("pools", "mbuf_cache", [](auto& c) -> auto& { return c.mbuf_cache; }, 0, 512),
        integer("pools", "burst", [](auto& c) -> auto& { return c.burst; }, 1, 512),
        integer("pools", "tx_drain_us", [](auto& c) -> auto& { return c.tx_drain_us; }, 0),

        integer("limits", "max_connections", [](auto& c) -> auto& { return c.max_connections; }, 1),
        integer("limits", "max_time_wait", [](auto& c) -> auto& { return c.max_time_wait; }, 0),
        integer("limits", "pressure_percent", [](auto& c) -> auto& { return c.pressure_percent; }, 1, 100),
        integer("limits", "arp_cache", [](auto& c) -> auto& { return c.arp_cache; }, 1),

        string("capture", "pcap", [](auto& c) -> auto& { return c.pcap_path; }),

        integer("tcp", "mss", [](auto& c) -> auto& { return c.tcp.mss; }, 88, kMaxMss),
        integer("tcp", "rcv_buf", [](auto& c) -> auto& { return c.tcp.rcv_buf; }, 1, kU32),
        integer("tcp", "snd_buf", [](auto& c) -> auto& { return c.tcp.snd_buf; }, 1, kU32),
        integer("tcp", "window_scale", [](auto& c) -> auto& { return c.tcp.window_scale; }, 0, 14),
        boolean("tcp", "window_scaling", [](auto& c) -> auto& { return c.tcp.window_scaling; }),
        boolean("tcp", "timestamps", [](auto& c) -> auto& { return c.tcp.timestamps; }),
        boolean("tcp", "sack", [](auto& c) -> auto& { return c.tcp.sack; }),
        boolean("tcp", "nodelay", [](auto& c) -> auto& { return c.tcp.nodelay; }),
        milliseconds_key("tcp", "rto_initial_ms", [](auto& c) -> auto& { return c.tcp.rto_initial; }, 1),
        milliseconds_key("tcp", "rto_min_ms", [](auto& c) -> auto& { return c.tcp.rto_min; }, 1),
        milliseconds_key("tcp", "rto_max_ms", [](auto& c) -> auto& { return c.tcp.rto_max; }, 1),
        integer("tcp", "syn_retries", [](auto& c) -> auto& { return c.tcp.syn_retries; }),
        milliseconds_key("tcp", "connect_timeout_ms",
                         [](auto& c) -> auto& { return c.tcp.connect_timeout; }, 0),
        integer("tcp", "synack_retries", [](auto& c) -> auto& { return c.tcp.synack_retries; }),
        integer("tcp", "synack_retries_pressure",
                [](auto& c) -> auto& { return c.tcp.synack_retries_pressure; }),
        integer("tcp", "max_retries", [](auto& c) -> auto& { return c.tcp.max_retries; }),
        milliseconds_key("tcp", "time_wait_ms", [](auto& c) -> auto& { return c.tcp.time_wait; }, 0),
        milliseconds_key("tcp", "delayed_ack_ms", [](auto& c) -> auto& { return c.tcp.delayed_ack; }, 0),
        boolean("tcp", "keepalive", [](auto& c) -> auto& { return c.tcp.keepalive; }),
        boolean("tcp", "tail_loss_probe", [](auto& c) -> auto& { return c.tcp.tail_loss_probe; }),
        milliseconds_key("tcp", "keepalive_idle_ms", [](auto& c) -> auto& { return c.tcp.keepalive_idle; }, 1),
        milliseconds_key("tcp", "keepalive_interval_ms",
                         [](auto& c) -> auto& { return c.tcp.keepalive_interval; }, 1),
        integer("tcp", "keepalive_count", [](auto& c) -> auto& { return c.tcp.keepalive_count; }, 1),
        parsed<tcp::SynCookieMode>("tcp", "syn_cookies", "one of \"auto\", \"always\", \"never\"",
                                   [](auto& c) -> auto& { return c.tcp.syn_cookies; },
                                   parse_syn_cookies, syn_text),
        parsed<tcp::CookieNoRecord>("tcp", "cookie_no_record", "one of \"reset\", \"drop\"",
                                    [](auto& c) -> auto& { return c.tcp.cookie_no_record; },
                                    tcp::parse_cookie_no_record,
                                    [](tcp::CookieNoRecord p) { return std::string(tcp::to_string(p)); }),
        parsed<tcp::CongestionAlgorithm>("tcp", "congestion_control", "one of \"newreno\", \"cubic\"",
                                          [](auto& c) -> auto& { return c.tcp.congestion; },
                                          tcp::parse_congestion_algorithm, cc_text),
        integer("tcp", "default_backlog", [](auto& c) -> auto& { return c.tcp.default_backlog; }, 1),
        integer("tcp", "challenge_ack_limit",
                [](auto& c) -> auto& { return c.tcp.challenge_ack_limit; }, 0),
        integer("tcp", "ephemeral_port_min",
                [](auto& c) -> auto& { return c.tcp.ephemeral_port_min; }, 1, kU16),
        integer("tcp", "ephemeral_port_max",
                [](auto& c) -> auto& { return c.tcp.ephemeral_port_max; }, 1, kU16),
    };
  }();
  return table;
}

// "198.19.0.0/16": a prefix and its length; host bits must be clear.
struct Prefix {
  Ipv4Addr addr;
  std::uint8_t len;
};
std::variant<Prefix, std::string> parse_prefix(std::string_view text) {
  const auto slash = text.find('/');
  const auto what = quote(text) + " is not a prefix (address/length, e.g. \"198.19.0.0/16\" or \"0.0.0.0/0\")";
  if (slash == std::string_view::npos) return what;
  const auto addr = Ipv4Addr::parse(text.substr(0, slash));
  const auto len_text = text.substr(slash + 1);
  if (!addr || len_text.empty() || len_text.size() > 2 ||
      !std::all_of(len_text.begin(), len_text.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
    return what;
  }
  const int len = std::stoi(std::string(len_text));
  if (len > 32) return what;
  const auto l = static_cast<std::uint8_t>(len);
  if ((addr->value & ~prefix_mask(l)) != 0) {
    return quote(text) + " has host bits set (did you mean \"" + to_string(Ipv4Addr{addr->value & prefix_mask(l)}) +
           "/" + std::to_string(len) + "\"?)";
  }
  return Prefix{*addr, l};
}

// [[ports]]: one table per port.
const std::vector<BasicKey<PortConfig>>& port_keys() {
  static const std::vector<BasicKey<PortConfig>> table = [] {
    const auto addr = [](std::string_view s) { return Ipv4Addr::parse(s); };
    const auto addr_text = [](Ipv4Addr a) { return to_string(a); };
    const auto mac = [](std::string_view s) { return wire::MacAddr::parse(s); };
    const auto mac_text = [](const wire::MacAddr& m) { return m.to_string(); };
    return std::vector<BasicKey<PortConfig>>{
        string<PortConfig>("ports", "name", [](auto& p) -> auto& { return p.name; }),
        string<PortConfig>("ports", "device", [](auto& p) -> auto& { return p.spec.device; }),
        integer<PortConfig>("ports", "rx_descriptors", [](auto& p) -> auto& { return p.spec.rx_descriptors; }, 1),
        integer<PortConfig>("ports", "tx_descriptors", [](auto& p) -> auto& { return p.spec.tx_descriptors; }, 1),
        boolean<PortConfig>("ports", "promiscuous", [](auto& p) -> auto& { return p.spec.promiscuous; }),
        parsed<Ipv4Addr, PortConfig>("ports", "address", "an IPv4 address (dotted quad, e.g. 198.18.0.1)",
                                     [](auto& p) -> auto& { return p.address; }, addr, addr_text),
        integer<PortConfig>("ports", "address_count", [](auto& p) -> auto& { return p.address_count; }, 1, 64),
        integer<PortConfig>("ports", "prefix_len", [](auto& p) -> auto& { return p.prefix_len; }, 0, 32),
        parsed<wire::MacAddr, PortConfig>("ports", "mac",
                                          "a MAC address (02:00:00:00:00:01, or \"\" for the port's)",
                                          [](auto& p) -> auto& { return p.mac; }, mac, mac_text),
    };
  }();
  return table;
}

// [[routes]]: one table per static route.
const std::vector<BasicKey<RouteConfig>>& route_keys() {
  static const std::vector<BasicKey<RouteConfig>> table = [] {
    const auto addr = [](std::string_view s) { return Ipv4Addr::parse(s); };
    const auto addr_text = [](Ipv4Addr a) { return to_string(a); };
    return std::vector<BasicKey<RouteConfig>>{
        BasicKey<RouteConfig>{"routes", "prefix", true,
                              [](const toml::node& n, RouteConfig& r) -> std::optional<std::string> {
                                const auto v = n.value_exact<std::string>();
                                if (!v) return wrong_type("a string", n);
                                auto p = parse_prefix(*v);
                                if (auto* e = std::get_if<std::string>(&p)) return *e;
                                r.prefix = std::get<Prefix>(p).addr;
                                r.prefix_len = std::get<Prefix>(p).len;
                                return std::nullopt;
                              },
                              [](const RouteConfig& r) {
                                return quote(to_string(r.prefix) + "/" + std::to_string(r.prefix_len));
                              }},
        string<RouteConfig>("routes", "port", [](auto& r) -> auto& { return r.port; }),
        parsed<Ipv4Addr, RouteConfig>("routes", "gateway", "an IPv4 address (dotted quad, or \"\" for none)",
                                      [](auto& r) -> auto& { return r.gateway; }, addr, addr_text),
    };
  }();
  return table;
}

template <class Cfg>
const BasicKey<Cfg>* find_in(const std::vector<BasicKey<Cfg>>& table, std::string_view name) {
  for (const auto& k : table) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

// The single-port keys that [[ports]] replaces: [port] and these of [ip].
bool is_single_port_key(std::string_view section, std::string_view name) {
  return section == "port" || (section == "ip" && (name == "address" || name == "address_count" ||
                                                   name == "prefix_len" || name == "gateway" || name == "mac"));
}

const Key* find_key(std::string_view section, std::string_view name) {
  for (const Key& k : keys()) {
    if (k.section == section && k.name == name) return &k;
  }
  return nullptr;
}

bool is_section(std::string_view s) {
  return std::any_of(keys().begin(), keys().end(), [&](const Key& k) { return k.section == s; });
}

std::string dotted(std::string_view section, std::string_view name) {
  return std::string(section) + "." + std::string(name);
}

// toml::parse, its exception turned into a message.
std::variant<toml::table, std::string> parse_toml(std::string_view text) {
  try {
    return toml::parse(text);
  } catch (const toml::parse_error& e) {
    const auto& pos = e.source().begin;
    return "TOML syntax: " + std::string(e.description()) + " (line " + std::to_string(pos.line) + ", column " +
           std::to_string(pos.column) + ")";
  }
}

class Loader {
 public:
  explicit Loader(std::string file_name) : file_name_(std::move(file_name)) {}

  void file(const toml::table& root) {
    for (auto&& [section, node] : root) {
      const std::uint32_t line = section.source().begin.line;
      const toml::table* t = node.as_table();
      if (is_program_section(section.str())) continue;  // its program reads it
      if (section.str() == "ports" || section.str() == "routes") {
        entries(section.str(), node, line);
        continue;
      }
      if (!is_section(section.str())) {
        fail(line, (t ? "unknown section '" : "unknown key '") + std::string(section.str()) + "'" +
                       at_line(line));
        continue;
      }
      if (!t) {
        fail(line, std::string(section.str()) + ": " + wrong_type("a table", node) + at_line(line));
        continue;
      }
      for (auto&& [name, value] : *t) {
        const std::uint32_t key_line = name.source().begin.line;
        const Key* k = find_key(section.str(), name.str());
        if (!k) {
          fail(key_line, "unknown key '" + dotted(section.str(), name.str()) + "'" + at_line(key_line));
          continue;
        }
        apply(*k, value, key_line, at_line(key_line));
      }
    }
  }

  void override_one(const std::string& text) {
    const std::string where = " (override '" + text + "')";
    const auto eq = text.find('=');
    const std::string key = trim(text.substr(0, eq));
    const auto dot = key.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot == 0 || dot + 1 == key.size()) {
      fail(kOverrideLine, "bad override '" + text + "': expected section.key=value");
      return;
    }
    if (is_program_section(std::string_view(key).substr(0, dot))) return;  // its program reads it
    const std::string value = trim(text.substr(eq + 1));
    const std::string_view section = std::string_view(key).substr(0, dot);
    if (section == "ports" || section == "routes") {
      override_entry(key, value, where);
      return;
    }
    const Key* k = find_key(section, std::string_view(key).substr(dot + 1));
    if (!k) {
      fail(kOverrideLine, "unknown key '" + key + "'" + where);
      return;
    }
    with_value(value, k->is_string, [&](const toml::node& n) { apply(*k, n, kOverrideLine, where); });
  }

  // Checks that need the whole configuration.
  void finish() {
    if (!problems_.empty()) return;
    RuntimeConfig& c = config_;
    if (!c.ports.empty()) {
      finish_ports();
    } else {
      if (!address_set_) {
        fail(0, "ip.address: required (our IPv4 address, e.g. address = \"198.18.0.1\" in [ip]), "
                "or [[ports]] tables with an address each");
        return;
      }
      check_host("ip.", c.address, c.address_count, c.mac);
      const std::uint32_t a = c.address.value;
      if (c.gateway && c.prefix_len > 0) {
        const std::uint32_t mask = ~std::uint32_t{0} << (32 - c.prefix_len);
        if ((c.gateway->value & mask) != (a & mask)) {
          fail(0, "ip.gateway: " + to_string(*c.gateway) + " is not on " +
                      to_string(Ipv4Addr{a & mask}) + "/" + std::to_string(c.prefix_len));
        }
      }
    }
    finish_routes();
    finish_ip6();
    // rte_pktmbuf_pool_create refuses a cache larger than n / 1.5.
    if (c.mbuf_cache > 0 && std::uint64_t{c.mbuf_cache} * 3 > std::uint64_t{c.mbufs} * 2) {
      fail(0, "pools.mbuf_cache: " + std::to_string(c.mbuf_cache) + " is more than mbufs (" +
                  std::to_string(c.mbufs) + ") / 1.5");
    }
    // README "Limits", sizing: every worker's receive ring on every port is kept full
    // of mbufs, its transmit ring holds up to tx_descriptors until the port sends
    // them, a receive and a transmit burst per port are in hand, and its lcore cache
    // can hold mbuf_cache; 256 more for ARP and the rest. A smaller pool starves a
    // ring under load (the port drops, rx_nombuf) however little traffic there is:
    // stop at start-up instead.
    const std::vector<PortConfig> all_ports = ports_of(c);
    std::uint64_t per_worker = c.mbuf_cache;
    std::string rings;
    for (std::size_t i = 0; i < all_ports.size(); ++i) {
      const PortConfig& p = all_ports[i];
      per_worker += std::uint64_t{p.spec.rx_descriptors} + p.spec.tx_descriptors + 2ull * c.burst;
      const std::string key = c.ports.empty() ? "port." : "ports." + std::to_string(i) + ".";
      rings += key + "rx_descriptors (" + std::to_string(p.spec.rx_descriptors) + ") + " + key +
               "tx_descriptors (" + std::to_string(p.spec.tx_descriptors) + ") + 2 x pools.burst (" +
               std::to_string(c.burst) + ") + ";
    }
    const std::uint64_t mbufs_needed = std::uint64_t{c.lcores} * per_worker + 256;
    if (c.mbufs < mbufs_needed) {
      fail(0, "pools.mbufs: " + std::to_string(c.mbufs) + " is fewer than the " + std::to_string(mbufs_needed) +
                  " the rings need: lcores.workers (" + std::to_string(c.lcores) + ") x (" + rings +
                  "pools.mbuf_cache (" + std::to_string(c.mbuf_cache) + ")) + 256");
    }
    if (c.tcp.rto_min <= c.tcp.rto_max &&
        (c.tcp.rto_initial < c.tcp.rto_min || c.tcp.rto_initial > c.tcp.rto_max)) {
      const auto ms = [](Duration d) {
        return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
      };
      fail(0, "tcp.rto_initial_ms: " + ms(c.tcp.rto_initial) + " is outside rto_min_ms..rto_max_ms (" +
                  ms(c.tcp.rto_min) + ".." + ms(c.tcp.rto_max) + ")");
    }
    if (c.tcp.ephemeral_port_min > c.tcp.ephemeral_port_max) {
      fail(0, "tcp.ephemeral_port_min: " + std::to_string(c.tcp.ephemeral_port_min) +
                  " is above ephemeral_port_max (" + std::to_string(c.tcp.ephemeral_port_max) + ")");
    }
    if (!problems_.empty()) return;
    tcp::Secret placeholder{};
    placeholder.fill(1);
    if (auto problem = validate(stack_config(c, placeholder))) fail(0, *problem);
  }

  std::variant<RuntimeConfig, ConfigError> result() {
    if (problems_.empty()) return config_;
    std::stable_sort(problems_.begin(), problems_.end(),
                     [](const Problem& x, const Problem& y) { return x.line < y.line; });
    std::string message;
    for (const Problem& p : problems_) {
      if (!message.empty()) message += '\n';
      message += p.message;
    }
    return ConfigError{message};
  }

 private:
  static constexpr std::uint32_t kOverrideLine = std::numeric_limits<std::uint32_t>::max();

  static std::string trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) return {};
    const auto e = s.find_last_not_of(" \t");
    return std::string(s.substr(b, e - b + 1));
  }

  std::string at_line(std::uint32_t line) const {
    if (file_name_.empty()) return " (line " + std::to_string(line) + ")";
    return " (" + file_name_ + " line " + std::to_string(line) + ")";
  }

  void apply(const Key& k, const toml::node& value, std::uint32_t line, const std::string& where) {
    if (auto problem = k.set(value, config_)) {
      fail(line, dotted(k.section, k.name) + ": " + *problem + where);
      return;
    }
    if (k.section == "ip" && k.name == "address") address_set_ = true;
    if (k.section == "ip6") ip6_where_[std::string(k.name)] = {line, where};
    if (is_single_port_key(k.section, k.name) && single_port_key_.empty()) {
      single_port_key_ = dotted(k.section, k.name);
      single_port_where_ = where;
      single_port_line_ = line;
    }
  }

  // `value` (override text) as a TOML node: for string keys, or when it is not
  // TOML, the bare text.
  template <class F>
  static void with_value(const std::string& value, bool is_string, F&& f) {
    auto parsed = parse_toml("v = " + value);
    const toml::node* node = nullptr;
    if (auto* t = std::get_if<toml::table>(&parsed)) node = t->get("v");
    if (node && !(is_string && !node->is_string())) {
      f(*node);
    } else {
      f(toml::value<std::string>(value));
    }
  }

  // [[ports]] or [[routes]]: an array of tables, each entry's keys checked.
  void entries(std::string_view section, const toml::node& node, std::uint32_t line) {
    const toml::array* arr = node.as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
      fail(line, std::string(section) + ": " + wrong_type("an array of tables ([[" + std::string(section) + "]])", node) +
                     at_line(line));
      return;
    }
    for (const toml::node& el : *arr) {
      const std::size_t i = section == "ports" ? add_port() : add_route();
      const std::uint32_t entry_line = el.source().begin.line;
      entry_lines(section).push_back(entry_line);
      for (auto&& [name, value] : *el.as_table()) {
        const std::uint32_t key_line = name.source().begin.line;
        set_entry(section, i, name.str(), value, key_line, at_line(key_line));
      }
    }
  }

  std::size_t add_port() {
    config_.ports.emplace_back();
    config_.ports.back().name = "port" + std::to_string(config_.ports.size() - 1);
    port_address_set_.push_back(false);
    return config_.ports.size() - 1;
  }
  std::size_t add_route() {
    config_.routes.emplace_back();
    route_set_.push_back({false, false});
    return config_.routes.size() - 1;
  }
  std::vector<std::uint32_t>& entry_lines(std::string_view section) {
    return section == "ports" ? port_lines_ : route_lines_;
  }

  void set_entry(std::string_view section, std::size_t i, std::string_view name, const toml::node& value,
                 std::uint32_t line, const std::string& where) {
    const std::string full = std::string(section) + "." + std::to_string(i) + "." + std::string(name);
    std::optional<std::string> problem;
    if (section == "ports") {
      const auto* k = find_in(port_keys(), name);
      if (k == nullptr) {
        fail(line, "unknown key '" + full + "'" + where);
        return;
      }
      problem = k->set(value, config_.ports[i]);
      if (!problem && name == "address") port_address_set_[i] = true;
    } else {
      const auto* k = find_in(route_keys(), name);
      if (k == nullptr) {
        fail(line, "unknown key '" + full + "'" + where);
        return;
      }
      problem = k->set(value, config_.routes[i]);
      if (!problem && name == "prefix") route_set_[i][0] = true;
      if (!problem && name == "port") route_set_[i][1] = true;
    }
    if (problem) fail(line, full + ": " + *problem + where);
  }

  // --set ports.N.KEY=VALUE / routes.N.KEY=VALUE: changes an entry the file has.
  void override_entry(const std::string& key, const std::string& value, const std::string& where) {
    const auto d1 = key.find('.');
    const auto d2 = key.find('.', d1 + 1);
    const std::string section = key.substr(0, d1);
    const std::string index = d2 == std::string::npos ? std::string() : key.substr(d1 + 1, d2 - d1 - 1);
    if (d2 == std::string::npos || d2 + 1 == key.size() || index.empty() || index.size() > 4 ||
        !std::all_of(index.begin(), index.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
      fail(kOverrideLine, "bad override '" + key + "=" + value + "': expected " + section +
                              ".N.key=value (N counts the file's [[" + section + "]] entries from 0)");
      return;
    }
    const std::size_t i = std::stoul(index);
    const std::size_t have = section == "ports" ? config_.ports.size() : config_.routes.size();
    if (i >= have) {
      fail(kOverrideLine, "'" + key + "': the file has " + std::to_string(have) + " [[" + section +
                              "]] entr" + (have == 1 ? "y" : "ies") + "; --set changes entries, it does not add them" +
                              where);
      return;
    }
    const std::string name = key.substr(d2 + 1);
    const bool is_string = section == "ports" ? (find_in(port_keys(), name) && find_in(port_keys(), name)->is_string)
                                              : (find_in(route_keys(), name) && find_in(route_keys(), name)->is_string);
    with_value(value, is_string, [&](const toml::node& n) { set_entry(section, i, name, n, kOverrideLine, where); });
  }

  // A host's addresses: not 0, broadcast or multicast; the range fits; a unicast MAC.
  void check_host(const std::string& prefix, Ipv4Addr address, std::uint32_t count,
                  const std::optional<wire::MacAddr>& mac, std::uint32_t line = 0) {
    const std::uint32_t a = address.value;
    if (a == 0 || a == 0xFFFFFFFFu || (a >> 28) == 0xE) {
      fail(line, prefix + "address: " + to_string(address) + " cannot be a host's address");
    }
    if (std::uint64_t{a} + count - 1 > 0xFFFFFFFEu) {
      fail(line, prefix + "address_count: " + std::to_string(count) + " addresses from " + to_string(address) +
                     " run past 255.255.255.254");
    }
    if (mac && mac->is_multicast()) {
      fail(line, prefix + "mac: " + mac->to_string() + " is a multicast address");
    }
  }

  // [ip6] as a whole (docs/config.md): the keys need ip6.address, one port only,
  // the gateway reachable.
  void finish_ip6() {
    const RuntimeConfig& c = config_;
    const auto where = [&](const char* key) {
      auto it = ip6_where_.find(key);
      return it == ip6_where_.end() ? std::pair<std::uint32_t, std::string>{0, ""} : it->second;
    };
    if (!c.ip6.address) {
      for (const char* key : {"link_local", "gateway", "dad"}) {
        const auto [line, w] = where(key);
        const bool set = std::string_view(key) == "dad" ? c.ip6.dad
                         : std::string_view(key) == "gateway" ? c.ip6.gateway.has_value()
                                                              : c.ip6.link_local.has_value();
        if (set) fail(line, std::string("ip6.") + key + ": set without ip6.address (IPv6 is off without it)" + w);
      }
      return;
    }
    if (!c.ports.empty()) {
      const auto [line, w] = where("address");
      fail(line, "ip6.address: not with [[ports]] (IPv6 is configured for the single-port form only)" + w);
      return;
    }
    if (c.ip6.gateway && !c.ip6.gateway->is_v6_link_local()) {
      const unsigned len = c.ip6.prefix_len;
      bool on_link = true;
      for (unsigned i = 0; i < len; ++i) {
        const unsigned bit = 7 - i % 8;
        if (((c.ip6.gateway->bytes[i / 8] >> bit) & 1) != ((c.ip6.address->bytes[i / 8] >> bit) & 1)) on_link = false;
      }
      if (!on_link) {
        const auto [line, w] = where("gateway");
        fail(line, "ip6.gateway: " + to_string(*c.ip6.gateway) + " is neither link-local nor on " +
                       to_string(*c.ip6.address) + "/" + std::to_string(len) + w);
      }
    }
  }

  void finish_ports() {
    RuntimeConfig& c = config_;
    if (!single_port_key_.empty()) {
      fail(single_port_line_, single_port_key_ + ": not with [[ports]] (each [[ports]] table has its own "
                              "device and addresses; a default route is a [[routes]] entry)" +
                              single_port_where_);
    }
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < c.ports.size(); ++i) {
      const PortConfig& p = c.ports[i];
      const std::string name = "ports." + std::to_string(i) + ".";
      const std::uint32_t line = port_lines_[i];
      if (!port_address_set_[i]) {
        fail(line, name + "address: required (this port's IPv4 address)" + at_line(line));
        continue;
      }
      check_host(name, p.address, p.address_count, p.mac, line);
      if (p.name.empty()) fail(line, name + "name: must not be empty" + at_line(line));
      if (c.ports.size() > 1 && p.spec.device.empty()) {
        fail(line, name + "device: required with several ports (a PCI address or a vdev name)" + at_line(line));
      }
      total += p.address_count;
      for (std::size_t j = 0; j < i; ++j) {
        const PortConfig& q = c.ports[j];
        if (q.name == p.name) {
          fail(line, name + "name: \"" + p.name + "\" is also ports." + std::to_string(j) + "'s" + at_line(line));
        }
        if (!p.spec.device.empty() && q.spec.device == p.spec.device) {
          fail(line, name + "device: \"" + p.spec.device + "\" is also ports." + std::to_string(j) + "'s" +
                         at_line(line));
        }
        const std::uint64_t a0 = p.address.value, a1 = a0 + p.address_count;
        const std::uint64_t b0 = q.address.value, b1 = b0 + q.address_count;
        if (port_address_set_[j] && a0 < b1 && b0 < a1) {
          fail(line, name + "address: " + to_string(p.address) + " (x" + std::to_string(p.address_count) +
                         ") overlaps ports." + std::to_string(j) + "'s addresses" + at_line(line));
        }
      }
    }
    if (total > 64) {
      fail(0, "ports: " + std::to_string(total) + " addresses in all; at most 64 (every received packet is "
              "looked up in the list)");
    }
    if (!problems_.empty()) return;
    // The single-port fields mirror the first port (RuntimeConfig).
    const PortConfig& first = c.ports.front();
    c.port = first.spec;
    c.address = first.address;
    c.address_count = first.address_count;
    c.prefix_len = first.prefix_len;
    c.mac = first.mac;
    c.gateway.reset();
  }

  void finish_routes() {
    if (!problems_.empty()) return;
    RuntimeConfig& c = config_;
    const std::vector<PortConfig> ports = ports_of(c);
    for (std::size_t i = 0; i < c.routes.size(); ++i) {
      const RouteConfig& r = c.routes[i];
      const std::string name = "routes." + std::to_string(i) + ".";
      const std::uint32_t line = route_lines_[i];
      if (!route_set_[i][0]) {
        fail(line, name + "prefix: required (e.g. \"198.19.0.0/16\", or \"0.0.0.0/0\" for the default route)" +
                       at_line(line));
      }
      if (!route_set_[i][1]) {
        fail(line, name + "port: required (the name of a [[ports]] table" +
                       std::string(c.ports.empty() ? ", \"port0\" for the single port)" : ")") + at_line(line));
        continue;
      }
      const auto p = std::find_if(ports.begin(), ports.end(), [&](const PortConfig& x) { return x.name == r.port; });
      if (p == ports.end()) {
        std::string names;
        for (const PortConfig& x : ports) names += (names.empty() ? "" : ", ") + quote(x.name);
        fail(line, name + "port: no port is called " + quote(r.port) + " (ports: " + names + ")" + at_line(line));
        continue;
      }
      if (r.gateway) {
        const std::uint32_t mask = prefix_mask(p->prefix_len);
        if ((r.gateway->value & mask) != (p->address.value & mask)) {
          fail(line, name + "gateway: " + to_string(*r.gateway) + " is not on port " + quote(p->name) + "'s subnet " +
                         to_string(Ipv4Addr{p->address.value & mask}) + "/" + std::to_string(p->prefix_len) +
                         at_line(line));
        }
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (c.routes[j].prefix == r.prefix && c.routes[j].prefix_len == r.prefix_len && route_set_[j][0]) {
          fail(line, name + "prefix: " + to_string(r.prefix) + "/" + std::to_string(r.prefix_len) +
                         " is also routes." + std::to_string(j) + "'s" + at_line(line));
        }
      }
      if (c.ports.empty() && c.gateway && r.prefix_len == 0) {
        fail(line, name + "prefix: a default route, and ip.gateway is one too (keep one)" + at_line(line));
      }
    }
  }

  void fail(std::uint32_t line, std::string message) {
    problems_.push_back(Problem{line, std::move(message)});
  }

  std::string file_name_;
  RuntimeConfig config_;
  bool address_set_ = false;
  std::map<std::string, std::pair<std::uint32_t, std::string>> ip6_where_;  // ip6 key -> line, where
  std::string single_port_key_;  // the first [port]/[ip] addressing key set, for the [[ports]] check
  std::string single_port_where_;
  std::uint32_t single_port_line_ = 0;
  std::vector<bool> port_address_set_;
  std::vector<std::uint32_t> port_lines_;
  std::vector<std::array<bool, 2>> route_set_;  // prefix, port given
  std::vector<std::uint32_t> route_lines_;
  std::vector<Problem> problems_;
};

std::variant<RuntimeConfig, ConfigError> load(std::string_view text, std::string file_name,
                                              const std::vector<std::string>& overrides) {
  auto parsed = parse_toml(text);
  if (auto* error = std::get_if<std::string>(&parsed)) {
    return ConfigError{(file_name.empty() ? std::string() : file_name + ": ") + *error};
  }
  Loader loader(std::move(file_name));
  loader.file(std::get<toml::table>(parsed));
  for (const std::string& o : overrides) loader.override_one(o);
  loader.finish();
  return loader.result();
}

}  // namespace

bool is_program_section(std::string_view section) noexcept {
  return std::find(kProgramSections.begin(), kProgramSections.end(), section) != kProgramSections.end();
}

std::variant<RuntimeConfig, ConfigError> load_config(const std::string& toml_text,
                                                     const std::vector<std::string>& overrides) {
  return load(toml_text, std::string(), overrides);
}

std::variant<RuntimeConfig, ConfigError> load_config_file(const std::string& path,
                                                          const std::vector<std::string>& overrides) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return ConfigError{path + ": cannot open: " + std::strerror(errno)};
  std::string text;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return ConfigError{path + ": cannot read"};
  return load(text, path, overrides);
}

std::string to_toml(const RuntimeConfig& c) {
  std::string out;
  std::string_view section;
  for (const Key& k : keys()) {
    // Several ports: [[ports]] below says what [port] and [ip] would.
    if (!c.ports.empty() && (k.section == "port" || k.section == "ip")) continue;
    if (k.section != section) {
      if (!section.empty()) out += '\n';
      section = k.section;
      out += "[" + std::string(section) + "]\n";
    }
    out += std::string(k.name) + " = " + k.get(c) + "\n";
  }
  for (const PortConfig& p : c.ports) {
    out += "\n[[ports]]\n";
    for (const auto& k : port_keys()) out += std::string(k.name) + " = " + k.get(p) + "\n";
  }
  for (const RouteConfig& r : c.routes) {
    out += "\n[[routes]]\n";
    for (const auto& k : route_keys()) out += std::string(k.name) + " = " + k.get(r) + "\n";
  }
  return out;
}

std::vector<PortConfig> ports_of(const RuntimeConfig& c) {
  if (!c.ports.empty()) return c.ports;
  PortConfig p;
  p.name = "port0";
  p.spec = c.port;
  p.address = c.address;
  p.address_count = c.address_count;
  p.prefix_len = c.prefix_len;
  p.mac = c.mac;
  return {p};
}

RouteTable routes_of(const RuntimeConfig& c) {
  const std::vector<PortConfig> ports = ports_of(c);
  RouteTable t;
  for (const RouteConfig& r : c.routes) {
    const auto p = std::find_if(ports.begin(), ports.end(), [&](const PortConfig& x) { return x.name == r.port; });
    if (p == ports.end()) continue;  // load_config refused it
    t.add(Route{r.prefix, r.prefix_len, static_cast<std::uint16_t>(p - ports.begin()), r.gateway});
  }
  if (c.ports.empty() && c.gateway) t.add(Route{Ipv4Addr{}, 0, 0, c.gateway});
  return t;
}

StackConfig stack_config(const RuntimeConfig& c, const tcp::Secret& secret) {
  StackConfig s;
  s.local_addrs.clear();
  // Every port's addresses; the first port's first address first.
  for (const PortConfig& p : ports_of(c)) {
    for (std::uint32_t i = 0; i < p.address_count; ++i) s.local_addrs.push_back(Ipv4Addr{p.address.value + i});
  }
  s.tcp = c.tcp;
  s.max_connections = c.max_connections;
  s.max_time_wait = c.max_time_wait;
  s.pressure_percent = c.pressure_percent;
  s.secret = secret;
  return s;
}

InterfaceConfig interface_config(const RuntimeConfig& c, const PortConfig& p, const wire::MacAddr& port_mac) {
  InterfaceConfig i;
  i.mac = p.mac.value_or(port_mac);
  i.addr = p.address;
  i.addr_count = p.address_count;
  i.prefix_len = p.prefix_len;
  i.arp_cache_size = c.arp_cache;
  return i;
}

InterfaceConfig interface_config(const RuntimeConfig& c, const wire::MacAddr& port_mac) {
  InterfaceConfig i;
  i.mac = c.mac.value_or(port_mac);
  i.addr = c.address;
  i.prefix_len = c.prefix_len;
  i.gateway = c.gateway;
  i.arp_cache_size = c.arp_cache;
  i.ip6 = c.ip6;
  return i;
}

}  // namespace riptide::runtime
