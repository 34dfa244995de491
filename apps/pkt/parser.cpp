// packetdrill script parser: a hand-written recursive descent over the text with
// line/column tracking. Every construct it does not understand is a ParseFailure
// naming the position; nothing is silently skipped except what packetdrill itself
// treats as opaque (shell lines in backticks, %{ }% blocks), which the runner
// reports as skipped.
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>
#include <string_view>

#include "script.hpp"
#include "wire/tcp.hpp"

namespace riptide::pkt {

namespace {

using namespace riptide::wire::tcp_flags;

class Parser {
 public:
  Parser(const std::string& path, const std::string& text) : text_(text) { script_.path = path; }

  std::variant<Script, ParseFailure> run() {
    try_run();
    if (failure_) return *failure_;
    return std::move(script_);
  }

 private:
  // --- cursor ------------------------------------------------------------------------
  bool eof() const { return i_ >= text_.size(); }
  char peek(std::size_t ahead = 0) const { return i_ + ahead < text_.size() ? text_[i_ + ahead] : '\0'; }
  SourcePos pos() const { return {line_, col_}; }
  void advance(std::size_t n = 1) {
    for (std::size_t k = 0; k < n && !eof(); ++k) {
      if (text_[i_] == '\n') {
        ++line_;
        col_ = 1;
      } else {
        ++col_;
      }
      ++i_;
    }
  }
  bool starts(std::string_view s) const { return text_.compare(i_, s.size(), s) == 0; }

  // Skips blanks and comments; crosses newlines only when `lines` is true.
  void skip(bool lines = true) {
    for (;;) {
      const char c = peek();
      if (c == ' ' || c == '\t' || c == '\r' || (lines && c == '\n')) {
        advance();
      } else if (starts("//")) {
        while (!eof() && peek() != '\n') advance();
      } else if (starts("/*")) {
        advance(2);
        while (!eof() && !starts("*/")) advance();
        advance(2);
      } else {
        return;
      }
    }
  }
  bool at_line_end() {
    skip(false);
    return eof() || peek() == '\n';
  }

  bool fail(SourcePos p, std::string msg) {
    if (!failure_) failure_ = ParseFailure{p, std::move(msg)};
    return false;
  }
  bool expect(char c) {
    skip();
    if (peek() != c) return fail(pos(), std::string("expected '") + c + "'");
    advance();
    return true;
  }

  std::string ident() {
    std::string s;
    while (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '_') {
      s += peek();
      advance();
    }
    return s;
  }

  // An unsigned integer, decimal or 0x hex.
  std::optional<std::uint64_t> integer() {
    std::size_t start = i_;
    int base = 10;
    if (starts("0x") || starts("0X")) {
      base = 16;
      advance(2);
      start = i_;
    }
    while (std::isxdigit(static_cast<unsigned char>(peek())) &&
           (base == 16 || std::isdigit(static_cast<unsigned char>(peek())))) {
      advance();
    }
    if (i_ == start) return std::nullopt;
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(text_.data() + start, text_.data() + i_, v, base);
    if (ec != std::errc{}) return std::nullopt;
    return v;
  }

  // Seconds as written ("1", "0.100", ".1") in microseconds.
  std::optional<std::int64_t> seconds() {
    std::string s;
    while (std::isdigit(static_cast<unsigned char>(peek())) || (peek() == '.' && peek(1) != '.')) {
      s += peek();
      advance();
    }
    if (s.empty() || s == ".") return std::nullopt;
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    return static_cast<std::int64_t>(std::llround(v * 1e6));
  }

  // --- script --------------------------------------------------------------------------
  void try_run() {
    skip();
    while (!eof() && !failure_) {
      if (starts("--")) {
        header_option();
      } else {
        event();
      }
      skip();
    }
  }

  void header_option() {
    advance(2);
    std::string name;
    while (!eof() && peek() != '=' && !std::isspace(static_cast<unsigned char>(peek()))) {
      name += peek();
      advance();
    }
    std::string value;
    if (peek() == '=') {
      advance();
      while (!eof() && peek() != '\n' && peek() != ' ' && peek() != '\t') {
        value += peek();
        advance();
      }
    }
    script_.options.emplace_back(name, value);
  }

