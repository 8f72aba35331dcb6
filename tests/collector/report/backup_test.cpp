#include "collector/report/backup.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/collector/report/seed.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::collector {
namespace {

using seed::kDay;
using seed::kHour;

// The seeded week, read back through a read-only reader while the storage that wrote
// it is still open (as a report runs next to a live collector).
struct Week {
  testing::TempDir dir;
  std::int64_t now = wall_ms();
  std::unique_ptr<Storage> storage;
  BackupReport report;

  Week() {
    auto opened = open_sqlite_storage({.path = dir / "collector.db"});
    REQUIRE(opened.is_ok());
    storage = std::move(*opened);
    seed::seed_week(*storage, now);
    auto reader = open_sqlite_reader(dir / "collector.db");
    REQUIRE(reader.is_ok());
    auto period = make_period(7, "", "UTC", now);
    REQUIRE(period.is_ok());
    auto data = (*reader)->history(backup_history_query(*period, ""));
    REQUIRE(data.is_ok());
    report = make_backup_report(*data, std::move(*period), now, "");
  }

  const SiteLine& site(const std::string& name) const {
    for (const auto& s : report.sites)
      if (s.site == name) return s;
    FAIL("no site " << name);
    return report.sites.front();
  }
};

std::vector<DayState> days_of(std::initializer_list<DayState> d) { return d; }

TEST_CASE("BackupReport: sites come worst first with their health", "[report]") {
  Week w;
  std::vector<std::string> order;
  for (const auto& s : w.report.sites) order.push_back(s.site);
  CHECK(order == std::vector<std::string>{"site-failing", "site-risk", "site-nodata", "site-silent",
                                          "site-healthy"});
  CHECK(w.site("site-failing").health == SiteHealth::kFailing);
  CHECK(w.site("site-risk").health == SiteHealth::kAtRisk);
  CHECK(w.site("site-nodata").health == SiteHealth::kNoData);
  CHECK(w.site("site-silent").health == SiteHealth::kNoData);
  CHECK(w.site("site-healthy").health == SiteHealth::kHealthy);
  CHECK(w.report.counts[static_cast<int>(SiteHealth::kFailing)] == 1);
  CHECK(w.report.counts[static_cast<int>(SiteHealth::kAtRisk)] == 1);
  CHECK(w.report.counts[static_cast<int>(SiteHealth::kNoData)] == 2);
  CHECK(w.report.counts[static_cast<int>(SiteHealth::kHealthy)] == 1);
}

TEST_CASE("BackupReport: day-by-day states and ratios follow the hard states", "[report]") {
  Week w;
  const SiteLine& failing = w.site("site-failing");
  REQUIRE(failing.checks.size() == 1);
  const CheckLine& borg = failing.checks[0];
  using D = DayState;
  CHECK(borg.days ==
        days_of({D::kOk, D::kOk, D::kOk, D::kCritical, D::kCritical, D::kCritical, D::kCritical}));
  CHECK(borg.ok_days == 3);
  CHECK(borg.data_days == 7);
  CHECK(borg.state == State::kCritical);
  CHECK(borg.since_ms == seed::first_day_ms(w.now) + 3 * kDay + 3 * kHour);
  // The last backup: 01:00 on day 3, from the age metric.
  REQUIRE(borg.last_success_ms.has_value());
  CHECK(*borg.last_success_ms == seed::first_day_ms(w.now) + 3 * kDay + kHour);
  REQUIRE(borg.ack.has_value());
  CHECK(borg.ack->author == "alice");

  const CheckLine& dumps = w.site("site-risk").checks.at(0);
  CHECK(dumps.days == days_of({D::kOk, D::kOk, D::kWarning, D::kOk, D::kOk, D::kOk, D::kOk}));
  CHECK(dumps.ok_days == 6);
  CHECK(dumps.state == State::kOk);

  const SiteLine& healthy = w.site("site-healthy");
  CHECK(healthy.checks.size() == 2);
  CHECK(healthy.ok_days == 7);
  CHECK(healthy.ratio() == Approx(1.0));

  // Stale from a day before the period: every day unknown, nothing reported.
  const CheckLine& old = w.site("site-silent").checks.at(0);
  CHECK_FALSE(old.reported);
  CHECK(old.stale);
  CHECK(old.days == std::vector<DayState>(7, DayState::kUnknown));
  CHECK(w.site("site-nodata").checks.empty());
  CHECK(w.site("site-nodata").agents == std::vector<std::string>{"a-nodata"});
}

TEST_CASE("BackupReport: the size trend comes from the hourly tier", "[report]") {
  Week w;
  const SiteLine& healthy = w.site("site-healthy");
  const CheckLine* restic = nullptr;
  for (const auto& c : healthy.checks)
    if (c.check == "backup/restic:/srv") restic = &c;
  REQUIRE(restic != nullptr);
  REQUIRE(restic->daily_size.size() == 7);
  for (const auto& v : restic->daily_size) CHECK(v.has_value());
  CHECK(*restic->daily_size.front() < *restic->daily_size.back());
  REQUIRE(restic->size_now.has_value());
  CHECK(*restic->size_now > 1.09e9);
  REQUIRE(restic->size_change.has_value());
  CHECK(*restic->size_change > 0.05);
  CHECK(*restic->size_change < 0.11);
}

TEST_CASE("BackupReport: --site keeps one site, and an unknown site gives nothing", "[report]") {
  Week w;
  auto reader = open_sqlite_reader(w.dir / "collector.db");
  REQUIRE(reader.is_ok());
  const Period period = w.report.period;
  auto one = (*reader)->history(backup_history_query(period, "site-risk"));
  REQUIRE(one.is_ok());
  CHECK(one->agents.size() == 1);
  REQUIRE(one->checks.size() == 1);
  CHECK(one->checks[0].state.site == "site-risk");
  auto none = (*reader)->history(backup_history_query(period, "nowhere"));
  REQUIRE(none.is_ok());
  CHECK(none->agents.empty());
  CHECK(none->checks.empty());
}

TEST_CASE("BackupReport: JSON carries the figures for scripts", "[report]") {
  Week w;
  const auto j = nlohmann::json::parse(render_json(w.report, Locale()));
  CHECK(j["summary"]["failing"] == 1);
  CHECK(j["summary"]["healthy"] == 1);
  CHECK(j["summary"]["no_data"] == 2);
  CHECK(j["period"]["days"].size() == 7);
  const auto& first = j["sites"][0];
  CHECK(first["site"] == "site-failing");
  CHECK(first["health"] == "failing");
  const auto& borg = first["checks"][0];
  CHECK(borg["success_ratio"].get<double>() == Approx(3.0 / 7.0));
  CHECK(borg["days"][3] == "critical");
  CHECK(borg["ack"]["author"] == "alice");
  CHECK(borg["ack"]["comment"] == "disk replaced on Thursday; \"new\" one");
  CHECK(j["sites"][2]["checks"].empty());
  CHECK(j["sites"][2]["success_ratio"].is_null());
}

TEST_CASE("BackupReport: CSV cells a spreadsheet would run as formulas are neutralised",
          "[report][csv]") {
  Week w;
  REQUIRE_FALSE(w.report.sites.empty());
  REQUIRE_FALSE(w.report.sites[0].checks.empty());
  CheckLine& line = w.report.sites[0].checks[0];
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"=HYPERLINK(\"http://evil.example\",\"x\")", "\"'=HYPERLINK("},
      {"+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"},
      {"-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"},
      {"@SUM(1+1)", "'@SUM(1+1)"},
      {"\t=1+1", "'\t=1+1"},
  };
  for (const auto& [summary, cell] : cases) {
    INFO(summary);
    line.summary = summary;
    const std::string csv = render_csv(w.report, Locale(), ',');
    CHECK(csv.find("," + cell) != std::string::npos);
    CHECK(csv.find("," + summary) == std::string::npos);
  }
  line.summary = "-3";  // a number keeps its sign
  CHECK(render_csv(w.report, Locale(), ',').find(",-3") != std::string::npos);
}

