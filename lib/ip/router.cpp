#include "ip/router.hpp"

#include <cstdio>
#include <cstdlib>

namespace riptide {

Router::Router(Stack& stack, const std::vector<InterfaceConfig>& ports, const RouteTable& routes,
               Interface* port0)
    : stack_(stack.engine()) {
  if (ports.empty()) {
    std::fprintf(stderr, "riptide: a Router needs at least one port\n");
    std::abort();
  }
  for (std::size_t i = 0; i < ports.size(); ++i) {
    if (i == 0 && port0 != nullptr) {
      ports_.push_back(port0);
    } else {
      owned_.push_back(std::make_unique<Interface>(stack, ports[i]));
      ports_.push_back(owned_.back().get());
    }
    routes_.add_connected(static_cast<std::uint16_t>(i), ports_[i]->config().addr, ports_[i]->config().prefix_len);
  }
  for (const Route& r : routes.routes()) {
    if (r.port >= ports.size()) {
      std::fprintf(stderr, "riptide: route to %s/%u names port %u of %zu\n", to_string(r.prefix).c_str(),
                   r.prefix_len, r.port, ports.size());
      std::abort();
    }
    routes_.add(r);
  }
  stack_.set_source_selector(
      [](Ipv4Addr dst, const void* ctx) { return static_cast<const Router*>(ctx)->source_for(dst); }, this);
}

}  // namespace riptide
