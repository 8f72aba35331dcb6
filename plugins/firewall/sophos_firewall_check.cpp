#include "plugins/firewall/sophos_firewall_check.hpp"

#include <time.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "plugins/check_support.hpp"
#include "plugins/findings.hpp"
#include "plugins/snmp/common.hpp"

namespace vigie::plugins::firewall {
namespace {

using namespace vigie::plugins::snmp;
using std::chrono::days;
using std::chrono::sys_days;

const Oid kSfos = oid("1.3.6.1.4.1.2604.5.1");
const Oid kDeviceType = oid("1.3.6.1.4.1.2604.5.1.1.2.0");
const Oid kFirmware = oid("1.3.6.1.4.1.2604.5.1.1.3.0");
const Oid kCurrentDate = oid("1.3.6.1.4.1.2604.5.1.2.1.0");
const Oid kDiskPct = oid("1.3.6.1.4.1.2604.5.1.2.4.2.0");
const Oid kMemoryPct = oid("1.3.6.1.4.1.2604.5.1.2.5.2.0");
const Oid kSwapPct = oid("1.3.6.1.4.1.2604.5.1.2.5.4.0");
const Oid kLiveUsers = oid("1.3.6.1.4.1.2604.5.1.2.6.0");
const Oid kHaStatus = oid("1.3.6.1.4.1.2604.5.1.4.1.0");
const Oid kHaCurrent = oid("1.3.6.1.4.1.2604.5.1.4.4.0");
const Oid kHaPeer = oid("1.3.6.1.4.1.2604.5.1.4.5.0");
const Oid kHaMode = oid("1.3.6.1.4.1.2604.5.1.4.6.0");
const Oid kProcessorLoad = oid("1.3.6.1.2.1.25.3.3.1.2");
// sfosIPSecVpnTunnelTable's entry, indexed by sfosIPSecVpnConnId (not the policy table,
// 2604.5.1.6.1.2.1); columns 2 ConnName and 8 ActiveTunnel ("Count of active tunnel").
const Oid kTunnelEntry = oid("1.3.6.1.4.1.2604.5.1.6.1.1.1.1");
const Oid kTunnelName = oid("1.3.6.1.4.1.2604.5.1.6.1.1.1.1.2");
const Oid kTunnelActive = oid("1.3.6.1.4.1.2604.5.1.6.1.1.1.1.8");

Oid service_oid(int n) { return oid("1.3.6.1.4.1.2604.5.1.3." + std::to_string(n) + ".0"); }
Oid licence_status_oid(int m) {
  return oid("1.3.6.1.4.1.2604.5.1.5." + std::to_string(m) + ".1.0");
}
Oid licence_expiry_oid(int m) {
  return oid("1.3.6.1.4.1.2604.5.1.5." + std::to_string(m) + ".2.0");
}

// sfosXGServiceStatus.<n>, in MIB order.
constexpr std::array<const char*, 21> kServices = {
    "pop3",     "imap4",    "smtp",    "ftp",    "http",     "av",     "as",
    "dns",      "ha",       "ips",     "apache", "ntp",      "tomcat", "sslvpn",
    "ipsecvpn", "database", "network", "garner", "drouting", "sshd",   "dgd"};
// What runs on every SFOS whatever its configuration; mail proxies, anti-spam, VPNs
// and FTP depend on the licences and the set-up, HA is judged by the HA part.
const std::vector<std::string> kDefaultServices = {"http",   "dns",      "ips",      "apache",
                                                   "ntp",    "tomcat",   "database", "network",
                                                   "garner", "drouting", "sshd",     "dgd"};

const char* service_state(std::int64_t value) {
  switch (value) {
    case 0: return "untouched";
    case 1: return "stopped";
    case 2: return "initializing";
    case 3: return "running";
    case 4: return "exiting";
    case 5: return "dead";
    case 6: return "frozen";
    case 7: return "unregistered";
    default: return "in an unknown state";
  }
}

struct Module {
  const char* key;
  const char* name;
};
// sfosXGLicenseDetails.<m>, in MIB order.
constexpr std::array<Module, 9> kModules = {{
    {"base", "Base firewall"},
    {"network", "Network protection"},
    {"web", "Web protection"},
    {"email", "Email protection"},
    {"webserver", "Web server protection"},
    {"sandstorm", "Sandstorm"},
    {"support", "Enhanced support"},
    {"support_plus", "Enhanced plus support"},
    {"central", "Central orchestration"},
}};

const char* ha_state(std::int64_t value) {
  switch (value) {
    case 0: return "not applicable";
    case 1: return "auxiliary";
    case 2: return "standalone";
    case 3: return "primary";
    case 4: return "faulty";
    case 5: return "ready";
    default: return "in an unknown state";
  }
}

std::optional<unsigned> month_number(std::string_view name) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (unsigned i = 0; i < 12; ++i) {
    if (name == kMonths[i]) return i + 1;
  }
  return std::nullopt;
}

std::optional<sys_days> make_date(const std::string& month, const std::string& day,
                                  const std::string& year) {
  const auto m = month_number(month);
  if (!m || day.empty() || year.size() != 4 || day.size() > 2) return std::nullopt;
  if (!std::all_of(day.begin(), day.end(), ::isdigit) ||
      !std::all_of(year.begin(), year.end(), ::isdigit))
    return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(std::stoi(year)), std::chrono::month(*m),
                                         std::chrono::day(static_cast<unsigned>(std::stoi(day)))};
  if (!date.ok()) return std::nullopt;
  return sys_days(date);
}

