/// \file
/// StackEngine: the engine behind the public riptide::Stack (include/riptide/stack.hpp,
/// a facade that owns one through a pointer and forwards each call, lib/stack/
/// stack_api.cpp). Not installed: changing it changes no public header. riptide's
/// own per-packet drivers (Interface, Router, MbufDriver, Worker, MemoryLink) reach
/// it with Stack::engine() and call it directly. Handler callbacks get the facade
/// (api()).
///
/// One per lcore. It owns that core's connections (flow table keyed by the
/// 4-tuple), listeners, TIME-WAIT records, timer wheel, counters and transmit queue,
/// and serves the application API. Nothing in it is shared with another core, so
/// nothing in it is locked.
///
/// TIME-WAIT records (56 bytes each, with their expiry) live in a ring ordered by
/// expiry rather than on the timer wheel: every record lasts the same 2*MSL, so the
/// oldest is always at the head and expiring is popping the head. A retransmitted
/// FIN restarts a record's 2*MSL by moving it to the tail (its old slot stays a hole
/// until the head passes it). When the ring is full the oldest record is recycled
/// (counted in tcp_time_wait_recycled): under a close rate the table cannot hold
/// for 2*MSL, every tuple keeps TIME-WAIT for max_time_wait / rate seconds instead
/// of most of them getting none (Linux's tcp_max_tw_buckets skips TIME-WAIT).
///
/// Driving it (DESIGN.md "Two ways to drive a Stack, one engine"):
///   input(ip_packet, now)     hand it one received IPv4 or IPv6 packet
///   advance(now)              run the timers that are due
///   drain_tx(f)               take what it wants sent, as IPv4 or IPv6 packets
/// IP itself (header checks, ICMP echo, the IPv6 extension-header walk, IP output)
/// is lib/ip's IpLayer; the Stack keeps TCP demux, the flow table, listeners,
/// TIME-WAIT, timers and the API.
/// Time is always passed in; the stack never reads a clock.
///
/// Thread-safety: none. Every call, and every callback, happens on the owning core.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "riptide/stack.hpp"  // Stack (the public facade) and the public value types
#include "common/counters.hpp"
#include "common/ip_addr.hpp"
#include "common/result.hpp"
#include "common/rx_checksum.hpp"
#include "common/time.hpp"
#include "ip/ip_layer.hpp"
#include "ip/tx_queue.hpp"
#include "stack/flow_table.hpp"
#include "stack/timer_wheel.hpp"
#include "tcp/config.hpp"
#include "tcp/connection.hpp"
#include "tcp/isn.hpp"
#include "tcp/syn_cookie.hpp"
#include "tcp/time_wait.hpp"

namespace riptide {

class StackEngine final : private tcp::TcpHost {
 public:
  using Keepalive = Stack::Keepalive;
  using StateObserver = Stack::StateObserver;

  /// `api`: the facade that owns this engine; handlers are called with it.
  StackEngine(Stack& api, StackConfig cfg, Instant now);
  ~StackEngine();
  StackEngine(const StackEngine&) = delete;
  StackEngine& operator=(const StackEngine&) = delete;

  /// The public Stack this engine serves (what Handler callbacks receive).
  [[nodiscard]] Stack& api() noexcept { return api_; }

