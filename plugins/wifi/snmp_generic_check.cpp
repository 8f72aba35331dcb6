#include "plugins/wifi/snmp_generic_check.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "plugins/findings.hpp"
#include "plugins/snmp/common.hpp"

namespace vigie::plugins::wifi {
namespace {

using namespace vigie::plugins::snmp;

const Oid kSysDescr = oid("1.3.6.1.2.1.1.1.0");
constexpr std::int64_t kIeee80211 = 71;
constexpr const char* kRadioPrefixes[] = {"wlan", "ath", "wifi", "wl", "ra"};

bool looks_like_radio(const Interface& i) {
  if (i.type == kIeee80211) return true;
  return std::any_of(std::begin(kRadioPrefixes), std::end(kRadioPrefixes), [&](const char* p) {
    const std::string prefix = p;
    // "ra0" yes, "radius" no: a prefix must be followed by a digit.
    return i.name.size() > prefix.size() && i.name.compare(0, prefix.size(), prefix) == 0 &&
           std::isdigit(static_cast<unsigned char>(i.name[prefix.size()]));
  });
}

class GenericCheck final : public Check {
 public:
  void attach(const Environment& env) override { env_ = env; }
  Status configure(const nlohmann::json& params) override;
  std::string instance() const override { return link_.name; }
  Outcome run(const RunContext& context) override;

 private:
  Environment env_;
  DeviceLink link_;
  std::vector<std::string> names_;
  RateTracker rates_;
};

Status GenericCheck::configure(const nlohmann::json& params) {
  if (Status s = check_parameters(params, {"device", "interfaces"}); !s) return s;
  if (Status s = read_strings(params, "interfaces", names_); !s) return s;
  Request request = if_mib_request(true);
  request.scalars = {kSysDescr, kSysUpTime};
  return link_.configure(params, env_, request);
}

Outcome GenericCheck::run(const RunContext& context) {
  Outcome outcome;
  auto snapshot = link_.snapshot(context.deadline);
  if (!snapshot) {
    outcome.status = State::kUnknown;
    outcome.summary = snapshot.status().message();
    return outcome;
  }
  const Snapshot& s = **snapshot;
  const auto interfaces = read_interfaces(s);
  if (interfaces.empty()) {
    outcome.status = State::kUnknown;
    outcome.summary = "device " + link_.name + " reports no interface (IF-MIB ifTable missing)";
    return outcome;
  }
  std::string identity = "device " + link_.name;
  if (auto descr = s.text(kSysDescr); descr && !descr->empty()) {
    identity = descr->substr(0, descr->find('\n'));
    if (identity.size() > 60) identity = identity.substr(0, 60) + "...";
  }
  Findings findings;
  const auto ticks = uptime_ticks(s);
  rates_.begin(s.taken, ticks);
  if (ticks) outcome.metrics.push_back(Metric{"uptime", static_cast<double>(*ticks / 100), "s"});

  int up = 0;
  int disabled = 0;
  int judged = 0;
  for (const Interface& i : interfaces) {
    const bool wanted = names_.empty()
                            ? looks_like_radio(i)
                            : std::find(names_.begin(), names_.end(), i.name) != names_.end();
    if (!wanted) continue;
    ++judged;
    if (i.admin == 2) {
      ++disabled;
      findings.add(State::kOk, i.name + " disabled (admin down)");
      continue;
    }
    if (!oper_up(i.oper)) {
      findings.add(State::kCritical, i.name + " " + oper_name(i.oper));
      continue;
    }
    ++up;
    findings.add(State::kOk, i.name + " " + oper_name(i.oper));
    add_traffic(rates_, i, outcome);
  }
  for (const auto& name : names_) {
    if (std::none_of(interfaces.begin(), interfaces.end(),
                     [&](const Interface& i) { return i.name == name; }))
      findings.add(State::kCritical, "interface " + name + " not found");
  }
  rates_.end();
  if (judged == 0 && names_.empty()) {
    outcome.status = State::kUnknown;
    outcome.summary = "no 802.11 interface on " + identity +
                      " (none of ifType 71, nor named wlan*, ath*, wifi*, wl*, ra*); list them "
                      "in \"interfaces\"";
    return outcome;
  }
  outcome.metrics.push_back(Metric{"radios_up", static_cast<double>(up), "", std::nullopt,
                                   std::nullopt, 0, static_cast<double>(judged)});
  outcome.metrics.push_back(
      Metric{"stations", std::nullopt, "", std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  findings.add(State::kOk, "station count unavailable: IF-MIB has none");
  outcome.status = findings.state();
  outcome.details = findings.details();
  if (findings.has_problems()) {
    outcome.summary = findings.problems() + " (" + identity + ")";
  } else {
    outcome.summary = identity + ": " + std::to_string(up) + " Wi-Fi interfaces up" +
                      (disabled > 0 ? ", " + std::to_string(disabled) + " disabled" : "") +
                      ", stations unavailable";
  }
  return outcome;
}

}  // namespace

std::unique_ptr<Check> make_snmp_generic_check() { return std::make_unique<GenericCheck>(); }

}  // namespace vigie::plugins::wifi
