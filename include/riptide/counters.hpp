/// \file
/// Per-core counters: one named slot per event or drop reason (FreeBSD tcp_input.c
/// style: every drop has a name). Written only by the owning core; read by telemetry
/// without locks (a torn read of a 64-bit counter is impossible on x86-64).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace riptide {

// X(name, description)
#define RIPTIDE_COUNTERS(X)                                                              \
  X(l2_in, "Ethernet frames received")                                                   \
  X(l2_out, "Ethernet frames sent")                                                      \
  X(l2_drop_malformed, "Ethernet header failed to parse")                                 \
  X(l2_drop_not_ours, "frames for another MAC address")                                   \
  X(l2_drop_ethertype, "EtherType other than IPv4/ARP (IPv6, VLAN, ...)")                 \
  X(arp_request_in, "ARP requests for one of our addresses")                             \
  X(arp_reply_in, "ARP replies (and gratuitous ARPs) learned")                            \
  X(arp_request_out, "ARP requests sent")                                                 \
  X(arp_reply_out, "ARP replies sent")                                                    \
  X(arp_drop_malformed, "ARP packet failed to parse")                                     \
  X(arp_drop_not_ours, "ARP requests for other addresses")                                \
  X(arp_pending_full, "packets dropped: too many waiting for ARP")                        \
  X(arp_unresolved, "packets dropped: next hop never answered ARP")                       \
  X(route_no_route, "packets dropped: no route to the destination")                       \
  X(icmp6_in, "ICMPv6 messages for us")                                                       \
  X(icmp6_drop_not_joined, "ICMPv6 to a multicast group we did not join (RFC 4291 2.8)")       \
  X(icmp6_drop_malformed, "ICMPv6 message shorter than its header")                           \
  X(icmp6_drop_checksum, "ICMPv6 checksum wrong (RFC 4443 2.3)")                              \
  X(icmp6_drop_type, "ICMPv6 informational type we do not handle (RFC 4443 2.4(b))")          \
  X(icmp6_echo_in, "ICMPv6 Echo Requests answered")                                           \
  X(icmp6_error_in, "ICMPv6 error messages received")                                         \
  X(icmp6_error_out, "ICMPv6 error messages sent")                                            \
  X(icmp6_error_rate_limited, "ICMPv6 errors not sent: the rate limit (RFC 4443 2.4(f))")     \
  X(icmp6_error_suppressed, "ICMPv6 errors not sent: RFC 4443 2.4(e) forbids one")            \
  X(icmp6_ptb_in, "ICMPv6 Packet Too Big received")                                            \
  X(pmtu_lowered, "path MTU estimates lowered by a Packet Too Big (RFC 8201)")                \
  X(pmtu_drop_below_min, "Packet Too Big under 1280 discarded (RFC 8201 4)")                  \
  X(pmtu_drop_invalid, "Packet Too Big whose invoking packet is not ours")                    \
  X(nd_ns_in, "Neighbor Solicitations for our addresses answered")                             \
  X(nd_na_in, "Neighbor Advertisements accepted")                                              \
  X(nd_ns_out, "Neighbor Solicitations sent")                                                  \
  X(nd_na_out, "Neighbor Advertisements sent (solicited and unsolicited)")                     \
  X(nd_drop_malformed, "ND message failed to parse (length, option length 0, RFC 4861 4.6)")  \
  X(nd_drop_hop_limit, "ND message with hop limit other than 255 (RFC 4861 7.1)")            \
  X(nd_drop_code, "ND message with ICMP code other than 0 (RFC 4861 7.1)")                   \
  X(nd_drop_target_multicast, "NS/NA whose target is a multicast address (RFC 4861 7.1)")    \
  X(nd_drop_unspecified_src, "NS from :: with an SLLA or not to a solicited-node group (RFC 4861 7.1.1)") \
  X(nd_drop_solicited_multicast, "NA to a multicast address with Solicited set (RFC 4861 7.1.2)") \
  X(nd_drop_not_ours, "NS for a target that is not our address")                               \
  X(nd_na_no_entry, "NAs ignored: no cache entry, or no address to learn (RFC 4861 7.2.5)")  \
  X(nd_router_ignored, "RS, RA and Redirect ignored (a host with a configured address)")      \
  X(nd_dad_conflict, "Duplicate Address Detection found our address in use (RFC 4862 5.4)")  \
  X(nd_pending_full, "packets dropped: too many waiting for Neighbor Discovery")             \
  X(nd_unresolved, "packets dropped: next hop never answered Neighbor Discovery")            \
  X(nd_probe_failed, "neighbours deleted: PROBE unanswered (RFC 4861 7.3.3)")                 \
  X(steer_forwarded, "frames passed to their owner core (software steering)")             \
  X(steer_received, "frames received from another core's mailbox")                        \
  X(steer_drop_mailbox_full, "frames dropped: the owner core's mailbox was full")           \
  X(ip_in, "IPv4 packets handed to the stack")                                           \
  X(ip_drop_malformed, "IPv4 header failed to parse")                                     \
  X(ip_drop_checksum, "IPv4 header checksum wrong")                                       \
  X(ip_drop_not_ours, "IPv4 destination is not a local address")                          \
  X(ip_drop_fragment, "IPv4 fragments (not reassembled)")                                 \
  X(ip_drop_protocol, "IPv4 protocol other than TCP/ICMP")                                 \
  X(ip6_in, "IPv6 packets handed to the stack")                                          \
  X(ip6_drop_malformed, "IPv6 header failed to parse (RFC 8200 3)")                         \
  X(ip6_drop_bad_address, "IPv6 source multicast or IPv4-mapped, destination IPv4-mapped")   \
  X(ip6_drop_not_ours, "IPv6 destination is not a local address")                          \
  X(ip6_drop_ext_header, "IPv6 extension header malformed or its option says discard")     \
  X(ip6_drop_no_next_header, "IPv6 Next Header 59: nothing follows (RFC 8200 4.7)")         \
  X(ip6_drop_fragment, "IPv6 fragments (not reassembled, RFC 8200 4.5)")                     \
  X(ip6_drop_param_problem, "IPv6 dropped with a Parameter Problem (RFC 8200 4)")            \
  X(ip6_drop_protocol, "IPv6 upper layer other than TCP/ICMPv6 (Parameter Problem code 1)")  \
  X(ip6_drop_icmpv6, "ICMPv6 messages with no ICMPv6 handler installed")                   \
  X(tcp_in, "TCP segments parsed")                                                        \
  X(tcp_out, "TCP segments sent")                                                         \
  X(tcp_drop_malformed, "TCP header failed to parse")                                     \
  X(tcp_drop_checksum, "TCP checksum wrong")                                              \
  X(tcp_drop_bad_port, "TCP source or destination port 0")                                \
  X(tcp_drop_broadcast, "TCP to or from a broadcast or multicast address")                 \
  X(tcp_drop_unacceptable, "segment outside the receive window (ACK sent)")               \
  X(tcp_drop_bad_ack, "ACK acknowledges nothing we sent")                                 \
  X(tcp_drop_old_ack, "ACK older than the acceptable range (RFC 5961 5.2)")               \
  X(tcp_drop_syn_sent, "segment dropped in SYN-SENT")                                     \
  X(tcp_drop_listen, "segment dropped by a listener")                                     \
  X(tcp_drop_no_ack, "segment without ACK in a synchronized state")                       \
  X(tcp_drop_time_wait, "segment ignored in TIME-WAIT")                                   \
  X(tcp_out_of_order, "out-of-order segments queued for reassembly")                       \
  X(tcp_drop_out_of_order, "out-of-order data dropped: reassembly queue or memory full")     \
  X(tcp_dsack_sent, "duplicate segments reported with D-SACK (RFC 2883)")                   \
  X(tcp_drop_after_close, "data for a closed application (RST sent)")                     \
  X(tcp_drop_no_memory, "no connection record free")                                      \
  X(tcp_drop_rst_in_time_wait, "RST ignored in TIME-WAIT (RFC 1337)")                     \
  X(tcp_rst_sent, "RSTs sent")                                                            \
  X(tcp_rst_received, "RSTs that reset a connection")                                     \
  X(icmp_error_in, "ICMP (IPv4) errors received: Destination Unreachable, Time Exceeded, Parameter Problem") \
  X(tcp_icmp_in, "ICMP/ICMPv6 errors quoting a segment of a connection (RFC 9293 3.9.2.2)") \
  X(tcp_icmp_drop_no_conn, "ICMP errors quoting a tuple with no connection")               \
  X(tcp_icmp_drop_out_of_window, "ICMP errors quoting a sequence number not in flight (RFC 5927 4.1)") \
  X(tcp_icmp_drop_malformed, "ICMP errors quoting too little of a TCP segment of ours")     \
  X(tcp_icmp_aborted, "opening connections ended by an ICMP hard error")                    \
  X(tcp_icmp_soft, "ICMP soft errors (and hard ones in synchronized states) noted, no abort") \
  X(tcp_pmtu_drop_fits, "too-big errors quoting a packet that fit the MTU they report (ignored)") \
  X(tcp_pmtu_mss_lowered, "connections whose send MSS a Packet Too Big lowered (RFC 8201 5.4)") \
  X(tcp_rst_no_connection, "RSTs sent for segments to no connection")                     \
  X(tcp_challenge_ack, "challenge ACKs sent (RFC 5961)")                                  \
  X(tcp_challenge_ack_limited, "challenge ACKs suppressed by the rate limit")             \
  X(tcp_syn_queue_full, "SYNs that found the SYN queue full")                             \
  X(tcp_syn_cookie_pressure, "SYNs answered with a cookie: connection records scarce")     \
  X(tcp_syn_shed_overload, "SYNs answered with a cookie only: the worker was behind")      \
  X(rx_syn_deferred, "SYNs moved behind established traffic in a full receive burst")     \
  X(tcp_accept_queue_full, "handshakes dropped: accept queue full")                      \
  X(tcp_cookie_sent, "SYN cookies sent")                                                   \
  X(tcp_cookie_accepted, "connections made from a valid cookie")                          \
  X(tcp_cookie_rejected, "ACKs with a stale or forged cookie")                            \
  X(tcp_cookie_no_record, "good cookie ACKs that found no record free (tcp.cookie_no_record)") \
  X(tcp_passive_open, "connections accepted")                                             \
  X(tcp_active_open, "connections opened")                                                \
  X(tcp_conn_closed, "opened connections that ended (record released; TIME-WAIT aside)")  \
  X(tcp_connect_timeout, "active opens that timed out")                                   \
  X(tcp_retransmit_timeout, "retransmission timeouts")                                    \
  X(tcp_retransmit_segment, "segments retransmitted")                                     \
  X(tcp_dup_ack, "duplicate ACKs received (RFC 5681 2)")                                   \
  X(tcp_header_predicted, "segments taken by header prediction (the ESTABLISHED fast path)") \
  X(tcp_fast_retransmit, "fast retransmits after three duplicate ACKs (RFC 5681 3.2)")     \
  X(tcp_recovery_partial_ack, "partial ACKs in NewReno recovery (RFC 6582)")               \
  X(tcp_sack_skipped, "resends that skipped data the peer had SACKed")                     \
  X(tcp_sack_recovery, "loss recoveries driven by SACK (RFC 6675)")                        \
  X(tcp_sack_retransmit, "segments retransmitted by SACK recovery (RFC 6675 NextSeg)")     \
  X(tcp_tail_loss_probe, "tail loss probes sent (RFC 8985 7)")                              \
  X(tcp_connection_timeout, "connections dropped after too many retransmissions")          \
  X(tcp_synack_pressure_timeout, "of those: half-open entries given up early, records scarce") \
  X(tcp_time_wait_entered, "connections that entered TIME-WAIT")                          \
  X(tcp_zero_window_probe, "zero-window probes sent (persist timer)")                       \
  X(tcp_keepalive_probe, "keep-alive probes sent (RFC 1122 4.2.3.6)")                      \
  X(tcp_delayed_ack, "ACKs sent by the delayed-ACK timer")                                  \
  X(tcp_keepalive_timeout, "connections dropped: keep-alive probes unanswered")             \
  X(tcp_time_wait_reused, "TIME-WAIT records reused by a new SYN (RFC 6191)")             \
  X(tcp_time_wait_full, "connections closed without TIME-WAIT (limits.max_time_wait = 0)") \
  X(tcp_time_wait_recycled, "TIME-WAIT records ended early: the table was full, the oldest went") \
  X(tcp_paws_rejected, "segments rejected by PAWS (RFC 7323 5)")                          \
  X(tcp_send_no_chunks, "send() took less than offered: the send-chunk pool was empty")   \
  X(tcp_connect_no_ports, "connect() found no free ephemeral port (NoPorts)")             \
  X(tx_queue_full, "packets dropped: transmit queue full")                                 \
  X(tx_dropped_detach, "packets dropped: queued in host buffers when the host took them back") \
  X(tx_no_mbuf, "frames dropped: no transmit mbuf (the mempool is empty)")