  /// --- driving ------------------------------------------------------------------
  /// One received IP packet; the version nibble says IPv4 or IPv6.
  void input(std::span<const std::byte> ip_packet, Instant now, RxChecksum rx = {});
  /// The same for a packet the link says is IPv4 (EtherType 0x0800): another
  /// version is malformed IPv4 (ip_drop_malformed).
  void input_ipv4(std::span<const std::byte> packet, Instant now, RxChecksum rx = {});
  /// The same for a packet the link says is IPv6 (EtherType 0x86DD).
  void input_ipv6(std::span<const std::byte> packet, Instant now, RxChecksum rx = {});
  void advance(Instant now);
  /// Moves the clock without running timers, for hosts that call the API between
  /// advance()s (the time a send() or close() happens at). Never moves backwards.
  void set_clock(Instant now) noexcept { now_ = std::max(now_, now); }
  /// Calls f(std::span<const std::byte>) for each queued IP packet (IPv4 or IPv6:
  /// the version nibble says), oldest first.
  template <class F>
  std::size_t drain_tx(F&& f) {
    return tx_.drain(std::forward<F>(f));
  }
  [[nodiscard]] std::size_t tx_pending() const noexcept { return tx_.pending(); }
  /// Lends the transmit queue the host's buffers (ip::TxBufferSource: io::MbufEngine
  /// lends mbufs), so segments are built in the buffer the port sends; inside
  /// drain_tx's f, claim_tx(packet) hands that buffer to the host (null: the
  /// packet is in the queue's own memory, copy it). lib/ip/tx_queue.hpp says more.
  void set_tx_buffers(const ip::TxBufferSource& src) noexcept { tx_.set_buffer_source(src); }
  [[nodiscard]] void* claim_tx(std::span<const std::byte> packet) noexcept { return tx_.claim(packet); }
  /// Queues an IP packet (IPv4 or IPv6) the caller built whole: riptide-load's lab
  /// flood modes (apps/common/flood.hpp), segments that belong to no connection and
  /// never pass the state machine; the ICMPv6 and Neighbor Discovery messages of
  /// lib/ip. It leaves like the stack's own output (drain_tx, then the
  /// Interface's routing and ARP, the port's tx batch); its checksums are the
  /// caller's, in the form config().tx_checksum_offload asks for. False, counted in
  /// tx_queue_full, when the transmit queue is full; false for a packet larger than a
  /// transmit slot (2,048 bytes) or shorter than an IPv4 header.
  bool output_raw(std::span<const std::byte> ipv4_packet);
  /// The earliest timer or TIME-WAIT expiry, if any.
  [[nodiscard]] std::optional<Instant> next_timer() const noexcept;
  [[nodiscard]] Instant now() const noexcept { return now_; }

  /// --- the application API ----------------------------------------------------------
  /// Each call as riptide::Stack's, which documents it (include/riptide/stack.hpp:
  /// arguments, errors, ownership); the facade forwards here, one call each.
  Result<ListenerId, Error> listen(IpAddr addr, std::uint16_t port, Handler& h,
                                   ListenOptions opts = {});
  void unlisten(ListenerId l);
  std::optional<ConnId> accept(ListenerId l);
  [[nodiscard]] std::size_t accept_queue_length(ListenerId l) const;

  Result<ConnId, Error> connect(IpAddr remote, std::uint16_t remote_port, Handler& h,
                                ConnectOptions opts = {});
  Result<std::size_t, Error> send(ConnId c, std::span<const std::byte> data);
  std::optional<Error> shutdown_write(ConnId c);
  std::optional<Error> close(ConnId c);
  std::optional<Error> abort(ConnId c);
  void abort_all();
  std::optional<Error> set_nodelay(ConnId c, bool on);
  std::optional<Error> set_keepalive(ConnId c, const Keepalive& k);
  std::optional<Error> set_congestion(ConnId c, tcp::CongestionAlgorithm a);
  std::optional<Error> set_buffer_sizes(ConnId c, std::uint32_t rcv_buf, std::uint32_t snd_buf);
  std::optional<Error> set_receive_held(ConnId c, std::uint32_t bytes);
  std::optional<Error> set_handler(ConnId c, Handler& h);
  void set_user_data(ConnId c, void* p);
  [[nodiscard]] void* user_data(ConnId c) const;

  [[nodiscard]] std::optional<ConnInfo> info(ConnId c) const;
  [[nodiscard]] bool alive(ConnId c) const noexcept { return lookup(c) != nullptr; }
  [[nodiscard]] State state_of(const FlowKey& key) const;
  template <class F>
  void for_each_connection(F&& f) const;
  [[nodiscard]] bool time_wait_exists(const FlowKey& key) const;

  /// --- observability ------------------------------------------------------------------
  [[nodiscard]] const Counters& counters() const noexcept { return counters_; }
  /// The same per-core counters, for the layers in front of the stack (L2, I/O).
  [[nodiscard]] Counters& shared_counters() noexcept { return counters_; }
  [[nodiscard]] std::size_t connection_count() const noexcept { return conn_count_; }
  [[nodiscard]] std::size_t time_wait_count() const noexcept { return tw_count_; }
  /// Connections by RFC 9293 state; TIME-WAIT counts the compact records.
  [[nodiscard]] std::array<std::size_t, tcp::kStateCount> connections_by_state() const noexcept {
    auto v = by_state_;
    v[static_cast<std::size_t>(State::TimeWait)] = tw_count_;
    return v;
  }
  [[nodiscard]] const StackConfig& config() const noexcept { return cfg_; }

