// Result<T, E>: a value or an error, returned by value (C++20 has no std::expected).
// Parsers return Result<View, ParseError>; API calls return Result<T, Error>.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace riptide {

template <class E>
struct Unexpected {
  E error;
};
template <class E>
Unexpected(E) -> Unexpected<E>;

template <class T, class E>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Unexpected<E> e) : v_(std::in_place_index<1>, e.error) {}  // NOLINT

  [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { assert(has_value()); return *std::get_if<0>(&v_); }
  const T& value() const& { assert(has_value()); return *std::get_if<0>(&v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  [[nodiscard]] E error() const { assert(!has_value()); return *std::get_if<1>(&v_); }

 private:
  std::variant<T, E> v_;
};

}  // namespace riptide
