#include "collector/serve_command.hpp"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "collector/api.hpp"
#include "collector/calendar_command.hpp"
#include "collector/day_zone.hpp"
#include "collector/monitor.hpp"
#include "collector/notifier.hpp"
#include "collector/server.hpp"
#include "collector/sqlite/owner_lock.hpp"
#include "collector/storage.hpp"
#include "common/duration.hpp"
#include "common/log.hpp"
#include "common/systemd.hpp"

namespace vigie::collector {

const CommandHelp kServeHelp = {
    .synopsis = "vigie-collector [serve] [options]",
    .about =
        R"(Receives check results from vigie agents, stores them and serves the query API, until
SIGTERM or SIGINT.
)",
    .options =
        R"(  --listen ADDR:PORT    address to listen on (default 127.0.0.1:8080; [::1]:8080 for IPv6;
                        port 0 picks a free port)
  --db PATH|CONNINFO    SQLite database (default /var/lib/vigie-collector/collector.db), or a
                        PostgreSQL one: postgresql://USER@HOST/DB or "host=... dbname=...";
                        no password there: libpq reads it from PGPASSFILE or passfile=
  --read-db CONNINFO    read the query API's events, series, history, audit and
                        notifications from this PostgreSQL standby (default: --db)
  --lease DUR           PostgreSQL: how often a collector that does not lead tries to take
                        the lead (sweeps, housekeeping), and how long the leader goes on
                        unconfirmed; another leads within twice this (default 5s)
  --tls-cert PEM        serve HTTPS with this certificate chain (needs --tls-key)
  --tls-key PEM         the certificate's private key
  --tls-client-ca PEM   ask clients for a certificate signed by this CA, and refuse the
                        TLS handshake without one (agents set collector.client_cert)
  --allow-plain-http    allow plain HTTP on a non-loopback address (not recommended)
  --port-file PATH      write the bound port to PATH once listening
  --read-timeout DUR    time allowed to receive one request (default 30s)
  --threads N           HTTP worker threads (default 2)
  --max-attempts N      failures in a row before a state is hard, for checks that do not
                        say (default 3)
  --agent-timeout DUR   an agent silent this long is lost (default 3m)
  --agent-rate R        reports per second one agent may send, on average (default: no
                        limit); past it the agent is answered 429 with Retry-After
  --agent-burst N       reports an agent may send at once within --agent-rate (default 10)
  --enroll-rate R       enrollment attempts per second from one address, on average
                        (default 2; 0: no limit); past it 429 with Retry-After
  --enroll-burst N      attempts one address may make at once (default 30)
  --max-queued-reports N
                        reports waiting for the database past which new ones are answered
                        503 with Retry-After (default 20000; 0: no bound)
  --max-connections N   connections open at once past which new ones are answered 503
                        (default 4000; 0: no bound); the open-file limit is raised to its
                        hard limit at start (LimitNOFILE= in the unit)
  --max-checks-per-agent N
                        checks one agent may have (default 50000; 0: no bound); a report
                        that would create more is answered 413 naming the limit
  --max-series-per-agent N
                        metric series one agent may have (default 200000; 0: no bound)
  --synchronous MODE    full (default): a report answered "stored" survives a power cut;
                        normal: a crash of the collector only, for less disk work
  --alerts FILE         send alert notifications as FILE says (webhooks, e-mail, routing;
                        see config/alerts.example.json); a bad file stops the start
  --calendars FILE      the desk's calendars, named by alert rules, reminders and
                        downtimes (default /etc/vigie/calendars.json, if present; see
                        config/calendars.example.json); a bad file stops the start
  --day-zone ZONE       the time zone of the daily tier's days (default UTC), e.g.
                        Europe/Paris: the reports' --tz, whose whole days are then read
                        from it; a change rebuilds the tier in the background (on
                        PostgreSQL, the leading collector's zone: start all the same)
  --verbose             log debug messages
)",
};

