#include "collector/token_command.hpp"

#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>

#include "collector/csv.hpp"
#include "collector/storage.hpp"
#include "common/duration.hpp"
#include "common/file.hpp"
#include "common/protocol_rules.hpp"
#include "common/time.hpp"

namespace vigie::collector {

const CommandHelp kTokenHelp = {
    .synopsis =
        "vigie-collector token create --role viewer|operator|admin [--label TEXT] "
        "[--ttl DUR]\n"
        "vigie-collector token list\n"
        "vigie-collector token revoke ID",
    .about = R"(Technicians' tokens. A token carries a role: a viewer reads, an operator also
acknowledges, an admin also manages tokens. A secret is printed once, when created;
the database keeps only its hash.
)",
    .options = R"(  --role ROLE           viewer, operator or admin
  --label TEXT          who or what holds it
  --ttl DUR             it expires after DUR (default: never)
  --db PATH|CONNINFO    the collector's database (default /var/lib/vigie-collector/collector.db)
)",
};

const CommandHelp kEnrollTokenHelp = {
    .synopsis =
        "vigie-collector enroll-token create --site SITE [--report-for SITES] [--ttl DUR] "
        "[--label TEXT] [--count N]\n"
        "vigie-collector enroll-token create --sites FILE [--count N] [--ttl DUR] "
        "[--label TEXT]",
    .about = R"(One-time tokens for agents: an agent gets its own token by exchanging an enrollment
token of its site at POST /api/v1/enroll. A secret is printed once, when created; the
database keeps only its hash.

For an install campaign, --sites FILE reads a CSV of sites and agent ids (one line
per agent to install: "site,agent"; a first line "site,agent,..." names the columns,
and any other column is passed through) and prints the same lines as CSV with two
more columns, "token" and "expires", ready for a mail-merge: one token per line, for
that site, that only the agent id of its line (any agent of the site when the line
gives none) may enroll with. Every token is stored, or none.
)",
    .options = R"(  --site SITE           the site whose agents may enroll with it
  --report-for SITES    a central poller: the agent may also file results under these
                        sites (a comma list, or * for any site); default: its own only
  --ttl DUR             it expires after DUR (default 24h)
  --label TEXT          who or what it is for
  --count N             N tokens, one a line, for a whole rollout (default 1);
                        with --sites, the number of lines FILE must hold
  --sites FILE          a CSV of sites and agent ids: one token per line, as CSV
  --db PATH|CONNINFO    the collector's database (default /var/lib/vigie-collector/collector.db)
)",
};

