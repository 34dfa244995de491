// Forwards to the public header (docs/embedding.md "The public headers"): the
// value type lives in include/riptide so the installed headers need no internals.
#pragma once

#include "riptide/counters.hpp"
