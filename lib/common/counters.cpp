#include "common/counters.hpp"

namespace riptide {

namespace {
constexpr std::string_view kNames[] = {
#define RIPTIDE_COUNTER_NAME(name, desc) #name,
    RIPTIDE_COUNTERS(RIPTIDE_COUNTER_NAME)
#undef RIPTIDE_COUNTER_NAME
};
constexpr std::string_view kDescriptions[] = {
#define RIPTIDE_COUNTER_DESC(name, desc) desc,
    RIPTIDE_COUNTERS(RIPTIDE_COUNTER_DESC)
#undef RIPTIDE_COUNTER_DESC
};
static_assert(std::size(kNames) == kCounterCount);
}  // namespace

std::string_view counter_name(Counter c) noexcept { return kNames[static_cast<std::size_t>(c)]; }
std::string_view counter_description(Counter c) noexcept {
  return kDescriptions[static_cast<std::size_t>(c)];
}

std::string limits_hit(const Counters& now, const Counters& before) {
  std::string out;
  for (Counter c : kLimitCounters) {
    if (now[c] <= before[c]) continue;
    if (!out.empty()) out += ' ';
    out += counter_name(c);
    out += '=';
    out += std::to_string(now[c] - before[c]);
  }
  return out;
}

}  // namespace riptide