  void event() {
    Event ev;
    ev.pos = pos();
    if (peek() == '`' || starts("%{")) {
      // packetdrill lets shell and %{ }% lines stand without a time: "+0".
      ev.time.kind = EventTime::Kind::Relative;
    } else if (!event_time(ev.time)) {
      return;
    }
    skip(false);
    bool blocking = false;
    bool end_relative = false;
    std::int64_t end_us = 0;
    if (starts("...")) {
      advance(3);
      const bool rel = peek() == '+';
      end_relative = rel;
      if (rel) advance();
      auto e = seconds();
      if (!e) {
        fail(pos(), "expected the end time of a blocking call after '...'");
        return;
      }
      blocking = true;
      end_us = *e;
      skip(false);
    }
    const SourcePos body_pos = pos();
    if (peek() == '<' || peek() == '>') {
      PacketEvent p;
      if (!packet(p)) return;
      ev.body = std::move(p);
    } else if (starts("%{")) {
      CommandEvent c;
      if (!command(c)) return;
      ev.body = std::move(c);
    } else if (peek() == '`') {
      advance();
      ShellEvent sh;
      while (!eof() && peek() != '`') {
        sh.text += peek();
        advance();
      }
      if (eof()) {
        fail(body_pos, "unterminated `shell command`");
        return;
      }
      advance();
      ev.body = std::move(sh);
    } else if (std::isalpha(static_cast<unsigned char>(peek()))) {
      SyscallEvent sc;
      if (!syscall(sc)) return;
      sc.blocking = blocking;
      sc.end_us = end_us;
      sc.end_relative = end_relative;
      ev.body = std::move(sc);
    } else {
      fail(body_pos, "expected a packet ('<' or '>'), a system call, %{ }% or `command`");
      return;
    }
    if (blocking && !std::holds_alternative<SyscallEvent>(ev.body)) {
      fail(ev.pos, "'start...end' times are only for system calls");
      return;
    }
    if (!at_line_end()) {
      fail(pos(), "unexpected text after the event");
      return;
    }
    script_.events.push_back(std::move(ev));
  }

  bool event_time(EventTime& t) {
    if (peek() == '*') {
      advance();
      t.kind = EventTime::Kind::Any;
      return true;
    }
    if (peek() == '+') {
      advance();
      t.kind = EventTime::Kind::Relative;
    }
    auto v = seconds();
    if (!v) return fail(pos(), "expected an event time (e.g. 0, +0.1, *)");
    t.us = *v;
    if (peek() == '~') {
      advance();
      t.range_end_relative = peek() == '+';
      if (t.range_end_relative) advance();
      auto e = seconds();
      if (!e) return fail(pos(), "expected the end of a time range after '~'");
      t.range_end_us = *e;
    }
    return true;
  }

  // --- packets -------------------------------------------------------------------------
  bool packet(PacketEvent& p) {
    const std::size_t start = i_;
    p.inbound = peek() == '<';
    advance();
    skip(false);
    const SourcePos fpos = pos();
    std::string flags;
    while (!eof() && !std::isspace(static_cast<unsigned char>(peek()))) {
      flags += peek();
      advance();
    }
    for (char c : flags) {
      switch (c) {
        case 'S': p.flags |= kSyn; break;
        case 'F': p.flags |= kFin; break;
        case 'R': p.flags |= kRst; break;
        case 'P': p.flags |= kPsh; break;
        case '.': p.flags |= kAck; break;
        case 'U': p.flags |= kUrg; break;
        case 'E': p.flags |= kEce; break;
        case 'W': p.flags |= kCwr; break;
        default: return fail(fpos, "unknown TCP flag '" + std::string(1, c) + "' in '" + flags + "'");
      }
    }
    if (flags.empty()) return fail(fpos, "expected TCP flags");
    skip(false);
    // seq start:end(len), required (packetdrill allows omitting it only for
    // some outbound forms; riptide asks for it always).
    if (!std::isdigit(static_cast<unsigned char>(peek()))) {
      return fail(pos(), "expected sequence numbers start:end(length)");
    }
    auto s = integer();
    if (!s || peek() != ':') return fail(pos(), "expected ':' in start:end(length)");
    advance();
    auto e = integer();
    if (!e || peek() != '(') return fail(pos(), "expected '(' in start:end(length)");
    advance();
    auto l = integer();
    if (!l || peek() != ')') return fail(pos(), "expected ')' in start:end(length)");
    advance();
    p.seq_start = static_cast<std::uint32_t>(*s);
    p.seq_end = static_cast<std::uint32_t>(*e);
    p.payload_len = static_cast<std::uint32_t>(*l);
    if (static_cast<std::uint32_t>(p.seq_end - p.seq_start) != p.payload_len) {
      return fail(pos(), "start:end(length) disagree: end - start must equal the length");
    }
    for (;;) {
      if (at_line_end()) break;
      const SourcePos kpos = pos();
      if (peek() == '<') {
        if (!options(p)) return false;
        continue;
      }
      if (peek() == '[') return fail(kpos, "ECN/IP annotations in [...] are not supported");
      const std::string kw = ident();
      skip(false);
      if (kw == "ack" || kw == "win" || kw == "urg") {
        auto v = integer();
        if (!v) return fail(pos(), "expected a number after '" + kw + "'");
        if (kw == "ack") p.ack = static_cast<std::uint32_t>(*v);
        if (kw == "win") p.window = static_cast<std::uint32_t>(*v);
        continue;
      }
      return fail(kpos, kw.empty() ? "unexpected character in packet" : "unknown packet field '" + kw + "'");
    }
    if ((p.flags & kAck) && !p.ack && p.inbound) return fail(fpos, "an inbound ACK needs 'ack N'");
    p.text = text_.substr(start, i_ - start);
    while (!p.text.empty() && std::isspace(static_cast<unsigned char>(p.text.back()))) p.text.pop_back();
    return true;
  }

