#include "runner.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <sstream>

#include "backend.hpp"
#include "common/byte_order.hpp"
#include "linux_backend.hpp"
#include "riptide_backend.hpp"
#include "wire/format.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"
#include "wire/tcp.hpp"

namespace riptide::pkt {

namespace {

using namespace riptide::wire::tcp_flags;

// The remote's port for a passive open (packetdrill picks an ephemeral one).
constexpr std::uint16_t kRemoteEphemeral = 40000;
constexpr std::uint32_t kRemoteIsn = 1000000;  // the script peer's ISN: seq 0 is this
constexpr std::int64_t kDefaultToleranceUs = 4000;

const std::map<std::string, int, std::less<>>& errno_names() {
  static const std::map<std::string, int, std::less<>> m = {
      {"EPERM", EPERM}, {"ENOENT", ENOENT}, {"EINTR", EINTR}, {"EIO", EIO}, {"EBADF", EBADF},
      {"EAGAIN", EAGAIN}, {"EWOULDBLOCK", EWOULDBLOCK}, {"ENOMEM", ENOMEM}, {"EACCES", EACCES},
      {"EFAULT", EFAULT}, {"EBUSY", EBUSY}, {"EEXIST", EEXIST}, {"EINVAL", EINVAL},
      {"EPIPE", EPIPE}, {"ENOTSOCK", ENOTSOCK}, {"EDESTADDRREQ", EDESTADDRREQ},
      {"EMSGSIZE", EMSGSIZE}, {"EPROTOTYPE", EPROTOTYPE}, {"ENOPROTOOPT", ENOPROTOOPT},
      {"EPROTONOSUPPORT", EPROTONOSUPPORT}, {"EOPNOTSUPP", EOPNOTSUPP}, {"EAFNOSUPPORT", EAFNOSUPPORT},
      {"EADDRINUSE", EADDRINUSE}, {"EADDRNOTAVAIL", EADDRNOTAVAIL}, {"ENETUNREACH", ENETUNREACH},
      {"ECONNABORTED", ECONNABORTED}, {"ECONNRESET", ECONNRESET}, {"ENOBUFS", ENOBUFS},
      {"EISCONN", EISCONN}, {"ENOTCONN", ENOTCONN}, {"ETIMEDOUT", ETIMEDOUT},
      {"ECONNREFUSED", ECONNREFUSED}, {"EHOSTUNREACH", EHOSTUNREACH}, {"EALREADY", EALREADY},
      {"EINPROGRESS", EINPROGRESS}, {"ENOSYS", ENOSYS}};
  return m;
}

std::string errno_name(int e) {
  for (const auto& [name, v] : errno_names()) {
    if (v == e && name != "EWOULDBLOCK") return name;
  }
  return std::to_string(e);
}

const std::map<std::string, std::int64_t, std::less<>>& symbols() {
  static const std::map<std::string, std::int64_t, std::less<>> m = {
      {"AF_INET", AF_INET}, {"PF_INET", PF_INET}, {"AF_INET6", AF_INET6}, {"PF_INET6", PF_INET6},
      {"SOCK_STREAM", SOCK_STREAM}, {"SOCK_DGRAM", SOCK_DGRAM}, {"IPPROTO_TCP", IPPROTO_TCP},
      {"IPPROTO_IP", IPPROTO_IP}, {"IPPROTO_UDP", IPPROTO_UDP}, {"SOL_SOCKET", SOL_SOCKET},
      {"SOL_TCP", IPPROTO_TCP}, {"SO_REUSEADDR", SO_REUSEADDR}, {"SO_REUSEPORT", SO_REUSEPORT},
      {"SO_ERROR", SO_ERROR}, {"SO_RCVBUF", SO_RCVBUF}, {"SO_SNDBUF", SO_SNDBUF},
      {"SO_KEEPALIVE", SO_KEEPALIVE}, {"SO_LINGER", SO_LINGER}, {"SO_RCVLOWAT", SO_RCVLOWAT},
      {"TCP_NODELAY", TCP_NODELAY}, {"TCP_MAXSEG", TCP_MAXSEG}, {"TCP_CORK", TCP_CORK},
      {"TCP_KEEPIDLE", TCP_KEEPIDLE}, {"TCP_KEEPINTVL", TCP_KEEPINTVL}, {"TCP_KEEPCNT", TCP_KEEPCNT},
      {"TCP_INFO", TCP_INFO}, {"TCP_CONGESTION", TCP_CONGESTION}, {"TCP_USER_TIMEOUT", TCP_USER_TIMEOUT},
      {"TCP_QUICKACK", TCP_QUICKACK}, {"TCP_DEFER_ACCEPT", TCP_DEFER_ACCEPT},
      {"TCP_FASTOPEN", TCP_FASTOPEN}, {"F_GETFL", F_GETFL}, {"F_SETFL", F_SETFL},
      {"O_RDWR", O_RDWR}, {"O_NONBLOCK", O_NONBLOCK}, {"SHUT_RD", SHUT_RD}, {"SHUT_WR", SHUT_WR},
      {"SHUT_RDWR", SHUT_RDWR}, {"MSG_PEEK", MSG_PEEK}, {"MSG_DONTWAIT", MSG_DONTWAIT},
      {"MSG_WAITALL", MSG_WAITALL}, {"MSG_NOSIGNAL", MSG_NOSIGNAL}, {"MSG_MORE", MSG_MORE}};
  return m;
}

// tcpi_state names, Linux (TCP_*) and FreeBSD (TCPS_* / TCPI_*), to RFC states.
std::optional<tcp::State> state_from_name(std::string_view n) {
  using S = tcp::State;
  static const std::map<std::string, S, std::less<>> m = {
      {"TCP_ESTABLISHED", S::Established}, {"TCP_SYN_SENT", S::SynSent},
      {"TCP_SYN_RECV", S::SynReceived}, {"TCP_FIN_WAIT1", S::FinWait1},
      {"TCP_FIN_WAIT2", S::FinWait2}, {"TCP_TIME_WAIT", S::TimeWait}, {"TCP_CLOSE", S::Closed},
      {"TCP_CLOSE_WAIT", S::CloseWait}, {"TCP_LAST_ACK", S::LastAck}, {"TCP_LISTEN", S::Listen},
      {"TCP_CLOSING", S::Closing}};
  if (auto it = m.find(n); it != m.end()) return it->second;
  for (std::string_view prefix : {"TCPS_", "TCPI_"}) {
    if (n.substr(0, prefix.size()) != prefix) continue;
    static const std::map<std::string, S, std::less<>> bsd = {
        {"CLOSED", S::Closed}, {"LISTEN", S::Listen}, {"SYN_SENT", S::SynSent},
        {"SYN_RECEIVED", S::SynReceived}, {"ESTABLISHED", S::Established},
        {"CLOSE_WAIT", S::CloseWait}, {"FIN_WAIT_1", S::FinWait1}, {"CLOSING", S::Closing},
        {"LAST_ACK", S::LastAck}, {"FIN_WAIT_2", S::FinWait2}, {"TIME_WAIT", S::TimeWait}};
    if (auto it = bsd.find(n.substr(prefix.size())); it != bsd.end()) return it->second;
  }
  return std::nullopt;
}

struct Outbound {
  std::vector<std::byte> bytes;
  std::int64_t at_us = 0;
};

// A blocking call waiting for the stack (packetdrill runs these on a thread).
struct Parked {
  const Event* ev = nullptr;
  int fd = -1;
  std::int64_t start_us = 0;
  std::int64_t end_us = 0;
  std::int64_t done = 0;  // bytes written so far (write)
};

class Runner {
 public:
  Runner(const Script& s, const RunOptions& o, Backend& be, std::string config_error)
      : script_(s), opts_(o), config_error_(std::move(config_error)), be_(be) {
    be_.set_sink([this](std::span<const std::byte> pkt, std::int64_t at) { collect(pkt, at); });
    tolerance_us_ = std::max(tolerance_us_, opts_.min_tolerance_us);
  }

