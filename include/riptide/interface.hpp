/// \file
/// <riptide/interface.hpp>: Ethernet and ARP in front of a Stack.
///
///   riptide::Interface        input(frame, now) takes a received Ethernet frame
///                             (ARP answered and learned here, IPv4 for us passed to
///                             the Stack); drain(now, f) calls f(eth_header, ipv4) for
///                             every frame ready to go, next hops resolved
///   riptide::InterfaceConfig  MAC, addresses, routes, ARP cache limits
///
/// Thread-safety: none, for every member; the Interface belongs to its Stack's core.
/// Ownership: an Interface holds its Stack by reference (not owned: the Stack must
/// outlive it); frames given to input() are read during the call; the views drain()
/// hands its function live until it returns. Member by member: lib/ip/interface.hpp.
///
/// Partial (issue 13): this header still includes lib/ip/interface.hpp, which
/// includes the engine's headers (installed under riptide/detail/, on pkg-config's
/// include path), so a change to the ARP or neighbour caches, or to the engine,
/// changes what an embedder that includes it compiles against. <riptide/stack.hpp>,
/// <riptide/mbuf.hpp>, <riptide/socket.hpp> and <riptide/memory_link.hpp> do not
/// need it. A pimpl'd Interface (its config types public) is the next step.
#pragma once

#include "riptide/stack.hpp"
#include "ip/interface.hpp"
