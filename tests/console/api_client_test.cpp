#include "console/api_client.hpp"

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

namespace vigie::console {
namespace {

using nlohmann::json;

TEST_CASE("url_encode: only unreserved bytes stay", "[api_client]") {
  CHECK(url_encode("backup/restic:/srv") == "backup%2Frestic%3A%2Fsrv");
  CHECK(url_encode("mairie de l'été") == "mairie%20de%20l%27%C3%A9t%C3%A9");
  CHECK(url_encode("a-b_c.d~e") == "a-b_c.d~e");
}

TEST_CASE("routes: the query API's paths, names and ids encoded", "[api_client]") {
  CHECK(overview_path() == "/api/v1/overview");
  CHECK(problems_path() == "/api/v1/problems");
  CHECK(sites_path() == "/api/v1/sites");
  CHECK(agents_path() == "/api/v1/agents");
  CHECK(checks_path() == "/api/v1/checks");
  CHECK(checks_path("backup") == "/api/v1/checks?family=backup");
  CHECK(site_path("l'été") == "/api/v1/site?name=l%27%C3%A9t%C3%A9");
  CHECK(check_path("m-01", "backup/restic:/srv") ==
        "/api/v1/check?agent=m-01&check=backup%2Frestic%3A%2Fsrv");
  CHECK(series_path("m-01", "system/load", "load 1", "24h", "30m") ==
        "/api/v1/series?agent=m-01&check=system%2Fload&metric=load%201&from=24h&step=30m");
  CHECK(notifications_path("m-01", "system/load") ==
        "/api/v1/notifications?agent=m-01&check=system%2Fload");
  CHECK(events_path("25s", std::nullopt) == "/api/v1/events?timeout=25s");
  CHECK(events_path("0s", 42) == "/api/v1/events?timeout=0s&after=42");
}

TEST_CASE("routes: acknowledgements and downtimes, their bodies JSON", "[api_client]") {
  const ApiCall ack = acknowledge_call("m-01", "system/load", "on it \"now\"", "");
  CHECK(ack.method == "POST");
  CHECK(ack.path == "/api/v1/acks");
  CHECK(json::parse(ack.body) ==
        json{{"agent", "m-01"}, {"check", "system/load"}, {"comment", "on it \"now\""}});
  CHECK(json::parse(acknowledge_call("a", "c", "x", "4h").body)["expires"] == "4h");

  const ApiCall unack = unacknowledge_call("m-01", "backup/restic:/srv");
  CHECK(unack.method == "DELETE");
  CHECK(unack.path == "/api/v1/acks?agent=m-01&check=backup%2Frestic%3A%2Fsrv");
  CHECK(unack.body.empty());

  const ApiCall site = downtime_call("onesse", "", "", "2h", "power cut");
  CHECK(site.method == "POST");
  CHECK(site.path == "/api/v1/downtimes");
  CHECK(json::parse(site.body) ==
        json{{"site", "onesse"}, {"duration", "2h"}, {"comment", "power cut"}});
  const ApiCall one = downtime_call("onesse", "m-01", "system/load", "30m", "reboot");
  CHECK(json::parse(one.body)["agent"] == "m-01");
  CHECK(json::parse(one.body)["check"] == "system/load");
}

}  // namespace
}  // namespace vigie::console
