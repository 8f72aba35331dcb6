#include "collector/collector.hpp"

#include <signal.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "collector/api.hpp"
#include "collector/monitor.hpp"
#include "collector/notifier.hpp"
#include "collector/report/command.hpp"
#include "collector/server.hpp"
#include "collector/storage.hpp"
#include "common/duration.hpp"
#include "common/log.hpp"
#include "common/systemd.hpp"
#include "common/time.hpp"

namespace vigie::collector {
namespace {

constexpr const char* kUsage = R"(usage: vigie-collector [serve] [options]
       vigie-collector token create --role viewer|operator|admin [--label TEXT] [--ttl DUR]
       vigie-collector token list
       vigie-collector token revoke ID
       vigie-collector enroll-token create --site SITE [--ttl DUR] [--label TEXT] [--count N]
       vigie-collector report backup --out FILE [--period 7d] [--format html|csv|json|md] ...
         (vigie-collector report --help for its options)
  (every command takes --db PATH)

Receives check results from vigie agents, stores them and serves the query API.
Tokens: a technician's token carries a role (a viewer reads, an operator also
acknowledges, an admin also manages tokens); an agent gets its own token by exchanging
a one-time enrollment token (default lifetime 24h) at POST /api/v1/enroll. A secret is
printed once, when created; the database keeps only its hash.

serve options:
  --listen ADDR:PORT    address to listen on (default 127.0.0.1:8080; [::1]:8080 for IPv6;
                        port 0 picks a free port)
  --db PATH             SQLite database (default /var/lib/vigie/collector.db)
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
  --max-queued-reports N
                        reports waiting for the database past which new ones are answered
                        503 with Retry-After (default 20000; 0: no bound)
  --alerts FILE         send alert notifications as FILE says (webhooks, e-mail, routing;
                        see config/alerts.example.json); a bad file stops the start
  --verbose             log debug messages
  --version, --help
)";

