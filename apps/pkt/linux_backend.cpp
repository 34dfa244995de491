// riptide-pkt --linux: the Linux kernel as the stack under test (docs/pkt.md,
// "riptide-pkt --linux"). packetdrill's own design: a tun device in the test's
// network, real kernel sockets for the system calls, real time.
#include "linux_backend.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <vector>

#include "wire/ipv4.hpp"
#include "wire/ipv6.hpp"

namespace riptide::pkt {

namespace {

constexpr const char* kTunName = "rtpkt0";
constexpr int kHighFd = 200;  // below riptide-pkt's result pipe (300)  // where our own fds go, so the script's sockets are 3, 4, ...

// --- set-up helpers -----------------------------------------------------------------------------

std::string write_file(const std::string& path, const std::string& value) {
  std::ofstream f(path);
  if (!f) return "cannot open " + path + ": " + std::strerror(errno);
  f << value << '\n';
  f.flush();
  if (!f) return "cannot write " + value + " to " + path + ": " + std::strerror(errno);
  return {};
}

std::string sysctl(const std::string& name, const std::string& value) {
  return write_file("/proc/sys/net/ipv4/" + name, value);
}

// SIOCSIF* on a throwaway datagram socket (no iproute2 needed).
std::string ifreq_call(unsigned long req, ifreq& ifr, const char* what) {
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return std::string("socket: ") + std::strerror(errno);
  const int r = ::ioctl(s, req, &ifr);
  const int e = errno;
  ::close(s);
  return r < 0 ? std::string(what) + " on " + ifr.ifr_name + ": " + std::strerror(e) : std::string{};
}

std::string link_up(const char* name) {
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  if (auto e = ifreq_call(SIOCGIFFLAGS, ifr, "SIOCGIFFLAGS"); !e.empty()) return e;
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  return ifreq_call(SIOCSIFFLAGS, ifr, "SIOCSIFFLAGS");
}

std::string set_addr(const char* name, unsigned long req, Ipv4Addr a, const char* what) {
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(a.value);
  std::memcpy(&ifr.ifr_addr, &sin, sizeof sin);
  return ifreq_call(req, ifr, what);
}

std::string set_mtu(const char* name, int mtu) {
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  ifr.ifr_mtu = mtu;
  return ifreq_call(SIOCSIFMTU, ifr, "SIOCSIFMTU");
}

// --- IPv6 set-up (--ip_version=ipv6) ------------------------------------------------------------

std::string sysctl6(const std::string& name, const std::string& value) {
  return write_file("/proc/sys/net/ipv6/" + name, value);
}

// One rtnetlink request; the answer's bytes (an RTM_NEW* message, or an NLMSG_ERROR
// whose error is 0 for an acknowledged change) in `reply`. Empty on success.
std::string rtnl_call(const void* req, std::size_t len, std::vector<char>& reply) {
  const int nl = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (nl < 0) return std::string("socket(NETLINK_ROUTE): ") + std::strerror(errno);
  std::string err;
  if (::send(nl, req, len, 0) != static_cast<ssize_t>(len)) {
    err = std::string("rtnetlink send: ") + std::strerror(errno);
  } else {
    reply.assign(16384, 0);
    const ssize_t n = ::recv(nl, reply.data(), reply.size(), 0);
    if (n < static_cast<ssize_t>(sizeof(nlmsghdr))) err = std::string("rtnetlink recv: ") + std::strerror(errno);
    else reply.resize(static_cast<std::size_t>(n));
  }
  ::close(nl);
  return err;
}

// A request the kernel acknowledges (NLM_F_ACK): "" with *error the kernel's answer
// (0: done, else a negative errno), or what went wrong with the exchange itself.
std::string rtnl_ack(const void* req, std::size_t len, const char* what, int& error) {
  std::vector<char> reply;
  if (auto e = rtnl_call(req, len, reply); !e.empty()) return e;
  const auto* h = reinterpret_cast<const nlmsghdr*>(reply.data());
  if (h->nlmsg_type != NLMSG_ERROR) return std::string(what) + ": unexpected answer";
  error = static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
  return {};
}

// Appends an attribute; the caller's buffer has room for it.
void add_attr(nlmsghdr& h, unsigned short type, const void* data, std::size_t len) {
  auto* a = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(&h) + NLMSG_ALIGN(h.nlmsg_len));
  a->rta_type = type;
  a->rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
  std::memcpy(RTA_DATA(a), data, len);
  h.nlmsg_len = static_cast<std::uint32_t>(NLMSG_ALIGN(h.nlmsg_len) + RTA_ALIGN(a->rta_len));
}

// `ip -6 addr add ADDR/64 dev IF nodad`: no Duplicate Address Detection, so the
// address is never "tentative" (a tentative address is neither a source nor a
// destination for a second or so). The kernel adds the /64 prefix route through
// the device at once.
std::string add_addr6(int ifindex, const IpAddr& a, int prefix_len) {
  struct {
    nlmsghdr h;
    ifaddrmsg ifa;
    char attrs[128];
  } req{};
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
  req.h.nlmsg_type = RTM_NEWADDR;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
  req.ifa.ifa_family = AF_INET6;
  req.ifa.ifa_prefixlen = static_cast<unsigned char>(prefix_len);
  req.ifa.ifa_flags = IFA_F_NODAD;
  req.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  req.ifa.ifa_index = static_cast<unsigned>(ifindex);
  add_attr(req.h, IFA_LOCAL, a.bytes.data(), 16);
  add_attr(req.h, IFA_ADDRESS, a.bytes.data(), 16);
  const std::uint32_t flags = IFA_F_NODAD;
  add_attr(req.h, IFA_FLAGS, &flags, sizeof flags);
  int e = 0;
  if (auto f = rtnl_ack(&req, req.h.nlmsg_len, "RTM_NEWADDR", e); !f.empty()) return f;
  return e == 0 ? std::string{} : std::string("RTM_NEWADDR ") + to_string(a) + ": " + std::strerror(-e);
}

// `ip -6 route add local ADDR dev IF table local proto kernel`: the route the
// kernel's addrconf work item inserts for an address of its own (what makes it
// local). An identical route already there (EEXIST) is success.
// An rtnetlink route message about one IPv6 address (/128), attributes to follow.
struct RouteRequest6 {
  nlmsghdr h;
  rtmsg rt;
  char attrs[64];
};
RouteRequest6 route_request6(unsigned short type, unsigned short flags, const IpAddr& dst) {
  RouteRequest6 req{};
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg));
  req.h.nlmsg_type = type;
  req.h.nlmsg_flags = flags;
  req.rt.rtm_family = AF_INET6;
  req.rt.rtm_dst_len = 128;
  add_attr(req.h, RTA_DST, dst.bytes.data(), 16);
  return req;
}

