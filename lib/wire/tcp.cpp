// RFC 9293 3.1 header layout:
//   0 src port  2 dst port  4 seq  8 ack  12 data offset(4)|reserved(4)  13 flags
//   14 window  16 checksum  18 urgent pointer  20 options
#include "wire/tcp.hpp"

#include <algorithm>

#include "common/byte_order.hpp"
#include "wire/checksum.hpp"

namespace riptide::wire {
namespace {

constexpr std::uint8_t kLenMss = 4;
constexpr std::uint8_t kLenWindowScale = 3;
constexpr std::uint8_t kLenSackPermitted = 2;
constexpr std::uint8_t kLenTimestamps = 10;
constexpr std::uint8_t kLenSackBase = 2;
constexpr std::uint8_t kLenSackPerBlock = 8;

// 32-bit words, as Linux builds them: (a << 24) | (b << 16) | (c << 8) | d.
constexpr std::uint32_t word(std::uint8_t a, std::uint8_t b, std::uint8_t c,
                             std::uint8_t d) noexcept {
  return (std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d;
}

// Bytes of the options other than SACK blocks, in the layout of write_tcp_header().
std::size_t fixed_options_length(const TcpOptions& o) noexcept {
  std::size_t n = 0;
  if (o.mss) n += 4;
  if (o.timestamps) n += 12;                  // [SACKOK|NOP NOP] TS
  else if (o.sack_permitted) n += 4;          // NOP NOP SACKOK
  if (o.window_scale) n += 4;                 // NOP WS
  return n;
}

static_assert(detail::kNopNopTimestamps ==
              word(tcp_option::kNop, tcp_option::kNop, tcp_option::kTimestamps, kLenTimestamps));

// The general walk: decodes `area` into `o` (which starts default), any layout.
// Returns false and sets `err` on malformed options.
bool decode_general(std::span<const std::byte> area, TcpOptions& o, ParseError& err) noexcept {
  const std::byte* p = area.data();
  const std::size_t n = area.size();
  std::size_t i = 0;
  while (i < n) {
    const std::uint8_t kind = load_u8(p + i);
    if (kind == tcp_option::kEol) break;
    if (kind == tcp_option::kNop) {
      ++i;
      continue;
    }
    if (n - i < 2) {
      err = ParseError::OptionOverrun;
      return false;
    }
    const std::uint8_t len = load_u8(p + i + 1);
    if (len < 2) {
      err = ParseError::ZeroLengthOption;
      return false;
    }
    if (len > n - i) {
      err = ParseError::OptionOverrun;
      return false;
    }
    const std::byte* v = p + i + 2;  // option value, len - 2 bytes
    bool length_ok = true;
    switch (kind) {
      case tcp_option::kMss:
        length_ok = len == kLenMss;
        if (length_ok) o.mss = load_be16(v);
        break;
      case tcp_option::kWindowScale:
        length_ok = len == kLenWindowScale;
        if (length_ok) o.window_scale = load_u8(v);
        break;
      case tcp_option::kSackPermitted:
        length_ok = len == kLenSackPermitted;
        if (length_ok) o.sack_permitted = true;
        break;
      case tcp_option::kSack: {
        const std::size_t body = len - kLenSackBase;
        const std::size_t blocks = body / kLenSackPerBlock;
        length_ok = body % kLenSackPerBlock == 0 && blocks >= 1 && blocks <= kTcpMaxSackBlocks;
        if (!length_ok) break;
        o.sack_blocks = {};
        for (std::size_t b = 0; b < blocks; ++b) {
          o.sack_blocks[b] =
              SackBlock{SeqNum{load_be32(v + b * 8)}, SeqNum{load_be32(v + b * 8 + 4)}};
        }
        o.sack_count = static_cast<std::uint8_t>(blocks);
        break;
      }
      case tcp_option::kTimestamps:
        length_ok = len == kLenTimestamps;
        if (length_ok) o.timestamps = TcpTimestamps{load_be32(v), load_be32(v + 4)};
        break;
      default:
        if (o.unknown_count < 255) ++o.unknown_count;
        break;
    }
    if (!length_ok) {
      err = ParseError::BadOptionLength;
      return false;
    }
    i += len;
  }
  return true;
}

}  // namespace

bool detail::decode_tcp_options(std::span<const std::byte> area, TcpOptions& o, ParseError& err) noexcept {
  using namespace tcp_option;
  const std::byte* p = area.data();
  const std::size_t n = area.size();
  // Timestamps alone, NOP NOP TS (parse_tcp_header_into() takes these itself).
  if (n == 12 && load_be32(p) == kNopNopTimestamps) {
    o.timestamps = TcpTimestamps{load_be32(p + 4), load_be32(p + 8)};
    return true;
  }
  // Linux's SYN and SYN-ACK with timestamps (tcp_options_write(), as
  // write_tcp_header() here): MSS(2,4), SACKOK(4,2) TS(8,10) or NOP NOP TS(8,10),
  // NOP WS(3,3): once a connection, on the path of every handshake. Any other
  // layout, or a wrong length anywhere, goes through the walk.
  if (n == 20 && (load_be32(p) >> 16) == ((std::uint32_t{kMss} << 8) | kLenMss) &&
      (load_be32(p + 16) >> 8) == ((std::uint32_t{kNop} << 16) | (std::uint32_t{kWindowScale} << 8) | kLenWindowScale)) {
    const std::uint32_t w1 = load_be32(p + 4);
    const bool sack_permitted = w1 == word(kSackPermitted, kLenSackPermitted, kTimestamps, kLenTimestamps);
    if (sack_permitted || w1 == kNopNopTimestamps) {
      o.mss = load_be16(p + 2);
      o.sack_permitted = sack_permitted;
      o.timestamps = TcpTimestamps{load_be32(p + 8), load_be32(p + 12)};
      o.window_scale = load_u8(p + 19);
      return true;
    }
  }
  return decode_general(area, o, err);
}

Result<TcpOptions, ParseError> parse_tcp_options(std::span<const std::byte> area) noexcept {
  TcpOptions o;
  ParseError err{};
  if (!detail::decode_tcp_options(area, o, err)) return Unexpected{err};
  return o;
}

Result<TcpOptions, ParseError> parse_tcp_options_general(std::span<const std::byte> area) noexcept {
  TcpOptions o;
  ParseError err{};
  if (!decode_general(area, o, err)) return Unexpected{err};
  return o;
}

Result<TcpView, ParseError> TcpView::parse(std::span<const std::byte> segment) noexcept {
  TcpView view{segment, 0};
  ParseError err{};
  view.header_len_ = parse_tcp_header_into(segment, view.options_, err);
  if (view.header_len_ == 0) return Unexpected{err};
  return view;
}

bool tcp_checksum_valid(std::span<const std::byte> segment, const IpAddr& src, const IpAddr& dst) noexcept {
  if (src.is_v4()) return tcp_checksum_valid(segment, src.v4(), dst.v4());
  const std::uint32_t pseudo =
      pseudo_header_sum_v6(src, dst, kIpProtoTcp, static_cast<std::uint32_t>(segment.size()));
  return checksum_fold(checksum_add(segment, pseudo)) == 0;
}

std::uint16_t TcpView::src_port() const noexcept { return load_be16(bytes_.data()); }
std::uint16_t TcpView::dst_port() const noexcept { return load_be16(bytes_.data() + 2); }
SeqNum TcpView::seq() const noexcept { return SeqNum{load_be32(bytes_.data() + 4)}; }
SeqNum TcpView::ack() const noexcept { return SeqNum{load_be32(bytes_.data() + 8)}; }
std::uint8_t TcpView::flags() const noexcept { return load_u8(bytes_.data() + 13); }
std::uint16_t TcpView::window() const noexcept { return load_be16(bytes_.data() + 14); }
std::uint16_t TcpView::checksum() const noexcept { return load_be16(bytes_.data() + 16); }
std::uint16_t TcpView::urgent_pointer() const noexcept { return load_be16(bytes_.data() + 18); }

bool TcpView::checksum_valid(Ipv4Addr src, Ipv4Addr dst) const noexcept {
  return tcp_checksum_valid(bytes_, src, dst);
}

std::size_t tcp_sack_blocks_written(const TcpOptions& o) noexcept {
  const std::size_t wanted = std::min<std::size_t>(o.sack_count, kTcpMaxSackBlocks);
  if (wanted == 0) return 0;
  const std::size_t fixed = fixed_options_length(o);
  // NOP NOP kind len takes 4 bytes, then 8 per block.
  if (fixed + 4 + kLenSackPerBlock > kTcpMaxOptionsLen) return 0;
  return std::min(wanted, (kTcpMaxOptionsLen - fixed - 4) / kLenSackPerBlock);
}

std::size_t tcp_options_length(const TcpOptions& o) noexcept {
  const std::size_t blocks = tcp_sack_blocks_written(o);
  return fixed_options_length(o) + (blocks > 0 ? 4 + blocks * kLenSackPerBlock : 0);
}

std::size_t write_tcp_header(std::span<std::byte> out, const TcpHeader& h) noexcept {
  const TcpOptions& o = h.options;
  const std::size_t header_len = kTcpMinHeaderLen + tcp_options_length(o);
  if (out.size() < header_len) return 0;
  std::byte* p = out.data();
  store_be16(p, h.src_port);
  store_be16(p + 2, h.dst_port);
  store_be32(p + 4, h.seq.raw());
  store_be32(p + 8, h.ack.raw());
  store_u8(p + 12, static_cast<std::uint8_t>((header_len / 4) << 4));
  store_u8(p + 13, h.flags);
  store_be16(p + 14, h.window);
  store_be16(p + 16, 0);
  store_be16(p + 18, h.urgent_pointer);

  // Linux tcp_options_write() order; every piece is a whole number of 32-bit words.
  using namespace tcp_option;
  std::byte* q = p + kTcpMinHeaderLen;
  auto put = [&q](std::uint32_t w) {
    store_be32(q, w);
    q += 4;
  };
  if (o.mss) put(word(kMss, kLenMss, static_cast<std::uint8_t>(*o.mss >> 8),
                      static_cast<std::uint8_t>(*o.mss)));
  if (o.timestamps) {
    if (o.sack_permitted) put(word(kSackPermitted, kLenSackPermitted, kTimestamps, kLenTimestamps));
    else put(word(kNop, kNop, kTimestamps, kLenTimestamps));
    put(o.timestamps->tsval);
    put(o.timestamps->tsecr);
  } else if (o.sack_permitted) {
    put(word(kNop, kNop, kSackPermitted, kLenSackPermitted));
  }
  if (o.window_scale) put(word(kNop, kWindowScale, kLenWindowScale, *o.window_scale));
  if (const std::size_t blocks = tcp_sack_blocks_written(o); blocks > 0) {
    put(word(kNop, kNop, kSack, static_cast<std::uint8_t>(kLenSackBase + blocks * kLenSackPerBlock)));
    for (std::size_t b = 0; b < blocks; ++b) {
      put(o.sack_blocks[b].left.raw());
      put(o.sack_blocks[b].right.raw());
    }
  }
  return header_len;
}

void finish_tcp_checksum(std::span<std::byte> segment, Ipv4Addr src, Ipv4Addr dst) noexcept {
  if (segment.size() < kTcpMinHeaderLen || segment.size() > 0xffff) return;
  store_be16(segment.data() + 16, 0);
  const std::uint32_t pseudo =
      pseudo_header_sum(src, dst, kIpProtoTcp, static_cast<std::uint16_t>(segment.size()));
  store_be16(segment.data() + 16, checksum_fold(checksum_add(segment, pseudo)));
}

void finish_tcp_checksum(std::span<std::byte> segment, const IpAddr& src, const IpAddr& dst) noexcept {
  if (src.is_v4()) {
    finish_tcp_checksum(segment, src.v4(), dst.v4());
    return;
  }
  if (segment.size() < kTcpMinHeaderLen) return;
  store_be16(segment.data() + 16, 0);
  const std::uint32_t pseudo =
      pseudo_header_sum_v6(src, dst, kIpProtoTcp, static_cast<std::uint32_t>(segment.size()));
  store_be16(segment.data() + 16, checksum_fold(checksum_add(segment, pseudo)));
}

}  // namespace riptide::wire