  bool options(PacketEvent& p) {
    advance();  // '<'
    skip(false);
    if (starts("...")) {
      advance(3);
      p.any_options = true;
      skip(false);
      if (peek() != '>') return fail(pos(), "expected '>' after '<...'");
      advance();
      return true;
    }
    std::vector<ScriptOption> opts;
    for (;;) {
      skip(false);
      const SourcePos opos = pos();
      const std::string name = ident();
      ScriptOption o;
      skip(false);
      if (name == "nop") {
        o.kind = ScriptOption::Kind::Nop;
      } else if (name == "eol") {
        o.kind = ScriptOption::Kind::Eol;
      } else if (name == "sackOK") {
        o.kind = ScriptOption::Kind::SackPermitted;
      } else if (name == "mss" || name == "wscale") {
        o.kind = name == "mss" ? ScriptOption::Kind::Mss : ScriptOption::Kind::WindowScale;
        auto v = integer();
        if (!v) return fail(pos(), "expected a number after '" + name + "'");
        o.value = static_cast<std::uint32_t>(*v);
      } else if (name == "TS") {
        o.kind = ScriptOption::Kind::Timestamp;
        if (ident() != "val") return fail(pos(), "expected 'val' in 'TS val N ecr N'");
        skip(false);
        auto v = integer();
        skip(false);
        if (!v || ident() != "ecr") return fail(pos(), "expected 'ecr' in 'TS val N ecr N'");
        skip(false);
        auto e = integer();
        if (!e) return fail(pos(), "expected a number after 'ecr'");
        o.ts_val = static_cast<std::uint32_t>(*v);
        o.ts_ecr = static_cast<std::uint32_t>(*e);
      } else if (name == "sack") {
        o.kind = ScriptOption::Kind::Sack;
        while (std::isdigit(static_cast<unsigned char>(peek()))) {
          auto a = integer();
          if (!a || peek() != ':') return fail(pos(), "expected 'left:right' in a sack block");
          advance();
          auto b = integer();
          if (!b) return fail(pos(), "expected 'left:right' in a sack block");
          o.sack.emplace_back(static_cast<std::uint32_t>(*a), static_cast<std::uint32_t>(*b));
          skip(false);
        }
        if (o.sack.empty()) return fail(pos(), "expected at least one sack block");
      } else {
        return fail(opos, name.empty() ? "expected a TCP option" : "unsupported TCP option '" + name + "'");
      }
      opts.push_back(std::move(o));
      skip(false);
      if (peek() == ',') {
        advance();
        continue;
      }
      if (peek() == '>') {
        advance();
        break;
      }
      return fail(pos(), "expected ',' or '>' in the option list");
    }
    p.options = std::move(opts);
    return true;
  }

