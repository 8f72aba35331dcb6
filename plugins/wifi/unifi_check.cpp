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

class UnifiCheck final : public Check {
 public:
  void attach(const Environment& env) override { env_ = env; }
  Status configure(const nlohmann::json& params) override;
  std::string instance() const override {
    return ssid_.empty() ? link_.name : link_.name + "/" + ssid_;
  }
  Outcome run(const RunContext& context) override;

 private:
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

  // Uplink and isolation: without them the stations count means nothing.
  bool connected = true;
  if (const auto isolated = s.integer(kIsolated); isolated && *isolated == 1) {
    findings.add(State::kCritical, "AP isolated: it lost its wired uplink");
    connected = false;
  }
  const auto uplink = s.text(kUplink);
  if (uplink && !uplink->empty()) {
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
  }

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

  const bool in_hours =
      !office_hours_ ||
      office_hours_->contains(env_.now ? env_.now() : std::chrono::system_clock::now());
  std::map<std::string, std::int64_t> per_ssid;  // in first-seen order below
  std::vector<std::string> ssid_order;
  std::int64_t total = 0;
  std::int64_t band_2g = 0;
  std::int64_t band_5g = 0;
  bool stations_known = false;
  int vaps_up = 0;
  int judged = 0;
  // Radios: the radio table has no state; a radio none of whose SSIDs is up is down.
  std::map<Oid, std::pair<std::string, std::string>> radios;  // index -> name, band
  for (const auto& [index, value] : s.column(kRadioName)) radios[index].first = text_of(*value);
  for (const auto& [index, value] : s.column(kRadioBand)) radios[index].second = text_of(*value);
  std::map<std::string, int> radio_vaps_up;
  for (const auto& [index, vap] : vaps) radio_vaps_up[vap.band] += vap.up && *vap.up == 1 ? 1 : 0;
  const auto radio_down_note = [&](const std::string& band) {
    if (radio_vaps_up[band] > 0) return std::string();
    for (const auto& [index, radio] : radios) {
      if (radio.second == band) return ", radio " + radio.first + " has no SSID up";
    }
    return std::string();
  };
  for (const auto& [index, vap] : vaps) {
    if (!ssid_.empty() && vap.ssid != ssid_) continue;
    ++judged;
    const std::string where =
        " (" + band_name(vap.band) + ", " + (vap.name.empty() ? "?" : vap.name) + ")";
    if (!vap.up) {
      findings.add(State::kUnknown, "SSID " + vap.ssid + " state unreadable" + where);
    } else if (*vap.up != 1) {
      findings.add(State::kCritical,
                   "SSID " + vap.ssid + " down" + where + radio_down_note(vap.band));
      continue;
    }
    ++vaps_up;
    if (vap.stations) {
      stations_known = true;
      if (!per_ssid.contains(vap.ssid)) ssid_order.push_back(vap.ssid);
      per_ssid[vap.ssid] += *vap.stations;
      total += *vap.stations;
      (vap.band == "na" ? band_5g : band_2g) += *vap.stations;
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

  // An empty hotspot while the AP is connected: its users cannot get on.
  for (const auto& [ssid, count] : per_ssid) {
    const auto any = std::find_if(vaps.begin(), vaps.end(),
                                  [&](const auto& v) { return v.second.ssid == ssid; });
    if (count == 0 && connected && any != vaps.end() && is_hotspot(any->second)) {
      findings.add(
          in_hours ? State::kWarning : State::kOk,
          "hotspot " + ssid + " has no station" + (in_hours ? "" : " (outside office hours)"));
    }
  }

  // Channel utilisation per radio.
  for (const auto& [index, value] : s.column(kRadioCu)) {
    if (value->type != Type::kInteger) continue;
    const auto& [name, band] = radios[index];
    const std::string label = (name.empty() ? "radio" + oid_text(index) : name) + "_cu_pct";
    const double cu = static_cast<double>(value->integer);
    outcome.metrics.push_back(
        Metric{label, cu, "%", Range{0, cu_warn_}, Range{0, cu_crit_}, 0, 100});
    State state = State::kOk;
    if (Range{0, cu_crit_}.alerts(cu)) state = State::kCritical;
    else if (Range{0, cu_warn_}.alerts(cu)) state = State::kWarning;
    findings.add(state, "radio " + name + " (" + band_name(band) + ") channel utilisation " +
                            std::to_string(value->integer) + "%" +
                            (radio_vaps_up[band] == 0 ? ", no SSID up" : ""));
  }

  if (stations_known) {
    outcome.metrics.push_back(Metric{"stations", static_cast<double>(total), "", std::nullopt,
                                     std::nullopt, 0, std::nullopt});
    for (const auto& ssid : ssid_order)
      outcome.metrics.push_back(Metric{"stations_" + ssid, static_cast<double>(per_ssid[ssid]), "",
                                       std::nullopt, std::nullopt, 0, std::nullopt});
    if (ssid_.empty()) {
      outcome.metrics.push_back(Metric{"stations_2g", static_cast<double>(band_2g), "",
                                       std::nullopt, std::nullopt, 0, std::nullopt});
      outcome.metrics.push_back(Metric{"stations_5g", static_cast<double>(band_5g), "",
                                       std::nullopt, std::nullopt, 0, std::nullopt});
    }
  }
  rates_.end();

  outcome.status = findings.state();
  outcome.details = findings.details();
  if (findings.has_problems()) {
    outcome.summary = findings.problems() + " (" + identity + ")";
    return outcome;
  }
  std::string split;
  for (const auto& ssid : ssid_order) {
    split += (split.empty() ? "" : ", ") + ssid + " " + std::to_string(per_ssid[ssid]);
  }
  outcome.summary = identity + ": " + std::to_string(vaps_up) +
                    (vaps_up == 1 ? " SSID" : " SSIDs") + " up, " + std::to_string(total) +
                    " stations" +
                    (split.empty() || ssid_order.size() < 2 ? "" : " (" + split + ")") +
                    (ticks ? ", up " + uptime_text(*ticks) : "");
  return outcome;
}

}  // namespace

std::unique_ptr<Check> make_unifi_check() { return std::make_unique<UnifiCheck>(); }

}  // namespace vigie::plugins::wifi
