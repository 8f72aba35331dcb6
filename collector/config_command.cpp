#include "collector/config_command.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "collector/central_config.hpp"
#include "collector/storage.hpp"
#include "common/file.hpp"
#include "common/json_parse.hpp"
#include "common/time.hpp"

namespace vigie::collector {

const CommandHelp kConfigHelp = {
    .synopsis =
        "vigie-collector config set template|site|agent NAME FILE\n"
        "vigie-collector config get template|site|agent NAME [--rendered]\n"
        "vigie-collector config list\n"
        "vigie-collector config diff template|site|agent NAME FILE\n"
        "vigie-collector config remove template|site|agent NAME",
    .about = R"(Agent configurations kept by the collector, for the agents enrolled with --managed.
A template holds the "defaults", "devices" and "checks" of an agent's configuration;
a string "${name}" in it is replaced by the variable's value (a whole JSON value). A
site's or an agent's values say which template applies and the variables' values:
{"template": "townhall", "vars": {"fw_host": "192.0.2.1"}} (the agent's own win over
its site's). set stores FILE ("-": standard input) after checking it and every
enrolled agent's configuration with it: a change that would break an agent's
configuration (a variable not set) is refused. diff shows what set would change,
storing nothing. get prints a document, or with --rendered an agent's configuration
as it fetches it. list shows the documents and each agent's configuration version,
the one it runs, and whether it is behind. Every change goes to the audit trail.
)",
    .options =
        R"(  --db PATH|CONNINFO    the collector's database (default /var/lib/vigie-collector/collector.db)
  --author TEXT         who makes the change, for the audit trail (default: the user)
  --rendered            get agent NAME: its configuration as rendered for it
)",
};

namespace {

using nlohmann::json;

struct ConfigArgs {
  std::string db = std::string(kDefaultDatabase);
  std::string author;
  bool rendered = false;
  std::vector<std::string> positional;  // after the verb
};

Result<ConfigArgs> parse_config_args(const std::vector<std::string_view>& args) {
  ConfigArgs c;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "--db" || a == "--author") {
      if (i + 1 >= args.size()) return Status::invalid(std::string(a) + ": missing value");
      const std::string value(args[++i]);
      if (a == "--db") c.db = value;
      else c.author = value;
    } else if (a == "--rendered") {
      c.rendered = true;
    } else if (a.starts_with("--")) {
      return Status::invalid("unknown argument \"" + std::string(a) + "\"");
    } else {
      c.positional.emplace_back(a);
    }
  }
  if (c.author.empty()) {
    const char* user = std::getenv("SUDO_USER");
    if (user == nullptr || *user == '\0') user = std::getenv("USER");
    // A job started by systemd or `env -i` has no USER: the account itself, then.
    if (user == nullptr || *user == '\0') {
      const passwd* account = ::getpwuid(::geteuid());
      if (account != nullptr) user = account->pw_name;
    }
    c.author = std::string(user != nullptr && *user != '\0' ? user : "someone") + " (command line)";
  }
  return c;
}

int fail(const Status& status, int code) {
  std::cerr << "vigie-collector: " << status.message() << "\n";
  return code;
}

std::string format_time(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
  return buf;
}

Result<json> read_document(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    auto read = read_file(path, 1024 * 1024);
    if (!read) return read.status();
    text = std::move(*read);
  }
  auto document = parse_json(text, {.comments = true});
  if (!document) return document.status().with_context(path);
  return document;
}

void print_plan(const ConfigPlan& plan) {
  if (plan.diff.empty()) std::cout << "no change to the document\n";
  for (const std::string& line : plan.diff) std::cout << line << "\n";
  std::cout << plan.change.audit.comment << (plan.updated.empty() ? "" : ":") << "\n";
  for (const std::string& line : plan.updated) std::cout << "  " << line << "\n";
}