  RunResult run() {
    if (!config_error_.empty()) {
      fail(0, config_error_);
      return result_;
    }
    for (const auto& [name, value] : script_.options) {
      if (name.rfind("riptide.", 0) == 0) continue;  // applied by the back end
      if (name == "tolerance_usecs") {
        tolerance_us_ = std::max<std::int64_t>(std::atoll(value.c_str()), opts_.min_tolerance_us);
      } else if (name == "ip_version") {
        // ipv4, ipv6 (2001:db8::1 the stack, 2001:db8::2 the remote), or
        // ipv4-mapped-ipv6 (IPv4 on the wire: backend.hpp).
        const std::optional<IpVersion> v = ip_version(script_);
        if (!v) {
          result_.status = RunResult::Status::Skip;
          result_.message = "--ip_version=" + value + ": not ipv4, ipv6 or ipv4-mapped-ipv6";
          return result_;
        }
        ipv_ = *v;
      } else {
        result_.warnings.push_back("header option --" + name + " ignored");
      }
    }
    for (const Event& ev : script_.events) {
      if (!step(ev)) return result_;
    }
    // Whatever the stack sent up to the last event must have been expected.
    if (!outq_.empty()) {
      fail(script_.events.empty() ? 0 : script_.events.back().pos.line,
           "unexpected packet after the last event:\n  actual:   " + describe(outq_.front()));
      return result_;
    }
    if (parked_) {
      fail(parked_->ev->pos.line, "blocking call never completed");
      return result_;
    }
    return result_;
  }

 private:
  // --- time ------------------------------------------------------------------------------
  std::int64_t now_us() const { return be_.now_us(); }

  void collect(std::span<const std::byte> pkt, std::int64_t at) {
    Outbound o{{pkt.begin(), pkt.end()}, at};
    if (opts_.pcap) opts_.pcap->write(pkt, at, true);
    if (opts_.verbose) result_.trace += describe(o) + "\n";
    outq_.push_back(std::move(o));
  }

  // Lets time pass up to t (inclusive or not), collecting output and completing a
  // parked call as soon as it can. Stops early when stop_on_output and a packet
  // is waiting.
  bool advance_to(std::int64_t t, bool inclusive, bool stop_on_output) {
    return be_.run_until(
        t, inclusive, [this] { return try_parked(); },
        [this, stop_on_output] { return stop_on_output && !outq_.empty(); });
  }

  // --- events ------------------------------------------------------------------------------
  std::int64_t resolve(const EventTime& t) {
    switch (t.kind) {
      case EventTime::Kind::Absolute: return t.us;
      case EventTime::Kind::Relative: return last_us_ + t.us;
      case EventTime::Kind::Any: return now_us();
    }
    return t.us;
  }

  bool step(const Event& ev) {
    const std::int64_t t = resolve(ev.time);
    line_ = ev.pos.line;
    if (const auto* p = std::get_if<PacketEvent>(&ev.body); p && !p->inbound) {
      return expect_packet(ev, *p, t);
    }
    // Anything else happens at t: first, everything due before it.
    if (!advance_to(t, false, false)) return false;
    if (!outq_.empty()) {
      return fail(ev.pos.line, "unexpected packet before this event:\n  actual:   " + describe(outq_.front()));
    }
    // --linux: a packet from the peer after a long silence (2 s or more since the
    // stack last sent) waits out the timer slack first, 1/8 of that silence: a kernel
    // timer due before it (a request socket dropped, TIME-WAIT ending) may fire that
    // late, and the script means it to have fired. What follows is as late.
    if (const auto* p = std::get_if<PacketEvent>(&ev.body);
        p && p->inbound && opts_.linux_kernel && t - last_out_us_ >= 2000000) {
      const std::int64_t delay = (t - last_out_us_) / 8;
      if (!advance_to(t + delay, false, true)) return false;
      if (!outq_.empty()) {
        return fail(ev.pos.line, "unexpected packet before this event:\n  actual:   " + describe(outq_.front()));
      }
      carry_us_ = std::max(carry_us_, delay);
    }
    be_.set_clock(t);  // a call at t happens at t, not at the last input
    prev_us_ = last_us_;
    last_us_ = t;
    bool ok = true;
    if (const auto* p = std::get_if<PacketEvent>(&ev.body)) {
      ok = inject(*p);
    } else if (const auto* sc = std::get_if<SyscallEvent>(&ev.body)) {
      ok = syscall(ev, *sc, t);
    } else if (const auto* c = std::get_if<CommandEvent>(&ev.body)) {
      ok = command(ev, *c);
    } else {
      ++result_.skipped_lines;  // `shell`: never run
    }
    if (!ok) return false;
    be_.settle();
    return try_parked();
  }

