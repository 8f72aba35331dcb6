#include "agent/agent.hpp"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <exception>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "agent/central_config.hpp"
#include "agent/config.hpp"
#include "agent/enroll.hpp"
#include "agent/output.hpp"
#include "agent/scheduler.hpp"
#include "agent/shipper.hpp"
#include "agent/spool.hpp"
#include "agent/traps.hpp"
#include "common/file.hpp"
#include "common/human_text.hpp"
#include "common/log.hpp"
#include "common/protocol.hpp"
#include "common/systemd.hpp"
#include "common/time.hpp"
#include "plugins/agent/self_check.hpp"
#include "plugins/process.hpp"
#include "plugins/registry.hpp"
#include "plugins/snmp/devices.hpp"

namespace vigie::agent {
namespace {

using std::chrono::milliseconds;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  // bad configuration or environment
constexpr int kExitUsage = 2;
constexpr int kExitCheckCannotRun = static_cast<int>(State::kUnknown);

constexpr std::string_view kDefaultStateDir = "/var/lib/vigie";
constexpr std::string_view kSpoolFile = "spool.db";
constexpr milliseconds kFlushDeadline{5000};
// Check durations kept between two agent/self runs (30 checks every second is 1,800).
constexpr std::size_t kMaxDurations = 10'000;

// Each command's usage: its synopsis, then what it does.
constexpr std::string_view kRunUsage = R"(run [--config FILE] [--state-dir DIR] [--verbose]
    Run the checks on schedule and send their results to the collector, until
    SIGTERM or SIGINT (then send what is queued, for at most 5 s).
)";
constexpr std::string_view kCheckUsage =
    R"(check [NAME...|--all] [--config FILE] [--json] [--verbose]
    Run the named checks (all by default) once, in parallel, and print their
    results; send nothing. Exit status: the worst state (0 OK, 1 WARNING,
    2 CRITICAL, 3 UNKNOWN); 3 as well when the checks cannot be run.
)";
constexpr std::string_view kConfigUsage = R"(config check [--config FILE] [--state-dir DIR]
    Validate the configuration: prints "config OK: N checks", or the error. A
    managed agent's is its file with the centre's configuration kept in DIR.
)";
constexpr std::string_view kSpoolUsage =
    R"(spool [--config FILE] [--state-dir DIR] [--json] [--clear-quarantine]
    Show the spool: results waiting, the oldest one's age, results dropped, and
    the results the collector refused for good (quarantined), with its reason.
    The spool is opened read-only: safe beside the running agent, it changes nothing.
    --clear-quarantine: then forget the quarantined results (once looked at); the
    one option that writes to the spool.
)";
constexpr std::string_view kChecksUsage = R"(checks [--markdown]
    List the built-in check types.
)";
constexpr std::string_view kEnrollUsage =
    R"(enroll --enroll-token TOKEN [--config FILE] [--collector URL] [--site SITE]
       [--agent-id ID] [--ca-file FILE] [--token-file FILE] [--enroll-token-file FILE]
       [--managed [--state-dir DIR]]
    Exchange a one-time enrollment token (vigie-collector enroll-token create) for
    this agent's own token, written to the token file with mode 0600. What is not
    given comes from the configuration file. --managed: the agent's checks come
    from the collector's configuration for it, kept in DIR/central.json.
)";

constexpr std::string_view kFooter =
    R"(defaults: --config /etc/vigie/agent.json, --state-dir /var/lib/vigie
exit status (but for check): 0 success, 1 bad configuration or environment, 2 bad usage
)";

struct Options {
  std::string config{kDefaultConfigPath};
  std::string state_dir{kDefaultStateDir};
  bool all = false;
  bool json = false;
  bool markdown = false;
  bool verbose = false;
  bool clear_quarantine = false;
  std::vector<std::string> names;  // positional arguments
};

