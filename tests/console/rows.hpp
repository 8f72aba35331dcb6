#pragma once
// Rows for the console tests, built in one line.

#include <cstdint>
#include <string>

#include "console/model.hpp"

namespace vigie::console::testing {

// A fresh result of check `name` on `site`, in `state` since `since_ms`, received at
// `received_ms`, run every 60 s.
inline CheckRow make_row(std::string site, std::string name, State state,
                         std::int64_t since_ms = 1'000, std::int64_t received_ms = 100'000,
                         std::string summary = "all good") {
  CheckRow row;
  row.agent = site + "-agent";
  row.site = std::move(site);
  row.result.check = "system/" + name;
  row.result.name = std::move(name);
  row.result.status = state;
  row.result.summary = std::move(summary);
  row.result.ts_ms = received_ms - 5;
  row.result.interval_s = 60;
  row.received_ms = received_ms;
  row.since_ms = since_ms;
  return row;
}

}  // namespace vigie::console::testing
