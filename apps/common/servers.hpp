// The application logic of riptide-httpd and riptide-echo, as Handlers over a
// Stack: independent of how the stack is driven (DPDK runtime or an in-memory
// link in tests).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/http.hpp"
#include "stack/stack.hpp"

namespace riptide::apps {

struct ServerStats {
  std::uint64_t connections = 0;
  std::uint64_t requests = 0;
  std::uint64_t bad_requests = 0;
  std::uint64_t bytes_echoed = 0;
};

// HTTP/1.1: a fixed body of body_size bytes for every request; keep-alive unless
// the client says close (or speaks HTTP/1.0 without keep-alive); 400 and close on
// garbage; pipelined requests answered in order; back-pressure through
// on_writable and the receive window.
class HttpServer final : public Handler {
 public:
  explicit HttpServer(std::size_t body_size);
  [[nodiscard]] const ServerStats& stats() const noexcept { return stats_; }

  void on_accept(Stack& s, ConnId c) override;
  void on_data(Stack& s, ConnId c, std::span<const std::byte> data) override;
  void on_writable(Stack& s, ConnId c) override { pump(s, c); }
  void on_peer_closed(Stack& s, ConnId c) override;
  void on_closed(Stack& s, ConnId c, CloseReason r) override;

 private:
  struct Response {
    std::string head;
    std::size_t head_sent = 0;
    std::size_t body_left = 0;
    std::size_t body_total = 0;  // so the pattern continues across partial sends
  };
  struct Conn {
    std::uint32_t generation = 0;
    HttpFramer framer;
    std::deque<Response> out;
    bool close_after = false;  // close once `out` is written
    bool closing = false;
  };
  Conn* find(ConnId c);
  void pump(Stack& s, ConnId c);

  std::size_t body_size_;
  std::string pattern_;  // body bytes are slices of this
  std::unordered_map<std::uint32_t, Conn> conns_;
  ServerStats stats_;
};

// Echo: everything received is sent back; the peer's FIN is answered with ours
// once the echo is out. Unsent bytes hold the receive window shut (back-pressure).
class EchoServer final : public Handler {
 public:
  [[nodiscard]] const ServerStats& stats() const noexcept { return stats_; }
  void on_accept(Stack& s, ConnId c) override;
  void on_data(Stack& s, ConnId c, std::span<const std::byte> data) override;
  void on_writable(Stack& s, ConnId c) override;
  void on_peer_closed(Stack& s, ConnId c) override;
  void on_closed(Stack& s, ConnId c, CloseReason r) override;

 private:
  // One record per connection slot, kept (with its buffer's capacity) across
  // connections: no allocation per connection once the slots have been used.
  struct Conn {
    std::uint32_t generation = 0;
    bool used = false;
    bool peer_closed = false;
    std::uint32_t held = 0;  // what set_receive_held() was last told
    std::string out;         // received, not yet accepted by send()
  };
  Conn* find(ConnId c) noexcept;
  void pump(Stack& s, ConnId c, Conn& k);
  std::vector<Conn> conns_;
  ServerStats stats_;
};

}  // namespace riptide::apps