// Reads `args` (what follows the command). `flags` lists the options the command
// takes; `positional` says whether it takes plain arguments.
Result<Options> parse_options(std::span<char* const> args,
                              std::initializer_list<std::string_view> flags, bool positional) {
  Options options;
  const auto allowed = [&](std::string_view flag) {
    return std::find(flags.begin(), flags.end(), flag) != flags.end();
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (!arg.starts_with("--")) {
      if (!positional || arg.starts_with('-')) {
        return Status::invalid("unexpected argument \"" + std::string(arg) + "\"");
      }
      options.names.emplace_back(arg);
      continue;
    }
    std::optional<std::string_view> value;
    if (const std::size_t eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    if (!allowed(arg)) return Status::invalid("unknown option " + std::string(arg));
    const bool takes_value = arg == "--config" || arg == "--state-dir";
    if (takes_value && !value) {
      if (i + 1 == args.size()) return Status::invalid(std::string(arg) + " needs a value");
      value = args[++i];
    }
    if (!takes_value && value) return Status::invalid(std::string(arg) + " takes no value");
    if (takes_value && value->empty()) return Status::invalid(std::string(arg) + ": empty value");
    if (arg == "--config") options.config = *value;
    if (arg == "--state-dir") options.state_dir = *value;
    if (arg == "--all") options.all = true;
    if (arg == "--json") options.json = true;
    if (arg == "--markdown") options.markdown = true;
    if (arg == "--verbose") options.verbose = true;
    if (arg == "--clear-quarantine") options.clear_quarantine = true;
  }
  return options;
}

std::string usage();

// A command's misuse: the reason, then the command's usage (or the program's).
int usage_error(const Status& status, std::string_view command_usage = {}, int code = kExitUsage) {
  print_error("vigie-agent: " + status.message() + "\n\n");
  if (command_usage.empty()) {
    print_error(usage());
  } else {
    print_error("usage: vigie-agent " + std::string(command_usage) + "\n" + std::string(kFooter));
  }
  return code;
}

std::string hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "unknown";
  return name;
}

// One line of text for a table cell.
std::string one_line(std::string_view text) {
  std::string line(text.substr(0, text.find('\n')));
  std::replace(line.begin(), line.end(), '\t', ' ');
  return line;
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    print(line + '\n');
  }
}

int cmd_checks(const Options& options) {
  if (options.markdown) {
    print(plugins::checks_markdown());
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"TYPE", "DESCRIPTION"}};
  for (const auto& type : plugins::check_types()) {
    rows.push_back({std::string(type.name), std::string(type.description)});
  }
  print_table(rows);
  return kExitOk;
}

int cmd_config_check(const Options& options) {
  auto starting =
      load_starting_config(options.config, std::filesystem::path(options.state_dir) / kCentralFile);
  if (!starting) {
    print_error(starting.status().message() + '\n');
    return kExitFailure;
  }
  if (!starting->error.empty()) {
    print_error(starting->error + '\n');
    return kExitFailure;
  }
  const std::size_t n = starting->config.checks.size();
  std::string line = "config OK: " + std::to_string(n) + (n == 1 ? " check" : " checks");
  if (starting->managed) {
    line += starting->version.empty() ? " (managed: no central configuration yet)"
                                      : " (central configuration " + starting->version + ")";
  }
  print(line + '\n');
  return kExitOk;
}

int cmd_check(const Options& options) {
  if (options.all && !options.names.empty()) {
    return usage_error(Status::invalid("give check names or --all, not both"), kCheckUsage,
                       kExitCheckCannotRun);
  }
  auto config = load_config(options.config);
  if (!config) {
    print_error(config.status().message() + '\n');
    return kExitCheckCannotRun;
  }
  std::vector<ConfiguredCheck> selected;
  if (options.names.empty()) {
    selected = std::move(config->checks);
  } else {
    for (const std::string& name : options.names) {
      const auto it = std::find_if(config->checks.begin(), config->checks.end(),
                                   [&](const ConfiguredCheck& c) { return c.name == name; });
      if (it != config->checks.end()) {
        selected.push_back(std::move(*it));
        config->checks.erase(it);
        continue;
      }
      const bool repeated = std::any_of(selected.begin(), selected.end(),
                                        [&](const ConfiguredCheck& c) { return c.name == name; });
      if (repeated) continue;
      std::string known;
      for (const auto& c : config->checks) known += " " + c.name;
      for (const auto& c : selected) known += " " + c.name;
      print_error(config->path + ": no check named \"" + name + "\"; its checks:" + known + '\n');
      return kExitCheckCannotRun;
    }
  }

  const std::vector<CheckResult> results = run_checks_once(selected);
  State worst_state = State::kOk;
  for (const auto& result : results) worst_state = worst(worst_state, result.status);

  if (options.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& result : results) {
      nlohmann::json item = protocol::result_to_json(result);
      item["details"] = result.details;
      out.push_back(std::move(item));
    }
    print(out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + '\n');
  } else {
    // Central pollers' results name the member site they are about: a SITE column then.
    const bool sites = std::any_of(results.begin(), results.end(),
                                   [](const CheckResult& r) { return !r.site.empty(); });
    std::vector<std::vector<std::string>> rows = {{"NAME", "CHECK", "STATE", "SUMMARY"}};
    if (sites) rows.front().insert(rows.front().begin() + 2, "SITE");
    for (const auto& result : results) {
      rows.push_back({result.name, result.check, std::string(state_name(result.status)),
                      one_line(result.summary)});
      if (sites) rows.back().insert(rows.back().begin() + 2, result.site);
    }
    print_table(rows);
  }
  return static_cast<int>(worst_state);
}

