#include "tcp/keyed_hash.hpp"

#include <sodium.h>

#include <cstring>

#include "common/byte_order.hpp"

namespace riptide::tcp {

std::uint64_t keyed_flow_hash(const Secret& key, const FlowKey& flow, std::uint8_t domain,
                              std::uint32_t extra, std::uint32_t extra2) noexcept {
  static_assert(crypto_shorthash_KEYBYTES == 16 && crypto_shorthash_BYTES == 8);
  // An IPv4 tuple is hashed over its 4-byte addresses (21 bytes in all), an IPv6
  // tuple over its 16-byte ones (45): the IPv4-mapped prefix is a constant that
  // would add two SipHash blocks to every IPv4 open and nothing to the keying.
  // The lengths differ, and SipHash mixes the length into its last block, so the
  // two input forms never collide by construction.
  std::array<std::byte, 45> in;  // only the first n bytes are hashed: not zeroed
  std::size_t n = 0;
  if (flow.local_addr.is_v4() && flow.remote_addr.is_v4()) {
    store_be32(&in[0], flow.local_addr.v4().value);
    store_be32(&in[4], flow.remote_addr.v4().value);
    n = 8;
  } else {
    std::memcpy(&in[0], flow.local_addr.bytes.data(), 16);
    std::memcpy(&in[16], flow.remote_addr.bytes.data(), 16);
    n = 32;
  }
  store_be16(&in[n], flow.local_port);
  store_be16(&in[n + 2], flow.remote_port);
  store_be32(&in[n + 4], extra);
  store_be32(&in[n + 8], extra2);
  in[n + 12] = std::byte{domain};
  n += 13;
  std::array<std::byte, 8> out;  // every byte written by crypto_shorthash
  crypto_shorthash(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()),
                   n, key.data());
  // The 8 bytes as one big-endian integer: two 32-bit loads (a byte at a time,
  // the compiler kept eight shifts and ors: callgrind, issue 11).
  return (std::uint64_t{load_be32(out.data())} << 32) | load_be32(out.data() + 4);
}

std::array<std::uint64_t, 2> flow_table_seed(const Secret& key) noexcept {
  std::array<std::uint64_t, 2> seed{};
  for (std::size_t i = 0; i < seed.size(); ++i) {
    const std::array<char, 24> label = {'r', 'i', 'p', 't', 'i', 'd', 'e', ' ', 'f', 'l', 'o', 'w', ' ',
                                        't', 'a', 'b', 'l', 'e', ' ', 's', 'e', 'e', 'd', static_cast<char>('0' + i)};
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, reinterpret_cast<const unsigned char*>(label.data()), label.size(), key.data());
    std::memcpy(&seed[i], out, sizeof out);
  }
  return seed;
}

}  // namespace riptide::tcp
