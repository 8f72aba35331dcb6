#include "plugins/wifi/unifi_check.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "plugins/findings.hpp"
#include "plugins/snmp/common.hpp"
#include "plugins/wifi/office_hours.hpp"

namespace vigie::plugins::wifi {
namespace {

using namespace vigie::plugins::snmp;

const Oid kRadioName = oid("1.3.6.1.4.1.41112.1.6.1.1.1.2");
const Oid kRadioBand = oid("1.3.6.1.4.1.41112.1.6.1.1.1.3");
const Oid kRadioCu = oid("1.3.6.1.4.1.41112.1.6.1.1.1.6");
const Oid kVapTable = oid("1.3.6.1.4.1.41112.1.6.1.2.1");
const Oid kVapChannel = oid("1.3.6.1.4.1.41112.1.6.1.2.1.4");
const Oid kVapEssId = oid("1.3.6.1.4.1.41112.1.6.1.2.1.6");
const Oid kVapName = oid("1.3.6.1.4.1.41112.1.6.1.2.1.7");
const Oid kVapStations = oid("1.3.6.1.4.1.41112.1.6.1.2.1.8");
const Oid kVapRadio = oid("1.3.6.1.4.1.41112.1.6.1.2.1.9");
const Oid kVapRxBytes = oid("1.3.6.1.4.1.41112.1.6.1.2.1.10");
const Oid kVapTxBytes = oid("1.3.6.1.4.1.41112.1.6.1.2.1.16");
const Oid kVapUp = oid("1.3.6.1.4.1.41112.1.6.1.2.1.22");
const Oid kVapUsage = oid("1.3.6.1.4.1.41112.1.6.1.2.1.23");
const Oid kIfName = oid("1.3.6.1.4.1.41112.1.6.2.1.1.5");
const Oid kIfUp = oid("1.3.6.1.4.1.41112.1.6.2.1.1.16");
const Oid kIsolated = oid("1.3.6.1.4.1.41112.1.6.3.2.0");
const Oid kModel = oid("1.3.6.1.4.1.41112.1.6.3.3.0");
const Oid kUplink = oid("1.3.6.1.4.1.41112.1.6.3.4.0");
const Oid kVersion = oid("1.3.6.1.4.1.41112.1.6.3.6.0");

std::string band_name(const std::string& code) {
  if (code == "na") return "5 GHz";
  if (code.empty()) return "unknown band";
  return "2.4 GHz";  // "ng" and the older codes
}

struct Vap {
  Oid index;
  std::string ssid;
  std::string name;
  std::string band;
  std::string usage;
  std::int64_t channel = 0;
  std::optional<std::int64_t> stations;
  std::optional<std::int64_t> up;
  std::optional<std::uint64_t> rx, tx;
};

// One row per index of a table, from the columns given.
template <class Row>
void rows_of(const Snapshot& s, const Oid& column, std::map<Oid, Row>& rows,
             void (*fill)(Row&, const Value&)) {
  for (const auto& [index, value] : s.column(column)) {
    Row& row = rows[index];
    row.index = index;
    fill(row, *value);
  }
}

std::string text_of(const Value& v) {
  return v.type == Type::kOctetString ? v.bytes : std::string();
}

// The VAP table: one row per SSID and radio.
std::map<Oid, Vap> read_vaps(const Snapshot& s) {
  std::map<Oid, Vap> vaps;
  rows_of<Vap>(s, kVapEssId, vaps, [](Vap& v, const Value& x) { v.ssid = text_of(x); });
  rows_of<Vap>(s, kVapName, vaps, [](Vap& v, const Value& x) { v.name = text_of(x); });
  rows_of<Vap>(s, kVapRadio, vaps, [](Vap& v, const Value& x) { v.band = text_of(x); });
  rows_of<Vap>(s, kVapUsage, vaps, [](Vap& v, const Value& x) { v.usage = text_of(x); });
  rows_of<Vap>(s, kVapChannel, vaps, [](Vap& v, const Value& x) {
    if (x.type == Type::kInteger) v.channel = x.integer;
  });
  rows_of<Vap>(s, kVapStations, vaps, [](Vap& v, const Value& x) {
    if (x.type == Type::kInteger && x.integer >= 0) v.stations = x.integer;
  });
  rows_of<Vap>(s, kVapUp, vaps, [](Vap& v, const Value& x) {
    if (x.type == Type::kInteger) v.up = x.integer;
  });
  rows_of<Vap>(s, kVapRxBytes, vaps, [](Vap& v, const Value& x) {
    if (x.type == Type::kCounter32 || x.type == Type::kCounter64) v.rx = x.number;
  });
  rows_of<Vap>(s, kVapTxBytes, vaps, [](Vap& v, const Value& x) {
    if (x.type == Type::kCounter32 || x.type == Type::kCounter64) v.tx = x.number;
  });
  return vaps;
}

// The radios, and how many SSIDs are up on each band: the radio table has no state, so
// a radio none of whose SSIDs is up is down.
struct Radios {
  std::map<Oid, std::pair<std::string, std::string>> by_index;  // name, band
  std::map<std::string, int> vaps_up;                           // by band

