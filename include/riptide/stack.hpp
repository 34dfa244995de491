/// \file
/// <riptide/stack.hpp>: the TCP engine (IPv4 and IPv6) of one core and its callback API.
///
///   riptide::Stack      one per lcore: listen(), connect(), send(), close(), abort(),
///                       shutdown(), set_receive_held(), info(), counters(); driven by
///                       input(ip_packet, now), advance(now) and drain_tx(f)
///   riptide::Handler    the application's callbacks (on_accept, on_connected,
///                       on_data, on_writable, on_peer_closed, on_closed)
///   riptide::ConnId, riptide::ListenerId, riptide::Error, riptide::StackConfig,
///   riptide::ListenOptions, riptide::ConnectOptions, riptide::ConnInfo,
///   riptide::Counters / riptide::Counter
///
/// Thread-safety: none. A Stack and every callback it makes belong to one core; all
/// of its calls happen on that core (cross-core work goes through the embedder's own
/// queues). Views (std::span) handed to callbacks live until the callback returns.
/// Time is always passed in (riptide::Instant, a steady clock's time point); the
/// stack never reads a clock.
///
/// Partial (issue 13): this header still includes the engine's internal headers
/// (installed under riptide/detail/), so a change to the connection or the flow
/// table changes what embedders compile against; the ABI is not stable before 1.0.
/// docs/embedding.md says what is public.
#pragma once

#include "riptide/version.hpp"
#include "stack/stack.hpp"
