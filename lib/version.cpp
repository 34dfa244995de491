#include "riptide/version.hpp"

namespace riptide {

const char* version() noexcept { return RIPTIDE_VERSION_STRING; }

}  // namespace riptide
