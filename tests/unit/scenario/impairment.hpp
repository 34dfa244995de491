// An impaired path between two Stacks on a virtual clock, for scenario tests that
// need a network worse than link.hpp's instant, lossless wire (tests/unit/scenario/
// impaired_test.cpp): the library's riptide::MemoryLink (lib/stack/memory_link.hpp,
// where the impairments, their order and their seeding are described) with each
// direction's Impairment, plus a ring of the last few hundred packet events, decoded,
// as a trace for failure output, and a check that nothing above the path's MTU is
// sent.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "stack/memory_link.hpp"
#include "stack/stack.hpp"
#include "wire/format.hpp"
#include "wire/ipv4.hpp"
#include "wire/tcp.hpp"

namespace riptide::scenario {

// What one direction did to the packets it was given.
using PathStats = LinkStats;

inline constexpr std::size_t kMtu = 1500;

class ImpairedLink {
 public:
  // a_to_b applies to what `a` sends, b_to_a to what `b` sends.
  ImpairedLink(Stack& a, Stack& b, Instant start, Impairment a_to_b, Impairment b_to_a,
               std::uint64_t seed, std::string a_name = "client", std::string b_name = "server")
      : link_(a, b, start, a_to_b, b_to_a, seed), start_(start), a_name_(std::move(a_name)),
        b_name_(std::move(b_name)) {
    link_.set_observer([this](const LinkPacket& p) { record(p); });
  }

  [[nodiscard]] Instant now() const noexcept { return link_.now(); }

  // stats(true): what a sent toward b.
  [[nodiscard]] const PathStats& stats(bool from_a) const noexcept { return link_.stats(from_a ? 0 : 1); }

  // Runs timers and deliveries in time order until done() holds (checked after every
  // event) or the next event lies beyond `deadline`. Returns done(). A stall (no
  // event left, or only events past the deadline) returns false without waiting.
  bool run_until(const std::function<bool()>& done, Instant deadline) {
    const bool ok = link_.run_until(done, deadline);
    if (link_.stalled()) ADD_FAILURE() << "impaired link: events did not settle";
    return ok;
  }

  // Runs every event up to `t` (inclusive); the clock ends at t.
  void run_until(Instant t) {
    link_.run_until(t);
    if (link_.stalled()) ADD_FAILURE() << "impaired link: events did not settle";
  }

  // The last `last` packet events (at most the ring's size), one per line:
  // "  +12.000 ms client > server  <tcpdump line>  [what happened]".
  [[nodiscard]] std::string trace(std::size_t last = kTraceSize) const {
    std::ostringstream out;
    const std::size_t n = std::min({last, trace_.size(), kTraceSize});
    if (trace_total_ > n) out << "  ... " << (trace_total_ - n) << " earlier packet events not shown\n";
    for (std::size_t i = trace_.size() - n; i < trace_.size(); ++i) {
      const Traced& t = trace_[i];
      char ms[32];
      std::snprintf(ms, sizeof ms, "%+10.3f", static_cast<double>((t.at - start_).count()) / 1e6);
      out << ms << " ms " << (t.from_a ? a_name_ : b_name_) << " > " << (t.from_a ? b_name_ : a_name_)
          << "  " << line_of(t) << "  [" << to_string(t.what) << "]\n";
    }
    return out.str();
  }

 private:
  static constexpr std::size_t kTraceSize = 400;

  struct Traced {
    Instant at;
    bool from_a = true;
    LinkEvent what = LinkEvent::Sent;
    bool ip = false, tcp = false;
    Ipv4Addr src, dst;
    std::uint8_t protocol = 0;
    std::size_t size = 0, payload_len = 0;
    wire::TcpHeader header;
  };

  // Decoded now, formatted only when trace() is asked for.
  void record(const LinkPacket& p) {
    // The path's MTU is 1500 (an Ethernet link): a bigger IPv4 packet would never
    // arrive on a real one, so it is a bug of the sender (e.g. SACK blocks on a
    // full-sized data segment).
    if (p.what == LinkEvent::Sent && p.bytes.size() > kMtu) {
      ADD_FAILURE() << (p.from == 0 ? "a" : "b") << " sent a " << p.bytes.size()
                    << "-byte IPv4 packet, above the MTU of " << kMtu;
    }
    ++trace_total_;
    Traced t;
    t.at = p.at;
    t.from_a = p.from == 0;
    t.what = p.what;
    t.size = p.bytes.size();
    if (auto ip = wire::Ipv4View::parse(p.bytes)) {
      t.ip = true;
      t.src = ip->src();
      t.dst = ip->dst();
      t.protocol = ip->protocol();
      if (ip->protocol() == wire::kIpProtoTcp) {
        if (auto tcp = wire::TcpView::parse(ip->payload())) {
          t.tcp = true;
          t.header = wire::header_of(*tcp);
          t.payload_len = tcp->payload().size();
        }
      }
    }
    if (trace_.size() == kTraceSize * 2) trace_.erase(trace_.begin(), trace_.begin() + kTraceSize);
    trace_.push_back(t);
  }

  static std::string line_of(const Traced& t) {
    if (t.tcp) return wire::format_tcp(t.src, t.dst, t.header, t.payload_len);
    if (t.ip) {
      return riptide::to_string(t.src) + " > " + riptide::to_string(t.dst) + ": protocol " +
             std::to_string(t.protocol);
    }
    return "unparsable IPv4 packet of " + std::to_string(t.size) + " bytes";
  }

  MemoryLink link_;
  Instant start_;
  std::string a_name_, b_name_;
  std::vector<Traced> trace_;
  std::uint64_t trace_total_ = 0;
};

}  // namespace riptide::scenario
