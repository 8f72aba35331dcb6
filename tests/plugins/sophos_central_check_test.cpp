// antivirus/sophos-central against a Sophos Central test server on loopback
// (tests/support/sophos_central_server.py): HTTPS with its own CA, tenants on two
// "regions", both paging styles split over several pages, and the faults a round must
// survive.

#include "plugins/antivirus/sophos_central_check.hpp"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "tests/plugins/check_test_util.hpp"
#include "tests/support/sophos_central_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::plugins::antivirus {
namespace {

using namespace std::chrono_literals;
using Catch::Contains;
using Catch::StartsWith;
using nlohmann::json;
using testing::find_metric;
using Clock = std::chrono::steady_clock;

const std::string kPartner = "5ac55058-622d-4929-8e5d-8ff554f312fe";
const std::string kMairie = "0afef0e6-5df7-4cc0-b8d4-068cfd6820d1";
const std::string kCcas = "7d565595-e281-4128-9711-c97eb1d202c5";

// The reference's two endpoints (a healthy server, a bad workstation) and alerts.
json mairie() {
  return {{"id", kMairie},
          {"name", "Mairie de Saint-Exemple"},
          {"region", 0},
          {"endpoints",
           {{{"hostname", "SRV-MAIRIE-01"}, {"type", "server"}, {"last_seen_days", 0}},
            {{"hostname", "PC-ACCUEIL"},
             {"health", "bad"},
             {"threats", "bad"},
             {"services", "bad"},
             {"stopped", {"Sophos File Scanner"}},
             {"tamper", false},
             {"online", false},
             {"last_seen", "2025-02-20T16:41:07.311Z"}},
            {{"hostname", "PC-ELUS"}}}},
          {"alerts",
           {{{"severity", "high"},
             {"endpoint", "PC-ACCUEIL"},
             {"description",
              "Manual cleanup required: 'EICAR-AV-Test' at "
              "'C:\\Users\\accueil\\Downloads\\eicar.zip'"}},
            {{"severity", "medium"},
             {"category", "updating"},
             {"type", "Event::Endpoint::OutOfDate"},
             {"description", "PC-ACCUEIL is out of date."},
             {"raised_no_zone", true}}}}};
}

json healthy(const std::string& id, const std::string& name, int region, int endpoints = 3) {
  json list = json::array();
  for (int i = 0; i < endpoints; ++i)
    list.push_back({{"hostname", name.substr(0, 4) + "-" + std::to_string(i)}});
  return {{"id", id},
          {"name", name},
          {"region", region},
          {"endpoints", list},
          {"alerts", json::array()}};
}

json scenario(json tenants, json extra = json::object()) {
  json s = {{"client_id", "vigie-poller"}, {"client_secret", "s3cret-value"},
            {"id_type", "partner"},        {"id", kPartner},
            {"tenant_page_size", 2},       {"endpoint_page_size", 2},
            {"alert_page_size", 1},        {"tenants", std::move(tenants)}};
  s.update(extra);
  return s;
}

struct Round {
  std::vector<Outcome> outcomes;
  Clock::duration took{};

  const Outcome& own() const {
    REQUIRE_FALSE(outcomes.empty());
    REQUIRE(outcomes.front().target.empty());
    return outcomes.front();
  }
  const Outcome& of(const std::string& key) const {
    for (const auto& o : outcomes) {
      if (o.target == key) return o;
    }
    FAIL("no outcome for " << key);
    return outcomes.front();
  }
};

class Fixture {
 public:
  explicit Fixture(const json& s) : server_(dir_.path(), s) {
    secret_ = dir_.write_secret("central.secret", s.value("client_secret", "") + "\n");
  }

  json params(json sites, json extra = json::object()) const {
    json p = {{"client_id", "vigie-poller"},    {"client_secret_file", secret_.string()},
              {"auth_url", server_.auth_url()}, {"api_url", server_.api_url()},
              {"ca_file", server_.ca()},        {"sites", std::move(sites)}};
    p.update(extra);
    return p;
  }