  // ", radio ra0 has no SSID up" when none is up on `band`, else "".
  std::string down_note(const std::string& band) const {
    const auto up = vaps_up.find(band);
    if (up != vaps_up.end() && up->second > 0) return std::string();
    for (const auto& [index, radio] : by_index) {
      if (radio.second == band) return ", radio " + radio.first + " has no SSID up";
    }
    return std::string();
  }
};

Radios read_radios(const Snapshot& s, const std::map<Oid, Vap>& vaps) {
  Radios radios;
  for (const auto& [index, value] : s.column(kRadioName))
    radios.by_index[index].first = text_of(*value);
  for (const auto& [index, value] : s.column(kRadioBand))
    radios.by_index[index].second = text_of(*value);
  for (const auto& [index, vap] : vaps) radios.vaps_up[vap.band] += vap.up && *vap.up == 1 ? 1 : 0;
  return radios;
}

// Stations counted over the SSIDs that are up.
struct Stations {
  std::map<std::string, std::int64_t> per_ssid;
  std::vector<std::string> ssid_order;  // first seen first
  std::int64_t total = 0;
  std::int64_t band_2g = 0;
  std::int64_t band_5g = 0;
  bool known = false;
  int vaps_up = 0;
};

class UnifiCheck final : public Check {
 public:
  void attach(const Environment& env) override { env_ = env; }
  Status configure(const nlohmann::json& params) override;
  std::string instance() const override {
    return ssid_.empty() ? link_.name : link_.name + "/" + ssid_;
  }
  Outcome run(const RunContext& context) override;

 private:
  // Each judge adds what it found to `findings`, and its metrics to `outcome`.
  bool judge_uplink(const Snapshot& s, Findings& findings) const;
  Stations judge_ssids(const std::map<Oid, Vap>& vaps, const Radios& radios, Findings& findings,
                       Outcome& outcome);
  void judge_hotspots(const std::map<Oid, Vap>& vaps, const Stations& stations, bool connected,
                      Findings& findings) const;
  void judge_radios(const Snapshot& s, const Radios& radios, Findings& findings,
                    Outcome& outcome) const;
  void add_station_metrics(const Stations& stations, Outcome& outcome) const;

  bool is_hotspot(const Vap& vap) const {
    if (std::find(empty_ok_.begin(), empty_ok_.end(), vap.ssid) != empty_ok_.end()) return false;
    if (hotspots_)
      return std::find(hotspots_->begin(), hotspots_->end(), vap.ssid) != hotspots_->end();
    return vap.usage == "guest";
  }