namespace {

struct Options {
  ServerOptions server;
  std::string db = std::string(kDefaultDatabase);
  std::string read_db;
  std::chrono::milliseconds lease = PostgresOptions{}.lease;
  std::filesystem::path port_file;
  bool allow_plain_http = false;
  MonitorOptions monitor;
  RateLimit agent_rate;
  RateLimit enroll_rate = ApiOptions{}.enroll_rate;
  std::size_t max_queued_reports = SqliteOptions{}.max_queued_reports;
  bool synchronous_full = true;
  std::size_t max_checks_per_agent = ApiOptions{}.max_checks_per_agent;
  std::int64_t max_series_per_agent = SqliteOptions{}.max_series_per_agent;
  std::string alerts_file;
  std::string calendars_file;
  std::string day_zone;
  std::optional<AlertConfig> alerts;
  std::shared_ptr<const CalendarSet> calendars;
};

Status parse_listen(std::string_view text, ServerOptions& server) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return Status::invalid("--listen \"" + std::string(text) + "\": expected ADDR:PORT");
  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535)
    return Status::invalid("--listen \"" + std::string(text) + "\": bad port");
  server.address = host.empty() ? "127.0.0.1" : std::string(host);
  server.port = static_cast<std::uint16_t>(port);
  return Status::ok();
}

bool is_loopback(const std::string& address) {
  return address.rfind("127.", 0) == 0 || address == "::1" || address == "localhost";
}

// `text` as a whole number in [min, max]; nullopt when it is not one.
std::optional<long> whole_number(std::string_view text, long min, long max) {
  long n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n < min || n > max)
    return std::nullopt;
  return n;
}

// --agent-rate (from 0) and --agent-burst (from 1), up to 1000000.
Status read_rate(std::string_view name, std::string_view text, double low, double& out) {
  double x = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
  if (ec != std::errc() || end != text.data() + text.size() || !(x >= low) || x > 1e6)
    return Status::invalid(std::string(name) + ": expected a number " + (low == 0 ? "0" : "1") +
                           "..1000000, got \"" + std::string(text) + "\"");
  out = x;
  return Status::ok();
}

// The options that take a value, and what each does with it.
struct ValueOption {
  std::string_view name;
  Status (*apply)(std::string_view value, Options& o);
};

