// The collector's ingest under bad input and faults, against the real vigie-collector
// over HTTPS on loopback: every refused request stores nothing and the collector keeps
// serving; slow clients are cut off without holding anyone up; a SIGKILL in the middle
// of a stream of reports loses no acknowledged batch and leaves none half-stored.

#include <signal.h>
#include <zlib.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/gzip.hpp"
#include "common/time.hpp"
#include "tests/support/child.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/raw_connection.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::Collector;
using testing::HttpReply;

constexpr int kResultsPerBatch = 3;

std::string check_id(std::uint64_t seq, int k) {
  return "external:r" + std::to_string(seq) + "-" + std::to_string(k);
}

// A valid report whose results have check ids unique to (agent, seq): the presence of
// the batch is visible through /api/v1/checks.
json report(const std::string& agent, const std::string& site, std::uint64_t seq) {
  json results = json::array();
  for (int k = 0; k < kResultsPerBatch; ++k) {
    results.push_back({{"name", "r" + std::to_string(seq) + "-" + std::to_string(k)},
                       {"check", check_id(seq, k)},
                       {"status", 0},
                       {"summary", "batch " + std::to_string(seq)},
                       {"metrics", {{{"name", "k"}, {"value", k}}}},
                       {"ts", wall_ms()},
                       {"duration_ms", 1},
                       {"interval_s", 60}});
  }
  return {{"protocol", 1},
          {"agent", {{"id", agent}, {"site", site}}},
          {"seq", seq},
          {"results", std::move(results)}};
}

json parse(const HttpReply& reply) { return json::parse(reply.body, nullptr, false); }

// Check ids stored per agent, as a viewer sees them.
std::map<std::string, std::set<std::string>> stored_checks(Collector& collector,
                                                           const std::string& viewer) {
  const HttpReply reply = collector.get("/api/v1/checks", viewer);
  INFO(reply.body << reply.error);
  REQUIRE(reply.status == 200);
  std::map<std::string, std::set<std::string>> stored;
  const json body = parse(reply);
  for (const auto& row : body.at("checks")) {
    if (row.at("check") == "vigie/heartbeat") continue;  // the collector's own, per agent
    stored[row.at("agent").get<std::string>()].insert(row.at("check").get<std::string>());
  }
  return stored;
}

// The collector still takes a valid report from `agent` (gzipped, as agents send large
// ones), and then shows exactly that batch's checks for it. `seq` should be one the
// refused requests used: "stored" rather than "duplicate" proves they left no trace.
void expect_accepts(Collector& collector, const std::string& token, const std::string& viewer,
                    const std::string& agent, const std::string& site, std::uint64_t seq) {
  const HttpReply reply =
      collector.post("/api/v1/reports", gzip_compress(report(agent, site, seq).dump()), token,
                     {"Content-Type: application/json", "Content-Encoding: gzip"});
  INFO(reply.body << reply.error);
  REQUIRE(reply.status == 200);
  CHECK(parse(reply) == json{{"status", "stored"}, {"results", kResultsPerBatch}});
  std::set<std::string> expected;
  for (int k = 0; k < kResultsPerBatch; ++k) expected.insert(check_id(seq, k));
  CHECK(stored_checks(collector, viewer)[agent] == expected);
}

