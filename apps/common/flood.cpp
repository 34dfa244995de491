#include "common/flood.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "common/byte_order.hpp"
#include "wire/checksum.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace riptide::apps::flood {

std::string_view to_string(Kind k) noexcept {
  switch (k) {
    case Kind::Syn: return "syn";
    case Kind::Ack: return "ack";
    case Kind::Rst: return "rst";
    case Kind::DataClosed: return "data-closed";
    case Kind::Hold: return "hold";
  }
  return "?";
}

std::optional<Kind> parse_kind(std::string_view s) noexcept {
  for (Kind k : {Kind::Syn, Kind::Ack, Kind::Rst, Kind::DataClosed, Kind::Hold}) {
    if (s == to_string(k)) return k;
  }
  return std::nullopt;
}

namespace {

std::optional<std::uint64_t> parse_number(std::string_view s) noexcept {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<AddrRange> parse_addr_range(std::string_view s) noexcept {
  if (const auto slash = s.find('/'); slash != std::string_view::npos) {
    const auto a = Ipv4Addr::parse(s.substr(0, slash));
    const auto len = parse_number(s.substr(slash + 1));
    if (!a || !len || *len > 32) return std::nullopt;
    const std::uint32_t mask = *len == 0 ? 0 : ~std::uint32_t{0} << (32 - *len);
    if ((a->value & ~mask) != 0) return std::nullopt;  // "198.18.0.1/15": host bits set
    return AddrRange{*a, Ipv4Addr{a->value | ~mask}};
  }
  const auto dash = s.find('-');
  const auto a = Ipv4Addr::parse(s.substr(0, dash));
  const auto b = dash == std::string_view::npos ? a : Ipv4Addr::parse(s.substr(dash + 1));
  if (!a || !b || b->value < a->value) return std::nullopt;
  return AddrRange{*a, *b};
}

std::optional<PortRange> parse_port_range(std::string_view s) noexcept {
  const auto dash = s.find('-');
  const auto a = parse_number(s.substr(0, dash));
  const auto b = dash == std::string_view::npos ? a : parse_number(s.substr(dash + 1));
  if (!a || !b || *a == 0 || *b > 65535 || *b < *a) return std::nullopt;
  return PortRange{static_cast<std::uint16_t>(*a), static_cast<std::uint16_t>(*b)};
}

std::optional<std::string> validate(const FloodParams& p) {
  if (!in_lab_range(p.target)) {
    return "the flood target " + to_string(p.target) + " is outside 198.18.0.0/15 (the lab range): refused";
  }
  if (!in_lab_range(p.sources.lo) || !in_lab_range(p.sources.hi)) {
    return "flood sources " + to_string(p.sources.lo) + "-" + to_string(p.sources.hi) +
           " are not all inside 198.18.0.0/15 (the lab range): refused";
  }
  if (!(p.rate > 0) || p.rate > kMaxRate) return "a flood needs a rate above 0 and at most 100,000,000/s";
  if (p.count == 0 || p.count > kMaxCount) return "a flood needs a count above 0 and at most 1,000,000,000";
  if (p.duration <= Duration::zero() || p.duration > kMaxDuration) {
    return "a flood needs a duration above 0 and at most 600 s";
  }
  if (p.kind == Kind::DataClosed && (p.payload == 0 || p.payload > 1400)) {
    return "--flood-payload wants 1..1400 bytes";
  }
  if (p.window == Window::In && p.seq_stride == 0) return "--flood-seq-stride wants a stride above 0";
  return std::nullopt;
}

// ---------------------------------------------------------------------------------

std::uint64_t TokenBucket::available(Instant now) noexcept {
  if (!started_) {
    started_ = true;
    last_ = now;
  } else if (now > last_) {
    tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
    last_ = now;
  }
  return tokens_ < 1.0 ? 0 : static_cast<std::uint64_t>(tokens_);
}

namespace {
std::uint64_t splitmix(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
}  // namespace

SeqSource::SeqSource(Window w, std::uint32_t stride, std::uint64_t seed) noexcept
    : w_(w), stride_(stride), base_(static_cast<std::uint32_t>(splitmix(seed))), state_(splitmix(seed + 1) | 1) {}

std::uint32_t SeqSource::next() noexcept {
  if (w_ == Window::In) return base_ + static_cast<std::uint32_t>(i_++ * stride_);
  // xorshift64* (Vigna): full period over non-zero states.
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  return static_cast<std::uint32_t>((state_ * 0x2545F4914F6CDD1Dull) >> 32);
}

std::size_t build_packet(std::span<std::byte> out, const FloodPacket& p, bool offload) noexcept {
  wire::TcpHeader h;
  h.src_port = p.sport;
  h.dst_port = p.dport;
  h.seq = SeqNum{p.seq};
  h.ack = SeqNum{p.ack};
  h.flags = p.flags;
  h.window = p.window;
  if (p.syn_options) {
    h.options.mss = 1460;
    h.options.sack_permitted = true;
    h.options.window_scale = 7;
  }
  const std::size_t th_len = wire::kTcpMinHeaderLen + wire::tcp_options_length(h.options);
  const std::size_t seg_len = th_len + p.payload;
  if (out.size() < wire::kIpv4MinHeaderLen + seg_len) return 0;
  wire::Ipv4Header iph;
  iph.protocol = wire::kIpProtoTcp;
  iph.src = p.src;
  iph.dst = p.dst;
  iph.id = p.ip_id;
  const std::size_t hl = wire::write_ipv4_header(out, iph, static_cast<std::uint16_t>(seg_len));
  if (hl == 0) return 0;
  std::span<std::byte> seg = out.subspan(hl, seg_len);
  if (wire::write_tcp_header(seg, h) != th_len) return 0;
  if (p.payload > 0) std::memset(seg.data() + th_len, 'x', p.payload);
  if (offload) {
    store_be16(out.data() + 10, 0);
    const std::uint32_t ph =
        wire::pseudo_header_sum(p.src, p.dst, wire::kIpProtoTcp, static_cast<std::uint16_t>(seg_len));
    store_be16(seg.data() + 16, static_cast<std::uint16_t>(~wire::checksum_fold(ph)));
  } else {
    wire::finish_tcp_checksum(seg, p.src, p.dst);
  }
  return hl + seg_len;
}

FloodPacket packet_for(const FloodParams& p, const SourcePicker& src, SeqSource& seq, std::uint64_t i) noexcept {
  FloodPacket k;
  const auto s = src.at(i);
  k.src = s.addr;
  k.sport = s.port;
  k.dst = p.target;
  k.dport = static_cast<std::uint16_t>(p.target_ports.lo + i % p.target_ports.size());
  k.ip_id = static_cast<std::uint16_t>(i);
  switch (p.kind) {
    case Kind::Syn:
      k.flags = wire::tcp_flags::kSyn;
      k.seq = seq.next();
      k.syn_options = true;
      break;
    case Kind::Ack:
      k.flags = wire::tcp_flags::kAck;
      k.seq = seq.next();
      k.ack = seq.next();
      break;
    case Kind::Rst:
      k.flags = wire::tcp_flags::kRst;
      k.seq = seq.next();
      k.window = 0;
      break;
    case Kind::DataClosed:
      k.flags = wire::tcp_flags::kAck | wire::tcp_flags::kPsh;
      k.seq = seq.next();
      k.ack = seq.next();
      k.payload = p.payload;
      break;
    case Kind::Hold: break;
  }
  return k;
}

void FloodStats::add(const FloodStats& o) noexcept {
  syn += o.syn;
  ack += o.ack;
  rst += o.rst;
  data += o.data;
  tx_full += o.tx_full;
  hold_opened += o.hold_opened;
  hold_failed += o.hold_failed;
  hold_closed += o.hold_closed;
  hold_active += o.hold_active;
  hold_bytes_held += o.hold_bytes_held;
}

// ---------------------------------------------------------------------------------
// Reports

namespace {
std::string fmt(const char* f, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, f, args...);
  return buf;
}
std::string range_text(const AddrRange& a) {
  return a.lo == a.hi ? to_string(a.lo) : to_string(a.lo) + "-" + to_string(a.hi);
}
std::string range_text(const PortRange& p) {
  return p.lo == p.hi ? std::to_string(p.lo) : std::to_string(p.lo) + "-" + std::to_string(p.hi);
}
using ull = unsigned long long;
}  // namespace

std::string summary_text(const FloodReport& r) {
  const FloodStats& t = r.totals;
  const std::string kind(to_string(r.params.kind));
  if (r.params.kind == Kind::Hold) {
    return fmt("riptide-load: flood hold against %s:%u: opened %llu, failed %llu, closed by the server %llu, "
               "bytes held unread %llu, in %.2f s",
               to_string(r.params.target).c_str(), r.target_port, ull(t.hold_opened), ull(t.hold_failed),
               ull(t.hold_closed), ull(t.hold_bytes_held), r.seconds);
  }
  const double rate = r.seconds > 0 ? static_cast<double>(t.sent()) / r.seconds : 0;
  return fmt("riptide-load: flood %s against %s:%s from %s ports %s: sent %llu (syn %llu ack %llu rst %llu "
             "data %llu) in %.2f s, %.0f/s; not queued (tx full) %llu",
             kind.c_str(), to_string(r.params.target).c_str(), range_text(r.params.target_ports).c_str(),
             range_text(r.params.sources).c_str(), range_text(r.params.source_ports).c_str(), ull(t.sent()),
             ull(t.syn), ull(t.ack), ull(t.rst), ull(t.data), r.seconds, rate, ull(t.tx_full));
}

std::string to_json(const FloodReport& r) {
  const FloodParams& p = r.params;
  const FloodStats& t = r.totals;
  const load::StackFigures& k = r.stack;
  std::string s = "{\n";
  s += "  \"schema\": \"riptide-load-flood/1\",\n";
  s += fmt("  \"kind\": \"%s\",\n", std::string(to_string(p.kind)).c_str());
  s += fmt("  \"target\": \"%s\",\n", to_string(p.target).c_str());
  s += fmt("  \"target_ports\": \"%s\",\n", range_text(p.target_ports).c_str());
  s += fmt("  \"sources\": \"%s\",\n", range_text(p.sources).c_str());
  s += fmt("  \"source_ports\": \"%s\",\n", range_text(p.source_ports).c_str());
  s += fmt("  \"window\": \"%s\",\n", p.window == Window::In ? "in" : "out");
  s += fmt("  \"rate\": %.1f,\n  \"count\": %llu,\n  \"duration_s\": %.3f,\n  \"workers\": %u,\n", p.rate,
           ull(p.count), std::chrono::duration<double>(p.duration).count(), r.workers);
  s += fmt("  \"seconds\": %.3f,\n", r.seconds);
  s += fmt("  \"sent\": {\"total\": %llu, \"syn\": %llu, \"ack\": %llu, \"rst\": %llu, \"data\": %llu, "
           "\"tx_full\": %llu},\n",
           ull(t.sent()), ull(t.syn), ull(t.ack), ull(t.rst), ull(t.data), ull(t.tx_full));
  s += fmt("  \"hold\": {\"opened\": %llu, \"failed\": %llu, \"closed_by_server\": %llu, \"bytes_held\": %llu},\n",
           ull(t.hold_opened), ull(t.hold_failed), ull(t.hold_closed), ull(t.hold_bytes_held));
  s += fmt("  \"stack\": {\"packets_in\": %llu, \"packets_out\": %llu, \"segments_in\": %llu, "
           "\"segments_out\": %llu, \"drops\": %llu, \"resets_sent\": %llu, \"resets_received\": %llu}\n",
           ull(k.packets_in), ull(k.packets_out), ull(k.segments_in), ull(k.segments_out), ull(k.drops),
           ull(k.resets_sent), ull(k.resets_received));
  return s + "}\n";
}

// ---------------------------------------------------------------------------------
// FloodGenerator

namespace {
// At most this many packets are queued per poll: the transmit queue (and the
// port's batch) must keep room for the stack's own segments (ARP, replies).
constexpr std::uint64_t kPerPoll = 256;
}  // namespace

FloodGenerator::FloodGenerator(Stack& stack, const FloodParams& p, std::uint64_t first_index, std::uint64_t step)
    : stack_(stack),
      p_(p),
      src_(p.sources, p.source_ports),
      seq_(p.window, p.seq_stride, p.seed + first_index),
      // Packets owed after a stall (a descheduled core) are kept up to 1 s worth and
      // made up at most kPerPoll a poll, so the delivered rate is the offered one.
      bucket_(p.rate, std::max(1.0, p.rate)),
      next_(first_index),
      step_(std::max<std::uint64_t>(step, 1)) {}

void FloodGenerator::poll(Instant now) {
  if (finished_.load(std::memory_order_relaxed)) return;
  if (started_at_ == Instant{}) {
    started_at_ = now;
    end_at_ = now + p_.duration;
  }
  if (done_ >= p_.count || now >= end_at_) {
    finished_at_ = now;
    finished_.store(true, std::memory_order_release);
    return;
  }
  const std::uint64_t room = stack_.config().tx_queue > stack_.tx_pending() + 64
                                 ? stack_.config().tx_queue - stack_.tx_pending() - 64
                                 : 0;
  const std::uint64_t n = std::min({bucket_.available(now), p_.count - done_, kPerPoll, room});
  const bool offload = stack_.config().tx_checksum_offload;
  for (std::uint64_t j = 0; j < n; ++j) {
    const FloodPacket k = packet_for(p_, src_, seq_, next_);
    next_ += step_;
    const std::size_t len = build_packet(buf_, k, offload);
    if (len == 0 || !stack_.output_raw(std::span<const std::byte>(buf_.data(), len))) {
      ++stats_.tx_full;
      continue;
    }
    switch (p_.kind) {
      case Kind::Syn: ++stats_.syn; break;
      case Kind::Ack: ++stats_.ack; break;
      case Kind::Rst: ++stats_.rst; break;
      case Kind::DataClosed: ++stats_.data; break;
      case Kind::Hold: break;
    }
  }
  bucket_.take(n);
  done_ += n;
}

// ---------------------------------------------------------------------------------
// HoldGenerator

namespace {
constexpr Duration kHoldCheck = std::chrono::milliseconds{10};
}

HoldGenerator::HoldGenerator(Stack& stack, const FloodParams& p)
    : stack_(stack), p_(p), bucket_(p.rate, std::max(1.0, p.rate / 100)) {
  held_.resize(p_.count);
  by_conn_.assign(stack_.config().max_connections, 0);
}

HoldGenerator::~HoldGenerator() = default;

HoldGenerator::Held* HoldGenerator::find(ConnId c) noexcept {
  if (c.slot >= by_conn_.size() || by_conn_[c.slot] == 0) return nullptr;
  Held& h = held_[by_conn_[c.slot] - 1];
  return h.live && h.conn == c ? &h : nullptr;
}

void HoldGenerator::poll(Instant now) {
  if (finished_.load(std::memory_order_relaxed)) return;
  if (!running_) {
    running_ = true;
    started_at_ = now;
    end_at_ = now + p_.duration;
    next_check_ = now + kHoldCheck;
  }
  if (!stopping_ && now >= end_at_) {
    // The end: every held connection is reset (the server frees its record at
    // once), then the generator is done.
    stopping_ = true;
    for (Held& h : held_) {
      if (h.live) drop(h);
    }
  }
  if (stopping_) {
    if (stack_.connection_count() == 0 || now >= end_at_ + std::chrono::seconds{2}) {
      finished_at_ = now;
      finished_.store(true, std::memory_order_release);
    }
    return;
  }
  std::uint64_t n = std::min(bucket_.available(now), p_.count - started_);
  std::uint64_t opened = 0;
  while (opened < n) {
    Held& h = held_[started_];
    auto c = stack_.connect(p_.target, p_.target_ports.lo, *this);
    if (!c) {
      ++stats_.hold_failed;  // no port or record here: counted, tried again next poll
      break;
    }
    h.conn = *c;
    h.live = true;
    h.deadline = now + p_.timeout;
    by_conn_[c->slot] = static_cast<std::uint32_t>(started_ + 1);
    ++started_;
    ++opened;
  }
  bucket_.take(opened);
  if (now >= next_check_) {
    next_check_ = now + kHoldCheck;
    for (Held& h : held_) {
      if (h.live && !h.open && now >= h.deadline) {
        ++stats_.hold_failed;
        drop(h);
      }
    }
  }
}

void HoldGenerator::drop(Held& h) noexcept {
  (void)stack_.abort(h.conn);  // an RST; the stack says nothing more about it
  if (h.open) --stats_.hold_active;
  h.live = false;
  by_conn_[h.conn.slot] = 0;
}

void HoldGenerator::on_connected(Stack& s, ConnId c) {
  Held* h = find(c);
  if (h == nullptr) return;
  h->open = true;
  ++stats_.hold_opened;
  ++stats_.hold_active;
  if (!p_.request.empty()) (void)s.send(c, std::as_bytes(std::span(p_.request)));
}

void HoldGenerator::on_data(Stack& s, ConnId c, std::span<const std::byte> data) {
  Held* h = find(c);
  if (h == nullptr || !p_.no_read) return;
  // Not read: the bytes stay counted against the receive window, which closes.
  h->held += static_cast<std::uint32_t>(data.size());
  stats_.hold_bytes_held += data.size();
  (void)s.set_receive_held(c, h->held);
}

void HoldGenerator::on_peer_closed(Stack& s, ConnId c) {
  if (find(c) != nullptr) (void)s.close(c);
}

void HoldGenerator::on_closed(Stack&, ConnId c, CloseReason r) {
  Held* h = find(c);
  if (h == nullptr) return;
  if (h->open) {
    --stats_.hold_active;
    if (r != CloseReason::Aborted) ++stats_.hold_closed;
  } else if (r != CloseReason::Aborted) {
    ++stats_.hold_failed;
  }
  h->live = false;
  by_conn_[c.slot] = 0;
}

}  // namespace riptide::apps::flood
