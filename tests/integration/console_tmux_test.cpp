// The interactive console as a technician uses it: the real vigie-console in a real
// terminal (tmux, on a server of the test's own), against a real collector over HTTPS
// seeded with reports. Keys go in with send-keys; the screen comes back with
// capture-pane.

#include <unistd.h>

#include <signal.h>
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/time.hpp"
#include "tests/support/child.hpp"
#include "tests/support/collector_fixture.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using testing::Collector;
using testing::run;

constexpr std::int64_t kMinute = 60'000;

// One tmux server for one test, on a socket of its own, killed at the end.
class Tmux {
 public:
  Tmux(const testing::TempDir& dir, const std::string& command, int width, int height)
      : socket_((dir / "tmux.sock").string()) {
    auto r = run({"tmux", "-S", socket_, "-f", "/dev/null", "new-session", "-d", "-x",
                  std::to_string(width), "-y", std::to_string(height), command});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
  }
  ~Tmux() { (void)run({"tmux", "-S", socket_, "kill-server"}); }
  Tmux(const Tmux&) = delete;
  Tmux& operator=(const Tmux&) = delete;

  void keys(std::vector<std::string> keys) {
    std::vector<std::string> argv = {"tmux", "-S", socket_, "send-keys", "-t", "0"};
    argv.insert(argv.end(), keys.begin(), keys.end());
    REQUIRE(run(argv).exit_code == 0);
  }
  // Text typed as is (no key names).
  void type(const std::string& text) {
    REQUIRE(run({"tmux", "-S", socket_, "send-keys", "-t", "0", "-l", text}).exit_code == 0);
  }
  // The screen; with `escapes`, with the SGR sequences that give each cell's style.
  std::string screen(bool escapes = false) {
    std::vector<std::string> argv = {"tmux", "-S", socket_, "capture-pane", "-p", "-t", "0"};
    if (escapes) argv.push_back("-e");
    return run(argv).out;
  }
  std::vector<std::string> lines(bool escapes = false) {
    std::vector<std::string> out;
    std::string text = screen(escapes);
    std::size_t start = 0;
    while (start < text.size()) {
      const std::size_t end = text.find('\n', start);
      out.push_back(text.substr(start, end - start));
      if (end == std::string::npos) break;
      start = end + 1;
    }
    return out;
  }
  void resize(int width, int height) {
    REQUIRE(run({"tmux", "-S", socket_, "resize-window", "-t", "0", "-x", std::to_string(width),
                 "-y", std::to_string(height)})
                .exit_code == 0);
  }
  // Waits (up to 10 s) until the screen shows `text`.
  bool shows(const std::string& text, std::chrono::milliseconds limit = 10s) {
    return testing::eventually([&] { return screen().find(text) != std::string::npos; }, limit);
  }
  bool hides(const std::string& text, std::chrono::milliseconds limit = 10s) {
    return testing::eventually([&] { return screen().find(text) == std::string::npos; }, limit);
  }

 private:
  std::string socket_;
};

json result(const std::string& name, const std::string& check, int status,
            const std::string& summary, std::int64_t ts) {
  return {{"name", name}, {"check", check},   {"status", status},   {"summary", summary},
          {"ts", ts},     {"duration_ms", 3}, {"interval_s", 3600}, {"max_attempts", 1}};
}

// A collector with four sites: three problems that began at different times and one
// site where all is well.
struct Seeded {
  testing::TempDir dir;
  Collector collector{dir};
  std::string operator_ = collector.token("operator");
  std::filesystem::path token_file = dir.write("console.token", operator_ + "\n");

  Seeded() {
    const std::int64_t now = wall_ms();
    send("onesse",
         result("backup", "backup/restic:/srv", 2, "last snapshot 3 days ago", now - 30 * kMinute));
    send("mimizan",
         result("wifi", "wifi/unifi:ap-plage", 1, "ap-plage offline", now - 20 * kMinute));
    send("labenne",
         result("firewall", "firewall/sophos:fw", 2, "HA peer lost", now - 10 * kMinute));
    send("sabres", result("load", "system/load", 0, "load 0.2", now - 5 * kMinute));
  }

