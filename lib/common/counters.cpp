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

}  // namespace riptide