// The agent/self check, every minute.
ConfiguredCheck self_check_entry(std::function<plugins::agent::AgentHealth()> health) {
  ConfiguredCheck self;
  self.name = std::string(kSelfCheckType);
  self.type = std::string(kSelfCheckType);
  self.id = std::string(kSelfCheckType);
  self.interval = std::chrono::minutes(1);
  self.timeout = std::chrono::seconds(10);
  self.splay = std::chrono::seconds(5);
  self.check = plugins::agent::make_self_check(std::move(health));
  return self;
}

std::filesystem::path spool_path_of(const Config& config, const Options& options) {
  return config.spool.path.empty() ? std::filesystem::path(options.state_dir) / kSpoolFile
                                   : std::filesystem::path(config.spool.path);
}

int cmd_spool(const Options& options) {
  auto config = load_config(options.config);
  if (!config) {
    print_error(config.status().message() + '\n');
    return kExitFailure;
  }
  const auto path = spool_path_of(*config, options);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    print_error("no spool at " + path.string() + " (the agent has not run yet?)\n");
    return kExitFailure;
  }
  // The same file the running agent uses: read-only, so that looking changes nothing
  // (no upgrade, no checkpoint, a corrupt file left in place); SQLite's locking makes
  // the one write, --clear-quarantine, safe beside the agent.
  SpoolOptions spool_options;
  spool_options.read_only = !options.clear_quarantine;
  spool_options.max_bytes = static_cast<std::uint64_t>(config->spool.max_mb * 1024 * 1024);
  spool_options.max_age = config->spool.max_age;
  spool_options.max_quarantine_bytes = spool_options.max_bytes / 4;
  auto spool = open_spool(path, spool_options);
  if (!spool) {
    print_error(spool.status().message() + '\n');
    return kExitFailure;
  }
  const auto kept = (*spool)->quarantined_results();
  const std::int64_t now = wall_ms();
  const std::int64_t oldest = (*spool)->oldest_ms();
  if (options.json) {
    nlohmann::json out = {{"path", path.string()},
                          {"depth", (*spool)->size()},
                          {"oldest_ms", oldest == 0 ? nlohmann::json() : nlohmann::json(oldest)},
                          {"dropped", (*spool)->dropped()},
                          {"quarantined", (*spool)->quarantined()},
                          {"quarantine", nlohmann::json::array()}};
    for (const auto& q : kept) {
      out["quarantine"].push_back({{"seq", q.seq},
                                   {"at_ms", q.at_ms},
                                   {"reason", q.reason},
                                   {"result", nlohmann::json::parse(q.result, nullptr, false)}});
    }
    print(out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + '\n');
  } else {
    print("spool        " + path.string() + "\nwaiting      " + std::to_string((*spool)->size()) +
          " results" +
          (oldest ? ", the oldest " + age_text(std::chrono::milliseconds(now - oldest)) + " old"
                  : "") +
          "\ndropped      " + std::to_string((*spool)->dropped()) +
          " results (full or too old)\nquarantined  " + std::to_string((*spool)->quarantined()) +
          " results refused by the collector, " + std::to_string(kept.size()) + " kept\n");
    for (const auto& q : kept) {
      const auto result = nlohmann::json::parse(q.result, nullptr, false);
      const std::string name = result.is_object() ? result.value("name", "?") : "?";
      print("  " + name + ", seq " + std::to_string(q.seq) + ", " +
            age_text(std::chrono::milliseconds(now - q.at_ms)) + " ago: " + q.reason + '\n');
    }
  }
  if (options.clear_quarantine) {
    auto cleared = (*spool)->clear_quarantine();
    if (!cleared) {
      print_error(cleared.status().message() + '\n');
      return kExitFailure;
    }
    // On stderr: stdout stays the report (JSON with --json).
    print_error("quarantine cleared: " + std::to_string(*cleared) + " results forgotten\n");
  }
  return kExitOk;
}