std::string add_local_route6(int ifindex, const IpAddr& a) {
  RouteRequest6 req = route_request6(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE, a);
  req.rt.rtm_table = RT_TABLE_LOCAL;
  req.rt.rtm_protocol = RTPROT_KERNEL;
  req.rt.rtm_scope = RT_SCOPE_HOST;
  req.rt.rtm_type = RTN_LOCAL;
  const std::uint32_t oif = static_cast<std::uint32_t>(ifindex);
  add_attr(req.h, RTA_OIF, &oif, sizeof oif);
  int e = 0;
  if (auto f = rtnl_ack(&req, req.h.nlmsg_len, "RTM_NEWROUTE", e); !f.empty()) return f;
  return e == 0 || e == -EEXIST ? std::string{} : std::string("RTM_NEWROUTE local ") + to_string(a) + ": " + std::strerror(-e);
}

// `ip -6 route get ADDR`: the route's type (RTN_LOCAL, RTN_UNICAST, ...), its
// output interface and preferred source, or the error.
struct Route6 {
  int type = -1;
  int oif = 0;
  std::optional<IpAddr> prefsrc;
  std::string error;
};
Route6 route_get6(const IpAddr& dst) {
  RouteRequest6 req = route_request6(RTM_GETROUTE, NLM_F_REQUEST, dst);
  Route6 r;
  std::vector<char> reply;
  if (auto e = rtnl_call(&req, req.h.nlmsg_len, reply); !e.empty()) {
    r.error = e;
    return r;
  }
  const auto* h = reinterpret_cast<const nlmsghdr*>(reply.data());
  if (h->nlmsg_type == NLMSG_ERROR) {
    r.error = std::strerror(-static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error);
    return r;
  }
  if (h->nlmsg_type != RTM_NEWROUTE) {
    r.error = "unexpected answer";
    return r;
  }
  const auto* rt = static_cast<const rtmsg*>(NLMSG_DATA(h));
  r.type = rt->rtm_type;
  int left = static_cast<int>(RTM_PAYLOAD(h));
  for (const auto* a = RTM_RTA(rt); RTA_OK(a, left); a = RTA_NEXT(a, left)) {
    if (a->rta_type == RTA_OIF) std::memcpy(&r.oif, RTA_DATA(a), sizeof r.oif);
    if (a->rta_type == RTA_PREFSRC && RTA_PAYLOAD(a) == 16) {
      r.prefsrc = IpAddr::from_bytes(static_cast<const std::byte*>(RTA_DATA(a)));
    }
  }
  return r;
}

// Our own fds move above the script's range: the kernel then numbers the script's
// sockets 3, 4, ... as packetdrill scripts expect.
int move_high(int fd) {
  const int h = ::fcntl(fd, F_DUPFD_CLOEXEC, kHighFd);
  ::close(fd);
  return h;
}

