#include "stack/socket.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace riptide {

namespace {

template <class T>
bool read_opt(std::span<const std::byte> v, T& out) {
  if (v.size() < sizeof(T)) return false;
  std::memcpy(&out, v.data(), sizeof(T));
  return true;
}

template <class T>
long write_opt(std::span<std::byte> v, std::size_t* len, const T& value) {
  if (v.size() < sizeof(T)) return -EINVAL;
  std::memcpy(v.data(), &value, sizeof(T));
  if (len) *len = sizeof(T);
  return 0;
}

int errno_for(CloseReason r) {
  switch (r) {
    case CloseReason::Reset: return ECONNRESET;
    case CloseReason::Refused: return ECONNREFUSED;
    case CloseReason::Unreachable: return EHOSTUNREACH;
    case CloseReason::TimedOut: return ETIMEDOUT;
    case CloseReason::Aborted: return ECONNABORTED;
    case CloseReason::Normal: return 0;
  }
  return EIO;
}

}  // namespace

void SocketLayer::apply_options(Socket& s) {
  if (!stack_.alive(s.conn)) return;
  (void)stack_.set_nodelay(s.conn, s.nodelay);
  Stack::Keepalive k;
  k.on = s.keepalive;
  k.idle = std::chrono::seconds{s.keepidle};
  k.interval = std::chrono::seconds{s.keepintvl};
  k.count = static_cast<std::uint8_t>(s.keepcnt);
  (void)stack_.set_keepalive(s.conn, k);
  if (s.congestion) (void)stack_.set_congestion(s.conn, *s.congestion);
  if (s.rcvbuf_bytes > 0 || s.sndbuf_bytes > 0) {
    const tcp::TcpConfig& t = stack_.config().tcp;
    (void)stack_.set_buffer_sizes(s.conn, s.rcvbuf_bytes > 0 ? static_cast<std::uint32_t>(s.rcvbuf_bytes) : t.rcv_buf,
                                  s.sndbuf_bytes > 0 ? static_cast<std::uint32_t>(s.sndbuf_bytes) : t.snd_buf);
  }
}

SocketLayer::Socket* SocketLayer::get(int fd) {
  auto it = fds_.find(fd);
  return it == fds_.end() ? nullptr : &it->second;
}

const SocketLayer::Socket* SocketLayer::get(int fd) const {
  auto it = fds_.find(fd);
  return it == fds_.end() ? nullptr : &it->second;
}

SocketLayer::Socket* SocketLayer::by_conn(ConnId c) {
  if (auto it = conn_fd_.find(c.slot); it != conn_fd_.end()) {
    Socket* s = get(it->second);
    if (s && s->conn == c) return s;
  }
  if (auto it = pending_.find(c.slot); it != pending_.end() && it->second.conn == c) {
    return &it->second;
  }
  return nullptr;
}

SocketLayer::Socket& SocketLayer::adopt(ConnId c) {
  Socket& s = pending_[c.slot];
  if (!(s.conn == c)) {
    s = Socket{};
    s.kind = Socket::Kind::Connected;
    s.conn = c;
    if (auto i = stack_.info(c)) s.key = i->key;
  }
  return s;
}

int SocketLayer::lowest_free_fd() const {
  // POSIX.1-2017 2.14: "the lowest numbered unused file descriptor" (as Linux).
  int fd = kFirstFd;
  for (const auto& [used, _] : fds_) {  // ascending
    if (used != fd) break;
    ++fd;
  }
  return fd;
}

long SocketLayer::socket() {
  const int fd = lowest_free_fd();
  fds_.emplace(fd, Socket{});
  return fd;
}

long SocketLayer::bind(int fd, IpAddr addr, std::uint16_t port) {
  Socket* s = get(fd);
  if (!s) return -EBADF;
  if (s->bound || s->kind != Socket::Kind::Fresh) return -EINVAL;
  if (!addr.is_unspecified() && !stack_.is_local(addr)) return -EADDRNOTAVAIL;
  s->bound = true;
  s->bind_addr = addr;
  s->bind_port = port;
  return 0;
}

