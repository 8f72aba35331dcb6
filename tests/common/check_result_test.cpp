#include "common/check_result.hpp"

#include <catch2/catch.hpp>

#include <limits>

namespace vigie {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

TEST_CASE("State: names and codes", "[check_result]") {
  CHECK(state_name(State::kOk) == "OK");
  CHECK(state_name(State::kWarning) == "WARNING");
  CHECK(state_name(State::kCritical) == "CRITICAL");
  CHECK(state_name(State::kUnknown) == "UNKNOWN");

  for (int code = 0; code <= 3; ++code) {
    const auto state = state_from_code(code);
    REQUIRE(state.has_value());
    CHECK(static_cast<int>(*state) == code);
  }
  CHECK_FALSE(state_from_code(-1).has_value());
  CHECK_FALSE(state_from_code(4).has_value());
  CHECK_FALSE(state_from_code(255).has_value());
}

TEST_CASE("State: parsed from full, short and lower-case names", "[check_result]") {
  CHECK(state_from_name("OK") == State::kOk);
  CHECK(state_from_name("ok") == State::kOk);
  CHECK(state_from_name("WARNING") == State::kWarning);
  CHECK(state_from_name("warn") == State::kWarning);
  CHECK(state_from_name("Critical") == State::kCritical);
  CHECK(state_from_name("crit") == State::kCritical);
  CHECK(state_from_name("unknown") == State::kUnknown);
  CHECK_FALSE(state_from_name("").has_value());
  CHECK_FALSE(state_from_name("fine").has_value());
  CHECK_FALSE(state_from_name("OK ").has_value());
  CHECK_FALSE(state_from_name("2").has_value());
}

TEST_CASE("State: severity sorts UNKNOWN between WARNING and CRITICAL", "[check_result]") {
  CHECK(severity(State::kOk) < severity(State::kWarning));
  CHECK(severity(State::kWarning) < severity(State::kUnknown));
  CHECK(severity(State::kUnknown) < severity(State::kCritical));

  CHECK(worst(State::kOk, State::kWarning) == State::kWarning);
  CHECK(worst(State::kWarning, State::kOk) == State::kWarning);
  CHECK(worst(State::kWarning, State::kUnknown) == State::kUnknown);
  CHECK(worst(State::kCritical, State::kUnknown) == State::kCritical);
  CHECK(worst(State::kUnknown, State::kCritical) == State::kCritical);
  CHECK(worst(State::kOk, State::kOk) == State::kOk);
}

TEST_CASE("Range: alerts outside a plain range, bounds included", "[check_result]") {
  const Range upto10{0, 10, false};  // "10"
  CHECK_FALSE(upto10.alerts(0));
  CHECK_FALSE(upto10.alerts(5));
  CHECK_FALSE(upto10.alerts(10));
  CHECK(upto10.alerts(10.001));
  CHECK(upto10.alerts(-0.5));

  const Range from10{10, kInf, false};  // "10:"
  CHECK(from10.alerts(9.99));
  CHECK_FALSE(from10.alerts(10));
  CHECK_FALSE(from10.alerts(1e300));

  const Range below10{-kInf, 10, false};  // "~:10"
  CHECK_FALSE(below10.alerts(-1e300));
  CHECK_FALSE(below10.alerts(10));
  CHECK(below10.alerts(11));

  const Range between{10, 20, false};  // "10:20"
  CHECK(between.alerts(9));
  CHECK_FALSE(between.alerts(10));
  CHECK_FALSE(between.alerts(20));
  CHECK(between.alerts(21));

  const Range default_range;  // "0:"
  CHECK_FALSE(default_range.alerts(0));
  CHECK(default_range.alerts(-1));
}

TEST_CASE("Range: the @ form alerts inside, bounds included", "[check_result]") {
  const Range inside{10, 20, true};  // "@10:20"
  CHECK_FALSE(inside.alerts(9.5));
  CHECK(inside.alerts(10));
  CHECK(inside.alerts(15));
  CHECK(inside.alerts(20));
  CHECK_FALSE(inside.alerts(20.5));

  const Range everything{-kInf, kInf, true};  // "@~:"
  CHECK(everything.alerts(-1e300));
  CHECK(everything.alerts(0));
}

}  // namespace vigie
