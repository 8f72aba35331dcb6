#pragma once
// Integers read from JSON exactly. nlohmann's get<T>() casts whatever number the value
// holds: a fraction is cut, and 1e300 cast to an integer is undefined behaviour. A peer,
// a helper or a damaged row may send either, so every integer of a wire format or of a
// stored document is read through json_integer.

#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>

namespace vigie {

// A JSON value that is not an integer of the type asked for; what() says which.
struct BadInteger : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// `j` as an integer of type T: a fraction, an exponent or a value out of T's range is
// refused, as is anything but a number. Throws BadInteger.
template <class T>
T json_integer(const nlohmann::json& j) {
  if (j.is_number_unsigned()) {
    const auto v = j.get<std::uint64_t>();
    if (std::in_range<T>(v)) return static_cast<T>(v);
  } else if (j.is_number_integer()) {
    const auto v = j.get<std::int64_t>();
    if (std::in_range<T>(v)) return static_cast<T>(v);
  } else if (!j.is_number()) {
    throw BadInteger(std::string("expected an integer, got ") + j.type_name());
  }
  throw BadInteger(j.dump() + " is not an integer within " +
                   std::to_string(std::numeric_limits<T>::min()) + ".." +
                   std::to_string(std::numeric_limits<T>::max()));
}

}  // namespace vigie