long SocketLayer::listen(int fd, int backlog) {
  Socket* s = get(fd);
  if (!s) return -EBADF;
  if (s->kind == Socket::Kind::Listening) return 0;
  if (s->kind != Socket::Kind::Fresh || !s->bound || s->bind_port == 0) return -EINVAL;
  ListenOptions o;
  o.backlog = static_cast<std::uint32_t>(std::max(backlog, 1));
  o.auto_accept = false;
  auto l = stack_.listen(s->bind_addr, s->bind_port, *this, o);
  if (!l) return l.error() == Error::AddressInUse ? -EADDRINUSE : -ENOMEM;
  s->listener = *l;
  s->kind = Socket::Kind::Listening;
  return 0;
}

long SocketLayer::accept(int fd, IpAddr* addr, std::uint16_t* port) {
  Socket* l = get(fd);
  if (!l) return -EBADF;
  if (l->kind != Socket::Kind::Listening) return -EINVAL;
  auto c = stack_.accept(l->listener);
  if (!c) return -EAGAIN;
  Socket s = adopt(*c);  // keeps whatever arrived before accept()
  pending_.erase(c->slot);
  // Accepted sockets inherit the listener's options (as on Linux).
  s.nodelay = l->nodelay;
  s.keepalive = l->keepalive;
  s.keepidle = l->keepidle;
  s.keepintvl = l->keepintvl;
  s.keepcnt = l->keepcnt;
  s.rcvbuf_bytes = l->rcvbuf_bytes;
  s.sndbuf_bytes = l->sndbuf_bytes;
  s.congestion = l->congestion;
  apply_options(s);
  const int nfd = lowest_free_fd();
  if (addr) *addr = s.key.remote_addr;
  if (port) *port = s.key.remote_port;
  fds_.emplace(nfd, std::move(s));
  conn_fd_[c->slot] = nfd;
  return nfd;
}

long SocketLayer::connect(int fd, IpAddr addr, std::uint16_t port) {
  Socket* s = get(fd);
  if (!s) return -EBADF;
  switch (s->kind) {
    case Socket::Kind::Connecting: return -EALREADY;
    case Socket::Kind::Connected: return -EISCONN;
    case Socket::Kind::Listening: return -EINVAL;
    case Socket::Kind::Gone:
      if (s->so_error != 0) {
        const int e = std::exchange(s->so_error, 0);
        return -e;
      }
      return -EISCONN;
    case Socket::Kind::Fresh: break;
  }
  ConnectOptions o;
  if (s->bound) {
    o.local_addr = s->bind_addr;
    o.local_port = s->bind_port;
  }
  auto c = stack_.connect(addr, port, *this, o);
  if (!c) {
    switch (c.error()) {
      case Error::AddressInUse: return -EADDRINUSE;
      case Error::NoPorts: return -EADDRNOTAVAIL;
      case Error::InvalidArgument: return -EINVAL;
      default: return -ENOMEM;
    }
  }
  s->conn = *c;
  s->key = stack_.info(*c)->key;
  s->kind = Socket::Kind::Connecting;
  apply_options(*s);
  conn_fd_[c->slot] = fd;
  return -EINPROGRESS;  // blocking callers wait for would_block(Connect) to clear
}

