#include "collector/token_command.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <string>

#include "collector/storage.hpp"
#include "common/duration.hpp"
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
  --db PATH             the collector's database (default /var/lib/vigie/collector.db)
)",
};

const CommandHelp kEnrollTokenHelp = {
    .synopsis =
        "vigie-collector enroll-token create --site SITE [--ttl DUR] [--label TEXT] "
        "[--count N]",
    .about = R"(One-time tokens for agents: an agent gets its own token by exchanging an enrollment
token of its site at POST /api/v1/enroll. A secret is printed once, when created; the
database keeps only its hash.
)",
    .options = R"(  --site SITE           the site whose agents may enroll with it
  --ttl DUR             it expires after DUR (default 24h)
  --label TEXT          who or what it is for
  --count N             N tokens, one a line, for a whole rollout (default 1)
  --db PATH             the collector's database (default /var/lib/vigie/collector.db)
)",
};

namespace {

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
    std::printf("%-5lld %-8s %-20s %-20s %-16s %-16s %-8s %s\n", static_cast<long long>(r.id),
                std::string(role_name(r.role)).c_str(), r.agent.empty() ? "-" : r.agent.c_str(),
                r.site.empty() ? "-" : r.site.c_str(), format_time(r.created_ms).c_str(),
                format_time(r.expires_ms).c_str(), state, r.label.c_str());
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
  auto storage = open_sqlite_storage({.path = parsed->db});
  if (!storage) return fail(storage.status(), 1);
  const std::int64_t now = wall_ms();
  if (verb == "create") return create_tokens(**storage, *parsed, enroll, now);
  if (verb == "list" && !enroll) return list_tokens(**storage, now);
  if (verb == "revoke" && !enroll) return revoke_token(**storage, *parsed, now);
  std::cerr << "vigie-collector: " << args[0] << ": unknown sub-command \"" << verb << "\"\n\n"
            << usage;
  return 2;
}

}  // namespace

int token_command(const std::vector<std::string_view>& args) {
  return run_token_command(args, false);
}

int enroll_token_command(const std::vector<std::string_view>& args) {
  return run_token_command(args, true);
}

}  // namespace vigie::collector