const ValueOption kValueOptions[] = {
    {"--listen", [](std::string_view v, Options& o) { return parse_listen(v, o.server); }},
    {"--db",
     [](std::string_view v, Options& o) {
       o.db = std::string(v);
       return Status::ok();
     }},
    {"--read-db",
     [](std::string_view v, Options& o) {
       if (!is_postgres_database(v))
         return Status::invalid("--read-db: expected a PostgreSQL connection string, got \"" +
                                std::string(v) + "\"");
       o.read_db = std::string(v);
       return Status::ok();
     }},
    {"--lease",
     [](std::string_view v, Options& o) {
       auto d = parse_duration(v);
       if (!d || d->count() < 100 || d->count() > 600'000)
         return Status::invalid("--lease: expected a duration from 100ms to 10m, got \"" +
                                std::string(v) + "\"");
       o.lease = *d;
       return Status::ok();
     }},
    {"--port-file",
     [](std::string_view v, Options& o) {
       o.port_file = std::string(v);
       return Status::ok();
     }},
    {"--read-timeout",
     [](std::string_view v, Options& o) {
       auto d = parse_duration(v);
       if (!d) return d.status().with_context("--read-timeout");
       o.server.read_timeout = *d;
       return Status::ok();
     }},
    {"--threads",
     [](std::string_view v, Options& o) {
       const auto n = whole_number(v, 1, 64);
       if (!n) return Status::invalid("--threads: expected a number 1..64");
       o.server.worker_threads = static_cast<int>(*n);
       return Status::ok();
     }},
    {"--tls-cert",
     [](std::string_view v, Options& o) {
       o.server.tls_cert = std::string(v);
       return Status::ok();
     }},
    {"--tls-key",
     [](std::string_view v, Options& o) {
       o.server.tls_key = std::string(v);
       return Status::ok();
     }},
    {"--tls-client-ca",
     [](std::string_view v, Options& o) {
       o.server.tls_client_ca = std::string(v);
       return Status::ok();
     }},
    {"--max-attempts",
     [](std::string_view v, Options& o) {
       const auto n = whole_number(v, 1, 100);
       if (!n) return Status::invalid("--max-attempts: expected a number 1..100");
       o.monitor.engine.max_attempts = static_cast<int>(*n);
       return Status::ok();
     }},
    {"--agent-timeout",
     [](std::string_view v, Options& o) {
       auto d = parse_duration(v);
       if (!d || d->count() < 1000)
         return Status::invalid("--agent-timeout: expected a duration of 1s or more");
       o.monitor.engine.agent_timeout_ms = d->count();
       return Status::ok();
     }},
    {"--alerts",
     [](std::string_view v, Options& o) {
       o.alerts_file = std::string(v);
       return Status::ok();
     }},
    {"--calendars",
     [](std::string_view v, Options& o) {
       o.calendars_file = std::string(v);
       return Status::ok();
     }},
    {"--day-zone",
     [](std::string_view v, Options& o) {
       if (auto zone = DayZone::named(v); !zone) return zone.status().with_context("--day-zone");
       o.day_zone = std::string(v);
       return Status::ok();
     }},
    {"--agent-rate",
     [](std::string_view v, Options& o) {
       return read_rate("--agent-rate", v, 0, o.agent_rate.per_second);
     }},
    {"--agent-burst",
     [](std::string_view v, Options& o) {
       return read_rate("--agent-burst", v, 1, o.agent_rate.burst);
     }},
    {"--max-connections",
     [](std::string_view v, Options& o) {
       const auto n = whole_number(v, 0, 1'000'000);
       if (!n) return Status::invalid("--max-connections: expected a number 0..1000000");
       o.server.max_connections = static_cast<std::size_t>(*n);
       return Status::ok();
     }},
    {"--max-checks-per-agent",
     [](std::string_view v, Options& o) {
       const auto n = whole_number(v, 0, 100'000'000);
       if (!n) return Status::invalid("--max-checks-per-agent: expected a number 0..100000000");
       o.max_checks_per_agent = static_cast<std::size_t>(*n);
       return Status::ok();
     }},
    {"--max-series-per-agent",
     [](std::string_view v, Options& o) {
       const auto n = whole_number(v, 0, 1'000'000'000);
       if (!n) return Status::invalid("--max-series-per-agent: expected a number 0..1000000000");
       o.max_series_per_agent = static_cast<std::int64_t>(*n);
       return Status::ok();
     }},
    {"--synchronous",
     [](std::string_view v, Options& o) {
       if (v != "full" && v != "normal")
         return Status::invalid("--synchronous: expected full or normal, got \"" + std::string(v) +
                                "\"");
       o.synchronous_full = v == "full";
       return Status::ok();
     }},
    {"--enroll-rate",
     [](std::string_view v, Options& o) {
       return read_rate("--enroll-rate", v, 0, o.enroll_rate.per_second);
     }},
    {"--enroll-burst",
     [](std::string_view v, Options& o) {
       return read_rate("--enroll-burst", v, 1, o.enroll_rate.burst);
     }},
    {"--max-queued-reports",
     [](std::string_view v, Options& o) {
       const auto n = whole_number(v, 0, 100'000'000);
       if (!n) {
         return Status::invalid("--max-queued-reports: expected a number 0..100000000, got \"" +
                                std::string(v) + "\"");
       }
       o.max_queued_reports = static_cast<std::size_t>(*n);
       return Status::ok();
     }},
};

// What the options say together: TLS complete, plain HTTP only where allowed.
Status check_options(const Options& o) {
  if (o.server.tls_cert.empty() != o.server.tls_key.empty())
    return Status::invalid("--tls-cert and --tls-key go together");
  const bool tls = !o.server.tls_cert.empty();
  if (!tls && !o.server.tls_client_ca.empty())
    return Status::invalid("--tls-client-ca needs HTTPS (--tls-cert and --tls-key)");
  if (!tls && !o.allow_plain_http && !is_loopback(o.server.address)) {
    return Status::invalid("refusing plain HTTP on " + o.server.address +
                           ": listen on a loopback address behind a TLS proxy, or pass "
                           "--allow-plain-http");
  }
  return Status::ok();
}

// Exit code 2 for bad usage, as is customary.
Result<Options> parse_args(const std::vector<std::string_view>& args) {
  Options o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "serve" && i == 0) continue;
    if (a == "--allow-plain-http") {
      o.allow_plain_http = true;
      continue;
    }
    if (a == "--verbose") {
      log::set_level(log::Level::kDebug);
      continue;
    }
    const auto option = std::find_if(std::begin(kValueOptions), std::end(kValueOptions),
                                     [&](const ValueOption& v) { return v.name == a; });
    if (option == std::end(kValueOptions))
      return Status::invalid("unknown argument \"" + std::string(a) + "\"");
    if (i + 1 >= args.size()) return Status::invalid(std::string(a) + ": missing value");
    if (Status s = option->apply(args[++i], o); !s) return s;
  }
  if (Status s = check_options(o); !s) return s;
  return o;
}

