#include "stack/stack.hpp"

#include <sodium.h>

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/byte_order.hpp"
#include "tcp/keyed_hash.hpp"
#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"

namespace riptide {

using namespace wire::tcp_flags;
using tcp::Connection;
using tcp::Segment;

std::string_view to_string(Error e) noexcept {
  switch (e) {
    case Error::InvalidArgument: return "invalid argument";
    case Error::AddressInUse: return "address in use";
    case Error::AddressNotLocal: return "address not local";
    case Error::NoPorts: return "no free ports";
    case Error::NoMemory: return "no memory";
    case Error::BadConnection: return "bad connection";
    case Error::NotConnected: return "not connected";
    case Error::Closing: return "closing";
  }
  return "?";
}

tcp::Secret random_secret() {
  if (sodium_init() < 0) {
    std::fprintf(stderr, "riptide: libsodium failed to initialise\n");
    std::abort();
  }
  tcp::Secret s;
  randombytes_buf(s.data(), s.size());
  return s;
}

// A listener: RFC 9293's LISTEN state, with its two queues.
constexpr std::uint32_t kNone = 0xFFFFFFFF;

struct StackEngine::Listener {
  std::uint32_t index = 0;
  IpAddr addr;
  std::uint16_t port = 0;
  Handler* handler = nullptr;
  std::uint32_t backlog = 0;
  bool auto_accept = true;
  bool active = false;
  tcp::SynCookieMode cookies = tcp::SynCookieMode::Auto;
  std::uint32_t syn_queue = 0;            // children in SYN-RECEIVED
  std::vector<std::uint32_t> accept_queue;  // established, not yet accepted (reserved)
  std::uint64_t cookies_sent = 0;
};

struct StackEngine::ConnSlot {
  std::uint32_t generation = 1;
  bool used = false;
  bool in_flow_table = false;
  bool finished = false;         // queued for release
  bool reported = false;         // the application knows this connection
  bool in_syn_queue = false;     // counted in its listener's SYN queue
  bool queued = false;           // in its listener's accept queue
  bool opened = false;           // counted in tcp_passive_open / tcp_active_open
  std::optional<Connection> conn;
  std::array<TimerEntry, tcp::kTimerKindCount> timers{};
  Handler* handler = nullptr;
  std::uint32_t listener = 0xFFFFFFFF;  // the listener a passive child came from
  std::uint32_t time_wait = 0xFFFFFFFF;  // the record made when it entered TIME-WAIT
  std::uint32_t index = 0;
  bool waits_for_chunks = false;  // in chunk_waiters_: send() found the pool empty
  // The retransmission timer is kept lazily (TcpHost::set_timer): whether it runs
  // is the connection's timers_pending bit, its deadline conn->rtx_deadline, and
  // its wheel entry, at conn->rtx_entry_at, may sit at an earlier, stale deadline
  // (or stay after a cancel). A stale entry is moved when it fires or when
  // next_timer() meets it, so an ACK that stops or re-arms the timer costs no
  // wheel operation (nor a call). The entry outlives the connection too: the
  // slot's next connection (the same Connection, recycled) finds it scheduled, at
  // a deadline of the last one and nearly always earlier than its own, and arms
  // its SYN or SYN-ACK timer without touching the wheel; a stale firing reads only
  // the current connection's bit and deadline. Every change of the entry updates
  // conn->rtx_entry_at.
  [[nodiscard]] bool rtx_armed() const noexcept {
    return conn && conn->timers_pending & tcp::TcpHost::timer_bit(tcp::TimerKind::Retransmit);
  }
};

// A TIME-WAIT ring slot: the record and when it ends. A hole (a record that ended
// before its turn at the head, or a slot never used) has local port 0, which no
// connection can have (tcp_input drops port 0; listen() and connect() refuse it).
struct StackEngine::TwSlot {
  tcp::TimeWaitRecord rec;
  std::uint32_t expiry = 0;  // tw_tick(), rounded up: never early
  [[nodiscard]] bool live() const noexcept { return rec.key.local_port != 0; }
};
static_assert(sizeof(tcp::TimeWaitRecord) + sizeof(std::uint32_t) == 56);

namespace {

bool is_broadcast_or_multicast(Ipv4Addr a) {
  return a.value == 0xFFFFFFFFu || (a.value >> 28) == 0xE || a.value == 0;
}

// Addresses a TCP peer cannot have: RFC 1122 4.2.3.10 (IPv4 broadcast, multicast,
// 0.0.0.0); IPv6 multicast (RFC 4291 2.7) and `::` (RFC 4291 2.5.2).
bool is_broadcast_or_multicast(const IpAddr& a) {
  return a.is_v4() ? is_broadcast_or_multicast(a.v4()) : a.is_v6_multicast() || a.is_v6_unspecified();
}

ip::IpConfig ip_config(const StackConfig& c) {
  ip::IpConfig ic;
  ic.v4 = c.local_addrs;
  ic.v6 = c.local_addrs6;
  ic.ttl = c.ttl;
  ic.hop_limit = c.hop_limit;
  return ic;
}

// TCP over IPv6 (RFC 8200 8.3): the same MTU carries 20 bytes less TCP payload;
// a peer that sends no MSS option is assumed to take 1220 (1280 - 60, RFC 9293
// 3.7.1).
tcp::TcpConfig tcp_config_v6(const tcp::TcpConfig& t) {
  tcp::TcpConfig v6 = t;
  v6.mss = static_cast<std::uint16_t>(t.mss - (wire::kIpv6HeaderLen - wire::kIpv4MinHeaderLen));
  v6.default_mss = static_cast<std::uint16_t>(wire::kIpv6MinMtu - wire::kIpv6HeaderLen - 20);
  return v6;
}

// Listener keys: an IPv4 address's 32 bits with the port (0.0.0.0: every IPv4
// address); an IPv6 address by its place in local_addrs6, above every IPv4 key; `::`
// (both families) above those.
constexpr std::uint64_t kListenV6Base = std::uint64_t{1} << 48;
constexpr std::uint64_t kListenAnyV6 = std::uint64_t{0xFFFF} << 48;
constexpr std::uint64_t listener_key_v4(Ipv4Addr a, std::uint16_t port) noexcept {
  return (std::uint64_t{a.value} << 16) | port;
}
// Up to this many listeners, listener_at() scans listener_keys_ (at most three
// times a SYN: 24 compares) rather than hashing into listener_index_.
constexpr std::size_t kScannedListeners = 8;
}  // namespace

// Defined first so every TcpHost callback (timers, state changes, transmit) inlines it.
inline StackEngine::ConnSlot& StackEngine::slot_of(Connection& c) noexcept {
  return *static_cast<ConnSlot*>(c.host_data);
}

inline ConnId StackEngine::id_of(const ConnSlot& s) const noexcept { return ConnId{s.index, s.generation}; }

StackEngine::StackEngine(Stack& api, StackConfig cfg, Instant now)
    : api_(api),
      cfg_(std::move(cfg)),
      now_(now),
      tx_(cfg_.tx_queue, counters_),
      ip_(ip_config(cfg_), counters_, tx_),
      tcp6_(tcp_config_v6(cfg_.tcp)),
      isn_(cfg_.secret),
      cookies_(cfg_.secret),
      wheel_(std::chrono::milliseconds{1}, now),
      flows_(static_cast<std::size_t>(cfg_.max_connections) + cfg_.max_time_wait, tcp::flow_table_seed(cfg_.secret)),
      chunks_(cfg_.send_chunks != 0 ? cfg_.send_chunks
                                    : std::min<std::size_t>(std::size_t{cfg_.max_connections} * 32, kDefaultChunkLimit)),
      conns_(std::make_unique<ConnSlot[]>(cfg_.max_connections)),
      tws_(std::make_unique<TwSlot[]>(cfg_.max_time_wait)) {
  if (auto problem = validate(cfg_)) {
    // A broken set-up is fatal (STYLE.md): say which key and why.
    std::fprintf(stderr, "riptide: bad StackConfig: %s\n", problem->c_str());
    std::abort();
  }
  conn_free_.reserve(cfg_.max_connections);
  for (std::uint32_t i = cfg_.max_connections; i > 0; --i) {
    ConnSlot& s = conns_[i - 1];
    s.index = i - 1;
    // A slot's timer entries point back at it for good (set once, not per open).
    for (std::size_t k = 0; k < s.timers.size(); ++k) {
      s.timers[k].owner = &s;
      s.timers[k].kind = static_cast<std::uint16_t>(k);
    }
    conn_free_.push_back(i - 1);
  }
  finished_.reserve(cfg_.max_connections);
  chunk_waiters_.reserve(cfg_.max_connections);
  chunk_waking_.reserve(cfg_.max_connections);
  pressure_mark_ = (std::size_t{cfg_.max_connections} * cfg_.pressure_percent + 99) / 100;
  start_ = now;
  next_ephemeral_ = 0;
  // ICMP (IPv4) errors reach TCP here (RFC 9293 3.9.2.2); ICMPv6 ones come by the
  // Interface, which owns the ICMPv6 side.
  ip_.set_icmp_error_sink(
      [](void* ctx, ip::IcmpError e, std::span<const std::byte> quoted) {
        auto* self = static_cast<StackEngine*>(ctx);
        self->icmp_error(e, quoted, self->now_);
      },
      this);
}

StackEngine::~StackEngine() {
  for (std::uint32_t i = 0; i < cfg_.max_connections; ++i) conns_[i].conn.reset();
}

std::optional<std::string> validate(const StackConfig& c) {
  if (c.local_addrs.empty() && c.local_addrs6.empty()) {
    return "local_addrs: at least one address (IPv4 or IPv6) is needed";
  }
  for (const IpAddr& a : c.local_addrs6) {
    if (a.is_v4() || a.is_v6_multicast() || a.is_v6_unspecified()) {
      return "local_addrs6: " + to_string(a) + " is not a unicast IPv6 address";
    }
  }
  if (c.hop_limit == 0) return "hop_limit: must be 1..255 (RFC 8200 3)";
  if (std::all_of(c.secret.begin(), c.secret.end(), [](std::uint8_t b) { return b == 0; })) {
    return "secret: all zero (ISNs and cookies would be predictable); use random_secret()";
  }
  if (c.max_connections == 0) return "max_connections: must be at least 1";
  if (c.pressure_percent == 0 || c.pressure_percent > 100) return "pressure_percent: must be 1..100";
  if (c.tx_queue == 0) return "tx_queue: must be at least 1";
  // A segment (IPv4 + TCP with options + MSS bytes) must fit a transmit slot.
  if (c.tcp.mss < 88 || c.tcp.mss > kMaxMss) {
    return "tcp.mss: " + std::to_string(c.tcp.mss) + " is outside 88.." + std::to_string(kMaxMss);
  }
  if (c.tcp.window_scale > 14) return "tcp.window_scale: at most 14 (RFC 7323 2.3)";
  if (c.tcp.rto_min <= Duration::zero() || c.tcp.rto_min > c.tcp.rto_max) {
    return "tcp.rto_min/rto_max: need 0 < rto_min <= rto_max";
  }
  if (c.tcp.rcv_buf == 0 || c.tcp.snd_buf == 0) return "tcp.rcv_buf/snd_buf: must be positive";
  if (c.tcp.ephemeral_port_min == 0 || c.tcp.ephemeral_port_min > c.tcp.ephemeral_port_max) {
    return "tcp.ephemeral_port_min/max: need 0 < min <= max";
  }
  if (c.tcp.time_wait < Duration::zero()) return "tcp.time_wait: must not be negative";
  // Expiries are 32-bit millisecond counts compared modulo 2^32.
  if (c.tcp.time_wait > std::chrono::milliseconds{0x7FFFFFFF}) {
    return "tcp.time_wait: at most 2147483647 ms (24.8 days)";
  }
  if (c.tcp.delayed_ack < Duration::zero() || c.tcp.delayed_ack >= std::chrono::milliseconds{500}) {
    return "tcp.delayed_ack: 0 (off) or below 500 ms (RFC 1122 4.2.3.2)";
  }
  return std::nullopt;
}

// ------------------------------------------------------------------------------------
// Input

void StackEngine::input(std::span<const std::byte> packet, Instant now, RxChecksum rx) {
  // RFC 8200 3 / RFC 791 3.1: the version nibble is in the same place in both;
  // anything but 6 is IPv4's to check and drop.
  if (!packet.empty() && (static_cast<std::uint8_t>(packet[0]) >> 4) == 6) {
    input_ipv6(packet, now, rx);
  } else {
    input_ipv4(packet, now, rx);
  }
}

void StackEngine::input_ipv4(std::span<const std::byte> packet, Instant now, RxChecksum rx) {
  now_ = std::max(now_, now);
  ip::Transport t;
  if (ip_.input_v4(packet, rx, t)) tcp_input(t, rx.l4);
  release_finished();
}

void StackEngine::input_ipv6(std::span<const std::byte> packet, Instant now, RxChecksum rx) {
  now_ = std::max(now_, now);
  ip::Transport t;
  if (ip_.input_v6(packet, rx, t)) tcp_input(t, rx.l4);
  release_finished();
}

// Inlined into its two callers (input_ipv4, input_ipv6): one call, one stack frame
// and one register save less for every received segment (callgrind, issue 11).
[[gnu::always_inline]] inline void StackEngine::tcp_input(ip::Transport& t, RxChecksum::Verdict l4) {
  const std::span<const std::byte> bytes = t.segment;
  // Parsed once, straight into the Segment the state machine reads (no view and
  // no option block copied between layers).
  Segment seg;
  wire::ParseError perr{};
  if (!Segment::parse(bytes, seg, perr)) {
    counters_.inc(Counter::tcp_drop_malformed);
    return;
  }
  if (l4 == RxChecksum::Verdict::Bad ||
      (l4 == RxChecksum::Verdict::Unknown &&
       !(t.v4 ? wire::tcp_checksum_valid(bytes, t.key.remote_addr.v4(), t.key.local_addr.v4())
              : wire::tcp_checksum_valid(bytes, t.key.remote_addr, t.key.local_addr)))) {
    counters_.inc(Counter::tcp_drop_checksum);
    return;
  }
  counters_.inc(Counter::tcp_in);
  const std::uint16_t src_port = load_be16(bytes.data());
  const std::uint16_t dst_port = load_be16(bytes.data() + 2);
  if (src_port == 0 || dst_port == 0) {
    counters_.inc(Counter::tcp_drop_bad_port);
    return;
  }
  // RFC 1122 4.2.3.10: never answer segments from broadcast or multicast sources.
  if (t.v4 ? is_broadcast_or_multicast(t.key.remote_addr.v4()) : is_broadcast_or_multicast(t.key.remote_addr)) {
    counters_.inc(Counter::tcp_drop_broadcast);
    return;
  }
  // The addresses are in place already (IpLayer wrote them): only the ports.
  t.key.local_port = dst_port;
  t.key.remote_port = src_port;
  const FlowKey& key = t.key;

  // An IPv4 packet's key is IPv4 on both sides (IpLayer wrote them): its 12-byte hash.
  if (std::uint32_t* v = flows_.find(key, t.v4 ? flows_.hash_v4(key) : flows_.hash(key))) {
    if (*v & kTimeWaitTag) {
      time_wait_input(*v & ~kTimeWaitTag, key, seg);
      return;
    }
    ConnSlot& s = conns_[*v];
    Connection& c = *s.conn;
    if (c.state() == State::SynReceived && c.passive() && seg.has(kAck) && !seg.has(kRst | kSyn) &&
        s.listener != kNone) {
      Listener& l = *listeners_[s.listener];
      if (!l.auto_accept && l.accept_queue.size() >= l.backlog) {
        // The handshake would complete into a full accept queue. Like Linux
        // (tcp_abort_on_overflow=0) drop the ACK; the SYN-ACK is retransmitted.
        counters_.inc(Counter::tcp_accept_queue_full);
        return;
      }
    }
    c.on_segment(seg, now_);
    return;
  }
  if (Listener* l = find_listener(key.local_addr, key.local_port)) {
    listen_input(*l, key, seg);
    return;
  }
  // RFC 9293 3.10.7.1 CLOSED: no connection.
  reply_rst(key, seg);
}

bool StackEngine::icmp_error(ip::IcmpError e, std::span<const std::byte> quoted, Instant now) {
  now_ = std::max(now_, now);
  // The quoted packet is one of ours: its source is local, its destination the
  // peer. We send neither IPv4 options nor IPv6 extension headers, so TCP follows
  // the fixed header; a quote of anything else is not about our TCP. ICMP quotes
  // IPv4 and ICMPv6 quotes IPv6 (RFC 792, RFC 4443 2.4(c)): a quote of the other
  // family, or IPv4-mapped addresses in an IPv6 quote, would let one family's
  // error reach the other's connections (and dodge RFC 8201's 1280 floor).
  const std::uint8_t version = quoted.empty() ? 0 : static_cast<std::uint8_t>(quoted[0]) >> 4;
  const bool v4 = version == 4;
  const std::size_t ip_len = v4 ? 4u * (static_cast<std::uint8_t>(quoted[0]) & 0x0f) : 40u;
  const std::uint8_t protocol = quoted.size() > 9 ? static_cast<std::uint8_t>(quoted[v4 ? 9 : 6]) : 0;
  if (version != (e.v6 ? 6 : 4) || ip_len < 20 || protocol != 6 || quoted.size() < ip_len + 8) {
    counters_.inc(Counter::tcp_icmp_drop_malformed);
    return false;
  }
  FlowKey key;
  if (v4) {
    key.local_addr = Ipv4Addr{load_be32(quoted.data() + 12)};
    key.remote_addr = Ipv4Addr{load_be32(quoted.data() + 16)};
  } else {
    key.local_addr = IpAddr::from_bytes(quoted.data() + 8);
    key.remote_addr = IpAddr::from_bytes(quoted.data() + 24);
    if (key.local_addr.is_v4() || key.remote_addr.is_v4()) {
      counters_.inc(Counter::tcp_icmp_drop_malformed);
      return false;
    }
  }
  const std::byte* tcp = quoted.data() + ip_len;
  key.local_port = load_be16(tcp);
  key.remote_port = load_be16(tcp + 2);
  const SeqNum seq{load_be32(tcp + 4)};
  const std::uint32_t* v = flows_.find(key);
  if (v == nullptr || (*v & kTimeWaitTag)) {
    counters_.inc(Counter::tcp_icmp_drop_no_conn);
    return false;
  }
  Connection& c = *conns_[*v].conn;
  if (!c.icmp_acceptable(seq)) {
    counters_.inc(Counter::tcp_icmp_drop_out_of_window);
    return false;
  }
  if (e.kind == ip::IcmpError::Kind::PacketTooBig) {
    // A packet that fit the MTU reported was not refused for its size (a forged
    // error quoting our small SYN, say): RFC 1191 / 8201 only shrink what failed.
    const std::uint32_t length = v4 ? load_be16(quoted.data() + 2) : 40u + load_be16(quoted.data() + 4);
    if (length <= e.mtu) {
      counters_.inc(Counter::tcp_pmtu_drop_fits);
      return false;
    }
  }
  counters_.inc(Counter::tcp_icmp_in);
  switch (e.kind) {
    case ip::IcmpError::Kind::PacketTooBig: {
      // The largest segment that fits: the MTU less the IP and TCP headers.
      const std::uint32_t headers = (v4 ? 20u : 40u) + 20u;
      if (e.mtu > headers) {
        c.on_path_mss(static_cast<std::uint16_t>(std::min<std::uint32_t>(e.mtu - headers, 0xFFFF)), now_);
      }
      break;
    }
    case ip::IcmpError::Kind::Hard:
      c.on_icmp_error(Connection::IcmpClass::Hard, now_);
      break;
    case ip::IcmpError::Kind::PortUnreachable:
      c.on_icmp_error(Connection::IcmpClass::Refused, now_);
      break;
    case ip::IcmpError::Kind::Soft:
      c.on_icmp_error(Connection::IcmpClass::Soft, now_);
      break;
  }
  release_finished();
  return true;
}

void StackEngine::reply_rst(const FlowKey& key, const Segment& seg) {
  // "An incoming segment containing a RST is discarded."
  if (seg.has(kRst)) return;
  wire::TcpHeader h;
  h.src_port = key.local_port;
  h.dst_port = key.remote_port;
  if (seg.has(kAck)) {
    // <SEQ=SEG.ACK><CTL=RST>
    h.seq = seg.ack;
    h.flags = kRst;
  } else {
    // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    h.seq = SeqNum{0};
    h.ack = seg.seq + seg.seg_len();
    h.flags = kRst | kAck;
  }
  counters_.inc(Counter::tcp_rst_sent);
  counters_.inc(Counter::tcp_rst_no_connection);
  send_tcp(key, h);
}

std::uint64_t StackEngine::listener_key(const IpAddr& a, std::uint16_t port) const noexcept {
  if (a.is_v4()) return listener_key_v4(a.v4(), port);
  if (a.is_v6_unspecified()) return kListenAnyV6 | port;
  const auto& v6 = cfg_.local_addrs6;
  const auto i = static_cast<std::uint64_t>(std::find(v6.begin(), v6.end(), a) - v6.begin());
  return kListenV6Base + (i << 16) + port;
}

// Inline: the scan is short, and find_listener asks up to three times a SYN; the
// hash map (more than kScannedListeners listeners) is listener_indexed()'s.
inline std::uint32_t StackEngine::listener_at(std::uint64_t k) const noexcept {
  if (listener_keys_.size() <= kScannedListeners) {
    for (const auto& [key, index] : listener_keys_) {
      if (key == k) return index;
    }
    return kNone;
  }
  return listener_indexed(k);
}

std::uint32_t StackEngine::listener_indexed(std::uint64_t k) const noexcept {
  const auto it = listener_index_.find(k);
  return it == listener_index_.end() ? kNone : it->second;
}

StackEngine::Listener* StackEngine::find_listener(const IpAddr& addr, std::uint16_t port) {
  // The most specific first: the address, then every address of its family, then
  // `::` (both families).
  const bool v4 = addr.is_v4();
  std::uint32_t i = listener_at(v4 ? listener_key_v4(addr.v4(), port) : listener_key(addr, port));
  if (i == kNone && v4) i = listener_at(listener_key_v4(Ipv4Addr{}, port));
  if (i == kNone) i = listener_at(kListenAnyV6 | port);
  if (i == kNone) return nullptr;
  Listener* l = listeners_[i].get();
  return l->active ? l : nullptr;
}

void StackEngine::listen_input(Listener& l, const FlowKey& key, const Segment& seg) {
  // RFC 9293 3.10.7.2 LISTEN. First: "An incoming RST should be ignored."
  if (seg.has(kRst)) {
    counters_.inc(Counter::tcp_drop_listen);
    return;
  }
  // Second: an ACK. It may complete a cookie handshake (RFC 4987 3.6); otherwise
  // <SEQ=SEG.ACK><CTL=RST>.
  if (seg.has(kAck)) {
    if (!seg.has(kSyn) && l.cookies != tcp::SynCookieMode::Never) {
      std::optional<std::uint32_t> tsecr;
      if (seg.options.timestamps) tsecr = seg.options.timestamps->tsecr;
      if (auto opts = cookies_.check(key, seg.seq, seg.ack, tsecr, now_)) {
        if (!l.auto_accept && l.accept_queue.size() >= l.backlog) {
          counters_.inc(Counter::tcp_accept_queue_full);
          return;
        }
        ConnSlot* s = new_connection(key, l.handler, l.index);
        if (s == nullptr) {
          // A good cookie but no record for it (new_connection counted
          // tcp_drop_no_memory). The client believes it is connected: tell it now
          // (tcp.cookie_no_record = "reset", RFC 9293 3.10.7.2's answer to an ACK
          // in LISTEN) or let its retransmissions try again ("drop").
          counters_.inc(Counter::tcp_cookie_no_record);
          if (cfg_.tcp.cookie_no_record == tcp::CookieNoRecord::Reset) reply_rst(key, seg);
          return;
        }
        counters_.inc(Counter::tcp_cookie_accepted);
        s->conn->open_from_cookie(seg, *opts, isn_.ts_offset(key), now_);
        return;
      }
      if (l.cookies_sent > 0) counters_.inc(Counter::tcp_cookie_rejected);
    }
    reply_rst(key, seg);
    return;
  }
  // Third: SYN.
  if (!seg.has(kSyn)) {
    counters_.inc(Counter::tcp_drop_listen);  // fourth: "drop the segment and return"
    return;
  }
  if (!l.auto_accept && l.accept_queue.size() >= l.backlog) {
    counters_.inc(Counter::tcp_accept_queue_full);
    return;
  }
  const bool queue_full = l.syn_queue >= l.backlog;
  if (queue_full) counters_.inc(Counter::tcp_syn_queue_full);
  // Records nearly all taken: keep the rest for handshakes that complete (a cookie
  // costs nothing until its ACK comes back).
  const bool scarce = records_scarce();
  // The worker is behind (full receive bursts): shed the handshake's state first.
  const bool shed = shedding_ && l.cookies == tcp::SynCookieMode::Auto && !queue_full && !scarce;
  const bool use_cookie = l.cookies == tcp::SynCookieMode::Always ||
                          (l.cookies == tcp::SynCookieMode::Auto && (queue_full || scarce || shedding_));
  if (use_cookie && scarce && !queue_full && l.cookies == tcp::SynCookieMode::Auto) {
    counters_.inc(Counter::tcp_syn_cookie_pressure);
  }
  if (shed) counters_.inc(Counter::tcp_syn_shed_overload);
  if (use_cookie) {
    // RFC 4987 3.6: answer statelessly; the ACK brings the state back.
    const tcp::TcpConfig& tc = key.is_v4() ? cfg_.tcp : tcp6_;
    const std::uint16_t peer_mss = seg.options.mss.value_or(tc.default_mss);
    const SeqNum iss = cookies_.make(key, seg.seq, peer_mss, now_);
    wire::TcpHeader h;
    h.src_port = key.local_port;
    h.dst_port = key.remote_port;
    h.seq = iss;
    h.ack = seg.seq + 1;
    h.flags = kSyn | kAck;
    h.window = static_cast<std::uint16_t>(std::min<std::uint32_t>(cfg_.tcp.rcv_buf, 0xFFFF));
    h.options.mss = tc.mss;  // ours; the peer's is what the cookie encodes
    const bool ts = cfg_.tcp.timestamps && seg.options.timestamps.has_value();
    if (ts) {
      // Window scale and SACK-permitted survive in the TSval's low bits.
      const std::uint32_t ts_now = tcp::ts_clock(now_, isn_.ts_offset(key));
      h.options.timestamps = wire::TcpTimestamps{
          tcp::SynCookies::encode_ts(ts_now,
                                     cfg_.tcp.window_scaling ? seg.options.window_scale : std::nullopt,
                                     cfg_.tcp.sack && seg.options.sack_permitted),
          seg.options.timestamps->tsval};
      if (cfg_.tcp.window_scaling && seg.options.window_scale) {
        h.options.window_scale = std::min<std::uint8_t>(cfg_.tcp.window_scale, 14);
      }
      if (cfg_.tcp.sack && seg.options.sack_permitted) h.options.sack_permitted = true;
    }
    ++l.cookies_sent;
    counters_.inc(Counter::tcp_cookie_sent);
    send_tcp(key, h);
    return;
  }
  if (queue_full) {
    counters_.inc(Counter::tcp_drop_listen);  // cookies off: the SYN is dropped
    return;
  }
  ConnSlot* s = new_connection(key, l.handler, l.index);
  if (s == nullptr) return;
  ++l.syn_queue;
  s->in_syn_queue = true;
  const tcp::IsnGenerator::Initial init = isn_.initial(key, now_);
  s->conn->open_passive(seg, init.isn, init.ts_offset, now_);
}

void StackEngine::time_wait_input(std::uint32_t index, const FlowKey& key, const Segment& seg) {
  TwSlot& t = tws_[index];
  switch (tcp::time_wait_action(t.rec, seg)) {
    case tcp::TimeWaitAction::Ignore:
      counters_.inc(Counter::tcp_drop_time_wait);
      return;
    case tcp::TimeWaitAction::IgnoreRst:
      counters_.inc(Counter::tcp_drop_rst_in_time_wait);
      return;
    case tcp::TimeWaitAction::ChallengeAck:
      if (!challenge_ack_allowed()) {
        counters_.inc(Counter::tcp_challenge_ack_limited);
        return;
      }
      counters_.inc(Counter::tcp_challenge_ack);
      [[fallthrough]];
    case tcp::TimeWaitAction::Ack:
    case tcp::TimeWaitAction::AckAndRestart: {
      send_time_wait_ack(key, t.rec);
      if (tcp::time_wait_action(t.rec, seg) == tcp::TimeWaitAction::AckAndRestart) {
        restart_time_wait(index);  // "restart the 2 MSL timeout"
      }
      return;
    }
    case tcp::TimeWaitAction::Reuse: {
      // RFC 6191: end TIME-WAIT and treat the SYN as new. The new ISN must lie
      // beyond everything the old incarnation sent (RFC 1122 4.2.2.13).
      const SeqNum floor = t.rec.snd_nxt + 65535 + 2;
      Listener* l = find_listener(key.local_addr, key.local_port);
      if (l == nullptr) {
        // Nobody listens (the TIME-WAIT side was the client): the SYN cannot open
        // anything, so it is answered like any other SYN in TIME-WAIT, with a
        // challenge ACK (RFC 9293 3.10.7.4 fourth; Linux does the same).
        if (!challenge_ack_allowed()) {
          counters_.inc(Counter::tcp_challenge_ack_limited);
          return;
        }
        counters_.inc(Counter::tcp_challenge_ack);
        send_time_wait_ack(key, t.rec);
        return;
      }
      if (conn_free_.empty()) {
        // Nothing free for the new connection: keep TIME-WAIT's protection and
        // drop the SYN (the peer retries).
        counters_.inc(Counter::tcp_drop_no_memory);
        return;
      }
      counters_.inc(Counter::tcp_time_wait_reused);
      free_time_wait(index);
      if (l->syn_queue >= l->backlog || records_scarce() || shedding_) {
        listen_input(*l, key, seg);  // full queue, scarce records, shedding: as any SYN
        return;
      }
      ConnSlot* s = new_connection(key, l->handler, l->index);
      if (s == nullptr) return;
      ++l->syn_queue;
      s->in_syn_queue = true;
      const tcp::IsnGenerator::Initial init = isn_.initial(key, now_);
      s->conn->open_passive(seg, seq_max(init.isn, floor), init.ts_offset, now_);
      return;
    }
  }
}

void StackEngine::send_time_wait_ack(const FlowKey& key, const tcp::TimeWaitRecord& rec) {
  // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> from the compact record.
  wire::TcpHeader h;
  h.src_port = key.local_port;
  h.dst_port = key.remote_port;
  h.seq = rec.snd_nxt;
  h.ack = rec.rcv_nxt;
  h.flags = kAck;
  h.window = rec.window;
  if (rec.ts_ok) {
    // The connection's TSval offset was isn_.ts_offset(key) (every open takes it
    // from there), so the record need not keep it.
    h.options.timestamps = wire::TcpTimestamps{tcp::ts_clock(now_, isn_.ts_offset(key)), rec.ts_recent};
  }
  send_tcp(key, h);
}

// ------------------------------------------------------------------------------------
// Connections

StackEngine::ConnSlot* StackEngine::new_connection(const FlowKey& key, Handler* h, std::uint32_t listener) {
  if (conn_free_.empty()) {
    counters_.inc(Counter::tcp_drop_no_memory);
    return nullptr;
  }
  const std::uint32_t i = conn_free_.back();
  ConnSlot& s = conns_[i];
  if (!flows_.insert(key, i)) {
    counters_.inc(Counter::tcp_drop_no_memory);
    return nullptr;
  }
  conn_free_.pop_back();
  s.used = true;
  s.in_flow_table = true;
  s.finished = false;
  s.reported = false;
  s.handler = h;
  s.listener = listener;
  s.in_syn_queue = false;
  s.queued = false;
  s.opened = false;
  s.time_wait = kNone;
  const tcp::TcpConfig& tc = key.is_v4() ? cfg_.tcp : tcp6_;
  if (s.conn && &s.conn->config() == &tc) {
    // The slot's Connection is recycled in place (its buffers were released with
    // the slot): no constructor zeroing the reassembly ranges and SACK scoreboard.
    // A slot last used by the other address family is built anew: the Connection
    // holds its family's TcpConfig by reference.
    s.conn->recycle(key);
  } else {
    s.conn.emplace(static_cast<tcp::TcpHost&>(*this), tc, key);
    s.conn->host_data = &s;
  }
  if (path_mtu_ != nullptr && !key.is_v4()) {
    // RFC 8201 5.4: a path MTU a Packet Too Big taught for this peer caps the MSS
    // the handshake agrees (IPv6 header 40 + TCP 20).
    const std::uint32_t mtu = path_mtu_(path_mtu_ctx_, key.remote_addr, now_);
    if (mtu > 60) s.conn->on_path_mss(static_cast<std::uint16_t>(std::min<std::uint32_t>(mtu - 60, 0xFFFF)), now_);
  }
  ++conn_count_;
  ++by_state_[static_cast<std::size_t>(State::Closed)];
  return &s;
}

StackEngine::ConnSlot* StackEngine::lookup(ConnId c) const noexcept {
  if (c.slot >= cfg_.max_connections) return nullptr;
  ConnSlot& s = conns_[c.slot];
  if (!s.used || s.generation != c.generation || s.finished) return nullptr;
  return &s;
}

const StackEngine::ConnSlot* StackEngine::slot_at(std::uint32_t i) const noexcept {
  const ConnSlot& s = conns_[i];
  return s.used && !s.finished ? &s : nullptr;
}

ConnId StackEngine::id_at(std::uint32_t i) const noexcept { return id_of(conns_[i]); }

std::optional<FlowKey> StackEngine::time_wait_key(std::uint32_t i) const noexcept {
  const TwSlot& t = tws_[i];
  if (!t.live()) return std::nullopt;
  return t.rec.key;
}

void StackEngine::release_finished_slots() {
  while (!finished_.empty()) {
    const std::uint32_t i = finished_.back();
    finished_.pop_back();
    release_connection(conns_[i]);
  }
}

void StackEngine::release_connection(ConnSlot& s) {
  Connection& c = *s.conn;
  cancel_eager_timers(c);  // the retransmission entry stays (ConnSlot::rtx_armed)
  if (s.in_flow_table) flows_.erase(c.key());
  if (s.opened) counters_.inc(Counter::tcp_conn_closed);  // opened = closed + open records
  --by_state_[static_cast<std::size_t>(c.state() == State::TimeWait ? State::Closed : c.state())];
  c.release_buffers();  // the Connection object stays for the slot's next use
  s.used = false;
  s.finished = false;
  ++s.generation;
  --conn_count_;
  conn_free_.push_back(s.index);
}

std::int64_t StackEngine::tw_tick(Instant t, bool round_up) const noexcept {
  const Duration d = t - start_;
  return (round_up ? std::chrono::ceil<std::chrono::milliseconds>(d) : std::chrono::floor<std::chrono::milliseconds>(d))
      .count();
}

std::uint32_t StackEngine::new_time_wait(const Connection& c) {
  if (cfg_.max_time_wait == 0) return kNone;
  const tcp::Tcb& tcb = c.tcb();
  return push_time_wait(tcp::TimeWaitRecord{
      c.key(), tcb.snd_max, tcb.rcv_nxt, tcb.ts_recent,
      static_cast<std::uint16_t>(std::min<std::uint32_t>(c.rcv_wnd() >> tcb.rcv_wscale, 0xFFFF)), tcb.ts_ok,
      tcb.rcv_wscale});
}

std::uint32_t StackEngine::push_time_wait(const tcp::TimeWaitRecord& rec) {
  if (tw_used_ == cfg_.max_time_wait) {
    // DEVIATION(RFC 9293 3.4.1): full: the oldest record, the one nearest its end
    // anyway, makes room, so TIME-WAIT shrinks to what the table holds rather than
    // vanishing for every connection that closes while it is full.
    counters_.inc(Counter::tcp_time_wait_recycled);
    free_time_wait(tw_head_);
  }
  const std::uint32_t i = static_cast<std::uint32_t>((std::uint64_t{tw_head_} + tw_used_) % cfg_.max_time_wait);
  ++tw_used_;
  ++tw_count_;
  tws_[i].rec = rec;
  tws_[i].expiry = static_cast<std::uint32_t>(tw_tick(now_ + cfg_.tcp.time_wait, true));
  return i;
}

void StackEngine::free_time_wait(std::uint32_t index) {
  TwSlot& t = tws_[index];
  flows_.erase(t.rec.key);
  t.rec.key.local_port = 0;  // a hole until the head passes it
  --tw_count_;
  trim_time_wait();
}

void StackEngine::trim_time_wait() noexcept {
  while (tw_used_ > 0 && !tws_[tw_head_].live()) {
    tw_head_ = tw_head_ + 1 == cfg_.max_time_wait ? 0 : tw_head_ + 1;
    --tw_used_;
  }
}

void StackEngine::restart_time_wait(std::uint32_t index) {
  // Every other record ends no later than now + 2*MSL: at the tail, order holds.
  const tcp::TimeWaitRecord rec = tws_[index].rec;
  tws_[index].rec.key.local_port = 0;
  --tw_count_;
  trim_time_wait();
  const std::uint32_t moved = push_time_wait(rec);
  *flows_.find(rec.key) = kTimeWaitTag | moved;
}

void StackEngine::expire_time_wait() {
  const auto now = static_cast<std::uint32_t>(tw_tick(now_, false));
  // trim_time_wait() keeps a live record (or nothing) at the head.
  while (tw_used_ > 0 && static_cast<std::int32_t>(now - tws_[tw_head_].expiry) >= 0) free_time_wait(tw_head_);
}

void StackEngine::settle_stale_timers() const noexcept {
  // A lazily kept retransmission entry (ConnSlot::rtx_armed) may be the wheel's
  // earliest while its connection's deadline is later or gone: move or drop it
  // until the earliest entry is a real one, so no host wakes early for nothing.
  while (TimerEntry* e = wheel_.earliest()) {
    if (e->kind != static_cast<std::uint16_t>(tcp::TimerKind::Retransmit)) return;
    ConnSlot& s = *static_cast<ConnSlot*>(e->owner);
    if (!s.rtx_armed()) {
      wheel_.cancel(*e);
      if (s.conn) s.conn->rtx_entry_at = Instant::max();
    } else if (s.conn->rtx_deadline > wheel_.deadline(*e)) {
      wheel_.schedule(*e, s.conn->rtx_deadline);
      s.conn->rtx_entry_at = s.conn->rtx_deadline;
    } else {
      return;
    }
  }
}

std::optional<Instant> StackEngine::next_timer() const noexcept {
  settle_stale_timers();
  std::optional<Instant> next = wheel_.next_deadline();
  if (tw_used_ > 0) {
    const std::int64_t now = tw_tick(now_, false);
    const auto ahead = static_cast<std::int32_t>(tws_[tw_head_].expiry - static_cast<std::uint32_t>(now));
    const Instant tw = start_ + std::chrono::milliseconds{now + ahead};
    if (!next || tw < *next) next = tw;
  }
  return next;
}

// ------------------------------------------------------------------------------------
// TcpHost

// Every state change but the last is counts and flags only; the last (CLOSED or
// TIME-WAIT) and the observer are calls of their own, so the common change runs
// without a stack frame.
void StackEngine::state_changed(Connection& c, State from, State to) {
  ConnSlot& s = slot_of(c);
  --by_state_[static_cast<std::size_t>(from)];
  if (from == State::SynReceived && s.in_syn_queue) {
    s.in_syn_queue = false;
    s.queued = false;
    if (s.listener != kNone && listeners_[s.listener]->syn_queue > 0) --listeners_[s.listener]->syn_queue;
  }
  if (to == State::Closed || to == State::TimeWait) {
    connection_ended(c, s, from, to);
    return;
  }
  ++by_state_[static_cast<std::size_t>(to)];
  if (state_observer_ != nullptr) state_observer_(state_observer_ctx_, c.key(), from, to);
}

void StackEngine::connection_ended(Connection& c, ConnSlot& s, State from, State to) {
  if (to == State::TimeWait) {
    // The TIME-WAIT record takes over the tuple; the slot itself is done.
    counters_.inc(Counter::tcp_time_wait_entered);
    s.time_wait = new_time_wait(c);
    if (s.time_wait == kNone) {
      counters_.inc(Counter::tcp_time_wait_full);
    } else if (s.in_flow_table) {
      // The record owns the tuple from now on (so on_closed() already sees it).
      *flows_.find(c.key()) = kTimeWaitTag | s.time_wait;
      s.in_flow_table = false;
    }
  }
  ++by_state_[static_cast<std::size_t>(State::Closed)];  // TIME-WAIT: counted by its record
  if (!s.finished) {
    s.finished = true;
    finished_.push_back(s.index);
  }
  if (state_observer_ != nullptr) state_observer_(state_observer_ctx_, c.key(), from, to);
}

void StackEngine::closed(Connection& c, CloseReason r) {
  ConnSlot& s = slot_of(c);
  leave_accept_queue(s);
  if (s.reported && s.handler != nullptr) {
    s.reported = false;
    s.handler->on_closed(api_, id_of(s), r);
  }
}

void StackEngine::leave_accept_queue(ConnSlot& s) {
  if (!s.queued || s.listener == kNone) return;
  Listener& l = *listeners_[s.listener];
  auto it = std::find(l.accept_queue.begin(), l.accept_queue.end(), s.index);
  if (it != l.accept_queue.end()) l.accept_queue.erase(it);
  s.queued = false;
}

void StackEngine::event(Connection& c, tcp::ConnEvent e) {
  ConnSlot& s = slot_of(c);
  const ConnId id = id_of(s);
  switch (e) {
    case tcp::ConnEvent::Established: {
      counters_.inc(Counter::tcp_passive_open);
      s.opened = true;
      if (s.listener == kNone) return;
      Listener& l = *listeners_[s.listener];
      s.reported = true;  // from here on the handler hears about it
      if (l.auto_accept) {
        if (s.handler) s.handler->on_accept(api_, id);
      } else {
        s.queued = true;
        l.accept_queue.push_back(s.index);  // bounded by backlog (checked on input)
        if (l.handler) l.handler->on_acceptable(api_, ListenerId{s.listener});
      }
      return;
    }
    case tcp::ConnEvent::Connected:
      counters_.inc(Counter::tcp_active_open);
      s.opened = true;
      if (s.handler) s.handler->on_connected(api_, id);
      return;
    case tcp::ConnEvent::PeerClosed:
      if (s.reported && s.handler) s.handler->on_peer_closed(api_, id);
      return;
    case tcp::ConnEvent::Writable:
      if (s.reported && s.handler) s.handler->on_writable(api_, id);
      return;
  }
}

void StackEngine::deliver(Connection& c, std::span<const std::byte> data) {
  ConnSlot& s = slot_of(c);
  if (s.reported && s.handler) s.handler->on_data(api_, id_of(s), data);
}

State StackEngine::state_of(const FlowKey& key) const {
  const std::uint32_t* v = flows_.find(key);
  if (v == nullptr) return State::Closed;
  if (*v & kTimeWaitTag) return State::TimeWait;
  const ConnSlot& s = conns_[*v];
  return s.used && !s.finished && s.conn ? s.conn->state() : State::Closed;
}

bool StackEngine::time_wait_exists(const FlowKey& key) const {
  const std::uint32_t* v = flows_.find(key);
  return v != nullptr && (*v & kTimeWaitTag) != 0;
}

bool StackEngine::challenge_ack_allowed() {
  // RFC 5961 7: a global limit on challenge ACKs per second. A fixed global count
  // is itself a side channel (CVE-2016-5696: an off-path attacker counts the ACKs
  // to learn whether a connection exists), so, as Linux did in its fix, each
  // second's budget gets a secret jitter of up to half the limit.
  const std::int64_t second = to_ms(now_) / 1000;
  if (second != challenge_second_) {
    challenge_second_ = second;
    const std::uint32_t limit = cfg_.tcp.challenge_ack_limit;
    const std::uint64_t r = tcp::keyed_flow_hash(cfg_.secret, FlowKey{Ipv4Addr{}, Ipv4Addr{}, 0, 0}, 4, static_cast<std::uint32_t>(second));
    challenge_tokens_ = limit + (limit >= 2 ? static_cast<std::uint32_t>(r % (limit / 2 + 1)) : 0);
  }
  if (challenge_tokens_ == 0) return false;
  --challenge_tokens_;
  return true;
}

void StackEngine::start_timer(Connection& c, tcp::TimerKind k, Instant when) {
  // (TcpHost::set_timer: the bit is set; a retransmission deadline is earlier than
  // its entry, or there is none.)
  wheel_.schedule(slot_of(c).timers[static_cast<std::size_t>(k)], when);
  if (k == tcp::TimerKind::Retransmit) c.rtx_entry_at = when;
}

void StackEngine::stop_timer(Connection& c, tcp::TimerKind k) {
  // (TcpHost::cancel_timer: pending, not the retransmission timer, bit cleared.)
  wheel_.cancel(slot_of(c).timers[static_cast<std::size_t>(k)]);
}

void StackEngine::cancel_timers(Connection& c) { cancel_eager_timers(c); }

void StackEngine::cancel_eager_timers(Connection& c) noexcept {
  // The retransmission entry, if any, fires stale (its bit is clear) or serves the
  // slot's next connection; an eager one is on the wheel exactly while its bit is set.
  constexpr auto kRtx = tcp::TcpHost::timer_bit(tcp::TimerKind::Retransmit);
  ConnSlot& s = slot_of(c);
  for (unsigned m = c.timers_pending & ~unsigned{kRtx}; m != 0; m &= m - 1) {
    wheel_.cancel(s.timers[static_cast<std::size_t>(std::countr_zero(m))]);
  }
  c.timers_pending = 0;
}

void StackEngine::advance(Instant now) {
  now_ = std::max(now_, now);
  wheel_.advance(now_, [this](TimerEntry& e) { on_timer(e); });
  expire_time_wait();
  release_finished();
  wake_chunk_waiters();
}

void StackEngine::wake_chunk_waiters() {
  if (chunk_waiters_.empty() || chunks_.available() == 0) return;
  // Oldest first; one that finds the pool empty again queues itself anew (into
  // chunk_waiters_, emptied by the swap; both vectors are reserved).
  std::swap(chunk_waiters_, chunk_waking_);
  for (const ConnId id : chunk_waking_) {
    ConnSlot& s = conns_[id.slot];
    if (s.generation != id.generation) continue;  // the slot was released and reused
    s.waits_for_chunks = false;
    if (!s.used || s.finished || !s.reported || s.handler == nullptr) continue;
    s.handler->on_writable(api_, id);
  }
  chunk_waking_.clear();
  release_finished();
}

void StackEngine::on_timer(TimerEntry& e) {
  ConnSlot& s = *static_cast<ConnSlot*>(e.owner);
  const auto k = static_cast<tcp::TimerKind>(e.kind);
  // The wheel unlinked the entry: a retransmission one is gone until re-armed.
  if (k == tcp::TimerKind::Retransmit && s.conn) s.conn->rtx_entry_at = Instant::max();
  if (!s.used || s.finished) return;
  Connection& c = *s.conn;
  if (k == tcp::TimerKind::Retransmit) {
    if (!s.rtx_armed()) return;  // stopped since it was scheduled
    if (c.rtx_deadline > wheel_.now()) {
      // Re-armed later since: on to the real deadline (it fires in this advance()
      // if that is due too, in deadline order).
      wheel_.schedule(e, c.rtx_deadline);
      c.rtx_entry_at = c.rtx_deadline;
      return;
    }
  }
  c.timers_pending = static_cast<std::uint8_t>(c.timers_pending & ~tcp::TcpHost::timer_bit(k));
  c.on_timer(k, now_);
}

// ------------------------------------------------------------------------------------
// Output

bool StackEngine::output_raw(std::span<const std::byte> packet) {
  if (packet.size() < wire::kIpv4MinHeaderLen || packet.size() > ip::TxQueue::kSlotBytes) return false;
  std::span<std::byte> out = tx_.reserve();
  if (out.empty()) return false;
  std::memcpy(out.data(), packet.data(), packet.size());
  tx_.commit(packet.size());
  return true;
}

template <class WriteHeader, class FillPayload>
void StackEngine::output_tcp(const FlowKey& key, WriteHeader&& write_header, std::size_t payload_len,
                       FillPayload&& fill) {
  std::span<std::byte> out = tx_.reserve();
  if (out.empty()) return;
  // The TCP header first (it knows its length), then the IP header in front of
  // it: the options' length is worked out once per segment, not twice. One body
  // per family, so that the IPv4 path works on 4-byte addresses throughout.
  // pseudo(seg_len): the pseudo header's sum (RFC 9293 3.1 / RFC 8200 8.1).
  auto build = [&](std::size_t hl, auto&& write_ip, auto&& pseudo, auto&& finish) {
    const TcpHeaderWritten th = write_header(out.subspan(hl));
    const std::size_t seg_len = th.len + payload_len;
    assert(th.len != 0 && hl + seg_len <= out.size());
    write_ip(seg_len);
    std::span<std::byte> seg = out.subspan(hl, seg_len);
    if (payload_len > 0) fill(seg.subspan(th.len));
    if (cfg_.tx_checksum_offload) {
      // What DPDK's TX checksum offload expects (rte_ipv4_phdr_cksum,
      // rte_ipv6_phdr_cksum): IPv4 checksum 0 (write_ip's business), TCP checksum =
      // the folded, uncomplemented pseudo-header sum.
      store_be16(seg.data() + 16, static_cast<std::uint16_t>(~wire::checksum_fold(pseudo(seg_len))));
    } else if (th.sum) {
      // The header was summed as it was written (RFC 1624): the pseudo header and
      // the payload are what is left to add.
      std::uint32_t sum = *th.sum + pseudo(seg_len);
      if (payload_len > 0) sum = wire::checksum_add(seg.subspan(th.len), sum);
      store_be16(seg.data() + 16, wire::checksum_fold(sum));
    } else {
      finish(seg);
    }
    return hl + seg_len;
  };
  std::size_t len;
  if (key.is_v4()) {
    const Ipv4Addr src = key.local_addr.v4(), dst = key.remote_addr.v4();
    const std::uint32_t addr_sum = ip::IpLayer::ipv4_address_sum(src, dst);  // both headers sum it
    len = build(
        wire::kIpv4MinHeaderLen,
        [&](std::size_t seg_len) {
          ip_.write_ipv4(out, src, dst, wire::kIpProtoTcp, seg_len, addr_sum);
          if (cfg_.tx_checksum_offload) store_be16(out.data() + 10, 0);
        },
        [&](std::size_t seg_len) { return addr_sum + wire::kIpProtoTcp + static_cast<std::uint32_t>(seg_len); },
        [&](std::span<std::byte> seg) { wire::finish_tcp_checksum(seg, src, dst); });
  } else {
    len = build(
        wire::kIpv6HeaderLen,
        [&](std::size_t seg_len) { ip_.write_ipv6(out, key.local_addr, key.remote_addr, wire::kIpProtoTcp, seg_len); },
        [&](std::size_t seg_len) {
          return wire::pseudo_header_sum_v6(key.local_addr, key.remote_addr, wire::kIpProtoTcp,
                                            static_cast<std::uint32_t>(seg_len));  // RFC 8200 8.1
        },
        [&](std::span<std::byte> seg) { wire::finish_tcp_checksum(seg, key.local_addr, key.remote_addr); });
  }
  counters_.inc(Counter::tcp_out);
  tx_.commit(len);
}

void StackEngine::send_tcp(const FlowKey& key, const wire::TcpHeader& h,
                     std::span<const std::byte> payload) {
  output_tcp(
      key, [&](std::span<std::byte> out) { return TcpHeaderWritten{wire::write_tcp_header(out, h), std::nullopt}; },
      payload.size(), [&](std::span<std::byte> out) { std::copy(payload.begin(), payload.end(), out.begin()); });
}

void StackEngine::transmit(Connection& c, const wire::TcpHeader& h, std::size_t off, std::size_t len) {
  // The SYNs and RSTs. The payload goes straight from the send buffer into the
  // packet: one copy. The header is summed where it was just written (whole 32-bit
  // words, inline), so only the payload goes through checksum_add.
  output_tcp(
      c.key(),
      [&](std::span<std::byte> out) {
        const std::size_t n = wire::write_tcp_header(out, h);
        return TcpHeaderWritten{n, wire::checksum_add_header(out.first(n))};
      },
      len, [&](std::span<std::byte> out) { c.copy_payload(off, out); });
}

void StackEngine::transmit_built(Connection& c, const std::array<std::byte, wire::kTcpMaxHeaderLen>& th,
                                 std::size_t th_len, std::uint32_t th_sum, std::size_t off, std::size_t len) {
  output_tcp(
      c.key(),
      [&](std::span<std::byte> out) {
        // The whole 60-byte array, not th_len bytes: a fixed-size copy is a few
        // vector moves, not a memcpy call; the slot holds a full-size packet, and
        // the bytes past the header are overwritten by the payload or not sent.
        assert(out.size() >= th.size());
        std::memcpy(out.data(), th.data(), th.size());
        return TcpHeaderWritten{th_len, th_sum};
      },
      len, [&](std::span<std::byte> out) { c.copy_payload(off, out); });
}

// ------------------------------------------------------------------------------------
// The application API

Result<ListenerId, Error> StackEngine::listen(IpAddr addr, std::uint16_t port, Handler& h,
                                        ListenOptions opts) {
  if (port == 0) return Unexpected{Error::InvalidArgument};
  // `::` (both families) and 0.0.0.0 (IPv4) are wildcards; anything else is ours.
  if (!addr.is_unspecified() && !ip_.is_local(addr)) return Unexpected{Error::AddressNotLocal};
  const std::uint64_t k = listener_key(addr, port);
  if (auto it = listener_index_.find(k); it != listener_index_.end() && listeners_[it->second]->active) {
    return Unexpected{Error::AddressInUse};
  }
  std::uint32_t index = kNone;
  for (std::uint32_t i = 0; i < listeners_.size(); ++i) {
    if (!listeners_[i]->active) { index = i; break; }
  }
  if (index == kNone) {
    if (listeners_.size() >= cfg_.max_listeners) return Unexpected{Error::NoMemory};
    listeners_.push_back(std::make_unique<Listener>());
    index = static_cast<std::uint32_t>(listeners_.size() - 1);
  }
  Listener& l = *listeners_[index];
  l = Listener{};
  l.index = index;
  l.addr = addr;
  l.port = port;
  l.handler = &h;
  l.backlog = opts.backlog != 0 ? opts.backlog : cfg_.tcp.default_backlog;
  l.auto_accept = opts.auto_accept;
  l.cookies = opts.syn_cookies.value_or(cfg_.tcp.syn_cookies);
  l.active = true;
  l.accept_queue.reserve(l.backlog);
  listener_index_[k] = index;
  // The key is new or its listener inactive (unlisten() removed it): never twice.
  listener_keys_.emplace_back(k, index);
  return ListenerId{index};
}

void StackEngine::unlisten(ListenerId id) {
  if (id.index >= listeners_.size() || !listeners_[id.index]->active) return;
  Listener& l = *listeners_[id.index];
  l.active = false;
  const std::uint64_t k = listener_key(l.addr, l.port);
  listener_index_.erase(k);
  std::erase_if(listener_keys_, [k](const auto& e) { return e.first == k; });
  // Connections never handed to the application are reset (Linux does the same
  // when a listening socket closes).
  for (std::uint32_t i = 0; i < cfg_.max_connections; ++i) {
    ConnSlot& s = conns_[i];
    if (s.used && !s.finished && s.listener == id.index) {
      const bool handed_out = s.reported && !s.queued;
      if (!handed_out) {
        s.reported = false;
        s.conn->abort(now_);
      }
      s.queued = false;
      s.listener = kNone;
    }
  }
  l.accept_queue.clear();
  l.syn_queue = 0;
  release_finished();
}

std::optional<ConnId> StackEngine::accept(ListenerId id) {
  if (id.index >= listeners_.size()) return std::nullopt;
  Listener& l = *listeners_[id.index];
  if (l.accept_queue.empty()) return std::nullopt;
  const std::uint32_t i = l.accept_queue.front();
  l.accept_queue.erase(l.accept_queue.begin());
  ConnSlot& s = conns_[i];
  s.queued = false;
  return id_of(s);
}

std::size_t StackEngine::syn_queue_length(ListenerId id) const {
  return id.index < listeners_.size() ? listeners_[id.index]->syn_queue : 0;
}

const Connection* StackEngine::connection_at(std::uint32_t slot, ConnId* id) const noexcept {
  if (slot >= cfg_.max_connections) return nullptr;
  const ConnSlot* s = slot_at(slot);
  if (s == nullptr) return nullptr;
  if (id != nullptr) *id = id_of(*s);
  return &*s->conn;
}

std::size_t StackEngine::accept_queue_length(ListenerId id) const {
  return id.index < listeners_.size() ? listeners_[id.index]->accept_queue.size() : 0;
}

bool StackEngine::port_in_use(const FlowKey& key) const { return flows_.find(key) != nullptr; }

Result<ConnId, Error> StackEngine::connect(IpAddr remote, std::uint16_t remote_port, Handler& h,
                                     ConnectOptions opts) {
  if (remote_port == 0 || is_broadcast_or_multicast(remote)) return Unexpected{Error::InvalidArgument};
  // Source selection: the caller's, the router's (IPv4, several ports), or
  // IpLayer::select_source (RFC 6724 5 rule 2 for IPv6).
  const IpAddr local = !opts.local_addr.is_unspecified()                  ? opts.local_addr
                       : remote.is_v4() && source_select_ != nullptr ? IpAddr{source_select_(remote.v4(), source_ctx_)}
                                                                          : ip_.select_source(remote);
  // Both ends of a tuple are of one family.
  if (local.is_v4() != remote.is_v4()) {
    return Unexpected{local.is_unspecified() ? Error::AddressNotLocal : Error::InvalidArgument};
  }
  if (!ip_.is_local(local)) return Unexpected{Error::AddressNotLocal};
  FlowKey key{local, remote, opts.local_port, remote_port};
  if (key.local_port != 0) {
    if (port_in_use(key)) return Unexpected{Error::AddressInUse};
  } else {
    // RFC 6056 3.3.3 (Algorithm 3): offset = F(local, remote, remote port, secret);
    // a counter walks on from there, so ports toward one peer are sequential (no
    // early collisions) but unpredictable to everyone else.
    const std::uint32_t lo = cfg_.tcp.ephemeral_port_min, hi = cfg_.tcp.ephemeral_port_max;
    const std::uint32_t span = hi - lo + 1;
    const auto offset = static_cast<std::uint32_t>(
        tcp::keyed_flow_hash(cfg_.secret, FlowKey{local, remote, 0, remote_port}, 5, 0));
    bool found = false;
    for (std::uint32_t n = 0; n < span; ++n) {
      const auto port = static_cast<std::uint16_t>(lo + (offset + next_ephemeral_ + n) % span);
      key.local_port = port;
      if (!port_in_use(key) && find_listener(local, port) == nullptr &&
          (cfg_.owns == nullptr || cfg_.owns(key, cfg_.owns_ctx))) {
        next_ephemeral_ = next_ephemeral_ + n + 1;
        found = true;
        break;
      }
    }
    if (!found) {
      counters_.inc(Counter::tcp_connect_no_ports);
      return Unexpected{Error::NoPorts};
    }
  }
  ConnSlot* s = new_connection(key, &h, kNone);
  if (s == nullptr) return Unexpected{Error::NoMemory};
  s->reported = true;
  const ConnId id = id_of(*s);
  const tcp::IsnGenerator::Initial init = isn_.initial(key, now_);
  s->conn->open_active(init.isn, init.ts_offset, now_);
  return id;
}

Result<std::size_t, Error> StackEngine::send(ConnId c, std::span<const std::byte> data) {
  ConnSlot* s = lookup(c);
  if (s == nullptr) return Unexpected{Error::BadConnection};
  if (s->conn->fin_queued()) return Unexpected{Error::Closing};
  const std::size_t n = s->conn->send(data, now_);
  if (n < data.size() && chunks_.available() == 0 && s->used && !s->finished) {
    // The pool, not this connection's buffer, ran out: its own ACKs may never
    // come (nothing of it in flight), so it waits for chunks any connection frees
    // (wake_chunk_waiters, from advance()).
    counters_.inc(Counter::tcp_send_no_chunks);
    if (!s->waits_for_chunks) {
      s->waits_for_chunks = true;
      chunk_waiters_.push_back(id_of(*s));  // reserved: at most one entry per slot
    }
  }
  release_finished();
  return n;
}

std::optional<Error> StackEngine::shutdown_write(ConnId c) {
  ConnSlot* s = lookup(c);
  if (s == nullptr) return Error::BadConnection;
  const bool ok = s->conn->shutdown_write(now_);
  release_finished();
  return ok ? std::nullopt : std::optional<Error>{Error::NotConnected};
}

template <class F>
std::optional<Error> StackEngine::detach(ConnId c, F&& end) {
  ConnSlot* s = lookup(c);
  if (s == nullptr) return Error::BadConnection;
  // After close() or abort() the application hears nothing more about it, and a
  // child it closed before accept() (its handle came with on_data) leaves the
  // accept queue: accept() must not hand it out again.
  s->reported = false;
  s->handler = nullptr;
  leave_accept_queue(*s);
  end(*s->conn);
  release_finished();
  return std::nullopt;
}

std::optional<Error> StackEngine::close(ConnId c) {
  return detach(c, [this](Connection& k) { k.close(now_); });
}

std::optional<Error> StackEngine::abort(ConnId c) {
  return detach(c, [this](Connection& k) { k.abort(now_); });
}

void StackEngine::abort_all() {
  for (std::uint32_t i = 0; i < cfg_.max_connections; ++i) {
    ConnSlot& s = conns_[i];
    if (s.used && !s.finished) s.conn->abort(now_);
  }
  release_finished();
}

std::optional<Error> StackEngine::set_nodelay(ConnId c, bool on) {
  ConnSlot* s = lookup(c);
  if (s == nullptr) return Error::BadConnection;
  s->conn->set_nodelay(on);
  return std::nullopt;
}

std::optional<Error> StackEngine::set_keepalive(ConnId c, const Keepalive& k) {
  ConnSlot* s = lookup(c);
  if (s == nullptr) return Error::BadConnection;
  if (k.on && (k.idle <= Duration::zero() || k.interval <= Duration::zero() || k.count == 0)) {
    return Error::InvalidArgument;
  }
  s->conn->set_keepalive(k.on, k.idle, k.interval, k.count, now_);
  return std::nullopt;
}

std::optional<Error> StackEngine::set_congestion(ConnId c, tcp::CongestionAlgorithm a) {
  ConnSlot* s = lookup(c);
  if (s == nullptr) return Error::BadConnection;
  s->conn->set_congestion(a);
  return std::nullopt;
}

std::optional<Error> StackEngine::set_buffer_sizes(ConnId c, std::uint32_t rcv_buf, std::uint32_t snd_buf) {
  ConnSlot* s = lookup(c);
  if (s == nullptr) return Error::BadConnection;
  constexpr std::uint32_t kMaxBuffer = 1u << 30;
  if (rcv_buf == 0 || snd_buf == 0 || rcv_buf > kMaxBuffer || snd_buf > kMaxBuffer) return Error::InvalidArgument;
  s->conn->set_buffer_sizes(rcv_buf, snd_buf, now_);
  return std::nullopt;
}

std::optional<Error> StackEngine::set_receive_held(ConnId c, std::uint32_t bytes) {
  ConnSlot* s = lookup(c);
  if (s == nullptr) return Error::BadConnection;
  s->conn->set_receive_held(bytes, now_);
  return std::nullopt;
}

std::optional<Error> StackEngine::set_handler(ConnId c, Handler& h) {
  ConnSlot* s = lookup(c);
  if (s == nullptr) return Error::BadConnection;
  s->handler = &h;
  return std::nullopt;
}

void StackEngine::set_user_data(ConnId c, void* p) {
  if (ConnSlot* s = lookup(c)) s->conn->user_data = p;
}

void* StackEngine::user_data(ConnId c) const {
  // Unlike lookup(), a finished connection still answers until its slot is
  // released, which happens after on_closed() returns: a handler finds its state
  // in its last callback too.
  if (c.slot >= cfg_.max_connections) return nullptr;
  const ConnSlot& s = conns_[c.slot];
  if (!s.used || s.generation != c.generation || !s.conn) return nullptr;
  return s.conn->user_data;
}

std::optional<ConnInfo> StackEngine::info(ConnId c) const {
  ConnSlot* s = lookup(c);
  if (s == nullptr) return std::nullopt;
  const Connection& k = *s->conn;
  const tcp::Tcb& t = k.tcb();
  ConnInfo i;
  i.key = k.key();
  i.state = k.state();
  i.snd_una = t.snd_una;
  i.snd_nxt = t.snd_nxt;
  i.rcv_nxt = t.rcv_nxt;
  i.iss = t.iss;
  i.irs = t.irs;
  i.snd_wnd = t.snd_wnd;
  i.rcv_wnd = k.rcv_wnd();
  i.cwnd = k.congestion().cwnd;
  i.ssthresh = k.congestion().ssthresh;
  i.congestion = k.congestion().algorithm();
  i.in_recovery = k.in_recovery();
  i.snd_mss = t.snd_mss;
  i.snd_wscale = t.snd_wscale;
  i.rcv_wscale = t.rcv_wscale;
  i.ts_ok = t.ts_ok;
  i.sack_ok = t.sack_ok;
  i.send_queued = k.send_queued();
  i.srtt = k.rto().srtt();
  i.rto = k.rto().rto();
  return i;
}

}  // namespace riptide
