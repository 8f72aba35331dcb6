#include "console/ui.hpp"

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "console/keys.hpp"
#include "console/memory_canvas.hpp"
#include "console/text.hpp"
#include "tests/console/rows.hpp"

namespace vigie::console {
namespace {

using testing::make_row;

constexpr std::int64_t kNow = 1'700'000'000'000;

CheckRow problem(std::string site, std::string name, State state, std::int64_t hard_since,
                 std::string summary = "failing") {
  CheckRow row = make_row(std::move(site), std::move(name), state, hard_since, kNow - 5'000,
                          std::move(summary));
  row.hard = state;
  row.hard_since_ms = hard_since;
  row.family = "system";
  return row;
}

// A World fetched at kNow holding `problems`.
World world_of(std::vector<CheckRow> problems, std::uint64_t generation = 1) {
  World world;
  world.generation = generation;
  world.fetched_at_ms = kNow;
  world.collector_now_ms = kNow;
  auto overview = std::make_shared<Overview>();
  overview->now_ms = kNow;
  for (const CheckRow& row : problems) ++overview->checks[static_cast<std::size_t>(row.hard)];
  world.overview = overview;
  std::sort(problems.begin(), problems.end(), problem_before);
  world.problems = std::make_shared<const std::vector<CheckRow>>(std::move(problems));
  return world;
}

World sample_world() {
  CheckRow backup =
      problem("onesse", "backup", State::kCritical, kNow - 3'600'000, "last snapshot 3 days ago");
  backup.family = "backup";
  backup.result.check = "backup/restic:/srv";
  CheckRow wifi = problem("mimizan", "wifi", State::kWarning, kNow - 7'200'000, "AP down");
  wifi.family = "wifi";
  CheckRow fw = problem("labenne", "firewall", State::kCritical, kNow - 60'000, "HA lost");
  fw.family = "firewall";
  CheckRow acked = problem("sabres", "disk", State::kWarning, kNow - 600'000, "92% used");
  acked.ack = AckInfo{"alice", "cleanup planned", kNow - 1000, 0, false};
  return world_of({backup, wifi, fw, acked});
}

Reaction press(Ui& ui, const World& world, int key, std::vector<Request>* sent = nullptr) {
  std::vector<Request> requests;
  const Reaction reaction = ui.on_key(key, world, 24, kNow, requests);
  if (sent != nullptr) *sent = std::move(requests);
  return reaction;
}

void type(Ui& ui, const World& world, std::string_view text) {
  for (const char c : text) press(ui, world, static_cast<unsigned char>(c));
}

MemoryCanvas draw(Ui& ui, const World& world, int width = 80, int height = 24) {
  MemoryCanvas canvas(width, height);
  ui.render(world, {.events_live = true}, kNow, canvas);
  return canvas;
}

int find_line(const MemoryCanvas& canvas, std::string_view needle) {
  for (int y = 0; y < canvas.height(); ++y) {
    if (canvas.line(y).find(needle) != std::string::npos) return y;
  }
  return -1;
}

TEST_CASE("build_items: problems most severe first, then the oldest", "[ui]") {
  const World world = sample_world();
  const auto items = build_items(world, {}, "", "", "severity");
  REQUIRE(items.size() == 4);
  CHECK(items[0].site_name == "onesse");   // CRITICAL for 1 h
  CHECK(items[1].site_name == "labenne");  // CRITICAL for 1 min
  CHECK(items[2].site_name == "mimizan");  // WARNING for 2 h
  CHECK(items[3].site_name == "sabres");
}

TEST_CASE("build_items: the other sort orders", "[ui]") {
  const World world = sample_world();
  const auto by_age = build_items(world, {}, "", "", "age");
  CHECK(by_age[0].site_name == "mimizan");
  const auto by_site = build_items(world, {}, "", "", "site");
  CHECK(by_site[0].site_name == "labenne");
  CHECK(by_site[3].site_name == "sabres");
  const auto by_name = build_items(world, {}, "", "", "name");
  CHECK(by_name[0].name == "backup");
}

TEST_CASE("build_items: search is case-insensitive over site, name, id and summary", "[ui]") {
  const World world = sample_world();
  CHECK(build_items(world, {}, "ONESSE", "", "severity").size() == 1);
  CHECK(build_items(world, {}, "restic", "", "severity").size() == 1);
  CHECK(build_items(world, {}, "ap down", "", "severity").size() == 1);
  CHECK(build_items(world, {}, "nowhere", "", "severity").empty());
}

TEST_CASE("build_items: the family filter", "[ui]") {
  const World world = sample_world();
  const auto backups = build_items(world, {}, "", "backup", "severity");
  REQUIRE(backups.size() == 1);
  CHECK(backups[0].site_name == "onesse");
}

TEST_CASE("Ui: the Problems view at 80x24", "[ui]") {
  ::setenv("TZ", "UTC", 1);
  Ui ui(true);
  const World world = sample_world();
  const MemoryCanvas canvas = draw(ui, world);
  CHECK_THAT(canvas.line(0), Catch::StartsWith("CRIT 2  WARN 2  UNKN 0  OK 0"));
  CHECK_THAT(canvas.line(0), Catch::EndsWith("live 22:13:20"));
  CHECK_THAT(canvas.line(1), Catch::StartsWith("Problems 4"));
  CHECK_THAT(canvas.line(2), Catch::Contains("SITE") && Catch::Contains("STATE"));
  CHECK_THAT(canvas.line(3),
             Catch::Contains("onesse") && Catch::Contains("CRITICAL") && Catch::Contains("1h"));
  CHECK(canvas.style_at(0, 3).reverse);  // the first line is selected
  CHECK_FALSE(canvas.style_at(0, 4).reverse);
  const int state_x = static_cast<int>(canvas.line(2).find("STATE"));
  CHECK(canvas.style_at(state_x, 3).tone == Tone::kCritical);
  // The acknowledged problem is dimmed, with who and why.
  const int acked = find_line(canvas, "sabres");
  REQUIRE(acked > 0);
  CHECK_THAT(canvas.line(acked), Catch::Contains("[ack alice: cleanup"));
  CHECK(canvas.style_at(state_x, acked).tone == Tone::kDim);
  CHECK_THAT(canvas.line(23), Catch::Contains("? help"));
  for (int y = 0; y < 24; ++y) CHECK(columns(canvas.line(y)) <= 80);
}

TEST_CASE("Ui: a stale check is never drawn as a green OK", "[ui]") {
  CheckRow old = problem("onesse", "load", State::kOk, kNow - 1000);
  old.received_ms = kNow - 3'600'000;  // an hour without a result, every minute expected
  old.stale = true;                    // and the collector says so
  Ui ui(true);
  World world = world_of({old});
  const MemoryCanvas canvas = draw(ui, world, 100);
  const int y = find_line(canvas, "onesse");
  REQUIRE(y > 0);
  CHECK_THAT(canvas.line(y), Catch::Contains("STALE"));
  for (int x = 0; x < 100; ++x) CHECK(canvas.style_at(x, y).tone != Tone::kOk);
}

TEST_CASE("Ui: while the collector cannot be reached, old data is shown as doubtful", "[ui]") {
  CheckRow ok = problem("onesse", "load", State::kOk, kNow - 1000);
  World world = world_of({ok});
  world.error = Status::unavailable("cannot reach the collector at https://c: refused");
  world.failing_since_ms = kNow;
  Ui ui(true);
  MemoryCanvas canvas(100, 24);
  ui.render(world, {}, kNow + 60'000, canvas);
  CHECK_THAT(canvas.line(0), Catch::Contains("CONNECTION LOST 1m"));
  CHECK_THAT(canvas.line(1), Catch::Contains("data 1m old"));
  const int y = find_line(canvas, "onesse");
  CHECK_THAT(canvas.line(y), Catch::Contains("OK?"));
  for (int x = 0; x < 100; ++x) CHECK(canvas.style_at(x, y).tone != Tone::kOk);
  CHECK_THAT(canvas.line(23), Catch::Contains("cannot reach the collector"));
}

TEST_CASE("Ui: '/' searches as one types, Enter keeps it, Esc clears it", "[ui]") {
  Ui ui(true);
  const World world = sample_world();
  press(ui, world, '/');
  CHECK(ui.prompt() == PromptKind::kSearch);
  type(ui, world, "mim");
  CHECK(ui.items(world).size() == 1);  // already while typing
  CHECK_THAT(draw(ui, world).line(23), Catch::StartsWith("/mim_"));
  press(ui, world, key::kEnter);
  CHECK(ui.prompt() == PromptKind::kNone);
  CHECK(ui.search() == "mim");
  CHECK(ui.items(world).size() == 1);
  press(ui, world, key::kEscape);
  CHECK(ui.search().empty());
  CHECK(ui.items(world).size() == 4);
  // Growing, then shrinking the search: the lines narrow and come back.
  press(ui, world, '/');
  type(ui, world, "o");
  CHECK(ui.items(world).size() == 3);  // onesse, "AP down", "HA lost"
  type(ui, world, "n");
  CHECK(ui.items(world).size() == 1);
  press(ui, world, key::kBackspace);
  CHECK(ui.items(world).size() == 3);
}

TEST_CASE("Ui: Enter drills down, Esc goes back, Tab cycles the views", "[ui]") {
  Ui ui(true);
  const World world = sample_world();
  press(ui, world, key::kDown);
  CHECK(ui.selected() == 1);
  CHECK(press(ui, world, key::kEnter) == Reaction::kRefetch);
  CHECK(ui.view() == View::kCheck);
  CHECK(ui.want().agent == "labenne-agent");
  press(ui, world, key::kEscape);
  CHECK(ui.view() == View::kProblems);
  CHECK(ui.selected() == 1);
  press(ui, world, key::kTab);
  CHECK(ui.view() == View::kSites);
  press(ui, world, key::kTab);
  CHECK(ui.view() == View::kAgents);
  press(ui, world, key::kTab);
  CHECK(ui.view() == View::kBackups);
  press(ui, world, key::kTab);
  CHECK(ui.view() == View::kProblems);
  CHECK(press(ui, world, 'q') == Reaction::kQuit);
}

TEST_CASE("Ui: f filters by family, s changes the sort", "[ui]") {
  Ui ui(true);
  const World world = sample_world();
  press(ui, world, 'f');
  CHECK(ui.family() == "backup");  // the first family present, alphabetically
  CHECK(ui.items(world).size() == 1);
  press(ui, world, 'f');
  CHECK(ui.family() == "firewall");
  press(ui, world, 'f');
  press(ui, world, 'f');
  press(ui, world, 'f');
  CHECK(ui.family().empty());  // after the last one: all again
  CHECK(ui.sort() == "severity");
  press(ui, world, 's');
  CHECK(ui.sort() == "age");
  CHECK(ui.items(world)[0].site_name == "mimizan");
}

TEST_CASE("Ui: 'a' asks for a comment, which is required, and an optional expiry", "[ui]") {
  Ui ui(true);
  const World world = sample_world();
  press(ui, world, 'a');
  CHECK(ui.prompt() == PromptKind::kAckComment);
  CHECK_THAT(draw(ui, world).line(23),
             Catch::StartsWith("Acknowledge onesse-agent/backup/restic:/srv. Comment"));
  press(ui, world, key::kEnter);  // empty: refused
  CHECK(ui.prompt() == PromptKind::kAckComment);
  type(ui, world, "NAS disk replaced");
  press(ui, world, key::kEnter);
  CHECK(ui.prompt() == PromptKind::kAckExpiry);
  type(ui, world, "soon");
  press(ui, world, key::kEnter);  // not a duration: asked again
  CHECK(ui.prompt() == PromptKind::kAckExpiry);
  for (int i = 0; i < 4; ++i) press(ui, world, key::kBackspace);
  type(ui, world, "4h");
  std::vector<Request> sent;
  press(ui, world, key::kEnter, &sent);
  CHECK(ui.prompt() == PromptKind::kNone);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].method == "POST");
  CHECK(sent[0].path == "/api/v1/acks");
  const auto body = nlohmann::json::parse(sent[0].body);
  CHECK(body["agent"] == "onesse-agent");
  CHECK(body["check"] == "backup/restic:/srv");
  CHECK(body["comment"] == "NAS disk replaced");
  CHECK(body["expires"] == "4h");
}

TEST_CASE("Ui: 'u' takes back the selected check's acknowledgement", "[ui]") {
  Ui ui(true);
  const World world = sample_world();
  std::vector<Request> sent;
  press(ui, world, 'u', &sent);  // the first line is not acknowledged
  CHECK(sent.empty());
  CHECK_THAT(draw(ui, world).line(23), Catch::Contains("select an acknowledged check"));
  press(ui, world, '/');
  type(ui, world, "sabres");
  press(ui, world, key::kEnter);
  press(ui, world, 'u', &sent);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].method == "DELETE");
  CHECK(sent[0].path == "/api/v1/acks?agent=sabres-agent&check=system%2Fdisk");
  CHECK(sent[0].body.empty());
}

TEST_CASE("Ui: Space marks lines and A acknowledges the marked ones", "[ui]") {
  Ui ui(true);
  const World world = sample_world();
  press(ui, world, ' ');  // marks the first, moves down
  press(ui, world, key::kDown);
  press(ui, world, ' ');  // marks the third
  CHECK(ui.marks().size() == 2);
  CHECK_THAT(draw(ui, world).line(3), Catch::StartsWith("*"));
  press(ui, world, 'A');
  type(ui, world, "storm");
  press(ui, world, key::kEnter);
  std::vector<Request> sent;
  press(ui, world, key::kEnter, &sent);  // no expiry
  REQUIRE(sent.size() == 2);
  CHECK_FALSE(nlohmann::json::parse(sent[0].body).contains("expires"));
  CHECK(ui.marks().empty());
}

TEST_CASE("Ui: A without marks acknowledges every line shown", "[ui]") {
  Ui ui(true);
  const World world = sample_world();
  press(ui, world, 'f');  // backup only
  press(ui, world, 'A');
  type(ui, world, "known");
  press(ui, world, key::kEnter);
  std::vector<Request> sent;
  press(ui, world, key::kEnter, &sent);
  REQUIRE(sent.size() == 1);
  CHECK(nlohmann::json::parse(sent[0].body)["check"] == "backup/restic:/srv");
}

TEST_CASE("Ui: 'd' schedules a downtime with a duration and a comment", "[ui]") {
  Ui ui(true);
  const World world = sample_world();
  press(ui, world, 'd');
  CHECK(ui.prompt() == PromptKind::kDowntimeDuration);
  type(ui, world, "2h");
  press(ui, world, key::kEnter);
  type(ui, world, "works on the line");
  std::vector<Request> sent;
  press(ui, world, key::kEnter, &sent);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].path == "/api/v1/downtimes");
  const auto body = nlohmann::json::parse(sent[0].body);
  CHECK(body["site"] == "onesse");
  CHECK(body["duration"] == "2h");
  CHECK(body["comment"] == "works on the line");
}