// "Dec 31 2999", "Dec 5 2026", "Dec 05 2026".
std::optional<sys_days> parse_expiry(const std::string& text) {
  const auto w = split_words(text);
  if (w.size() != 3) return std::nullopt;
  return make_date(w[0], w[1], w[2]);
}

// sfosCurrentDate, "Sat Nov 28 10:00:00 2026" (ctime's layout).
std::optional<sys_days> parse_device_date(const std::string& text) {
  const auto w = split_words(text);
  if (w.size() != 5) return std::nullopt;
  return make_date(w[1], w[2], w[4]);
}

sys_days local_date(std::chrono::system_clock::time_point now) {
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  localtime_r(&t, &tm);
  return sys_days(
      std::chrono::year_month_day{std::chrono::year(tm.tm_year + 1900),
                                  std::chrono::month(static_cast<unsigned>(tm.tm_mon + 1)),
                                  std::chrono::day(static_cast<unsigned>(tm.tm_mday))});
}

std::string percent_text(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.0f%%", value);
  return buffer;
}

struct Thresholds {
  double warn;
  double crit;
};

class SophosFirewallCheck final : public Check {
 public:
  void attach(const Environment& env) override { env_ = env; }
  Status configure(const nlohmann::json& params) override;
  std::string instance() const override { return link_.name; }
  Outcome run(const RunContext& context) override;

 private:
  void judge_ha(const Snapshot& s, Findings& findings) const;
  void judge_services(const Snapshot& s, Findings& findings, Outcome& outcome) const;
  void judge_licences(const Snapshot& s, Findings& findings, Outcome& outcome) const;
  void judge_interfaces(const Snapshot& s, Findings& findings, Outcome& outcome);
  void judge_resources(const Snapshot& s, Findings& findings, Outcome& outcome) const;
  void judge_tunnels(const Snapshot& s, Findings& findings, Outcome& outcome) const;

  Environment env_;
  DeviceLink link_;
  std::vector<std::string> services_ = kDefaultServices;
  std::string ha_ = "auto";
  double licence_warn_days_ = 30;
  double licence_crit_days_ = 7;
  std::vector<std::string> wan_ports_ = {"Port2"};
  std::vector<std::string> ignore_interfaces_;
  std::vector<std::string> tunnels_;
  bool device_clock_ = false;
  Thresholds cpu_{80, 95};
  Thresholds memory_{90, 95};
  Thresholds disk_{80, 90};
  RateTracker rates_;
};