// --- knobs -------------------------------------------------------------------------------------

// What the script's `--riptide.KNOB=VALUE` lines and riptide's defaults mean for the
// kernel: sysctls to write in the namespace, the tun's MTU, or "not applicable".
struct LinuxConfig {
  std::vector<std::pair<std::string, std::string>> sysctls;
  int mtu = 1500;
  bool nodelay = false;  // TCP_NODELAY on every socket (Linux has no sysctl for it)
  bool v6 = false;       // --ip_version=ipv6: the tun holds 2001:db8::1/64, sockets are AF_INET6
  std::string not_applicable;  // the reason, when the script cannot run on Linux
  std::string error;
};

LinuxConfig linux_config(const Script& script) {
  LinuxConfig c;
  const bool v6 = ip_version(script) == IpVersion::V6;
  c.v6 = v6;
  // riptide's defaults that Linux's differ from, and determinism (docs/pkt.md):
  std::map<std::string, std::string> s = {
      {"tcp_congestion_control", "reno"},  // riptide: NewReno (RFC 6582/5681); Linux: cubic
      {"tcp_ecn", "0"},                    // riptide does no ECN; Linux answers ECN setup SYNs
      {"tcp_fastopen", "0"},               // riptide has no TCP Fast Open
      {"tcp_autocorking", "0"},            // no corking of small writes behind queued ones
      {"tcp_no_metrics_save", "1"},        // nothing learned from one connection for the next
      {"tcp_challenge_ack_limit", "1000"},  // riptide's RFC 5961 7 limit (Linux 6.x: no limit)
      {"tcp_syncookies", "1"},             // riptide: auto
      {"tcp_timestamps", "1"},
      {"tcp_sack", "1"},
      {"tcp_window_scaling", "1"},
      {"tcp_early_retrans", "3"},  // RACK-TLP tail loss probes on
      {"tcp_syn_retries", "6"},
      {"tcp_synack_retries", "5"},
      {"tcp_retries2", "15"},
      // riptide has no per-socket rate limit on challenge/out-of-window ACKs (only
      // the stack-wide RFC 5961 7 budget above); Linux's default is 500 ms.
      {"tcp_invalid_ratelimit", "0"},
      // RFC 6298 5.5 back-off from the first SYN retransmission, as riptide; Linux
      // 6.16+ retransmits the first 4 SYNs after a linear 1 s by default.
      {"?tcp_syn_linear_timeouts", "0"},
      // Linux's built-in buffer defaults, whatever the host tuned: the window scale
      // offered follows tcp_rmem's maximum (6 MiB: shift 7, as riptide offers).
      {"tcp_rmem", "4096 131072 6291456"},
      {"tcp_wmem", "4096 16384 4194304"},
  };
  auto na = [&](const std::string& knob, const std::string& why) {
    if (c.not_applicable.empty()) c.not_applicable = "--riptide." + knob + ": " + why;
  };
  for (const auto& [name, raw] : script.options) {
    const std::optional<Knob> k = riptide_knob(name, raw);
    if (!k) continue;
    const std::string& knob = k->name;
    const std::string& value = k->value;
    const bool numeric = k->number.has_value();
    const long long n = k->number.value_or(0);
    auto flag_sysctl = [&](const char* sc) {
      if (auto b = on_off(value)) s[sc] = *b ? "1" : "0";
      else c.error = "--riptide." + knob + ": expected on/off, got '" + value + "'";
    };
    // A knob without a Linux equivalent is fine at riptide's default value.
    auto only_default = [&](long long dflt, const char* why) {
      if (!numeric || n != dflt) na(knob, std::string("no Linux equivalent (") + why + ")");
    };
    if (knob == "syn_cookies") {
      if (value == "auto") s["tcp_syncookies"] = "1";
      else if (value == "always") s["tcp_syncookies"] = "2";
      else if (value == "never") s["tcp_syncookies"] = "0";
      else c.error = "--riptide.syn_cookies: expected auto, always or never";
    } else if (knob == "congestion") {
      if (value == "newreno" || value == "reno") s["tcp_congestion_control"] = "reno";
      else if (value == "cubic") s["tcp_congestion_control"] = "cubic";
      else c.error = "--riptide.congestion: expected newreno or cubic";
    } else if (knob == "timestamps") {
      flag_sysctl("tcp_timestamps");
    } else if (knob == "sack") {
      flag_sysctl("tcp_sack");
    } else if (knob == "window_scaling") {
      flag_sysctl("tcp_window_scaling");
    } else if (knob == "tail_loss_probe") {
      if (auto b = on_off(value)) s["tcp_early_retrans"] = *b ? "3" : "0";  // 0: no TLP
      else c.error = "--riptide.tail_loss_probe: expected on/off";
    } else if (knob == "nodelay") {
      // No sysctl: set per socket instead, on every socket the script makes or accepts.
      if (auto b = on_off(value)) c.nodelay = *b;
      else c.error = "--riptide.nodelay: expected on/off, got '" + value + "'";
    } else if (!numeric) {
      c.error = "--riptide." + knob + ": unknown knob or bad value '" + value + "'";
    } else if (knob == "syn_retries") {
      s["tcp_syn_retries"] = value;
    } else if (knob == "synack_retries") {
      s["tcp_synack_retries"] = value;
    } else if (knob == "max_retries") {
      s["tcp_retries2"] = value;
    } else if (knob == "challenge_ack_limit") {
      s["tcp_challenge_ack_limit"] = value;
    } else if (knob == "mss") {
      // The MSS Linux offers is the route's MTU less 40 (IPv4) or 60 (IPv6).
      c.mtu = static_cast<int>(n) + (v6 ? 60 : 40);
      if (v6 && c.mtu < 1280) na(knob, "an IPv6 link's MTU is at least 1280 (RFC 8200 5): MSS 1220 or more");
    } else if (knob == "rto_min_ms") {
      s["tcp_rto_min_us"] = std::to_string(n * 1000);
    } else if (knob == "rto_max_ms") {
      s["tcp_rto_max_ms"] = value;
    } else if (knob == "rto_initial_ms") {
      only_default(1000, "Linux's initial RTO is 1 s, RFC 6298");
    } else if (knob == "window_scale") {
      only_default(7, "Linux derives its shift from tcp_rmem");
    } else if (knob == "rcv_buf" || knob == "snd_buf") {
      only_default(256 * 1024, "Linux sizes and autotunes its buffers");
    } else if (knob == "connect_timeout_ms") {
      only_default(0, "Linux has no connect timeout beyond tcp_syn_retries");
    } else if (knob == "time_wait_ms") {
      only_default(60000, "Linux's TIME-WAIT is a constant 60 s");
    } else if (knob == "delayed_ack_ms") {
      only_default(40, "Linux's delayed-ACK timer starts at 40 ms (TCP_ATO_MIN), riptide's default; no other value maps");
    } else {
      c.error = "--riptide." + knob + ": unknown knob";
    }
  }
  c.sysctls.assign(s.begin(), s.end());
  return c;
}