// gzip of `prefix`, then `fill_mib` MiB of spaces, then `suffix`, built without ever
// holding the inflated text: one MiB of spaces is deflated once, as a self-contained,
// byte-aligned run of blocks (a fresh stream ended by a full flush), and that run is
// repeated. zlib writes ~1 KiB per MiB of spaces, so 1024 MiB take ~1 MB.
std::string gzip_with_padding(const std::string& prefix, int fill_mib, const std::string& suffix) {
  const auto raw_deflate = [](const std::string& data, int flush) {
    z_stream zs{};
    REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&zs, static_cast<uLong>(data.size())) + 64, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&zs, flush);
    REQUIRE((rc == Z_OK || rc == Z_STREAM_END));
    REQUIRE(zs.avail_in == 0);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
  };
  const std::string mib(1 << 20, ' ');
  const std::string mib_deflated = raw_deflate(mib, Z_FULL_FLUSH);

  // RFC 1952: magic, deflate, no flags, no time, no extra flags, unknown OS.
  std::string gz = {'\x1f', '\x8b', '\x08', 0, 0, 0, 0, 0, 0, '\xff'};
  gz += raw_deflate(prefix, Z_FULL_FLUSH);
  const auto crc_of = [](const std::string& s) {
    return crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size()));
  };
  uLong crc = crc_of(prefix);
  const uLong crc_mib = crc_of(mib);
  for (int i = 0; i < fill_mib; ++i) {
    gz += mib_deflated;
    crc = crc32_combine(crc, crc_mib, static_cast<z_off_t>(mib.size()));
  }
  gz += raw_deflate(suffix, Z_FINISH);
  crc = crc32_combine(crc, crc_of(suffix), static_cast<z_off_t>(suffix.size()));
  const std::uint64_t size = prefix.size() + (std::uint64_t{1} << 20) * fill_mib + suffix.size();
  for (const std::uint64_t word : {std::uint64_t{crc}, size}) {
    for (int byte = 0; byte < 4; ++byte) gz += static_cast<char>((word >> (8 * byte)) & 0xff);
  }
  return gz;
}

TEST_CASE("Ingest: malformed, mistyped and oversized reports are refused and store nothing",
          "[faults]") {
  testing::TempDir dir;
  Collector collector(dir);
  const std::string site = "fault-site";
  const std::string token = collector.enroll("faulty", site);
  const std::string viewer = collector.token("viewer");
  const json valid = report("faulty", site, 1);

  const auto with = [&](const json::json_pointer& where, json value) {
    json changed = valid;
    changed[where] = std::move(value);
    return changed.dump();
  };
  const std::string text = valid.dump();
  // Small results, so that the body (~10 MB) stays under the server's 16 MiB.
  json many = valid;
  many["results"] = json::array();
  for (int i = 0; i < 100'000; ++i) {
    many["results"].push_back({{"name", "n"},
                               {"check", "external"},
                               {"status", 0},
                               {"summary", ""},
                               {"ts", 0},
                               {"duration_ms", 0},
                               {"interval_s", 60}});
  }

  struct Case {
    std::string what;
    std::string body;
    long status;
    std::string field;    // "": the reply must not name one
    std::string message;  // part of the reply's error
    bool gzip = false;
  };
  const std::vector<Case> cases = {
      {"malformed JSON", text.substr(0, text.size() / 2), 400, "", "malformed JSON"},
      {"not an object", "[" + text + "]", 400, "", "expected a JSON object"},
      {"agent of the wrong type", with("/agent"_json_pointer, "faulty"), 400, "agent",
       "expected an object"},
      {"seq as a string", with("/seq"_json_pointer, "1"), 400, "seq", "expected an integer"},
      {"results as an object", with("/results"_json_pointer, json::object()), 400, "results",
       "expected an array"},
      {"status as a string", with("/results/2/status"_json_pointer, "warn"), 400,
       "results[2].status", "expected an integer 0..3"},
      {"ts as a fraction", with("/results/0/ts"_json_pointer, 1.5), 400, "results[0].ts",
       "expected an integer"},
      {"metric value as a string", with("/results/1/metrics/0/value"_json_pointer, "12"), 400,
       "results[1].metrics[0].value", "expected a finite number or null"},
      {"100,000 results", many.dump(), 413, "results", "results: more than 5000 elements"},
      {"a 1 MB summary", with("/results/0/summary"_json_pointer, std::string(1 << 20, 'x')), 413,
       "results[0].summary", "longer than 4096 bytes"},
      // A valid report padded with 1 GiB of JSON blanks: the server must stop inflating.
      {"a gzip bomb", gzip_with_padding(text.substr(0, text.size() - 1), 1024, "}"), 413, "",
       "inflates past", true},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    std::vector<std::string> headers = {"Content-Type: application/json"};
    if (c.gzip) headers.push_back("Content-Encoding: gzip");
    const HttpReply reply = collector.post("/api/v1/reports", c.body, token, headers);
    INFO(reply.body << reply.error);
    CHECK(reply.status == c.status);
    const json body = parse(reply);
    REQUIRE(body.is_object());
    CHECK_THAT(body.value("error", ""), Catch::Contains(c.message));
    CHECK(body.value("field", "") == c.field);
  }

  // 50 MB, three times the server's limit: refused from the headers, before the body
  // is read. The server may answer 413 or, having answered, close while curl still sends.
  const HttpReply huge =
      collector.post("/api/v1/reports",
                     text.substr(0, text.size() - 1) + std::string(50'000'000, ' ') + "}", token);
  INFO(huge.body << huge.error);
  CHECK((huge.status == 413 || (huge.status == 0 && !huge.error.empty())));

  CHECK(stored_checks(collector, viewer).count("faulty") == 0);
  expect_accepts(collector, token, viewer, "faulty", site, 1);
}