Status read_thresholds(const nlohmann::json& params, const std::string& prefix, Thresholds& out) {
  if (Status s = read_number(params, prefix + "_warn", 0, 100, out.warn); !s) return s;
  if (Status s = read_number(params, prefix + "_crit", 0, 100, out.crit); !s) return s;
  if (out.warn > out.crit) return Status::invalid(prefix + "_warn: above " + prefix + "_crit");
  return Status::ok();
}

Status SophosFirewallCheck::configure(const nlohmann::json& params) {
  if (Status s = check_parameters(
          params, {"device", "services", "ha", "licence_warn_days", "licence_crit_days",
                   "wan_ports", "ignore_interfaces", "tunnels", "clock", "cpu_warn", "cpu_crit",
                   "memory_warn", "memory_crit", "disk_warn", "disk_crit"});
      !s) {
    return s;
  }
  if (Status s = read_strings(params, "services", services_); !s) return s;
  for (const auto& name : services_) {
    if (std::find(kServices.begin(), kServices.end(), name) == kServices.end()) {
      std::string message = "services: unknown service \"" + name + "\"; known:";
      for (const char* known : kServices) message += std::string(" ") + known;
      return Status::invalid(std::move(message));
    }
  }
  std::string ha = ha_;
  if (Status s = read_string(params, "ha", ha); !s) return s;
  if (ha != "auto" && ha != "required" && ha != "ignore")
    return Status::invalid("ha: " + quote(ha) + ": must be \"auto\", \"required\" or \"ignore\"");
  ha_ = ha;
  if (Status s = read_number(params, "licence_warn_days", 0, 3650, licence_warn_days_); !s)
    return s;
  if (Status s = read_number(params, "licence_crit_days", 0, 3650, licence_crit_days_); !s)
    return s;
  if (licence_crit_days_ > licence_warn_days_)
    return Status::invalid("licence_crit_days: above licence_warn_days");
  if (Status s = read_strings(params, "wan_ports", wan_ports_); !s) return s;
  if (Status s = read_strings(params, "ignore_interfaces", ignore_interfaces_); !s) return s;
  if (Status s = read_strings(params, "tunnels", tunnels_); !s) return s;
  for (std::size_t i = 0; i < tunnels_.size(); ++i) {
    if (std::find(tunnels_.begin(), tunnels_.begin() + static_cast<long>(i), tunnels_[i]) !=
        tunnels_.begin() + static_cast<long>(i))
      return field_error(item_path("tunnels", i), quote(tunnels_[i]) + " is listed twice");
  }
  std::string clock = device_clock_ ? "device" : "agent";
  if (Status s = read_string(params, "clock", clock); !s) return s;
  if (clock != "agent" && clock != "device")
    return Status::invalid("clock: " + quote(clock) + ": must be \"agent\" or \"device\"");
  device_clock_ = clock == "device";
  if (Status s = read_thresholds(params, "cpu", cpu_); !s) return s;
  if (Status s = read_thresholds(params, "memory", memory_); !s) return s;
  if (Status s = read_thresholds(params, "disk", disk_); !s) return s;

  Request request = if_mib_request(true);
  request.scalars = {kSysObjectId, kSysUpTime, kSysName};
  for (const Oid* o : {&kDeviceType, &kFirmware, &kCurrentDate, &kDiskPct, &kMemoryPct, &kSwapPct,
                       &kLiveUsers, &kHaStatus, &kHaCurrent, &kHaPeer, &kHaMode})
    request.scalars.push_back(*o);
  for (int n = 1; n <= static_cast<int>(kServices.size()); ++n)
    request.scalars.push_back(service_oid(n));
  for (int m = 1; m <= static_cast<int>(kModules.size()); ++m) {
    request.scalars.push_back(licence_status_oid(m));
    request.scalars.push_back(licence_expiry_oid(m));
  }
  request.subtrees.push_back(kProcessorLoad);
  request.subtrees.push_back(kTunnelEntry);
  return link_.configure(params, env_, request);
}