  void send(const std::string& site, json one) {
    const std::string agent = site + "-01";
    const std::string token = collector.enroll(agent, site);
    const json report = {{"protocol", 1},
                         {"agent", {{"id", agent}, {"site", site}}},
                         {"seq", 1},
                         {"sent", wall_ms()},
                         {"results", json::array({std::move(one)})}};
    const auto reply = collector.post("/api/v1/reports", report.dump(), token);
    INFO(reply.body << reply.error);
    REQUIRE(reply.status == 200);
  }

  std::string console_command() const {
    return std::string(VIGIE_CONSOLE_BIN) + " --url " + collector.url() + " --ca-file " +
           collector.ca() + " --token-file " + token_file.string() + " 2>" +
           (dir / "console.err").string();
  }
};

// Whether `word` is drawn dim (SGR 2) on `line`, a line captured with its escapes.
bool dim_at(const std::string& line, const std::string& word) {
  bool dim = false;
  for (std::size_t i = 0; i < line.size();) {
    if (line[i] == '\x1b' && i + 1 < line.size() && line[i + 1] == '[') {
      const std::size_t end = line.find('m', i);
      if (end == std::string::npos) break;
      std::string params = line.substr(i + 2, end - i - 2);
      std::size_t start = 0;
      while (start <= params.size()) {
        std::size_t semi = params.find(';', start);
        if (semi == std::string::npos) semi = params.size();
        const std::string p = params.substr(start, semi - start);
        if (p == "2") dim = true;
        if (p == "0" || p.empty() || p == "22") dim = false;
        start = semi + 1;
      }
      i = end + 1;
      continue;
    }
    if (line.compare(i, word.size(), word) == 0) return dim;
    ++i;
  }
  return false;
}

// The index of the first line containing `needle`; -1 if none.
int line_of(const std::vector<std::string>& lines, const std::string& needle) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find(needle) != std::string::npos) return static_cast<int>(i);
  }
  return -1;
}

TEST_CASE("Console in tmux: the default view lists the problems, worst and oldest first",
          "[console-tmux]") {
  Seeded s;
  Tmux tmux(s.dir, s.console_command(), 120, 40);
  REQUIRE(tmux.shows("HA peer lost"));
  const auto lines = tmux.lines();
  INFO(tmux.screen());
  CHECK(lines[0].starts_with("CRIT 2  WARN 1  UNKN 0"));
  CHECK(lines[1].starts_with("Problems 3"));
  const int onesse = line_of(lines, "onesse");
  const int labenne = line_of(lines, "labenne");
  const int mimizan = line_of(lines, "mimizan");
  CHECK(onesse == 3);   // CRITICAL for 30 min
  CHECK(labenne == 4);  // CRITICAL for 10 min
  CHECK(mimizan == 5);  // WARNING
  CHECK(line_of(lines, "sabres") == -1);
  CHECK_THAT(lines[onesse], Catch::Contains("CRITICAL") && Catch::Contains("30m"));
  CHECK(tmux.shows("live"));
}

TEST_CASE("Console in tmux: navigation and drill-down", "[console-tmux]") {
  Seeded s;
  Tmux tmux(s.dir, s.console_command(), 120, 40);
  REQUIRE(tmux.shows("HA peer lost"));
  tmux.keys({"Down"});
  tmux.keys({"Enter"});
  REQUIRE(tmux.shows("Check labenne-01/firewall/sophos:fw"));
  CHECK(tmux.shows("History (newest first)"));
  CHECK(tmux.shows("CRITICAL (hard)"));
  tmux.keys({"Escape"});
  REQUIRE(tmux.shows("Problems 3"));
  tmux.keys({"Tab"});
  REQUIRE(tmux.shows("Sites 4"));
  const auto sites = tmux.lines();
  CHECK(line_of(sites, "sabres") > line_of(sites, "mimizan"));  // worst first
  // The Sites view puts the worst sites first; open the first one.
  tmux.keys({"Enter"});
  REQUIRE(tmux.shows("Site "));
  CHECK(tmux.shows("last report"));
  tmux.keys({"BSpace"});
  CHECK(tmux.shows("Sites 4"));
  tmux.keys({"Tab"});
  CHECK(tmux.shows("Agents 4"));
  tmux.keys({"Tab"});
  CHECK(tmux.shows("Backups 1"));
  CHECK(tmux.shows("onesse"));
  tmux.keys({"q"});
  CHECK(tmux.hides("Backups 1"));
}

