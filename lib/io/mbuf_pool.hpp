/// \file
/// The packet mbuf pool, laid out for the ports that use it.
///
/// Most ports take rte_pktmbuf_pool_create's pool as it is. DPDK 22.11's af_xdp PMD
/// does not: it registers the pool's memory with the kernel as its UMEM, and takes
/// that to be populated_size x object size bytes from the first object
/// (xdp_umem_configure, unaligned chunk mode). The default pool has gaps: its
/// 2,368-byte objects may not cross a page, so with 4 KiB pages (EAL --no-huge,
/// the demo and the tests) each sits alone in its own page, and with 2 MiB pages
/// the end of each page is left over. The objects past the registered length are
/// not in the UMEM: a frame sent from one is a descriptor the kernel refuses and
/// never completes, which stalls that socket's transmit ring for good, and a
/// fill-ring entry there is dropped. Which mbufs a program touches decides whether
/// it meets one: with 8,191 mbufs and 4 KiB pages, 42% of the pool was outside
/// (issue 11 found it when segments were first built in mbufs, which touches more
/// of them: a STREAM over af_xdp stopped in one run of three).
///
/// MbufPoolLayout::PageSlots (declared in <riptide/mbuf.hpp>) removes the gaps: every object is exactly one 4 KiB
/// page (object header, rte_mbuf, and a 3,904-byte data room), in a page-aligned
/// memory zone, so objects are evenly spaced with none left over on any page size,
/// none crosses a page, and the UMEM the PMD registers covers every one. It costs
/// memory (8,191 mbufs: 32 MiB, against 19 MiB packed), which is why only af_xdp
/// ports get it.
///
/// Thread-safety: call from the main lcore at start-up (EAL initialised).
#pragma once

// MbufPoolLayout, MbufPoolOptions, create_mbuf_pool and device_is_af_xdp are
// public: an appliance on af_xdp needs them too.
#include "riptide/mbuf.hpp"