  Environment env_;
  DeviceLink link_;
  std::string ssid_;
  std::optional<std::vector<std::string>> hotspots_;
  std::vector<std::string> empty_ok_;
  std::optional<OfficeHours> office_hours_;
  double cu_warn_ = 80;
  double cu_crit_ = 95;
  RateTracker rates_;
};

Status UnifiCheck::configure(const nlohmann::json& params) {
  if (Status s = check_parameters(params, {"device", "ssid", "hotspots", "empty_ok", "office_hours",
                                           "channel_util_warn", "channel_util_crit"});
      !s) {
    return s;
  }
  if (Status s = read_string(params, "ssid", ssid_); !s) return s;
  if (params.contains("hotspots")) {
    std::vector<std::string> list;
    if (Status s = read_strings(params, "hotspots", list); !s) return s;
    hotspots_ = std::move(list);
  }
  if (Status s = read_strings(params, "empty_ok", empty_ok_); !s) return s;
  std::string office_hours;
  if (Status s = read_string(params, "office_hours", office_hours); !s) return s;
  if (!office_hours.empty()) {
    auto hours = OfficeHours::parse(office_hours);
    if (!hours) return Status::invalid("office_hours: " + hours.status().message());
    office_hours_ = *hours;
  }
  if (Status s = read_number(params, "channel_util_warn", 0, 100, cu_warn_); !s) return s;
  if (Status s = read_number(params, "channel_util_crit", 0, 100, cu_crit_); !s) return s;
  if (cu_warn_ > cu_crit_) return Status::invalid("channel_util_warn: above channel_util_crit");

  Request request;
  request.scalars = {kSysObjectId, kSysUpTime, kIsolated, kModel, kUplink, kVersion};
  request.subtrees = {kRadioName, kRadioBand,   kRadioCu,  kVapChannel, kVapEssId,
                      kVapName,   kVapStations, kVapRadio, kVapRxBytes, kVapTxBytes,
                      kVapUp,     kVapUsage,    kIfName,   kIfUp};
  return link_.configure(params, env_, request);
}

Outcome UnifiCheck::run(const RunContext& context) {
  Outcome outcome;
  auto snapshot = link_.snapshot(context.deadline);
  if (!snapshot) {
    outcome.status = State::kUnknown;
    outcome.summary = snapshot.status().message();
    return outcome;
  }
  const Snapshot& s = **snapshot;
  const auto model = s.text(kModel);
  if (!model) {
    outcome.status = State::kUnknown;
    outcome.summary = "device " + link_.name +
                      " is not a UniFi access point: UBNT-UniFi-MIB missing (" +
                      model.status().message() + ")";
    return outcome;
  }
  const auto version = s.text(kVersion);
  const std::string identity = *model + (version ? " " + *version : std::string());
  Findings findings;
  const auto ticks = uptime_ticks(s);
  rates_.begin(s.taken, ticks);
  if (ticks) {
    outcome.metrics.push_back(Metric{"uptime", static_cast<double>(*ticks / 100), "s"});
    findings.add(State::kOk, "up " + uptime_text(*ticks));
  }

  const bool connected = judge_uplink(s, findings);
  const std::map<Oid, Vap> vaps = read_vaps(s);
  const Radios radios = read_radios(s, vaps);
  const Stations stations = judge_ssids(vaps, radios, findings, outcome);
  judge_hotspots(vaps, stations, connected, findings);
  judge_radios(s, radios, findings, outcome);
  add_station_metrics(stations, outcome);
  rates_.end();

  outcome.status = findings.state();
  outcome.details = findings.details();
  if (findings.has_problems()) {
    outcome.summary = findings.problems() + " (" + identity + ")";
    return outcome;
  }
  std::string split;
  for (const auto& ssid : stations.ssid_order) {
    split += (split.empty() ? "" : ", ") + ssid + " " + std::to_string(stations.per_ssid.at(ssid));
  }
  outcome.summary = identity + ": " + std::to_string(stations.vaps_up) +
                    (stations.vaps_up == 1 ? " SSID" : " SSIDs") + " up, " +
                    std::to_string(stations.total) + " stations" +
                    (split.empty() || stations.ssid_order.size() < 2 ? "" : " (" + split + ")") +
                    (ticks ? ", up " + uptime_text(*ticks) : "");
  return outcome;
}

// Uplink and isolation: without them the stations count means nothing. False when the AP
// lost its wired uplink.
bool UnifiCheck::judge_uplink(const Snapshot& s, Findings& findings) const {
  bool connected = true;
  if (const auto isolated = s.integer(kIsolated); isolated && *isolated == 1) {
    findings.add(State::kCritical, "AP isolated: it lost its wired uplink");
    connected = false;
  }
  const auto uplink = s.text(kUplink);
  if (!uplink || uplink->empty()) return connected;
  std::optional<std::int64_t> up;
  std::map<Oid, std::string> names;
  for (const auto& [index, value] : s.column(kIfName)) names[index] = text_of(*value);
  for (const auto& [index, value] : s.column(kIfUp)) {
    if (names[index] == *uplink && value->type == Type::kInteger) up = value->integer;
  }
  if (!up) {
    findings.add(State::kOk, "uplink " + *uplink + " (state not reported)");
  } else if (*up != 1) {
    findings.add(State::kCritical, "uplink " + *uplink + " down");
    connected = false;
  } else {
    findings.add(State::kOk, "uplink " + *uplink + " up");
  }
  return connected;
}

// Each SSID (or the configured one): up, its channel, its stations and traffic.
Stations UnifiCheck::judge_ssids(const std::map<Oid, Vap>& vaps, const Radios& radios,
                                 Findings& findings, Outcome& outcome) {
  Stations stations;
  int judged = 0;
  for (const auto& [index, vap] : vaps) {
    if (!ssid_.empty() && vap.ssid != ssid_) continue;
    ++judged;
    const std::string where =
        " (" + band_name(vap.band) + ", " + (vap.name.empty() ? "?" : vap.name) + ")";
    if (!vap.up) {
      findings.add(State::kUnknown, "SSID " + vap.ssid + " state unreadable" + where);
    } else if (*vap.up != 1) {
      findings.add(State::kCritical,
                   "SSID " + vap.ssid + " down" + where + radios.down_note(vap.band));
      continue;
    }
    ++stations.vaps_up;
    if (vap.stations) {
      stations.known = true;
      if (!stations.per_ssid.contains(vap.ssid)) stations.ssid_order.push_back(vap.ssid);
      stations.per_ssid[vap.ssid] += *vap.stations;
      stations.total += *vap.stations;
      (vap.band == "na" ? stations.band_5g : stations.band_2g) += *vap.stations;
    }
    Interface as_interface;
    as_interface.name = vap.name.empty() ? "vap" + oid_text(vap.index) : vap.name;
    as_interface.in_octets = vap.rx;
    as_interface.out_octets = vap.tx;
    as_interface.counter_bits = 32;
    add_traffic(rates_, as_interface, outcome);
    findings.add(State::kOk, "SSID " + vap.ssid + " up" + where + ", channel " +
                                 std::to_string(vap.channel) + ", " +
                                 (vap.stations ? std::to_string(*vap.stations) : std::string("?")) +
                                 " stations");
  }
  if (!ssid_.empty() && judged == 0)
    findings.add(State::kCritical, "SSID " + ssid_ + " not broadcast by this AP");
  if (vaps.empty() && ssid_.empty())
    findings.add(State::kCritical, "no SSID configured (VAP table empty)");
  return stations;
}

// An empty hotspot while the AP is connected: its users cannot get on (a WARNING in
// office hours only).
void UnifiCheck::judge_hotspots(const std::map<Oid, Vap>& vaps, const Stations& stations,
                                bool connected, Findings& findings) const {
  const bool in_hours =
      !office_hours_ ||
      office_hours_->contains(env_.now ? env_.now() : std::chrono::system_clock::now());
  for (const auto& [ssid, count] : stations.per_ssid) {
    const auto any = std::find_if(vaps.begin(), vaps.end(), [&name = ssid](const auto& v) {
      return v.second.ssid == name;  // named, not captured: clang 14 cannot capture a binding
    });
    if (count == 0 && connected && any != vaps.end() && is_hotspot(any->second)) {
      findings.add(
          in_hours ? State::kWarning : State::kOk,
          "hotspot " + ssid + " has no station" + (in_hours ? "" : " (outside office hours)"));
    }
  }
}

// Channel utilisation per radio.
void UnifiCheck::judge_radios(const Snapshot& s, const Radios& radios, Findings& findings,
                              Outcome& outcome) const {
  for (const auto& [index, value] : s.column(kRadioCu)) {
    if (value->type != Type::kInteger) continue;
    const auto radio = radios.by_index.find(index);
    const std::string name = radio == radios.by_index.end() ? "" : radio->second.first;
    const std::string band = radio == radios.by_index.end() ? "" : radio->second.second;
    const std::string label = (name.empty() ? "radio" + oid_text(index) : name) + "_cu_pct";
    const double cu = static_cast<double>(value->integer);
    outcome.metrics.push_back(
        Metric{label, cu, "%", Range{0, cu_warn_}, Range{0, cu_crit_}, 0, 100});
    State state = State::kOk;
    if (Range{0, cu_crit_}.alerts(cu)) state = State::kCritical;
    else if (Range{0, cu_warn_}.alerts(cu)) state = State::kWarning;
    const auto up = radios.vaps_up.find(band);
    findings.add(state, "radio " + name + " (" + band_name(band) + ") channel utilisation " +
                            std::to_string(value->integer) + "%" +
                            (up == radios.vaps_up.end() || up->second == 0 ? ", no SSID up" : ""));
  }
}

void UnifiCheck::add_station_metrics(const Stations& stations, Outcome& outcome) const {
  if (!stations.known) return;
  const auto count = [&](std::string label, std::int64_t n) {
    outcome.metrics.push_back(Metric{std::move(label), static_cast<double>(n), "", std::nullopt,
                                     std::nullopt, 0, std::nullopt});
  };
  count("stations", stations.total);
  for (const auto& ssid : stations.ssid_order)
    count("stations_" + ssid, stations.per_ssid.at(ssid));
  if (ssid_.empty()) {
    count("stations_2g", stations.band_2g);
    count("stations_5g", stations.band_5g);
  }
}

}  // namespace

std::unique_ptr<Check> make_unifi_check() { return std::make_unique<UnifiCheck>(); }

}  // namespace vigie::plugins::wifi