TEST_CASE("Console in tmux: pollers in the Agents view, central results in the Site view",
          "[console-tmux][central]") {
  Seeded s;
  // A central poller, enrolled with --report-for, reporting about onesse and a site of
  // its own results only.
  const json enrollment = {{"agent", {{"id", "central-poller"}, {"site", "centre"}}}};
  const auto enrolled = s.collector.post("/api/v1/enroll", enrollment.dump(),
                                         s.collector.enroll_token("centre", "*"));
  REQUIRE(enrolled.status == 200);
  const std::string token = json::parse(enrolled.body)["token"];
  const std::int64_t now = wall_ms();
  json av = result("sophos-central", "antivirus/sophos-central:mairie", 2,
                   "2 endpoints, worst health bad", now - kMinute);
  av["site"] = "onesse";
  json other = result("sophos-central", "antivirus/sophos-central:ccas", 0, "1 endpoint, good",
                      now - kMinute);
  other["site"] = "village-test";
  const json report = {{"protocol", 1},
                       {"agent", {{"id", "central-poller"}, {"site", "centre"}}},
                       {"seq", 1},
                       {"results", json::array({av, other})}};
  const auto sent = s.collector.post("/api/v1/reports", report.dump(), token);
  INFO(sent.body);
  REQUIRE(sent.status == 200);

  Tmux tmux(s.dir, s.console_command(), 80, 24);
  REQUIRE(tmux.shows("Problems 4"));
  tmux.keys({"Tab", "Tab"});
  REQUIRE(tmux.shows("Agents 5"));
  REQUIRE(tmux.shows("POLLER"));
  auto lines = tmux.lines();
  INFO(tmux.screen());
  const int poller = line_of(lines, "central-poller");
  REQUIRE(poller > 0);
  CHECK_THAT(lines[poller], Catch::Contains("2 sites"));
  CHECK_THAT(lines[line_of(lines, "onesse-01")], !Catch::Contains("site"));
  for (const auto& line : lines) CHECK(line.size() <= 80);

  // Sites: the site with only central results is one; onesse's view shows both kinds.
  tmux.keys({"BTab"});
  REQUIRE(tmux.shows("Sites 6"));
  CHECK(tmux.shows("village-test"));
  tmux.type("/onesse");
  REQUIRE(tmux.shows("Sites 1"));
  tmux.keys({"Enter", "Enter"});
  REQUIRE(tmux.shows("Site onesse"));
  REQUIRE(tmux.shows("@central-poller"));
  lines = tmux.lines();
  CHECK_THAT(lines[1], Catch::Contains("1 central"));
  CHECK(line_of(lines, "SOURCE") == 2);
  CHECK_THAT(lines[line_of(lines, "@central-poller")], Catch::Contains("CRITICAL"));
  CHECK(line_of(lines, "onesse-01") > 2);  // the site's own result beside it
  for (const auto& line : lines) CHECK(line.size() <= 80);
}

TEST_CASE("Console in tmux: '/' narrows the list as one types", "[console-tmux]") {
  Seeded s;
  Tmux tmux(s.dir, s.console_command(), 120, 40);
  REQUIRE(tmux.shows("HA peer lost"));
  tmux.type("/mimi");
  REQUIRE(tmux.shows("Problems 1"));
  CHECK(tmux.hides("onesse"));
  CHECK(tmux.shows("ap-plage offline"));
  tmux.keys({"Enter"});
  CHECK(tmux.shows("search \"mimi\""));
  tmux.keys({"Escape"});
  CHECK(tmux.shows("Problems 3"));
  CHECK(tmux.shows("onesse"));
}