// Peak resident memory of process `pid` so far (VmHWM), in KiB; 0 if unknown.
std::int64_t peak_memory_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return 0;
}

// Known bug (see the report): the decoder builds the whole JSON document before it
// checks the result count, so ~32 KB of gzip costs the collector ~1.5 GB and seconds
// of a worker. Fails until the limits are enforced while parsing.
TEST_CASE("Ingest: a small gzip body cannot make the collector build a huge document", "[faults]") {
  testing::TempDir dir;
  Collector collector(dir);
  const std::string site = "amp-site";
  const std::string token = collector.enroll("amplifier", site);
  const std::string viewer = collector.token("viewer");

  // Just under the 32 MiB the collector inflates: eleven million empty results.
  constexpr std::size_t kInflated = 32 * 1024 * 1024;
  std::string text =
      R"({"protocol":1,"agent":{"id":"amplifier","site":"amp-site"},"seq":1,"results":[{})";
  text.reserve(kInflated);
  while (text.size() + 5 <= kInflated) text += ",{}";
  text += "]}";
  const std::string body = gzip_compress(text);
  REQUIRE(body.size() < 64 * 1024);

  const std::int64_t before = peak_memory_kib(collector.child().pid());
  REQUIRE(before > 0);
  const HttpReply reply = collector.post(
      "/api/v1/reports", body, token, {"Content-Type: application/json", "Content-Encoding: gzip"});
  INFO(reply.body << reply.error);
  CHECK(reply.status == 413);
  CHECK(parse(reply).value("field", "") == "results");
  const std::int64_t grown_mib = (peak_memory_kib(collector.child().pid()) - before) / 1024;
  INFO("the collector's peak memory grew by " << grown_mib << " MiB for " << body.size()
                                              << " bytes of gzip");
  CHECK(grown_mib < 256);
  expect_accepts(collector, token, viewer, "amplifier", site, 1);
}

// Known bug (see the report): gzip errors start with "gzip: ", which the reply's
// "field" takes for a member path. Fails until the API stops naming a field for them.
TEST_CASE("Ingest: a corrupt gzip body is refused without naming a field", "[faults]") {
  testing::TempDir dir;
  Collector collector(dir);
  const std::string site = "gzip-site";
  const std::string token = collector.enroll("squeezer", site);
  const std::string viewer = collector.token("viewer");
  const std::string gz = gzip_compress(report("squeezer", site, 1).dump());

  for (const auto& [what, body] : {std::pair<std::string, std::string>{"not gzip", "{}"},
                                   {"truncated", gz.substr(0, gz.size() / 2)}}) {
    INFO(what);
    const HttpReply reply =
        collector.post("/api/v1/reports", body, token,
                       {"Content-Type: application/json", "Content-Encoding: gzip"});
    INFO(reply.body << reply.error);
    CHECK(reply.status == 400);
    const json answer = parse(reply);
    CHECK_THAT(answer.value("error", ""), Catch::Contains("gzip"));
    CHECK_FALSE(answer.contains("field"));
  }
  expect_accepts(collector, token, viewer, "squeezer", site, 1);
}

// The id of the valid token of `agent` in `vigie-collector token list`.
std::int64_t agent_token_id(Collector& collector, const std::string& agent) {
  const auto list = testing::run({VIGIE_COLLECTOR_BIN, "token", "list", "--db", collector.db()});
  REQUIRE(list.exit_code == 0);
  std::istringstream lines(list.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string id, role, owner;
    if (fields >> id >> role >> owner && role == "agent" && owner == agent &&
        line.find(" valid ") != std::string::npos)
      return std::stoll(id);
  }
  FAIL("no valid token of agent " << agent << " in:\n" << list.out);
  return 0;
}

