#include "common/servers.hpp"

#include <algorithm>
#include <charconv>

namespace riptide::apps {

HttpServer::HttpServer(std::size_t body_size) : body_size_(body_size), pattern_(64 * 1024, 'x') {
  for (std::size_t i = 0; i < pattern_.size(); i += 64) pattern_[i + 63 < pattern_.size() ? i + 63 : i] = '\n';
}

HttpServer::Conn* HttpServer::find(ConnId c) {
  auto it = conns_.find(c.slot);
  return it != conns_.end() && it->second.generation == c.generation ? &it->second : nullptr;
}

void HttpServer::on_accept(Stack& s, ConnId c) {
  // Responses are written whole; Nagle would only delay the tail of a large one.
  (void)s.set_nodelay(c, true);
  Conn& k = conns_[c.slot];
  k = Conn{};
  k.generation = c.generation;
  ++stats_.connections;
}

void HttpServer::on_data(Stack& s, ConnId c, std::span<const std::byte> data) {
  Conn* k = find(c);
  if (k == nullptr || k->close_after) return;  // after a 400 or "close", input is ignored
  k->framer.feed(data);
  HttpRequest req;
  for (;;) {
    const HttpParse p = k->framer.next(req);
    if (p == HttpParse::NeedMore) break;
    if (p != HttpParse::Request) {
      ++stats_.bad_requests;
      k->out.push_back(Response{http_bad_request(), 0, 0, 0});
      k->close_after = true;
      break;
    }
    ++stats_.requests;
    // GET /bytes/N: a body of N bytes (up to 1 GiB) instead of --body-size, so one
    // server answers both small requests and large downloads (scripts/soak).
    std::size_t size = body_size_;
    if (req.target.starts_with("/bytes/")) {
      const std::string_view n = req.target.substr(7);
      std::size_t v = 0;
      auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
      if (ec == std::errc{} && p == n.data() + n.size() && v <= (std::size_t{1} << 30)) size = v;
    }
    // Head and (up to 16 KiB of) body go to send() together, so a small response
    // is one segment, not a head that Nagle then makes the body wait behind.
    Response r{http_response_head(size, req.keep_alive), 0, req.head ? 0 : size, req.head ? 0 : size};
    const std::size_t inline_body = std::min<std::size_t>(r.body_left, 16 * 1024);
    r.head.append(pattern_, 0, inline_body);
    r.body_left -= inline_body;
    k->out.push_back(std::move(r));
    k->framer.consume();
    if (!req.keep_alive) {
      k->close_after = true;
      break;
    }
  }
  (void)s.set_receive_held(c, static_cast<std::uint32_t>(k->framer.buffered()));
  pump(s, c);
}

void HttpServer::pump(Stack& s, ConnId c) {
  Conn* k = find(c);
  if (k == nullptr) return;
  while (!k->out.empty()) {
    Response& r = k->out.front();
    if (r.head_sent < r.head.size()) {
      auto n = s.send(c, std::as_bytes(std::span(r.head)).subspan(r.head_sent));
      if (!n) return;
      r.head_sent += *n;
      if (r.head_sent < r.head.size()) return;  // full: on_writable resumes
    }
    while (r.body_left > 0) {
      // Byte i of every body is pattern_[i % size]: bodies are the same every time.
      const std::size_t off = (r.body_total - r.body_left) % pattern_.size();
      const std::size_t chunk = std::min(r.body_left, pattern_.size() - off);
      auto n = s.send(c, std::as_bytes(std::span(pattern_.data() + off, chunk)));
      if (!n) return;
      r.body_left -= *n;
      if (*n < chunk) return;
    }
    k->out.pop_front();
  }
  if (k->close_after && !k->closing) {
    k->closing = true;
    conns_.erase(c.slot);
    (void)s.close(c);  // FIN after the queued response
  }
}

void HttpServer::on_peer_closed(Stack& s, ConnId c) {
  Conn* k = find(c);
  if (k == nullptr) return;
  k->close_after = true;  // answer what was asked, then close
  pump(s, c);
}

void HttpServer::on_closed(Stack&, ConnId c, CloseReason) {
  if (find(c) != nullptr) conns_.erase(c.slot);
}

EchoServer::Conn* EchoServer::find(ConnId c) noexcept {
  if (c.slot >= conns_.size()) return nullptr;
  Conn& k = conns_[c.slot];
  return k.used && k.generation == c.generation ? &k : nullptr;
}

void EchoServer::on_accept(Stack&, ConnId c) {
  if (c.slot >= conns_.size()) conns_.resize(c.slot + 1);
  Conn& k = conns_[c.slot];
  k.used = true;
  k.generation = c.generation;
  k.peer_closed = false;
  k.held = 0;
  k.out.clear();
  ++stats_.connections;
}

void EchoServer::on_data(Stack& s, ConnId c, std::span<const std::byte> data) {
  Conn* k = find(c);
  if (k == nullptr) return;
  if (k->out.empty()) {
    // Nothing queued ahead: hand the bytes straight to the stack (it copies them
    // into the connection's send buffer) and keep only what did not fit.
    const auto n = s.send(c, data);
    const std::size_t sent = n ? *n : 0;
    stats_.bytes_echoed += sent;
    data = data.subspan(sent);
  }
  k->out.append(reinterpret_cast<const char*>(data.data()), data.size());
  pump(s, c, *k);
}

void EchoServer::on_writable(Stack& s, ConnId c) {
  if (Conn* k = find(c)) pump(s, c, *k);
}

void EchoServer::pump(Stack& s, ConnId c, Conn& k) {
  if (!k.out.empty()) {
    auto n = s.send(c, std::as_bytes(std::span(k.out)));
    if (n && *n > 0) {
      stats_.bytes_echoed += *n;
      k.out.erase(0, *n);
    }
  }
  // What could not be sent yet keeps the window shut by as much.
  const auto held = static_cast<std::uint32_t>(k.out.size());
  if (held != k.held) {
    k.held = held;
    (void)s.set_receive_held(c, held);
  }
  if (k.out.empty() && k.peer_closed) {
    k.used = false;
    (void)s.close(c);
  }
}

void EchoServer::on_peer_closed(Stack& s, ConnId c) {
  Conn* k = find(c);
  if (k == nullptr) return;
  k->peer_closed = true;
  pump(s, c, *k);
}

void EchoServer::on_closed(Stack&, ConnId c, CloseReason) {
  if (Conn* k = find(c)) k->used = false;
}

}  // namespace riptide::apps