TEST_CASE("Ui: the selection follows its line when a new World reorders the list", "[ui]") {
  Ui ui(true);
  const World before = sample_world();
  press(ui, before, key::kDown);
  press(ui, before, key::kDown);  // mimizan, third
  CheckRow newer = problem("aaa", "fw", State::kCritical, kNow - 9'000'000);
  std::vector<CheckRow> rows(before.problems->begin(), before.problems->end());
  rows.push_back(newer);
  const World after = world_of(rows, 2);
  ui.follow(before, after);
  CHECK(ui.items(after)[ui.selected()].site_name == "mimizan");
}

TEST_CASE("Ui: the help lists the key bindings", "[ui]") {
  Ui ui(true);
  const World world = sample_world();
  press(ui, world, '?');
  const MemoryCanvas canvas = draw(ui, world, 100, 40);
  CHECK(find_line(canvas, "search as you type") > 0);
  CHECK(find_line(canvas, "acknowledge every marked") > 0);
  press(ui, world, '?');
  CHECK_FALSE(ui.help_shown());
}

TEST_CASE("Ui: without UTF-8 the Check view draws ASCII only", "[ui]") {
  auto page = std::make_shared<CheckPage>();
  page->detail.row = problem("onesse", "backup", State::kCritical, kNow - 1000);
  page->detail.row.result.metrics.push_back({.label = "size", .value = 2e9, .unit = "B"});
  Series series;
  series.metric = "size";
  for (int i = 0; i < 48; ++i) series.points.push_back({kNow - i * 1'800'000, 1e9 + i * 1e7});
  page->series.push_back(series);
  page->detail.history.push_back({1, kNow - 1000, "state", "OK", "CRITICAL", "hard", "down", ""});
  World world = sample_world();
  world.check = page;
  world.fetched = {.view = View::kCheck, .agent = "onesse-agent", .check = "system/backup"};
  for (const bool utf8 : {true, false}) {
    Ui ui(utf8);
    ui.show(world.fetched);
    const MemoryCanvas canvas = draw(ui, world, 100, 30);
    const std::string text = canvas.text();
    CHECK_THAT(text, Catch::Contains("Metrics, last 24 h") && Catch::Contains("History") &&
                         Catch::Contains("no notification history"));
    bool ascii = true;
    for (const char c : text) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    CHECK(ascii == !utf8);
  }
}