TEST_CASE(
    "Console in tmux: an acknowledgement typed in the console reaches the API and "
    "dims the line",
    "[console-tmux]") {
  Seeded s;
  Tmux tmux(s.dir, s.console_command(), 120, 40);
  REQUIRE(tmux.shows("HA peer lost"));
  tmux.keys({"Down"});  // labenne
  tmux.keys({"a"});
  REQUIRE(tmux.shows("Comment (required)"));
  tmux.keys({"Enter"});
  CHECK(tmux.shows("a comment is required"));
  tmux.type("ISP called, ticket 4521");
  tmux.keys({"Enter"});
  REQUIRE(tmux.shows("Expires after"));
  tmux.type("4h");
  tmux.keys({"Enter"});
  REQUIRE(tmux.shows("[ack token"));

  const json problems = json::parse(s.collector.get("/api/v1/problems", s.operator_).body);
  bool found = false;
  for (const auto& row : problems["checks"]) {
    if (row["site"] != "labenne") continue;
    found = true;
    REQUIRE(row["ack"].is_object());
    CHECK(row["ack"]["comment"] == "ISP called, ticket 4521");
    CHECK(row["ack"]["expires"].get<std::int64_t>() > wall_ms() + 3 * 60 * kMinute);
  }
  CHECK(found);

  // Away from the selection, the acknowledged line is dim (SGR 2), the others not.
  tmux.keys({"Down"});
  REQUIRE(testing::eventually(
      [&] {
        const auto styled = tmux.lines(true);
        const int acked = line_of(styled, "labenne");
        const int other = line_of(styled, "onesse");
        return acked > 0 && other > 0 && dim_at(styled[acked], "labenne") &&
               !dim_at(styled[other], "onesse");
      },
      10s));
}

TEST_CASE("Console in tmux: a resize to 80x24 keeps the header and the selected line",
          "[console-tmux]") {
  Seeded s;
  Tmux tmux(s.dir, s.console_command(), 120, 40);
  REQUIRE(tmux.shows("HA peer lost"));
  tmux.keys({"Down", "Down"});  // mimizan
  tmux.resize(80, 24);
  REQUIRE(testing::eventually([&] { return tmux.lines().size() == 24; }, 10s));
  REQUIRE(tmux.shows("mimizan"));
  const auto lines = tmux.lines();
  const auto styled = tmux.lines(true);
  INFO(tmux.screen());
  CHECK(lines[0].starts_with("CRIT 2  WARN 1"));
  CHECK(lines[1].starts_with("Problems 3"));
  for (const auto& line : lines) CHECK(line.size() <= 80);
  const int selected = line_of(styled, "mimizan");
  REQUIRE(selected > 0);
  CHECK(styled[selected].find("7m") != std::string::npos);  // reverse video
  CHECK_THAT(lines[23], Catch::Contains("3/3"));
}

json trap(const std::string& summary, std::int64_t ts) {
  return {{"kind", "trap"},
          {"ts", ts},
          {"name", "firewall"},
          {"check", "firewall/sophos:fw"},
          {"summary", summary},
          {"trap",
           {{"device", "fw"},
            {"source", "192.0.2.1:1024"},
            {"version", "2c"},
            {"inform", false},
            {"oid", "1.3.6.1.6.3.1.1.5.3"},
            {"name", "linkDown"},
            {"varbinds", json::array()}}}};
}

