/// \file
/// <riptide/stack.hpp>: the TCP engine (IPv4 and IPv6) of one core and its callback API.
///
///   riptide::Stack      one per lcore: listen(), connect(), send(), close(), abort(),
///                       shutdown_write(), set_*() options, info(), counters(); driven
///                       by input(ip_packet, now), advance(now) and drain_tx(f)
///   riptide::Handler    the application's callbacks (on_accept, on_connected,
///                       on_data, on_writable, on_peer_closed, on_closed)
///   riptide::ConnId, riptide::ListenerId, riptide::Error, riptide::StackConfig,
///   riptide::ListenOptions, riptide::ConnectOptions, riptide::ConnInfo,
///   riptide::Counters / riptide::Counter (<riptide/counters.hpp>)
///
/// This header is slim (issue 13): it includes only <riptide/...> value headers and
/// the standard library. The engine (connections, flow table, timer wheel, IP layer)
/// is riptide::StackEngine, a private class the Stack owns through a pointer (pimpl),
/// so a change inside the engine changes no public header. Each call below is one
/// out-of-line call into the library, which forwards to the engine.
///
/// Thread-safety: none, for every member. A Stack and every callback it makes
/// belong to one core (thread); all of its calls happen on that thread, callbacks
/// included (cross-core work goes through the embedder's own queues). Two Stacks
/// on two threads share nothing.
///
/// Ownership: the Stack owns its engine, connections and buffers, and frees them in
/// its destructor (connections still open are dropped without callbacks: call
/// abort_all() first to tell handlers and peers). It does not own the Handlers it is
/// given: a Handler must outlive every connection and listener it serves. Views
/// (std::span) passed in are read during the call only (send() copies); views
/// handed to callbacks and to drain_tx()'s function live until that function
/// returns. Time is always passed in (riptide::Instant, a steady clock's time point);
/// the stack never reads a clock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "riptide/counters.hpp"
#include "riptide/ip_addr.hpp"
#include "riptide/result.hpp"
#include "riptide/rx_checksum.hpp"
#include "riptide/seq_num.hpp"
#include "riptide/tcp_config.hpp"
#include "riptide/tcp_state.hpp"
#include "riptide/time.hpp"
#include "riptide/version.hpp"

