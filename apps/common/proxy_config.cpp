// [proxy] from TOML, in the manner of lib/runtime/config.cpp: one table of policy
// keys (used for the [proxy] defaults and for each listener's own), a loader that
// collects every problem with its line, and overrides applied after the file.
//
// toml++ throws toml::parse_error from parse(); it is caught in parse_toml() and
// nowhere else; the rest uses the non-throwing node accessors.
#include "common/proxy_config.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <string_view>

#include <toml++/toml.h>

#include "common/toml_text.hpp"

namespace riptide::apps::proxy {

std::string_view to_string(Balance b) noexcept {
  switch (b) {
    case Balance::RoundRobin: return "round-robin";
    case Balance::LeastConnections: return "least-connections";
    case Balance::SourceHash: return "source-hash";
  }
  return "?";
}

std::string_view to_string(ListenerMode m) noexcept {
  switch (m) {
    case ListenerMode::Tcp: return "tcp";
    case ListenerMode::Connect: return "connect";
  }
  return "?";
}

std::string_view to_string(BackendFailure f) noexcept {
  switch (f) {
    case BackendFailure::Reset: return "reset";
    case BackendFailure::Close: return "close";
  }
  return "?";
}

namespace {

constexpr std::int64_t kU32 = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint32_t kOverrideLine = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint32_t kMaxWeight = 1000;
constexpr std::size_t kMaxCheckBytes = 1024;  // health_check_send / _expect

using toml_format::quote;
using toml_format::type_name;
using toml_format::wrong_type;

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

// The keys a listener inherits, each optional (unset: inherit).
struct PolicyDraft {
  std::optional<Balance> balance;
  std::optional<std::uint32_t> connect_timeout_ms;
  std::optional<std::uint32_t> connect_retries;
  std::optional<std::uint32_t> idle_timeout_ms;
  std::optional<std::uint32_t> max_connections;
  std::optional<std::uint32_t> max_connections_per_client;
  std::optional<BackendFailure> on_backend_failure;
  std::optional<std::uint32_t> down_after_failures;
  std::optional<std::uint32_t> down_retry_ms;
  std::optional<ProxyProtocol> send_proxy_protocol;
  std::optional<bool> accept_proxy_protocol;
  std::optional<std::vector<Cidr>> accept_proxy_from;
  std::optional<ListenerMode> mode;
  std::optional<std::vector<AllowRule>> connect_allow;
  std::optional<std::uint32_t> connect_request_max_bytes;
  std::optional<std::uint32_t> connect_request_timeout_ms;
  std::optional<std::uint32_t> health_check_interval_ms;
  std::optional<std::uint32_t> health_check_timeout_ms;
  std::optional<std::uint32_t> health_check_rise;
  std::optional<std::uint32_t> health_check_fall;
  std::optional<std::string> health_check_send;
  std::optional<std::string> health_check_expect;