// --- the back end --------------------------------------------------------------------------------

tcp::State from_linux_state(int st) {
  using S = tcp::State;
  switch (st) {
    case TCP_ESTABLISHED: return S::Established;
    case TCP_SYN_SENT: return S::SynSent;
    case TCP_SYN_RECV: return S::SynReceived;
    case TCP_FIN_WAIT1: return S::FinWait1;
    case TCP_FIN_WAIT2: return S::FinWait2;
    case TCP_TIME_WAIT: return S::TimeWait;
    case TCP_CLOSE_WAIT: return S::CloseWait;
    case TCP_LAST_ACK: return S::LastAck;
    case TCP_LISTEN: return S::Listen;
    case TCP_CLOSING: return S::Closing;
    case 12: return S::SynReceived;  // TCP_NEW_SYN_RECV: a request socket
    default: return S::Closed;
  }
}

class LinuxBackend final : public Backend {
 public:
  ~LinuxBackend() override {
    for (int fd : sockets_) ::close(fd);
    if (tun_ >= 0) ::close(tun_);
  }

  // Brings up lo and the tun device and writes the sysctls. Empty on success.
  std::string setup(const LinuxConfig& cfg) {
    nodelay_ = cfg.nodelay;
    v6_ = cfg.v6;
    if (!v6_) {
      // IPv6 off before the tun exists: no router solicitations on it.
      (void)write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
      (void)write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
    } else {
      // IPv6 on, and quiet: written to `default` before the tun exists, so the tun
      // is created with them. No Duplicate Address Detection (the address would be
      // "tentative", unusable, for a second), no link-local address (addr_gen_mode
      // 1: none; nothing to do DAD or router solicitations from), no router
      // solicitations, no router advertisements taken.
      for (const char* conf : {"all", "default"}) {
        const std::string c = std::string("conf/") + conf + "/";
        for (const auto& [name, value] : std::initializer_list<std::pair<const char*, const char*>>{
                 {"disable_ipv6", "0"},
                 {"accept_dad", "0"},
                 {"dad_transmits", "0"},
                 {"addr_gen_mode", "1"},
                 {"router_solicitations", "0"},
                 {"accept_ra", "0"},
                 {"autoconf", "0"},
                 {"forwarding", "0"}}) {
          if (auto e = sysctl6(c + name, value); !e.empty()) return e;
        }
      }
    }
    if (auto e = link_up("lo"); !e.empty()) return e;
    for (const auto& [name, value] : cfg.sysctls) {
      // A leading '?': only where the kernel has it.
      if (name.starts_with('?')) {
        if (::access(("/proc/sys/net/ipv4/" + name.substr(1)).c_str(), W_OK) == 0) {
          if (auto e = sysctl(name.substr(1), value); !e.empty()) return e;
        }
        continue;
      }
      if (auto e = sysctl(name, value); !e.empty()) return e;
    }
    int t = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (t < 0) return std::string("/dev/net/tun: ") + std::strerror(errno);
    // IFF_TUN: IPv4 packets; IFF_NO_PI: no 4-byte header. Without IFF_VNET_HDR and
    // TUNSETOFFLOAD the device offers no GSO/TSO/checksum offload, so the kernel
    // hands us finished, MTU-sized segments with their checksums.
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", kTunName);
    if (::ioctl(t, TUNSETIFF, &ifr) < 0) {
      const int e = errno;
      ::close(t);
      return std::string("TUNSETIFF: ") + std::strerror(e);
    }
    tun_ = move_high(t);
    if (tun_ < 0) return std::string("F_DUPFD: ") + std::strerror(errno);
    (void)::fcntl(tun_, F_SETFL, O_NONBLOCK);
    if (auto e = set_mtu(kTunName, cfg.mtu); !e.empty()) return e;
    if (v6_) {
      if (auto e = link_up(kTunName); !e.empty()) return e;
      if (auto e = setup_v6(); !e.empty()) return e;
    } else {
      // 198.18.0.1/24: the kernel adds the route to 198.18.0.0/24 through the tun, so
      // the remote 198.18.0.2 is reached through it and only through it.
      if (auto e = set_addr(kTunName, SIOCSIFADDR, kLocal, "SIOCSIFADDR"); !e.empty()) return e;
      if (auto e = set_addr(kTunName, SIOCSIFNETMASK, Ipv4Addr::from_octets(255, 255, 255, 0), "SIOCSIFNETMASK");
          !e.empty()) {
        return e;
      }
      if (auto e = link_up(kTunName); !e.empty()) return e;
    }
    drain();  // anything the kernel said while the link came up is not the script's
    outq_discard_ = false;
    start_ = Clock::now();
    return {};
  }

