#include "ip/routes.hpp"

#include <algorithm>

namespace riptide {

void RouteTable::add(Route r) {
  r.prefix.value &= prefix_mask(r.prefix_len);
  // After every route at least as long: longest first, first added first among equals.
  const auto at = std::find_if(routes_.begin(), routes_.end(),
                               [&](const Route& x) { return x.prefix_len < r.prefix_len; });
  routes_.insert(at, r);
}

}  // namespace riptide
