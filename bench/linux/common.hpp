// What the Linux-kernel baseline's client and server share: a latency histogram,
// the kernel's own TCP counters (/proc/net/snmp, /proc/net/netstat) and a small
// JSON writer. Plain POSIX; no riptide code, no DPDK.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace riptide::bench {

inline std::int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Log-linear histogram of nanosecond values: 16 sub-buckets per power of two
// (at most 6% relative error), 0 ns .. 2^40 ns (~18 min). Recording is O(1).
class LatencyHistogram {
 public:
  static constexpr int kSub = 16;
  static constexpr int kPowers = 40;

  void record(std::int64_t ns) {
    if (ns < 0) ns = 0;
    ++buckets_[index(static_cast<std::uint64_t>(ns))];
    ++count_;
    max_ = std::max(max_, ns);
  }
  [[nodiscard]] std::uint64_t count() const { return count_; }
  [[nodiscard]] std::int64_t max() const { return max_; }
  // The upper edge of the bucket holding quantile q (0..1), in ns.
  [[nodiscard]] std::int64_t quantile(double q) const {
    if (count_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
      seen += buckets_[i];
      if (seen >= rank) return std::min<std::int64_t>(upper(i), max_);
    }
    return max_;
  }
  // Non-empty buckets as (upper edge ns, count).
  [[nodiscard]] std::vector<std::pair<std::int64_t, std::uint64_t>> nonzero() const {
    std::vector<std::pair<std::int64_t, std::uint64_t>> out;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
      if (buckets_[i] != 0) out.emplace_back(upper(i), buckets_[i]);
    }
    return out;
  }

 private:
  static std::size_t index(std::uint64_t v) {
    if (v < kSub) return static_cast<std::size_t>(v);
    const int p = std::bit_width(v) - 1;  // v in [2^p, 2^(p+1)), p >= 4
    const auto sub = static_cast<std::size_t>((v >> (p - 4)) & (kSub - 1));
    const std::size_t i = static_cast<std::size_t>(p - 3) * kSub + sub;
    return std::min(i, static_cast<std::size_t>(kPowers * kSub - 1));
  }
  static std::int64_t upper(std::size_t i) {
    if (i < kSub) return static_cast<std::int64_t>(i);
    const std::size_t p = i / kSub + 3;
    const std::size_t sub = i % kSub;
    return static_cast<std::int64_t>(((std::uint64_t{kSub} + sub + 1) << (p - 4)) - 1);
  }
  std::array<std::uint64_t, kPowers * kSub> buckets_{};
  std::uint64_t count_ = 0;
  std::int64_t max_ = 0;
};

// The kernel's TCP counters: "Tcp:" of /proc/net/snmp and "TcpExt:" of
// /proc/net/netstat, as name -> value (e.g. "Tcp.RetransSegs",
// "TcpExt.ListenDrops"). Both files are "Header: names\nHeader: values" pairs.
inline std::map<std::string, std::uint64_t> kernel_tcp_counters() {
  std::map<std::string, std::uint64_t> out;
  for (const char* path : {"/proc/net/snmp", "/proc/net/netstat"}) {
    std::ifstream f(path);
    std::string names, values;
    while (std::getline(f, names) && std::getline(f, values)) {
      std::istringstream n(names), v(values);
      std::string prefix, vprefix;
      n >> prefix;
      v >> vprefix;
      if (prefix != "Tcp:" && prefix != "TcpExt:") continue;
      prefix.pop_back();
      std::string name;
      long long value = 0;
      while (n >> name && v >> value) out[prefix + "." + name] = static_cast<std::uint64_t>(value < 0 ? 0 : value);
    }
  }
  return out;
}

// Minimal JSON output: enough for flat objects, nested objects and arrays.
class Json {
 public:
  Json& open(const char* key = nullptr) { return begin(key, '{'); }
  Json& close() { return end('}'); }
  Json& open_array(const char* key = nullptr) { return begin(key, '['); }
  Json& close_array() { return end(']'); }
  Json& num(const char* key, double v) {
    char b[64];
    std::snprintf(b, sizeof b, "%.6g", v);
    return raw(key, b);
  }
  Json& num(const char* key, std::uint64_t v) { return raw(key, std::to_string(v)); }
  Json& num(const char* key, std::int64_t v) { return raw(key, std::to_string(v)); }
  Json& str(const char* key, const std::string& v) {
    std::string q = "\"";
    for (char c : v) {
      if (c == '"' || c == '\\') q += '\\';
      q += c;
    }
    return raw(key, q + "\"");
  }
  [[nodiscard]] const std::string& text() const { return s_; }

 private:
  Json& begin(const char* key, char c) {
    sep(key);
    s_ += c;
    first_ = true;
    return *this;
  }
  Json& end(char c) {
    s_ += c;
    first_ = false;
    return *this;
  }
  Json& raw(const char* key, const std::string& v) {
    sep(key);
    s_ += v;
    first_ = false;
    return *this;
  }
  void sep(const char* key) {
    if (!first_) s_ += ", ";
    first_ = false;
    if (key != nullptr) {
      s_ += '"';
      s_ += key;
      s_ += "\": ";
    }
  }
  std::string s_;
  bool first_ = true;
};

}  // namespace riptide::bench
