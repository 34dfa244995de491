// Forwards to the public header (docs/embedding.md "The public headers").
#pragma once

#include "riptide/config.hpp"
