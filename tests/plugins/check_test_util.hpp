#pragma once
// What the tests of built-in checks share: configuring a check, running it with a
// deadline, and finding a metric.

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::testing {

using plugins::Check;
using plugins::Outcome;
using plugins::RunContext;

using Factory = std::unique_ptr<Check> (*)();

// A check made by `make` and configured with `params`; the test fails if they are refused.
inline std::unique_ptr<Check> configured(Factory make, const nlohmann::json& params) {
  auto check = make();
  const Status status = check->configure(params);
  INFO(status.to_string());
  REQUIRE(status.is_ok());
  return check;
}

// The message with which `params` are refused (as kInvalidArgument).
inline std::string configure_error(Factory make, const nlohmann::json& params) {
  const Status status = make()->configure(params);
  REQUIRE_FALSE(status.is_ok());
  CHECK(status.code() == Code::kInvalidArgument);
  return status.message();
}

// A misspelt parameter of a registered check type and the key it must suggest.
struct Misspelling {
  const char* type;        // "system/disk"
  const char* typo;        // "inode_warn"
  const char* suggestion;  // "inodes_warn"
};

// Each type refuses its typo alone, naming the typo, the suggestion and the known keys:
// a typo must never fall back silently to a default.
inline void check_misspellings(std::initializer_list<Misspelling> cases) {
  for (const Misspelling& c : cases) {
    INFO(c.type << ": " << c.typo);
    auto type = plugins::find_check_type(c.type);
    REQUIRE(type.is_ok());
    const Status status = (*type)->make()->configure({{c.typo, "x"}});
    REQUIRE_FALSE(status.is_ok());
    CHECK(status.code() == Code::kInvalidArgument);
    CHECK_THAT(status.message(),
               Catch::StartsWith(std::string(c.typo) + ": unknown key (did you mean \"" +
                                 c.suggestion + "\"?); known keys: "));
  }
}

inline RunContext context(std::chrono::milliseconds budget) {
  return RunContext{std::chrono::steady_clock::now() + budget};
}

// The metric called `label`, or one without a value when there is none.
inline Metric find_metric(const Outcome& outcome, const std::string& label) {
  for (const auto& metric : outcome.metrics) {
    if (metric.label == label) return metric;
  }
  return Metric{};
}

}  // namespace vigie::testing
