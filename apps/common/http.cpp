#include "common/http.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace riptide::apps {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_token(std::string_view s) {  // RFC 9110 5.6.2 tchar, roughly
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

HttpParse HttpFramer::next(HttpRequest& out) {
  const std::string_view all(buf_);
  const auto end = all.find("\r\n\r\n");
  if (end == std::string_view::npos) return all.size() > kMaxHead ? HttpParse::TooLarge : HttpParse::NeedMore;
  if (end + 4 > kMaxHead) return HttpParse::TooLarge;
  std::string_view head = all.substr(0, end);
  // Request line: method SP target SP HTTP/1.x (RFC 9112 3).
  const auto eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return HttpParse::Bad;
  out.method = line.substr(0, sp1);
  out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(out.method) || out.target.empty() || out.target.find(' ') != std::string_view::npos) {
    return HttpParse::Bad;
  }
  bool http10 = false;
  if (version == "HTTP/1.0") {
    http10 = true;
  } else if (version != "HTTP/1.1") {
    return HttpParse::Bad;
  }
  out.head = out.method == "HEAD";
  out.keep_alive = !http10;
  std::size_t body = 0;
  bool saw_close = false;
  std::string_view rest = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
  while (!rest.empty()) {
    const auto e = rest.find("\r\n");
    const std::string_view h = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view{} : rest.substr(e + 2);
    const auto colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0 || !is_token(h.substr(0, colon))) return HttpParse::Bad;
    const std::string_view name = h.substr(0, colon);
    const std::string_view value = trim(h.substr(colon + 1));
    if (iequals(name, "connection")) {
      // RFC 9112 9.6: "close" wins; "keep-alive" matters for HTTP/1.0.
      if (has_token(value, "close")) {
        saw_close = true;
      } else if (has_token(value, "keep-alive")) {
        out.keep_alive = true;
      }
    } else if (iequals(name, "content-length")) {
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), body);
      if (ec != std::errc{} || p != value.data() + value.size()) return HttpParse::Bad;
    } else if (iequals(name, "transfer-encoding")) {
      return HttpParse::Bad;  // chunked request bodies are not supported: say so
    }
  }
  if (saw_close) out.keep_alive = false;
  if (all.size() < end + 4 + body) return HttpParse::NeedMore;  // body still arriving
  consumed_ = end + 4 + body;
  return HttpParse::Request;
}

void HttpFramer::consume() {
  buf_.erase(0, consumed_);
  consumed_ = 0;
}

std::string http_response_head(std::size_t body_len, bool keep_alive) {
  std::string h = "HTTP/1.1 200 OK\r\nServer: riptide\r\nContent-Type: text/plain\r\nContent-Length: ";
  h += std::to_string(body_len);
  h += keep_alive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n";
  return h;
}

std::string http_bad_request() {
  return "HTTP/1.1 400 Bad Request\r\nServer: riptide\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
}

}  // namespace riptide::apps