int cmd_run(const Options& options) {
  const std::filesystem::path state_dir(options.state_dir);
  // A managed agent runs the centre's configuration kept on disk: the collector may
  // well be down at its start.
  auto starting = load_starting_config(options.config, state_dir / kCentralFile);
  if (!starting) {
    print_error(starting.status().message() + '\n');
    return kExitFailure;
  }
  if (!starting->error.empty()) {
    log::error("the central configuration on disk is REFUSED: " + starting->error +
               "; running the checks of " + options.config + " until a valid one comes");
  }
  Config* const config = &starting->config;
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) {
    print_error("state folder " + options.state_dir + ": " + ec.message() + '\n');
    return kExitFailure;
  }
  SpoolOptions spool_options;
  spool_options.max_bytes = static_cast<std::uint64_t>(config->spool.max_mb * 1024 * 1024);
  spool_options.max_age = config->spool.max_age;
  spool_options.max_quarantine_bytes = spool_options.max_bytes / 4;
  const std::filesystem::path spool_path = spool_path_of(*config, options);
  auto spool = open_spool(spool_path, spool_options);
  if (!spool) {
    print_error(spool.status().message() + '\n');
    return kExitFailure;
  }
  protocol::AgentInfo agent{config->agent_id, config->site, hostname(), VIGIE_VERSION};
  ShipperOptions shipping;
  shipping.url = config->collector.url;
  shipping.ca_file = config->collector.ca_file;
  shipping.token_file = config->collector.token_file;
  shipping.client_cert = config->collector.client_cert;
  shipping.client_key = config->collector.client_key;
  shipping.batch_max = config->collector.batch_max;
  shipping.send_interval = config->collector.send_interval;
  shipping.backoff_max = config->collector.retry_max;
  auto shipper = Shipper::create(agent, std::move(shipping), std::move(*spool));
  if (!shipper) {
    print_error(config->path + ": collector: " + shipper.status().message() + '\n');
    return kExitFailure;
  }

  // The agent's own check, built in: its figures come from the shipper and from the
  // durations of the check runs seen since its previous run.
  const std::int64_t started_ms = wall_ms();
  std::mutex durations_mutex;
  std::vector<std::int64_t> durations;
  Shipper& sender = **shipper;
  std::unique_ptr<TrapListener> traps;
  const std::function<plugins::agent::AgentHealth()> self_health = [&] {
    plugins::agent::AgentHealth health;
    const ShipperStats stats = sender.stats();
    health.spool_depth = stats.depth;
    health.spool_oldest_ms = stats.oldest_ms;
    health.spool_dropped = stats.dropped;
    health.spool_quarantined = stats.quarantined;
    health.last_sent_ms = stats.last_sent_ms;
    health.sending_halted = stats.halted;
    health.started_ms = started_ms;
    if (traps) {
      const TrapStats t = traps->stats();
      health.traps = plugins::agent::AgentHealth::Traps{t.accepted, t.dropped, t.listening};
    }
    std::lock_guard lock(durations_mutex);
    health.check_durations_ms.swap(durations);
    return health;
  };
  config->checks.push_back(self_check_entry(self_health));

  // A peer closing a connection must give an error, not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  boost::asio::io_context io;
  Scheduler scheduler(
      io, config->checks,
      [&](CheckResult result) {
        log::debug("check " + result.name + ": " + std::string(state_name(result.status)) + ": " +
                   result.summary);
        if (result.check != kSelfCheckType) {
          std::lock_guard lock(durations_mutex);
          if (durations.size() < kMaxDurations) durations.push_back(result.duration_ms);
        }
        sender.submit(std::move(result));
      },
      SchedulerOptions{.workers = config->max_concurrent_checks});
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& error, int signal_number) {
    if (error) return;
    log::notice(std::string("received ") + (signal_number == SIGTERM ? "SIGTERM" : "SIGINT") +
                ": stopping");
    systemd::notify_stopping();
    scheduler.stop();
    if (traps) traps->stop();
    io.stop();
  });
  // Under systemd's watchdog, the keep-alive comes from the scheduling loop itself: if
  // it stops turning, systemd restarts the agent.
  boost::asio::steady_timer watchdog(io);
  std::function<void()> keep_alive;
  if (const auto period = systemd::watchdog_period()) {
    keep_alive = [&, period = *period] {
      systemd::notify_watchdog();
      watchdog.expires_after(period);
      watchdog.async_wait([&](const boost::system::error_code& error) {
        if (!error) keep_alive();
      });
    };
    keep_alive();
  }
  // SNMP traps: each becomes events for the collector, and a poll of its device soon
  // (through the devices of the configuration running: the centre's may replace it).
  std::shared_ptr<plugins::snmp::Devices> devices = config->snmp_devices;
  if (config->traps) {
    TrapListenerOptions trap_options;
    trap_options.state_dir = state_dir;
    traps = std::make_unique<TrapListener>(
        io, *config, trap_options, [&](const protocol::Event& event) { sender.submit(event); },
        [&](const std::string& device) {
          if (scheduler.run_soon(device, config->traps->poll_delay, config->traps->poll_gap) > 0 &&
              devices)
            devices->expire(device);
        });
    traps->start();
  }
  scheduler.start();
  // A managed agent: a new configuration from the centre swaps the scheduler's checks
  // on the loop's thread, without a restart.
  std::unique_ptr<CentralPoller> poller;
  if (starting->managed) {
    auto text = read_file(options.config, 4 * 1024 * 1024);
    if (!text) {
      print_error(text.status().message() + '\n');
      return kExitFailure;
    }
    poller = std::make_unique<CentralPoller>(
        CentralPollerOptions{.file = state_dir / kCentralFile,
                             .local_text = std::move(*text),
                             .local_origin = options.config,
                             .interval = config->collector.config_poll,
                             .request_timeout = std::chrono::seconds(10)},
        starting->version, starting->refused, starting->error,
        [&sender](const HttpRequest& request, milliseconds timeout) {
          return sender.exchange(request, timeout);
        },
        [&](Config next, const std::string&) {
          auto holder = std::make_shared<Config>(std::move(next));
          boost::asio::post(io, [&, holder] {
            std::vector<ConfiguredCheck> checks = std::move(holder->checks);
            checks.push_back(self_check_entry(self_health));
            scheduler.replace(std::move(checks));
            devices = holder->snmp_devices;
          });
        });
  }
  const std::size_t configured = config->checks.size() - 1;  // agent/self aside
  log::notice("vigie-agent " + std::string(VIGIE_VERSION) + " started: agent " + agent.id +
              " at site " + agent.site + ", " + std::to_string(configured) +
              " checks, reporting to " + config->collector.url + ", spool " + spool_path.string() +
              (!starting->managed          ? ""
               : starting->version.empty() ? "; managed, no central configuration yet"
                                           : "; central configuration " + starting->version));
  systemd::notify_ready(std::to_string(configured) + " checks, reporting to " +
                        config->collector.url);
  io.run();
  if (traps) traps->stop();
  // The shipper's stop aborts a configuration request in flight on its connection too.
  (*shipper)->stop(kFlushDeadline);
  poller.reset();
  log::notice("vigie-agent stopped");
  return kExitOk;
}