namespace riptide {

using tcp::CloseReason;
using tcp::State;

class StackEngine;  // the engine (lib/stack/stack.hpp): private to the library

/// Errors the API returns (never thrown).
enum class Error : std::uint8_t {
  InvalidArgument,   ///< bad address, port or option value
  AddressInUse,      ///< listen() on a taken port, connect() on a taken 4-tuple
  AddressNotLocal,   ///< a local address that is not one of the stack's
  NoPorts,           ///< every ephemeral port is in use toward that peer
  NoMemory,          ///< connection pool or listener table exhausted
  BadConnection,     ///< the handle is stale (the connection is gone)
  NotConnected,      ///< the call needs a synchronized connection
  Closing,           ///< the write side is already shut
};
[[nodiscard]] std::string_view to_string(Error e) noexcept;

/// A handle to a connection: a pool slot and that slot's generation, so a handle
/// kept after on_closed() is recognised as stale rather than reaching a new owner.
struct ConnId {
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  constexpr bool operator==(const ConnId&) const = default;
};

struct ListenerId {
  std::uint32_t index = 0;
  constexpr bool operator==(const ListenerId&) const = default;
};

class Stack;

/// Application callbacks, run on the owning core. A handler may call any Stack API
/// from inside a callback, including on the connection being reported.
class Handler {
 public:
  virtual ~Handler() = default;
  /// A passive connection reached ESTABLISHED (listeners with auto_accept).
  virtual void on_accept(Stack&, ConnId) {}
  /// A listener without auto_accept has a connection waiting in its accept queue.
  virtual void on_acceptable(Stack&, ListenerId) {}
  /// An active open completed. A failed one ends in on_closed(Refused/TimedOut).
  virtual void on_connected(Stack&, ConnId) {}
  /// In-order payload; the view is valid only during the call (zero copy).
  virtual void on_data(Stack&, ConnId, std::span<const std::byte>) {}
  /// Send space freed after send() accepted less than it was given.
  virtual void on_writable(Stack&, ConnId) {}
  /// The peer's FIN arrived: no more data will come (half-close).
  virtual void on_peer_closed(Stack&, ConnId) {}
  /// The connection is gone; the ConnId is stale once this returns.
  virtual void on_closed(Stack&, ConnId, CloseReason) {}
};

struct ListenOptions {
  std::uint32_t backlog = 0;  ///< SYN queue and accept queue bound; 0: the config default
  bool auto_accept = true;    ///< hand connections to on_accept() as they complete
  std::optional<tcp::SynCookieMode> syn_cookies;  ///< default: the stack's config
};

struct ConnectOptions {
  /// Unspecified (`::` or 0.0.0.0): chosen for the remote address: IPv4, the
  /// stack's first address (or set_source_selector's choice); IPv6, by
  /// IpLayer::select_source (RFC 6724's scope rule). Otherwise one of the stack's
  /// addresses, of the remote address's family.
  IpAddr local_addr{};
  std::uint16_t local_port = 0;  ///< 0: an ephemeral port
};

struct StackConfig {
  std::vector<Ipv4Addr> local_addrs;  ///< IPv4; this or local_addrs6 has at least one
  /// IPv6 addresses, global and link-local (fe80::/10); not multicast, not `::`,
  /// not IPv4-mapped. TCP over IPv6 uses them (RFC 8200).
  std::vector<IpAddr> local_addrs6;
  tcp::TcpConfig tcp;
  /// Connection records (about 1.5 KB each, allocated at start-up).
  std::uint32_t max_connections = 65536;
  /// Records are scarce once this percentage of max_connections is in use: new
  /// SYNs on listeners with cookies "auto" get cookies instead of records, and
  /// half-open entries give up after tcp.synack_retries_pressure SYN-ACKs. 1..100.
  std::uint32_t pressure_percent = 90;
  /// TIME-WAIT records; when all are taken the oldest is recycled. 0: connections
  /// close without TIME-WAIT (tcp_time_wait_full).
  std::uint32_t max_time_wait = 262144;
  std::uint32_t max_listeners = 64;
  /// 2 KiB send-buffer chunks (address space reserved, memory touched as used); 0:
  /// 32 per connection, at most kDefaultChunkLimit.
  std::uint32_t send_chunks = 0;
  std::uint32_t tx_queue = 4096;    ///< packets waiting for drain_tx()
  std::uint8_t ttl = 64;            ///< IPv4 TTL
  std::uint8_t hop_limit = 64;      ///< IPv6 Hop Limit (RFC 8200 3); 1..255
  tcp::Secret secret{};             ///< ISN/cookie key; random_secret() in production
  /// The port computes IPv4 and TCP checksums (DPDK TX offload): TCP segments leave
  /// with a zero IP checksum and the pseudo-header sum in the TCP checksum field.
  bool tx_checksum_offload = false;
  /// Several cores: true when this stack's core owns a tuple. Active opens pick an
  /// ephemeral port the filter accepts, so replies land on this core. Null: all.
  bool (*owns)(const FlowKey& key, const void* ctx) = nullptr;
  const void* owns_ctx = nullptr;
};

/// A random secret from libsodium (start-up only: not for the data path).
[[nodiscard]] tcp::Secret random_secret();

/// The default send_chunks' ceiling: 1 GiB of address space per stack, what 16,384
/// connections with 32 chunks each took before the connection table grew.
inline constexpr std::uint32_t kDefaultChunkLimit = 524288;

/// The largest MSS a transmit slot can carry (2048 - IPv4 20 - TCP 60). Over IPv6
/// connections use tcp.mss - 20 (the same MTU less the longer header, RFC 8200 8.3).
inline constexpr std::uint16_t kMaxMss = 1968;

/// What is wrong with a configuration, naming the key, or nothing. Stack's
/// constructor aborts on a bad one; programs call this first to report nicely.
[[nodiscard]] std::optional<std::string> validate(const StackConfig& c);

/// A snapshot of one connection (the .pkt runner's tcpi_state, telemetry's listing).
struct ConnInfo {
  FlowKey key;
  State state = State::Closed;
  SeqNum snd_una, snd_nxt, rcv_nxt, iss, irs;
  std::uint32_t snd_wnd = 0, rcv_wnd = 0, cwnd = 0, ssthresh = 0;
  tcp::CongestionAlgorithm congestion = tcp::CongestionAlgorithm::NewReno;
  bool in_recovery = false;
  std::uint16_t snd_mss = 0;
  std::uint8_t snd_wscale = 0, rcv_wscale = 0;
  bool ts_ok = false, sack_ok = false;
  std::size_t send_queued = 0;
  Duration srtt{}, rto{};
};

/// One core's TCP stack: the application API and the driving calls. A thin facade
/// over the engine (StackEngine); see the \file comment for thread-safety (none:
/// one thread) and ownership. Not copyable, not movable (handlers hold Stack&).
class Stack final {
 public:
  /// Builds the engine: every connection record, TIME-WAIT record, the timer wheel
  /// and the transmit queue are allocated here (start-up, not the data path). A bad
  /// config aborts the process (validate() first to report it nicely). `now` is the
  /// clock's start.
  Stack(StackConfig cfg, Instant now);
  /// Frees everything; open connections are dropped silently (no callbacks, no RST).
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  /// --- driving ------------------------------------------------------------------
  /// One received IP packet; the version nibble says IPv4 or IPv6. The view is read
  /// during the call only (payload handed to on_data() points into it). Callbacks
  /// run from inside this call.
  void input(std::span<const std::byte> ip_packet, Instant now, RxChecksum rx = {});
  /// The same for a packet the link says is IPv4 (EtherType 0x0800): another
  /// version is malformed IPv4 (ip_drop_malformed).
  void input_ipv4(std::span<const std::byte> packet, Instant now, RxChecksum rx = {});
  /// The same for a packet the link says is IPv6 (EtherType 0x86DD).
  void input_ipv6(std::span<const std::byte> packet, Instant now, RxChecksum rx = {});
  /// Runs the timers that are due (retransmissions, delayed ACKs, keep-alives,
  /// TIME-WAIT expiry); callbacks run from inside this call.
  void advance(Instant now);
  /// Moves the clock without running timers, for hosts that call the API between
  /// advance()s (the time a send() or close() happens at). Never moves backwards.
  void set_clock(Instant now) noexcept;
  /// A function the transmit queue is drained into: called once per packet, the
  /// view valid until it returns.
  using PacketSink = void (*)(void* ctx, std::span<const std::byte> ip_packet);
  /// Calls sink(ctx, packet) for each queued IP packet (IPv4 or IPv6: the version
  /// nibble says), oldest first; returns how many. The sink must not call back
  /// into this Stack.
  std::size_t drain_tx(PacketSink sink, void* ctx);
  /// The same with any callable f(std::span<const std::byte>) (one indirect call
  /// per packet through the function pointer form).
  template <class F>
  std::size_t drain_tx(F&& f) {
    using Fn = std::remove_reference_t<F>;
    return drain_tx([](void* ctx, std::span<const std::byte> p) { (*static_cast<Fn*>(ctx))(p); },
                    const_cast<void*>(static_cast<const void*>(std::addressof(f))));
  }
  /// Packets waiting for drain_tx().
  [[nodiscard]] std::size_t tx_pending() const noexcept;
  /// Queues an IP packet (IPv4 or IPv6) the caller built whole: riptide-load's lab
  /// flood modes (apps/common/flood.hpp), segments that belong to no connection and
  /// never pass the state machine; the ICMPv6 and Neighbor Discovery messages of
  /// lib/ip. It leaves like the stack's own output (drain_tx, then the
  /// Interface's routing and ARP, the port's tx batch); its checksums are the
  /// caller's, in the form config().tx_checksum_offload asks for. The bytes are
  /// copied. False, counted in tx_queue_full, when the transmit queue is full;
  /// false for a packet larger than a transmit slot (2,048 bytes) or shorter than
  /// an IPv4 header.
  bool output_raw(std::span<const std::byte> ip_packet);
  /// The earliest timer or TIME-WAIT expiry, if any.
  [[nodiscard]] std::optional<Instant> next_timer() const noexcept;
  /// The stack's clock: the latest time input(), advance() or set_clock() gave it.
  [[nodiscard]] Instant now() const noexcept;