  // --- inbound ------------------------------------------------------------------------------
  bool inject(const PacketEvent& p) {
    wire::TcpHeader h;
    h.src_port = remote_port();
    h.dst_port = local_port_;
    h.flags = p.flags;
    h.seq = SeqNum{kRemoteIsn + p.seq_start};
    // Before the stack has sent a SYN its ISN is unknown: 'ack' is then absolute
    // (an ACK to a listener, say), as outbound numbers are in that case.
    if (p.ack) h.ack = stack_isn_ ? *stack_isn_ + *p.ack : SeqNum{*p.ack};
    h.window = static_cast<std::uint16_t>(p.window.value_or(65535));
    if (p.options) {
      for (const ScriptOption& o : *p.options) {
        switch (o.kind) {
          case ScriptOption::Kind::Mss: h.options.mss = static_cast<std::uint16_t>(o.value); break;
          case ScriptOption::Kind::WindowScale: h.options.window_scale = static_cast<std::uint8_t>(o.value); break;
          case ScriptOption::Kind::SackPermitted: h.options.sack_permitted = true; break;
          case ScriptOption::Kind::Timestamp:
            // TS ecr is translated into the stack's clock as packetdrill does.
            h.options.timestamps = wire::TcpTimestamps{o.ts_val, ts_offset_ ? o.ts_ecr + *ts_offset_ : o.ts_ecr};
            break;
          case ScriptOption::Kind::Sack:
            for (const auto& [l, r] : o.sack) {
              if (h.options.sack_count >= h.options.sack_blocks.size()) break;
              const SeqNum base = stack_isn_.value_or(SeqNum{0});
              h.options.sack_blocks[h.options.sack_count++] = wire::SackBlock{base + l, base + r};
            }
            break;
          case ScriptOption::Kind::Nop:
          case ScriptOption::Kind::Eol: break;  // the writer pads as Linux does
        }
      }
    }
    // Up to an IPv4 datagram's 65535 bytes (RFC 791: Total Length is 16 bits), or
    // an IPv6 payload of 65535 (RFC 8200 3: Payload Length is 16 bits).
    const std::size_t th = wire::kTcpMinHeaderLen + wire::tcp_options_length(h.options);
    const bool v6 = ipv_ == IpVersion::V6;
    if (th + p.payload_len + (v6 ? 0 : wire::kIpv4MinHeaderLen) > 65535) {
      return fail(line_, "inbound packet larger than an IP datagram (65535 bytes)");
    }
    const std::size_t hl = v6 ? wire::kIpv6HeaderLen : wire::kIpv4MinHeaderLen;
    std::vector<std::byte> buf(hl + th + p.payload_len);
    if (v6) {
      wire::Ipv6Header ip;
      ip.next_header = wire::kIpProtoTcp;
      ip.src = kRemote6;
      ip.dst = kLocal6;
      wire::write_ipv6_header(buf, ip, static_cast<std::uint16_t>(th + p.payload_len));
    } else {
      wire::Ipv4Header ip;
      ip.protocol = wire::kIpProtoTcp;
      ip.src = kRemote;
      ip.dst = kLocal;
      wire::write_ipv4_header(buf, ip, static_cast<std::uint16_t>(th + p.payload_len));
    }
    auto seg = std::span<std::byte>(buf).subspan(hl, th + p.payload_len);
    wire::write_tcp_header(seg, h);
    for (std::size_t k = 0; k < p.payload_len; ++k) seg[th + k] = std::byte{static_cast<unsigned char>('a' + k % 26)};
    wire::finish_tcp_checksum(seg, remote_addr(ipv_), local_addr(ipv_));
    const auto pkt = std::span<const std::byte>(buf.data(), hl + th + p.payload_len);
    if (opts_.pcap) opts_.pcap->write(pkt, now_us(), false);
    if (opts_.verbose) result_.trace += format_time() + " < " + p.text + "\n";
    be_.input(pkt);
    return true;
  }

  // The TCP segment of an outbound packet of the script's family (no extension
  // headers: riptide sends none), with its addresses; empty when it is not one.
  std::span<const std::byte> tcp_of(std::span<const std::byte> pkt, IpAddr& src, IpAddr& dst) const {
    if (ipv_ == IpVersion::V6) {
      auto ip = wire::Ipv6View::parse(pkt);
      if (!ip || ip->next_header() != wire::kIpProtoTcp) return {};
      src = ip->src();
      dst = ip->dst();
      return ip->payload();
    }
    auto ip = wire::Ipv4View::parse(pkt);
    if (!ip || ip->protocol() != wire::kIpProtoTcp) return {};
    src = ip->src();
    dst = ip->dst();
    return ip->payload();
  }
  std::string family() const { return ipv_ == IpVersion::V6 ? "IPv6" : "IPv4"; }

  bool syn_cookies_always() const {
    for (const auto& [name, value] : script_.options) {
      if (name == "riptide.syn_cookies" && value == "always") return true;
    }
    return false;
  }

  std::uint16_t remote_port() const { return active_ ? kScriptPort : kRemoteEphemeral; }

