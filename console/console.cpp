#include "console/console.hpp"

#include <csignal>
#include <exception>
#include <iostream>
#include <memory>
#include <string_view>
#include <vector>

#include "common/time.hpp"
#include "console/api_client.hpp"
#include "console/curses_screen.hpp"
#include "console/fetcher.hpp"
#include "console/keys.hpp"
#include "console/list_view.hpp"
#include "console/model.hpp"
#include "console/options.hpp"
#include "console/table.hpp"

namespace vigie::console {
namespace {

constexpr std::string_view kChecksPath = "/api/v1/checks";
constexpr std::int64_t kTickMs = 1000;  // redraw at least this often: ages keep growing

constexpr int kExitSuccess = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Set by SIGINT and SIGTERM: the interactive loop then quits as if 'q' had been pressed,
// so that the terminal is given back and a fetch in progress is cancelled.
volatile std::sig_atomic_t g_quit_signal = 0;

extern "C" void on_quit_signal(int) { g_quit_signal = 1; }

void print_error(std::string_view message) { std::cerr << "vigie-console: " << message << '\n'; }

int run_once(ApiClient& client, const Options& options) {
  const auto body = client.get(kChecksPath);
  if (!body) {
    print_error(body.status().message());
    return kExitFailure;
  }
  const auto reply = parse_checks_reply(*body);
  if (!reply) {
    print_error(reply.status().with_context("the collector's reply is malformed").message());
    return kExitFailure;
  }
  if (options.json) {
    std::cout << rows_to_json(reply->rows) << '\n';
  } else {
    std::cout << format_plain_table(reply->rows, reply->now_ms, options.columns);
  }
  if (!std::cout.flush()) {
    print_error("cannot write to standard output");
    return kExitFailure;
  }
  return kExitSuccess;
}

int run_interactive(ApiClient& client, const Options& options) {
  // Before the screen opens: ncurses installs its own handlers only where none is set.
  std::signal(SIGINT, on_quit_signal);
  std::signal(SIGTERM, on_quit_signal);
  auto opened = open_screen({});
  if (!opened) {
    print_error(opened.status().message());
    return kExitUsage;
  }
  std::unique_ptr<Screen> screen = std::move(opened).value();
  Fetcher fetcher([&client] { return client.get(kChecksPath); }, options.refresh);

  std::shared_ptr<const Snapshot> shown = fetcher.snapshot();
  ListCursor cursor;
  bool dirty = true;
  std::int64_t drawn_at = 0;
  for (;;) {
    if (auto latest = fetcher.snapshot(); latest != shown) {
      cursor.selected = follow_selection(shown->rows, latest->rows, cursor.selected);
      shown = std::move(latest);
      dirty = true;
    }
    const std::int64_t now = wall_ms();
    const std::size_t page = list_page(screen->height());
    if (dirty || now - drawn_at >= kTickMs) {
      cursor.clamp(shown->rows.size(), page);
      screen->begin_frame();
      render_check_list(*shown, cursor, now, *screen);
      screen->present();
      drawn_at = now;
      dirty = false;
    }
    const std::optional<int> key = screen->read_key();
    Action action = Action::kNone;
    if (g_quit_signal != 0) {
      action = Action::kQuit;
    } else if (key) {
      KeyContext context{cursor, shown->rows.size(), page};
      action = handle_key(*key, context);
    }
    switch (action) {
      case Action::kNone: break;
      case Action::kRedraw: dirty = true; break;
      case Action::kRefetch: fetcher.refresh(); break;
      case Action::kQuit:
        screen.reset();   // give the terminal back first,
        client.cancel();  // then end a fetch in progress, which ~Fetcher waits for
        return kExitSuccess;
    }
  }
}

}  // namespace

int run(int argc, char** argv) {
  try {
    const std::vector<std::string_view> args(argv + (argc > 0 ? 1 : 0), argv + argc);
    auto options = parse_options(args, [](const char* name) { return std::getenv(name); });
    if (!options) {
      print_error(options.status().message() + " (see --help)");
      return kExitUsage;
    }
    if (options->help) {
      std::cout << usage();
      return kExitSuccess;
    }
    ClientOptions client_options;
    client_options.url = options->url;
    client_options.ca_file = options->ca_file;
    client_options.token = options->token;
    if (!options->token_file.empty()) {
      auto token = read_token_file(options->token_file);
      if (!token) {
        print_error(token.status().message());
        return kExitUsage;
      }
      client_options.token = std::move(token).value();
    }
    ApiClient client(std::move(client_options));
    return options->once ? run_once(client, *options) : run_interactive(client, *options);
  } catch (const std::exception& e) {
    print_error(std::string("unexpected error: ") + e.what());
    return kExitFailure;
  }
}

}  // namespace vigie::console