TEST_CASE("Ingest: a report without a valid token of its agent is refused and stores nothing",
          "[faults]") {
  testing::TempDir dir;
  Collector collector(dir);
  const std::string site = "auth-site";
  const std::string token = collector.enroll("agent-a", site);
  const std::string other = collector.enroll("agent-b", site);
  const std::string revoked = collector.enroll("agent-c", site);
  const std::string viewer = collector.token("viewer");

  // agent-c reported once before its token was revoked.
  REQUIRE(collector.post("/api/v1/reports", report("agent-c", site, 1).dump(), revoked).status ==
          200);
  const auto revoke =
      testing::run({VIGIE_COLLECTOR_BIN, "token", "revoke",
                    std::to_string(agent_token_id(collector, "agent-c")), "--db", collector.db()});
  INFO(revoke.err);
  REQUIRE(revoke.exit_code == 0);

  const std::string body = report("agent-a", site, 1).dump();
  const struct {
    std::string what;
    std::string body;
    std::string token;
    long status;
    std::string message;
  } cases[] = {
      {"no token", body, "", 401, "missing"},
      {"an unknown token", body, "vga_" + std::string(40, '0'), 401, "unknown token"},
      {"a revoked token", report("agent-c", site, 2).dump(), revoked, 401, "revoked"},
      {"another agent's token", body, other, 403, "agent.id"},
      {"a viewer's token", body, viewer, 403, "role"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    const HttpReply reply = collector.post("/api/v1/reports", c.body, c.token);
    INFO(reply.body << reply.error);
    CHECK(reply.status == c.status);
    CHECK_THAT(parse(reply).value("error", ""), Catch::Contains(c.message));
  }

  auto stored = stored_checks(collector, viewer);
  CHECK(stored.count("agent-a") == 0);
  CHECK(stored.count("agent-b") == 0);
  CHECK(stored["agent-c"] == std::set<std::string>{check_id(1, 0), check_id(1, 1), check_id(1, 2)});
  expect_accepts(collector, token, viewer, "agent-a", site, 1);
}

TEST_CASE("Enrollment: an expired or reused enrollment token gives no agent token", "[faults]") {
  testing::TempDir dir;
  Collector collector(dir);
  const std::string site = "enroll-site";
  const std::string viewer = collector.token("viewer");
  const auto enroll = [&](const std::string& agent, const std::string& secret) {
    const json request = {{"agent", {{"id", agent}, {"site", site}}}};
    return collector.post("/api/v1/enroll", request.dump(), secret);
  };

  const auto created = testing::run({VIGIE_COLLECTOR_BIN, "enroll-token", "create", "--site", site,
                                     "--ttl", "1s", "--db", collector.db()});
  REQUIRE(created.exit_code == 0);
  std::this_thread::sleep_for(1100ms);
  const HttpReply expired = enroll("late-agent", testing::trim(created.out));
  INFO(expired.body << expired.error);
  CHECK(expired.status == 403);
  CHECK_THAT(parse(expired).value("error", ""), Catch::Contains("expired"));

  const std::string once = collector.enroll_token(site);
  const HttpReply first = enroll("first-agent", once);
  INFO(first.body << first.error);
  REQUIRE(first.status == 200);
  const std::string first_token = parse(first).at("token");
  for (const std::string agent : {"second-agent", "first-agent"}) {
    INFO(agent);
    const HttpReply again = enroll(agent, once);
    INFO(again.body << again.error);
    CHECK(again.status == 403);
    CHECK_THAT(parse(again).value("error", ""), Catch::Contains("already used"));
  }

  // No agent token for the refused ones; the first agent's token still works (a refused
  // enrollment must not revoke it).
  const auto list = testing::run({VIGIE_COLLECTOR_BIN, "token", "list", "--db", collector.db()});
  REQUIRE(list.exit_code == 0);
  CHECK_THAT(list.out, !Catch::Contains("late-agent") && !Catch::Contains("second-agent"));
  expect_accepts(collector, first_token, viewer, "first-agent", site, 1);
}

TEST_CASE("Server: slow clients are cut off at the read timeout and hold no worker", "[faults]") {
  testing::TempDir dir;
  Collector collector(dir, {"--read-timeout", "2s"});
  const std::string site = "slow-site";
  const std::string token = collector.enroll("prompt", site);
  const std::string viewer = collector.token("viewer");

  // A valid request that would be accepted, were it sent at a normal pace.
  const std::string body = report("prompt", site, 1).dump();
  std::string request = "POST /api/v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  request += "Authorization: Bearer " + token + "\r\nContent-Type: application/json\r\n";
  request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;

  // Ten clients that send the request one byte a second, and one that never finishes
  // its TLS handshake (plain TCP to the TLS port, silent).
  constexpr std::size_t kSlow = 10;
  const std::string tcp_url = "http://" + collector.url().substr(std::string("https://").size());
  std::vector<std::unique_ptr<testing::RawConnection>> clients;
  std::vector<Clock::time_point> opened;
  for (std::size_t i = 0; i <= kSlow; ++i) {
    clients.push_back(
        i < kSlow ? std::make_unique<testing::RawConnection>(collector.url(), collector.ca())
                  : std::make_unique<testing::RawConnection>(tcp_url));
    INFO(clients.back()->error());
    REQUIRE(clients.back()->open());
    opened.push_back(Clock::now());
  }

  const auto start = Clock::now();
  std::vector<std::optional<std::chrono::milliseconds>> lasted(clients.size());
  std::size_t sent = 0;
  auto next_byte = start;
  std::optional<std::chrono::milliseconds> get_took, post_took;
  std::size_t open_while_served = 0;
  while (Clock::now() < start + 6s) {
    const auto now = Clock::now();
    if (now >= next_byte && sent < request.size()) {
      for (std::size_t i = 0; i < kSlow; ++i)
        if (clients[i]->open()) clients[i]->send(request.substr(sent, 1));
      ++sent;
      next_byte += 1s;
    }
    if (!get_took && now >= start + 1s) {
      // Everyone else is served at once while the slow clients are connected.
      const auto t0 = Clock::now();
      const HttpReply checks = collector.get("/api/v1/checks", viewer);
      const auto t1 = Clock::now();
      const HttpReply stored = collector.post("/api/v1/reports", body, token);
      const auto t2 = Clock::now();
      CHECK(checks.status == 200);
      CHECK(stored.status == 200);
      get_took = std::chrono::duration_cast<std::chrono::milliseconds>(t1 - t0);
      post_took = std::chrono::duration_cast<std::chrono::milliseconds>(t2 - t1);
      for (const auto& c : clients) open_while_served += c->open() && !c->wait_closed(0ms);
    }
    bool all_closed = true;
    for (std::size_t i = 0; i < clients.size(); ++i) {
      if (!lasted[i] && (!clients[i]->open() || clients[i]->wait_closed(0ms))) {
        lasted[i] = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - opened[i]);
      }
      all_closed = all_closed && lasted[i].has_value();
    }
    if (all_closed) break;
    std::this_thread::sleep_for(20ms);
  }

  REQUIRE(get_took);
  CHECK(open_while_served == clients.size());
  CHECK(get_took->count() < 1000);
  CHECK(post_took->count() < 1000);
  for (std::size_t i = 0; i < clients.size(); ++i) {
    INFO("client " << i << ": " << clients[i]->error());
    REQUIRE(lasted[i]);
    CHECK(lasted[i]->count() >= 1500);
    CHECK(lasted[i]->count() <= 4000);
  }
  CHECK(collector.child().running());
}