// The commands: what follows the command's name on the line, to their exit status.

int run_command(std::span<char* const> args) {
  auto options = parse_options(args, {"--config", "--state-dir", "--verbose"}, false);
  if (!options) return usage_error(options.status(), kRunUsage);
  if (options->verbose) log::set_level(log::Level::kDebug);
  return cmd_run(*options);
}

int check_command(std::span<char* const> args) {
  auto options = parse_options(args, {"--config", "--all", "--json", "--verbose"}, true);
  if (!options) return usage_error(options.status(), kCheckUsage, kExitCheckCannotRun);
  // The results are the output; timeouts and such are in them already.
  log::set_level(options->verbose ? log::Level::kDebug : log::Level::kError);
  return cmd_check(*options);
}

int config_command(std::span<char* const> args) {
  if (args.empty() || std::string_view(args[0]) != "check") {
    return usage_error(Status::invalid("expected \"config check\""), kConfigUsage);
  }
  auto options = parse_options(args.subspan(1), {"--config", "--state-dir"}, false);
  if (!options) return usage_error(options.status(), kConfigUsage);
  return cmd_config_check(*options);
}

int spool_command(std::span<char* const> args) {
  auto options =
      parse_options(args, {"--config", "--state-dir", "--json", "--clear-quarantine"}, false);
  if (!options) return usage_error(options.status(), kSpoolUsage);
  return cmd_spool(*options);
}