int list(CentralConfigs& configs) {
  auto snapshot = configs.snapshot();
  if (!snapshot) return fail(snapshot.status(), 1);
  std::printf("%-9s %-24s %-8s %-16s %s\n", "KIND", "NAME", "REVISION", "UPDATED", "AUTHOR");
  for (const auto& e : snapshot->entries) {
    std::printf("%-9s %-24s %-8lld %-16s %s\n", std::string(config_kind_name(e.kind)).c_str(),
                e.name.c_str(), static_cast<long long>(e.revision),
                format_time(e.updated_ms).c_str(), e.author.c_str());
  }
  auto agents = configs.agents();
  if (!agents) return fail(agents.status(), 1);
  std::printf("\n%-24s %-20s %-16s %-16s %s\n", "AGENT", "SITE", "VERSION", "RUNNING", "STATE");
  for (const auto& a : *agents) {
    std::string state = !a.managed           ? "not managed"
                        : !a.problem.empty() ? "does not render: " + a.problem
                        : a.behind()         ? "behind"
                                             : "current";
    if (a.report && !a.report->refused.empty())
      state += "; refused " + a.report->refused + ": " + a.report->error;
    const std::string running = a.report && !a.report->running.empty() ? a.report->running : "-";
    std::printf("%-24s %-20s %-16s %-16s %s\n", a.agent.c_str(), a.site.c_str(),
                a.version.empty() ? "-" : a.version.c_str(), running.c_str(), state.c_str());
  }
  return 0;
}

int get(CentralConfigs& configs, ConfigKind kind, const std::string& name, bool rendered) {
  if (rendered) {
    if (kind != ConfigKind::kAgent)
      return fail(Status::invalid("--rendered is for an agent: config get agent ID --rendered"), 2);
    auto agents = configs.agents();
    if (!agents) return fail(agents.status(), 1);
    for (const auto& a : *agents) {
      if (a.agent != name) continue;
      auto config = configs.for_agent(a.agent, a.site);
      if (!config) return fail(config.status(), 1);
      std::cout << json{{"version", config->version},
                        {"template", config->template_name},
                        {"config", config->config}}
                       .dump(2)
                << "\n";
      return 0;
    }
    return fail(Status::not_found("no enrolled agent \"" + name + "\""), 1);
  }
  auto snapshot = configs.snapshot();
  if (!snapshot) return fail(snapshot.status(), 1);
  for (const auto& e : snapshot->entries) {
    if (e.kind != kind || e.name != name) continue;
    auto document = json::parse(e.document, nullptr, false);
    std::cout << (document.is_discarded() ? e.document : document.dump(2)) << "\n";
    return 0;
  }
  return fail(Status::not_found("no " + std::string(config_kind_name(kind)) + " \"" + name + "\""),
              1);
}

}  // namespace

int config_command(const std::vector<std::string_view>& args) {
  const std::string usage = command_usage(kConfigHelp);
  if (args.size() < 2) {
    std::cerr << "vigie-collector: config: missing sub-command\n\n" << usage;
    return 2;
  }
  const std::string_view verb = args[1];
  auto parsed = parse_config_args(args);
  if (!parsed) return fail(parsed.status(), 2);
  const auto& pos = parsed->positional;
  const std::size_t wanted = verb == "list"                      ? 0
                             : verb == "get" || verb == "remove" ? 2
                             : verb == "set" || verb == "diff"   ? 3
                                                                 : 99;
  if (wanted == 99) {
    std::cerr << "vigie-collector: config: unknown sub-command \"" << verb << "\"\n\n" << usage;
    return 2;
  }
  if (pos.size() != wanted) {
    std::cerr << "vigie-collector: config " << verb << ": expected " << wanted << " arguments, got "
              << pos.size() << "\n\n"
              << usage;
    return 2;
  }
  std::optional<ConfigKind> kind;
  if (wanted > 0) {
    kind = config_kind_from_name(pos[0]);
    if (!kind)
      return fail(Status::invalid("\"" + pos[0] + "\": expected template, site or agent"), 2);
  }
  std::optional<json> document;
  if (verb == "set" || verb == "diff") {
    auto read = read_document(pos[2]);
    if (!read) return fail(read.status(), 2);
    document = std::move(*read);
  }
  auto storage = open_storage(parsed->db);
  if (!storage) return fail(storage.status(), 1);
  CentralConfigs configs(**storage, **storage);
  if (verb == "list") return list(configs);
  if (verb == "get") return get(configs, *kind, pos[1], parsed->rendered);
  const bool store = verb != "diff";
  auto plan = store ? configs.apply(*kind, pos[1], document, parsed->author, wall_ms())
                    : configs.plan(*kind, pos[1], document, parsed->author, wall_ms());
  if (!plan) return fail(plan.status(), 1);
  print_plan(*plan);
  if (store)
    std::cerr << plan->change.audit.action << " " << plan->change.audit.target << ": done\n";
  return 0;
}

}  // namespace vigie::collector
