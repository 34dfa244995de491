/// \file
/// <riptide/interface.hpp>: Ethernet and ARP in front of a Stack.
///
///   riptide::Interface        input(frame, now) takes a received Ethernet frame
///                             (ARP answered and learned here, IPv4 for us passed to
///                             the Stack); drain(now, f) calls f(eth_header, ipv4) for
///                             every frame ready to go, next hops resolved
///   riptide::InterfaceConfig  MAC, addresses, routes, ARP cache limits
///
/// Thread-safety: none; the Interface belongs to its Stack's core.
#pragma once

#include "riptide/stack.hpp"
#include "ip/interface.hpp"