  /// --- overload control (DESIGN.md "Overload") -----------------------------------------
  /// While set, a new SYN on a listener whose cookies are not "never" is answered
  /// with a cookie only: no record and no SYN-ACK timer until a handshake completes,
  /// so a core that is behind spends nothing on half-open connections and keeps
  /// its records for the connections it already has (tcp_syn_shed_overload). The
  /// owned loop sets it while its receive bursts come back full (Worker::poll_once);
  /// an embedder may drive it from its own measure of being behind.
  void set_shedding(bool on) noexcept { shedding_ = on; }
  [[nodiscard]] bool shedding() const noexcept { return shedding_; }
  [[nodiscard]] bool is_local(const IpAddr& a) const noexcept { return ip_.is_local(a); }
  [[nodiscard]] bool is_local(Ipv4Addr a) const noexcept { return ip_.is_local_v4(a); }

  /// --- ICMP errors for TCP (RFC 9293 3.9.2.2, MUST-54) -------------------------------
  /// An error quoting `quoted`, a packet this stack sent (from its IPv4 or IPv6
  /// header; at least the TCP ports and sequence number, RFC 4443 2.4(c) and RFC
  /// 792 quote that much), is given to the connection it names (RFC 4443 2.4(a)).
  /// Taken only when the quoted sequence number is in flight (RFC 5927 4.1); each
  /// refusal counted (tcp_icmp_drop_*). The caller checked the ICMP message itself
  /// (checksum, type) and classified it (ip::classify_icmp_error and
  /// classify_icmpv6_error). Called by lib/ip (the IpLayer for ICMP, the Interface
  /// for ICMPv6) on the owning core; `quoted` is only read during the call. True
  /// when a connection took it (the quote names one and its sequence number is in
  /// flight): the Interface updates its PMTU cache only then, so a blind forger
  /// cannot poison it (RFC 5927 4.1).
  bool icmp_error(ip::IcmpError e, std::span<const std::byte> quoted, Instant now);

  /// The path MTU to an IPv6 peer (lib/ip's Interface::path_mtu: the link MTU unless
  /// a Packet Too Big lowered it, RFC 8201), asked once per new IPv6 connection so
  /// its MSS fits the path from the start. Unset: the configured MSS alone. Set at
  /// start-up, on the owning core.
  using PathMtuSource = std::uint32_t (*)(const void* ctx, const IpAddr& dst, Instant now);
  void set_path_mtu_source(PathMtuSource f, const void* ctx) noexcept {
    path_mtu_ = f;
    path_mtu_ctx_ = ctx;
  }

  /// --- IP (lib/ip) -----------------------------------------------------------------
  /// The ICMPv6 side (RFC 4443, Neighbor Discovery) plugs in here: it receives
  /// ICMPv6 messages for us and sends the Parameter Problems RFC 8200 4 asks for.
  /// Set at start-up, on the owning core.
  void set_icmpv6_hooks(const ip::Icmpv6Hooks& h) noexcept { ip_.set_icmpv6_hooks(h); }
  [[nodiscard]] const ip::IpLayer& ip_layer() const noexcept { return ip_; }

  /// --- source address selection (several ports) ---------------------------------------
  /// connect() without a local address asks `select(remote, ctx)` which of our
  /// addresses to use (RFC 1122 3.3.4.3: the address of the interface the packets
  /// leave by); the Router points it at its route table. Unset (the default): the
  /// first local address. Set at start-up, before any connect().
  using SourceSelector = Ipv4Addr (*)(Ipv4Addr remote, const void* ctx);
  void set_source_selector(SourceSelector select, const void* ctx) noexcept {
    source_select_ = select;
    source_ctx_ = ctx;
  }

  /// --- for tests and the fuzzer (read-only, control path) ---------------------------
  /// The connection in pool slot `slot` (null when the slot is free or being
  /// released), and its handle in *id when given.
  [[nodiscard]] const tcp::Connection* connection_at(std::uint32_t slot, ConnId* id = nullptr) const noexcept;
  /// The send-buffer chunk pool (chunks in use: capacity() - available()).
  [[nodiscard]] const tcp::ChunkPool& chunks() const noexcept { return chunks_; }
  /// Children of a listener in SYN-RECEIVED that count against its SYN queue.
  [[nodiscard]] std::size_t syn_queue_length(ListenerId l) const;
  /// Called on every state change of every connection (after the stack's own
  /// bookkeeping), so a test can check each edge against RFC 9293's diagram.
  void set_state_observer(StateObserver f, void* ctx) noexcept {
    state_observer_ = f;
    state_observer_ctx_ = ctx;
  }

