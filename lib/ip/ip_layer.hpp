/// \file
/// IpLayer: IPv4 (RFC 791) and IPv6 (RFC 8200) input and output for one Stack, and
/// ICMP echo (RFC 792). The Stack hands it every received IP packet; it checks the
/// header, answers what is IP's own (ICMP echo; ICMPv6 goes to the hooks below),
/// drops and counts what is not for us, and hands TCP up as a Transport. For
/// output it writes the IP header of either family in front of a transport
/// segment built in place in a TxQueue slot.
///
/// The ICMPv6 side (RFC 4443 messages, Neighbor Discovery, PMTU) is not here: an
/// Icmpv6Hooks set by its owner receives ICMPv6 messages and the RFC 8200 4
/// Parameter Problems this layer decides to send. Without hooks, ICMPv6 is counted
/// (ip6_drop_icmpv6) and Parameter Problems are only counted.
///
/// Not done (docs/rfc-compliance.md, RFC 8200): fragment reassembly (fragments
/// are counted drops; TCP's MSS keeps peers from fragmenting), jumbograms, IPv6
/// options other than padding, Routing headers with segments left.
///
/// Thread-safety: none; the layer belongs to its Stack's core.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/byte_order.hpp"
#include "common/counters.hpp"
#include "common/ip_addr.hpp"
#include "common/rx_checksum.hpp"
#include "ip/tx_queue.hpp"
#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"

namespace riptide::ip {

struct IpConfig {
  std::vector<Ipv4Addr> v4;  ///< local IPv4 addresses
  std::vector<IpAddr> v6;    ///< local IPv6 addresses (global and link-local)
  std::uint8_t ttl = 64;     ///< IPv4 TTL of what we send (RFC 1122 3.2.1.7)
  std::uint8_t hop_limit = 64;  ///< IPv6 Hop Limit of what we send (RFC 8200 3)
};

/// A TCP segment for a local address, found by IpLayer::input_v4() or input_v6()
/// (StackEngine::input picks one by the version nibble). The addresses
/// are written straight into the flow key the TCP demux looks up (local = the
/// packet's destination); its ports are TCP's to fill.
struct Transport {
  FlowKey key;
  bool v4 = true;
  std::span<const std::byte> segment;
};

/// What an ICMP or ICMPv6 error means for the transport whose packet it quotes
/// (RFC 9293 3.9.2.2): the Stack's icmp_error() acts on it.
struct IcmpError {
  enum class Kind : std::uint8_t {
    Soft,          ///< never aborts a connection (RFC 9293 MUST-56)
    Hard,          ///< ends a connection still opening (SHLD-26, read as RFC 5461 4 does)
    PortUnreachable,  ///< hard, and reported as a refusal (Linux: ECONNREFUSED)
    PacketTooBig,  ///< RFC 8201 (ICMPv6) / RFC 1191 (ICMP code 4): `mtu` is the path MTU now
  };
  Kind kind = Kind::Soft;
  std::uint32_t mtu = 0;
  bool v6 = false;  ///< carried by ICMPv6: the quote must be an IPv6 packet (and ICMP's IPv4)
};
/// The smallest IPv4 path MTU taken from a "fragmentation needed" (Linux's
/// min_pmtu, 552): a forged error must not shrink segments to a few bytes
/// (RFC 5927 7.1). RFC 1191 itself allows down to 68.
inline constexpr std::uint32_t kMinPathMtu4 = 552;
/// An ICMP (IPv4) error: Destination Unreachable codes 2 and 3 are hard (RFC 9293
/// 3.9.2.2), code 4 is fragmentation needed (RFC 1191 4: the next-hop MTU in the
/// low 16 bits of `word`; 0 from an old router: the RFC 1191 5 plateau below the
/// quoted packet's length), every other code, Time Exceeded and Parameter Problem
/// soft. `quoted` is the packet the error quotes.
[[nodiscard]] IcmpError classify_icmp_error(std::uint8_t type, std::uint8_t code, std::uint32_t word,
                                            std::span<const std::byte> quoted) noexcept;
/// An ICMPv6 error (RFC 4443; Packet Too Big is the Interface's PMTU cache's).
[[nodiscard]] IcmpError classify_icmpv6_error(std::uint8_t type, std::uint8_t code) noexcept;

/// The ICMPv6 side's entry points (RFC 4443, RFC 4861). Called on the owning core,
/// from inside Stack::input(); `ctx` is the owner's.
struct Icmpv6Hooks {
  /// An ICMPv6 message whose IPv6 destination is ours (a local address, or a
  /// multicast group: which groups we joined is the hook's question). `message`
  /// starts at the ICMPv6 header (extension headers skipped); the checksum is not
  /// checked yet (wire::pseudo_header_sum_v6 / RFC 4443 2.3 is the hook's).
  void (*input)(void* ctx, const wire::Ipv6View& ip, std::span<const std::byte> message) = nullptr;
  /// RFC 8200 4: send ICMPv6 Parameter Problem (RFC 4443 3.4) with `code` and
  /// `pointer` about `ip` (rate limiting and the RFC 4443 2.4 (e) exceptions are
  /// the hook's). The packet is already counted as dropped.
  void (*parameter_problem)(void* ctx, const wire::Ipv6View& ip, std::uint8_t code,
                            std::uint32_t pointer) = nullptr;
  void* ctx = nullptr;
};

class IpLayer {
 public:
  IpLayer(IpConfig cfg, Counters& counters, TxQueue& tx);