void SophosFirewallCheck::judge_ha(const Snapshot& s, Findings& findings) const {
  if (ha_ == "ignore") return;
  const auto status = s.integer(kHaStatus);
  if (!status) {
    findings.add(State::kUnknown, "HA state unreadable (" + status.status().message() + ")");
    return;
  }
  if (*status != 1) {
    findings.add(ha_ == "required" ? State::kCritical : State::kOk, "HA disabled");
    return;
  }
  const auto current = s.integer(kHaCurrent);
  const auto peer = s.integer(kHaPeer);
  if (!current || !peer) {
    findings.add(State::kUnknown, "HA enabled but its state is unreadable (" +
                                      (!current ? current.status() : peer.status()).message() +
                                      ")");
    return;
  }
  std::string mode;
  if (auto m = s.text(kHaMode); m && !m->empty()) mode = " (" + *m + ")";
  const bool current_role = *current == 1 || *current == 3;
  const bool peer_role = *peer == 1 || *peer == 3;
  if (*current == 4) {
    findings.add(State::kCritical, "HA: this unit is faulty");
  } else if (*current == 2) {
    findings.add(State::kCritical, "HA peer lost: this unit runs standalone");
  } else if (*peer == 4) {
    findings.add(State::kCritical, "HA peer faulty");
  } else if (current_role && !peer_role) {
    findings.add(*peer == 5 ? State::kWarning : State::kCritical,
                 *peer == 5 ? "HA peer ready but not in the pair yet"
                            : std::string("HA peer lost (peer ") + ha_state(*peer) + ")");
  } else if (current_role && *current == *peer) {
    findings.add(State::kCritical, std::string("HA: both units ") + ha_state(*current));
  } else if (!current_role) {
    findings.add(State::kWarning, std::string("HA: this unit is ") + ha_state(*current));
  } else {
    findings.add(State::kOk,
                 std::string("HA ") + ha_state(*current) + ", peer " + ha_state(*peer) + mode);
  }
}

void SophosFirewallCheck::judge_services(const Snapshot& s, Findings& findings,
                                         Outcome& outcome) const {
  int running = 0;
  int read = 0;
  std::string others;
  for (int n = 1; n <= static_cast<int>(kServices.size()); ++n) {
    const std::string name = kServices[static_cast<std::size_t>(n - 1)];
    const auto state = s.integer(service_oid(n));
    const bool expected = std::find(services_.begin(), services_.end(), name) != services_.end();
    if (!state) {
      if (expected)
        findings.add(State::kUnknown,
                     "service " + name + " unreadable (" + state.status().message() + ")");
      continue;
    }
    ++read;
    if (*state == 3) {
      ++running;
      continue;
    }
    if (expected) {
      findings.add(*state == 2 ? State::kWarning : State::kCritical,
                   "service " + name + " " + service_state(*state));
    } else {
      others += (others.empty() ? "" : ", ") + name + " " + service_state(*state);
    }
  }
  if (read > 0) {
    findings.add(State::kOk, std::to_string(running) + "/" + std::to_string(read) +
                                 " services running" +
                                 (others.empty() ? "" : " (not required: " + others + ")"));
    outcome.metrics.push_back(
        Metric{"services_running", running, "", std::nullopt, std::nullopt, 0, read});
  }
}

