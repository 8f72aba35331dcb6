#pragma once
// The table of built-in check types: type name -> description -> metrics -> factory.
// One explicit array in registry.cpp; no self-registering statics. The agent prints
// it (`vigie-agent checks`) and docs/checks.md is generated from it.

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/status.hpp"
#include "plugins/check.hpp"

namespace vigie::plugins {

// A metric a check type may report, declared as data for the docs.
struct MetricSpec {
  std::string_view name;  // label, or a pattern such as "<mount>_used"
  std::string_view unit;  // perfdata unit ("" for a plain number)
  std::string_view meaning;
};

struct CheckType {
  std::string_view name;         // "system/load", "external", ...
  std::string_view description;  // one line
  std::span<const MetricSpec> metrics;
  std::unique_ptr<Check> (*make)();
};

// Every built-in type, in the table's order.
std::span<const CheckType> check_types();

// The type called `name`, or kNotFound whose message lists the known types and
// suggests the closest one ("unknown check type \"sytem/load\" (did you mean
// \"system/load\"?); known types: ...").
Result<const CheckType*> find_check_type(std::string_view name);

// docs/checks.md's generated part: one section per type with its metrics.
std::string checks_markdown();

}  // namespace vigie::plugins
