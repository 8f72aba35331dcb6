#include "console/options.hpp"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

#include "common/duration.hpp"

namespace vigie::console {
namespace {

constexpr std::size_t kMaxToken = 4096;  // bytes
constexpr std::chrono::milliseconds kMinRefresh{200};
constexpr int kMinColumns = 20;
constexpr int kMaxColumns = 1000;

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string_view trim(std::string_view text) {
  constexpr std::string_view kBlank = " \t\r\n";
  const std::size_t first = text.find_first_not_of(kBlank);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kBlank) - first + 1);
}

Status check_url(std::string_view url, std::string_view origin) {
  for (const std::string_view scheme : {"http://", "https://"}) {
    if (url.starts_with(scheme) && url.size() > scheme.size()) return Status::ok();
  }
  return Status::invalid(std::string(origin) + " " + quoted(url) +
                         ": expected http://HOST[:PORT] or https://HOST[:PORT]");
}

// A token goes into an HTTP header: visible ASCII only, so it cannot add a header.
Status check_token(std::string_view token, std::string_view origin) {
  if (token.empty()) return Status::invalid(std::string(origin) + ": the token is empty");
  for (const char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return Status::invalid(std::string(origin) +
                             ": the token may hold visible ASCII characters only");
    }
  }
  return Status::ok();
}

constexpr Command kCommands[] = {
    {"problems", "", "checks whose hard state is not OK, most severe then oldest first"},
    {"sites", "", "one line a site: worst state, state per family, last report"},
    {"site", "NAME", "the site's checks, agents and downtimes"},
    {"check", "AGENT/CHECK", "one check with its history, e.g. mairie-01/backup/restic:/srv"},
};

const Command* find_command(std::string_view name) {
  for (const Command& command : kCommands) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

// "problems, sites, site NAME, check AGENT/CHECK"
std::string command_list(std::string_view separator) {
  std::string out;
  for (const Command& command : kCommands) {
    if (!out.empty()) out += separator;
    out += command.name;
    if (!command.argument.empty()) out += " " + std::string(command.argument);
  }
  return out;
}

}  // namespace

std::span<const Command> commands() { return kCommands; }

Result<Options> parse_options(std::span<const std::string_view> args, const GetEnv& env) {
  Options options;
  std::string url_origin = "the default URL";
  if (const char* url = env("VIGIE_URL"); url != nullptr && url[0] != '\0') {
    options.url = url;
    url_origin = "VIGIE_URL";
  }
  if (const char* token = env("VIGIE_TOKEN"); token != nullptr) options.token = trim(token);
  if (const char* file = env("VIGIE_TOKEN_FILE"); file != nullptr) options.token_file = file;
  if (const char* file = env("VIGIE_CA_FILE"); file != nullptr) options.ca_file = file;
  if (const char* text = env("COLUMNS"); text != nullptr) {
    int columns = 0;
    const char* end = text + std::strlen(text);
    const auto [ptr, ec] = std::from_chars(text, end, columns);
    if (ec == std::errc() && ptr == end && columns >= kMinColumns && columns <= kMaxColumns) {
      options.columns = columns;
    }
  }

  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view name = args[i];
    std::optional<std::string_view> inline_value;
    if (const std::size_t eq = name.find('='); name.starts_with("--") && eq != name.npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const auto flag = [&](bool& target) -> Status {
      if (inline_value) return Status::invalid(std::string(name) + " takes no value");
      target = true;
      return Status::ok();
    };
    const auto value = [&](std::string& target) -> Status {
      if (inline_value) {
        target = *inline_value;
      } else if (i + 1 < args.size()) {
        target = args[++i];
      } else {
        return Status::invalid(std::string(name) + " needs a value");
      }
      if (target.empty()) return Status::invalid(std::string(name) + " needs a value");
      return Status::ok();
    };

    Status status;
    std::string refresh;
    if (name == "--help" || name == "-h") {
      options.help = true;
      return options;
    } else if (name == "--once") {
      status = flag(options.once);
    } else if (name == "--json") {
      status = flag(options.json);
    } else if (name == "--url") {
      status = value(options.url);
      url_origin = "--url";
    } else if (name == "--token-file") {
      status = value(options.token_file);
    } else if (name == "--ca-file") {
      status = value(options.ca_file);
    } else if (name == "--refresh") {
      status = value(refresh);
      if (status.is_ok()) {
        auto parsed = parse_duration(refresh);
        if (!parsed) return parsed.status().with_context("--refresh");
        if (*parsed < kMinRefresh) {
          return Status::invalid("--refresh " + quoted(refresh) + ": at least " +
                                 format_duration(kMinRefresh));
        }
        options.refresh = *parsed;
      }
    } else if (name.starts_with("-")) {
      return Status::invalid("unknown option " + quoted(name));
    } else if (const Command* command = find_command(name);
               options.command.empty() && command != nullptr) {
      options.command = name;
      if (!command->argument.empty()) {
        if (i + 1 >= args.size() || args[i + 1].starts_with("-")) {
          return Status::invalid(
              std::string(name) + " needs " +
              (name == "site" ? "a site's name" : std::string(command->argument)));
        }
        options.argument = args[++i];
        if (name == "check" && options.argument.find('/') == std::string::npos) {
          return Status::invalid("check " + quoted(options.argument) +
                                 ": expected AGENT/CHECK, e.g. mairie-01/backup/restic:/srv");
        }
      }
    } else {
      return Status::invalid("unexpected argument " + quoted(name) +
                             " (commands: " + command_list(", ") + ")");
    }
    if (!status.is_ok()) return status;
  }

  if (options.json && !options.once && options.command.empty()) {
    return Status::invalid("--json goes with --once or a command");
  }
  if (options.once && !options.command.empty()) {
    return Status::invalid("--once and a command do not go together");
  }
  if (Status s = check_url(options.url, url_origin); !s.is_ok()) return s;
  if (!options.token_file.empty()) {
    options.token.clear();  // the file wins over the environment
  } else if (!options.token.empty()) {
    if (Status s = check_token(options.token, "VIGIE_TOKEN"); !s.is_ok()) return s;
  }
  return options;
}