  Round run(const json& params, std::chrono::milliseconds budget = 20s) const {
    auto check = testing::configured(make_sophos_central_check, params);
    const auto start = Clock::now();
    Round round{check->run_all(testing::context(budget)), {}};
    round.took = Clock::now() - start;
    for (const auto& o : round.outcomes) {
      UNSCOPED_INFO(o.target << " [" << o.site << "] " << state_name(o.status) << ": "
                             << o.summary);
    }
    return round;
  }

  std::vector<json> requests(const std::string& path = {}) const {
    std::vector<json> out;
    for (auto& r : server_.requests()) {
      if (path.empty() || r["path"] == path) out.push_back(r);
    }
    return out;
  }

  const testing::TempDir& dir() const { return dir_; }
  const testing::SophosCentralServer& server() const { return server_; }
  const std::filesystem::path& secret() const { return secret_; }

 private:
  testing::TempDir dir_;
  testing::SophosCentralServer server_;
  std::filesystem::path secret_;
};

TEST_CASE("SophosCentralCheck: a partner's tenants on two regions, every page, filed by site",
          "[sophos-central]") {
  json unmapped = healthy("c0ffee00-0000-4000-8000-000000000003", "SIVOM du Val", 1, 1);
  json forbidden = healthy("c0ffee00-0000-4000-8000-000000000004", "Ecole Trial", 1);
  forbidden["forbidden"] = true;
  Fixture f(scenario({mairie(), healthy(kCcas, "CCAS de Village-Test", 1, 5), unmapped, forbidden,
                      healthy("c0ffee00-0000-4000-8000-000000000005", "Syndicat des Eaux", 0)}));
  const Round round = f.run(f.params({{kMairie, "saint-exemple"},
                                      {"CCAS de Village-Test", "village-test"},
                                      {"c0ffee00-0000-4000-8000-000000000004", "ecole"},
                                      {"C0FFEE00-0000-4000-8000-000000000005", "eaux"}}));
  REQUIRE(round.outcomes.size() == 5);

  const Outcome& own = round.own();
  CHECK(own.status == State::kWarning);
  CHECK(own.site.empty());
  CHECK_THAT(own.summary, StartsWith("5 tenants (partner credential), 3 of 4 mapped read in ") &&
                              Contains("(1 UNKNOWN); 1 tenant without a site: SIVOM du Val "
                                       "(c0ffee00-0000-4000-8000-000000000003)"));
  CHECK(find_metric(own, "tenants").value == 5);
  CHECK(find_metric(own, "unmapped").value == 1);

  const Outcome& m = round.of(kMairie);
  CHECK(m.site == "saint-exemple");
  CHECK(m.status == State::kCritical);
  CHECK_THAT(m.summary,
             StartsWith("3 endpoints, worst health bad; bad: PC-ACCUEIL (threats bad, Sophos File "
                        "Scanner stopped); tamper protection off: PC-ACCUEIL; not seen for more "
                        "than 14 days: PC-ACCUEIL (last 2025-02-20 16:41 UTC); 1 open "
                        "high-severity alert: Manual cleanup required: 'EICAR-AV-Test' at ") &&
                 Contains("; 1 other open"));
  CHECK_THAT(m.details, StartsWith("tenant Mairie de Saint-Exemple (" + kMairie + ") on " +
                                   f.server().region_url(0) + "\n"));
  CHECK(find_metric(m, "endpoints").value == 3);
  CHECK(find_metric(m, "bad").value == 1);
  CHECK(find_metric(m, "suspicious").value == 0);
  CHECK(find_metric(m, "tamper_off").value == 1);
  CHECK(find_metric(m, "not_seen").value == 1);
  CHECK(find_metric(m, "alerts").value == 2);
  CHECK(find_metric(m, "alerts_high").value == 1);

  const Outcome& c = round.of("CCAS de Village-Test");
  CHECK(c.site == "village-test");
  CHECK(c.status == State::kOk);
  CHECK(c.summary == "5 endpoints, all in good health; no open alert");

  const Outcome& e = round.of("c0ffee00-0000-4000-8000-000000000004");
  CHECK(e.site == "ecole");
  CHECK(e.status == State::kUnknown);
  CHECK_THAT(e.summary, StartsWith("no access (403): the tenant does not allow partner access") &&
                            Contains("Partner assistance is not enabled"));
  // Ids match whatever their case.
  CHECK(round.of("C0FFEE00-0000-4000-8000-000000000005").status == State::kOk);

  // What went over the wire: the tenants paged by number (2 a page: 3 pages), each
  // tenant's endpoints paged by key with view=full on its own region with its header,
  // its alerts too, one token.
  const auto tenant_pages = f.requests("/partner/v1/tenants");
  REQUIRE(tenant_pages.size() == 3);
  CHECK(tenant_pages[0]["query"]["pageTotal"] == "true");
  CHECK(tenant_pages[2]["query"]["page"] == "3");
  for (const auto& r : tenant_pages) {
    CHECK(r["partner"] == kPartner);
    CHECK(r["status"] == 200);
  }
  const auto endpoint_pages = f.requests("/endpoint/v1/endpoints");
  int mairie_pages = 0, ccas_pages = 0;
  for (const auto& r : endpoint_pages) {
    CHECK(r["query"]["view"] == "full");
    if (r["tenant"] == kMairie) {
      ++mairie_pages;
      CHECK(r["host"] == "region0");
      CHECK(r["sni_host"].get<std::string>().starts_with("localhost:"));
    }
    if (r["tenant"] == kCcas) {
      ++ccas_pages;
      CHECK(r["host"] == "region1");
    }
  }
  CHECK(mairie_pages == 2);  // 3 endpoints, 2 a page
  CHECK(ccas_pages == 3);    // 5 endpoints
  int keyed = 0;
  for (const auto& r : endpoint_pages) keyed += r["query"].contains("pageFromKey") ? 1 : 0;
  CHECK(keyed == 4);  // 1 + 2 + the third mapped tenant's 1
  int mairie_alert_pages = 0;
  for (const auto& r : f.requests("/common/v1/alerts"))
    mairie_alert_pages += r["tenant"] == kMairie;
  CHECK(mairie_alert_pages == 2);  // 2 alerts, 1 a page
  CHECK(f.requests("/api/v2/oauth2/token").size() == 1);
  CHECK(f.requests("/whoami/v1").size() == 1);
  // The unmapped tenant is never read.
  for (const auto& r : f.requests()) CHECK(r["tenant"] != unmapped["id"]);
}

TEST_CASE("SophosCentralCheck: 429 honours Retry-After, else backs off, never past the deadline",
          "[sophos-central]") {
  json told = healthy(kMairie, "Mairie", 0);
  told["rate_limit"] = 2;
  told["retry_after"] = "1";
  json untold = healthy(kCcas, "CCAS", 1);
  untold["rate_limit"] = 1;
  untold["retry_after"] = nullptr;
  json far = healthy("c0ffee00-0000-4000-8000-000000000003", "Far", 1);
  far["rate_limit"] = 1;
  far["retry_after"] = "120";
  Fixture f(scenario({told, untold, far}));
  const Round round = f.run(f.params({{kMairie, "a"}, {kCcas, "b"}, {"Far", "c"}}), 10s);
  CHECK(round.of(kMairie).status == State::kOk);
  CHECK(round.of(kCcas).status == State::kOk);
  const Outcome& c = round.of("Far");
  CHECK(c.status == State::kUnknown);
  CHECK_THAT(c.summary, Contains("endpoints page 1: HTTP 429 (tooManyRequests: Too Many "
                                 "Requests), Retry-After 120 s: waiting would pass the deadline"));
  CHECK(find_metric(round.own(), "rate_limited").value == 3);
  CHECK(round.took < 9s);
  // The 429s were waited out: a second later for Retry-After: 1, and by the backoff.
  std::vector<std::int64_t> times;
  for (const auto& r : f.requests("/endpoint/v1/endpoints")) {
    if (r["tenant"] == kMairie) times.push_back(r["time"]);
  }
  REQUIRE(times.size() >= 3);
  CHECK(times[1] - times[0] >= 950);
  CHECK(times[2] - times[1] >= 950);
}

TEST_CASE("SophosCentralCheck: the token is renewed before it expires, and once on a 401",
          "[sophos-central]") {
  SECTION("short-lived tokens: renewed ahead, no request refused") {
    std::vector<json> tenants;
    json sites = json::object();
    for (int i = 0; i < 10; ++i) {
      const std::string id = "c0ffee00-0000-4000-8000-0000000001" + std::to_string(10 + i);
      tenants.push_back(healthy(id, "T" + std::to_string(i), i % 2, 2));
      sites[id] = "s" + std::to_string(i);
    }
    // 3 s tokens, renewed 0.75 s ahead; each answer takes 0.2 s: the round (some 35
    // requests, two at a time) outlives a token or two. A request may take up to 0.75 s
    // to reach the server before its token is refused: room for a loaded machine.
    Fixture f(scenario(tenants, {{"token_lifetime", 3}, {"delay", 0.2}}));
    const Round round = f.run(f.params(sites, {{"concurrency", 2}}), 20s);
    for (const auto& o : round.outcomes) CHECK(o.status == State::kOk);
    CHECK(f.requests("/api/v2/oauth2/token").size() >= 2);
    for (const auto& r : f.requests()) CHECK(r["status"] != 401);
  }
  SECTION("a token revoked mid-round: one 401, a new token, the round goes on") {
    Fixture f(scenario({healthy(kMairie, "Mairie", 0), healthy(kCcas, "CCAS", 1)},
                       {{"revoke_first_token_after", 4}}));
    const Round round = f.run(f.params({{kMairie, "a"}, {kCcas, "b"}}, {{"concurrency", 1}}));
    CHECK(round.of(kMairie).status == State::kOk);
    CHECK(round.of(kCcas).status == State::kOk);
    CHECK(f.requests("/api/v2/oauth2/token").size() == 2);
    int refused = 0;
    for (const auto& r : f.requests()) refused += r["status"] == 401 ? 1 : 0;
    CHECK(refused == 1);
  }
}

TEST_CASE("SophosCentralCheck: a slow tenant never makes the others late", "[sophos-central]") {
  std::vector<json> tenants;
  json sites = json::object();
  for (int i = 0; i < 6; ++i) {
    const std::string id = "c0ffee00-0000-4000-8000-00000000002" + std::to_string(i);
    json t = healthy(id, "T" + std::to_string(i), i % 2, 2);
    if (i == 1) t["delay"] = 30;  // each of its answers takes 30 s
    tenants.push_back(t);
    sites[id] = "s" + std::to_string(i);
  }
  Fixture f(scenario(tenants));
  const Round round = f.run(f.params(sites, {{"concurrency", 2}}), 6s);
  CHECK(round.took < 6s);
  for (int i = 0; i < 6; ++i) {
    const Outcome& o = round.of("c0ffee00-0000-4000-8000-00000000002" + std::to_string(i));
    if (i == 1) {
      CHECK(o.status == State::kUnknown);
      CHECK_THAT(o.summary, StartsWith("not finished within its share of the round (") &&
                                Contains("endpoints page 1: no reply from 127.0.0.1:"));
      CHECK_THAT(o.details, Contains("read on a second try"));
    } else {
      CHECK(o.status == State::kOk);
    }
  }
  CHECK(round.own().summary.find("5 of 6 mapped read") != std::string::npos);
}

TEST_CASE("SophosCentralCheck: a tenant late in its first share gets the time the others left",
          "[sophos-central]") {
  std::vector<json> tenants;
  json sites = json::object();
  for (int i = 0; i < 40; ++i) {
    const std::string id = "c0ffee00-0000-4000-8000-0000000003" + std::to_string(10 + i);
    json t = healthy(id, "T" + std::to_string(i), i % 2, 1);
    // Two requests of 0.8 s: more than its first share (twice 8 s over 20 rounds).
    if (i == 0) t["delay"] = 0.8;
    tenants.push_back(t);
    sites[id] = "s" + std::to_string(i);
  }
  Fixture f(scenario(tenants));
  const Round round = f.run(f.params(sites, {{"concurrency", 2}}), 10s);
  CHECK(round.took < 10s);
  for (const auto& o : round.outcomes) CHECK(o.status == State::kOk);
  CHECK_THAT(round.of("c0ffee00-0000-4000-8000-000000000310").details,
             Contains("read on a second try"));
}

TEST_CASE("SophosCentralCheck: malformed replies, missing fields and unknown values are named",
          "[sophos-central]") {
  json bad_json = healthy(kMairie, "Mairie", 0);
  bad_json["malformed"] = "endpoints";
  json bad_alerts = healthy(kCcas, "CCAS", 1);
  bad_alerts["malformed"] = "alerts";
  json no_host = healthy("c0ffee00-0000-4000-8000-000000000003", "Sans Hote", 1);
  no_host["omit"] = {"apiHost"};
  json odd = {
      {"id", "c0ffee00-0000-4000-8000-000000000004"},
      {"name", "Odd"},
      {"region", 0},
      {"status", "suspended"},
      {"endpoints",
       {{{"hostname", "PC-NOHEALTH"}, {"omit", {"health"}}},
        {{"hostname", "PC-DEGRADED"}, {"health", "degraded"}},
        {{"hostname", "PC-UNKNOWN"}, {"health", "unknown"}},
        {{"hostname", "PC-TAMPER"}, {"raw", {{"tamperProtectionEnabled", "maybe"}}}},
        {{"hostname", "PC-STRINGS"},
         {"raw", {{"tamperProtectionEnabled", "False"}, {"tamperProtectionSupported", "True"}}}},
        {{"hostname", "PC-LINUX"}, {"tamper", false}, {"tamper_supported", false}},
        {{"hostname", "PC-NEVER"}, {"omit", {"lastSeenAt"}}},
        {{"hostname", "PC-WHEN"}, {"last_seen", "yesterday"}},
        {{"hostname", "PC-SUSP"},
         {"health", "suspicious"},
         {"services", "suspicious"},
         {"missing", {"Sophos Network Threat Protection"}}}}},
      {"alerts", {{{"severity", "critical"}, {"description", "Something new"}}}}};
  Fixture f(scenario({bad_json, bad_alerts, no_host, odd}));
  const Round round = f.run(
      f.params({{kMairie, "a"}, {kCcas, "b"}, {"Sans Hote", "c"}, {"Odd", "d"}, {"Nobody", "e"}}));
  CHECK(round.of(kMairie).status == State::kUnknown);
  CHECK_THAT(round.of(kMairie).summary, StartsWith("endpoints page 1: invalid JSON at byte "));
  CHECK(round.of(kCcas).status == State::kUnknown);
  CHECK_THAT(round.of(kCcas).summary, StartsWith("alerts page 1: invalid JSON at byte "));
  CHECK(round.of("Sans Hote").status == State::kUnknown);
  CHECK(round.of("Sans Hote").summary == "the tenant list gives it no apiHost");
  CHECK(round.of("Nobody").status == State::kUnknown);
  CHECK(round.of("Nobody").site == "e");
  CHECK(round.of("Nobody").summary == "no tenant of the credential has this id or name");
  CHECK_THAT(round.own().summary, Contains("; sites: \"Nobody\" matches no tenant"));
  CHECK(round.own().status == State::kWarning);

  const Outcome& o = round.of("Odd");
  CHECK(o.status == State::kUnknown);  // never OK: what it cannot read is named
  CHECK_THAT(o.summary, StartsWith("9 endpoints, worst health suspicious; suspicious: PC-SUSP "
                                   "(Sophos Network Threat Protection missing); health unknown: "
                                   "PC-UNKNOWN; tamper protection off: PC-STRINGS; not seen for "
                                   "more than 14 days: PC-NEVER (never reported); alerts not "
                                   "understood: Something new (severity \"critical\" not "
                                   "understood); endpoints not understood: PC-NOHEALTH (no health "
                                   "in the reply), PC-DEGRADED (health \"degraded\" not "
                                   "understood), PC-TAMPER (tamperProtectionEnabled \"maybe\" not "
                                   "understood) and 1 more"));
  CHECK_THAT(o.details, Contains(", status suspended\n") &&
                            Contains("not understood: PC-WHEN (lastSeenAt \"yesterday\" not "
                                     "understood)\n"));
}

TEST_CASE("SophosCentralCheck: a reply nested 100 000 levels deep is refused, naming it",
          "[sophos-central]") {
  json deep_endpoints = healthy(kMairie, "Mairie", 0);
  deep_endpoints["deep"] = "endpoints";
  json deep_alerts = healthy(kCcas, "CCAS", 1);
  deep_alerts["deep"] = "alerts";
  Fixture f(scenario({deep_endpoints, deep_alerts,
                      healthy("c0ffee00-0000-4000-8000-000000000003", "Syndicat", 1)}));
  const Round round = f.run(f.params({{kMairie, "a"}, {kCcas, "b"}, {"Syndicat", "c"}}));
  CHECK(round.of(kMairie).status == State::kUnknown);
  CHECK(round.of(kMairie).summary == "endpoints page 1: invalid JSON nested deeper than 64 levels");
  CHECK(round.of(kCcas).status == State::kUnknown);
  CHECK(round.of(kCcas).summary == "alerts page 1: invalid JSON nested deeper than 64 levels");
  CHECK(round.of("Syndicat").status == State::kOk);  // the others read as ever
}

TEST_CASE("SophosCentralCheck: an endpoint list that never ends stops at the bound, saying so",
          "[sophos-central]") {
  json endless = healthy(kMairie, "Mairie", 0);
  endless["endless"] = true;
  Fixture f(scenario({endless, healthy(kCcas, "CCAS", 1)}, {{"endpoint_page_size", 100}}));
  const Round round = f.run(f.params({{kMairie, "a"}, {kCcas, "b"}}, {{"max_endpoints", 250}}));
  const Outcome& m = round.of(kMairie);
  CHECK(m.status == State::kUnknown);
  CHECK_THAT(m.summary, StartsWith("endpoints cut at 250 (max_endpoints), after 3 pages: the list "
                                   "goes on; 250 endpoints, all in good health"));
  CHECK(find_metric(m, "endpoints").value == 250);
  CHECK(round.of(kCcas).status == State::kOk);
}

TEST_CASE("SophosCentralCheck: a round that cannot start says why, for every tenant too",
          "[sophos-central]") {
  Fixture f(scenario({healthy(kMairie, "Mairie", 0)}));
  const json sites = {{kMairie, "a"}, {"Other", "b"}};
  SECTION("a wrong secret") {
    const auto wrong = f.dir().write_secret("wrong.secret", "nope");
    auto params = f.params(sites);
    params["client_secret_file"] = wrong.string();
    const Round round = f.run(params);
    REQUIRE(round.outcomes.size() == 3);
    CHECK(round.own().status == State::kUnknown);
    CHECK_THAT(round.own().summary,
               StartsWith("round failed: token from " + f.server().auth_url() +
                          ": the credential is refused: HTTP 401 (oauth.invalid_client_secret: "
                          "Unauthorized)"));
    CHECK(round.of("Other").site == "b");
    CHECK_THAT(round.of(kMairie).summary, StartsWith("not polled: token from "));
  }
  SECTION("a secret file others may read") {
    ::chmod(f.secret().c_str(), 0644);
    const Round round = f.run(f.params(sites));
    CHECK_THAT(round.own().summary, Contains("client_secret_file " + f.secret().string() +
                                             ": readable by others "
                                             "(mode 0644): chmod 600"));
    CHECK(f.requests().empty());
  }
  SECTION("no ca_file: the system's CAs, which do not know the test's") {
    auto params = f.params(sites);
    params.erase("ca_file");
    const Round round = f.run(params);
    CHECK_THAT(round.own().summary,
               Contains("the server's certificate is refused: unable to get local issuer"));
  }
  SECTION("nobody listening") {
    auto params = f.params(sites);
    params["auth_url"] = "https://127.0.0.1:1";
    const Round round = f.run(params);
    CHECK_THAT(round.own().summary, Contains("cannot connect to 127.0.0.1:1"));
  }
}

TEST_CASE("SophosCentralCheck: organisation and tenant credentials", "[sophos-central]") {
  SECTION("an organisation: its tenants with X-Organization-ID") {
    Fixture f(scenario({healthy(kMairie, "Mairie", 0)}, {{"id_type", "organization"}}));
    const Round round = f.run(f.params({{kMairie, "a"}}));
    CHECK(round.of(kMairie).status == State::kOk);
    const auto pages = f.requests("/organization/v1/tenants");
    REQUIRE(pages.size() == 1);
    CHECK(pages[0]["organization"] == kPartner);
  }
  SECTION("a tenant: itself, on whoami's data region") {
    Fixture f(scenario({healthy(kMairie, "Mairie", 0)}, {{"id_type", "tenant"}, {"id", kMairie}}));
    const Round round = f.run(f.params({{kMairie, "a"}}));
    CHECK(round.own().status == State::kOk);
    CHECK(round.of(kMairie).status == State::kOk);
    CHECK(round.of(kMairie).summary == "3 endpoints, all in good health; no open alert");
  }
  SECTION("two tenants of one name: to be mapped by id") {
    Fixture f(scenario({healthy(kMairie, "Mairie", 0), healthy(kCcas, "Mairie", 1)}));
    const Round round = f.run(f.params({{"Mairie", "a"}}));
    CHECK(round.of("Mairie").status == State::kUnknown);
    CHECK_THAT(round.of("Mairie").summary, StartsWith("2 tenants are named so: map them by id ("));
  }
}

TEST_CASE("SophosCentralCheck: configure names the bad parameter", "[sophos-central]") {
  const json base = {{"client_id", "x"}, {"client_secret_file", "/etc/vigie/central.secret"}};
  CHECK(testing::configure_error(make_sophos_central_check, json::object()) ==
        "client_id: required, a string");
  CHECK_THAT(testing::configure_error(make_sophos_central_check, {{"client_id", "x"}}),
             StartsWith("client_secret_file: required"));
  struct Case {
    json extra;
    const char* error;
  };
  for (const Case& c : {
           Case{{{"client_secret_file", "relative"}}, "client_secret_file: "},
           Case{{{"api_url", "http://api.central.sophos.com"}}, "api_url: must be an https:// URL"},
           Case{{{"api_url", "http://localhost.example.org"}}, "api_url: must be an https://"},
           Case{{{"api_url", "http://127.0.0.1.example.org/"}}, "api_url: must be an https://"},
           Case{{{"auth_url", "ftp://id.sophos.com"}}, "auth_url: must be an https://"},
           Case{{{"auth_url", 3}}, "auth_url: expected a string, got number"},
           Case{{{"sites", {"a", "b"}}}, "sites: must be an object"},
           Case{{{"sites", {{"Mairie", "Not a site!"}}}}, "sites: \"Mairie\": the site must be"},
           Case{{{"sites", {{"Mairie", 3}}}}, "sites: \"Mairie\": the site must be"},
           Case{{{"sites", {{"a\tb", "x"}}}}, "sites: \"a?b\": "},
           Case{{{"stale_days", 0}}, "stale_days: "},
           Case{{{"concurrency", 64}}, "concurrency: "},
           Case{{{"max_endpoints", 0}}, "max_endpoints: "},
           Case{{{"client_secret", "inline"}},
                "client_secret: unknown key; known keys: client_id client_secret_file"},
       }) {
    json params = base;
    params.update(c.extra);
    INFO(params.dump());
    CHECK_THAT(testing::configure_error(make_sophos_central_check, params), StartsWith(c.error));
  }
  testing::configured(make_sophos_central_check,
                      {{"client_id", "x"},
                       {"client_secret_file", "/etc/vigie/central.secret"},
                       {"api_url", "http://127.0.0.1:8080/"},
                       {"sites", {{"Mairie de Saint-Exemple", "saint-exemple"}}}});
}

}  // namespace
}  // namespace vigie::plugins::antivirus