  // --- %{ }% ------------------------------------------------------------------------------
  bool command(CommandEvent& c) {
    const SourcePos start = pos();
    advance(2);
    while (!eof() && !starts("}%")) {
      c.text += peek();
      advance();
    }
    if (eof()) return fail(start, "unterminated %{ ... }%");
    advance(2);
    // Only `assert tcpi_state == NAME` (optionally `, message`) is understood.
    std::string t = c.text;
    auto trim = [](std::string s) {
      const auto b = s.find_first_not_of(" \t\r\n");
      const auto e = s.find_last_not_of(" \t\r\n");
      return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    };
    t = trim(t);
    for (const char* field : {"snd_cwnd", "snd_ssthresh"}) {
      const std::string p = std::string("assert tcpi_") + field;
      if (t.rfind(p, 0) != 0) continue;
      std::string rest = trim(t.substr(p.size()));
      if (rest.rfind("==", 0) != 0) continue;
      rest = trim(rest.substr(2));
      std::size_t k = 0;
      std::int64_t v = 0;
      while (k < rest.size() && std::isdigit(static_cast<unsigned char>(rest[k]))) v = v * 10 + (rest[k++] - '0');
      const std::string tail = trim(rest.substr(k));
      if (k > 0 && (tail.empty() || tail[0] == ',') && tail.find('\n') == std::string::npos) {
        c.tcpi_field = field;
        c.tcpi_value = v;
      }
    }
    const std::string prefix = "assert tcpi_state";
    if (t.rfind(prefix, 0) == 0) {
      std::string rest = trim(t.substr(prefix.size()));
      if (rest.rfind("==", 0) == 0) {
        rest = trim(rest.substr(2));
        std::string name;
        std::size_t k = 0;
        while (k < rest.size() && (std::isalnum(static_cast<unsigned char>(rest[k])) || rest[k] == '_')) {
          name += rest[k++];
        }
        const std::string tail = trim(rest.substr(k));
        if (!name.empty() && (tail.empty() || tail[0] == ',') && tail.find('\n') == std::string::npos) {
          c.tcpi_state = name;
        }
      }
    }
    return true;
  }

  // --- system calls -------------------------------------------------------------------------
  bool syscall(SyscallEvent& s) {
    s.name = ident();
    skip(false);
    if (peek() != '(') return fail(pos(), "expected '(' after '" + s.name + "'");
    advance();
    skip();
    if (peek() != ')') {
      for (;;) {
        Expr e;
        if (!expr(e)) return false;
        s.args.push_back(std::move(e));
        skip();
        if (peek() == ',') {
          advance();
          skip();
          continue;
        }
        break;
      }
    }
    if (!expect(')')) return false;
    if (!expect('=')) return false;
    skip(false);
    bool neg = false;
    if (peek() == '-') {
      neg = true;
      advance();
    }
    auto r = integer();
    if (!r) return fail(pos(), "expected the return value after '='");
    s.expected_result = neg ? -static_cast<std::int64_t>(*r) : static_cast<std::int64_t>(*r);
    skip(false);
    // packetdrill's grammar: `expression opt_errno opt_note`.
    if (std::isupper(static_cast<unsigned char>(peek()))) {
      s.expected_errno = ident();
      skip(false);
    }
    return note();
  }

  // opt_note: "(Operation now in progress)" after an errno, "(flags O_RDWR)" after a
  // value. Free text in balanced parentheses, ignored.
  bool note() {
    if (peek() != '(') return true;
    int depth = 0;
    do {
      if (peek() == '(') ++depth;
      if (peek() == ')') --depth;
      advance();
    } while (!eof() && depth > 0 && peek() != '\n');
    if (depth != 0) return fail(pos(), "unbalanced '(' in the note after the return value");
    return true;
  }

  bool expr(Expr& out) {
    Expr first;
    if (!primary(first)) return false;
    skip();
    if (peek() != '|') {
      out = std::move(first);
      return true;
    }
    out.kind = Expr::Kind::BitOr;
    out.pos = first.pos;
    out.items.push_back(std::move(first));
    while (peek() == '|') {
      advance();
      skip();
      Expr next;
      if (!primary(next)) return false;
      out.items.push_back(std::move(next));
      skip();
    }
    return true;
  }