 private:
  struct Listener;
  struct ConnSlot;
  struct TwSlot;
  static constexpr std::uint32_t kTimeWaitTag = 0x80000000u;

  /// TcpHost
  void transmit(tcp::Connection& c, const wire::TcpHeader& h, std::size_t payload_offset,
                std::size_t payload_len) override;
  void transmit_built(tcp::Connection& c, const std::array<std::byte, wire::kTcpMaxHeaderLen>& tcp_header,
                      std::size_t header_len, std::uint32_t header_sum, std::size_t payload_offset,
                      std::size_t payload_len) override;
  void start_timer(tcp::Connection& c, tcp::TimerKind k, Instant when) override;
  void stop_timer(tcp::Connection& c, tcp::TimerKind k) override;
  void cancel_timers(tcp::Connection& c) override;
  void state_changed(tcp::Connection& c, State from, State to) override;
  /// state_changed() to CLOSED or TIME-WAIT: the record, the release queue.
  void connection_ended(tcp::Connection& c, ConnSlot& s, State from, State to);
  void deliver(tcp::Connection& c, std::span<const std::byte> data) override;
  void event(tcp::Connection& c, tcp::ConnEvent e) override;
  void closed(tcp::Connection& c, CloseReason r) override;
  bool challenge_ack_allowed() override;
  bool records_scarce() override { return conn_count_ >= pressure_mark_; }
  void count(Counter c) override { counters_.inc(c); }
  tcp::ChunkPool& chunk_pool() override { return chunks_; }

  void tcp_input(ip::Transport& t, RxChecksum::Verdict l4);
  void listen_input(Listener& l, const FlowKey& key, const tcp::Segment& seg);
  void time_wait_input(std::uint32_t tw_index, const FlowKey& key, const tcp::Segment& seg);
  void reply_rst(const FlowKey& key, const tcp::Segment& seg);  ///< RFC 9293 3.10.7.1
  void send_time_wait_ack(const FlowKey& key, const tcp::TimeWaitRecord& rec);
  Listener* find_listener(const IpAddr& addr, std::uint16_t port);
  std::uint64_t listener_key(const IpAddr& addr, std::uint16_t port) const noexcept;
  /// The index in listeners_ of the listener with key `k`, or 0xFFFFFFFF.
  std::uint32_t listener_at(std::uint64_t k) const noexcept;
  std::uint32_t listener_indexed(std::uint64_t k) const noexcept;  ///< listener_at() by listener_index_
  ConnSlot* new_connection(const FlowKey& key, Handler* h, std::uint32_t listener);
  ConnSlot* lookup(ConnId c) const noexcept;
  const ConnSlot* slot_at(std::uint32_t i) const noexcept;  ///< a live connection's slot, or null
  ConnId id_at(std::uint32_t i) const noexcept;
  std::optional<FlowKey> time_wait_key(std::uint32_t i) const noexcept;
  ConnSlot& slot_of(tcp::Connection& c) noexcept;
  ConnId id_of(const ConnSlot& s) const noexcept;
  /// Releases the slots of connections that finished during the current event.
  void release_finished() {
    if (!finished_.empty()) release_finished_slots();  // (every packet asks)
  }
  void release_finished_slots();
  template <class F>
  std::optional<Error> detach(ConnId c, F&& end);  ///< close/abort: the app lets go
  void release_connection(ConnSlot& s);
  void leave_accept_queue(ConnSlot& s);  ///< a queued child no longer waits for accept()
  std::uint32_t new_time_wait(const tcp::Connection& c);
  void free_time_wait(std::uint32_t index);     ///< the record ends; its slot is a hole
  void restart_time_wait(std::uint32_t index);  ///< a fresh 2*MSL: moves to the tail
  std::uint32_t push_time_wait(const tcp::TimeWaitRecord& rec);  ///< at the tail
  void trim_time_wait() noexcept;               ///< drops holes at the head
  void expire_time_wait();                      ///< ends every record that is due
  void wake_chunk_waiters();                    ///< on_writable for those send() turned away
  /// Milliseconds from start_ to t; stored as 32 bits, compared modulo 2^32.
  std::int64_t tw_tick(Instant t, bool round_up) const noexcept;
  void send_tcp(const FlowKey& key, const wire::TcpHeader& h,
                std::span<const std::byte> payload = {});
  /// What output_tcp's header writer wrote: the TCP header's length and, when the
  /// writer summed it as it wrote, its partial checksum (else it is summed here).
  struct TcpHeaderWritten {
    std::size_t len = 0;
    std::optional<std::uint32_t> sum;
  };
  /// Builds IPv4 or IPv6 + TCP into the next transmit slot: write_header(room)
  /// writes the TCP header (checksum field zero), fill() the payload.
  template <class WriteHeader, class FillPayload>
  void output_tcp(const FlowKey& key, WriteHeader&& write_header, std::size_t payload_len,
                  FillPayload&& fill);
  void on_timer(TimerEntry& e);
  void settle_stale_timers() const noexcept;  ///< see ConnSlot::rtx_deadline
  void cancel_eager_timers(tcp::Connection& c) noexcept;  ///< every timer but the lazy retransmission one
  bool port_in_use(const FlowKey& key) const;