TEST_CASE("Ui: the Agents view shows pollers with the sites they report for", "[ui][central]") {
  Ui ui(true);
  World world = sample_world();
  AgentRow poller{.id = "central-poller", .site = "centre", .last_seen_ms = kNow - 5'000};
  poller.member_sites = 224;
  AgentRow plain{.id = "onesse-01", .site = "onesse", .last_seen_ms = kNow - 5'000};
  world.agents =
      std::make_shared<const std::vector<AgentRow>>(std::vector<AgentRow>{poller, plain});
  ui.show({.view = View::kAgents});
  const MemoryCanvas canvas = draw(ui, world);
  INFO(canvas.text());
  CHECK_THAT(canvas.line(2), Catch::Contains("POLLER"));
  const int p = find_line(canvas, "central-poller");
  REQUIRE(p > 0);
  CHECK_THAT(canvas.line(p), Catch::Contains("224 sites"));
  const int o = find_line(canvas, "onesse-01");
  REQUIRE(o > 0);
  CHECK_THAT(canvas.line(o), !Catch::Contains("sites"));
}

TEST_CASE("Ui: the Site view shows central results beside its own, with their source",
          "[ui][central]") {
  Ui ui(true);
  World world = sample_world();
  auto detail = std::make_shared<SiteDetail>();
  detail->site.name = "onesse";
  detail->site.agents = 1;
  detail->site.central = 1;
  detail->site.unreachable = true;
  detail->site.agents_lost = 1;
  detail->site.line = "down";
  detail->site.last_report_ms = kNow - 60'000;
  CheckRow own = make_row("onesse", "load", State::kOk);
  own.agent = "onesse-01";
  CheckRow av = make_row("onesse", "antivirus", State::kCritical);
  av.agent = "central-poller";
  av.central = true;
  av.family = "antivirus";
  detail->checks = {own, av};
  world.site = detail;
  ui.show({.view = View::kSite, .site = "onesse"});
  const MemoryCanvas canvas = draw(ui, world);
  INFO(canvas.text());
  CHECK_THAT(canvas.line(1),
             Catch::Contains("UNREACHABLE (line down)") && Catch::Contains("1 central"));
  CHECK_THAT(canvas.line(2), Catch::Contains("SOURCE"));
  const int central = find_line(canvas, "@central-poller");
  REQUIRE(central > 0);
  CHECK_THAT(canvas.line(central), Catch::Contains("antivirus"));
  const int mine = find_line(canvas, "onesse-01");
  REQUIRE(mine > 0);
  CHECK_THAT(canvas.line(mine), !Catch::Contains("@"));
  for (int y = 0; y < 24; ++y) CHECK(columns(canvas.line(y)) <= 80);
}

TEST_CASE("Ui: the Check view shows its recent traps above the metrics, newest first", "[ui]") {
  auto page = std::make_shared<CheckPage>();
  page->detail.row = problem("onesse", "firewall", State::kCritical, kNow - 1000);
  page->detail.row.result.metrics.push_back({.label = "sessions", .value = 12});
  HistoryEvent trap{
      .id = 2, .ts_ms = kNow - 500, .kind = "trap", .summary = "linkDown from fw: ifIndex.3=3"};
  trap.trap_name = "linkDown";
  trap.not_kept_before = 4;
  page->detail.history.push_back(trap);
  page->detail.history.push_back({1, kNow - 1000, "state", "OK", "CRITICAL", "hard", "down", ""});
  for (int i = 0; i < 7; ++i) {  // older ones, unnamed: the OID shows
    HistoryEvent old{.id = 0, .ts_ms = kNow - 5000 - i, .kind = "trap", .summary = "old"};
    old.trap_oid = "1.3.6.1.4.1.2604.5.1.8.1.1";
    old.inform = true;
    page->detail.history.push_back(old);
  }
  World world = sample_world();
  world.check = page;
  world.fetched = {.view = View::kCheck, .agent = "onesse-agent", .check = "system/firewall"};
  Ui ui(true);
  ui.show(world.fetched);
  const MemoryCanvas canvas = draw(ui, world, 80, 40);
  INFO(canvas.text());
  const int heading = find_line(canvas, "Recent traps (newest first)");
  REQUIRE(heading > 0);
  CHECK(find_line(canvas, "linkDown           [4 not kept] linkDown from fw: ifIndex.3=3") ==
        heading + 1);
  CHECK(find_line(canvas, "1.3.6.1.4.1.2604.5 (inform) old") == heading + 2);
  CHECK(find_line(canvas, "and 3 more in the history below") == heading + 6);
  CHECK(find_line(canvas, "Metrics, last 24 h") > heading + 6);
}

TEST_CASE("ListCursor: stays within the list and the page", "[ui]") {
  ListCursor cursor;
  cursor.move(5, 3, 10);
  CHECK(cursor.selected == 2);
  cursor.move(-10, 3, 10);
  CHECK(cursor.selected == 0);
  cursor.selected = 50;
  cursor.clamp(100, 20);
  CHECK(cursor.top == 31);
  CHECK(list_page(24) == 20);
  CHECK(list_page(3) == 0);
}

}  // namespace
}  // namespace vigie::console

