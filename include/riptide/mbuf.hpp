/// \file
/// <riptide/mbuf.hpp>: the embedding glue for an appliance that owns its DPDK loop
/// (riptide::io::MbufDriver): received mbufs in, due timers, frames out as mbufs.
///
///   riptide::io::MbufDriver driver(pool, stack_cfg, if_cfg, {}, now);
///   driver.stack().listen(addr, port, handler);
///   for (;;) {
///     n = rte_eth_rx_burst(port, 0, pkts, 32);
///     ... keep the frames the appliance handles itself ...
///     driver.input(rest, k, now);           // takes ownership, frees in bulk
///     driver.advance(now);
///     m = driver.take_tx(out, 32, now);     // the caller owns out[0..m)
///     rte_eth_tx_burst(port, 0, out, m);    // free what was not sent
///   }
///
/// Needs libdpdk (pkg-config's riptide requires it). Thread-safety: none; one
/// driver per lcore. Ownership and offload flags: lib/io/mbuf_driver.hpp.
#pragma once

#include "io/mbuf_driver.hpp"
#include "riptide/interface.hpp"
#include "riptide/stack.hpp"