struct Options {
  ServerOptions server;
  std::filesystem::path db = "/var/lib/vigie/collector.db";
  std::filesystem::path port_file;
  bool allow_plain_http = false;
  MonitorOptions monitor;
  RateLimit agent_rate;
  std::size_t max_queued_reports = SqliteOptions{}.max_queued_reports;
  std::optional<AlertConfig> alerts;
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

// Exit code 2 for bad usage, as is customary.
Result<Options> parse_args(const std::vector<std::string_view>& args) {
  Options o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view a = args[i];
    auto value = [&]() -> Result<std::string_view> {
      if (i + 1 >= args.size()) return Status::invalid(std::string(a) + ": missing value");
      return args[++i];
    };
    if (a == "serve" && i == 0) continue;
    if (a == "--allow-plain-http") {
      o.allow_plain_http = true;
    } else if (a == "--verbose") {
      log::set_level(log::Level::kDebug);
    } else if (a == "--listen" || a == "--db" || a == "--port-file" || a == "--read-timeout" ||
               a == "--threads" || a == "--tls-cert" || a == "--tls-key" ||
               a == "--tls-client-ca" || a == "--max-attempts" || a == "--agent-timeout" ||
               a == "--alerts" || a == "--agent-rate" || a == "--agent-burst" ||
               a == "--max-queued-reports") {
      auto v = value();
      if (!v) return v.status();
      if (a == "--listen") {
        if (Status s = parse_listen(*v, o.server); !s) return s;
      } else if (a == "--db") {
        o.db = std::string(*v);
      } else if (a == "--alerts") {
        auto config = load_alert_config(std::string(*v));
        if (!config) return config.status().with_context("--alerts");
        o.alerts = std::move(*config);
      } else if (a == "--port-file") {
        o.port_file = std::string(*v);
      } else if (a == "--tls-cert") {
        o.server.tls_cert = std::string(*v);
      } else if (a == "--tls-key") {
        o.server.tls_key = std::string(*v);
      } else if (a == "--tls-client-ca") {
        o.server.tls_client_ca = std::string(*v);
      } else if (a == "--read-timeout") {
        auto d = parse_duration(*v);
        if (!d) return d.status().with_context("--read-timeout");
        o.server.read_timeout = *d;
      } else if (a == "--agent-timeout") {
        auto d = parse_duration(*v);
        if (!d || d->count() < 1000)
          return Status::invalid("--agent-timeout: expected a duration of 1s or more");
        o.monitor.engine.agent_timeout_ms = d->count();
      } else if (a == "--agent-rate" || a == "--agent-burst") {
        double x = 0;
        auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
        const double low = a == "--agent-rate" ? 0 : 1;
        if (ec != std::errc() || end != v->data() + v->size() || !(x >= low) || x > 1e6)
          return Status::invalid(std::string(a) + ": expected a number " +
                                 (a == "--agent-rate" ? "0" : "1") + "..1000000, got \"" +
                                 std::string(*v) + "\"");
        (a == "--agent-rate" ? o.agent_rate.per_second : o.agent_rate.burst) = x;
      } else if (a == "--max-queued-reports") {
        long n = 0;
        auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
        if (ec != std::errc() || end != v->data() + v->size() || n < 0 || n > 100'000'000)
          return Status::invalid("--max-queued-reports: expected a number 0..100000000, got \"" +
                                 std::string(*v) + "\"");
        o.max_queued_reports = static_cast<std::size_t>(n);
      } else if (a == "--max-attempts") {
        int n = 0;
        auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
        if (ec != std::errc() || end != v->data() + v->size() || n < 1 || n > 100)
          return Status::invalid("--max-attempts: expected a number 1..100");
        o.monitor.engine.max_attempts = n;
      } else {
        int n = 0;
        auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
        if (ec != std::errc() || end != v->data() + v->size() || n < 1 || n > 64)
          return Status::invalid("--threads: expected a number 1..64");
        o.server.worker_threads = n;
      }
    } else {
      return Status::invalid("unknown argument \"" + std::string(a) + "\"");
    }
  }
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
  return o;
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

int serve(const Options& options) {
  // Block the stop signals in every thread; this one waits for them with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto storage =
      open_sqlite_storage({.path = options.db, .max_queued_reports = options.max_queued_reports});
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
    (*monitor)->set_listener(
        [n = notifier.get()](const std::vector<Event>& events) { n->post(events); });
    log::notice("alerts: " + std::to_string(options.alerts->channels.size()) + " channels, " +
                std::to_string(options.alerts->rules.size()) + " rules");
  }
  Api api(**storage, **monitor,
          ApiOptions{.notifier = notifier.get(), .agent_rate = options.agent_rate});
  auto server = start_server(options.server, [&api](HttpRequest request, Respond respond) {
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
              ":" + std::to_string(port) + ", database " + options.db.string());

  systemd::notify_ready("listening on port " + std::to_string(port));
  // The watchdog keep-alive proves the writer is alive: it waits for a (no-op) commit.
  std::atomic<bool> stopping{false};
  std::thread watchdog;
  if (const auto period = systemd::watchdog_period()) {
    watchdog = std::thread([&, period = *period] {
      while (!stopping.load()) {
        std::promise<void> committed;
        auto future = committed.get_future();
        (*storage)->change([] { return Result<StateDelta>(StateDelta{}); },
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
    (*monitor)->set_listener({});
    notifier->stop();
  }
  (*storage)->close();
  log::notice("stopped");
  return 0;
}

// Options of the token commands.
struct TokenArgs {
  std::filesystem::path db = "/var/lib/vigie/collector.db";
  std::string role;
  std::string site;
  std::string label;
  std::chrono::milliseconds ttl{0};
  std::int64_t id = 0;
  std::int64_t count = 1;
};

Result<TokenArgs> parse_token_args(const std::vector<std::string_view>& args, std::size_t first) {
  TokenArgs t;
  for (std::size_t i = first; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "--db" || a == "--role" || a == "--site" || a == "--label" || a == "--ttl" ||
        a == "--count") {
      if (i + 1 >= args.size()) return Status::invalid(std::string(a) + ": missing value");
      const std::string v(args[++i]);
      if (a == "--db") t.db = v;
      if (a == "--role") t.role = v;
      if (a == "--site") t.site = v;
      if (a == "--label") t.label = v;
      if (a == "--count") {
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), t.count);
        if (ec != std::errc() || end != v.data() + v.size() || t.count < 1 || t.count > 100000)
          return Status::invalid("--count: expected a number 1..100000");
      }
      if (a == "--ttl") {
        auto d = parse_duration(v);
        if (!d) return d.status().with_context("--ttl");
        t.ttl = *d;
      }
    } else if (t.id == 0 && !a.empty() && a[0] != '-') {
      auto [end, ec] = std::from_chars(a.data(), a.data() + a.size(), t.id);
      if (ec != std::errc() || end != a.data() + a.size() || t.id <= 0)
        return Status::invalid("\"" + std::string(a) + "\": expected a token id (see token list)");
    } else {
      return Status::invalid("unknown argument \"" + std::string(a) + "\"");
    }
  }
  return t;
}

std::string format_time(std::int64_t ms) {
  if (ms == 0) return "-";
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

// vigie-collector token ... / enroll-token ...; returns the exit code.
int token_command(const std::vector<std::string_view>& args) {
  const bool enroll = args[0] == "enroll-token";
  if (args.size() < 2) {
    std::cerr << "vigie-collector: " << args[0] << ": missing sub-command\n\n" << kUsage;
    return 2;
  }
  const std::string_view verb = args[1];
  auto parsed = parse_token_args(args, 2);
  if (!parsed) {
    std::cerr << "vigie-collector: " << parsed.status().message() << "\n";
    return 2;
  }
  const TokenArgs& t = *parsed;
  auto storage = open_sqlite_storage({.path = t.db});
  if (!storage) {
    std::cerr << "vigie-collector: " << storage.status().message() << "\n";
    return 1;
  }
  const std::int64_t now = wall_ms();

  if (verb == "create") {
    TokenRecord record;
    record.label = t.label;
    record.created_ms = now;
    if (enroll) {
      if (t.site.empty()) {
        std::cerr << "vigie-collector: enroll-token create: --site is required\n";
        return 2;
      }
      record.role = Role::kEnroll;
      record.site = t.site;
      // An enrollment token that never expires is a standing invitation: default 24h.
      record.expires_ms = now + (t.ttl.count() > 0 ? t.ttl.count() : 24 * 3'600'000);
    } else {
      const auto role = role_from_name(t.role);
      if (!role || *role == Role::kAgent || *role == Role::kEnroll) {
        std::cerr << "vigie-collector: token create: --role must be viewer, operator or admin"
                     " (agents get their token by enrolling)\n";
        return 2;
      }
      record.role = *role;
      record.expires_ms = t.ttl.count() > 0 ? now + t.ttl.count() : 0;
    }
    if (!enroll && t.count != 1) {
      std::cerr << "vigie-collector: token create: --count is for enrollment tokens\n";
      return 2;
    }
    // One per line: `--count` prepares a whole rollout of sites at once.
    Result<std::int64_t> id = Status::internal("no token created");
    for (std::int64_t i = 0; i < t.count; ++i) {
      const std::string secret = new_secret(record.role);
      id = (*storage)->add_token(record, hash_secret(secret));
      if (!id) {
        std::cerr << "vigie-collector: " << id.status().message() << "\n";
        return 1;
      }
      std::cout << secret << "\n";
    }
    const std::string what = enroll ? "enrollment token" : "token";
    if (t.count > 1) {
      std::cerr << t.count << " " << what << "s created, ids " << (*id - t.count + 1) << " to "
                << *id;
    } else {
      std::cerr << what << " " << *id << " created";
    }
    std::cerr << " ("
              << (enroll ? "site " + record.site : "role " + std::string(role_name(record.role)))
              << (record.expires_ms ? ", expires " + format_time(record.expires_ms) + " UTC" : "")
              << "); shown only now\n";
    return 0;
  }
  if (verb == "list" && !enroll) {
    auto tokens = (*storage)->list_tokens();
    if (!tokens) {
      std::cerr << "vigie-collector: " << tokens.status().message() << "\n";
      return 1;
    }
    std::printf("%-5s %-8s %-20s %-20s %-16s %-16s %-8s %s\n", "ID", "ROLE", "AGENT", "SITE",
                "CREATED", "EXPIRES", "STATE", "LABEL");
    for (const auto& r : *tokens) {
      const char* state = r.revoked_ms                            ? "revoked"
                          : r.used_ms                             ? "used"
                          : (r.expires_ms && r.expires_ms <= now) ? "expired"
                                                                  : "valid";
      std::printf("%-5lld %-8s %-20s %-20s %-16s %-16s %-8s %s\n", static_cast<long long>(r.id),
                  std::string(role_name(r.role)).c_str(), r.agent.empty() ? "-" : r.agent.c_str(),
                  r.site.empty() ? "-" : r.site.c_str(), format_time(r.created_ms).c_str(),
                  format_time(r.expires_ms).c_str(), state, r.label.c_str());
    }
    return 0;
  }
  if (verb == "revoke" && !enroll) {
    if (t.id == 0) {
      std::cerr << "vigie-collector: token revoke: which token? (give its ID, see token list)\n";
      return 2;
    }
    if (Status s = (*storage)->revoke_token(t.id, now); !s) {
      std::cerr << "vigie-collector: " << s.message() << "\n";
      return 1;
    }
    std::cerr << "token " << t.id << " revoked\n";
    return 0;
  }
  std::cerr << "vigie-collector: " << args[0] << ": unknown sub-command \"" << verb << "\"\n\n"
            << kUsage;
  return 2;
}

}  // namespace

int run(int argc, char** argv) {
  try {
    std::vector<std::string_view> args(argv + 1, argv + argc);
    const bool report = !args.empty() && args[0] == "report";
    for (const auto a : args) {
      if (a == "--help" || a == "-h") {
        std::cout << (report ? kReportUsage : kUsage);
        return 0;
      }
      if (a == "--version") {
        std::cout << "vigie-collector " VIGIE_VERSION "\n";
        return 0;
      }
    }
    if (!args.empty() && (args[0] == "token" || args[0] == "enroll-token"))
      return token_command(args);
    if (report) return report_command(args);
    auto options = parse_args(args);
    if (!options) {
      std::cerr << "vigie-collector: " << options.status().message() << "\n\n" << kUsage;
      return 2;
    }
    return serve(*options);
  } catch (const std::exception& e) {
    log::error(std::string("fatal: ") + e.what());
    return 1;
  }
}

}  // namespace vigie::collector
