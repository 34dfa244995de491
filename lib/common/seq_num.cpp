#include "common/seq_num.hpp"

namespace riptide {

std::string to_string(SeqNum s) { return std::to_string(s.raw()); }

}  // namespace riptide