namespace vigie::console {
namespace {

TEST_CASE("Ui: the Agents view shows each agent's configuration version, and if behind", "[ui]") {
  World world = sample_world();
  auto agents = std::make_shared<std::vector<AgentRow>>();
  AgentRow current{.id = "onesse-01", .site = "onesse", .last_seen_ms = kNow - 1000};
  current.config_managed = true;
  current.config_running = "3f2a9c0b1d4e5f60";
  AgentRow behind = current;
  behind.id = "sabres-01";
  behind.site = "sabres";
  behind.config_behind = true;
  AgentRow refused = behind;
  refused.id = "labenne-01";
  refused.site = "labenne";
  refused.config_refused = true;
  AgentRow own{.id = "mimizan-01", .site = "mimizan", .last_seen_ms = kNow - 1000};
  *agents = {current, behind, refused, own};
  world.agents = agents;
  Ui ui(true);
  press(ui, world, key::kTab);
  press(ui, world, key::kTab);
  REQUIRE(ui.view() == View::kAgents);
  const MemoryCanvas canvas = draw(ui, world, 140);
  CHECK(find_line(canvas, "CONFIG") >= 0);
  const auto line_of = [&](std::string_view agent) {
    return canvas.line(find_line(canvas, agent));
  };
  CHECK_THAT(line_of("onesse-01"), Catch::Contains("3f2a9c0b") && !Catch::Contains("behind"));
  CHECK_THAT(line_of("sabres-01"), Catch::Contains("3f2a9c0b behind"));
  CHECK_THAT(line_of("labenne-01"), Catch::Contains("3f2a9c0b refused"));
  CHECK_THAT(line_of("mimizan-01"), !Catch::Contains("3f2a9c0b"));
}

}  // namespace
}  // namespace vigie::console