  Stack& api_;
  StackConfig cfg_;
  SourceSelector source_select_ = nullptr;
  PathMtuSource path_mtu_ = nullptr;
  const void* path_mtu_ctx_ = nullptr;
  const void* source_ctx_ = nullptr;
  Instant now_;
  Counters counters_;
  ip::TxQueue tx_;
  ip::IpLayer ip_;
  tcp::TcpConfig tcp6_;  ///< cfg_.tcp for IPv6 connections: MSS 20 less, default MSS 1220
  tcp::IsnGenerator isn_;
  tcp::SynCookies cookies_;
  /// mutable: next_timer() moves stale lazy entries (settle_stale_timers()), which
  /// changes no deadline anyone observes.
  mutable TimerWheel wheel_;
  FlowTable<std::uint32_t> flows_;  ///< value: conn slot, or kTimeWaitTag | tw index
  tcp::ChunkPool chunks_;

  std::unique_ptr<ConnSlot[]> conns_;
  std::vector<std::uint32_t> conn_free_;
  std::size_t conn_count_ = 0;
  std::size_t pressure_mark_ = 0;  ///< records_scarce() from this many connections on
  std::vector<std::uint32_t> finished_;  ///< slots to release after the current event
  /// Connections whose send() found the chunk pool empty, oldest first; each slot
  /// at most once (ConnSlot::waits_for_chunks). Reserved to max_connections.
  std::vector<ConnId> chunk_waiters_, chunk_waking_;

  /// The TIME-WAIT ring: slots tw_head_ .. tw_head_ + tw_used_ - 1 (mod
  /// max_time_wait), oldest first, holes included; tw_count_ live records.
  std::unique_ptr<TwSlot[]> tws_;
  std::uint32_t tw_head_ = 0;
  std::uint32_t tw_used_ = 0;
  std::size_t tw_count_ = 0;
  Instant start_;  ///< TIME-WAIT expiries are milliseconds from here

  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unordered_map<std::uint64_t, std::uint32_t> listener_index_;  ///< listener_key(addr, port)
  /// The same pairs in a flat array, searched instead of the map while there are few
  /// (nearly every server): a handful of compares where the map hashes (issue 11).
  std::vector<std::pair<std::uint64_t, std::uint32_t>> listener_keys_;


  std::uint32_t challenge_tokens_ = 0;
  std::int64_t challenge_second_ = -1;
  std::uint32_t next_ephemeral_ = 0;
  std::array<std::size_t, tcp::kStateCount> by_state_{};
  bool shedding_ = false;
  StateObserver state_observer_ = nullptr;
  void* state_observer_ctx_ = nullptr;
};

template <class F>
void StackEngine::for_each_connection(F&& f) const {
  for (std::uint32_t i = 0; i < cfg_.max_connections; ++i) {
    const ConnSlot* s = slot_at(i);
    if (s == nullptr) continue;
    if (auto c = info(id_at(i))) f(*c);
  }
  for (std::uint32_t i = 0; i < cfg_.max_time_wait; ++i) {
    if (auto key = time_wait_key(i)) {
      ConnInfo c;
      c.key = *key;
      c.state = State::TimeWait;
      f(c);
    }
  }
}

}  // namespace riptide