  /// --- the application API ----------------------------------------------------------
  /// Every call may be made from inside a callback, on any connection (the one
  /// being reported included). Handler& arguments are kept by reference (not
  /// owned); a ConnId that is stale answers Error::BadConnection.
  ///
  /// `addr`: `::` takes both families; 0.0.0.0 every IPv4 address; a local
  /// address only that one. On one port a listener on an address comes before one
  /// on 0.0.0.0, which comes before one on `::`.
  Result<ListenerId, Error> listen(IpAddr addr, std::uint16_t port, Handler& h,
                                   ListenOptions opts = {});
  /// Stops listening; connections already accepted live on, queued ones are reset.
  void unlisten(ListenerId l);
  /// Takes the oldest connection from a listener's accept queue.
  std::optional<ConnId> accept(ListenerId l);
  [[nodiscard]] std::size_t accept_queue_length(ListenerId l) const;
  /// Children of a listener in SYN-RECEIVED that count against its SYN queue.
  [[nodiscard]] std::size_t syn_queue_length(ListenerId l) const;

  /// `remote`: IPv4 or IPv6 (not multicast, not unspecified); the local address
  /// is of the same family (ConnectOptions::local_addr). The SYN is queued for
  /// drain_tx(); the outcome comes as on_connected() or on_closed().
  Result<ConnId, Error> connect(IpAddr remote, std::uint16_t remote_port, Handler& h,
                                ConnectOptions opts = {});
  /// Copies into the send buffer what fits; returns that count (0 when full: then
  /// on_writable() follows once there is room).
  Result<std::size_t, Error> send(ConnId c, std::span<const std::byte> data);
  /// Sends FIN after what is queued; receiving goes on (half-close).
  std::optional<Error> shutdown_write(ConnId c);
  /// The application lets go: FIN after what is queued (RFC 9293 close); the stack
  /// finishes the close on its own and no further callbacks come for `c` but
  /// on_closed().
  std::optional<Error> close(ConnId c);
  /// RST where RFC 9293 says so; the connection is gone (on_closed(Aborted)).
  std::optional<Error> abort(ConnId c);
  /// Shutdown: every connection is aborted (RST where RFC 9293 says so), so no peer
  /// is left half-open; handlers hear on_closed(aborted).
  void abort_all();
  /// TCP_NODELAY: Nagle off (on = true) for this connection.
  std::optional<Error> set_nodelay(ConnId c, bool on);
  /// RFC 1122 4.2.3.6 keep-alives for one connection (the config gives defaults).
  struct Keepalive {
    bool on = true;
    Duration idle = std::chrono::hours{2};
    Duration interval = std::chrono::seconds{75};
    std::uint8_t count = 9;
  };
  std::optional<Error> set_keepalive(ConnId c, const Keepalive& k);
  /// TCP_CONGESTION: NewReno or CUBIC for this connection from now on.
  std::optional<Error> set_congestion(ConnId c, tcp::CongestionAlgorithm a);
  /// SO_RCVBUF / SO_SNDBUF: this connection's buffer sizes in bytes (at least one
  /// MSS each; the receive window cannot outgrow the window scale agreed in the
  /// SYNs, RFC 7323 2.3, so set it before connect() or from on_accept for large
  /// windows). InvalidArgument for 0 or more than 1 GiB.
  std::optional<Error> set_buffer_sizes(ConnId c, std::uint32_t rcv_buf, std::uint32_t snd_buf);
  /// Holds back `bytes` of received data from the advertised window (the
  /// application has not consumed them yet: flow control toward the peer).
  std::optional<Error> set_receive_held(ConnId c, std::uint32_t bytes);
  /// Callbacks for `c` go to `h` from now on (kept by reference, not owned).
  std::optional<Error> set_handler(ConnId c, Handler& h);
  /// An application pointer carried by the connection (not owned; the stack never
  /// dereferences it). user_data() answers from on_accept()/on_connected() until
  /// on_closed() returns (inside on_closed() too); null for a stale or unknown ConnId.
  void set_user_data(ConnId c, void* p);
  [[nodiscard]] void* user_data(ConnId c) const;