int checks_command(std::span<char* const> args) {
  auto options = parse_options(args, {"--markdown"}, false);
  if (!options) return usage_error(options.status(), kChecksUsage);
  return cmd_checks(*options);
}

// vigie-agent's commands, as ninja's tools: a name, one line for --help, the command's
// usage (its synopsis and what it does: COMMAND --help), and the function that runs it
// with what follows its name.
struct Command {
  std::string_view name;
  std::string_view summary;
  std::string_view usage;
  int (*run)(std::span<char* const> args);
};

constexpr Command kCommands[] = {
    {"run", "run the checks on schedule and send their results to the collector", kRunUsage,
     run_command},
    {"check", "run checks once and print their results; send nothing", kCheckUsage, check_command},
    {"config", "validate the configuration file (config check)", kConfigUsage, config_command},
    {"spool", "show the results waiting to be sent, and the results refused", kSpoolUsage,
     spool_command},
    {"checks", "list the built-in check types", kChecksUsage, checks_command},
    {"enroll", "exchange a one-time enrollment token for this agent's own", kEnrollUsage,
     enroll_command},
};

const Command* find_command(std::string_view name) {
  for (const Command& command : kCommands) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

std::string usage() {
  std::string text =
      "usage: vigie-agent <command> [options]\n\n"
      "vigie's agent: runs the checks of a site's machines and sends their results to the\n"
      "collector.\n\ncommands:\n";
  for (const Command& command : kCommands) {
    std::string name(command.name);
    name.resize(8, ' ');
    text += "  " + name + std::string(command.summary) + "\n";
  }
  text +=
      "\n`vigie-agent COMMAND --help` shows one command's usage; --version prints the version.\n"
      "\nthe commands' options:\n";
  for (const Command& command : kCommands) text += "  " + std::string(command.usage);
  return text + "\n" + std::string(kFooter);
}

bool asks_help(std::span<char* const> args) {
  return std::any_of(args.begin(), args.end(), [](const char* arg) {
    return std::string_view(arg) == "--help" || std::string_view(arg) == "-h";
  });
}

int dispatch(std::span<char* const> args) {
  if (args.empty()) return usage_error(Status::invalid("missing command"));
  const std::string_view name = args[0];
  if (name == "--help" || name == "-h" || name == "help") {
    print(usage());
    return kExitOk;
  }
  if (name == "--version") {
    print("vigie-agent " VIGIE_VERSION "\n");
    return kExitOk;
  }
  const Command* command = find_command(name);
  if (command == nullptr) {
    return usage_error(Status::invalid("unknown command \"" + std::string(name) + "\""));
  }
  const auto rest = args.subspan(1);
  if (asks_help(rest)) {
    print("usage: vigie-agent " + std::string(command->usage) + "\n" + std::string(kFooter));
    return kExitOk;
  }
  return command->run(rest);
}

}  // namespace

int run(int argc, char** argv) {
  // Before any thread starts (they copy the main thread's capabilities): the agent keeps
  // what it uses itself, and no program it starts inherits anything (plugins/process.hpp).
  constexpr std::uint64_t kKept =
      plugins::capability_bit(plugins::Capability::kSetuid) |  // "user" checks, and their kill
      plugins::capability_bit(plugins::Capability::kSetgid) |
      plugins::capability_bit(plugins::Capability::kNetAdmin) |  // given to nft, iptables-save
      plugins::capability_bit(plugins::Capability::kNetRaw);     // given on request (external)
  if (auto kept = plugins::keep_capabilities_to_self(kKept); !kept) {
    print_error("vigie-agent: cannot drop its capabilities: " + kept.status().message() + '\n');
    return kExitFailure;
  }
  try {
    return dispatch(std::span<char* const>(argv + (argc > 0 ? 1 : 0),
                                           static_cast<std::size_t>(std::max(argc - 1, 0))));
  } catch (const std::exception& e) {  // main's boundary
    print_error(std::string("vigie-agent: internal error: ") + e.what() + '\n');
  } catch (...) {
    print_error("vigie-agent: internal error\n");
  }
  return kExitFailure;
}

}  // namespace vigie::agent
