#include "console/console.hpp"

#include <csignal>
#include <exception>
#include <iostream>
#include <memory>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/json_parse.hpp"
#include "common/time.hpp"
#include "console/api_client.hpp"
#include "console/curses_screen.hpp"
#include "console/language.hpp"
#include "console/live.hpp"
#include "console/memory_canvas.hpp"
#include "console/model.hpp"
#include "console/options.hpp"
#include "console/table.hpp"
#include "console/ui.hpp"

namespace vigie::console {
namespace {

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
  const auto body = client.get(checks_path());
  if (!body) {
    print_error(body.status().message());
    return kExitFailure;
  }
  const auto reply = parse_checks_reply(*body);
  if (!reply) {
    print_error(reply.status().with_context(tr("the collector's reply is malformed")).message());
    return kExitFailure;
  }
  if (options.json) {
    std::cout << rows_to_json(reply->rows) << '\n';
  } else {
    std::cout << format_plain_table(reply->rows, reply->now_ms, options.columns);
  }
  if (!std::cout.flush()) {
    print_error(tr("cannot write to standard output"));
    return kExitFailure;
  }
  return kExitSuccess;
}

// ApiClient as the live threads' Transport.
class ClientTransport final : public Transport {
 public:
  explicit ClientTransport(ClientOptions options) : client_(std::move(options)) {}
  Result<std::string> call(std::string_view method, std::string_view path,
                           std::string_view body) override {
    return client_.call(method, path, body);
  }
  void cancel() override { client_.cancel(); }

 private:
  ApiClient client_;
};

// The path of the query API that a command prints with --json, and the member of the
// reply that holds what it is about ("" for the whole reply).
std::pair<std::string, std::string> json_source(const Options& options) {
  if (options.command == "problems") return {problems_path(), "checks"};
  if (options.command == "sites") return {sites_path(), "sites"};
  if (options.command == "site") return {site_path(options.argument), ""};
  const std::size_t slash = options.argument.find('/');
  return {check_path(options.argument.substr(0, slash), options.argument.substr(slash + 1)), ""};
}

int run_command(const ClientOptions& client_options, const Options& options) {
  ClientTransport transport(client_options);
  if (options.json) {
    const auto [path, member] = json_source(options);
    const auto body = transport.call("GET", path, {});
    if (!body) {
      print_error(body.status().message());
      return kExitFailure;
    }
    auto document = parse_json_or_discarded(*body);
    if (document.is_discarded() || !document.is_object() ||
        (!member.empty() && !document.contains(member))) {
      print_error(tr("the collector's reply is malformed"));
      return kExitFailure;
    }
    const nlohmann::json& shown = member.empty() ? document : document[member];
    std::cout << shown.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    return std::cout.flush() ? kExitSuccess : kExitFailure;
  }

  Want want;
  if (options.command == "sites") want.view = View::kSites;
  if (options.command == "site") want = {.view = View::kSite, .site = options.argument};
  if (options.command == "check") {
    const std::size_t slash = options.argument.find('/');
    want = {.view = View::kCheck,
            .agent = options.argument.substr(0, slash),
            .check = options.argument.substr(slash + 1)};
  }
  const std::int64_t now = wall_ms();
  const World world = fetch_world(transport, World{}, want, now);
  if (!world.error.is_ok()) {
    print_error(world.error.message());
    return kExitFailure;
  }
  // The view as the console draws it, on a canvas tall enough for every line, printed
  // without the header and the footer.
  Ui printer(false);
  printer.show(want);
  const std::size_t lines = std::max<std::size_t>(printer.items(world).size(), 200) + 4;
  MemoryCanvas canvas(options.columns, static_cast<int>(lines));
  printer.render(world, {}, now, canvas);
  int last = canvas.height() - 2;
  while (last > 1 && canvas.line(last).empty()) --last;
  for (int y = 1; y <= last; ++y) std::cout << canvas.line(y) << '\n';
  return std::cout.flush() ? kExitSuccess : kExitFailure;
}

int run_interactive(const ClientOptions& client_options, const Options& options) {
  // Before the screen opens: ncurses installs its own handlers only where none is set.
  std::signal(SIGINT, on_quit_signal);
  std::signal(SIGTERM, on_quit_signal);
  auto opened = open_screen({});
  if (!opened) {
    print_error(opened.status().message());
    return kExitUsage;
  }
  std::unique_ptr<Screen> screen = std::move(opened).value();
  Ui ui(screen->utf8());
  ClientOptions poll_options = client_options;
  // The long-poll waits up to 25 s for an event: its requests may take longer.
  poll_options.timeout = std::chrono::seconds(40);
  LiveOptions live_options;
  live_options.refresh = options.refresh;
  Live live(std::make_unique<ClientTransport>(client_options),
            std::make_unique<ClientTransport>(poll_options),
            std::make_unique<ClientTransport>(client_options), ui.want(), live_options);

  std::shared_ptr<const World> shown = live.world();
  bool dirty = true;
  std::int64_t drawn_at = 0;
  for (;;) {
    if (auto latest = live.world(); latest != shown) {
      ui.follow(*shown, *latest);
      shown = std::move(latest);
      dirty = true;
    }
    for (const Live::Message& m : live.take_messages()) {
      ui.message(m.text, m.failed, wall_ms());
      dirty = true;
    }
    const std::int64_t now = wall_ms();
    if (dirty || now - drawn_at >= kTickMs) {
      screen->begin_frame();
      ui.render(*shown, {live.events_live(), live.pending()}, now, *screen);
      screen->present();
      drawn_at = now;
      dirty = false;
    }
    const std::optional<int> key = screen->read_key();
    Reaction reaction = Reaction::kNone;
    if (g_quit_signal != 0) {
      reaction = Reaction::kQuit;
    } else if (key) {
      std::vector<Request> requests;
      reaction = ui.on_key(*key, *shown, screen->height(), wall_ms(), requests);
      for (Request& r : requests) live.send(std::move(r));
      live.set_want(ui.want());
    }
    switch (reaction) {
      case Reaction::kNone: break;
      case Reaction::kRedraw: dirty = true; break;
      case Reaction::kRefetch:
        live.refresh();
        dirty = true;
        break;
      case Reaction::kQuit:
        screen.reset();  // give the terminal back first; ~Live cancels and joins
        return kExitSuccess;
    }
  }
}

}  // namespace

int run(int argc, char** argv) {
  try {
    const std::vector<std::string_view> args(argv + (argc > 0 ? 1 : 0), argv + argc);
    const GetEnv env = [](const char* name) -> const char* { return std::getenv(name); };
    // The language first: the arguments' errors are written in it. Without its
    // catalogue French falls back to English, unless --lang asked for it.
    bool forced = false;
    if (Status s = use_language(choose_language(args, env, &forced)); !s.is_ok() && forced) {
      print_error(s.message());
      return kExitUsage;
    }
    auto options = parse_options(args, env);
    if (!options) {
      print_error(format("{error} (see --help)", {{"error", options.status().message()}}));
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
    if (!options->command.empty()) return run_command(client_options, *options);
    if (options->once) {
      ApiClient client(std::move(client_options));
      return run_once(client, *options);
    }
    return run_interactive(client_options, *options);
  } catch (const std::exception& e) {
    print_error(format("unexpected error: {what}", {{"what", e.what()}}));
    return kExitFailure;
  }
}

}  // namespace vigie::console