  // --- outbound ------------------------------------------------------------------------------
  bool expect_packet(const Event& ev, const PacketEvent& p, std::int64_t t) {
    std::int64_t lo = t - tolerance_us_;
    std::int64_t hi = t + tolerance_us_;
    if (ev.time.range_end_us) {
      const std::int64_t end = ev.time.range_end_relative ? last_us_ + *ev.time.range_end_us
                                                          : *ev.time.range_end_us;
      hi = end + tolerance_us_;
    }
    // Linux's timers sit on a timer wheel whose granularity grows with the timeout
    // (about 1/8 of it: 32 ms at 1 s, 256 ms at 3 s with HZ=250): a kernel timer may
    // fire that much late, never early (kernel/time/timer.c).
    // A timer is armed when something was last sent, which may be before the
    // previous event: measure from the earlier of the two.
    slack_us_ = opts_.linux_kernel ? std::max<std::int64_t>(t - std::min(last_us_, last_out_us_), 0) / 8 : 0;
    // A timer that fired late shifts everything after it: the next timer is armed
    // from the late packet, and inbound packets due meanwhile went in late, so what
    // they trigger (and its TSval) is late by as much. Carried until the next packet.
    slack_us_ += carry_us_;
    hi += slack_us_;
    const bool any_time = ev.time.kind == EventTime::Kind::Any;
    if (any_time) hi = std::numeric_limits<std::int64_t>::max() / 4;
    if (outq_.empty()) {
      const std::int64_t limit = any_time ? now_us() + be_.any_time_wait_us() : hi;
      if (!advance_to(limit, true, true)) return false;
    }
    if (outq_.empty()) {
      return fail(ev.pos.line, "expected packet was not sent (waited until " + fmt_us(hi) +
                                   "):\n  expected: > " + p.text.substr(1) + "\n  state:    " + state_text());
    }
    Outbound o = std::move(outq_.front());
    outq_.pop_front();
    const std::int64_t at = o.at_us;
    last_us_ = any_time ? at : t;
    last_out_us_ = last_us_;
    if (opts_.linux_kernel) carry_us_ = std::max<std::int64_t>(at - t, 0);
    std::string why = compare(p, o);
    if (why.empty() && !any_time && (at < lo || at > hi)) {
      why = "sent at " + fmt_us(at) + ", expected at " + fmt_us(t) + " (tolerance " +
            std::to_string(tolerance_us_) + " us)";
    }
    if (!why.empty()) {
      return fail(ev.pos.line, why + "\n  expected: > " + p.text.substr(1) + "\n  actual:   " + describe(o) +
                                   "\n  state:    " + state_text());
    }
    return true;
  }

  // Empty when `o` matches the script packet; otherwise why not.
  std::string compare(const PacketEvent& p, const Outbound& o) {
    IpAddr src, dst;
    const std::span<const std::byte> segment = tcp_of(o.bytes, src, dst);
    if (segment.empty()) return "the stack sent a packet that is not TCP over " + family();
    auto tcp = wire::TcpView::parse(segment);
    if (!tcp) return "the stack sent a malformed TCP segment";
    // The stack's first SYN or SYN-ACK fixes the mapping of its sequence numbers
    // and, for an active open, its port.
    if (!stack_isn_ && tcp->has(kSyn)) {
      stack_isn_ = tcp->seq() - p.seq_start;
      if (active_) local_port_ = tcp->src_port();
    }
    if (tcp->dst_port() != remote_port() || tcp->src_port() != local_port_) {
      return "wrong ports: " + std::to_string(tcp->src_port()) + " > " + std::to_string(tcp->dst_port());
    }
    if (tcp->flags() != p.flags) {
      return "flags differ: expected [" + wire::format_tcp_flags(p.flags) + "], got [" +
             wire::format_tcp_flags(tcp->flags()) + "]";
    }
    const SeqNum base = stack_isn_.value_or(SeqNum{0});
    // A RST answering a segment without ACK has <SEQ=0> (RFC 9293 3.10.7.1): a
    // script writes it as seq 0 whatever the ISN mapping.
    const bool absolute_zero_rst = (p.flags & kRst) && p.seq_start == 0 && tcp->seq() == SeqNum{0};
    if (!absolute_zero_rst && static_cast<std::uint32_t>(tcp->seq() - base) != p.seq_start) {
      return "sequence number differs";
    }
    if (tcp->payload().size() != p.payload_len) return "payload length differs";
    if (p.ack && (tcp->flags() & kAck) && static_cast<std::uint32_t>(tcp->ack() - SeqNum{kRemoteIsn}) != *p.ack) {
      return "ack differs";
    }
    if (p.window && !opts_.lenient && !opts_.ignore_window && tcp->window() != *p.window) return "window differs";
    if (p.any_options) return {};
    if (!p.options) return opts_.lenient || tcp->header_length() == wire::kTcpMinHeaderLen ? "" : "unexpected TCP options";
    return compare_options(*p.options, tcp->option_bytes());
  }

  static std::vector<ScriptOption> decode_options(std::span<const std::byte> b) {
    std::vector<ScriptOption> out;
    std::size_t i = 0;
    while (i < b.size()) {
      const auto kind = static_cast<std::uint8_t>(b[i]);
      ScriptOption o;
      if (kind == 0) {
        o.kind = ScriptOption::Kind::Eol;
        out.push_back(o);
        break;
      }
      if (kind == 1) {
        o.kind = ScriptOption::Kind::Nop;
        out.push_back(o);
        ++i;
        continue;
      }
      if (i + 1 >= b.size()) break;
      const std::size_t len = static_cast<std::uint8_t>(b[i + 1]);
      if (len < 2 || i + len > b.size()) break;
      const std::byte* d = b.data() + i + 2;
      switch (kind) {
        case 2: o.kind = ScriptOption::Kind::Mss; o.value = load_be16(d); break;
        case 3: o.kind = ScriptOption::Kind::WindowScale; o.value = load_u8(d); break;
        case 4: o.kind = ScriptOption::Kind::SackPermitted; break;
        case 8:
          o.kind = ScriptOption::Kind::Timestamp;
          o.ts_val = load_be32(d);
          o.ts_ecr = load_be32(d + 4);
          break;
        case 5:
          o.kind = ScriptOption::Kind::Sack;
          for (std::size_t k = 0; k + 8 <= len - 2; k += 8) o.sack.emplace_back(load_be32(d + k), load_be32(d + k + 4));
          break;
        default: break;
      }
      out.push_back(o);
      i += len;
    }
    return out;
  }

