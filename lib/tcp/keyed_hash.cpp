#include "tcp/keyed_hash.hpp"

#include <sodium.h>

#include "common/byte_order.hpp"

namespace riptide::tcp {

std::uint64_t keyed_flow_hash(const Secret& key, const FlowKey& flow, std::uint8_t domain,
                              std::uint32_t extra, std::uint32_t extra2) noexcept {
  static_assert(crypto_shorthash_KEYBYTES == 16 && crypto_shorthash_BYTES == 8);
  std::array<std::byte, 21> in{};
  store_be32(&in[0], flow.local_addr.value);
  store_be32(&in[4], flow.remote_addr.value);
  store_be16(&in[8], flow.local_port);
  store_be16(&in[10], flow.remote_port);
  store_be32(&in[12], extra);
  store_be32(&in[16], extra2);
  in[20] = std::byte{domain};
  std::array<unsigned char, 8> out{};
  crypto_shorthash(out.data(), reinterpret_cast<const unsigned char*>(in.data()), in.size(),
                   key.data());
  std::uint64_t h = 0;
  for (unsigned char b : out) h = (h << 8) | b;
  return h;
}

}  // namespace riptide::tcp