  /// A snapshot of one connection (a copy); nullopt for a stale ConnId.
  [[nodiscard]] std::optional<ConnInfo> info(ConnId c) const;
  /// True while `c` names a connection (until on_closed() returned).
  [[nodiscard]] bool alive(ConnId c) const noexcept;
  /// The state of whatever holds this tuple: a connection, a TIME-WAIT record, or
  /// nothing (CLOSED). For observers that know a tuple but no handle.
  [[nodiscard]] State state_of(const FlowKey& key) const;
  /// A function for_each_connection() calls once per connection; the ConnInfo is
  /// valid until it returns.
  using ConnVisitor = void (*)(void* ctx, const ConnInfo& c);
  /// Calls visit(ctx, info) for every connection and TIME-WAIT record (an ss-like
  /// listing for telemetry). Control path: walks the whole pool. The visitor must
  /// not call back into this Stack.
  void for_each_connection(ConnVisitor visit, void* ctx) const;
  /// The same with any callable f(const ConnInfo&).
  template <class F>
  void for_each_connection(F&& f) const {
    using Fn = std::remove_reference_t<F>;
    for_each_connection([](void* ctx, const ConnInfo& c) { (*static_cast<Fn*>(ctx))(c); },
                        const_cast<void*>(static_cast<const void*>(std::addressof(f))));
  }
  /// True while a TIME-WAIT record holds this tuple.
  [[nodiscard]] bool time_wait_exists(const FlowKey& key) const;