enum class Counter : std::uint16_t {
#define RIPTIDE_COUNTER_ENUM(name, desc) name,
  RIPTIDE_COUNTERS(RIPTIDE_COUNTER_ENUM)
#undef RIPTIDE_COUNTER_ENUM
      kCount
};

inline constexpr std::size_t kCounterCount = static_cast<std::size_t>(Counter::kCount);

[[nodiscard]] std::string_view counter_name(Counter c) noexcept;
[[nodiscard]] std::string_view counter_description(Counter c) noexcept;

/// The counters that say a sized resource ran out or is running out (records,
/// TIME-WAIT, queues, mbufs, mailboxes, rate limits): README "Limits and what
/// happens at each" lists what each means.
inline constexpr Counter kLimitCounters[] = {
    Counter::tcp_syn_cookie_pressure, Counter::tcp_synack_pressure_timeout, Counter::tcp_drop_no_memory,
    Counter::tcp_cookie_no_record,    Counter::tcp_time_wait_recycled,      Counter::tcp_time_wait_full,
    Counter::tcp_syn_queue_full,      Counter::tcp_accept_queue_full,       Counter::tcp_drop_out_of_order,
    Counter::tx_queue_full,           Counter::arp_pending_full,            Counter::steer_drop_mailbox_full,
    Counter::tcp_challenge_ack_limited, Counter::tcp_syn_shed_overload,   Counter::tcp_send_no_chunks,
    Counter::tcp_connect_no_ports,      Counter::tx_no_mbuf,            Counter::rx_syn_deferred,
    Counter::nd_pending_full,           Counter::icmp6_error_rate_limited,
};

struct Counters {
  std::array<std::uint64_t, kCounterCount> values{};

  void inc(Counter c, std::uint64_t n = 1) noexcept { values[static_cast<std::size_t>(c)] += n; }
  [[nodiscard]] std::uint64_t operator[](Counter c) const noexcept {
    return values[static_cast<std::size_t>(c)];
  }
};

/// "name=N name=N" for each limit counter that grew from `before` to `now`, in
/// kLimitCounters order; "" when none did. For status lines (control path).
[[nodiscard]] std::string limits_hit(const Counters& now, const Counters& before);

}  // namespace riptide