void SophosFirewallCheck::judge_licences(const Snapshot& s, Findings& findings,
                                         Outcome& outcome) const {
  std::optional<sys_days> today;
  std::string today_note;
  if (device_clock_) {
    if (auto text = s.text(kCurrentDate); text) today = parse_device_date(*text);
    if (!today) today_note = " (device date unreadable: the agent's date is used)";
  }
  if (!today) today = local_date(env_.now ? env_.now() : std::chrono::system_clock::now());
  std::optional<long> soonest;
  std::string soonest_name;
  int valid = 0;
  for (std::size_t i = 0; i < kModules.size(); ++i) {
    const int m = static_cast<int>(i) + 1;
    const std::string name = kModules[i].name;
    const auto status = s.integer(licence_status_oid(m));
    if (!status) {
      if (status.status().code() != Code::kNotFound || m == 1)
        findings.add(State::kUnknown,
                     "licence " + name + " unreadable (" + status.status().message() + ")");
      continue;  // a module newer than the firmware is simply absent
    }
    if (*status == 0 || *status == 2) {
      findings.add(State::kOk, "licence " + name + ": not subscribed");
      continue;
    }
    const auto expiry_text = s.text(licence_expiry_oid(m));
    const std::optional<sys_days> expiry = expiry_text ? parse_expiry(*expiry_text) : std::nullopt;
    const std::string date = expiry_text ? *expiry_text : std::string("?");
    if (*status == 4) {
      findings.add(State::kCritical, "licence " + name + " expired (" + date + ")");
      continue;
    }
    if (*status == 5) {
      findings.add(State::kWarning, "licence " + name + " deactivated");
      continue;
    }
    if (*status != 1 && *status != 3) {
      findings.add(State::kUnknown,
                   "licence " + name + " in unknown state " + std::to_string(*status));
      continue;
    }
    const std::string evaluation = *status == 1 ? " (evaluation)" : "";
    if (!expiry) {
      findings.add(State::kUnknown,
                   "licence " + name + ": unreadable expiry date \"" + date + "\"");
      continue;
    }
    const long left = static_cast<long>((*expiry - *today).count());
    Metric metric{std::string("licence_") + kModules[i].key + "_days", static_cast<double>(left),
                  ""};
    metric.warn = Range{licence_warn_days_, std::numeric_limits<double>::infinity()};
    metric.crit = Range{licence_crit_days_, std::numeric_limits<double>::infinity()};
    outcome.metrics.push_back(std::move(metric));
    if (left < 0) {
      findings.add(State::kCritical, "licence " + name + evaluation + " expired " +
                                         std::to_string(-left) + " days ago (" + date + ")" +
                                         today_note);
    } else if (left <= licence_crit_days_) {
      findings.add(State::kCritical, "licence " + name + evaluation + " expires in " +
                                         std::to_string(left) + " days (" + date + ")" +
                                         today_note);
    } else if (left <= licence_warn_days_) {
      findings.add(State::kWarning, "licence " + name + evaluation + " expires in " +
                                        std::to_string(left) + " days (" + date + ")" + today_note);
    } else {
      ++valid;
      findings.add(State::kOk, "licence " + name + evaluation + " valid until " + date + " (" +
                                   std::to_string(left) + " days)");
      if (!soonest || left < *soonest) {
        soonest = left;
        soonest_name = name;
      }
    }
  }
  if (soonest)
    findings.add(State::kOk, std::to_string(valid) + " subscriptions valid, next expiry " +
                                 soonest_name + " in " + std::to_string(*soonest) + " days");
}

void SophosFirewallCheck::judge_interfaces(const Snapshot& s, Findings& findings,
                                           Outcome& outcome) {
  int up = 0;
  int disabled = 0;
  for (const Interface& i : read_interfaces(s)) {
    if (i.type == 24) continue;  // softwareLoopback
    if (std::find(ignore_interfaces_.begin(), ignore_interfaces_.end(), i.name) !=
        ignore_interfaces_.end())
      continue;
    const bool wan = std::find(wan_ports_.begin(), wan_ports_.end(), i.name) != wan_ports_.end();
    if (i.admin != 1) {
      ++disabled;
      findings.add(wan ? State::kCritical : State::kOk,
                   std::string(wan ? "WAN " : "interface ") + i.name + " disabled");
      continue;
    }
    if (!oper_up(i.oper)) {
      findings.add(wan ? State::kCritical : State::kWarning,
                   std::string(wan ? "WAN " : "interface ") + i.name + " " + oper_name(i.oper));
      continue;
    }
    ++up;
    add_traffic(rates_, i, outcome);
  }
  findings.add(State::kOk, std::to_string(up) + " interfaces up" +
                               (disabled > 0 ? ", " + std::to_string(disabled) + " disabled" : ""));
  for (const auto& wan : wan_ports_) {
    const auto all = read_interfaces(s);
    if (std::none_of(all.begin(), all.end(), [&](const Interface& i) { return i.name == wan; }))
      findings.add(State::kWarning, "WAN " + wan + " not found among the interfaces");
  }
}