  /// --- observability ------------------------------------------------------------------
  /// This core's counters; the reference lives as long as the Stack. Read them on
  /// the owning thread, or from another (telemetry) knowing a value may be stale:
  /// each is a 64-bit word written only by the owner.
  [[nodiscard]] const Counters& counters() const noexcept { return *counters_; }
  /// The same per-core counters, writable, for the layers in front of the stack
  /// (L2, I/O, an embedder's own drop reasons). Owning thread only.
  [[nodiscard]] Counters& shared_counters() noexcept { return *counters_; }
  [[nodiscard]] std::size_t connection_count() const noexcept;
  [[nodiscard]] std::size_t time_wait_count() const noexcept;
  /// Connections by RFC 9293 state; TIME-WAIT counts the compact records.
  [[nodiscard]] std::array<std::size_t, tcp::kStateCount> connections_by_state() const noexcept;
  /// The configuration the Stack was built with (a reference into the Stack).
  [[nodiscard]] const StackConfig& config() const noexcept;

  /// --- overload control (DESIGN.md "Overload") -----------------------------------------
  /// While set, a new SYN on a listener whose cookies are not "never" is answered
  /// with a cookie only: no record and no SYN-ACK timer until a handshake completes,
  /// so a core that is behind spends nothing on half-open connections and keeps
  /// its records for the connections it already has (tcp_syn_shed_overload). The
  /// owned loop sets it while its receive bursts come back full (Worker::poll_once);
  /// an embedder may drive it from its own measure of being behind.
  void set_shedding(bool on) noexcept;
  [[nodiscard]] bool shedding() const noexcept;
  /// True for one of the stack's own addresses.
  [[nodiscard]] bool is_local(const IpAddr& a) const noexcept;
  [[nodiscard]] bool is_local(Ipv4Addr a) const noexcept;

  /// --- for tests and tools (control path) -------------------------------------------
  /// Called on every state change of every connection (after the stack's own
  /// bookkeeping), so a test can check each edge against RFC 9293's diagram. `ctx`
  /// is not owned.
  using StateObserver = void (*)(void* ctx, const FlowKey& key, State from, State to);
  void set_state_observer(StateObserver f, void* ctx) noexcept;

  /// --- inside the library --------------------------------------------------------------
  /// The engine, for riptide's own per-packet drivers (Interface, Router, MbufDriver,
  /// Worker, MemoryLink), which call it directly so no packet pays for the facade.
  /// An incomplete type here: only code that includes lib/stack/stack.hpp (not
  /// installed) can use it.
  [[nodiscard]] StackEngine& engine() noexcept { return *engine_; }
  [[nodiscard]] const StackEngine& engine() const noexcept { return *engine_; }

 private:
  std::unique_ptr<StackEngine> engine_;
  Counters* counters_;  ///< the engine's, cached: counters() is inline
};

}  // namespace riptide
