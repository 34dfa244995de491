#include "wire/format.hpp"

namespace riptide::wire {

std::string format_tcp_options(const TcpOptions& o) {
  std::string s;
  auto add = [&s](const std::string& piece) {
    if (!s.empty()) s += ',';
    s += piece;
  };
  // Same order and padding as write_tcp_header().
  if (o.mss) add("mss " + std::to_string(*o.mss));
  if (o.timestamps) {
    if (o.sack_permitted) add("sackOK");
    else add("nop,nop");
    add("TS val " + std::to_string(o.timestamps->tsval) + " ecr " +
        std::to_string(o.timestamps->tsecr));
  } else if (o.sack_permitted) {
    add("nop,nop,sackOK");
  }
  if (o.window_scale) add("nop,wscale " + std::to_string(*o.window_scale));
  if (const std::size_t blocks = tcp_sack_blocks_written(o); blocks > 0) {
    std::string sack = "nop,nop,sack " + std::to_string(blocks) + " ";
    for (std::size_t b = 0; b < blocks; ++b) {
      sack += "{" + std::to_string(o.sack_blocks[b].left.raw()) + ":" +
              std::to_string(o.sack_blocks[b].right.raw()) + "}";
    }
    add(sack);
  }
  return s;
}

std::string format_tcp_flags(std::uint8_t flags) {
  // tcpdump's tcp_flag_values order.
  static constexpr struct {
    std::uint8_t bit;
    char letter;
  } kLetters[] = {
      {tcp_flags::kFin, 'F'}, {tcp_flags::kSyn, 'S'}, {tcp_flags::kRst, 'R'},
      {tcp_flags::kPsh, 'P'}, {tcp_flags::kAck, '.'}, {tcp_flags::kUrg, 'U'},
      {tcp_flags::kEce, 'E'}, {tcp_flags::kCwr, 'W'},
  };
  std::string s;
  for (const auto& l : kLetters) {
    if ((flags & l.bit) != 0) s += l.letter;
  }
  return s.empty() ? "none" : s;
}

std::string format_tcp(const IpAddr& src, const IpAddr& dst, const TcpHeader& h, std::size_t payload_len) {
  std::string s = to_string(src) + "." + std::to_string(h.src_port) + " > " + to_string(dst) +
                  "." + std::to_string(h.dst_port) + ": Flags [" + format_tcp_flags(h.flags) +
                  "], seq " + std::to_string(h.seq.raw());
  if (payload_len > 0) s += ":" + std::to_string((h.seq + static_cast<std::uint32_t>(payload_len)).raw());
  if ((h.flags & tcp_flags::kAck) != 0) s += ", ack " + std::to_string(h.ack.raw());
  s += ", win " + std::to_string(h.window);
  if ((h.flags & tcp_flags::kUrg) != 0) s += ", urg " + std::to_string(h.urgent_pointer);
  if (const std::string opts = format_tcp_options(h.options); !opts.empty()) {
    s += ", options [" + opts + "]";
  }
  s += ", length " + std::to_string(payload_len);
  return s;
}

TcpHeader header_of(const TcpView& v) noexcept {
  TcpHeader h;
  h.src_port = v.src_port();
  h.dst_port = v.dst_port();
  h.seq = v.seq();
  h.ack = v.ack();
  h.flags = v.flags();
  h.window = v.window();
  h.urgent_pointer = v.urgent_pointer();
  h.options = v.options();
  return h;
}

std::string format_tcp(const IpAddr& src, const IpAddr& dst, const TcpView& v) {
  return format_tcp(src, dst, header_of(v), v.payload().size());
}

}  // namespace riptide::wire