TEST_CASE("Console in tmux: a check's recent traps at 80x24, a new one shown as it comes",
          "[console-tmux]") {
  Seeded s;
  const std::int64_t now = wall_ms();
  const std::string token = s.collector.enroll("capbreton-01", "capbreton");
  const auto report = [&](int seq, json events) {
    const json body = {
        {"protocol", 1},
        {"agent", {{"id", "capbreton-01"}, {"site", "capbreton"}}},
        {"seq", seq},
        {"results", json::array({result("firewall", "firewall/sophos:fw", 2, "WAN link down",
                                        now - 40 * kMinute + seq)})},
        {"events", std::move(events)}};
    const auto reply = s.collector.post("/api/v1/reports", body.dump(), token);
    INFO(reply.body << reply.error);
    REQUIRE(reply.status == 200);
  };
  report(1,
         json::array({trap("linkDown from fw: ifIndex.2=2 ifDescr.2=Port2", now - 2 * kMinute)}));
  Tmux tmux(s.dir, s.console_command(), 80, 24);
  REQUIRE(tmux.shows("WAN link down"));  // the oldest problem: the first line
  tmux.keys({"Enter"});
  REQUIRE(tmux.shows("Check capbreton-01/firewall/sophos:fw"));
  REQUIRE(tmux.shows("Recent traps (newest first)"));
  CHECK(tmux.shows("linkDown           linkDown from fw: ifIndex.2=2"));
  // A trap comes while the view is open: the events feed brings it.
  report(2, json::array({trap("linkDown from fw: ifIndex.3=3 ifDescr.3=Port3", now)}));
  REQUIRE(tmux.shows("ifIndex.3=3"));
  const auto lines = tmux.lines();
  INFO(tmux.screen());
  for (const auto& line : lines) CHECK(line.size() <= 80);
  const int heading = line_of(lines, "Recent traps");
  REQUIRE(heading > 0);
  CHECK(line_of(lines, "ifIndex.3=3") == heading + 1);  // newest first
  CHECK(line_of(lines, "ifIndex.2=2") == heading + 2);
}

TEST_CASE(
    "Console in tmux: a stopped collector shows a lost connection, and a restarted "
    "one is found again",
    "[console-tmux]") {
  Seeded s;
  Tmux tmux(s.dir, s.console_command(), 120, 40);
  REQUIRE(tmux.shows("HA peer lost"));
  REQUIRE(tmux.shows("live"));
  REQUIRE(s.collector.child().stop(SIGTERM, 10s).has_value());
  REQUIRE(tmux.shows("CONNECTION LOST"));
  CHECK(tmux.shows("cannot reach the collector"));
  CHECK(tmux.shows("HA peer lost"));  // the last data stays on screen
  s.collector.restart(false);
  REQUIRE(tmux.hides("CONNECTION LOST", 15s));
  CHECK(tmux.shows("live"));
  CHECK(tmux.shows("Problems 3"));
}

TEST_CASE("Console: the commands print a view for a ticket, or JSON for a script",
          "[console-tmux]") {
  Seeded s;
  const std::vector<std::string> common = {"--url",        s.collector.url(),
                                           "--ca-file",    s.collector.ca(),
                                           "--token-file", s.token_file.string()};
  const auto console = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {VIGIE_CONSOLE_BIN};
    argv.insert(argv.end(), common.begin(), common.end());
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  };
  auto problems = console({"problems"});
  INFO(problems.err);
  REQUIRE(problems.exit_code == 0);
  CHECK(problems.out.find("onesse") < problems.out.find("labenne"));
  CHECK(problems.out.find("labenne") < problems.out.find("mimizan"));
  auto sites = console({"sites", "--json"});
  REQUIRE(sites.exit_code == 0);
  CHECK(json::parse(sites.out).size() == 4);
  auto site = console({"site", "labenne"});
  REQUIRE(site.exit_code == 0);
  CHECK_THAT(site.out, Catch::Contains("HA peer lost"));
  auto check = console({"check", "onesse-01/backup/restic:/srv"});
  REQUIRE(check.exit_code == 0);
  CHECK_THAT(check.out, Catch::Contains("last snapshot 3 days ago") && Catch::Contains("History"));
  auto missing = console({"site", "nowhere"});
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.err, Catch::Contains("no site"));
  // A refused token is said plainly.
  auto refused = run(
      {VIGIE_CONSOLE_BIN, "--url", s.collector.url(), "--ca-file", s.collector.ca(), "problems"});
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains("requires a token"));
}

}  // namespace
}  // namespace vigie