  bool primary(Expr& e) {
    skip();
    e.pos = pos();
    if (starts("...")) {
      advance(3);
      e.kind = Expr::Kind::Ellipsis;
      return true;
    }
    if (peek() == '-' || std::isdigit(static_cast<unsigned char>(peek()))) {
      const bool neg = peek() == '-';
      if (neg) advance();
      auto v = integer();
      if (!v) return fail(pos(), "expected a number");
      e.kind = Expr::Kind::Integer;
      e.integer = neg ? -static_cast<std::int64_t>(*v) : static_cast<std::int64_t>(*v);
      return true;
    }
    if (peek() == '"') {
      advance();
      e.kind = Expr::Kind::String;
      while (!eof() && peek() != '"' && peek() != '\n') {
        e.name += peek();
        advance();
      }
      if (peek() != '"') return fail(e.pos, "unterminated string");
      advance();
      return true;
    }
    if (peek() == '[') {
      advance();
      e.kind = Expr::Kind::List;
      skip();
      while (peek() != ']') {
        Expr item;
        if (!expr(item)) return false;
        e.items.push_back(std::move(item));
        skip();
        if (peek() == ',') {
          advance();
          skip();
        } else if (peek() != ']') {
          return fail(pos(), "expected ',' or ']'");
        }
      }
      advance();
      return true;
    }
    if (peek() == '{') {
      advance();
      e.kind = Expr::Kind::Struct;
      skip();
      while (peek() != '}') {
        const std::string field = ident();
        if (field.empty()) return fail(pos(), "expected a field name in { }");
        if (!expect('=')) return false;
        Expr v;
        if (!expr(v)) return false;
        e.fields.push_back(field);
        e.items.push_back(std::move(v));
        skip();
        if (peek() == ',') {
          advance();
          skip();
        } else if (peek() != '}') {
          return fail(pos(), "expected ',' or '}'");
        }
      }
      advance();
      return true;
    }
    if (std::isalpha(static_cast<unsigned char>(peek())) || peek() == '_') {
      e.kind = Expr::Kind::Symbol;
      e.name = ident();
      return true;
    }
    return fail(e.pos, "expected an argument");
  }

  const std::string& text_;
  std::size_t i_ = 0;
  int line_ = 1;
  int col_ = 1;
  Script script_;
  std::optional<ParseFailure> failure_;
};

// The nplab/FreeBSD packetdrill's conditionals: `#ifdef NAME`, `#ifndef NAME`,
// `#else`, `#endif` on lines of their own, nestable, NAME defined by `-D NAME`.
// Lines left out (and the directives) become empty lines, so positions hold.
std::variant<std::string, ParseFailure> preprocess(const std::string& text, const std::set<std::string>& defines) {
  struct Open {
    int line;
    bool parent_active;
    bool active;
    bool seen_else;
  };
  std::vector<Open> stack;
  std::string out;
  out.reserve(text.size());
  int line = 0;
  std::size_t i = 0;
  while (i < text.size() || (i == text.size() && line == 0)) {
    ++line;
    const std::size_t nl = text.find('\n', i);
    const std::size_t end = nl == std::string::npos ? text.size() : nl;
    const std::string_view l(text.data() + i, end - i);
    const std::size_t b = l.find_first_not_of(" \t");
    const std::string_view t = b == std::string_view::npos ? std::string_view{} : l.substr(b);
    const bool active = stack.empty() || stack.back().active;
    auto word = [&](std::size_t at) {
      std::string_view w = t.substr(at);
      w.remove_prefix(std::min(w.find_first_not_of(" \t"), w.size()));
      return std::string(w.substr(0, w.find_first_of(" \t\r/")));
    };
    if (t.starts_with("#ifdef") || t.starts_with("#ifndef")) {
      const bool neg = t.starts_with("#ifndef");
      const std::string name = word(neg ? 7 : 6);
      if (name.empty()) return ParseFailure{{line, static_cast<int>(b) + 1}, "expected a name after #ifdef/#ifndef"};
      const bool defined = defines.contains(name);
      stack.push_back({line, active, active && (defined != neg), false});
    } else if (t.starts_with("#else")) {
      if (stack.empty() || stack.back().seen_else) {
        return ParseFailure{{line, static_cast<int>(b) + 1}, "#else without #ifdef"};
      }
      Open& o = stack.back();
      o.seen_else = true;
      o.active = o.parent_active && !o.active;
    } else if (t.starts_with("#endif")) {
      if (stack.empty()) return ParseFailure{{line, static_cast<int>(b) + 1}, "#endif without #ifdef"};
      stack.pop_back();
    } else if (active) {
      out.append(l);
    }
    if (nl == std::string::npos) break;
    out += '\n';
    i = nl + 1;
  }
  if (!stack.empty()) return ParseFailure{{stack.back().line, 1}, "#ifdef without #endif"};
  return out;
}

}  // namespace

std::variant<Script, ParseFailure> parse_script(const std::string& path, const std::string& text,
                                                const std::set<std::string>& defines) {
  auto pre = preprocess(text, defines);
  if (auto* f = std::get_if<ParseFailure>(&pre)) return *f;
  const std::string& body = std::get<std::string>(pre);
  return Parser(path, body).run();
}

}  // namespace riptide::pkt