  std::string compare_options(const std::vector<ScriptOption>& want, std::span<const std::byte> bytes) {
    std::vector<ScriptOption> got = decode_options(bytes);
    auto padding = [](const ScriptOption& o) {
      return o.kind == ScriptOption::Kind::Nop || o.kind == ScriptOption::Kind::Eol;
    };
    std::vector<ScriptOption> w = want;
    if (opts_.lenient) {
      // Compared as a set: padding and order do not matter.
      std::erase_if(w, padding);
      std::erase_if(got, padding);
      auto key = [](const ScriptOption& o) { return static_cast<int>(o.kind); };
      std::sort(w.begin(), w.end(), [&](auto& a, auto& b) { return key(a) < key(b); });
      std::sort(got.begin(), got.end(), [&](auto& a, auto& b) { return key(a) < key(b); });
    } else {
      // The writer never emits trailing EOL padding; treat a trailing eol as padding.
      while (!w.empty() && w.back().kind == ScriptOption::Kind::Eol) w.pop_back();
      while (!got.empty() && got.back().kind == ScriptOption::Kind::Eol) got.pop_back();
    }
    if (w.size() != got.size()) return "TCP options differ";
    for (std::size_t k = 0; k < w.size(); ++k) {
      const ScriptOption& a = w[k];
      const ScriptOption& b = got[k];
      if (a.kind != b.kind) return "TCP options differ";
      switch (a.kind) {
        case ScriptOption::Kind::Mss:
          if (a.value != b.value) return "TCP option values differ";
          break;
        case ScriptOption::Kind::WindowScale:
          // The shift we offer is receive-window policy, like the window itself:
          // --lenient leaves it unchecked (Linux offers 7 to 9 depending on memory).
          if (a.value != b.value && !opts_.lenient) return "TCP option values differ";
          break;
        case ScriptOption::Kind::Timestamp: {
          if (!ts_offset_) ts_offset_ = b.ts_val - a.ts_val;  // the first TSval fixes the mapping
          if (a.ts_ecr != b.ts_ecr) return "TS ecr differs";
          if (!opts_.lenient) {
            const auto drift = static_cast<std::int32_t>(b.ts_val - *ts_offset_ - a.ts_val);
            const std::int64_t allowed = (tolerance_us_ + slack_us_) / 1000 + 1;
            // Linux's SYN-cookie SYN-ACK carries the options in the low 6 bits of its
            // TSval, its clock rounded down by up to 63 ms (cookie_init_timestamp):
            // the mapping learned from it runs up to 63 ms behind the later TSvals.
            const std::int64_t cookie_skew = opts_.linux_kernel && syn_cookies_always() ? 63 : 0;
            if (drift > allowed + cookie_skew || drift < -allowed) return "TS val differs (after mapping)";
          }
          break;
        }
        case ScriptOption::Kind::Sack: {
          if (a.sack.size() != b.sack.size()) return "SACK blocks differ";
          for (std::size_t j = 0; j < a.sack.size(); ++j) {
            if (b.sack[j].first - kRemoteIsn != a.sack[j].first || b.sack[j].second - kRemoteIsn != a.sack[j].second) {
              return "SACK blocks differ";
            }
          }
          break;
        }
        default: break;
      }
    }
    return {};
  }

  // The packet in packetdrill's own notation, relative numbers, plus tcpdump's line.
  std::string describe(const Outbound& o) const {
    IpAddr src, dst;
    const std::span<const std::byte> segment = tcp_of(o.bytes, src, dst);
    if (segment.empty()) return "(not TCP over " + family() + ")";
    auto tcp = wire::TcpView::parse(segment);
    if (!tcp) return "(unparsable TCP)";
    std::ostringstream s;
    const SeqNum base = stack_isn_.value_or(tcp->seq());
    const auto seq = static_cast<std::uint32_t>(tcp->seq() - base);
    std::string flags = wire::format_tcp_flags(tcp->flags());
    s << fmt_us(o.at_us) << " > " << flags << ' ' << seq << ':'
      << seq + tcp->payload().size() << '(' << tcp->payload().size() << ')';
    if (tcp->has(kAck)) s << " ack " << static_cast<std::uint32_t>(tcp->ack() - SeqNum{kRemoteIsn});
    s << " win " << tcp->window();
    auto opts = decode_options(tcp->option_bytes());
    if (!opts.empty()) {
      s << " <";
      for (std::size_t k = 0; k < opts.size(); ++k) {
        const ScriptOption& x = opts[k];
        if (k) s << ',';
        switch (x.kind) {
          case ScriptOption::Kind::Nop: s << "nop"; break;
          case ScriptOption::Kind::Eol: s << "eol"; break;
          case ScriptOption::Kind::Mss: s << "mss " << x.value; break;
          case ScriptOption::Kind::WindowScale: s << "wscale " << x.value; break;
          case ScriptOption::Kind::SackPermitted: s << "sackOK"; break;
          case ScriptOption::Kind::Timestamp:
            s << "TS val " << (ts_offset_ ? x.ts_val - *ts_offset_ : x.ts_val) << " ecr " << x.ts_ecr;
            break;
          case ScriptOption::Kind::Sack:
            s << "sack";
            for (auto [l, r] : x.sack) s << ' ' << l - kRemoteIsn << ':' << r - kRemoteIsn;
            break;
        }
      }
      s << '>';
    }
    s << "\n            tcpdump: " << wire::format_tcp(src, dst, *tcp);
    return s.str();
  }

  std::string format_time() const { return fmt_us(now_us()); }
  static std::string fmt_us(std::int64_t us) {
    char b[32];
    std::snprintf(b, sizeof b, "%.6f", static_cast<double>(us) / 1e6);
    return b;
  }

