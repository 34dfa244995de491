// HTTP/1.1 request framing for riptide-httpd: just enough of RFC 9112 to answer
// curl, wrk and ab correctly: request line and headers, keep-alive vs close,
// Content-Length bodies skipped (so pipelined requests stay in step), and a clear
// "bad request" for anything else. No allocation per request beyond the
// connection's header buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace riptide::apps {

struct HttpRequest {
  std::string_view method;
  std::string_view target;
  bool head = false;        // HEAD: headers only
  bool keep_alive = true;   // HTTP/1.1 default; "Connection: close" or HTTP/1.0 without keep-alive -> false
};

enum class HttpParse : std::uint8_t { NeedMore, Request, Bad, TooLarge };

// Accumulates bytes of one connection and yields requests in order.
class HttpFramer {
 public:
  static constexpr std::size_t kMaxHead = 8192;

  // Appends received bytes (copied: on_data views die with the callback).
  void feed(std::span<const std::byte> data) {
    buf_.append(reinterpret_cast<const char*>(data.data()), data.size());
  }
  // The next complete request, if any. After Request, call consume() once done.
  HttpParse next(HttpRequest& out);
  void consume();
  [[nodiscard]] std::size_t buffered() const noexcept { return buf_.size(); }

 private:
  std::string buf_;
  std::size_t consumed_ = 0;  // bytes of the current request (head + body)
};

// "HTTP/1.1 200 OK" head for a body of `body_len` bytes.
std::string http_response_head(std::size_t body_len, bool keep_alive);
std::string http_bad_request();

}  // namespace riptide::apps
