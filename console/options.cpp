#include "console/options.hpp"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

#include "common/duration.hpp"
#include "console/language.hpp"
#include "console/text.hpp"

namespace vigie::console {
namespace {

constexpr std::size_t kMaxToken = 4096;  // bytes
constexpr std::chrono::milliseconds kMinRefresh{200};
constexpr int kMinColumns = 20;
constexpr int kMaxColumns = 1000;

std::string in_quotes(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string_view trim_blank(std::string_view text) {
  constexpr std::string_view kBlank = " \t\r\n";
  const std::size_t first = text.find_first_not_of(kBlank);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kBlank) - first + 1);
}

Status check_url(std::string_view url, std::string_view origin) {
  for (const std::string_view scheme : {"http://", "https://"}) {
    if (url.starts_with(scheme) && url.size() > scheme.size()) return Status::ok();
  }
  return Status::invalid(
      format("{origin} {url}: expected http://HOST[:PORT] or https://HOST[:PORT]",
             {{"origin", std::string(origin)}, {"url", in_quotes(url)}}));
}

// A token goes into an HTTP header: visible ASCII only, so it cannot add a header.
Status check_token(std::string_view token, std::string_view origin) {
  if (token.empty()) {
    return Status::invalid(
        format("{origin}: the token is empty", {{"origin", std::string(origin)}}));
  }
  for (const char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return Status::invalid(format("{origin}: the token may hold visible ASCII characters only",
                                    {{"origin", std::string(origin)}}));
    }
  }
  return Status::ok();
}

constexpr Command kCommands[] = {
    {"problems", "", N_("checks whose hard state is not OK, most severe then oldest first")},
    {"sites", "", N_("one line a site: worst state, state per family, last report")},
    {"site", N_("NAME"), N_("the site's checks, agents and downtimes")},
    {"check", N_("AGENT/CHECK"),
     N_("one check with its history, e.g. mairie-01/backup/restic:/srv")},
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
    if (!command.argument.empty()) out += " " + tr(command.argument);
  }
  return out;
}

// The value of --lang in `args` ("--lang fr", "--lang=fr"), if any.
std::optional<std::string_view> lang_argument(std::span<const std::string_view> args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--lang" && i + 1 < args.size()) return args[i + 1];
    if (args[i].starts_with("--lang=")) return args[i].substr(7);
  }
  return std::nullopt;
}

}  // namespace

Lang choose_language(std::span<const std::string_view> args, const GetEnv& env, bool* forced) {
  *forced = false;
  if (const auto value = lang_argument(args); value && (*value == "fr" || *value == "en")) {
    *forced = true;
    return *value == "fr" ? Lang::kFrench : Lang::kEnglish;
  }
  return lang_from_environment(env);
}

std::span<const Command> commands() { return kCommands; }

Result<Options> parse_options(std::span<const std::string_view> args, const GetEnv& env) {
  Options options;
  std::string url_origin = N_("the default URL");
  if (const char* url = env("VIGIE_URL"); url != nullptr && url[0] != '\0') {
    options.url = url;
    url_origin = "VIGIE_URL";
  }
  if (const char* token = env("VIGIE_TOKEN"); token != nullptr) options.token = trim_blank(token);
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
      if (inline_value) {
        return Status::invalid(format("{option} takes no value", {{"option", std::string(name)}}));
      }
      target = true;
      return Status::ok();
    };
    const auto value = [&](std::string& target) -> Status {
      if (inline_value) {
        target = *inline_value;
      } else if (i + 1 < args.size()) {
        target = args[++i];
      } else {
        return Status::invalid(format("{option} needs a value", {{"option", std::string(name)}}));
      }
      if (target.empty()) {
        return Status::invalid(format("{option} needs a value", {{"option", std::string(name)}}));
      }
      return Status::ok();
    };

    Status status;
    std::string refresh;
    std::string lang;
    if (name == "--help" || name == "-h") {
      options.help = true;
      return options;
    } else if (name == "--once") {
      status = flag(options.once);
    } else if (name == "--json") {
      status = flag(options.json);
    } else if (name == "--lang") {
      status = value(lang);
      if (status.is_ok()) {
        if (lang != "fr" && lang != "en") {
          return Status::invalid(
              format("--lang {value}: expected fr or en", {{"value", in_quotes(lang)}}));
        }
        options.lang = lang == "fr" ? Lang::kFrench : Lang::kEnglish;
      }
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
          return Status::invalid(
              format("--refresh {value}: at least {min}",
                     {{"value", in_quotes(refresh)}, {"min", format_duration(kMinRefresh)}}));
        }
        options.refresh = *parsed;
      }
    } else if (name.starts_with("-")) {
      return Status::invalid(format("unknown option {option}", {{"option", in_quotes(name)}}));
    } else if (const Command* command = find_command(name);
               options.command.empty() && command != nullptr) {
      options.command = name;
      if (!command->argument.empty()) {
        if (i + 1 >= args.size() || args[i + 1].starts_with("-")) {
          return Status::invalid(name == "site" ? tr("site needs a site's name")
                                                : format("{command} needs {argument}",
                                                         {{"command", std::string(name)},
                                                          {"argument", tr(command->argument)}}));
        }
        options.argument = args[++i];
        if (name == "check" && options.argument.find('/') == std::string::npos) {
          return Status::invalid(
              format("check {value}: expected AGENT/CHECK, e.g. mairie-01/backup/restic:/srv",
                     {{"value", in_quotes(options.argument)}}));
        }
      }
    } else {
      return Status::invalid(
          format("unexpected argument {argument} (commands: {commands})",
                 {{"argument", in_quotes(name)}, {"commands", command_list(", ")}}));
    }
    if (!status.is_ok()) return status;
  }

  if (options.json && !options.once && options.command.empty()) {
    return Status::invalid(tr("--json goes with --once or a command"));
  }
  if (options.once && !options.command.empty()) {
    return Status::invalid(tr("--once and a command do not go together"));
  }
  if (Status s =
          check_url(options.url, url_origin == "the default URL" ? tr(url_origin) : url_origin);
      !s.is_ok()) {
    return s;
  }
  if (!options.token_file.empty()) {
    options.token.clear();  // the file wins over the environment
  } else if (!options.token.empty()) {
    if (Status s = check_token(options.token, "VIGIE_TOKEN"); !s.is_ok()) return s;
  }
  return options;
}