  // 2001:db8::1/64 on the tun, link up: added without DAD, then waited for until
  // the kernel treats it as its own. Even a `nodad` address becomes local only when
  // the addrconf work item has run (addrconf_dad_work -> ipv6_ifa_notify inserts
  // the address's local route), after RTM_NEWADDR has returned: until then a SYN to
  // it is not local and is dropped, silently (nothing comes out of the tun). Without
  // this wait 4 of 10 runs of tests/pkt/ipv6 here had scripts whose first SYN got no
  // answer ("expected packet was not sent", the listener still in LISTEN).
  // So: wait, with a deadline, until `ip -6 route get 2001:db8::1` says local and
  // the route to 2001:db8::2 is the tun's /64 with 2001:db8::1 as the source.
  std::string setup_v6() {
    const int ifindex = static_cast<int>(::if_nametoindex(kTunName));
    if (ifindex == 0) return std::string("if_nametoindex: ") + std::strerror(errno);
    if (auto e = add_addr6(ifindex, kLocal6, 64); !e.empty()) return e;
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::seconds(30);
    bool route_added = false;
    std::string why;
    for (;;) {
      const Route6 local = route_get6(kLocal6);
      const Route6 remote = route_get6(kRemote6);
      if (!local.error.empty()) why = "route to " + to_string(kLocal6) + ": " + local.error;
      else if (local.type != RTN_LOCAL) why = to_string(kLocal6) + " not local yet (type " + std::to_string(local.type) + ")";
      else if (!remote.error.empty()) why = "route to " + to_string(kRemote6) + ": " + remote.error;
      else if (remote.type != RTN_UNICAST || remote.oif != ifindex) why = "no route to " + to_string(kRemote6) + " via the tun";
      else if (remote.prefsrc && *remote.prefsrc != kLocal6) why = "source for the remote: " + to_string(*remote.prefsrc);
      else if (auto t = tentative6(); !t.empty()) why = t;
      else return {};
      if (Clock::now() > deadline) {
        return "IPv6 address not usable after 30 s" + std::string(route_added ? " (local route added)" : "") + ": " + why;
      }
      // The work item late: seen once in about 100 runs of tests/pkt/ipv6 on a
      // loaded machine (two busy loops, the whole suite beside it), and then for
      // over 30 s, in all 7 scripts' namespaces at once (what held it up was not
      // found: it did not come back with a watch on the kernel's stacks). So: put
      // the local route in ourselves, as the work item would, and keep checking
      // (checked: with the kernel's local route deleted, this one serves).
      if (!route_added && Clock::now() - start > std::chrono::milliseconds(200)) {
        std::fprintf(stderr, "riptide-pkt --linux: %s after 200 ms: adding its local route\n", why.c_str());
        if (auto e = add_local_route6(ifindex, kLocal6); !e.empty()) return e;
        route_added = true;
      }
      const timespec ms{0, 1000000};
      ::nanosleep(&ms, nullptr);
    }
  }