State add_percent(Outcome& outcome, const char* label, double value, const Thresholds& t) {
  Metric metric{label, value, "%", Range{0, t.warn}, Range{0, t.crit}, 0, 100};
  outcome.metrics.push_back(metric);
  if (Range{0, t.crit}.alerts(value)) return State::kCritical;
  if (Range{0, t.warn}.alerts(value)) return State::kWarning;
  return State::kOk;
}

void SophosFirewallCheck::judge_resources(const Snapshot& s, Findings& findings,
                                          Outcome& outcome) const {
  std::vector<double> loads;
  for (const auto& [index, value] : s.column(kProcessorLoad)) {
    if (value->type == Type::kInteger) loads.push_back(static_cast<double>(value->integer));
  }
  if (!loads.empty()) {
    double sum = 0;
    for (double l : loads) sum += l;
    const double cpu = std::round(sum / static_cast<double>(loads.size()) * 10) / 10;
    const State state = add_percent(outcome, "cpu_pct", cpu, cpu_);
    findings.add(state,
                 "CPU " + percent_text(cpu) + " (" + std::to_string(loads.size()) + " cores)");
  }
  const auto percent = [&](const Oid& name, const char* label, const char* what,
                           const Thresholds* thresholds) {
    const auto value = s.integer(name);
    if (!value) {
      findings.add(State::kOk, std::string(what) + " not reported");
      return;
    }
    const double v = static_cast<double>(*value);
    if (thresholds != nullptr) {
      const State state = add_percent(outcome, label, v, *thresholds);
      findings.add(state, std::string(what) + " " + percent_text(v) + " used");
    } else {
      outcome.metrics.push_back(Metric{label, v, "%", std::nullopt, std::nullopt, 0, 100});
      findings.add(State::kOk, std::string(what) + " " + percent_text(v) + " used");
    }
  };
  percent(kMemoryPct, "memory_pct", "memory", &memory_);
  percent(kSwapPct, "swap_pct", "swap", nullptr);
  percent(kDiskPct, "disk_pct", "disk", &disk_);
  if (const auto users = s.integer(kLiveUsers); users) {
    outcome.metrics.push_back(Metric{"live_users", static_cast<double>(*users), "", std::nullopt,
                                     std::nullopt, 0, std::nullopt});
    findings.add(State::kOk, std::to_string(*users) + " captive-portal users");
  }
}

void SophosFirewallCheck::judge_tunnels(const Snapshot& s, Findings& findings,
                                        Outcome& outcome) const {
  struct Tunnel {
    std::string name;
    std::optional<std::int64_t> active;  // absent: the row has no ActiveTunnel
  };
  // Rows by their index (sfosIPSecVpnConnId); a row without a name is named by it.
  std::map<Oid, Tunnel> rows;
  for (const auto& [index, value] : s.column(kTunnelName)) {
    rows[index].name = value->type == Type::kOctetString && !value->bytes.empty()
                           ? value->bytes
                           : "#" + oid_text(index);
  }
  for (const auto& [index, value] : s.column(kTunnelActive)) {
    auto& row = rows[index];
    if (row.name.empty()) row.name = "#" + oid_text(index);
    if (value->type == Type::kInteger) row.active = value->integer;
    if (value->type == Type::kGauge32 || value->type == Type::kCounter32)
      row.active = static_cast<std::int64_t>(value->number);
  }
  int active = 0;
  std::vector<std::string> down_others;
  for (const auto& [index, row] : rows) {
    const bool listed = std::find(tunnels_.begin(), tunnels_.end(), row.name) != tunnels_.end();
    if (row.active && *row.active > 0) {
      ++active;
      continue;
    }
    const std::string state = row.active ? "down" : "in an unreported state";
    if (listed) {
      findings.add(row.active ? State::kCritical : State::kUnknown,
                   "IPsec tunnel " + row.name + " " + state);
    } else {
      down_others.push_back(row.name + " " + state);
    }
  }
  for (const auto& name : tunnels_) {
    if (std::none_of(rows.begin(), rows.end(),
                     [&](const auto& row) { return row.second.name == name; }))
      findings.add(State::kCritical,
                   "IPsec tunnel " + name + " not found" +
                       (rows.empty() ? " (the firewall lists no IPsec tunnel)" : ""));
  }
  if (rows.empty() && tunnels_.empty()) return;  // no VPN here: nothing to show
  const double total = static_cast<double>(rows.size());
  outcome.metrics.push_back(Metric{"tunnels", total, "", std::nullopt, std::nullopt, 0, {}});
  outcome.metrics.push_back(Metric{"tunnels_active", static_cast<double>(active), "", std::nullopt,
                                   std::nullopt, 0, total});
  std::string others;
  for (const auto& text : down_others) others += (others.empty() ? "" : ", ") + text;
  findings.add(State::kOk, std::to_string(active) + "/" + std::to_string(rows.size()) +
                               " IPsec tunnels active" +
                               (others.empty() ? "" : " (not required: " + others + ")"));
}