std::string usage() {
  std::string text =
      format("usage: vigie-console [options] [{commands}]", {{"commands", command_list(" | ")}}) +
      "\n\n" +
      tr("Without a command: the technicians' console, live. With one: prints it once as text\n"
         "(or JSON with --json) and exits, for scripts and tickets.\n") +
      "\n";
  // The summaries line up after the longest command with its argument (in the language).
  const auto synopsis = [](const Command& command) {
    return command.argument.empty() ? std::string(command.name)
                                    : std::string(command.name) + " " + tr(command.argument);
  };
  std::size_t column = 20;
  for (const Command& command : kCommands)
    column = std::max(column, columns(synopsis(command)) + 2);
  for (const Command& command : kCommands) {
    const std::string name = synopsis(command);
    text += "  " + pad(name, column) + tr(command.summary) + "\n";
  }
  return text + "\n" +
         tr("options:\n"
            "  --url URL           the collector (default: $VIGIE_URL, else "
            "http://127.0.0.1:8080)\n"
            "  --token-file FILE   read the bearer token from FILE (default: $VIGIE_TOKEN_FILE,\n"
            "                      else the token in $VIGIE_TOKEN)\n"
            "  --ca-file FILE      CA certificates that sign an https collector's certificate\n"
            "                      (default: $VIGIE_CA_FILE, else the system's)\n"
            "  --refresh DURATION  ask the collector at least this often: 500ms, 2s, 1m (default: "
            "5s;\n"
            "                      changes arrive at once through the events long-poll anyway)\n"
            "  --once              print every check once as a plain table and exit ($COLUMNS\n"
            "                      wide, else 120)\n"
            "  --json              with --once or a command: print JSON instead\n"
            "  --lang fr|en        the language of the screens and the tables (default: French\n"
            "                      when LC_ALL, else LC_MESSAGES, else LANG names French)\n"
            "  -h, --help          show this help and exit\n") +
         "\n" +
         tr("keys: Up/Down j/k PgUp/PgDn Home/End move, Enter open, Esc back, Tab next view,\n"
            "/ search, f family, s sort, Space mark, a acknowledge, A acknowledge marked (or all\n"
            "shown), u take an acknowledgement back, d downtime, r refresh, ? help, q quit\n") +
         "\n" +
         tr("exit status: 0 success, 1 the collector cannot be reached or refused the request,\n"
            "2 bad usage\n");
}

Result<std::string> read_token_file(const std::string& path) {
  const std::string where = format("token file {path}", {{"path", in_quotes(path)}});
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                             &std::fclose);
  if (!file) {
    return Status::io_error(format("cannot read the token file {path}: {error}",
                                   {{"path", in_quotes(path)}, {"error", std::strerror(errno)}}));
  }
  std::string content(kMaxToken + 1, '\0');
  const std::size_t n = std::fread(content.data(), 1, content.size(), file.get());
  if (std::ferror(file.get()) != 0) {
    return Status::io_error(format("cannot read the token file {path}: {error}",
                                   {{"path", in_quotes(path)}, {"error", std::strerror(errno)}}));
  }
  if (n > kMaxToken) {
    return Status::too_large(
        format("the token file {path} is larger than {max} bytes",
               {{"path", in_quotes(path)}, {"max", std::to_string(kMaxToken)}}));
  }
  content.resize(n);
  std::string token(trim_blank(content));
  if (Status s = check_token(token, where); !s.is_ok()) return s;
  return token;
}

}  // namespace vigie::console