// One agent's stream of reports: which batches it sent, and which were acknowledged.
struct AgentRun {
  std::string agent;
  std::string token;
  std::uint64_t last_seq = 0;  // batches 1..last_seq were sent (the last may be in flight)
  std::set<std::uint64_t> acknowledged;
  std::vector<std::string> unexpected;  // replies other than 2xx or no reply
};

// Stops the collector with `signal` while 20 agents post, restarts it, and checks
// that every batch answered 2xx is there exactly once and none is half-stored.
void stop_under_load(int signal) {
  testing::TempDir dir;
  Collector collector(dir);
  const std::string site = "kill-site";
  const std::string viewer = collector.token("viewer");
  constexpr int kAgents = 20;
  constexpr std::uint64_t kMaxBatches = 2000;  // per agent: a bound, never reached in 2 s
  std::vector<AgentRun> runs(kAgents);
  for (int i = 0; i < kAgents; ++i) {
    runs[i].agent = "killed-" + std::to_string(i);
    runs[i].token = collector.enroll(runs[i].agent, site);
  }

  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const std::string url = collector.url() + "/api/v1/reports";
  const std::string ca = collector.ca();
  for (auto& run : runs) {
    threads.emplace_back([&run, &stop, &site, &url, &ca] {
      for (std::uint64_t seq = 1; seq <= kMaxBatches && !stop; ++seq) {
        run.last_seq = seq;
        const HttpReply reply = testing::http_request(
            "POST", url, report(run.agent, site, seq).dump(),
            {"Content-Type: application/json", "Authorization: Bearer " + run.token}, ca);
        if (reply.status / 100 == 2) {
          run.acknowledged.insert(seq);
        } else if (reply.status != 0) {
          run.unexpected.push_back(std::to_string(reply.status) + " " + reply.body);
        }
      }
    });
  }
  std::this_thread::sleep_for(2s);
  const auto status = collector.child().stop(signal);
  REQUIRE(status.has_value());
  if (signal == SIGTERM) {  // a clean stop: in-flight requests answered, then exit 0
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 0);
  }
  stop = true;
  for (auto& t : threads) t.join();
  collector.restart(true);

  const auto stored = stored_checks(collector, viewer);
  std::size_t acknowledged = 0;
  std::vector<std::string> violations;
  for (const auto& run : runs) {
    INFO(run.agent);
    CHECK(run.unexpected.empty());
    acknowledged += run.acknowledged.size();
    const auto found = stored.find(run.agent);
    const std::set<std::string> none;
    const auto& checks = found == stored.end() ? none : found->second;
    std::size_t expected_rows = 0;
    for (std::uint64_t seq = 1; seq <= run.last_seq; ++seq) {
      int present = 0;
      for (int k = 0; k < kResultsPerBatch; ++k) present += checks.count(check_id(seq, k));
      expected_rows += present;
      if (present != 0 && present != kResultsPerBatch)
        violations.push_back(run.agent + " seq " + std::to_string(seq) + ": " +
                             std::to_string(present) + " of 3 results stored");
      if (run.acknowledged.count(seq) && present != kResultsPerBatch)
        violations.push_back(run.agent + " seq " + std::to_string(seq) +
                             ": acknowledged, then lost");
    }
    if (checks.size() != expected_rows)
      violations.push_back(run.agent + ": checks stored that no batch sent");
  }
  std::string listed;
  for (const auto& v : violations) listed += v + "\n";
  INFO(listed << "collector log:\n" << collector.child().log());
  CHECK(violations.empty());
  CHECK(acknowledged >= kAgents);

  // Replays after the restart: an acknowledged batch is a duplicate; a batch that was in
  // flight at the kill is a duplicate exactly when it was committed.
  for (const auto& run : runs) {
    INFO(run.agent);
    if (!run.acknowledged.empty()) {
      const HttpReply replay = collector.post(
          "/api/v1/reports", report(run.agent, site, *run.acknowledged.begin()).dump(), run.token);
      CHECK(replay.status == 200);
      CHECK(parse(replay) == json{{"status", "duplicate"}});
    }
    if (run.last_seq != 0 && !run.acknowledged.count(run.last_seq)) {
      const bool committed = stored.count(run.agent) != 0 &&
                             stored.at(run.agent).count(check_id(run.last_seq, 0)) != 0;
      const HttpReply resent = collector.post(
          "/api/v1/reports", report(run.agent, site, run.last_seq).dump(), run.token);
      CHECK(resent.status == 200);
      CHECK(parse(resent).value("status", "") == (committed ? "duplicate" : "stored"));
    }
  }
  const HttpReply next = collector.post(
      "/api/v1/reports", report(runs[0].agent, site, runs[0].last_seq + 1).dump(), runs[0].token);
  CHECK(next.status == 200);
  CHECK(parse(next).value("status", "") == "stored");
}

TEST_CASE("Ingest: a SIGKILL under load loses no acknowledged batch and half-stores none",
          "[faults]") {
  stop_under_load(SIGKILL);
}

TEST_CASE("Ingest: a SIGTERM under load answers what is in flight and loses nothing answered",
          "[faults]") {
  stop_under_load(SIGTERM);
}

}  // namespace
}  // namespace vigie