  /// A received IPv4 packet (EtherType 0x0800; any other version is malformed
  /// IPv4, ip_drop_malformed). True with *out filled when it carries TCP for a
  /// local address; otherwise it was IP's own business (ICMP), or dropped and
  /// counted.
  /// Inline: it is every IPv4 packet's path (RFC 791, RFC 1122 3.2.1).
  bool input_v4(std::span<const std::byte> packet, RxChecksum rx, Transport& out) noexcept {
    counters_.inc(Counter::ip_in);
    auto ip = wire::Ipv4View::parse(packet);
    if (!ip) {
      counters_.inc(Counter::ip_drop_malformed);
      return false;
    }
    if (rx.ip == RxChecksum::Verdict::Bad || (rx.ip == RxChecksum::Verdict::Unknown && !ip->checksum_valid())) {
      counters_.inc(Counter::ip_drop_checksum);
      return false;
    }
    // The first local address answers nearly every packet without a call or a
    // walk over the list.
    const Ipv4Addr dst = ip->dst();
    if (cfg_.v4.empty() || (dst != cfg_.v4.front() && !is_local_v4(dst))) {
      counters_.inc(Counter::ip_drop_not_ours);
      return false;
    }
    if (ip->is_fragment()) {
      // DEVIATION(RFC 791 3.2): no reassembly; TCP peers honour our MSS, so
      // fragments are counted and dropped.
      counters_.inc(Counter::ip_drop_fragment);
      return false;
    }
    if (ip->protocol() == wire::kIpProtoTcp) {
      out.key.local_addr = IpAddr{dst};
      out.key.remote_addr = IpAddr{ip->src()};
      out.v4 = true;
      out.segment = ip->payload();
      return true;
    }
    if (ip->protocol() == wire::kIpProtoIcmp) {
      icmp_input(ip->src(), dst, ip->payload());
    } else {
      counters_.inc(Counter::ip_drop_protocol);
    }
    return false;
  }
  /// The same for a packet known to be IPv6 (EtherType 0x86DD).
  bool input_v6(std::span<const std::byte> packet, RxChecksum rx, Transport& out) noexcept;

  [[nodiscard]] bool is_local(const IpAddr& a) const noexcept;
  [[nodiscard]] bool is_local_v4(Ipv4Addr a) const noexcept;
  [[nodiscard]] bool is_local_v6(const IpAddr& a) const noexcept;
  /// The source address for a destination (RFC 6724 5, reduced to what a host with
  /// a few addresses on one link needs): IPv4: the first local IPv4 address.
  /// IPv6: for a link-local destination, the first link-local address (rule 2,
  /// scope); otherwise the first global one, or a link-local one if that is all
  /// we have. Unspecified (`::`) when there is none of the family.
  [[nodiscard]] IpAddr select_source(const IpAddr& dst) const noexcept;