  std::string state_text() {
    const int fd = focus_fd();
    if (fd < 0) return "(no socket)";
    auto st = be_.tcp_state(fd);
    return st ? std::string(tcp::to_string(*st)) + " (fd " + std::to_string(fd) + ")" : "(fd closed)";
  }

  int focus_fd() const { return conn_fd_ >= 0 ? conn_fd_ : last_socket_; }

  // --- %{ }% ------------------------------------------------------------------------------
  bool command(const Event& ev, const CommandEvent& c) {
    if (c.tcpi_field) {
      auto w = be_.congestion(focus_fd());
      if (!w) return fail(ev.pos.line, "tcpi_" + *c.tcpi_field + ": no connection to ask");
      const std::int64_t got = *c.tcpi_field == "snd_cwnd" ? w->cwnd : w->ssthresh;
      if (got != c.tcpi_value) {
        return fail(ev.pos.line, "tcpi_" + *c.tcpi_field + " is " + std::to_string(got) + ", expected " +
                                     std::to_string(c.tcpi_value));
      }
      return true;
    }
    if (!c.tcpi_state) {
      ++result_.skipped_lines;
      return true;
    }
    auto want = state_from_name(*c.tcpi_state);
    if (!want) return fail(ev.pos.line, "unknown tcpi_state name '" + *c.tcpi_state + "'");
    const int fd = focus_fd();
    auto got = be_.tcp_state(fd);
    if (!got) return fail(ev.pos.line, "tcpi_state: no socket to ask");
    if (*got != *want && opts_.linux_kernel) {
      // A state that a timer ends (TIME-WAIT, orphaned FIN-WAIT-2, retries running
      // out) changes when a kernel timer fires, and that fires late by up to 1/8 of
      // its timeout (the timer wheel, as for packets in expect_packet): the assert is
      // retried until that slack is used up, as long as nothing is sent meanwhile.
      const std::int64_t slack = std::max<std::int64_t>(last_us_ - std::min(prev_us_, last_out_us_), 0) / 8;
      const std::int64_t until = last_us_ + tolerance_us_ + slack;
      while (*got != *want && outq_.empty() && now_us() < until) {
        if (!advance_to(std::min(until, now_us() + 2000), true, true)) return false;
        got = be_.tcp_state(fd);
        if (!got) return fail(ev.pos.line, "tcpi_state: no socket to ask");
      }
      // What follows is as late as this state change was.
      if (*got == *want) carry_us_ = std::max<std::int64_t>(carry_us_, now_us() - last_us_);
    }
    if (*got != *want) {
      return fail(ev.pos.line, "tcpi_state is " + std::string(tcp::to_string(*got)) + ", expected " +
                                   std::string(tcp::to_string(*want)) + " (" + *c.tcpi_state + ")");
    }
    return true;
  }

  // --- system calls ---------------------------------------------------------------------------
  std::optional<std::int64_t> value(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::Integer: return e.integer;
      case Expr::Kind::Symbol: {
        auto it = symbols().find(e.name);
        if (it == symbols().end()) {
          // Errno names are values too: getsockopt(..., SO_ERROR, [ECONNREFUSED], [4]).
          if (auto en = errno_names().find(e.name); en != errno_names().end()) return en->second;
          fail(line_, "unknown symbol '" + e.name + "' (column " + std::to_string(e.pos.column) + ")");
          return std::nullopt;
        }
        return it->second;
      }
      case Expr::Kind::BitOr: {
        std::int64_t v = 0;
        for (const Expr& x : e.items) {
          auto xv = value(x);
          if (!xv) return std::nullopt;
          v |= *xv;
        }
        return v;
      }
      case Expr::Kind::List:
        if (e.items.size() == 1) return value(e.items[0]);
        break;
      default: break;
    }
    fail(line_, "expected a number at column " + std::to_string(e.pos.column));
    return std::nullopt;
  }

  bool arg_count(const Event& ev, const SyscallEvent& sc, std::size_t lo, std::size_t hi) {
    if (sc.args.size() < lo || sc.args.size() > hi) {
      return fail(ev.pos.line, sc.name + "() takes " + std::to_string(lo) +
                                   (hi != lo ? ".." + std::to_string(hi) : "") + " arguments");
    }
    return true;
  }

  // Compares a return value (>= 0 or -errno) with what the script expects.
  bool check_result(const Event& ev, const SyscallEvent& sc, long r) {
    if (r >= 0) {
      if (sc.expected_result == r && !sc.expected_errno) return true;
      return fail(ev.pos.line, sc.name + "() returned " + std::to_string(r) + ", expected " +
                                   std::to_string(sc.expected_result) +
                                   (sc.expected_errno ? " " + *sc.expected_errno : ""));
    }
    const std::string got = errno_name(static_cast<int>(-r));
    if (sc.expected_result == -1 && sc.expected_errno) {
      auto it = errno_names().find(*sc.expected_errno);
      if (it == errno_names().end()) return fail(ev.pos.line, "unknown errno name '" + *sc.expected_errno + "'");
      if (it->second == -r || (*sc.expected_errno == "EWOULDBLOCK" && -r == EAGAIN)) return true;
    }
    return fail(ev.pos.line, sc.name + "() returned -1 " + got + ", expected " + std::to_string(sc.expected_result) +
                                 (sc.expected_errno ? " " + *sc.expected_errno : "") + "\n  state:    " + state_text());
  }