std::string usage() {
  std::string text =
      "usage: vigie-console [options] [" + command_list(" | ") + "]\n\n" +
      R"(Without a command: the technicians' console, live. With one: prints it once as text
(or JSON with --json) and exits, for scripts and tickets.

)";
  for (const Command& command : kCommands) {
    std::string name(command.name);
    if (!command.argument.empty()) name += " " + std::string(command.argument);
    name.resize(std::max<std::size_t>(name.size() + 2, 20), ' ');
    text += "  " + name + std::string(command.summary) + "\n";
  }
  return text + R"(
options:
  --url URL           the collector (default: $VIGIE_URL, else http://127.0.0.1:8080)
  --token-file FILE   read the bearer token from FILE (default: $VIGIE_TOKEN_FILE,
                      else the token in $VIGIE_TOKEN)
  --ca-file FILE      CA certificates that sign an https collector's certificate
                      (default: $VIGIE_CA_FILE, else the system's)
  --refresh DURATION  ask the collector at least this often: 500ms, 2s, 1m (default: 5s;
                      changes arrive at once through the events long-poll anyway)
  --once              print every check once as a plain table and exit ($COLUMNS
                      wide, else 120)
  --json              with --once or a command: print JSON instead
  -h, --help          show this help and exit

keys: Up/Down j/k PgUp/PgDn Home/End move, Enter open, Esc back, Tab next view,
/ search, f family, s sort, Space mark, a acknowledge, A acknowledge marked (or all
shown), u take an acknowledgement back, d downtime, r refresh, ? help, q quit

exit status: 0 success, 1 the collector cannot be reached or refused the request,
2 bad usage
)";
}

Result<std::string> read_token_file(const std::string& path) {
  const std::string where = "token file " + quoted(path);
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                             &std::fclose);
  if (!file) return Status::io_error("cannot read the " + where + ": " + std::strerror(errno));
  std::string content(kMaxToken + 1, '\0');
  const std::size_t n = std::fread(content.data(), 1, content.size(), file.get());
  if (std::ferror(file.get()) != 0) {
    return Status::io_error("cannot read the " + where + ": " + std::strerror(errno));
  }
  if (n > kMaxToken) {
    return Status::too_large("the " + where + " is larger than " + std::to_string(kMaxToken) +
                             " bytes");
  }
  content.resize(n);
  std::string token(trim(content));
  if (Status s = check_token(token, where); !s.is_ok()) return s;
  return token;
}

}  // namespace vigie::console