  /// The IP header length output uses for a flow: 20 (IPv4) or 40 (IPv6).
  [[nodiscard]] static constexpr std::size_t header_length(bool v4) noexcept {
    return v4 ? wire::kIpv4MinHeaderLen : wire::kIpv6HeaderLen;
  }
  /// Writes the IPv4 or IPv6 header (by the family of src) for an upper-layer
  /// payload of `payload_len` bytes that follows it; `out` starts at the header.
  void write_header(std::span<std::byte> out, const IpAddr& src, const IpAddr& dst, std::uint8_t protocol,
                    std::size_t payload_len) noexcept {
    if (src.is_v4()) {
      write_ipv4(out, src.v4(), dst.v4(), protocol, payload_len);
    } else {
      write_ipv6(out, src, dst, protocol, payload_len);
    }
  }
  /// The 20-byte IPv4 header (RFC 791 3.1: no options, DF set, our TTL and the
  /// next identification), as wire::write_ipv4_header writes it (unit-tested
  /// against it) but summed from the field values as they are stored, not read
  /// back: every IPv4 packet riptide sends passes here. `addr_sum`: the sum of the
  /// addresses' 16-bit halves, which the TCP pseudo header reuses.
  void write_ipv4(std::span<std::byte> out, Ipv4Addr src, Ipv4Addr dst, std::uint8_t protocol,
                  std::size_t payload_len) noexcept {
    write_ipv4(out, src, dst, protocol, payload_len, ipv4_address_sum(src, dst));
  }
  void write_ipv4(std::span<std::byte> out, Ipv4Addr src, Ipv4Addr dst, std::uint8_t protocol,
                  std::size_t payload_len, std::uint32_t addr_sum) noexcept {
    std::byte* p = out.data();
    const auto total = static_cast<std::uint32_t>(wire::kIpv4MinHeaderLen + payload_len);
    const std::uint16_t id = ip_id_++;
    const std::uint32_t w0 = 0x45000000u | total;               // version, IHL, TOS 0, length
    const std::uint32_t w1 = (std::uint32_t{id} << 16) | 0x4000u;  // identification, DF
    const std::uint32_t w2 = (std::uint32_t{cfg_.ttl} << 24) | (std::uint32_t{protocol} << 16);
    std::uint32_t sum = (w0 >> 16) + (w0 & 0xFFFFu) + (w1 >> 16) + (w1 & 0xFFFFu) + (w2 >> 16) + addr_sum;
    sum = (sum & 0xFFFFu) + (sum >> 16);
    sum = (sum & 0xFFFFu) + (sum >> 16);
    store_be32(p, w0);
    store_be32(p + 4, w1);
    store_be32(p + 8, w2 | static_cast<std::uint16_t>(~sum));
    store_be32(p + 12, src.value);
    store_be32(p + 16, dst.value);
  }
  [[nodiscard]] static constexpr std::uint32_t ipv4_address_sum(Ipv4Addr src, Ipv4Addr dst) noexcept {
    return (src.value >> 16) + (src.value & 0xFFFFu) + (dst.value >> 16) + (dst.value & 0xFFFFu);
  }
  /// The 40-byte IPv6 header (RFC 8200 3: no extension headers of our own, flow
  /// label 0, our hop limit).
  void write_ipv6(std::span<std::byte> out, const IpAddr& src, const IpAddr& dst, std::uint8_t next_header,
                  std::size_t payload_len) noexcept;

  void set_icmpv6_hooks(const Icmpv6Hooks& h) noexcept { hooks_ = h; }
  /// Where ICMP (IPv4) errors go, classified (RFC 9293 3.9.2.2, MUST-54): the
  /// Stack's icmp_error. `quoted` lives during the call. Unset: counted only.
  using IcmpErrorSink = void (*)(void* ctx, IcmpError e, std::span<const std::byte> quoted);
  void set_icmp_error_sink(IcmpErrorSink f, void* ctx) noexcept {
    error_sink_ = f;
    error_sink_ctx_ = ctx;
  }
  [[nodiscard]] const IpConfig& config() const noexcept { return cfg_; }

 private:
  void icmp_input(Ipv4Addr src, Ipv4Addr dst, std::span<const std::byte> message) noexcept;
  void parameter_problem(const wire::Ipv6View& ip, std::uint8_t code, std::uint32_t pointer) noexcept;

  IpConfig cfg_;
  Counters& counters_;
  TxQueue& tx_;
  Icmpv6Hooks hooks_{};
  IcmpErrorSink error_sink_ = nullptr;
  void* error_sink_ctx_ = nullptr;
  std::uint16_t ip_id_ = 0;
};

}  // namespace riptide::ip