// The files the options name: the calendars, then the alerts file that names them.
Status read_files(Options& o) {
  // The calendars first: alert rules name them.
  std::error_code ec;
  if (!o.calendars_file.empty() || std::filesystem::exists(kDefaultCalendarsFile, ec)) {
    auto calendars =
        CalendarSet::load(o.calendars_file.empty() ? kDefaultCalendarsFile : o.calendars_file);
    if (!calendars) return calendars.status().with_context("--calendars");
    o.calendars = std::make_shared<const CalendarSet>(std::move(*calendars));
  }
  if (!o.alerts_file.empty()) {
    auto config = load_alert_config(o.alerts_file, o.calendars ? *o.calendars : CalendarSet{});
    if (!config) {
      Status s = config.status();
      // A rule naming a calendar while no calendars file was read: say where it was
      // looked for, as `calendar show` does.
      if (!o.calendars && s.message().find("(calendars: none)") != std::string::npos)
        s = Status(s.code(), s.message() + no_calendars_file_note());
      return s.with_context("--alerts");
    }
    o.alerts = std::move(*config);
  }
  o.monitor.engine.calendars = o.calendars;
  return Status::ok();
}

Status write_port_file(const std::filesystem::path& path, std::uint16_t port) {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << '\n';
    if (!out) return Status::io_error("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::io_error("cannot write " + path.string() + ": " + ec.message());
  return Status::ok();
}

// Blocks the stop signals in this thread and those it starts: it waits for them with
// sigwait.
sigset_t block_stop_signals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return stop_signals;
}

