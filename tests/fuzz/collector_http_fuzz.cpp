// libFuzzer target: the collector's request path, from the bytes a client sends to the
// response: Beast's request parser under the server's limits (parse_request, as a
// session reads), then the route table's handlers (Api::handle) on a real SQLite
// storage. Whatever the bytes: no crash, no undefined behaviour, and every request that
// reaches the routes is answered exactly once, with a status and a JSON body.
//
// The storage holds one token of each role with fixed secrets, which the seed corpus
// uses, so that inputs get past authentication: "vga_fuzz-agent" (agent "fuzz-agent" of
// site "fuzz-site"), "vgu_fuzz-viewer", "vgu_fuzz-operator", "vgu_fuzz-admin", and the
// enrollment token "vge_fuzz-enroll". It starts afresh every kRuns inputs, so that what
// the inputs store stays bounded.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "collector/api.hpp"
#include "collector/monitor.hpp"
#include "collector/server.hpp"
#include "collector/storage.hpp"
#include "collector/tokens.hpp"
#include "common/log.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

namespace fs = std::filesystem;
using namespace vigie::collector;

constexpr std::int64_t kNow = 1'700'000'001'000;
constexpr int kRuns = 20'000;
constexpr auto kAnswerWithin = std::chrono::seconds(20);

// The folder of the database, removed at exit: in memory (/dev/shm) when the system has
// it, since what is fuzzed is the request path, not the disk's syncs.
struct WorkDir {
  WorkDir() {
    std::error_code ec;
    const fs::path base =
        fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string pattern = (base / "vigie-fuzz-http.XXXXXX").string();
    VIGIE_FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~WorkDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

// A collector's routes on a fresh database in `dir`.
struct Collector {
  explicit Collector(const fs::path& dir) {
    std::error_code ec;
    for (const char* file : {"collector.db", "collector.db-wal", "collector.db-shm"})
      fs::remove(dir / file, ec);
    auto opened = open_sqlite_storage({.path = dir / "collector.db",
                                       .housekeeping_every = std::chrono::hours(1),
                                       .now_ms = [] { return kNow; }});
    VIGIE_FUZZ_CHECK(opened.is_ok());
    storage = std::move(*opened);
    auto started = Monitor::open(*storage, {.now_ms = [] { return kNow; }, .run_thread = false});
    VIGIE_FUZZ_CHECK(started.is_ok());
    monitor = std::move(*started);
    api = std::make_unique<Api>(
        *storage, *monitor,
        ApiOptions{.now_ms = [] { return kNow; }, .max_poll = std::chrono::milliseconds(0)});
    add(Role::kAgent, "vga_fuzz-agent", "fuzz-agent", "fuzz-site");
    add(Role::kViewer, "vgu_fuzz-viewer");
    add(Role::kOperator, "vgu_fuzz-operator");
    add(Role::kAdmin, "vgu_fuzz-admin");
    add(Role::kEnroll, "vge_fuzz-enroll", "", "fuzz-site");
  }
  ~Collector() { monitor->stop(); }

  void add(Role role, const std::string& secret, std::string agent = {}, std::string site = {}) {
    TokenRecord record;
    record.role = role;
    record.agent = std::move(agent);
    record.site = std::move(site);
    record.label = "fuzz";
    record.created_ms = kNow;
    VIGIE_FUZZ_CHECK(storage->add_token(record, hash_secret(secret)).is_ok());
  }

  std::unique_ptr<Storage> storage;
  std::unique_ptr<Monitor> monitor;
  std::unique_ptr<Api> api;
};

// The collector of the moment, then its folder: destroyed in that order at exit.
struct Harness {
  WorkDir dir;
  std::unique_ptr<Collector> collector;
  int runs = 0;
  ~Harness() { collector.reset(); }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  vigie::log::set_level(vigie::log::Level::kError);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Small limits, which inputs of a few kilobytes reach.
  ServerOptions limits;
  limits.max_body = 4096;
  limits.max_header = 1024;
  const auto parsed =
      parse_request(std::string_view(reinterpret_cast<const char*>(data), size), limits);
  VIGIE_FUZZ_CHECK(!(parsed.request && parsed.refusal));
  if (parsed.refusal) {
    VIGIE_FUZZ_CHECK(parsed.refusal->status >= 400 && parsed.refusal->status < 500);
  }
  if (!parsed.request) return 0;
  static Harness harness;
  auto& collector = harness.collector;
  if (!collector || ++harness.runs % kRuns == 0) {
    collector.reset();
    collector = std::make_unique<Collector>(harness.dir.path);
  }
  auto answered = std::make_shared<std::promise<HttpResponse>>();
  auto calls = std::make_shared<std::atomic<int>>(0);
  collector->api->handle(*parsed.request, [answered, calls](HttpResponse response) {
    VIGIE_FUZZ_CHECK(calls->fetch_add(1) == 0);  // exactly once
    answered->set_value(std::move(response));
  });
  auto future = answered->get_future();
  VIGIE_FUZZ_CHECK(future.wait_for(kAnswerWithin) == std::future_status::ready);
  const HttpResponse response = future.get();
  VIGIE_FUZZ_CHECK(response.status >= 200 && response.status < 600);
  VIGIE_FUZZ_CHECK(!response.body.empty());
  return 0;
}