TEST_CASE("BackupReport: CSV has a BOM, RFC 4180 quoting and a French variant", "[report]") {
  Week w;
  const std::string csv = render_csv(w.report, Locale(), ',');
  REQUIRE(csv.rfind("\xEF\xBB\xBF", 0) == 0);
  CHECK(csv.find("Site,Site status,Agent,Check,Name,State,Last success") == 3);
  // One line per check, one per site without a check, and the header: 1+1+1+1+2+1.
  std::size_t lines = 0;
  for (std::size_t at = csv.find("\r\n"); at != std::string::npos; at = csv.find("\r\n", at + 2))
    ++lines;
  CHECK(lines == 7);
  // A field with quotes and the separator is quoted, its quotes doubled.
  CHECK(csv.find(",\"last archive too old; \"\"borg\"\" said: lock timeout\",") !=
        std::string::npos);
  CHECK(csv.find(",42.9,") != std::string::npos);  // site-failing: 3/7 days OK

  auto catalogue = find_catalogue(Lang::kFrench);
  REQUIRE(catalogue.is_ok());
  const std::string fr = render_csv(w.report, Locale(Lang::kFrench, std::move(*catalogue)), ';');
  CHECK(fr.find("Site;État du site;Agent;Contrôle;Nom;État;Dernière réussite") == 3);
  CHECK(fr.find(";42,9;") != std::string::npos);  // decimal comma with ';'
  CHECK(fr.find(";En échec;") != std::string::npos);
  // ';' inside a field is quoted, ',' no longer needs to be.
  CHECK(fr.find(";\"disk replaced on Thursday; \"\"new\"\" one\"") != std::string::npos);
}

