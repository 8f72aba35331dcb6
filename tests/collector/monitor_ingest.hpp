#pragma once
// A report handed to a Monitor as the API hands it, waited for: the outcome as a Status
// (the tests that drive a collector in-process, without HTTP).

#include <future>
#include <utility>

#include "collector/monitor.hpp"
#include "common/protocol.hpp"
#include "common/status.hpp"
#include "common/time.hpp"

namespace vigie::collector::testing_support {

inline Status ingest(Monitor& monitor, protocol::Report r) {
  std::promise<Status> done;
  auto future = done.get_future();
  monitor.ingest(std::move(r), wall_ms(),
                 [&](Result<IngestOutcome> o) { done.set_value(o ? Status::ok() : o.status()); });
  return future.get();
}

}  // namespace vigie::collector::testing_support