  bool syscall(const Event& ev, const SyscallEvent& sc, std::int64_t t) {
    if (parked_) return fail(ev.pos.line, "a system call while a blocking call is still in progress");
    auto fd_of = [&](std::size_t i) -> std::optional<int> {
      auto v = value(sc.args.at(i));
      if (!v) return std::nullopt;
      return static_cast<int>(*v);
    };
    const std::string& n = sc.name;
    if (n == "socket") {
      if (!arg_count(ev, sc, 3, 3)) return false;
      for (std::size_t i = 0; i < 3; ++i) {
        if (sc.args[i].kind == Expr::Kind::Ellipsis) continue;
        auto v = value(sc.args[i]);
        if (!v) return false;
        if ((i == 0 && *v != AF_INET) || (i == 1 && *v != SOCK_STREAM) || (i == 2 && *v != IPPROTO_TCP && *v != 0)) {
          return fail(ev.pos.line, "only socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) is supported");
        }
      }
      const long r = be_.socket();
      last_socket_ = static_cast<int>(r);
      return check_result(ev, sc, r);
    }
    if (sc.args.empty()) return fail(ev.pos.line, "unsupported system call '" + n + "()'");
    auto fd = fd_of(0);
    if (!fd) return false;
    if (n == "bind") {
      if (!arg_count(ev, sc, 3, 3)) return false;
      local_port_ = kScriptPort;
      return check_result(ev, sc, be_.bind(*fd, kScriptPort));
    }
    if (n == "listen") {
      if (!arg_count(ev, sc, 2, 2)) return false;
      auto b = value(sc.args[1]);
      if (!b) return false;
      return check_result(ev, sc, be_.listen(*fd, static_cast<int>(*b)));
    }
    if (n == "accept" || n == "accept4") {
      if (!arg_count(ev, sc, 3, 4)) return false;
      return blocking_call(ev, sc, *fd, SockOp::Accept, t);
    }
    if (n == "connect") {
      if (!arg_count(ev, sc, 3, 3)) return false;
      active_ = true;
      conn_fd_ = *fd;
      const long r = be_.connect(*fd, kScriptPort);
      be_.remember(*fd);
      if (r == -EINPROGRESS && !be_.nonblocking(*fd)) return park(ev, sc, *fd, t);
      return check_result(ev, sc, r);
    }
    if (n == "read" || n == "recv" || n == "write" || n == "send") {
      if (!arg_count(ev, sc, 3, 4)) return false;
      return blocking_call(ev, sc, *fd, (n == "read" || n == "recv") ? SockOp::Read : SockOp::Write, t);
    }
    if (n == "shutdown") {
      if (!arg_count(ev, sc, 2, 2)) return false;
      auto how = value(sc.args[1]);
      if (!how) return false;
      return check_result(ev, sc, be_.shutdown(*fd, static_cast<int>(*how)));
    }
    if (n == "close") {
      if (!arg_count(ev, sc, 1, 1)) return false;
      return check_result(ev, sc, be_.close(*fd));
    }
    if (n == "fcntl") {
      if (!arg_count(ev, sc, 2, 3)) return false;
      auto cmd = value(sc.args[1]);
      if (!cmd) return false;
      std::int64_t arg = 0;
      if (sc.args.size() == 3) {
        auto a = value(sc.args[2]);
        if (!a) return false;
        arg = *a;
      }
      return check_result(ev, sc, be_.fcntl(*fd, static_cast<int>(*cmd), static_cast<long>(arg)));
    }
    if (n == "setsockopt" || n == "getsockopt") return sockopt(ev, sc, *fd);
    return fail(ev.pos.line, "unsupported system call '" + n + "()'");
  }

  bool sockopt(const Event& ev, const SyscallEvent& sc, int fd) {
    if (!arg_count(ev, sc, 5, 5)) return false;
    auto level = value(sc.args[1]);
    if (!level) return false;
    auto name = value(sc.args[2]);
    if (!name) return false;
    const Expr& v = sc.args[3];
    if (sc.name == "setsockopt") {
      std::array<std::byte, 16> buf{};
      std::size_t len = sizeof(int);
      if (v.kind == Expr::Kind::Struct) {
        if (*name != SO_LINGER) return fail(ev.pos.line, "struct values are supported for SO_LINGER only");
        struct linger l {};
        for (std::size_t k = 0; k < v.fields.size(); ++k) {
          auto x = value(v.items[k]);
          if (!x) return false;
          if (v.fields[k] == "l_onoff") l.l_onoff = static_cast<int>(*x);
          if (v.fields[k] == "l_linger") l.l_linger = static_cast<int>(*x);
        }
        std::memcpy(buf.data(), &l, sizeof l);
        len = sizeof l;
      } else if (v.kind == Expr::Kind::String) {  // TCP_CONGESTION, "cubic"
        len = std::min(v.name.size(), buf.size());
        std::memcpy(buf.data(), v.name.data(), len);
      } else {
        auto x = value(v);
        if (!x) return false;
        const int iv = static_cast<int>(*x);
        std::memcpy(buf.data(), &iv, sizeof iv);
      }
      return check_result(ev, sc, be_.setsockopt(fd, static_cast<int>(*level), static_cast<int>(*name),
                                                 std::span<const std::byte>(buf.data(), len)));
    }
    std::array<std::byte, 16> buf{};
    std::size_t len = 0;
    const long r = be_.getsockopt(fd, static_cast<int>(*level), static_cast<int>(*name), buf, &len);
    if (!check_result(ev, sc, r)) return false;
    if (r == 0 && v.kind == Expr::Kind::String) {
      const std::string got(reinterpret_cast<const char*>(buf.data()), len);
      if (got != v.name) return fail(ev.pos.line, "getsockopt() value is \"" + got + "\", expected \"" + v.name + "\"");
    } else if (r == 0 && v.kind != Expr::Kind::Ellipsis) {
      auto want = value(v);
      if (!want) return false;
      int got = 0;
      std::memcpy(&got, buf.data(), sizeof got);
      if (got != *want) {
        return fail(ev.pos.line, "getsockopt() value is " + std::to_string(got) + ", expected " + std::to_string(*want));
      }
    }
    return true;
  }

  // read/write/accept: complete now, or park a blocking call.
  bool blocking_call(const Event& ev, const SyscallEvent& sc, int fd, SockOp op, std::int64_t t) {
    Parked p{&ev, fd, t, t, 0};
    const long r = attempt(p);
    if (r == -EAGAIN && !be_.nonblocking(fd) && !dontwait(sc) && be_.would_block(fd, op)) return park(ev, sc, fd, t, p.done);
    return finish(ev, sc, r);
  }