long SocketLayer::read(int fd, std::span<std::byte> out, int flags) {
  Socket* s = get(fd);
  if (!s) return -EBADF;
  if (s->kind == Socket::Kind::Listening || s->kind == Socket::Kind::Fresh) return -ENOTCONN;
  if (s->rcvbuf.empty()) {
    // The peer's FIN came before any reset: the stream ended, read() says so (as
    // Linux, whose tcp_recvmsg checks SOCK_DONE before the socket error).
    if (s->peer_fin) return 0;
    if (s->reset_error != 0) return -s->reset_error;
    if (s->read_shut || s->kind == Socket::Kind::Gone) return 0;  // EOF
    return -EAGAIN;
  }
  const std::size_t n = std::min(out.size(), s->rcvbuf.size());
  std::copy_n(s->rcvbuf.begin(), n, out.begin());
  if ((flags & MSG_PEEK) == 0) {
    s->rcvbuf.erase(s->rcvbuf.begin(), s->rcvbuf.begin() + static_cast<std::ptrdiff_t>(n));
    if (stack_.alive(s->conn)) {
      (void)stack_.set_receive_held(s->conn, static_cast<std::uint32_t>(s->rcvbuf.size()));
    }
  }
  return static_cast<long>(n);
}

long SocketLayer::write(int fd, std::span<const std::byte> data, int flags) {
  (void)flags;
  Socket* s = get(fd);
  if (!s) return -EBADF;
  if (s->reset_error != 0) return -s->reset_error;
  if (s->write_shut) return -EPIPE;
  if (s->kind == Socket::Kind::Gone) return -EPIPE;
  if (s->kind != Socket::Kind::Connected) return -ENOTCONN;
  auto r = stack_.send(s->conn, data);
  if (!r) return r.error() == Error::Closing ? -EPIPE : -ENOTCONN;
  if (*r == 0 && !data.empty()) return -EAGAIN;
  return static_cast<long>(*r);
}

long SocketLayer::shutdown(int fd, int how) {
  Socket* s = get(fd);
  if (!s) return -EBADF;
  if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return -EINVAL;
  if (s->kind != Socket::Kind::Connected && s->kind != Socket::Kind::Connecting) return -ENOTCONN;
  if (how == SHUT_RD || how == SHUT_RDWR) s->read_shut = true;
  if ((how == SHUT_WR || how == SHUT_RDWR) && !s->write_shut) {
    s->write_shut = true;
    if (stack_.alive(s->conn)) (void)stack_.shutdown_write(s->conn);
  }
  return 0;
}

long SocketLayer::close(int fd) {
  Socket* s = get(fd);
  if (!s) return -EBADF;
  if (s->kind == Socket::Kind::Listening) stack_.unlisten(s->listener);
  if (stack_.alive(s->conn) && (s->kind == Socket::Kind::Connected || s->kind == Socket::Kind::Connecting)) {
    // RFC 2525 2.17 / RFC 1122 4.2.2.13: closing with unread data resets the
    // connection; so does SO_LINGER with a zero timeout.
    if (!s->rcvbuf.empty() || s->linger_zero) {
      (void)stack_.abort(s->conn);
    } else {
      (void)stack_.close(s->conn);
    }
  }
  // Only this socket's own entry: a listener or a socket that never connected holds
  // a default ConnId, whose slot (0) may belong to a socket accepted meanwhile.
  if (auto it = conn_fd_.find(s->conn.slot); it != conn_fd_.end() && it->second == fd) {
    conn_fd_.erase(it);
  }
  fds_.erase(fd);
  return 0;
}

long SocketLayer::fcntl(int fd, int cmd, long arg) {
  Socket* s = get(fd);
  if (!s) return -EBADF;
  switch (cmd) {
    case F_GETFL: return O_RDWR | (s->nonblocking ? O_NONBLOCK : 0);
    case F_SETFL: s->nonblocking = (arg & O_NONBLOCK) != 0; return 0;
    default: return -EINVAL;
  }
}

