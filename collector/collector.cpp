#include "collector/collector.hpp"

#include <signal.h>

#include <charconv>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "collector/api.hpp"
#include "collector/server.hpp"
#include "collector/storage.hpp"
#include "common/duration.hpp"
#include "common/log.hpp"

namespace vigie::collector {
namespace {

constexpr const char* kUsage = R"(usage: vigie-collector [serve] [options]

Receives check results from vigie agents, stores them and serves the query API.

options:
  --listen ADDR:PORT    address to listen on (default 127.0.0.1:8080; [::1]:8080 for IPv6;
                        port 0 picks a free port)
  --db PATH             SQLite database (default /var/lib/vigie/collector.db)
  --tls-cert PEM        serve HTTPS with this certificate chain (needs --tls-key)
  --tls-key PEM         the certificate's private key
  --allow-plain-http    allow plain HTTP on a non-loopback address (not recommended)
  --port-file PATH      write the bound port to PATH once listening
  --read-timeout DUR    time allowed to receive one request (default 30s)
  --threads N           HTTP worker threads (default 2)
  --verbose             log debug messages
  --version, --help
)";

struct Options {
  ServerOptions server;
  std::filesystem::path db = "/var/lib/vigie/collector.db";
  std::filesystem::path port_file;
  bool allow_plain_http = false;
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
               a == "--threads" || a == "--tls-cert" || a == "--tls-key") {
      auto v = value();
      if (!v) return v.status();
      if (a == "--listen") {
        if (Status s = parse_listen(*v, o.server); !s) return s;
      } else if (a == "--db") {
        o.db = std::string(*v);
      } else if (a == "--port-file") {
        o.port_file = std::string(*v);
      } else if (a == "--tls-cert") {
        o.server.tls_cert = std::string(*v);
      } else if (a == "--tls-key") {
        o.server.tls_key = std::string(*v);
      } else if (a == "--read-timeout") {
        auto d = parse_duration(*v);
        if (!d) return d.status().with_context("--read-timeout");
        o.server.read_timeout = *d;
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

  auto storage = open_sqlite_storage({.path = options.db});
  if (!storage) {
    log::error(storage.status().message());
    return 1;
  }
  Api api(**storage, ApiOptions{});
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
              (options.server.tls_cert.empty() ? "http://" : "https://") +
              options.server.address + ":" + std::to_string(port) +
              ", database " + options.db.string());

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  log::notice(std::string("received ") + (signal_number == SIGTERM ? "SIGTERM" : "SIGINT") +
              ", shutting down");
  // Answer what is in flight (ingest replies come after their commit), then flush.
  (*server)->shutdown(std::chrono::seconds(10));
  (*storage)->close();
  log::notice("stopped");
  return 0;
}

}  // namespace

int run(int argc, char** argv) {
  try {
    std::vector<std::string_view> args(argv + 1, argv + argc);
    for (const auto a : args) {
      if (a == "--help" || a == "-h") {
        std::cout << kUsage;
        return 0;
      }
      if (a == "--version") {
        std::cout << "vigie-collector " VIGIE_VERSION "\n";
        return 0;
      }
    }
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