  static bool dontwait(const SyscallEvent& sc) {
    if (sc.args.size() < 4 || sc.args[3].kind != Expr::Kind::Symbol) return false;
    return sc.args[3].name == "MSG_DONTWAIT";
  }

  // One try at the call; -EAGAIN means "not yet".
  long attempt(Parked& p) {
    const auto& sc = std::get<SyscallEvent>(p.ev->body);
    const std::string& n = sc.name;
    if (n == "accept" || n == "accept4") {
      const long r = be_.accept(p.fd);
      if (r >= 0) {
        conn_fd_ = static_cast<int>(r);
        be_.remember(conn_fd_);
      }
      return r;
    }
    std::int64_t count = 0;
    int flags = 0;
    if (sc.args.size() >= 3) {
      auto c = value(sc.args[2]);
      if (!c) return -EINVAL;
      count = *c;
    }
    if (sc.args.size() == 4 && sc.args[3].kind != Expr::Kind::Ellipsis) {
      auto f = value(sc.args[3]);
      if (!f) return -EINVAL;
      flags = static_cast<int>(*f);
    }
    if (n == "read" || n == "recv") {
      std::vector<std::byte> buf(static_cast<std::size_t>(std::max<std::int64_t>(count, 0)));
      return be_.read(p.fd, buf, flags);
    }
    // write/send: a blocking write completes when all bytes are queued.
    std::vector<std::byte> data(static_cast<std::size_t>(std::max<std::int64_t>(count - p.done, 0)),
                                std::byte{'x'});
    const long r = be_.write(p.fd, data, flags);
    if (r < 0) return p.done > 0 && r == -EAGAIN ? -EAGAIN : r;
    p.done += r;
    if (p.done < count && !be_.nonblocking(p.fd) && (flags & MSG_DONTWAIT) == 0) return -EAGAIN;
    return static_cast<long>(p.done);
  }

  bool finish(const Event& ev, const SyscallEvent& sc, long r) { return check_result(ev, sc, r); }

  bool park(const Event& ev, const SyscallEvent& sc, int fd, std::int64_t t, std::int64_t done = 0) {
    const std::int64_t end = sc.blocking ? (sc.end_relative ? t + sc.end_us : sc.end_us) : t;
    parked_ = Parked{&ev, fd, t, end, done};
    return true;
  }

  // Completes the parked call if the stack lets it; false only on failure.
  bool try_parked() {
    if (!parked_) return true;
    Parked& p = *parked_;
    const auto& sc = std::get<SyscallEvent>(p.ev->body);
    long r;
    if (sc.name == "connect") {
      if (be_.would_block(p.fd, SockOp::Connect)) return true;
      std::array<std::byte, 4> err{};
      std::size_t len = 0;
      (void)be_.getsockopt(p.fd, SOL_SOCKET, SO_ERROR, err, &len);
      int e = 0;
      std::memcpy(&e, err.data(), sizeof e);
      r = e == 0 ? 0 : -e;
    } else {
      r = attempt(p);
      if (r == -EAGAIN) return true;
    }
    const Event& ev = *p.ev;
    const std::int64_t at = now_us();
    const std::int64_t end = p.end_us;
    parked_.reset();
    // --linux: a call that a timer completes (connect() giving up) is as late as the
    // kernel timer, as for packets (expect_packet).
    const std::int64_t late_ok =
        opts_.linux_kernel ? std::max<std::int64_t>(end - std::max(p.start_us, last_out_us_), 0) / 8 + carry_us_ : 0;
    if (at < end - tolerance_us_ || at > end + tolerance_us_ + late_ok) {
      return fail(ev.pos.line, sc.name + "() completed at " + fmt_us(at) + ", expected at " + fmt_us(end) +
                                   (sc.blocking ? "" : " (no '...': it was expected not to block)"));
    }
    if (sc.blocking) last_us_ = std::max(last_us_, end);
    return check_result(ev, sc, r);
  }

  bool fail(int line, std::string msg) {
    if (result_.status != RunResult::Status::Fail) {
      result_.status = RunResult::Status::Fail;
      result_.line = line;
      result_.message = std::move(msg);
    }
    return false;
  }

  const Script& script_;
  RunOptions opts_;
  std::string config_error_;
  Backend& be_;
  RunResult result_;
  std::deque<Outbound> outq_;
  std::optional<Parked> parked_;
  std::optional<SeqNum> stack_isn_;
  std::optional<std::uint32_t> ts_offset_;
  std::int64_t tolerance_us_ = kDefaultToleranceUs;
  IpVersion ipv_ = IpVersion::V4;  // --ip_version
  std::int64_t last_us_ = 0;
  std::int64_t prev_us_ = 0;
  std::int64_t carry_us_ = 0;  // --linux: how late the last packet (or timer-driven state change) was  // last_us_ before the current non-packet event
  std::int64_t slack_us_ = 0;
  std::int64_t last_out_us_ = 0;  // script time of the last outbound packet  // timer slack allowed for the packet being compared
  std::uint16_t local_port_ = kScriptPort;
  bool active_ = false;
  int conn_fd_ = -1;
  int last_socket_ = -1;
  int line_ = 0;
};

}  // namespace

RunResult run_script(const Script& script, const RunOptions& opts) {
  std::string error;
  std::unique_ptr<Backend> be;
  if (opts.linux_kernel) {
    std::string skip;
    be = make_linux_backend(script, opts, error, skip);
    if (!skip.empty()) {
      RunResult r;
      r.status = RunResult::Status::Skip;
      r.message = skip;
      return r;
    }
    if (!be) {
      RunResult r;
      r.status = RunResult::Status::Fail;
      r.message = error;
      return r;
    }
  } else {
    be = make_riptide_backend(script, error);
  }
  return Runner(script, opts, *be, error).run();
}

}  // namespace riptide::pkt
