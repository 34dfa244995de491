/// \file
/// <riptide/memory_link.hpp>: Stacks joined by an in-memory network on a virtual
/// clock, for testing handlers without a NIC.
///
///   riptide::MemoryLink   two stacks (or one, looped back), or any number routed by
///                         destination address; step(), pump(), run_until(done, t)
///                         drive input / advance / drain_tx in time order
///   riptide::Impairment   per-direction loss (independent and Gilbert-Elliott
///                         bursts), duplication, reordering, delay, a drop-tail
///                         bottleneck; seeded, so a run repeats exactly
///   riptide::LinkStats, riptide::LinkEvent, riptide::LinkPacket
///
/// Thread-safety: none; the link and its stacks belong to one thread. Packet views
/// given to the observer and the filter live until they return.
#pragma once

#include "riptide/stack.hpp"
#include "stack/memory_link.hpp"
