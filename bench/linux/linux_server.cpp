// linux-server: the Linux-kernel baseline's server. One thread, epoll,
// non-blocking sockets: for every --request bytes a connection sends, it answers
// --response bytes (--request 0: a sink that only reads, for STREAM). It closes a
// connection when the peer closes, or right after --close-after responses (the
// server closes first, its FIN riding on the last response, as riptide-httpd does
// for "Connection: close").
//
//   linux-server [--addr 127.0.0.1] [--port 9000] [--request 64] [--response 64]
//                [--close-after N] [--backlog 4096]
//
// Prints "linux-server: listening on ADDR:PORT" once it accepts, and on SIGINT or
// SIGTERM one line with what it did. Socket options, as kernel benchmarks set them
// (netperf, neper): SO_REUSEADDR on the listener (restarts do not wait out
// TIME-WAIT), TCP_NODELAY on every connection (responses go out at once); no
// SO_LINGER (closes are ordinary FIN exchanges, as riptide's are).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <vector>

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct Conn {
  std::uint32_t pending_request = 0;  // bytes of the current request still to come
  std::uint64_t owed = 0;             // response bytes not yet written
  std::uint32_t responses = 0;
  bool open = false;
};

struct Stats {
  std::uint64_t connections = 0, requests = 0, bytes_in = 0, bytes_out = 0, resets = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"linux-server: epoll server for the Linux-kernel baseline of scripts/bench", "linux-server"};
  std::string addr = "127.0.0.1";
  std::uint16_t port = 9000;
  std::uint32_t request = 64, response = 64, close_after = 0, backlog = 4096;
  app.add_option("--addr", addr, "address to listen on");
  app.add_option("--port", port, "TCP port");
  app.add_option("--request", request, "request size in bytes (0: read and discard everything)");
  app.add_option("--response", response, "response size in bytes, one per request");
  app.add_option("--close-after", close_after, "close after this many responses (0: when the peer closes)");
  app.add_option("--backlog", backlog, "listen() backlog");
  CLI11_PARSE(app, argc, argv);

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) != 1) {
    std::fprintf(stderr, "linux-server: bad --addr %s\n", addr.c_str());
    return 1;
  }
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(lfd, static_cast<int>(backlog)) != 0) {
    std::fprintf(stderr, "linux-server: %s:%u: %s\n", addr.c_str(), port, std::strerror(errno));
    return 1;
  }
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.fd = lfd;
  ::epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  std::printf("linux-server: listening on %s:%u\n", addr.c_str(), port);
  std::fflush(stdout);

  std::vector<Conn> conns(1024);
  std::vector<char> buf(256 * 1024);
  std::vector<char> zeros(64 * 1024, 'r');
  Stats st;
  auto close_conn = [&](int fd) {
    conns[static_cast<std::size_t>(fd)].open = false;
    ::close(fd);  // also removes it from the epoll set
  };
  // Writes what is owed; false when the connection is gone.
  auto flush = [&](int fd, Conn& c) {
    while (c.owed > 0) {
      const ssize_t n = ::send(fd, zeros.data(), std::min<std::uint64_t>(c.owed, zeros.size()), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN) {
          epoll_event ev{};
          ev.events = EPOLLIN | EPOLLOUT;
          ev.data.fd = fd;
          ::epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
          return true;
        }
        ++st.resets;
        close_conn(fd);
        return false;
      }
      c.owed -= static_cast<std::uint64_t>(n);
      st.bytes_out += static_cast<std::uint64_t>(n);
    }
    if (close_after != 0 && c.responses >= close_after) {
      close_conn(fd);
      return false;
    }
    return true;
  };

  std::vector<epoll_event> events(256);
  while (g_stop == 0) {
    const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 200);
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      if (fd == lfd) {
        for (;;) {
          const int cfd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (cfd < 0) break;
          ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          if (static_cast<std::size_t>(cfd) >= conns.size()) conns.resize(static_cast<std::size_t>(cfd) * 2);
          conns[static_cast<std::size_t>(cfd)] = Conn{request, 0, 0, true};
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.fd = cfd;
          ::epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
          ++st.connections;
        }
        continue;
      }
      Conn& c = conns[static_cast<std::size_t>(fd)];
      if (!c.open) continue;
      if ((events[static_cast<std::size_t>(i)].events & EPOLLOUT) != 0) {
        if (!flush(fd, c)) continue;
        if (c.owed == 0) {
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.fd = fd;
          ::epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        }
      }
      if ((events[static_cast<std::size_t>(i)].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) == 0) continue;
      for (;;) {
        const ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
        if (r == 0) {  // the peer's FIN: answer with ours
          close_conn(fd);
          break;
        }
        if (r < 0) {
          if (errno != EAGAIN) {
            ++st.resets;
            close_conn(fd);
          }
          break;
        }
        st.bytes_in += static_cast<std::uint64_t>(r);
        if (request == 0) continue;  // sink
        auto left = static_cast<std::uint64_t>(r);
        while (left > 0) {
          const std::uint64_t take = std::min<std::uint64_t>(left, c.pending_request);
          c.pending_request -= static_cast<std::uint32_t>(take);
          left -= take;
          if (c.pending_request == 0) {
            c.pending_request = request;
            c.owed += response;
            ++c.responses;
            ++st.requests;
          }
        }
        if (!flush(fd, c)) break;
        if (static_cast<std::size_t>(r) < buf.size()) break;  // drained (saves one EAGAIN recv)
      }
    }
  }
  std::printf("linux-server: %llu connections, %llu requests, %llu bytes in, %llu bytes out, %llu resets\n",
              static_cast<unsigned long long>(st.connections), static_cast<unsigned long long>(st.requests),
              static_cast<unsigned long long>(st.bytes_in), static_cast<unsigned long long>(st.bytes_out),
              static_cast<unsigned long long>(st.resets));
  return 0;
}