// systemd's watchdog, when the unit has one: the keep-alive proves the writer is alive,
// as it is sent only after a (no-op) commit. Runs until `stopping`.
std::thread start_watchdog(Storage& storage, const std::atomic<bool>& stopping) {
  const auto period = systemd::watchdog_period();
  if (!period) return {};
  return std::thread([&storage, &stopping, period = *period] {
    while (!stopping.load()) {
      std::promise<void> committed;
      auto future = committed.get_future();
      storage.change([] { return Result<StateDelta>(StateDelta{}); },
                     [&committed](Result<StateDelta>) { committed.set_value(); });
      if (future.wait_for(period) == std::future_status::ready) systemd::notify_watchdog();
      else
        log::warning("the database writer did not answer within " + human_duration(period) +
                     ": no watchdog keep-alive");
      future.wait();  // the promise must outlive its callback
      for (auto waited = std::chrono::milliseconds(0); waited < period && !stopping.load();
           waited += std::chrono::milliseconds(100))
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
}

// The soft limit on open files raised to the hard one: each connection is one, and the
// default soft limit (1024) is below what a fleet holds open.
void raise_file_limit(std::size_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    const rlim_t was = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) limit.rlim_cur = was;
  }
  if (wanted > 0 && limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < wanted + 64) {
    log::warning("open files limited to " + std::to_string(limit.rlim_cur) + ", below " +
                 std::to_string(wanted) + " connections (--max-connections): raise LimitNOFILE");
  }
}

int serve(const Options& options) {
  const sigset_t stop_signals = block_stop_signals();
  raise_file_limit(options.server.max_connections);

  Result<std::unique_ptr<Storage>> storage = Status::internal("no storage");
  std::optional<int> lock;
  if (is_postgres_database(options.db)) {
    // Several collectors may share a PostgreSQL database: no file lock.
    storage = open_postgres_storage({.conninfo = options.db,
                                     .read_conninfo = options.read_db,
                                     .max_queued_reports = options.max_queued_reports,
                                     .max_series_per_agent = options.max_series_per_agent,
                                     .lease = options.lease,
                                     .day_zone = options.day_zone});
  } else if (!options.read_db.empty()) {
    storage = Status::invalid("--read-db needs a PostgreSQL --db");
  } else {
    if (Status s = check_database_location(options.db); !s) {
      log::error(s.message());
      return 1;
    }
    auto locked = lock_database(options.db);
    if (!locked) {
      log::error(locked.status().message() + (locked.status().code() == Code::kFailedPrecondition
                                                  ? ": not starting a second one on it"
                                                  : ""));
      return 1;
    }
    lock = *locked;
    storage = open_sqlite_storage({.path = options.db,
                                   .max_queued_reports = options.max_queued_reports,
                                   .synchronous_full = options.synchronous_full,
                                   .max_series_per_agent = options.max_series_per_agent,
                                   .day_zone = options.day_zone});
  }
  struct Unlock {
    std::optional<int> fd;
    ~Unlock() {
      if (fd) ::close(*fd);
    }
  } unlock{lock};
  if (!storage) {
    log::error(storage.status().message());
    return 1;
  }
  auto monitor = Monitor::open(**storage, options.monitor);
  if (!monitor) {
    log::error(monitor.status().message());
    return 1;
  }
  std::unique_ptr<Notifier> notifier;
  if (options.alerts) {
    notifier = std::make_unique<Notifier>(*options.alerts, **storage, (*monitor)->engine());
    (*monitor)->set_alerting(notifier->hooks());
    log::notice("alerts: " + std::to_string(options.alerts->channels.size()) + " channels, " +
                std::to_string(options.alerts->rules.size()) + " rules");
  }
  Api api(**storage, **monitor,
          ApiOptions{.notifier = notifier.get(),
                     .agent_rate = options.agent_rate,
                     .enroll_rate = options.enroll_rate,
                     .max_checks_per_agent = options.max_checks_per_agent});
  ServerOptions server_options = options.server;
  server_options.authorize = [&api](const std::string& authorization) {
    return api.token_valid(authorization);
  };
  auto server = start_server(server_options, [&api](HttpRequest request, Respond respond) {
    api.handle(request, std::move(respond));
  });
  if (!server) {
    log::error(server.status().message());
    return 1;
  }
  const std::uint16_t port = (*server)->port();
  if (!options.port_file.empty()) {
    if (Status s = write_port_file(options.port_file, port); !s) {
      log::error(s.message());
      return 1;
    }
  }
  log::notice(std::string("listening on ") +
              (options.server.tls_cert.empty() ? "http://" : "https://") + options.server.address +
              ":" + std::to_string(port) + ", database " + describe_database(options.db));

  systemd::notify_ready("listening on port " + std::to_string(port));
  std::atomic<bool> stopping{false};
  std::thread watchdog = start_watchdog(**storage, stopping);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  systemd::notify_stopping();
  stopping = true;
  if (watchdog.joinable()) watchdog.join();
  log::notice(std::string("received ") + (signal_number == SIGTERM ? "SIGTERM" : "SIGINT") +
              ", shutting down");
  // Answer what is in flight (ingest replies come after their commit), then flush.
  // Live readers get their (empty) answer at once rather than holding the drain.
  (*monitor)->end_polls();
  (*server)->shutdown(std::chrono::seconds(10));
  (*monitor)->stop();
  if (notifier) {
    (*monitor)->set_alerting({});
    notifier->stop();
  }
  (*storage)->close();
  log::notice("stopped");
  return 0;
}

}  // namespace

int serve_command(const std::vector<std::string_view>& args) {
  auto options = parse_args(args);
  if (!options) {
    std::cerr << "vigie-collector: " << options.status().message() << "\n\n"
              << command_usage(kServeHelp);
    return 2;
  }
  // A file that is wrong: its error alone, not buried under the usage.
  if (Status s = read_files(*options); !s) {
    std::cerr << "vigie-collector: " << s.message() << "\n";
    return 2;
  }
  return serve(*options);
}

}  // namespace vigie::collector
