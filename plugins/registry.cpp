#include "plugins/registry.hpp"

#include <algorithm>
#include <iterator>
#include <vector>

#include "plugins/external/external_check.hpp"
#include "plugins/firewall/sophos_check.hpp"
#include "plugins/system/disk_check.hpp"
#include "plugins/system/load_check.hpp"
#include "plugins/wifi/snmp_generic_check.hpp"
#include "plugins/wifi/unifi_check.hpp"

namespace vigie::plugins {
namespace {

// The one table of built-in check types, in the order `vigie-agent checks` lists them.
constexpr CheckType kCheckTypes[] = {
    {"external",
     "Runs a Nagios-compatible plugin; its exit code is the state, its output "
     "the summary and details, its perfdata the metrics.",
     {},
     &external::make_external_check},
    {"system/load", "The 1-, 5- and 15-minute load averages, against thresholds per CPU.",
     system::kLoadMetrics, &system::make_load_check},
    {"system/disk", "Space and inodes used on one filesystem.", system::kDiskMetrics,
     &system::make_disk_check},
    {"firewall/sophos",
     "A Sophos Firewall (SFOS) over SNMP: HA, services, subscriptions, interfaces, load.",
     firewall::kSophosMetrics, &firewall::make_sophos_check},
    {"wifi/unifi",
     "A UniFi access point over SNMP: SSIDs, stations, radios, channel utilisation, uplink.",
     wifi::kUnifiMetrics, &wifi::make_unifi_check},
    {"wifi/snmp-generic",
     "Any access point over SNMP through IF-MIB: its 802.11 interfaces and their traffic.",
     wifi::kGenericMetrics, &wifi::make_snmp_generic_check},
};

// Levenshtein distance: the fewest single-character insertions, deletions and
// substitutions that turn `a` into `b`.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];  // row[i-1][j-1]
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({above + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// `text` for a message, cut when long: a config file may hold anything.
std::string quoted(std::string_view text) {
  constexpr std::size_t kMax = 80;
  if (text.size() <= kMax) return "\"" + std::string(text) + "\"";
  return "\"" + std::string(text.substr(0, kMax)) + "...\"";
}

std::string markdown_cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::span<const CheckType> check_types() { return kCheckTypes; }

Result<const CheckType*> find_check_type(std::string_view name) {
  const CheckType* closest = nullptr;
  std::size_t best = 0;
  for (const auto& type : kCheckTypes) {
    if (type.name == name) return &type;
    const std::size_t distance = edit_distance(name, type.name);
    if (closest == nullptr || distance < best) {
      closest = &type;
      best = distance;
    }
  }
  std::string message = "unknown check type " + quoted(name);
  if (closest != nullptr && best <= std::max<std::size_t>(2, name.size() / 3))
    message += " (did you mean \"" + std::string(closest->name) + "\"?)";
  message += "; known types: ";
  for (const auto& type : kCheckTypes) {
    if (&type != std::begin(kCheckTypes)) message += ", ";
    message += type.name;
  }
  return Status::not_found(std::move(message));
}

std::string checks_markdown() {
  std::string out;
  for (const auto& type : kCheckTypes) {
    if (!out.empty()) out += '\n';
    out += "### `" + std::string(type.name) + "`\n\n" + std::string(type.description) + "\n\n";
    if (type.metrics.empty()) {
      out += "No fixed metrics.\n";
      continue;
    }
    out += "| metric | unit | meaning |\n| --- | --- | --- |\n";
    for (const auto& metric : type.metrics) {
      out += "| `" + markdown_cell(metric.name) + "` | " +
             (metric.unit.empty() ? std::string("-") : markdown_cell(metric.unit)) + " | " +
             markdown_cell(metric.meaning) + " |\n";
    }
  }
  return out;
}

}  // namespace vigie::plugins