namespace {

// Options of the token commands.
struct TokenArgs {
  std::string db = std::string(kDefaultDatabase);
  std::string role;
  std::string site;
  std::string label;
  std::optional<std::string> report_for;
  std::string sites_file;
  std::chrono::milliseconds ttl{0};
  std::int64_t id = 0;
  std::int64_t count = 1;
  bool count_given = false;
};

Result<TokenArgs> parse_token_args(const std::vector<std::string_view>& args, std::size_t first) {
  TokenArgs t;
  for (std::size_t i = first; i < args.size(); ++i) {
    const std::string_view a = args[i];
    if (a == "--db" || a == "--role" || a == "--site" || a == "--label" || a == "--ttl" ||
        a == "--count" || a == "--report-for" || a == "--sites") {
      if (i + 1 >= args.size()) return Status::invalid(std::string(a) + ": missing value");
      const std::string v(args[++i]);
      if (a == "--db") t.db = v;
      if (a == "--role") t.role = v;
      if (a == "--site") t.site = v;
      if (a == "--label") t.label = v;
      if (a == "--report-for") t.report_for = v;
      if (a == "--sites") t.sites_file = v;
      if (a == "--count") {
        t.count_given = true;
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

int fail(const Status& status, int code) {
  std::cerr << "vigie-collector: " << status.message() << "\n";
  return code;
}

// The token `create` makes, or the usage error that prevents it.
Result<TokenRecord> token_to_create(const TokenArgs& t, bool enroll, std::int64_t now) {
  TokenRecord record;
  record.label = t.label;
  record.created_ms = now;
  if (enroll) {
    if (t.site.empty()) return Status::invalid("enroll-token create: --site is required");
    record.role = Role::kEnroll;
    record.site = t.site;
    if (t.report_for) {
      auto sites = parse_report_for(*t.report_for);
      if (!sites) return sites.status();
      record.report_for = std::move(*sites);
    }
    // An enrollment token that never expires is a standing invitation: default 24h.
    record.expires_ms = now + (t.ttl.count() > 0 ? t.ttl.count() : 24 * 3'600'000);
    return record;
  }
  const auto role = role_from_name(t.role);
  if (!role || *role == Role::kAgent || *role == Role::kEnroll) {
    return Status::invalid(
        "token create: --role must be viewer, operator or admin"
        " (agents get their token by enrolling)");
  }
  record.role = *role;
  record.expires_ms = t.ttl.count() > 0 ? now + t.ttl.count() : 0;
  if (t.count != 1) return Status::invalid("token create: --count is for enrollment tokens");
  if (t.report_for)
    return Status::invalid("token create: --report-for is for enrollment tokens (central pollers)");
  return record;
}

// Prints each secret on a line of its own (`--count` prepares a whole rollout of sites at
// once), then what was created on standard error.
int create_tokens(TokenStore& store, const TokenArgs& t, bool enroll, std::int64_t now) {
  auto record = token_to_create(t, enroll, now);
  if (!record) return fail(record.status(), 2);
  Result<std::int64_t> id = Status::internal("no token created");
  for (std::int64_t i = 0; i < t.count; ++i) {
    const std::string secret = new_secret(record->role);
    id = store.add_token(*record, hash_secret(secret));
    if (!id) return fail(id.status(), 1);
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
            << (enroll ? "site " + record->site : "role " + std::string(role_name(record->role)))
            << (record->report_for.empty() ? "" : ", reports for " + record->report_for)
            << (record->expires_ms ? ", expires " + format_time(record->expires_ms) + " UTC" : "")
            << "); shown only now\n";
  return 0;
}

int list_tokens(TokenStore& store, std::int64_t now) {
  auto tokens = store.list_tokens();
  if (!tokens) return fail(tokens.status(), 1);
  std::printf("%-5s %-8s %-20s %-20s %-16s %-16s %-8s %s\n", "ID", "ROLE", "AGENT", "SITE",
              "CREATED", "EXPIRES", "STATE", "LABEL");
  for (const auto& r : *tokens) {
    const char* state = r.revoked_ms                            ? "revoked"
                        : r.used_ms                             ? "used"
                        : (r.expires_ms && r.expires_ms <= now) ? "expired"
                                                                : "valid";
    std::printf(
        "%-5lld %-8s %-20s %-20s %-16s %-16s %-8s %s\n", static_cast<long long>(r.id),
        std::string(role_name(r.role)).c_str(), r.agent.empty() ? "-" : r.agent.c_str(),
        r.site.empty() ? "-" : r.site.c_str(), format_time(r.created_ms).c_str(),
        format_time(r.expires_ms).c_str(), state,
        (r.report_for.empty() ? r.label : r.label + " [reports for " + r.report_for + "]").c_str());
  }
  return 0;
}

int revoke_token(TokenStore& store, const TokenArgs& t, std::int64_t now) {
  if (t.id == 0)
    return fail(Status::invalid("token revoke: which token? (give its ID, see token list)"), 2);
  if (Status s = store.revoke_token(t.id, now); !s) return fail(s, 1);
  std::cerr << "token " << t.id << " revoked\n";
  return 0;
}

// `enroll-token create --sites FILE`: one token per line of the file, all stored in one
// transaction, then the file's lines printed as CSV with each one's token.
int create_campaign_tokens(TokenStore& store, const TokenArgs& t, std::int64_t now) {
  if (!t.site.empty()) return fail(Status::invalid("give --site or --sites, not both"), 2);
  auto text = read_file(t.sites_file, 64 * 1024 * 1024);
  if (!text) return fail(text.status().with_context("--sites"), 2);
  auto sites = read_sites_csv(*text, t.sites_file);
  if (!sites) return fail(sites.status(), 2);
  if (t.count_given && static_cast<std::size_t>(t.count) != sites->lines.size()) {
    return fail(Status::invalid("--count " + std::to_string(t.count) + ", but " + t.sites_file +
                                " lists " + std::to_string(sites->lines.size()) + " agents"),
                2);
  }
  const std::int64_t expires = now + (t.ttl.count() > 0 ? t.ttl.count() : 24 * 3'600'000);
  const std::string label =
      t.label.empty() ? "campaign " + std::filesystem::path(t.sites_file).filename().string()
                      : t.label;
  std::vector<std::pair<TokenRecord, std::string>> tokens;
  std::vector<std::string> secrets;
  for (const CampaignLine& line : sites->lines) {
    TokenRecord record{.role = Role::kEnroll,
                       .agent = line.agent,
                       .site = line.site,
                       .label = label,
                       .created_ms = now,
                       .expires_ms = expires};
    secrets.push_back(new_secret(Role::kEnroll));
    tokens.emplace_back(std::move(record), hash_secret(secrets.back()));
  }
  auto ids = store.add_tokens(tokens);
  if (!ids) return fail(ids.status(), 1);
  std::vector<std::string> header = sites->header;
  header.insert(header.end(), {"token", "expires"});
  std::cout << csv_line(header);
  for (std::size_t i = 0; i < sites->lines.size(); ++i) {
    std::vector<std::string> fields = sites->lines[i].fields;
    fields.insert(fields.end(), {secrets[i], format_time(expires) + " UTC"});
    std::cout << csv_line(fields);
  }
  std::cout.flush();
  std::cerr << ids->size() << " enrollment tokens created";
  if (!ids->empty()) std::cerr << ", ids " << ids->front() << " to " << ids->back();
  std::cerr << " (expire " << format_time(expires) << " UTC); shown only now\n";
  return std::cout ? 0 : 1;
}

// vigie-collector token ... / enroll-token ...; returns the exit code.
int run_token_command(const std::vector<std::string_view>& args, bool enroll) {
  const std::string usage = command_usage(enroll ? kEnrollTokenHelp : kTokenHelp);
  if (args.size() < 2) {
    std::cerr << "vigie-collector: " << args[0] << ": missing sub-command\n\n" << usage;
    return 2;
  }
  const std::string_view verb = args[1];
  auto parsed = parse_token_args(args, 2);
  if (!parsed) return fail(parsed.status(), 2);
  auto storage = open_storage(parsed->db);
  if (!storage) return fail(storage.status(), 1);
  const std::int64_t now = wall_ms();
  if (parsed->report_for && !parsed->sites_file.empty())
    return fail(Status::invalid("--report-for with --sites: a central poller's token is made "
                                "alone, with --site"),
                2);
  if (verb == "create" && enroll && !parsed->sites_file.empty())
    return create_campaign_tokens(**storage, *parsed, now);
  if (!parsed->sites_file.empty())
    return fail(Status::invalid("--sites is for enroll-token create"), 2);
  if (verb == "create") return create_tokens(**storage, *parsed, enroll, now);
  if (verb == "list" && !enroll) return list_tokens(**storage, now);
  if (verb == "revoke" && !enroll) return revoke_token(**storage, *parsed, now);
  std::cerr << "vigie-collector: " << args[0] << ": unknown sub-command \"" << verb << "\"\n\n"
            << usage;
  return 2;
}

}  // namespace

Result<SiteList> read_sites_csv(std::string_view text, const std::string& name) {
  auto records = parse_csv(text);
  if (!records) return records.status().with_context(name);
  SiteList list;
  std::size_t first = 0;
  std::size_t site_column = 0;
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::size_t agent_column = 1;
  const auto lower = [](std::string v) {
    for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto b = v.find_first_not_of(' ');
    const auto e = v.find_last_not_of(' ');
    return b == std::string::npos ? std::string() : v.substr(b, e - b + 1);
  };
  if (!records->empty() && lower(records->front().fields.front()) == "site") {
    // A header: the columns by name; others pass through.
    first = 1;
    agent_column = kNone;
    list.header = records->front().fields;
    for (std::size_t i = 0; i < list.header.size(); ++i) {
      const std::string column = lower(list.header[i]);
      if (column == "agent" || column == "agent_id" || column == "agent id") agent_column = i;
    }
  } else {
    list.header = {"site", "agent"};
  }
  std::map<std::string, std::size_t> agent_line;    // agent id -> line
  std::map<std::string, std::size_t> any_agent_of;  // site given without an agent -> line
  for (std::size_t r = first; r < records->size(); ++r) {
    const CsvRecord& record = (*records)[r];
    const std::string where = name + ":" + std::to_string(record.line) + ": ";
    CampaignLine line{.line = record.line, .site = {}, .agent = {}, .fields = record.fields};
    const auto field = [&](std::size_t i) {
      std::string v = i < record.fields.size() ? record.fields[i] : std::string();
      const auto b = v.find_first_not_of(" \t");
      const auto e = v.find_last_not_of(" \t");
      return b == std::string::npos ? std::string() : v.substr(b, e - b + 1);
    };
    line.site = field(site_column);
    if (agent_column != kNone) line.agent = field(agent_column);
    if (first == 0 && record.fields.size() < 2) line.fields.resize(2);
    if (line.site.empty()) return Status::invalid(where + "no site");
    if (Status s = protocol::rules::is_identifier(line.site); !s)
      return Status::invalid(where + "site \"" + line.site + "\": " + s.message());
    if (!line.agent.empty()) {
      if (Status s = protocol::rules::is_identifier(line.agent); !s)
        return Status::invalid(where + "agent id \"" + line.agent + "\": " + s.message());
      const auto [it, fresh] = agent_line.emplace(line.agent, record.line);
      if (!fresh)
        return Status::invalid(where + "agent id \"" + line.agent + "\" is also on line " +
                               std::to_string(it->second));
    } else {
      const auto [it, fresh] = any_agent_of.emplace(line.site, record.line);
      if (!fresh)
        return Status::invalid(where + "site \"" + line.site +
                               "\" without an agent id is also on line " +
                               std::to_string(it->second) + ": give each line its agent id");
    }
    list.lines.push_back(std::move(line));
  }
  if (list.lines.empty()) return Status::invalid(name + ": lists no site");
  return list;
}

int token_command(const std::vector<std::string_view>& args) {
  return run_token_command(args, false);
}

int enroll_token_command(const std::vector<std::string_view>& args) {
  return run_token_command(args, true);
}

}  // namespace vigie::collector