long SocketLayer::setsockopt(int fd, int level, int name, std::span<const std::byte> value) {
  Socket* s = get(fd);
  if (!s) return -EBADF;
  int v = 0;
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_REUSEADDR:
        if (!read_opt(value, v)) return -EINVAL;
        s->reuseaddr = v != 0;  // binding never conflicts with TIME-WAIT here
        return 0;
      case SO_LINGER: {
        struct linger l {};
        if (!read_opt(value, l)) return -EINVAL;
        s->linger_zero = l.l_onoff != 0 && l.l_linger == 0;
        return 0;
      }
      case SO_KEEPALIVE:
        if (!read_opt(value, v)) return -EINVAL;
        s->keepalive = v != 0;
        apply_options(*s);
        return 0;
      case SO_RCVBUF:
      case SO_SNDBUF:
        // DEVIATION(Linux): the size is taken as given (Linux doubles it for its
        // bookkeeping and reports the doubled value); at least one MSS.
        if (!read_opt(value, v) || v <= 0 || v > (1 << 30)) return -EINVAL;
        (name == SO_RCVBUF ? s->rcvbuf_bytes : s->sndbuf_bytes) = v;
        apply_options(*s);
        return 0;
      default:
        return -ENOPROTOOPT;
    }
  }
  if (level == IPPROTO_TCP) {
    switch (name) {
      case TCP_CONGESTION: {
        // A name, as for Linux: "newreno"/"reno" or "cubic" (NUL-terminated or not).
        std::string_view algo(reinterpret_cast<const char*>(value.data()), value.size());
        algo = algo.substr(0, algo.find('\0'));
        auto a = tcp::parse_congestion_algorithm(algo);
        if (!a) return -ENOENT;  // Linux: no such algorithm
        s->congestion = *a;
        apply_options(*s);
        return 0;
      }
      case TCP_NODELAY:
        if (!read_opt(value, v)) return -EINVAL;
        s->nodelay = v != 0;
        apply_options(*s);
        return 0;
      case TCP_KEEPIDLE:
      case TCP_KEEPINTVL:
      case TCP_KEEPCNT:
        // Linux's ranges: 1..32767 s, 1..32767 s, 1..127.
        if (!read_opt(value, v) || v < 1 || v > (name == TCP_KEEPCNT ? 127 : 32767)) return -EINVAL;
        (name == TCP_KEEPIDLE ? s->keepidle : name == TCP_KEEPINTVL ? s->keepintvl : s->keepcnt) = v;
        apply_options(*s);
        return 0;
      default:
        return -ENOPROTOOPT;
    }
  }
  return -ENOPROTOOPT;
}

long SocketLayer::getsockopt(int fd, int level, int name, std::span<std::byte> value, std::size_t* len) {
  Socket* s = get(fd);
  if (!s) return -EBADF;
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_ERROR: return write_opt(value, len, std::exchange(s->so_error, 0));
      case SO_REUSEADDR: return write_opt(value, len, int{s->reuseaddr});
      case SO_KEEPALIVE: return write_opt(value, len, int{s->keepalive});
      case SO_RCVBUF:
        return write_opt(value, len, s->rcvbuf_bytes > 0 ? s->rcvbuf_bytes : static_cast<int>(stack_.config().tcp.rcv_buf));
      case SO_SNDBUF:
        return write_opt(value, len, s->sndbuf_bytes > 0 ? s->sndbuf_bytes : static_cast<int>(stack_.config().tcp.snd_buf));
      default: return -ENOPROTOOPT;
    }
  }
  if (level == IPPROTO_TCP) {
    switch (name) {
      case TCP_NODELAY: return write_opt(value, len, int{s->nodelay});
      case TCP_CONGESTION: {
        const std::string_view algo = tcp::to_string(s->congestion.value_or(stack_.config().tcp.congestion));
        const std::size_t n = std::min(value.size(), algo.size());
        std::memcpy(value.data(), algo.data(), n);
        if (len) *len = n;
        return 0;
      }
      case TCP_KEEPIDLE: return write_opt(value, len, s->keepidle);
      case TCP_KEEPINTVL: return write_opt(value, len, s->keepintvl);
      case TCP_KEEPCNT: return write_opt(value, len, s->keepcnt);
      case TCP_MAXSEG: {
        auto i = stack_.info(s->conn);
        return write_opt(value, len, static_cast<int>(i ? i->snd_mss : stack_.config().tcp.mss));
      }
      default: return -ENOPROTOOPT;
    }
  }
  return -ENOPROTOOPT;
}