  // Empty when /proc/net/if_inet6 lists 2001:db8::1 on the tun and not tentative
  // (IFA_F_TENTATIVE, 0x40) nor failed DAD (IFA_F_DADFAILED, 0x08).
  static std::string tentative6() {
    std::ifstream f("/proc/net/if_inet6");
    std::string addr, index, plen, scope, flags, name;
    char want[33];
    for (std::size_t i = 0; i < 16; ++i) std::snprintf(want + 2 * i, 3, "%02x", kLocal6.bytes[i]);
    while (f >> addr >> index >> plen >> scope >> flags >> name) {
      if (addr != want || name != kTunName) continue;
      const unsigned long fl = std::strtoul(flags.c_str(), nullptr, 16);
      if (fl & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) return to_string(kLocal6) + " has flags 0x" + flags;
      return {};
    }
    return to_string(kLocal6) + " not in /proc/net/if_inet6";
  }

  // --- time and link ---------------------------------------------------------------------
  std::int64_t now_us() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start_).count();
  }

  bool run_until(std::int64_t until_us, bool /*inclusive*/, const std::function<bool()>& progress,
                 const std::function<bool()>& stop) override {
    for (;;) {
      if (stop()) return true;
      const bool got = drain();
      if (!progress()) return false;
      if (got) continue;
      const std::int64_t left = until_us - now_us();
      if (left <= 0) break;
      // Wake for the tun, and every 2 ms to retry a parked call.
      const std::int64_t wait = std::min<std::int64_t>(left, 2000);
      pollfd p{tun_, POLLIN, 0};
      timespec ts{static_cast<time_t>(wait / 1000000), static_cast<long>(wait % 1000000) * 1000};
      (void)::ppoll(&p, 1, &ts, nullptr);
    }
    drain();
    return progress();
  }

  void set_clock(std::int64_t us) override {
    // run_until() has brought real time to `us` (or past it); nothing to move.
    (void)us;
  }

  void settle() override { drain(); }

  void input(std::span<const std::byte> packet) override {
    // A tun write is received by the kernel as if from the wire.
    if (::write(tun_, packet.data(), packet.size()) < 0) {
      std::fprintf(stderr, "riptide-pkt --linux: tun write: %s\n", std::strerror(errno));
    }
  }

  // A `*` outbound packet: long enough for a backed-off retransmission.
  std::int64_t any_time_wait_us() const override { return std::int64_t{130} * 1000000; }

  // --- sockets: real kernel sockets, always O_NONBLOCK in the kernel; the script's
  // O_NONBLOCK is kept here and blocking is the executor's parking ---------------------------
  // --riptide.nodelay=on: riptide's knob is stack-wide; here it is TCP_NODELAY on each
  // socket (an accepted one inherits it from its listener too).
  void apply_nodelay(int fd) const {
    if (!nodelay_) return;
    const int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }

  long socket() override {
    const int fd = ::socket(v6_ ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_TCP);
    if (fd < 0) return -errno;
    apply_nodelay(fd);
    sockets_.insert(fd);
    return fd;
  }

  long bind(int fd, std::uint16_t port) override {
    // INADDR_ANY, or in6addr_any (IpAddr{} is ::).
    const Sockaddr a = addr(v6_ ? IpAddr{} : IpAddr{Ipv4Addr{}}, port);
    return ret(::bind(fd, a.sa(), a.len));
  }

  long listen(int fd, int backlog) override { return ret(::listen(fd, backlog)); }

  long accept(int fd) override {
    const int r = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK);
    if (r < 0) return -errno;
    apply_nodelay(r);
    sockets_.insert(r);
    return r;
  }

  long connect(int fd, std::uint16_t port) override {
    const Sockaddr a = addr(v6_ ? kRemote6 : IpAddr{kRemote}, port);
    return ret(::connect(fd, a.sa(), a.len));
  }

  long read(int fd, std::span<std::byte> out, int flags) override {
    const ssize_t r = ::recv(fd, out.data(), out.size(), flags | MSG_DONTWAIT);
    return r < 0 ? -errno : r;
  }

  long write(int fd, std::span<const std::byte> data, int flags) override {
    const ssize_t r = ::send(fd, data.data(), data.size(), flags | MSG_DONTWAIT | MSG_NOSIGNAL);
    return r < 0 ? -errno : r;
  }

  long shutdown(int fd, int how) override { return ret(::shutdown(fd, how)); }

  long close(int fd) override {
    if (!sockets_.contains(fd)) return -EBADF;  // never one of our own fds
    sockets_.erase(fd);
    script_nonblocking_.erase(fd);
    return ret(::close(fd));
  }

  long fcntl(int fd, int cmd, long arg) override {
    if (!sockets_.contains(fd)) return -EBADF;
    if (cmd == F_GETFL) {
      const int f = ::fcntl(fd, F_GETFL);
      if (f < 0) return -errno;
      return (f & ~O_NONBLOCK) | (script_nonblocking_.contains(fd) ? O_NONBLOCK : 0);
    }
    if (cmd == F_SETFL) {
      if (arg & O_NONBLOCK) script_nonblocking_.insert(fd);
      else script_nonblocking_.erase(fd);
      return ret(::fcntl(fd, F_SETFL, arg | O_NONBLOCK));
    }
    return -EINVAL;
  }

  long setsockopt(int fd, int level, int name, std::span<const std::byte> value) override {
    return ret(::setsockopt(fd, level, name, value.data(), static_cast<socklen_t>(value.size())));
  }

  long getsockopt(int fd, int level, int name, std::span<std::byte> value, std::size_t* len) override {
    auto l = static_cast<socklen_t>(value.size());
    const int r = ::getsockopt(fd, level, name, value.data(), &l);
    if (r < 0) return -errno;
    *len = l;
    if (level == IPPROTO_TCP && name == TCP_CONGESTION) {
      // Linux fills the whole buffer (TCP_CA_NAME_MAX) with NUL padding: the value
      // the script compares is the name, as riptide's socket layer returns it.
      const auto* p = reinterpret_cast<const char*>(value.data());
      *len = ::strnlen(p, l);
    }
    return 0;
  }

  bool would_block(int fd, SockOp op) override {
    if (!sockets_.contains(fd)) return false;
    if (op == SockOp::Connect) {
      pollfd p{fd, POLLOUT, 0};
      return ::poll(&p, 1, 0) == 0;  // still in SYN-SENT
    }
    return !script_nonblocking_.contains(fd);  // -EAGAIN on a blocking socket: wait
  }

  bool nonblocking(int fd) const override { return script_nonblocking_.contains(fd); }

  // --- what tcp_info says ------------------------------------------------------------------------
  void remember(int fd) override {
    // sin_port and sin6_port are at the same place.
    sockaddr_in6 l{}, r{};
    socklen_t ll = sizeof l, rl = sizeof r;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&l), &ll) == 0) focus_local_port_ = ntohs(l.sin6_port);
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&r), &rl) == 0) focus_remote_port_ = ntohs(r.sin6_port);
    else focus_remote_port_ = kScriptPort;  // connect() in progress: the remote's port
    focus_fd_ = fd;
  }

  std::optional<tcp::State> tcp_state(int fd) override {
    if (fd >= 0 && sockets_.contains(fd)) {
      auto i = info(fd);
      if (!i) return std::nullopt;
      // tcp_time_wait() hands the connection to a TIME-WAIT minisocket and leaves the
      // full socket in TCP_CLOSE, even while the application still holds it (after
      // shutdown(SHUT_WR), say): the connection's state is the minisocket's, as `ss`
      // shows it.
      if (i->tcpi_state == TCP_CLOSE && fd == focus_fd_ && focus_local_port_) {
        const auto tw = diag_state(*focus_local_port_, focus_remote_port_);
        if (tw == tcp::State::TimeWait) return tw;
      }
      return from_linux_state(i->tcpi_state);
    }
    // After close() the connection may live on (FIN-WAIT, LAST-ACK, TIME-WAIT):
    // ask the kernel by its ports, as `ss` does (sock_diag, inet_diag).
    if (!focus_local_port_) return std::nullopt;
    return diag_state(*focus_local_port_, focus_remote_port_);
  }

  std::optional<Window> congestion(int fd) override {
    auto i = fd >= 0 && sockets_.contains(fd) ? info(fd) : std::nullopt;
    if (!i) return std::nullopt;
    return Window{i->tcpi_snd_cwnd, i->tcpi_snd_ssthresh};
  }

 private:
  using Clock = std::chrono::steady_clock;

  struct Sockaddr {
    sockaddr_storage ss{};
    socklen_t len = 0;
    const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&ss); }
  };
  static Sockaddr addr(const IpAddr& a, std::uint16_t port) {
    Sockaddr s;
    if (a.is_v4()) {
      auto* in = reinterpret_cast<sockaddr_in*>(&s.ss);
      in->sin_family = AF_INET;
      in->sin_port = htons(port);
      in->sin_addr.s_addr = htonl(a.v4().value);
      s.len = sizeof(sockaddr_in);
    } else {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&s.ss);
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(port);
      std::memcpy(&in6->sin6_addr, a.bytes.data(), 16);
      s.len = sizeof(sockaddr_in6);
    }
    return s;
  }
  static long ret(int r) { return r < 0 ? -errno : r; }

  static std::optional<tcp_info> info(int fd) {
    tcp_info i{};
    socklen_t l = sizeof i;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &i, &l) < 0) return std::nullopt;
    return i;
  }

  // Reads every packet waiting on the tun; hands TCP from the stack's address to
  // the remote's (IPv4, or IPv6 with TCP as the next header) to the sink. Nothing
  // else is the script's: over IPv6 the kernel also sends MLD reports for the
  // address's solicited-node group (ICMPv6 behind a Hop-by-Hop header, to
  // ff02::16), which are dropped here.
  bool drain() {
    bool any = false;
    std::array<std::byte, 65536> buf{};
    for (;;) {
      const ssize_t n = ::read(tun_, buf.data(), buf.size());
      if (n <= 0) break;
      const auto pkt = std::span<const std::byte>(buf.data(), static_cast<std::size_t>(n));
      if (outq_discard_ || !script_packet(pkt)) continue;
      emit(pkt, now_us());
      any = true;
    }
    return any;
  }

  bool script_packet(std::span<const std::byte> pkt) const {
    if (v6_) {
      auto ip = wire::Ipv6View::parse(pkt);
      return ip && ip->next_header() == wire::kIpProtoTcp && ip->src() == kLocal6 && ip->dst() == kRemote6;
    }
    auto ip = wire::Ipv4View::parse(pkt);
    return ip && ip->protocol() == wire::kIpProtoTcp && ip->src() == kLocal && ip->dst() == kRemote;
  }

  // The state of the connection local_port <-> 198.18.0.2:remote_port, from a
  // NETLINK_SOCK_DIAG dump of TCP sockets in every state (TIME-WAIT included).
  std::optional<tcp::State> diag_state(std::uint16_t local_port, std::uint16_t remote_port) const {
    const int nl = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0) return std::nullopt;
    struct {
      nlmsghdr nlh;
      inet_diag_req_v2 req;
    } msg{};
    msg.nlh.nlmsg_len = sizeof msg;
    msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    msg.req.sdiag_family = v6_ ? AF_INET6 : AF_INET;
    msg.req.sdiag_protocol = IPPROTO_TCP;
    msg.req.idiag_states = ~0u;
    std::optional<tcp::State> found;
    if (::send(nl, &msg, sizeof msg, 0) == static_cast<ssize_t>(sizeof msg)) {
      std::vector<char> buf(32768);
      bool done = false;
      while (!done) {
        const ssize_t n = ::recv(nl, buf.data(), buf.size(), 0);
        if (n <= 0) break;
        int left = static_cast<int>(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
          if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
            done = true;
            break;
          }
          const auto* d = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
          const bool remote = v6_ ? std::memcmp(d->id.idiag_dst, kRemote6.bytes.data(), 16) == 0
                                  : ntohl(d->id.idiag_dst[0]) == kRemote.value;
          if (ntohs(d->id.idiag_sport) == local_port && ntohs(d->id.idiag_dport) == remote_port && remote) {
            found = from_linux_state(d->idiag_state);
          }
        }
      }
    }
    ::close(nl);
    return found.value_or(tcp::State::Closed);
  }

  int tun_ = -1;
  bool v6_ = false;  // --ip_version=ipv6
  bool outq_discard_ = true;
  Clock::time_point start_ = Clock::now();
  std::set<int> sockets_;
  bool nodelay_ = false;  // --riptide.nodelay=on
  std::set<int> script_nonblocking_;
  std::optional<std::uint16_t> focus_local_port_;
  std::uint16_t focus_remote_port_ = 0;
  int focus_fd_ = -1;
};

}  // namespace

std::string enter_private_netns() {
  if (::unshare(CLONE_NEWNET) < 0) return std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
  return {};
}

std::string linux_mode_unavailable() {
  if (::geteuid() != 0) return "not root";
  if (::access("/dev/net/tun", R_OK | W_OK) != 0) return "no /dev/net/tun";
  return {};
}

std::unique_ptr<Backend> make_linux_backend(const Script& script, const RunOptions& opts, std::string& error,
                                            std::string& skip) {
  (void)opts;
  const LinuxConfig cfg = linux_config(script);
  if (!cfg.error.empty()) {
    error = cfg.error;
    return nullptr;
  }
  if (!cfg.not_applicable.empty()) {
    skip = "not applicable to Linux: " + cfg.not_applicable;
    return nullptr;
  }
  auto be = std::make_unique<LinuxBackend>();
  if (auto e = be->setup(cfg); !e.empty()) {
    error = "--linux set-up: " + e;
    return nullptr;
  }
  return be;
}

}  // namespace riptide::pkt
