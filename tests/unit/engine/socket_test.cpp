// The socket-style layer over the Stack: the calls a .pkt script makes, their
// return values and errno, and what reaches the wire.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "harness.hpp"
#include "stack/socket.hpp"

namespace riptide::testing {
namespace {

std::span<const std::byte> bytes(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

class SocketTest : public ::testing::Test {
 protected:
  SocketLayer sk{h.stack};
  Harness h;
  std::string read_all(int fd) {
    std::array<std::byte, 4096> buf{};
    long n = sk.read(fd, buf);
    return n > 0 ? std::string(reinterpret_cast<const char*>(buf.data()), static_cast<std::size_t>(n)) : "";
  }
  int listening() {
    const long fd = sk.socket();
    EXPECT_EQ(fd, 3);
    EXPECT_EQ(sk.bind(static_cast<int>(fd), Ipv4Addr{}, h.local_port), 0);
    EXPECT_EQ(sk.listen(static_cast<int>(fd), 1), 0);
    EXPECT_EQ(sk.tcp_state(static_cast<int>(fd)), State::Listen);
    return static_cast<int>(fd);
  }
};

TEST_F(SocketTest, PassiveOpenAcceptReadWriteClose) {
  const int lfd = listening();
  EXPECT_EQ(sk.accept(lfd), -EAGAIN);
  EXPECT_TRUE(sk.would_block(lfd, SockOp::Accept));
  h.in("S", 0);
  h.expect("S.", 0, 1);
  h.in("P.", 1, 1, "hello");  // data before accept() waits in the socket
  h.expect(".", 1, 6);
  IpAddr peer;
  std::uint16_t port = 0;
  const long fd = sk.accept(lfd, &peer, &port);
  ASSERT_EQ(fd, 4);
  EXPECT_EQ(peer, IpAddr{h.remote});
  EXPECT_EQ(port, h.remote_port);
  EXPECT_EQ(sk.tcp_state(4), State::Established);
  EXPECT_EQ(read_all(4), "hello");
  EXPECT_EQ(sk.read(4, std::span<std::byte>{}), -EAGAIN);
  EXPECT_EQ(sk.write(4, bytes("world")), 5);
  h.expect("P.", 1, 6, "world");
  EXPECT_EQ(sk.close(4), 0);
  h.expect("F.", 6, 6);
}

TEST_F(SocketTest, PeekLeavesDataInPlace) {
  const int lfd = listening();
  h.in("S", 0);
  h.take();
  h.in("P.", 1, 1, "abc");
  h.take();
  const int fd = static_cast<int>(sk.accept(lfd));
  std::array<std::byte, 8> buf{};
  EXPECT_EQ(sk.read(fd, buf, MSG_PEEK), 3);
  EXPECT_EQ(read_all(fd), "abc");
}

TEST_F(SocketTest, UnreadDataHoldsTheWindowShut) {
  StackConfig cfg = default_config();
  cfg.tcp.rcv_buf = 8;
  Harness h2(cfg);
  SocketLayer s2(h2.stack);
  const int lfd = static_cast<int>(s2.socket());
  ASSERT_EQ(s2.bind(lfd, Ipv4Addr{}, h2.local_port), 0);
  ASSERT_EQ(s2.listen(lfd, 4), 0);
  h2.in("S", 0);
  h2.take();
  h2.in(".", 1, 1);
  const int fd = static_cast<int>(s2.accept(lfd));
  h2.in("P.", 1, 1, "12345678");
  EXPECT_EQ(h2.expect(".", 1, 9).win, 0);
  std::array<std::byte, 8> buf{};
  EXPECT_EQ(s2.read(fd, buf), 8);
  EXPECT_EQ(h2.expect(".", 1, 9).win, 8) << "window update after the read";
}

TEST_F(SocketTest, NonBlockingConnectCompletes) {
  const int fd = static_cast<int>(sk.socket());
  ASSERT_EQ(sk.fcntl(fd, F_SETFL, O_NONBLOCK), 0);
  EXPECT_EQ(sk.fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
  EXPECT_EQ(sk.connect(fd, h.remote, h.remote_port), -EINPROGRESS);
  EXPECT_EQ(sk.tcp_state(fd), State::SynSent);
  EXPECT_TRUE(sk.would_block(fd, SockOp::Connect));
  h.local_port = sk.info(fd)->key.local_port;
  h.expect("S", 0, 0);
  h.in("S.", 0, 1);
  h.expect(".", 1, 1);
  EXPECT_FALSE(sk.would_block(fd, SockOp::Connect));
  EXPECT_EQ(sk.connect(fd, h.remote, h.remote_port), -EISCONN);
  EXPECT_EQ(sk.tcp_state(fd), State::Established);
}

TEST_F(SocketTest, RefusedConnectReportsEconnrefused) {
  const int fd = static_cast<int>(sk.socket());
  EXPECT_EQ(sk.connect(fd, h.remote, h.remote_port), -EINPROGRESS);
  h.local_port = sk.info(fd)->key.local_port;
  h.expect("S", 0, 0);
  h.in("R.", 0, 1);
  int err = 0;
  std::size_t len = 0;
  ASSERT_EQ(sk.getsockopt(fd, SOL_SOCKET, SO_ERROR, std::as_writable_bytes(std::span(&err, 1)), &len), 0);
  EXPECT_EQ(err, ECONNREFUSED);
  EXPECT_EQ(sk.tcp_state(fd), State::Closed);
}

TEST_F(SocketTest, PeerResetMakesReadFail) {
  const int lfd = listening();
  h.in("S", 0);
  h.take();
  h.in(".", 1, 1);
  const int fd = static_cast<int>(sk.accept(lfd));
  h.in("R", 1);
  std::array<std::byte, 8> buf{};
  EXPECT_EQ(sk.read(fd, buf), -ECONNRESET);
  EXPECT_EQ(sk.write(fd, bytes("x")), -ECONNRESET);
}

TEST_F(SocketTest, CloseWithUnreadDataSendsRst) {
  const int lfd = listening();
  h.in("S", 0);
  h.take();
  h.in("P.", 1, 1, "unread");
  h.take();
  const int fd = static_cast<int>(sk.accept(lfd));
  EXPECT_EQ(sk.close(fd), 0);
  h.expect("R.", 1, 7);  // RFC 2525 2.17 (RST|ACK as Linux)
}

TEST_F(SocketTest, LingerZeroCloseSendsRst) {
  const int lfd = listening();
  h.in("S", 0);
  h.take();
  h.in(".", 1, 1);
  const int fd = static_cast<int>(sk.accept(lfd));
  struct linger l {1, 0};
  ASSERT_EQ(sk.setsockopt(fd, SOL_SOCKET, SO_LINGER, std::as_bytes(std::span(&l, 1))), 0);
  EXPECT_EQ(sk.close(fd), 0);
  h.expect("R.", 1, 1);
}

TEST_F(SocketTest, HalfCloseThenTimeWaitIsVisible) {
  const int lfd = listening();
  h.in("S", 0);
  h.take();
  h.in(".", 1, 1);
  const int fd = static_cast<int>(sk.accept(lfd));
  ASSERT_EQ(sk.shutdown(fd, SHUT_WR), 0);
  h.expect("F.", 1, 1);
  EXPECT_EQ(sk.tcp_state(fd), State::FinWait1);
  EXPECT_EQ(sk.write(fd, bytes("x")), -EPIPE);
  h.in("P.", 1, 2, "still");
  h.expect(".", 2, 6);
  EXPECT_EQ(sk.tcp_state(fd), State::FinWait2);
  EXPECT_EQ(read_all(fd), "still");
  h.in("F.", 6, 2);
  h.expect(".", 2, 7);
  EXPECT_EQ(sk.tcp_state(fd), State::TimeWait);
  EXPECT_EQ(sk.read(fd, std::span<std::byte>{}), 0) << "EOF";
  h.advance(std::chrono::seconds{61});
  EXPECT_EQ(sk.tcp_state(fd), State::Closed);
}

TEST_F(SocketTest, OptionsTheStackLacksAreEnoprotoopt) {
  const int fd = static_cast<int>(sk.socket());
  int one = 1;
  EXPECT_EQ(sk.setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, std::as_bytes(std::span(&one, 1))), -ENOPROTOOPT);
  EXPECT_EQ(sk.setsockopt(fd, IPPROTO_TCP, TCP_CORK, std::as_bytes(std::span(&one, 1))), -ENOPROTOOPT);
  EXPECT_EQ(sk.setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, std::as_bytes(std::span(&one, 1))), 0);
  int zero = 0;
  EXPECT_EQ(sk.setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, std::as_bytes(std::span(&zero, 1))), -EINVAL);
  EXPECT_EQ(sk.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, std::as_bytes(std::span(&one, 1))), 0);
  EXPECT_EQ(sk.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, std::as_bytes(std::span(&one, 1))), 0);
}

TEST_F(SocketTest, BadFdIsEbadf) {
  EXPECT_EQ(sk.close(42), -EBADF);
  EXPECT_EQ(sk.read(42, std::span<std::byte>{}), -EBADF);
  EXPECT_EQ(sk.listen(42, 1), -EBADF);
}

TEST_F(SocketTest, ListenWithoutBindIsEinval) {
  const int fd = static_cast<int>(sk.socket());
  EXPECT_EQ(sk.listen(fd, 1), -EINVAL);
}

}  // namespace
}  // namespace riptide::testing
