/// \file
/// <riptide/socket.hpp>: SocketLayer, a POSIX-like socket surface over one Stack, for the .pkt runner and
/// for anyone who wants file descriptors, errno values and read/write instead of
/// callbacks. It is not the fast path: it copies received data into a per-socket
/// buffer (and holds the receive window shut by what sits unread there).
///
/// Calls never block. A blocking socket's call that cannot complete yet returns
/// -EAGAIN like a non-blocking one, and would_block() tells the caller it should
/// wait (advance the stack's clock) and retry: that is how riptide-pkt gives
/// blocking calls their meaning on a virtual clock.
///
/// Every call returns a value >= 0 on success or -errno (Linux values) on failure.
/// Thread-safety: none; one SocketLayer per Stack, on the Stack's core.
/// Ownership: the layer holds its Stack by reference (not owned; it must outlive the
/// layer) and is the Handler of the connections it opens; it owns the sockets and
/// their receive buffers. Views passed to write() are copied.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "riptide/stack.hpp"

namespace riptide {

enum class SockOp : std::uint8_t { Accept, Connect, Read, Write };

class SocketLayer final : private Handler {
 public:
  explicit SocketLayer(Stack& stack) : stack_(stack) {}

  long socket();  ///< AF_INET, SOCK_STREAM, IPPROTO_TCP: the only kind there is
  long bind(int fd, IpAddr addr, std::uint16_t port);  // `::` or 0.0.0.0: any
  long listen(int fd, int backlog);
  /// Returns the new fd; peer's address in *addr / *port when given.
  long accept(int fd, IpAddr* addr = nullptr, std::uint16_t* port = nullptr);
  long connect(int fd, IpAddr addr, std::uint16_t port);
  long read(int fd, std::span<std::byte> out, int flags = 0);  ///< MSG_PEEK, MSG_DONTWAIT
  long write(int fd, std::span<const std::byte> data, int flags = 0);
  long shutdown(int fd, int how);  ///< SHUT_RD, SHUT_WR, SHUT_RDWR
  long close(int fd);
  long fcntl(int fd, int cmd, long arg = 0);  ///< F_GETFL, F_SETFL (O_NONBLOCK)
  long setsockopt(int fd, int level, int name, std::span<const std::byte> value);
  long getsockopt(int fd, int level, int name, std::span<std::byte> value, std::size_t* len);

  /// True when `op` on a blocking fd returned -EAGAIN only because it must wait.
  [[nodiscard]] bool would_block(int fd, SockOp op) const;
  [[nodiscard]] bool nonblocking(int fd) const;
  /// The RFC 9293 state of the connection behind fd (LISTEN for a listener,
  /// TIME-WAIT while the stack holds a record for its tuple, CLOSED after).
  [[nodiscard]] std::optional<tcp::State> tcp_state(int fd) const;
  /// The connection behind a connected socket (for tcp_info-like queries).
  [[nodiscard]] std::optional<ConnId> conn_of(int fd) const;
  [[nodiscard]] std::optional<ConnInfo> info(int fd) const;
  [[nodiscard]] std::size_t open_sockets() const noexcept { return fds_.size(); }

 private:
  struct Socket {
    enum class Kind : std::uint8_t { Fresh, Listening, Connecting, Connected, Gone };
    Kind kind = Kind::Fresh;
    bool nonblocking = false;
    bool bound = false;
    IpAddr bind_addr{};
    std::uint16_t bind_port = 0;
    ListenerId listener{};
    ConnId conn{};
    FlowKey key{};
    std::deque<std::byte> rcvbuf;  ///< received, not yet read
    bool peer_fin = false;
    bool read_shut = false;
    bool write_shut = false;
    int so_error = 0;      ///< pending error (SO_ERROR), e.g. ECONNREFUSED
    int reset_error = 0;   ///< sticky: ECONNRESET / ETIMEDOUT after the connection died
    bool linger_zero = false;
    bool nodelay = false;
    bool reuseaddr = false;
    bool keepalive = false;
    int keepidle = 7200;   ///< seconds (Linux defaults)
    int keepintvl = 75;
    int keepcnt = 9;
    int rcvbuf_bytes = 0;  ///< SO_RCVBUF / SO_SNDBUF; 0: the configured default
    int sndbuf_bytes = 0;
    std::optional<tcp::CongestionAlgorithm> congestion;  ///< TCP_CONGESTION; unset: the configured one
  };

  /// Handler: events from the stack.
  void on_acceptable(Stack&, ListenerId) override {}
  void on_connected(Stack&, ConnId c) override;
  void on_data(Stack&, ConnId c, std::span<const std::byte> data) override;
  void on_peer_closed(Stack&, ConnId c) override;
  void on_closed(Stack&, ConnId c, CloseReason r) override;

  Socket* get(int fd);
  const Socket* get(int fd) const;
  Socket* by_conn(ConnId c);
  Socket& adopt(ConnId c);  ///< a socket for a connection from an accept queue
  void apply_options(Socket& s);  ///< push the socket's options to its connection

  Stack& stack_;
  std::map<int, Socket> fds_;
  std::unordered_map<std::uint32_t, int> conn_fd_;     ///< conn slot -> fd
  std::unordered_map<std::uint32_t, Socket> pending_;  ///< accepted-queue conns, no fd yet
  static constexpr int kFirstFd = 3;  ///< 0-2 are stdio, as packetdrill scripts expect
  [[nodiscard]] int lowest_free_fd() const;
};

}  // namespace riptide