Outcome SophosFirewallCheck::run(const RunContext& context) {
  Outcome outcome;
  auto snapshot = link_.snapshot(context.deadline);
  if (!snapshot) {
    outcome.status = State::kUnknown;
    outcome.summary = snapshot.status().message();
    return outcome;
  }
  const Snapshot& s = **snapshot;
  const auto type = s.text(kDeviceType);
  const auto firmware = s.text(kFirmware);
  if (!type && !firmware) {
    std::string object_id = "?";
    if (const Value* v = s.find(kSysObjectId); v != nullptr && v->type == Type::kObjectId)
      object_id = oid_text(v->object);
    outcome.status = State::kUnknown;
    outcome.summary = "device " + link_.name +
                      " is not a Sophos SFOS firewall: SFOS-FIREWALL-MIB missing (" +
                      type.status().message() + "; sysObjectID " + object_id + ")";
    return outcome;
  }
  const std::string identity = (type ? *type : std::string("Sophos")) + ", SFOS " +
                               (firmware ? *firmware : std::string("?"));
  Findings findings;
  const auto ticks = uptime_ticks(s);
  rates_.begin(s.taken, ticks);
  if (ticks) {
    outcome.metrics.push_back(Metric{"uptime", static_cast<double>(*ticks / 100), "s"});
    findings.add(State::kOk, "up " + uptime_text(*ticks));
  }
  judge_ha(s, findings);
  judge_services(s, findings, outcome);
  judge_licences(s, findings, outcome);
  judge_interfaces(s, findings, outcome);
  judge_resources(s, findings, outcome);
  judge_tunnels(s, findings, outcome);
  rates_.end();

  outcome.status = findings.state();
  if (findings.has_problems()) {
    outcome.summary = findings.problems() + " (" + identity + ")";
  } else {
    outcome.summary = identity + ": all good";
    // The facts a technician wants at a glance, in the order they look for them.
    std::string ha;
    if (auto status = s.integer(kHaStatus); status && *status == 1) {
      auto current = s.integer(kHaCurrent);
      auto peer = s.integer(kHaPeer);
      if (current && peer)
        ha = std::string("HA ") + ha_state(*current) + "/" + ha_state(*peer) + ", ";
    }
    int running = 0;
    for (int n = 1; n <= 21; ++n) {
      if (auto st = s.integer(service_oid(n)); st && *st == 3) ++running;
    }
    const std::string tunnels =
        tunnels_.empty() ? std::string()
                         : ", " + std::to_string(tunnels_.size()) + " required IPsec tunnel" +
                               (tunnels_.size() == 1 ? "" : "s") + " active";
    outcome.summary = identity + ": " + ha + std::to_string(running) + " services running, " +
                      "subscriptions valid" + tunnels +
                      (ticks ? ", up " + uptime_text(*ticks) : "");
  }
  outcome.details = findings.details();
  return outcome;
}

}  // namespace

std::unique_ptr<Check> make_sophos_firewall_check() {
  return std::make_unique<SophosFirewallCheck>();
}

}  // namespace vigie::plugins::firewall