namespace vigie {
namespace {

// Every SGR parameter on `screen`, a capture with its escapes ("38;5;196" gives 38, 5,
// 196).
std::vector<int> sgr_parameters(const std::string& screen) {
  std::vector<int> out;
  for (std::size_t i = 0; (i = screen.find("\x1b[", i)) != std::string::npos;) {
    const std::size_t end = screen.find_first_not_of("0123456789;", i + 2);
    if (end == std::string::npos) break;
    if (screen[end] == 'm') {
      std::size_t start = i + 2;
      while (start < end) {
        std::size_t semi = screen.find(';', start);
        if (semi == std::string::npos || semi > end) semi = end;
        out.push_back(semi > start ? std::stoi(screen.substr(start, semi - start)) : 0);
        start = semi + 1;
      }
    }
    i = end;
  }
  return out;
}

bool is_colour(int p) {
  return (p >= 30 && p <= 38) || (p >= 40 && p <= 48) || (p >= 90 && p <= 97) ||
         (p >= 100 && p <= 107);
}

TEST_CASE("Console in tmux: NO_COLOR draws no colour and still marks the states",
          "[console-tmux]") {
  Seeded s;
  {
    Tmux coloured(s.dir, "env TERM=tmux-256color LANG=C.UTF-8 " + s.console_command(), 120, 40);
    REQUIRE(coloured.shows("HA peer lost"));
    const auto p = sgr_parameters(coloured.screen(true));
    CHECK(std::any_of(p.begin(), p.end(), is_colour));  // the test can tell colours
  }
  std::filesystem::remove(s.dir / "tmux.sock");
  Tmux tmux(s.dir, "env NO_COLOR=1 TERM=tmux-256color LANG=C.UTF-8 " + s.console_command(), 120,
            40);
  REQUIRE(tmux.shows("HA peer lost"));
  const std::string screen = tmux.screen(true);
  INFO(screen);
  const auto p = sgr_parameters(screen);
  CHECK_FALSE(std::any_of(p.begin(), p.end(), is_colour));
  // The states stand out by weight instead: bold, reverse or underline.
  CHECK(std::any_of(p.begin(), p.end(), [](int x) { return x == 1 || x == 4 || x == 7; }));
}

TEST_CASE("Console in tmux: a VT100 in the C locale gets plain ASCII", "[console-tmux]") {
  Seeded s;
  Tmux tmux(s.dir, "env TERM=vt100 LANG=C LC_ALL=C " + s.console_command(), 80, 24);
  REQUIRE(tmux.shows("HA peer lost"));
  tmux.keys({"Enter"});  // the Check view draws a sparkline and rules
  REQUIRE(tmux.shows("History"));
  const std::string screen = tmux.screen();
  INFO(screen);
  CHECK(std::all_of(screen.begin(), screen.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x80; }));
}

// The console in French and in English, as the locale chooses it.

// "LOCPATH=DIR " when the test had to generate the fr_FR.UTF-8 locale in `dir` (the
// machine has not), else "": what the console's environment needs for a French UTF-8
// terminal.
std::string french_locale(const testing::TempDir& dir) {
  const auto listed = run({"locale", "-a"});
  for (const std::string name : {"fr_FR.utf8", "fr_FR.UTF-8"}) {
    if (listed.out.find(name + "\n") != std::string::npos) return "";
  }
  const auto folder = dir / "locales";
  std::filesystem::create_directories(folder);
  const auto made =
      run({"localedef", "-i", "fr_FR", "-f", "UTF-8", (folder / "fr_FR.UTF-8").string()});
  INFO(made.out << made.err);
  REQUIRE(made.exit_code == 0);  // needs the `locales` package (scripts/bootstrap)
  return "LOCPATH=" + folder.string() + " ";
}

// The environment of a console in `lang`, LC_ALL and LC_MESSAGES unset so that LANG
// decides.
std::string with_lang(const std::string& lang, const std::string& extra = "") {
  return "env -u LC_ALL -u LC_MESSAGES -u LANGUAGE TERM=tmux-256color " + extra + "LANG=" + lang +
         " ";
}

TEST_CASE("Console in tmux: LANG=fr_FR.UTF-8 at 80x24 speaks French", "[console-tmux]") {
  Seeded s;
  Tmux tmux(s.dir, with_lang("fr_FR.UTF-8", french_locale(s.dir)) + s.console_command(), 80, 24);
  REQUIRE(tmux.shows("HA peer lost"));
  REQUIRE(tmux.shows("direct"));
  auto lines = tmux.lines();
  INFO(tmux.screen());
  CHECK(lines[0].starts_with("CRIT 2  ALER 1  INC 0  OK 1  agents perdus 0"));
  CHECK(lines[1].starts_with("Problèmes 3  tri gravité"));
  for (const std::string title : {"SITE", "CONTRÔLE", "ÉTAT", "DEPUIS", "VU", "RÉSUMÉ"}) {
    CHECK_THAT(lines[2], Catch::Contains(title));
  }
  const int onesse = line_of(lines, "onesse");
  REQUIRE(onesse == 3);
  CHECK_THAT(lines[onesse], Catch::Contains("CRITIQUE") && Catch::Contains("30min"));
  CHECK(lines[23].starts_with("? aide  q quitter  Entrée ouvrir"));

  tmux.keys({"?"});
  REQUIRE(tmux.shows("Touches"));
  CHECK(tmux.shows("acquitter le contrôle choisi (commentaire, échéance)"));
  tmux.keys({"?"});
  REQUIRE(tmux.hides("Touches"));

  tmux.type("s");
  CHECK(tmux.shows("tri âge"));
  tmux.keys({"Tab"});
  REQUIRE(tmux.shows("Sites 4"));
  lines = tmux.lines();
  for (const std::string title :
       {"SITE", "ÉTAT", "PF", "WIFI", "SAUV", "AV", "PROB", "ACQ", "AGENTS", "REÇU"}) {
    CHECK_THAT(lines[2], Catch::Contains(title));
  }
  tmux.keys({"Tab"});
  REQUIRE(tmux.shows("Agents 4"));
  CHECK_THAT(tmux.lines()[2], Catch::Contains("AGENT") && Catch::Contains("HÔTE"));
  CHECK(tmux.shows("actif"));
  tmux.keys({"Tab"});
  REQUIRE(tmux.shows("Sauvegardes"));
  CHECK_THAT(tmux.lines()[2], Catch::Contains("SUCCÈS") && Catch::Contains("TAILLE"));
  tmux.keys({"Tab"});
  REQUIRE(tmux.shows("Problèmes 3"));
  tmux.keys({"Home"});
  tmux.keys({"Enter"});
  REQUIRE(tmux.shows("Contrôle onesse-01/backup/restic:/srv"));
  CHECK(tmux.shows("Historique (récent d'abord)"));
  CHECK(tmux.shows("CRITIQUE (confirmé)"));
  CHECK(tmux.shows("Résultat  il y a"));
  tmux.type("a");
  REQUIRE(tmux.shows("Commentaire (requis) : _"));
  tmux.keys({"Enter"});
  CHECK(tmux.shows("un commentaire est requis"));
  tmux.keys({"Escape"});
  tmux.keys({"Escape"});
  REQUIRE(tmux.shows("Problèmes 3"));
}

TEST_CASE("Console in tmux: LANG=C at 80x24 speaks English, in ASCII", "[console-tmux]") {
  Seeded s;
  Tmux tmux(s.dir, with_lang("C") + s.console_command(), 80, 24);
  REQUIRE(tmux.shows("HA peer lost"));
  REQUIRE(tmux.shows("live"));
  auto lines = tmux.lines();
  INFO(tmux.screen());
  CHECK(lines[0].starts_with("CRIT 2  WARN 1  UNKN 0  OK 1  lost agents 0"));
  CHECK(lines[1].starts_with("Problems 3  sort severity"));
  for (const std::string title : {"SITE", "CHECK", "STATE", "FOR", "SEEN", "SUMMARY"}) {
    CHECK_THAT(lines[2], Catch::Contains(title));
  }
  const int onesse = line_of(lines, "onesse");
  REQUIRE(onesse == 3);
  CHECK_THAT(lines[onesse], Catch::Contains("CRITICAL") && Catch::Contains("30m"));
  CHECK(lines[23].starts_with("? help  q quit  Enter open"));
  tmux.keys({"?"});
  REQUIRE(tmux.shows("Keys"));
  CHECK(tmux.shows("acknowledge the selected check (comment, expiry)"));
  tmux.keys({"?"});
  tmux.keys({"Tab"});
  REQUIRE(tmux.shows("Sites 4"));
  lines = tmux.lines();
  for (const std::string title :
       {"SITE", "STATE", "FW", "WIFI", "BKUP", "AV", "PROB", "ACK", "AGENTS", "REPORT"}) {
    CHECK_THAT(lines[2], Catch::Contains(title));
  }
  tmux.keys({"BTab"});
  REQUIRE(tmux.shows("Problems 3"));
  tmux.keys({"Enter"});
  REQUIRE(tmux.shows("History (newest first)"));
  CHECK(tmux.shows("CRITICAL (hard)"));
  const std::string screen = tmux.screen();
  CHECK(std::all_of(screen.begin(), screen.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x80; }));
}

