// vigie-bench-console: how fast the console turns the collector's replies into a frame,
// and how fast it scrolls and searches, at 5,000 sites and 150,000 checks.
//
// The replies are built in the query API's shapes (docs/protocol.md) and handed to the
// console's own code through its Transport seam: the clock starts when the bytes are
// in hand ("data arriving") and stops when the frame is drawn on an in-memory canvas
// of the terminal's size. The network and ncurses' own output are not measured.
//
//   vigie-bench-console [--sites 5000] [--checks-per-site 30] [--problem-percent 5]
//                       [--runs 7] [--width 200] [--height 50]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "console/keys.hpp"
#include "console/live.hpp"
#include "console/memory_canvas.hpp"
#include "console/ui.hpp"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace vigie::console;

constexpr std::int64_t kNow = 1'764'400'000'000;
constexpr const char* kFamilies[] = {"firewall/sophos", "wifi/unifi",  "backup/restic",
                                     "antivirus/clamd", "system/disk", "system/load"};

struct Config {
  int sites = 5000;
  int checks_per_site = 30;
  int problem_percent = 5;
  int runs = 7;
  int width = 200;
  int height = 50;
};

json check_json(int site, int index, int status) {
  const std::string family = kFamilies[index % 6];
  const std::string site_name = "site-" + std::to_string(site);
  json metrics = json::array();
  if (family == "backup/restic") {
    metrics = {{{"name", "age"}, {"value", 3600 + site}, {"unit", "s"}},
               {{"name", "size"}, {"value", 1e9 + site * 1e6}, {"unit", "B"}},
               {{"name", "size_change"}, {"value", (site % 7) - 3}, {"unit", "%"}}};
  }
  return {{"agent", site_name + "-01"},
          {"site", site_name},
          {"name", family.substr(family.find('/') + 1) + "-" + std::to_string(index)},
          {"check", family + ":" + std::to_string(index)},
          {"family", family.substr(0, family.find('/'))},
          {"status", status},
          {"state", status == 0   ? "OK"
                    : status == 1 ? "WARNING"
                                  : "CRITICAL"},
          {"hard_state", status == 0   ? "OK"
                         : status == 1 ? "WARNING"
                                       : "CRITICAL"},
          {"hard_since", kNow - (site * 7919 + index) % 86'400'000},
          {"summary", "summary of check " + std::to_string(index) + " on " + site_name},
          {"metrics", metrics},
          {"ts", kNow - 30'000},
          {"received", kNow - 29'000},
          {"since", kNow - 3'600'000},
          {"interval_s", 300},
          {"duration_ms", 12},
          {"state_type", "hard"},
          {"attempt", 1},
          {"max_attempts", 3},
          {"stale", false},
          {"agent_lost", false},
          {"flapping", false},
          {"in_downtime", false},
          {"ack", nullptr}};
}

struct Bodies {
  std::string overview, problems_typical, problems_all, sites, backups, agents;
  // The Site view of site-42, and the Check view of its backup check: the check with
  // its history (100 events and 20 traps, as the API sends at most), a 24-hour series
  // per metric, its notifications.
  std::string site, check, series, notifications;
};

Bodies build(const Config& c) {
  json problems = json::array(), all = json::array(), backups = json::array(),
       sites = json::array(), agents = json::array();
  const int total = c.sites * c.checks_per_site;
  const int every = c.problem_percent > 0 ? 100 / c.problem_percent : total + 1;
  int n = 0;
  for (int s = 0; s < c.sites; ++s) {
    int worst = 0;
    for (int i = 0; i < c.checks_per_site; ++i, ++n) {
      const int status = n % every == 0 ? 1 + (n / every) % 2 : 0;
      worst = std::max(worst, status);
      json check = check_json(s, i, status);
      if (status != 0) problems.push_back(check);
      if (i == 2) backups.push_back(check);  // one backup check a site
      check["status"] = 2;
      check["hard_state"] = "CRITICAL";
      all.push_back(std::move(check));
    }
    const std::string name = "site-" + std::to_string(s);
    sites.push_back({{"name", name},
                     {"state", worst == 0   ? "OK"
                               : worst == 1 ? "WARNING"
                                            : "CRITICAL"},
                     {"status", worst},
                     {"counts", {{"OK", 28}, {"WARNING", 1}, {"CRITICAL", 1}, {"UNKNOWN", 0}}},
                     {"families",
                      {{"firewall", "OK"},
                       {"wifi", "WARNING"},
                       {"backup", "OK"},
                       {"antivirus", "OK"},
                       {"system", "OK"}}},
                     {"agents", 1},
                     {"agents_lost", 0},
                     {"last_report", kNow - 20'000},
                     {"unreachable", false},
                     {"in_downtime", false},
                     {"problems", worst != 0 ? 1 : 0},
                     {"acknowledged", 0}});
    agents.push_back({{"id", name + "-01"},
                      {"site", name},
                      {"hostname", "host-" + name},
                      {"version", "0.1.0"},
                      {"last_seen", kNow - 20'000},
                      {"lost", false},
                      {"clock_skew_ms", 12},
                      {"spool_depth", 0}});
  }
  // The Site and Check views: site-42, its checks, its agent, two downtimes.
  const int focus = std::min(42, c.sites - 1);
  json site = sites[static_cast<std::size_t>(focus)];
  site["now"] = kNow;
  site["checks"] = json::array();
  for (int i = 0; i < c.checks_per_site; ++i) site["checks"].push_back(check_json(focus, i, 0));
  site["agent_list"] = json::array({agents[static_cast<std::size_t>(focus)]});
  site["downtimes"] = json::array();
  for (int d = 0; d < 2; ++d) {
    site["downtimes"].push_back({{"id", d + 1},
                                 {"agent", "site-" + std::to_string(focus) + "-01"},
                                 {"check", d == 0 ? "" : "backup/restic:2"},
                                 {"comment", "maintenance window"},
                                 {"author", "operator"},
                                 {"start", kNow - 3'600'000},
                                 {"end", kNow + 3'600'000},
                                 {"active", true}});
  }
  json check = check_json(focus, 2, 2);
  check["now"] = kNow;
  check["history"] = json::array();
  for (int e = 0; e < 120; ++e) {
    json event = {{"id", 10'000 - e}, {"ts", kNow - e * 600'000LL}};
    if (e % 6 == 5) {
      event["kind"] = "trap";
      event["summary"] = "linkDown on port " + std::to_string(e);
      event["trap"] = {{"name", "linkDown"},    {"oid", "1.3.6.1.6.3.1.1.5.3"},
                       {"device", "switch-42"}, {"source", "192.0.2.42"},
                       {"inform", false},       {"not_kept_before", 0}};
    } else {
      event["kind"] = "state";
      event["from"] = e % 2 == 0 ? "OK" : "CRITICAL";
      event["to"] = e % 2 == 0 ? "CRITICAL" : "OK";
      event["state_type"] = "hard";
      event["summary"] = "backup age " + std::to_string(e) + " h";
    }
    check["history"].push_back(std::move(event));
  }
  json points = json::array();
  for (int p = 0; p < 48; ++p) {
    points.push_back({{"ts", kNow - (48 - p) * 1'800'000LL}, {"avg", 3600.0 + p * 12.5}});
  }
  json notifications = json::array();
  for (int n = 0; n < 20; ++n) {
    notifications.push_back({{"time", kNow - n * 3'600'000LL},
                             {"channel", "mail"},
                             {"target", "it@site-42.example"},
                             {"state", n % 2 == 0 ? "CRITICAL" : "OK"},
                             {"status", "sent"},
                             {"error", nullptr}});
  }
  Bodies b;
  b.site = site.dump();
  b.check = check.dump();
  b.series = json{{"metric", "age"}, {"unit", "s"}, {"points", points}}.dump();
  b.notifications = json{{"notifications", notifications}}.dump();
  b.overview = json{
      {"now", kNow},
      {"cursor", 1},
      {"checks", {{"OK", total}, {"WARNING", 0}, {"CRITICAL", 0}, {"UNKNOWN", 0}}},
      {"sites", {{"total", c.sites}, {"unreachable", 0}}},
      {"agents", {{"total", c.sites}, {"lost", 0}}},
      {"problems", problems.size()},
      {"acknowledged",
       0}}.dump();
  b.problems_typical = json{{"now", kNow}, {"cursor", 1}, {"checks", problems}}.dump();
  b.problems_all = json{{"now", kNow}, {"cursor", 1}, {"checks", all}}.dump();
  b.sites = json{{"now", kNow}, {"cursor", 1}, {"sites", sites}}.dump();
  b.backups = json{{"now", kNow}, {"cursor", 1}, {"checks", backups}}.dump();
  b.agents = json{{"now", kNow}, {"agents", agents}}.dump();
  return b;
}

class Replies final : public Transport {
 public:
  explicit Replies(std::map<std::string, const std::string*> bodies) : bodies_(std::move(bodies)) {}
  vigie::Result<std::string> call(std::string_view, std::string_view path,
                                  std::string_view) override {
    const std::string key(path.substr(0, path.find('?')));
    const auto it = bodies_.find(key);
    if (it == bodies_.end()) return vigie::Status::not_found("no reply for " + key);
    return *it->second;
  }
  void cancel() override {}

 private:
  std::map<std::string, const std::string*> bodies_;
};

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Data arriving to the first frame: parse, order, build the view's lines, draw.
double first_frame(const Config& c, const Bodies& b, View view, const std::string& problems) {
  Replies replies({{"/api/v1/overview", &b.overview},
                   {"/api/v1/problems", &problems},
                   {"/api/v1/sites", &b.sites},
                   {"/api/v1/agents", &b.agents},
                   {"/api/v1/checks", &b.backups},
                   {"/api/v1/site", &b.site},
                   {"/api/v1/check", &b.check},
                   {"/api/v1/series", &b.series},
                   {"/api/v1/notifications", &b.notifications}});
  const std::string site = "site-" + std::to_string(std::min(42, c.sites - 1));
  const Want want = {.view = view,
                     .site = site,
                     .agent = view == View::kCheck ? site + "-01" : "",
                     .check = view == View::kCheck ? "backup/restic:2" : ""};
  std::vector<double> times;
  for (int r = 0; r < c.runs; ++r) {
    const auto start = Clock::now();
    const World world = fetch_world(replies, World{}, want, kNow);
    Ui ui(true);
    ui.show(want);
    MemoryCanvas canvas(c.width, c.height);
    ui.render(world, {.events_live = true}, kNow, canvas);
    times.push_back(ms_since(start));
    if (!world.error.is_ok()) {
      std::fprintf(stderr, "fetch failed: %s\n", world.error.message().c_str());
      std::exit(1);
    }
  }
  return median(times);
}

// One key and the frame after it, `steps` times: the median and the worst.
std::pair<double, double> key_steps(const Config& c, const World& world, Ui& ui,
                                    const std::vector<int>& keys) {
  std::vector<double> times;
  std::vector<Request> none;
  for (const int key : keys) {
    const auto start = Clock::now();
    ui.on_key(key, world, c.height, kNow, none);
    MemoryCanvas canvas(c.width, c.height);
    ui.render(world, {.events_live = true}, kNow, canvas);
    times.push_back(ms_since(start));
  }
  return {median(times), *std::max_element(times.begin(), times.end())};
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  for (int i = 1; i + 1 < argc; i += 2) {
    const int v = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--sites") == 0) c.sites = v;
    else if (std::strcmp(argv[i], "--checks-per-site") == 0) c.checks_per_site = v;
    else if (std::strcmp(argv[i], "--problem-percent") == 0) c.problem_percent = v;
    else if (std::strcmp(argv[i], "--runs") == 0) c.runs = std::max(1, v);
    else if (std::strcmp(argv[i], "--width") == 0) c.width = v;
    else if (std::strcmp(argv[i], "--height") == 0) c.height = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  const Bodies b = build(c);
  std::printf("%d sites, %d checks, %dx%d canvas, median of %d runs\n", c.sites,
              c.sites * c.checks_per_site, c.width, c.height, c.runs);
  std::printf(
      "reply sizes: problems %.1f MB (typical), %.1f MB (all), sites %.1f MB, "
      "backups %.1f MB\n",
      b.problems_typical.size() / 1e6, b.problems_all.size() / 1e6, b.sites.size() / 1e6,
      b.backups.size() / 1e6);
  std::printf("first frame, Problems (%d%% failing): %8.1f ms\n", c.problem_percent,
              first_frame(c, b, View::kProblems, b.problems_typical));
  std::printf("first frame, Sites:                  %8.1f ms\n",
              first_frame(c, b, View::kSites, b.problems_typical));
  std::printf("first frame, Backups:                %8.1f ms\n",
              first_frame(c, b, View::kBackups, b.problems_typical));
  std::printf("first frame, Agents:                 %8.1f ms\n",
              first_frame(c, b, View::kAgents, b.problems_typical));
  std::printf("first frame, Site (%d checks):        %8.1f ms\n", c.checks_per_site,
              first_frame(c, b, View::kSite, b.problems_typical));
  std::printf("first frame, Check (120 events):     %8.1f ms\n",
              first_frame(c, b, View::kCheck, b.problems_typical));
  std::printf("first frame, Problems (all failing): %8.1f ms\n",
              first_frame(c, b, View::kProblems, b.problems_all));

  // Scrolling and searching over every check failing: the largest list there can be.
  Replies replies({{"/api/v1/overview", &b.overview}, {"/api/v1/problems", &b.problems_all}});
  const World world = fetch_world(replies, World{}, {}, kNow);
  Ui ui(true);
  MemoryCanvas canvas(c.width, c.height);
  ui.render(world, {}, kNow, canvas);
  const auto down = key_steps(c, world, ui, std::vector<int>(200, key::kDown));
  const auto page = key_steps(c, world, ui, std::vector<int>(50, key::kPageDown));
  std::printf("scroll step (Down), %zu lines:     median %.3f ms, worst %.3f ms\n",
              ui.items(world).size(), down.first, down.second);
  std::printf("scroll step (PgDn):                median %.3f ms, worst %.3f ms\n", page.first,
              page.second);
  std::vector<Request> none;
  ui.on_key('/', world, c.height, kNow, none);
  const auto search = key_steps(c, world, ui, {'s', 'i', 't', 'e', '-', '4', '2', '1'});
  std::printf("search step (one key typed):       median %.1f ms, worst %.1f ms (%zu match)\n",
              search.first, search.second, ui.items(world).size());
  return 0;
}
