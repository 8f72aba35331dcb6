#include "plugins/registry.hpp"

#include <algorithm>
#include <iterator>
#include <vector>

#include "common/config_fields.hpp"
#include "plugins/agent/self_check.hpp"
#include "plugins/antivirus/clamd_check.hpp"
#include "plugins/antivirus/signature_age_check.hpp"
#include "plugins/antivirus/sophos_central_check.hpp"
#include "plugins/antivirus/sophos_linux_check.hpp"
#include "plugins/backup/avamar_check.hpp"
#include "plugins/backup/avamar_server_check.hpp"
#include "plugins/backup/borg_check.hpp"
#include "plugins/backup/file_age_check.hpp"
#include "plugins/backup/freshness.hpp"
#include "plugins/backup/restic_check.hpp"
#include "plugins/external/external_check.hpp"
#include "plugins/firewall/host_firewall_check.hpp"
#include "plugins/firewall/sophos_firewall_check.hpp"
#include "plugins/net/dns_check.hpp"
#include "plugins/net/http_check.hpp"
#include "plugins/net/ping_check.hpp"
#include "plugins/net/tls_check.hpp"
#include "plugins/system/clock_check.hpp"
#include "plugins/system/cpu_check.hpp"
#include "plugins/system/disk_check.hpp"
#include "plugins/system/load_check.hpp"
#include "plugins/system/memory_check.hpp"
#include "plugins/system/unit_check.hpp"
#include "plugins/system/uptime_check.hpp"
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
    {"agent/self",
     "The agent itself, every minute, built in: spool backlog and drops, last send, check "
     "latencies, memory, version.",
     agent::kSelfMetrics, &agent::make_self_check},
    {"system/load", "The 1-, 5- and 15-minute load averages, against thresholds per CPU.",
     system::kLoadMetrics, &system::make_load_check},
    {"system/disk", "Space and inodes used on one filesystem.", system::kDiskMetrics,
     &system::make_disk_check},
    {"system/cpu", "How busy the CPUs were since the previous run (busy, iowait, steal).",
     system::kCpuMetrics, &system::make_cpu_check},
    {"system/memory", "Memory in use: total minus what the kernel could still make available.",
     system::kMemoryMetrics, &system::make_memory_check},
    {"system/swap", "Swap space in use.", system::kSwapMetrics, &system::make_swap_check},
    {"system/uptime", "Time since the machine started; a recent reboot is a WARNING.",
     system::kUptimeMetrics, &system::make_uptime_check},
    {"system/unit", "The state of one systemd unit (systemctl show).", system::kUnitMetrics,
     &system::make_unit_check},
    {"system/clock",
     "The system clock is synchronized by a time daemon, and its maximum error (kernel "
     "ntp_adjtime).",
     system::kClockMetrics, &system::make_clock_check},
    {"firewall/host",
     "The host's own firewall (nftables, else iptables) is on, filters input, and its "
     "ruleset has not changed since it was accepted.",
     firewall::kHostFirewallMetrics, &firewall::make_host_firewall_check},
    {"firewall/sophos",
     "A Sophos Firewall (SFOS) over SNMP: HA, services, subscriptions, interfaces, IPsec "
     "tunnels, load.",
     firewall::kSophosFirewallMetrics, &firewall::make_sophos_firewall_check},
    {"backup/restic",
     "Age of the newest restic snapshot, snapshot count, size and its change from the "
     "previous snapshot.",
     backup::kSnapshotMetrics, &backup::make_restic_check},
    {"backup/borg",
     "Age of the newest borg archive, archive count, size and its change from the previous "
     "archive.",
     backup::kSnapshotMetrics, &backup::make_borg_check},
    {"backup/file-age",
     "The newest file matching a pattern in a folder (dumps left by other tools): its age, "
     "size floor, count and size change.",
     backup::kFileAgeMetrics, &backup::make_file_age_check},
    {"backup/avamar",
     "The last backups of Avamar clients from `mccli activity show` (plain or --xml): status, "
     "error code, age, size; one client, or the whole grid with a result per client filed "
     "under its site.",
     backup::kAvamarMetrics, &backup::make_avamar_check},
    {"backup/avamar-server",
     "An Avamar grid's health: capacity used (show-prop), the last validated checkpoint, "
     "garbage collection and nodes (status.dpn).",
     backup::kAvamarServerMetrics, &backup::make_avamar_server_check},
    {"antivirus/clamd",
     "The ClamAV daemon answers PING over its socket, and its signatures are recent "
     "(VERSION).",
     antivirus::kClamdMetrics, &antivirus::make_clamd_check},
    {"antivirus/signature-age",
     "Age of an antivirus engine's signatures on disk: file times, or ClamAV's database "
     "headers.",
     antivirus::kSignatureAgeMetrics, &antivirus::make_signature_age_check},
    {"antivirus/sophos",
     "Sophos Protection for Linux: installed, running, last successful update, recent "
     "detections.",
     antivirus::kSophosLinuxMetrics, &antivirus::make_sophos_linux_check},
    {"antivirus/sophos-central",
     "Sophos Central, for a central poller: every tenant's endpoints (health, tamper "
     "protection, last seen) and open alerts, one result per tenant filed under its site.",
     antivirus::kSophosCentralMetrics, &antivirus::make_sophos_central_check},
    {"wifi/unifi",
     "A UniFi access point over SNMP: SSIDs, stations, radios, channel utilisation, uplink.",
     wifi::kUnifiMetrics, &wifi::make_unifi_check},
    {"wifi/snmp-generic",
     "Any access point over SNMP through IF-MIB: its 802.11 interfaces and their traffic.",
     wifi::kGenericMetrics, &wifi::make_snmp_generic_check},
    {"net/http",
     "Websites, many at once (curl multi, in vigie-probe): status, body, response time and "
     "the HTTPS certificate; one result per URL.",
     net::kHttpMetrics, &net::make_http_check},
    {"net/tls",
     "Any TLS service, STARTTLS for SMTP, IMAP and POP3 included: handshake, certificate "
     "(trust, host name, expiry, issuer), protocol version; one result per service.",
     net::kTlsMetrics, &net::make_tls_check},
    {"net/dns",
     "A name resolves (A, AAAA, MX or another record) through the system's or a given "
     "server within a time, its answer optionally matching (c-ares, in vigie-probe).",
     net::kDnsMetrics, &net::make_dns_check},
    {"net/ping",
     "ICMP echo to many hosts at once (unprivileged ICMP or raw sockets): loss and round-trip "
     "time, one result per host.",
     net::kPingMetrics, &net::make_ping_check},
};

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
  std::vector<std::string_view> names;
  for (const auto& type : kCheckTypes) {
    if (type.name == name) return &type;
    names.push_back(type.name);
  }
  std::string message = "unknown check type " + quote(name);
  if (const std::string_view closest = closest_match(name, names); !closest.empty())
    message += " (did you mean " + quote(closest) + "?)";
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