bool SocketLayer::nonblocking(int fd) const {
  const Socket* s = get(fd);
  return s != nullptr && s->nonblocking;
}

bool SocketLayer::would_block(int fd, SockOp op) const {
  const Socket* s = get(fd);
  if (s == nullptr) return false;
  switch (op) {
    case SockOp::Accept:
      return s->kind == Socket::Kind::Listening && stack_.accept_queue_length(s->listener) == 0;
    case SockOp::Connect:
      return s->kind == Socket::Kind::Connecting;
    case SockOp::Read:
      return s->kind == Socket::Kind::Connected && s->rcvbuf.empty() && !s->peer_fin &&
             !s->read_shut && s->reset_error == 0;
    case SockOp::Write: {
      if (s->kind == Socket::Kind::Connecting) return true;
      if (s->kind != Socket::Kind::Connected || s->write_shut || s->reset_error != 0) return false;
      auto i = stack_.info(s->conn);
      return i && i->send_queued >= stack_.config().tcp.snd_buf;
    }
  }
  return false;
}

std::optional<ConnId> SocketLayer::conn_of(int fd) const {
  const Socket* s = get(fd);
  if (s == nullptr || !stack_.alive(s->conn)) return std::nullopt;
  return s->conn;
}

std::optional<tcp::State> SocketLayer::tcp_state(int fd) const {
  const Socket* s = get(fd);
  if (s == nullptr) return std::nullopt;
  switch (s->kind) {
    case Socket::Kind::Fresh: return tcp::State::Closed;
    case Socket::Kind::Listening: return tcp::State::Listen;
    default: break;
  }
  if (auto i = stack_.info(s->conn)) return i->state;
  if (stack_.time_wait_exists(s->key)) return tcp::State::TimeWait;
  return tcp::State::Closed;
}

std::optional<ConnInfo> SocketLayer::info(int fd) const {
  const Socket* s = get(fd);
  if (s == nullptr) return std::nullopt;
  return stack_.info(s->conn);
}

void SocketLayer::on_connected(Stack&, ConnId c) {
  if (Socket* s = by_conn(c)) s->kind = Socket::Kind::Connected;
}

void SocketLayer::on_data(Stack&, ConnId c, std::span<const std::byte> data) {
  Socket* s = by_conn(c);
  if (s == nullptr) s = &adopt(c);  // still in the accept queue
  if (s->read_shut) return;  // SHUT_RD: discard, as Linux does
  s->rcvbuf.insert(s->rcvbuf.end(), data.begin(), data.end());
  (void)stack_.set_receive_held(c, static_cast<std::uint32_t>(s->rcvbuf.size()));
}

void SocketLayer::on_peer_closed(Stack&, ConnId c) {
  Socket* s = by_conn(c);
  if (s == nullptr) s = &adopt(c);
  s->peer_fin = true;
}

void SocketLayer::on_closed(Stack&, ConnId c, CloseReason r) {
  Socket* s = by_conn(c);
  if (s == nullptr) return;
  int e = errno_for(r);
  // A reset in CLOSE-WAIT (the peer's FIN received, our side still open) is EPIPE:
  // the peer had finished and will not read what we write (Linux tcp_reset).
  if (r == CloseReason::Reset && s->peer_fin && !s->write_shut) e = EPIPE;
  if (s->kind == Socket::Kind::Connecting) {
    s->so_error = e != 0 ? e : ECONNREFUSED;
  } else if (e != 0) {
    s->reset_error = e;
    s->so_error = e;
  }
  s->kind = Socket::Kind::Gone;
}

}  // namespace riptide