  [[nodiscard]] ListenerPolicy over(const ListenerPolicy& base) const {
    ListenerPolicy p = base;
    if (balance) p.balance = *balance;
    if (connect_timeout_ms) p.connect_timeout_ms = *connect_timeout_ms;
    if (connect_retries) p.connect_retries = *connect_retries;
    if (idle_timeout_ms) p.idle_timeout_ms = *idle_timeout_ms;
    if (max_connections) p.max_connections = *max_connections;
    if (max_connections_per_client) p.max_connections_per_client = *max_connections_per_client;
    if (on_backend_failure) p.on_backend_failure = *on_backend_failure;
    if (down_after_failures) p.down_after_failures = *down_after_failures;
    if (down_retry_ms) p.down_retry_ms = *down_retry_ms;
    if (send_proxy_protocol) p.send_proxy_protocol = *send_proxy_protocol;
    if (accept_proxy_protocol) p.accept_proxy_protocol = *accept_proxy_protocol;
    if (accept_proxy_from) p.accept_proxy_from = *accept_proxy_from;
    if (mode) p.mode = *mode;
    if (connect_allow) p.connect_allow = *connect_allow;
    if (connect_request_max_bytes) p.connect_request_max_bytes = *connect_request_max_bytes;
    if (connect_request_timeout_ms) p.connect_request_timeout_ms = *connect_request_timeout_ms;
    if (health_check_interval_ms) p.health_check_interval_ms = *health_check_interval_ms;
    if (health_check_timeout_ms) p.health_check_timeout_ms = *health_check_timeout_ms;
    if (health_check_rise) p.health_check_rise = *health_check_rise;
    if (health_check_fall) p.health_check_fall = *health_check_fall;
    if (health_check_send) p.health_check_send = *health_check_send;
    if (health_check_expect) p.health_check_expect = *health_check_expect;
    return p;
  }
};

// One policy key: reads a node into a draft (or says what is wrong, without the
// key's name) and prints a resolved value.
struct PolicyKey {
  std::string_view name;
  bool is_string;
  bool is_list = false;  // an array of strings (an override may give a bare comma-separated list)
  std::function<std::optional<std::string>(const toml::node&, PolicyDraft&)> set;
  std::function<std::string(const ListenerPolicy&)> get;
};

PolicyKey u32_key(std::string_view name, std::int64_t lo, std::optional<std::uint32_t> PolicyDraft::*draft,
                  std::uint32_t ListenerPolicy::*field, std::int64_t hi = kU32) {
  return PolicyKey{name, false, false,
                   [lo, hi, draft](const toml::node& n, PolicyDraft& d) -> std::optional<std::string> {
                     const auto v = n.value_exact<std::int64_t>();
                     if (!v) return wrong_type("an integer", n);
                     if (*v < lo || *v > hi) {
                       return std::to_string(*v) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi);
                     }
                     d.*draft = static_cast<std::uint32_t>(*v);
                     return std::nullopt;
                   },
                   [field](const ListenerPolicy& p) { return std::to_string(p.*field); }};
}

PolicyKey bool_key(std::string_view name, std::optional<bool> PolicyDraft::*draft, bool ListenerPolicy::*field) {
  return PolicyKey{name, false, false,
                   [draft](const toml::node& n, PolicyDraft& d) -> std::optional<std::string> {
                     const auto v = n.value_exact<bool>();
                     if (!v) return wrong_type("a boolean", n);
                     d.*draft = *v;
                     return std::nullopt;
                   },
                   [field](const ListenerPolicy& p) { return std::string(p.*field ? "true" : "false"); }};
}

PolicyKey string_key(std::string_view name, std::size_t max, std::optional<std::string> PolicyDraft::*draft,
                     std::string ListenerPolicy::*field) {
  return PolicyKey{name, true, false,
                   [max, draft](const toml::node& n, PolicyDraft& d) -> std::optional<std::string> {
                     const auto v = n.value_exact<std::string>();
                     if (!v) return wrong_type("a string", n);
                     if (v->size() > max) {
                       return std::to_string(v->size()) + " bytes is over the limit of " + std::to_string(max);
                     }
                     d.*draft = *v;
                     return std::nullopt;
                   },
                   [field](const ListenerPolicy& p) { return quote(p.*field); }};
}

template <class E, std::size_t N>
PolicyKey enum_key(std::string_view name, const E (&values)[N], std::optional<E> PolicyDraft::*draft,
                   E ListenerPolicy::*field) {
  std::vector<E> all(values, values + N);
  return PolicyKey{name, true, false,
                   [all, draft](const toml::node& n, PolicyDraft& d) -> std::optional<std::string> {
                     const auto v = n.value_exact<std::string>();
                     if (!v) return wrong_type("a string", n);
                     for (E e : all) {
                       if (to_string(e) == *v) {
                         d.*draft = e;
                         return std::nullopt;
                       }
                     }
                     std::string choices;
                     for (E e : all) choices += (choices.empty() ? "" : ", ") + quote(to_string(e));
                     return quote(*v) + " is not one of " + choices;
                   },
                   [field](const ListenerPolicy& p) { return quote(to_string(p.*field)); }};
}

// An array of strings, each read by `parse` (a value, or what is wrong with it);
// empty is allowed (it means "none").
template <class T>
PolicyKey list_key(std::string_view name, std::function<std::variant<T, std::string>(std::string_view)> parse,
                   std::function<std::string(const T&)> print, std::optional<std::vector<T>> PolicyDraft::*draft,
                   std::vector<T> ListenerPolicy::*field) {
  return PolicyKey{name, false, true,
                   [parse, draft](const toml::node& n, PolicyDraft& d) -> std::optional<std::string> {
                     const toml::array* a = n.as_array();
                     if (a == nullptr) return wrong_type("an array of strings", n);
                     std::vector<T> out;
                     for (std::size_t i = 0; i < a->size(); ++i) {
                       const auto s = a->get(i)->value_exact<std::string>();
                       if (!s) return "[" + std::to_string(i) + "]: " + wrong_type("a string", *a->get(i));
                       auto v = parse(*s);
                       if (auto* e = std::get_if<std::string>(&v)) return "[" + std::to_string(i) + "]: " + *e;
                       out.push_back(std::get<T>(v));
                     }
                     d.*draft = std::move(out);
                     return std::nullopt;
                   },
                   [print, field](const ListenerPolicy& p) {
                     std::string out = "[";
                     for (const T& v : p.*field) out += (out.size() > 1 ? ", " : "") + quote(print(v));
                     return out + "]";
                   }};
}

const std::vector<PolicyKey>& policy_keys() {
  static const std::vector<PolicyKey> table = [] {
    static constexpr Balance kBalances[] = {Balance::RoundRobin, Balance::LeastConnections, Balance::SourceHash};
    static constexpr BackendFailure kFailures[] = {BackendFailure::Reset, BackendFailure::Close};
    static constexpr ProxyProtocol kProxyProtocols[] = {ProxyProtocol::Off, ProxyProtocol::V1, ProxyProtocol::V2};
    static constexpr ListenerMode kModes[] = {ListenerMode::Tcp, ListenerMode::Connect};
    return std::vector<PolicyKey>{
        enum_key("balance", kBalances, &PolicyDraft::balance, &ListenerPolicy::balance),
        u32_key("connect_timeout_ms", 1, &PolicyDraft::connect_timeout_ms, &ListenerPolicy::connect_timeout_ms),
        u32_key("connect_retries", 0, &PolicyDraft::connect_retries, &ListenerPolicy::connect_retries),
        u32_key("idle_timeout_ms", 0, &PolicyDraft::idle_timeout_ms, &ListenerPolicy::idle_timeout_ms),
        u32_key("max_connections", 0, &PolicyDraft::max_connections, &ListenerPolicy::max_connections),
        u32_key("max_connections_per_client", 0, &PolicyDraft::max_connections_per_client,
                &ListenerPolicy::max_connections_per_client),
        enum_key("on_backend_failure", kFailures, &PolicyDraft::on_backend_failure,
                 &ListenerPolicy::on_backend_failure),
        u32_key("down_after_failures", 0, &PolicyDraft::down_after_failures, &ListenerPolicy::down_after_failures),
        u32_key("down_retry_ms", 1, &PolicyDraft::down_retry_ms, &ListenerPolicy::down_retry_ms),
        enum_key("send_proxy_protocol", kProxyProtocols, &PolicyDraft::send_proxy_protocol,
                 &ListenerPolicy::send_proxy_protocol),
        bool_key("accept_proxy_protocol", &PolicyDraft::accept_proxy_protocol, &ListenerPolicy::accept_proxy_protocol),
        list_key<Cidr>(
            "accept_proxy_from",
            [](std::string_view t) -> std::variant<Cidr, std::string> {
              auto r = parse_cidr(t);
              if (r.cidr) return *r.cidr;
              return r.error;
            },
            [](const Cidr& c) { return to_string(c); }, &PolicyDraft::accept_proxy_from,
            &ListenerPolicy::accept_proxy_from),
        enum_key("mode", kModes, &PolicyDraft::mode, &ListenerPolicy::mode),
        list_key<AllowRule>(
            "connect_allow",
            [](std::string_view t) -> std::variant<AllowRule, std::string> {
              auto r = parse_allow_rule(t);
              if (r.rule) return *r.rule;
              return r.error;
            },
            [](const AllowRule& r) { return to_string(r); }, &PolicyDraft::connect_allow,
            &ListenerPolicy::connect_allow),
        u32_key("connect_request_max_bytes", 64, &PolicyDraft::connect_request_max_bytes,
                &ListenerPolicy::connect_request_max_bytes, 65536),
        u32_key("connect_request_timeout_ms", 1, &PolicyDraft::connect_request_timeout_ms,
                &ListenerPolicy::connect_request_timeout_ms),
        u32_key("health_check_interval_ms", 0, &PolicyDraft::health_check_interval_ms,
                &ListenerPolicy::health_check_interval_ms),
        u32_key("health_check_timeout_ms", 1, &PolicyDraft::health_check_timeout_ms,
                &ListenerPolicy::health_check_timeout_ms),
        u32_key("health_check_rise", 1, &PolicyDraft::health_check_rise, &ListenerPolicy::health_check_rise, 1000),
        u32_key("health_check_fall", 1, &PolicyDraft::health_check_fall, &ListenerPolicy::health_check_fall, 1000),
        string_key("health_check_send", kMaxCheckBytes, &PolicyDraft::health_check_send,
                   &ListenerPolicy::health_check_send),
        string_key("health_check_expect", kMaxCheckBytes, &PolicyDraft::health_check_expect,
                   &ListenerPolicy::health_check_expect),
    };
  }();
  return table;
}

const PolicyKey* find_policy_key(std::string_view name) {
  for (const PolicyKey& k : policy_keys()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::variant<toml::table, std::string> parse_toml(std::string_view text) {
  try {
    return toml::parse(text);
  } catch (const toml::parse_error& e) {
    const auto& pos = e.source().begin;
    return "TOML syntax: " + std::string(e.description()) + " (line " + std::to_string(pos.line) + ", column " +
           std::to_string(pos.column) + ")";
  }
}

struct ListenerDraft {
  std::uint32_t line = 0;  // where it starts (for messages about missing keys)
  std::optional<Endpoint> bind;
  std::optional<std::vector<BackendSpec>> backends;
  PolicyDraft policy;
};

struct Problem {
  std::uint32_t line;
  std::string message;
};

class Loader {
 public:
  explicit Loader(std::string file_name) : file_name_(std::move(file_name)) {}

  void file(const toml::table& root) {
    const toml::node* proxy = root.get("proxy");
    if (proxy == nullptr) return;
    const std::uint32_t line = proxy->source().begin.line;
    const toml::table* t = proxy->as_table();
    if (t == nullptr) {
      fail(line, "proxy: " + wrong_type("a table", *proxy) + at_line(line));
      return;
    }
    for (auto&& [name, value] : *t) {
      const std::uint32_t key_line = name.source().begin.line;
      if (name.str() == "listener") {
        listeners_in_file(value, key_line);
        continue;
      }
      const PolicyKey* k = find_policy_key(name.str());
      if (k == nullptr) {
        fail(key_line, "unknown key 'proxy." + std::string(name.str()) + "'" + at_line(key_line));
        continue;
      }
      if (auto problem = k->set(value, defaults_)) {
        fail(key_line, "proxy." + std::string(k->name) + ": " + *problem + at_line(key_line));
      }
    }
  }

  void override_one(const std::string& text) {
    const auto eq = text.find('=');
    const std::string key = trim(text.substr(0, eq));
    if (key.rfind("proxy.", 0) != 0) return;  // the runtime's (lib/runtime/config.cpp)
    const std::string where = " (override '" + text + "')";
    if (eq == std::string::npos) {
      fail(kOverrideLine, "bad override '" + text + "': expected proxy.key=value");
      return;
    }
    const std::string value = trim(text.substr(eq + 1));
    std::string_view rest = std::string_view(key).substr(6);
    if (rest.rfind("listener.", 0) == 0) {
      rest.remove_prefix(9);
      const auto dot = rest.find('.');
      std::size_t index = 0;
      const auto [p, ec] = std::from_chars(rest.data(), rest.data() + std::min(dot, rest.size()), index);
      if (dot == std::string_view::npos || ec != std::errc{} || p != rest.data() + dot || dot == 0) {
        fail(kOverrideLine, "bad override '" + text + "': expected proxy.listener.N.key=value");
        return;
      }
      if (index > listeners_.size()) {
        fail(kOverrideLine, "proxy.listener." + std::to_string(index) + ": there are " +
                                std::to_string(listeners_.size()) + " listeners; the next one is proxy.listener." +
                                std::to_string(listeners_.size()) + where);
        return;
      }
      if (index == listeners_.size()) listeners_.push_back(ListenerDraft{kOverrideLine, {}, {}, {}});
      const std::string name(rest.substr(dot + 1));
      const bool is_string = name == "bind" || (find_policy_key(name) && find_policy_key(name)->is_string);
      const bool is_list = name == "backends" || (find_policy_key(name) && find_policy_key(name)->is_list);
      with_value(value, is_string, is_list, [&](const toml::node& n) {
        listener_key(index, name, n, kOverrideLine, where);
      });
      return;
    }
    const std::string name(rest);
    const PolicyKey* k = find_policy_key(name);
    if (k == nullptr) {
      fail(kOverrideLine, "unknown key '" + key + "'" + where);
      return;
    }
    with_value(value, k->is_string, k->is_list, [&](const toml::node& n) {
      if (auto problem = k->set(n, defaults_)) fail(kOverrideLine, key + ": " + *problem + where);
    });
  }

  // Checks that need the whole section (only when every key read cleanly, so a
  // key that did not parse is not reported again as missing).
  void finish(const std::vector<IpAddr>& local_addrs) {
    if (!problems_.empty()) return;
    const ListenerPolicy base = defaults_.over(ListenerPolicy{});
    config_.defaults = base;
    if (listeners_.empty()) {
      fail(0, "proxy.listener: none configured (riptide-proxy needs at least one [[proxy.listener]] with "
              "bind and backends)");
      return;
    }
    for (std::size_t i = 0; i < listeners_.size(); ++i) {
      const ListenerDraft& d = listeners_[i];
      const std::string name = "proxy.listener." + std::to_string(i);
      const std::string where = d.line == kOverrideLine ? " (added by an override)" : at_line(d.line);
      const ListenerPolicy policy = d.policy.over(base);
      const bool connect = policy.mode == ListenerMode::Connect;
      if (!d.bind) fail(d.line, name + ".bind: required (address:port to listen on)" + where);
      if (!d.backends && !connect) {
        fail(d.line, name + ".backends: required (at least one \"address:port\")" + where);
      }
      if (d.backends && connect) {
        fail(d.line, name + ".backends: not used in mode \"connect\" (each client names its destination; "
                            "connect_allow says which are allowed)" + where);
      }
      if (connect && policy.connect_allow.empty()) {
        // No open proxy: a CONNECT listener that allows nothing is a mistake, not a
        // default (issue 12).
        fail(d.line, name + ".connect_allow: empty in mode \"connect\" (nothing would be allowed; list the "
                            "destinations as \"CIDR:PORTS\", e.g. [\"198.18.0.0/16:443\"])" + where);
      }
      if (!d.bind || (!d.backends && !connect) || (d.backends && connect)) continue;
      const IpAddr a = d.bind->addr;
      if (!a.is_unspecified() && !local_addrs.empty() &&
          std::find(local_addrs.begin(), local_addrs.end(), a) == local_addrs.end()) {
        fail(d.line, name + ".bind: " + to_string(a) + " is not one of this host's addresses (ip.address " +
                         to_string(local_addrs.front()) +
                         (local_addrs.size() > 1 ? " +" + std::to_string(local_addrs.size() - 1) : "") +
                         "; 0.0.0.0 for any IPv4 address, [::] for any of both families)" + where);
      }
      // Two listeners on one port overlap when one's address takes the other's:
      // the same address, [::] (both families), or 0.0.0.0 beside an IPv4 address.
      const auto takes = [](const IpAddr& x, const IpAddr& y) {
        return x == y || x.is_v6_unspecified() || (x == IpAddr{Ipv4Addr{}} && y.is_v4());
      };
      for (std::size_t j = 0; j < i; ++j) {
        if (listeners_[j].bind && listeners_[j].bind->port == d.bind->port &&
            (takes(a, listeners_[j].bind->addr) || takes(listeners_[j].bind->addr, a))) {
          fail(d.line, name + ".bind: " + apps::to_string(*d.bind) + " overlaps proxy.listener." +
                           std::to_string(j) + " (" + apps::to_string(*listeners_[j].bind) + ")" + where);
        }
      }
      config_.listeners.push_back(ListenerSpec{*d.bind, d.backends.value_or(std::vector<BackendSpec>{}), policy});
    }
  }

  std::variant<ProxyConfig, ProxyConfigError> result() {
    if (problems_.empty()) return config_;
    std::stable_sort(problems_.begin(), problems_.end(),
                     [](const Problem& x, const Problem& y) { return x.line < y.line; });
    std::string message;
    for (const Problem& p : problems_) {
      if (!message.empty()) message += '\n';
      message += p.message;
    }
    return ProxyConfigError{message};
  }

 private:
  std::string at_line(std::uint32_t line) const {
    if (file_name_.empty()) return " (line " + std::to_string(line) + ")";
    return " (" + file_name_ + " line " + std::to_string(line) + ")";
  }

  void fail(std::uint32_t line, std::string message) { problems_.push_back(Problem{line, std::move(message)}); }

  // An override's value as TOML; for string keys, or when it is not TOML, the bare
  // text (for `backends`, a comma-separated list).
  template <class F>
  void with_value(const std::string& value, bool is_string, bool is_list, F&& apply) {
    auto parsed = parse_toml("v = " + value);
    const toml::node* node = nullptr;
    if (auto* t = std::get_if<toml::table>(&parsed)) node = t->get("v");
    if (node && !(is_string && !node->is_string()) && !(is_list && node->is_string())) {
      apply(*node);
      return;
    }
    if (is_list) {
      toml::array list;
      std::string_view rest = value;
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        list.push_back(trim(rest.substr(0, comma)));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      }
      apply(list);
      return;
    }
    apply(toml::value<std::string>(value));
  }

  void listeners_in_file(const toml::node& value, std::uint32_t line) {
    const toml::array* a = value.as_array();
    if (a == nullptr || !a->is_array_of_tables()) {
      fail(line, "proxy.listener: " + wrong_type("an array of tables ([[proxy.listener]])", value) + at_line(line));
      return;
    }
    for (const toml::node& entry : *a) {
      const std::size_t index = listeners_.size();
      const std::uint32_t entry_line = entry.source().begin.line;
      listeners_.push_back(ListenerDraft{entry_line, {}, {}, {}});
      for (auto&& [name, v] : *entry.as_table()) {
        const std::uint32_t key_line = name.source().begin.line;
        listener_key(index, std::string(name.str()), v, key_line, at_line(key_line));
      }
    }
  }

  void listener_key(std::size_t index, const std::string& name, const toml::node& v, std::uint32_t line,
                    const std::string& where) {
    ListenerDraft& d = listeners_[index];
    const std::string key = "proxy.listener." + std::to_string(index) + "." + name;
    if (name == "bind") {
      const auto s = v.value_exact<std::string>();
      if (!s) {
        fail(line, key + ": " + wrong_type("a string", v) + where);
      } else if (auto e = parse_endpoint(*s)) {  // 0.0.0.0: any IPv4 address; [::]: any of both families
        d.bind = *e;
      } else {
        fail(line, key + ": " + quote(*s) + " is not an address and port (e.g. \"198.18.0.1:8080\" or "
                                            "\"[2001:db8::1]:8080\")" + where);
      }
      return;
    }
    if (name == "backends") {
      if (auto b = backends(v, key, line, where)) d.backends = std::move(*b);
      return;
    }
    const PolicyKey* k = find_policy_key(name);
    if (k == nullptr) {
      fail(line, "unknown key '" + key + "'" + where);
      return;
    }
    if (auto problem = k->set(v, d.policy)) fail(line, key + ": " + *problem + where);
  }

  std::optional<std::vector<BackendSpec>> backends(const toml::node& v, const std::string& key, std::uint32_t line,
                                                   const std::string& where) {
    const toml::array* a = v.as_array();
    if (a == nullptr) {
      fail(line, key + ": " + wrong_type("an array of \"address:port\" or { address, weight }", v) + where);
      return std::nullopt;
    }
    if (a->empty()) {
      fail(line, key + ": empty (at least one backend)" + where);
      return std::nullopt;
    }
    std::vector<BackendSpec> out;
    bool ok = true;
    for (std::size_t i = 0; i < a->size(); ++i) {
      const toml::node& e = *a->get(i);
      const std::string item = key + "[" + std::to_string(i) + "]";
      BackendSpec b;
      std::optional<std::string> text;
      if (const toml::table* t = e.as_table()) {
        for (auto&& [name, value] : *t) {
          if (name.str() == "address") {
            text = value.value_exact<std::string>();
            if (!text) {
              fail(line, item + ".address: " + wrong_type("a string", value) + where);
              ok = false;
            }
          } else if (name.str() == "weight") {
            const auto w = value.value_exact<std::int64_t>();
            if (!w) {
              fail(line, item + ".weight: " + wrong_type("an integer", value) + where);
              ok = false;
            } else if (*w < 0 || *w > kMaxWeight) {
              fail(line, item + ".weight: " + std::to_string(*w) + " is outside 0.." + std::to_string(kMaxWeight) +
                             where);
              ok = false;
            } else {
              b.weight = static_cast<std::uint32_t>(*w);
            }
          } else if (name.str() == "drain") {
            const auto v = value.value_exact<bool>();
            if (!v) {
              fail(line, item + ".drain: " + wrong_type("a boolean", value) + where);
              ok = false;
            } else {
              b.drain = *v;
            }
          } else {
            fail(line, "unknown key '" + item + "." + std::string(name.str()) + "' (address, weight, drain)" + where);
            ok = false;
          }
        }
        if (!text && ok) {
          fail(line, item + ".address: required" + where);
          ok = false;
        }
      } else {
        text = e.value_exact<std::string>();
        if (!text) {
          fail(line, item + ": " + wrong_type("\"address:port\" or { address, weight }", e) + where);
          ok = false;
        }
      }
      if (!text) continue;
      const auto ep = parse_endpoint(*text);
      if (!ep || ep->addr.is_unspecified() || ep->addr.is_v6_multicast()) {
        fail(line, item + ": " + quote(*text) + " is not an address and port (e.g. \"198.18.0.2:8080\" or "
                                                "\"[2001:db8::2]:8080\")" + where);
        ok = false;
        continue;
      }
      b.address = *ep;
      for (const BackendSpec& seen : out) {
        if (seen.address == b.address) {
          fail(line, item + ": " + apps::to_string(b.address) + " is listed twice" + where);
          ok = false;
        }
      }
      out.push_back(b);
    }
    if (!ok) return std::nullopt;
    return out;
  }

  std::string file_name_;
  PolicyDraft defaults_;
  std::vector<ListenerDraft> listeners_;
  ProxyConfig config_;
  std::vector<Problem> problems_;
};

}  // namespace

std::variant<ProxyConfig, ProxyConfigError> load_proxy_config(const std::string& toml_text,
                                                              const std::string& file_name,
                                                              const std::vector<std::string>& overrides,
                                                              const std::vector<IpAddr>& local_addrs) {
  auto parsed = parse_toml(toml_text);
  if (auto* error = std::get_if<std::string>(&parsed)) {
    return ProxyConfigError{(file_name.empty() ? std::string() : file_name + ": ") + *error};
  }
  Loader loader(file_name);
  loader.file(std::get<toml::table>(parsed));
  for (const std::string& o : overrides) loader.override_one(o);
  loader.finish(local_addrs);
  return loader.result();
}

std::variant<ProxyConfig, ProxyConfigError> load_proxy_config_file(const std::string& path,
                                                                   const std::vector<std::string>& overrides,
                                                                   const std::vector<IpAddr>& local_addrs) {
  if (path.empty()) return load_proxy_config("", "", overrides, local_addrs);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return ProxyConfigError{path + ": cannot open: " + std::strerror(errno)};
  std::string text;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return ProxyConfigError{path + ": cannot read"};
  return load_proxy_config(text, path, overrides, local_addrs);
}

std::string to_toml(const ProxyConfig& c) {
  std::string out = "[proxy]\n";
  for (const PolicyKey& k : policy_keys()) out += std::string(k.name) + " = " + k.get(c.defaults) + "\n";
  for (const ListenerSpec& l : c.listeners) {
    out += "\n[[proxy.listener]]\n";
    out += "bind = " + quote(apps::to_string(l.bind)) + "\n";
    if (l.policy.mode != ListenerMode::Connect) {
      out += "backends = [";
      for (std::size_t i = 0; i < l.backends.size(); ++i) {
        const BackendSpec& b = l.backends[i];
        out += i == 0 ? "" : ", ";
        out += "{ address = " + quote(apps::to_string(b.address)) + ", weight = " + std::to_string(b.weight) +
               (b.drain ? ", drain = true" : "") + " }";
      }
      out += "]\n";
    }
    for (const PolicyKey& k : policy_keys()) out += std::string(k.name) + " = " + k.get(l.policy) + "\n";
  }
  return out;
}

}  // namespace riptide::apps::proxy
