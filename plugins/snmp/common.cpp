#include "plugins/snmp/common.hpp"

#include <algorithm>
#include <cstdio>

namespace vigie::plugins::snmp {
namespace {

const Oid kIfDescr = oid("1.3.6.1.2.1.2.2.1.2");
const Oid kIfType = oid("1.3.6.1.2.1.2.2.1.3");
const Oid kIfAdmin = oid("1.3.6.1.2.1.2.2.1.7");
const Oid kIfOper = oid("1.3.6.1.2.1.2.2.1.8");
const Oid kIfInOctets = oid("1.3.6.1.2.1.2.2.1.10");
const Oid kIfOutOctets = oid("1.3.6.1.2.1.2.2.1.16");
const Oid kIfName = oid("1.3.6.1.2.1.31.1.1.1.1");
const Oid kIfHcIn = oid("1.3.6.1.2.1.31.1.1.1.6");
const Oid kIfHcOut = oid("1.3.6.1.2.1.31.1.1.1.10");

std::optional<std::uint32_t> single_index(const Oid& suffix) {
  if (suffix.size() != 1) return std::nullopt;
  return suffix[0];
}

}  // namespace

Status DeviceLink::configure(const nlohmann::json& params, const Environment& env,
                             const Request& request) {
  std::string device;
  if (Status s = read_string(params, "device", device, {.required = true}); !s) return s;
  if (!env.devices)
    return Status::invalid("device: " + quote(device) +
                           ": the configuration declares no \"devices\"");
  if (Status s = env.devices->subscribe(device, request); !s)
    return Status::invalid("device: " + s.message());
  devices = env.devices;
  name = std::move(device);
  return Status::ok();
}

Result<std::shared_ptr<const Snapshot>> DeviceLink::snapshot(
    std::chrono::steady_clock::time_point deadline) {
  if (!devices) return Status::invalid("check not configured: no device");
  auto snapshot = devices->snapshot(name, deadline);
  if (snapshot) return snapshot;
  const DeviceOptions* options = devices->options(name);
  std::string where = "device " + name;
  if (options != nullptr)
    where += " (" + options->target.host + ":" + std::to_string(options->target.port) + ")";
  return Status(snapshot.status().code(), where + ": " + snapshot.status().message());
}

Request if_mib_request(bool traffic) {
  Request request;
  request.subtrees = {kIfDescr, kIfType, kIfAdmin, kIfOper, kIfName};
  if (traffic) {
    request.subtrees.insert(request.subtrees.end(), {kIfInOctets, kIfOutOctets, kIfHcIn, kIfHcOut});
  }
  return request;
}

std::vector<Interface> read_interfaces(const Snapshot& snapshot) {
  std::map<std::uint32_t, Interface> rows;
  for (const auto& [suffix, value] : snapshot.column(kIfDescr)) {
    const auto index = single_index(suffix);
    if (!index) continue;
    Interface& row = rows[*index];
    row.index = *index;
    if (value->type == Type::kOctetString) row.name = value->bytes;
  }
  for (const auto& [suffix, value] : snapshot.column(kIfName)) {
    const auto index = single_index(suffix);
    if (!index || value->type != Type::kOctetString || value->bytes.empty()) continue;
    Interface& row = rows[*index];
    row.index = *index;
    row.name = value->bytes;
  }
  const auto integer_column = [&](const Oid& column, std::int64_t Interface::*field) {
    for (const auto& [suffix, value] : snapshot.column(column)) {
      const auto index = single_index(suffix);
      if (!index || value->type != Type::kInteger) continue;
      Interface& row = rows[*index];
      row.index = *index;
      row.*field = value->integer;
    }
  };
  integer_column(kIfType, &Interface::type);
  integer_column(kIfAdmin, &Interface::admin);
  integer_column(kIfOper, &Interface::oper);
  const auto counters = [&](const Oid& column, std::optional<std::uint64_t> Interface::*field,
                            Type type) {
    for (const auto& [suffix, value] : snapshot.column(column)) {
      const auto index = single_index(suffix);
      if (!index || value->type != type) continue;
      auto it = rows.find(*index);
      if (it == rows.end()) continue;
      if (type == Type::kCounter32 && (it->second.*field).has_value()) continue;
      it->second.*field = value->number;
      it->second.counter_bits = type == Type::kCounter64 ? 64 : 32;
    }
  };
  // 64-bit counters first: a 32-bit one only fills what they left empty.
  counters(kIfHcIn, &Interface::in_octets, Type::kCounter64);
  counters(kIfHcOut, &Interface::out_octets, Type::kCounter64);
  counters(kIfInOctets, &Interface::in_octets, Type::kCounter32);
  counters(kIfOutOctets, &Interface::out_octets, Type::kCounter32);
  std::vector<Interface> out;
  for (auto& [index, row] : rows) {
    if (row.name.empty()) row.name = "if" + std::to_string(index);
    out.push_back(std::move(row));
  }
  return out;
}

std::string oper_name(std::int64_t oper) {
  switch (oper) {
    case 1: return "up";
    case 2: return "down";
    case 3: return "testing";
    case 4: return "unknown";
    case 5: return "dormant";
    case 6: return "notPresent";
    case 7: return "lowerLayerDown";
    default: return "state " + std::to_string(oper);
  }
}

void add_traffic(RateTracker& rates, const Interface& interface, Outcome& outcome) {
  const auto add = [&](const char* direction, const std::optional<std::uint64_t>& octets) {
    if (!octets) return;
    const std::string label = interface.name + "_" + direction + "_bps";
    const auto rate = rates.rate(label, *octets, interface.counter_bits);
    if (!rate) return;
    Metric metric;
    metric.label = label;
    metric.value = *rate * 8;
    metric.min = 0;
    outcome.metrics.push_back(std::move(metric));
  };
  add("in", interface.in_octets);
  add("out", interface.out_octets);
}

std::optional<std::uint64_t> uptime_ticks(const Snapshot& snapshot) {
  const Value* value = snapshot.find(kSysUpTime);
  if (value == nullptr || value->type != Type::kTimeTicks) return std::nullopt;
  return value->number;
}

std::string uptime_text(std::uint64_t ticks) {
  const std::uint64_t seconds = ticks / 100;
  const std::uint64_t days = seconds / 86400;
  char buffer[64];
  if (days > 0) {
    std::snprintf(buffer, sizeof buffer, "%llu d %02llu:%02llu",
                  static_cast<unsigned long long>(days),
                  static_cast<unsigned long long>(seconds % 86400 / 3600),
                  static_cast<unsigned long long>(seconds % 3600 / 60));
  } else {
    std::snprintf(buffer, sizeof buffer, "%llu h %02llu min",
                  static_cast<unsigned long long>(seconds / 3600),
                  static_cast<unsigned long long>(seconds % 3600 / 60));
  }
  return buffer;
}

}  // namespace vigie::plugins::snmp