TEST_CASE("Console in tmux: --lang overrides the locale and French on ASCII loses only its accents",
          "[console-tmux]") {
  Seeded s;
  {
    Tmux english(
        s.dir, with_lang("fr_FR.UTF-8", french_locale(s.dir)) + s.console_command() + " --lang en",
        80, 24);
    REQUIRE(english.shows("HA peer lost"));
    CHECK(english.shows("Problems 3"));
  }
  std::filesystem::remove(s.dir / "tmux.sock");
  Tmux tmux(s.dir, with_lang("C") + s.console_command() + " --lang fr", 80, 24);
  REQUIRE(tmux.shows("HA peer lost"));
  const auto lines = tmux.lines();
  INFO(tmux.screen());
  CHECK(lines[1].starts_with("Problemes 3  tri gravite"));
  CHECK_THAT(lines[2],
             Catch::Contains("CONTROLE") && Catch::Contains("ETAT") && Catch::Contains("RESUME"));
}

TEST_CASE(
    "Console: the commands' tables speak the locale's language and their JSON stays the API's",
    "[console-tmux]") {
  Seeded s;
  const std::string locpath = french_locale(s.dir);
  const auto console = [&](const std::string& lang, std::vector<std::string> args) {
    std::vector<std::string> argv = {"env",          "-u",
                                     "LC_ALL",       "-u",
                                     "LC_MESSAGES",  "LANG=" + lang,
                                     "COLUMNS=80",   VIGIE_CONSOLE_BIN,
                                     "--url",        s.collector.url(),
                                     "--ca-file",    s.collector.ca(),
                                     "--token-file", s.token_file.string()};
    if (!locpath.empty()) argv.insert(argv.begin() + 5, locpath.substr(0, locpath.size() - 1));
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  };
  const auto french = console("fr_FR.UTF-8", {"problems"});
  INFO(french.out << french.err);
  REQUIRE(french.exit_code == 0);
  CHECK(french.out.starts_with("Problèmes 3"));
  CHECK_THAT(french.out, Catch::Contains("CONTRÔLE") && Catch::Contains("CRITIQUE"));
  const auto english = console("C", {"problems"});
  REQUIRE(english.exit_code == 0);
  CHECK(english.out.starts_with("Problems 3"));
  const auto once = console("fr_FR.UTF-8", {"--once"});
  REQUIRE(once.exit_code == 0);
  CHECK(once.out.starts_with("SITE"));
  CHECK_THAT(once.out, Catch::Contains("ÉTAT") && Catch::Contains("RÉSUMÉ"));
  const auto check = console("fr_FR.UTF-8", {"check", "onesse-01/backup/restic:/srv"});
  REQUIRE(check.exit_code == 0);
  CHECK_THAT(check.out, Catch::Contains("Historique (récent d'abord)"));
  // Errors too; the JSON is the same whatever the language.
  const auto missing = console("fr_FR.UTF-8", {"--bogus"});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("option inconnue"));
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"sites", "--json"}, {"problems", "--json"}}) {
    const auto fr = console("fr_FR.UTF-8", args);
    const auto en = console("C", args);
    REQUIRE(fr.exit_code == 0);
    REQUIRE(en.exit_code == 0);
    CHECK(json::parse(fr.out) == json::parse(en.out));
    CHECK(fr.out.find("CRITIQUE") == std::string::npos);
  }
}

}  // namespace
}  // namespace vigie