TEST_CASE("BackupReport: Markdown lists the worst site first, in either language", "[report]") {
  Week w;
  const std::string en = render_markdown(w.report, Locale());
  CHECK(en.find("# Backup health report") == 0);
  const auto failing = en.find("### site-failing — Failing");
  const auto risk = en.find("### site-risk — At risk");
  const auto healthy = en.find("### site-healthy — Healthy");
  REQUIRE(failing != std::string::npos);
  REQUIRE(risk != std::string::npos);
  REQUIRE(healthy != std::string::npos);
  CHECK(failing < risk);
  CHECK(risk < healthy);
  CHECK(en.find("`✓✓✓✗✗✗✗` 3/7 days (42.9%)") != std::string::npos);
  CHECK(en.find("No backup check on this site.") != std::string::npos);
  CHECK(en.find("acknowledged by alice") != std::string::npos);

  auto catalogue = find_catalogue(Lang::kFrench);
  REQUIRE(catalogue.is_ok());
  const std::string fr = render_markdown(w.report, Locale(Lang::kFrench, std::move(*catalogue)));
  CHECK(fr.find("# Rapport sur l’état des sauvegardes") == 0);
  CHECK(fr.find("### site-failing — En échec") != std::string::npos);
  CHECK(fr.find("3/7 jours (42,9\u00a0%)") != std::string::npos);
  CHECK(fr.find("pris en compte par alice") != std::string::npos);
  CHECK(fr.find("Aucun contrôle de sauvegarde sur ce site.") != std::string::npos);
}

TEST_CASE("BackupReport: HTML is one self-contained document with its charts", "[report]") {
  Week w;
  const std::string html = render_html(w.report, Locale());
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("href=") == std::string::npos);
  CHECK(html.find("url(") == std::string::npos);
  CHECK(html.find("display:flex") == std::string::npos);
  // A strip per site (5) and per check (5), a size chart per check with sizes in the
  // period (all but site-silent's: 4).
  std::size_t svgs = 0;
  for (auto at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1)) ++svgs;
  CHECK(svgs == 5 + 5 + 4);
  CHECK(html.find("<polyline") != std::string::npos);
  // Summaries are escaped: the borg message's quotes.
  CHECK(html.find("&quot;borg&quot; said") != std::string::npos);
  CHECK(html.find("site-failing") < html.find("site-healthy"));
}

TEST_CASE("BackupReport: an empty database gives an empty report, not an error", "[report]") {
  testing::TempDir dir;
  {
    auto s = open_sqlite_storage({.path = dir / "empty.db"});
    REQUIRE(s.is_ok());
  }
  auto reader = open_sqlite_reader(dir / "empty.db");
  REQUIRE(reader.is_ok());
  auto period = make_period(7, "2026-11-30", "Europe/Paris", wall_ms());
  REQUIRE(period.is_ok());
  CHECK(period->days.front() == Day{2026, 11, 23, 0});
  CHECK(period->days.back() == Day{2026, 11, 29, 6});
  auto data = (*reader)->history(backup_history_query(*period, ""));
  REQUIRE(data.is_ok());
  const BackupReport r = make_backup_report(*data, std::move(*period), wall_ms(), "");
  CHECK(r.sites.empty());
  CHECK(render_markdown(r, Locale()).find("No site to report.") != std::string::npos);
  CHECK(nlohmann::json::parse(render_json(r, Locale()))["summary"]["sites"] == 0);
}

TEST_CASE("BackupReport: periods are checked", "[report]") {
  CHECK(make_period(0, "", "UTC", 0).status().code() == Code::kInvalidArgument);
  CHECK(make_period(7, "2026-02-30", "UTC", 0).status().message().find("no such date") !=
        std::string::npos);
  CHECK(make_period(7, "yesterday", "UTC", 0).status().message().find("YYYY-MM-DD") !=
        std::string::npos);
  CHECK(make_period(7, "", "Mars/Olympus", 0).status().message().find("unknown time zone") !=
        std::string::npos);
  // Across the autumn clock change in Paris, a day is 25 hours long.
  auto p = make_period(2, "2026-10-26", "Europe/Paris", 0);
  REQUIRE(p.is_ok());
  CHECK(p->starts_ms[2] - p->starts_ms[1] == 25 * kHour);
}

TEST_CASE("SqliteReader: refuses a database of another schema version, and a missing one",
          "[report]") {
  testing::TempDir dir;
  CHECK(open_sqlite_reader(dir / "none.db").status().code() == Code::kNotFound);
  {
    auto s = open_sqlite_storage({.path = dir / "v.db"});
    REQUIRE(s.is_ok());
  }
  auto raw = std::string("sqlite3 ") + (dir / "v.db").string() + " 'PRAGMA user_version = 99'";
  REQUIRE(std::system(raw.c_str()) == 0);
  auto newer = open_sqlite_reader(dir / "v.db");
  REQUIRE_FALSE(newer.is_ok());
  CHECK(newer.status().message().find("schema version 99") != std::string::npos);
}

}  // namespace
}  // namespace vigie::collector
