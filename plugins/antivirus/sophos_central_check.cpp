#include "plugins/antivirus/sophos_central_check.hpp"

#include <malloc.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/file.hpp"
#include "common/http_client.hpp"
#include "common/protocol_rules.hpp"
#include "plugins/antivirus/sophos_central_api.hpp"
#include "plugins/check_support.hpp"

namespace vigie::plugins::antivirus {
namespace {

using central::Clock;
using nlohmann::json;
using std::chrono::milliseconds;

constexpr std::size_t kPageSize = 100;        // items asked for per page (Sophos allows more)
constexpr std::size_t kMaxTenantPages = 100;  // of kPageSize tenants
constexpr std::size_t kMaxSecretBytes = 4096;
constexpr std::size_t kNamed = 3;          // names per kind in a summary
constexpr std::size_t kDetailLines = 200;  // lines per kind in the details

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string plural(std::size_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string seconds_text(Clock::duration d) {
  const auto tenths = std::chrono::duration_cast<milliseconds>(d).count() / 100;
  return std::to_string(tenths / 10) + (tenths % 10 ? "." + std::to_string(tenths % 10) : "") +
         " s";
}

// A text from the API for a message: control characters as '?', at most `max` bytes.
std::string clean(std::string_view text, std::size_t max = 120) {
  std::string out;
  for (const unsigned char c : text.substr(0, max)) out += c < 0x20 || c == 0x7f ? '?' : char(c);
  if (text.size() > max) out += "...";
  return out;
}

// https, or http to a loopback host (tests, a local relay).
Status check_url(const std::string& key, const std::string& url) {
  if (url.starts_with("https://") && url.size() > 8) return Status::ok();
  if (url.starts_with("http://")) {
    const std::string_view rest = std::string_view(url).substr(7);
    const std::string_view authority = rest.substr(0, rest.find('/'));
    const std::string_view host = authority.starts_with('[')
                                      ? authority.substr(0, authority.find(']') + 1)
                                      : authority.substr(0, authority.find(':'));
    if (host == "localhost" || host == "[::1]" ||
        (host.starts_with("127.") &&
         host.find_first_not_of("0123456789.") == std::string_view::npos))
      return Status::ok();
  }
  return Status::invalid(key + ": must be an https:// URL (http only on loopback), not \"" +
                         clean(url, 100) + "\"");
}

// The secret, from a file no one else may read.
Result<std::string> read_secret(const std::string& path) {
  auto text = read_file(path, kMaxSecretBytes);
  if (!text) return text.status().with_context("client_secret_file");
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && (info.st_mode & (S_IROTH | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    return Status(Code::kPermissionDenied, "client_secret_file " + path +
                                               ": readable by others (mode " + mode +
                                               "): chmod 600 " + path);
  }
  std::string_view secret = *text;
  while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.front())))
    secret.remove_prefix(1);
  while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back())))
    secret.remove_suffix(1);
  if (secret.empty()) return Status::invalid("client_secret_file " + path + ": empty");
  return std::string(secret);
}

struct Tenant {
  std::string id;
  std::string name;
  std::string api_host;
  std::string status;
  std::string problem;  // why it cannot be polled
};

// A name and why it is there: "PC-ACCUEIL" "threats bad, Sophos File Scanner stopped".
struct Named {
  std::string name;
  std::string why;
};

// What one tenant's endpoints and alerts come to.
class Tally {
 public:
  Tally(std::int64_t now, std::int64_t stale_after, int stale_days)
      : now_(now), stale_after_(stale_after), stale_days_(stale_days) {}

  std::size_t endpoints() const { return endpoints_; }
  std::size_t alerts() const { return alerts_; }

  void add_endpoint(const json& e) {
    ++endpoints_;
    std::string host = "(endpoint " + std::to_string(endpoints_) + ")";
    if (const auto name = central::string_member(e, "hostname"); name && !name->empty()) {
      host = clean(*name, 80);
    } else if (const auto id = central::string_member(e, "id"); id && !id->empty()) {
      host = clean(*id, 80);
    }
    if (!e.is_object()) {
      unreadable_.push_back({host, "not a JSON object"});
      return;
    }
    judge_health(e, host);
    judge_tamper(e, host);
    judge_seen(e, host);
  }

  void add_alert(const json& a) {
    ++alerts_;
    std::string what = "(alert " + std::to_string(alerts_) + ")";
    for (const char* key : {"description", "type", "id"}) {
      if (const auto text = central::string_member(a, key); text && !text->empty()) {
        what = clean(*text);
        break;
      }
    }
    const auto severity = central::string_member(a, "severity");
    if (severity == "high") {
      high_.push_back({what, ""});
    } else if (severity == "medium" || severity == "low") {
      ++lesser_;
    } else {
      // Not a level Sophos documents: not taken for a harmless one.
      odd_alerts_.push_back({what, severity
                                       ? "severity \"" + clean(*severity, 40) + "\" not understood"
                                       : std::string("no severity")});
    }
  }

  Outcome outcome(const Tenant& tenant) const {
    Outcome out;
    State state = State::kOk;
    if (!bad_.empty() || !high_.empty()) state = State::kCritical;
    if (!suspicious_.empty() || !unknown_.empty() || !tamper_off_.empty() || !not_seen_.empty())
      state = worst(state, State::kWarning);
    if (!unreadable_.empty() || !odd_alerts_.empty()) state = worst(state, State::kUnknown);
    out.status = state;

    std::string summary = plural(endpoints_, "endpoint", "endpoints");
    const char* worst_health = !bad_.empty()          ? "bad"
                               : !suspicious_.empty() ? "suspicious"
                               : !unknown_.empty()    ? "unknown"
                                                      : nullptr;
    if (worst_health == nullptr) {
      summary += endpoints_ == 0 ? "" : unreadable_.empty() ? ", all in good health" : "";
    } else {
      summary += ", worst health " + std::string(worst_health);
    }
    add_part(summary, "bad", bad_);
    add_part(summary, "suspicious", suspicious_);
    add_part(summary, "health unknown", unknown_);
    add_part(summary, "tamper protection off", tamper_off_);
    add_part(
        summary,
        "not seen for more than " + plural(static_cast<std::size_t>(stale_days_), "day", "days"),
        not_seen_);
    if (!high_.empty()) {
      add_part(summary,
               plural(high_.size(), "open high-severity alert", "open high-severity alerts"), high_,
               false);
    }
    if (!odd_alerts_.empty()) add_part(summary, "alerts not understood", odd_alerts_);
    if (!unreadable_.empty()) add_part(summary, "endpoints not understood", unreadable_);
    const std::size_t others = lesser_;
    if (high_.empty() && odd_alerts_.empty()) {
      summary += alerts_ == 0 ? "; no open alert"
                              : "; " + plural(others, "open alert", "open alerts") + ", none high";
    } else if (others > 0) {
      summary += "; " + std::to_string(others) + " other open";
    }
    out.summary = std::move(summary);

    std::string details = "tenant " + clean(tenant.name, 200) + " (" + tenant.id + ") on " +
                          tenant.api_host +
                          (tenant.status.empty() || tenant.status == "active"
                               ? std::string()
                               : ", status " + clean(tenant.status, 40)) +
                          "\n";
    add_lines(details, "bad", bad_);
    add_lines(details, "suspicious", suspicious_);
    add_lines(details, "health unknown", unknown_);
    add_lines(details, "tamper protection off", tamper_off_);
    add_lines(details, "not seen", not_seen_);
    add_lines(details, "high-severity alert", high_);
    add_lines(details, "alert not understood", odd_alerts_);
    add_lines(details, "not understood", unreadable_);
    if (tamper_unreported_ > 0) {
      details += plural(tamper_unreported_, "endpoint does", "endpoints do") +
                 " not report tamper protection\n";
    }
    out.details = std::move(details);

    const auto count = [](std::size_t n) { return static_cast<double>(n); };
    out.metrics = {
        threshold_metric("endpoints", count(endpoints_), "", std::nullopt, std::nullopt),
        threshold_metric("bad", count(bad_.size()), "", std::nullopt, 0),
        threshold_metric("suspicious", count(suspicious_.size()), "", 0, std::nullopt),
        threshold_metric("tamper_off", count(tamper_off_.size()), "", 0, std::nullopt),
        threshold_metric("not_seen", count(not_seen_.size()), "", 0, std::nullopt),
        threshold_metric("alerts", count(alerts_), "", std::nullopt, std::nullopt),
        threshold_metric("alerts_high", count(high_.size()), "", std::nullopt, 0),
    };
    return out;
  }

 private:
  static std::string status_of(const json& health, const char* part) {
    const auto it = health.find(part);
    if (it == health.end() || !it->is_object()) return {};
    return central::string_member(*it, "status").value_or("");
  }

  // Why an endpoint is not in good health: its threats, its services and which stopped.
  static std::string reasons(const json& health) {
    std::string out;
    const auto add = [&](const std::string& text) { out += (out.empty() ? "" : ", ") + text; };
    if (const auto threats = status_of(health, "threats"); !threats.empty() && threats != "good")
      add("threats " + clean(threats, 40));
    if (const auto services = status_of(health, "services");
        !services.empty() && services != "good") {
      std::string down;
      const auto it = health.find("services");
      if (const auto list = it->find("serviceDetails"); list != it->end() && list->is_array()) {
        for (const auto& service : *list) {
          const auto name = central::string_member(service, "name");
          const auto status = central::string_member(service, "status");
          if (name && status && *status != "running") {
            down += (down.empty() ? "" : ", ") + clean(*name, 60) + " " + clean(*status, 20);
          }
        }
      }
      add(down.empty() ? "services " + clean(services, 40) : down);
    }
    return out;
  }

  void judge_health(const json& e, const std::string& host) {
    const auto it = e.find("health");
    if (it == e.end() || !it->is_object()) {
      unreadable_.push_back({host, "no health in the reply"});
      return;
    }
    const auto overall = central::string_member(*it, "overall");
    if (!overall) {
      unreadable_.push_back({host, "no overall health"});
      return;
    }
    if (*overall == "good") return;
    std::vector<Named>* list = *overall == "bad"          ? &bad_
                               : *overall == "suspicious" ? &suspicious_
                               : *overall == "unknown"    ? &unknown_
                                                          : nullptr;
    if (list == nullptr) {
      unreadable_.push_back({host, "health \"" + clean(*overall, 40) + "\" not understood"});
      return;
    }
    list->push_back({host, reasons(*it)});
  }

  void judge_tamper(const json& e, const std::string& host) {
    if (const auto it = e.find("tamperProtectionSupported"); it != e.end()) {
      if (central::lenient_bool(*it) == false) return;
    }
    const auto it = e.find("tamperProtectionEnabled");
    if (it == e.end() || it->is_null()) {
      ++tamper_unreported_;
      return;
    }
    const auto enabled = central::lenient_bool(*it);
    if (!enabled) {
      unreadable_.push_back(
          {host, "tamperProtectionEnabled " + clean(it->dump(), 40) + " not understood"});
    } else if (!*enabled) {
      tamper_off_.push_back({host, ""});
    }
  }

  void judge_seen(const json& e, const std::string& host) {
    const auto seen = central::string_member(e, "lastSeenAt");
    if (!seen) {
      not_seen_.push_back({host, "never reported"});
      return;
    }
    // Sophos writes UTC with a Z; a time without a zone is read as UTC too.
    std::string text = *seen;
    const bool zoned = text.ends_with('Z') || text.ends_with('z') ||
                       (text.size() > 19 && text.find_first_of("+-", 19) != std::string::npos);
    if (!zoned) text += 'Z';
    const auto when = parse_timestamp(text, false);
    if (!when) {
      unreadable_.push_back({host, "lastSeenAt \"" + clean(*seen, 40) + "\" not understood"});
      return;
    }
    if (now_ - *when > stale_after_) not_seen_.push_back({host, "last " + utc_text(*when)});
  }

  static void add_part(std::string& summary, const std::string& label,
                       const std::vector<Named>& list, bool with_reasons = true) {
    if (list.empty()) return;
    summary += "; " + label + ": ";
    for (std::size_t i = 0; i < list.size() && i < kNamed; ++i) {
      if (i > 0) summary += ", ";
      summary += list[i].name;
      if (with_reasons && !list[i].why.empty()) summary += " (" + list[i].why + ")";
    }
    if (list.size() > kNamed) summary += " and " + std::to_string(list.size() - kNamed) + " more";
  }

  static void add_lines(std::string& details, const std::string& label,
                        const std::vector<Named>& list) {
    for (std::size_t i = 0; i < list.size() && i < kDetailLines; ++i) {
      details += label + ": " + list[i].name +
                 (list[i].why.empty() ? "" : " (" + list[i].why + ")") + "\n";
    }
    if (list.size() > kDetailLines) {
      details += label + ": " + std::to_string(list.size() - kDetailLines) + " more\n";
    }
  }

  std::int64_t now_;
  std::int64_t stale_after_;
  int stale_days_;
  std::size_t endpoints_ = 0;
  std::size_t alerts_ = 0;
  std::size_t lesser_ = 0;
  std::size_t tamper_unreported_ = 0;
  std::vector<Named> bad_, suspicious_, unknown_, tamper_off_, not_seen_, unreadable_;
  std::vector<Named> high_, odd_alerts_;
};

// One `sites` entry in a round: the tenant it names (if exactly one), and its outcome.
struct Job {
  std::string key;
  std::string site;
  const Tenant* tenant = nullptr;
  Outcome outcome;
};

class SophosCentralCheck final : public Check {
 public:
  void attach(const Environment& env) override { now_ = env.now; }
  Status configure(const json& params) override;
  Outcome run(const RunContext& context) override { return run_all(context).front(); }
  std::vector<Outcome> run_all(const RunContext& context) override;

 private:
  std::vector<Outcome> round(const RunContext& context);
  std::int64_t wall_now() const {
    const auto now = now_ ? now_() : std::chrono::system_clock::now();
    return std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  }
  // The round could not reach the tenants: the check's own UNKNOWN, and each key's.
  std::vector<Outcome> failed_round(const std::string& why) const;
  Result<std::vector<Tenant>> list_tenants(central::Client& client, const std::string& id_type,
                                           const std::string& id, Clock::time_point deadline) const;
  // `late`: it ran out of its share.
  Outcome poll(central::Client& client, const Tenant& tenant, Clock::time_point deadline,
               Clock::duration share, bool& late) const;
  // Reads a list paged by key, giving each item to `add`; "" or why the tenant fails.
  Status read_keyed(central::Client& client, const Tenant& tenant, const std::string& path,
                    const std::string& what, Clock::time_point deadline,
                    const std::function<void(const json&)>& add, std::string& cut) const;

  std::function<std::chrono::system_clock::time_point()> now_;
  std::string client_id_;
  std::string secret_file_;
  std::string auth_url_ = "https://id.sophos.com";
  std::string api_url_ = "https://api.central.sophos.com";
  std::string ca_file_;
  std::vector<std::pair<std::string, std::string>> sites_;  // key -> site
  int stale_days_ = 14;
  std::size_t concurrency_ = 4;
  std::size_t max_items_ = 10'000;
};

Status SophosCentralCheck::configure(const json& params) {
  if (Status s = check_parameters(
          params, {"client_id", "client_secret_file", "auth_url", "api_url", "ca_file", "sites",
                   "stale_days", "concurrency", "max_endpoints"});
      !s)
    return s;
  std::string client_id, secret_file, ca_file;
  std::string auth_url = auth_url_, api_url = api_url_;
  if (Status s = read_string(params, "client_id", client_id, {.required = true}); !s) return s;
  if (Status s = read_absolute_path(params, "client_secret_file", secret_file, true); !s) return s;
  if (Status s = read_string(params, "auth_url", auth_url); !s) return s;
  if (Status s = read_string(params, "api_url", api_url); !s) return s;
  while (auth_url.ends_with('/')) auth_url.pop_back();
  while (api_url.ends_with('/')) api_url.pop_back();
  if (Status s = check_url("auth_url", auth_url); !s) return s;
  if (Status s = check_url("api_url", api_url); !s) return s;
  if (Status s = read_absolute_path(params, "ca_file", ca_file); !s) return s;
  std::vector<std::pair<std::string, std::string>> sites;
  if (const auto it = params.find("sites"); it != params.end()) {
    if (!it->is_object())
      return Status::invalid("sites: must be an object of \"tenant id or name\": \"site\"");
    for (const auto& [key, value] : it->items()) {
      if (key.empty() || key.find('\0') != std::string::npos || key.size() > 500)
        return Status::invalid("sites: a tenant id or name must be a non-empty string");
      if (Status s = protocol::rules::is_check_id("a/b:" + key); !s)
        return Status::invalid("sites: \"" + clean(key, 60) + "\": " + s.message());
      if (!value.is_string() || !protocol::rules::is_identifier(value.get<std::string>()))
        return Status::invalid("sites: \"" + clean(key, 60) + "\": the site must be a site name " +
                               "(letters, digits, '-', '_', '.')");
      sites.emplace_back(key, value.get<std::string>());
    }
    if (sites.size() >= kMaxOutcomes)
      return Status::invalid("sites: at most " + std::to_string(kMaxOutcomes - 1) + " entries");
  }
  double stale_days = stale_days_, concurrency = static_cast<double>(concurrency_),
         max_items = static_cast<double>(max_items_);
  if (Status s = read_number(params, "stale_days", 1, 3650, stale_days); !s) return s;
  if (Status s = read_number(params, "concurrency", 1, 32, concurrency); !s) return s;
  if (Status s = read_number(params, "max_endpoints", 1, 1'000'000, max_items); !s) return s;
  client_id_ = std::move(client_id);
  secret_file_ = std::move(secret_file);
  auth_url_ = std::move(auth_url);
  api_url_ = std::move(api_url);
  ca_file_ = std::move(ca_file);
  sites_ = std::move(sites);
  stale_days_ = static_cast<int>(stale_days);
  concurrency_ = static_cast<std::size_t>(concurrency);
  max_items_ = static_cast<std::size_t>(max_items);
  return Status::ok();
}

std::vector<Outcome> SophosCentralCheck::failed_round(const std::string& why) const {
  std::vector<Outcome> out;
  out.push_back(unknown_outcome("round failed: " + why));
  for (const auto& [key, site] : sites_) {
    Outcome o = unknown_outcome("not polled: " + why);
    o.target = key;
    o.site = site;
    out.push_back(std::move(o));
  }
  return out;
}

Result<std::vector<Tenant>> SophosCentralCheck::list_tenants(central::Client& client,
                                                             const std::string& id_type,
                                                             const std::string& id,
                                                             Clock::time_point deadline) const {
  const bool partner = id_type == "partner";
  const std::string path = partner ? "/partner/v1/tenants" : "/organization/v1/tenants";
  const central::Headers headers = {{partner ? "X-Partner-ID" : "X-Organization-ID", id}};
  std::vector<Tenant> tenants;
  std::map<std::string, bool, std::less<>> seen;
  std::size_t total = 0;  // pages, when the API says
  for (std::size_t page = 1; page <= kMaxTenantPages; ++page) {
    const std::string what = "tenants page " + std::to_string(page);
    std::string target = path + "?pageSize=" + std::to_string(kPageSize) +
                         "&page=" + std::to_string(page) + (page == 1 ? "&pageTotal=true" : "");
    auto body = client.get(api_url_, target, headers, deadline);
    if (!body) return body.status().with_context(what);
    auto j = central::read_json(*body, what);
    if (!j) return j.status();
    const auto items = j->find("items");
    if (items == j->end() || !items->is_array()) return Status::corruption(what + ": no items");
    for (const auto& item : *items) {
      Tenant t;
      const auto tenant_id = central::string_member(item, "id");
      if (!tenant_id || tenant_id->empty()) {
        return Status::corruption(what + ": a tenant without an id: " + clean(item.dump(), 80));
      }
      t.id = *tenant_id;
      if (!seen.emplace(lower(t.id), true).second) continue;  // the pages moved under us
      t.name = central::string_member(item, "name").value_or("");
      if (t.name.empty()) t.name = t.id;
      t.status = central::string_member(item, "status").value_or("");
      t.api_host = central::string_member(item, "apiHost").value_or("");
      while (t.api_host.ends_with('/')) t.api_host.pop_back();
      if (t.api_host.empty()) {
        t.problem = "the tenant list gives it no apiHost";
      } else if (Status s = check_url("apiHost", t.api_host); !s) {
        t.problem = s.message();
      }
      tenants.push_back(std::move(t));
    }
    if (page == 1) {
      if (const auto pages = j->find("pages"); pages != j->end() && pages->is_object()) {
        if (const auto it = pages->find("total"); it != pages->end() && it->is_number_unsigned())
          total = it->get<std::size_t>();
      }
    }
    // Without a total (unconfirmed), a full page means there may be another.
    const bool more = total > 0 ? page < total : items->size() >= kPageSize;
    if (!more) return tenants;
  }
  return Status::too_large("more than " + std::to_string(kMaxTenantPages * kPageSize) +
                           " tenants: the list was cut");
}

Status SophosCentralCheck::read_keyed(central::Client& client, const Tenant& tenant,
                                      const std::string& path, const std::string& what,
                                      Clock::time_point deadline,
                                      const std::function<void(const json&)>& add,
                                      std::string& cut) const {
  const central::Headers headers = {{"X-Tenant-ID", tenant.id}};
  std::string key;
  std::size_t count = 0;
  for (std::size_t page = 1;; ++page) {
    const std::string where = what + " page " + std::to_string(page);
    std::string target = path + "pageSize=" + std::to_string(kPageSize);
    if (!key.empty()) target += "&pageFromKey=" + url_encode(key);
    auto body = client.get(tenant.api_host, target, headers, deadline);
    if (!body) return body.status().with_context(where);
    bool full = false;  // an item past max_items_ came: the list goes on
    auto rest = central::read_items(*body, where, [&](json& item) {
      if (count >= max_items_) {
        full = true;
        return false;
      }
      add(item);
      ++count;
      return true;
    });
    body->clear();
    if (!rest) return rest.status();
    std::optional<std::string> next;
    if (const auto pages = rest->find("pages"); pages != rest->end())
      next = central::string_member(*pages, "nextKey");
    if (full || (next && !next->empty() && count >= max_items_)) {
      cut = what + " cut at " + std::to_string(max_items_) + " (max_endpoints), after " +
            plural(page, "page", "pages") + ": the list goes on";
      return Status::ok();
    }
    if (!next || next->empty()) return Status::ok();
    if (*next == key) {
      cut = what + " cut after " + plural(page, "page", "pages") + ": the next page's key repeats";
      return Status::ok();
    }
    key = std::move(*next);
  }
}

Outcome SophosCentralCheck::poll(central::Client& client, const Tenant& tenant,
                                 Clock::time_point deadline, Clock::duration share,
                                 bool& late) const {
  Tally tally(wall_now(), static_cast<std::int64_t>(stale_days_) * 86400, stale_days_);
  std::string cut;
  const auto fail = [&](const Status& s) {
    std::string why;
    switch (s.code()) {
      case Code::kPermissionDenied:
        why = "no access (403): the tenant does not allow partner access, or is a trial (" +
              s.message() + ")";
        break;
      case Code::kTimeout:
        late = true;
        why = "not finished within its share of the round (" + seconds_text(share) +
              "): " + s.message();
        break;
      default: why = s.message();
    }
    Outcome o = unknown_outcome(
        why, "tenant " + clean(tenant.name, 200) + " (" + tenant.id + ") on " + tenant.api_host +
                 "\nread before it failed: " + plural(tally.endpoints(), "endpoint", "endpoints") +
                 ", " + plural(tally.alerts(), "alert", "alerts") + "\n");
    return o;
  };
  if (Status s = read_keyed(
          client, tenant, "/endpoint/v1/endpoints?view=full&", "endpoints", deadline,
          [&](const json& e) { tally.add_endpoint(e); }, cut);
      !s)
    return fail(s);
  std::string alerts_cut;
  if (Status s = read_keyed(
          client, tenant, "/common/v1/alerts?", "alerts", deadline,
          [&](const json& a) { tally.add_alert(a); }, alerts_cut);
      !s)
    return fail(s);
  Outcome out = tally.outcome(tenant);
  for (const std::string* c : {&cut, &alerts_cut}) {
    if (c->empty()) continue;
    out.status = worst(out.status, State::kUnknown);
    out.summary = *c + "; " + out.summary;
  }
  return out;
}

std::vector<Outcome> SophosCentralCheck::round(const RunContext& context) {
  if (client_id_.empty()) return {unknown_outcome("check not configured")};
  const auto start = Clock::now();
  // Time kept to put the outcomes together and for a request's last grace (a name
  // lookup left behind takes up to a second more).
  const Clock::duration budget = std::max<Clock::duration>(context.deadline - start, {});
  const Clock::duration reserve =
      std::clamp<Clock::duration>(budget / 5, milliseconds(100), milliseconds(2500));
  const Clock::time_point work_end = context.deadline - reserve;

  auto secret = read_secret(secret_file_);
  if (!secret) return failed_round(secret.status().message());
  auto trust = TlsTrust::create(ca_file_);
  if (!trust) return failed_round("ca_file: " + trust.status().message());
  const central::Endpoints endpoints{auth_url_, api_url_, *trust};
  central::TokenSource tokens(endpoints, client_id_, std::move(*secret));
  central::Client client(endpoints, tokens);

  if (auto token = tokens.get(work_end); !token) return failed_round(token.status().message());
  auto whoami_body = client.get(api_url_, "/whoami/v1", {}, work_end);
  if (!whoami_body) return failed_round("whoami: " + whoami_body.status().message());
  auto whoami = central::read_json(*whoami_body, "whoami");
  if (!whoami) return failed_round(whoami.status().message());
  const std::string id_type = central::string_member(*whoami, "idType").value_or("");
  const std::string id = central::string_member(*whoami, "id").value_or("");
  if (id.empty()) return failed_round("whoami: no id");
  std::vector<Tenant> tenants;
  if (id_type == "partner" || id_type == "organization") {
    auto listed = list_tenants(client, id_type, id, work_end);
    if (!listed) return failed_round(listed.status().message());
    tenants = std::move(*listed);
  } else if (id_type == "tenant") {
    Tenant t{.id = id, .name = id};
    if (const auto hosts = whoami->find("apiHosts"); hosts != whoami->end())
      t.api_host = central::string_member(*hosts, "dataRegion").value_or("");
    while (t.api_host.ends_with('/')) t.api_host.pop_back();
    if (t.api_host.empty()) t.problem = "whoami gives no apiHosts.dataRegion";
    tenants.push_back(std::move(t));
  } else {
    return failed_round("whoami: idType \"" + clean(id_type, 40) + "\" not understood");
  }

  // Each key to its tenant: by id (any case), else by name.
  std::map<std::string, std::vector<const Tenant*>, std::less<>> by_id, by_name;
  for (const auto& t : tenants) {
    by_id[lower(t.id)].push_back(&t);
    by_name[t.name].push_back(&t);
  }
  std::vector<Job> jobs;
  std::map<const Tenant*, std::string> mapped;  // tenant -> its key
  std::vector<std::string> key_problems;
  for (const auto& [key, site] : sites_) {
    Job job{.key = key, .site = site};
    const auto id_it = by_id.find(lower(key));
    const auto name_it = by_name.find(key);
    const std::vector<const Tenant*>* found = id_it != by_id.end()       ? &id_it->second
                                              : name_it != by_name.end() ? &name_it->second
                                                                         : nullptr;
    if (found == nullptr) {
      job.outcome = unknown_outcome("no tenant of the credential has this id or name");
      key_problems.push_back("\"" + key + "\" matches no tenant");
    } else if (found->size() > 1) {
      std::string ids;
      for (const Tenant* t : *found) ids += (ids.empty() ? "" : ", ") + t->id;
      job.outcome = unknown_outcome(std::to_string(found->size()) +
                                    " tenants are named so: map them by id (" + ids + ")");
      key_problems.push_back("\"" + key + "\" names several tenants");
    } else if (const auto [it, fresh] = mapped.emplace(found->front(), key); !fresh) {
      job.outcome = unknown_outcome("the tenant is also mapped as \"" + it->second + "\"");
      key_problems.push_back("\"" + key + "\" maps a tenant mapped already");
    } else if (!found->front()->problem.empty()) {
      job.outcome = unknown_outcome(found->front()->problem);
    } else {
      job.tenant = found->front();
    }
    jobs.push_back(std::move(job));
  }

  // The mapped tenants, `concurrency` at a time, each within its share of what is left.
  // The fair share would have the last tenant end at work_end if each took all of its
  // own; tenants differ in size, so each may take twice that, or a thirtieth of the
  // round when more, never past work_end: a slow tenant costs its worker a bounded
  // time while the others go on. Tenants that ran out of their share (a big one early
  // in the round) try again, sharing the time the others left.
  std::vector<std::size_t> todo;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (jobs[i].tenant != nullptr) todo.push_back(i);
  }
  std::vector<std::unique_ptr<central::Client>> clients;
  for (std::size_t w = 1; w < std::min(concurrency_, todo.size()); ++w)
    clients.push_back(std::make_unique<central::Client>(endpoints, tokens));
  std::vector<char> late(jobs.size(), 0);
  const Clock::time_point polling = Clock::now();
  const auto pass = [&](const std::vector<std::size_t>& list) {
    const std::size_t workers = std::min(clients.size() + 1, list.size());
    std::atomic<std::size_t> next{0};
    const auto work = [&](central::Client& own) {
      for (;;) {
        const std::size_t n = next.fetch_add(1);
        if (n >= list.size()) break;
        Job& job = jobs[list[n]];
        const auto now = Clock::now();
        if (now >= work_end) {
          job.outcome = unknown_outcome("not polled: the round's time ran out");
          continue;
        }
        const std::size_t rounds = (list.size() - n + workers - 1) / workers;
        const Clock::duration share = std::min<Clock::duration>(
            work_end - now,
            std::max<Clock::duration>((work_end - now) * 2 / static_cast<long>(rounds),
                                      (work_end - polling) / 30));
        bool timed_out = false;
        job.outcome = poll(own, *job.tenant, now + share, share, timed_out);
        late[list[n]] = timed_out ? 1 : 0;
      }
    };
    std::vector<std::thread> threads;
    for (std::size_t w = 1; w < workers; ++w)
      threads.emplace_back([&work, own = clients[w - 1].get()] { work(*own); });
    work(client);
    for (auto& thread : threads) thread.join();
  };
  pass(todo);
  std::vector<std::size_t> again;
  for (const std::size_t i : todo) {
    if (late[i]) again.push_back(i);
  }
  if (!again.empty() && work_end - Clock::now() > std::chrono::seconds(1)) {
    pass(again);
    for (const std::size_t i : again) jobs[i].outcome.details += "read on a second try\n";
  }
  int rate_limited = client.rate_limited();
  for (const auto& c : clients) rate_limited += c->rate_limited();

  // The check's own outcome: the round.
  std::vector<std::string> unmapped;
  for (const auto& t : tenants) {
    if (!mapped.contains(&t)) unmapped.push_back(clean(t.name, 80) + " (" + t.id + ")");
  }
  std::size_t failed = 0;
  for (const auto& job : jobs) failed += job.outcome.status == State::kUnknown ? 1 : 0;
  Outcome own;
  own.status = unmapped.empty() && key_problems.empty() ? State::kOk : State::kWarning;
  own.summary = plural(tenants.size(), "tenant", "tenants") + " (" + id_type + " credential), " +
                std::to_string(jobs.size() - failed) + " of " + std::to_string(jobs.size()) +
                " mapped read in " + seconds_text(Clock::now() - start);
  if (failed > 0) own.summary += " (" + std::to_string(failed) + " UNKNOWN)";
  if (!key_problems.empty()) {
    own.summary +=
        "; sites: " + key_problems.front() +
        (key_problems.size() > 1 ? " and " + std::to_string(key_problems.size() - 1) + " more"
                                 : std::string());
  }
  if (!unmapped.empty()) {
    own.summary += "; " + plural(unmapped.size(), "tenant", "tenants") + " without a site: ";
    for (std::size_t i = 0; i < unmapped.size() && i < 5; ++i)
      own.summary += (i ? ", " : "") + unmapped[i];
    if (unmapped.size() > 5) own.summary += " and " + std::to_string(unmapped.size() - 5) + " more";
  }
  for (const auto& problem : key_problems) own.details += "sites: " + problem + "\n";
  for (const auto& name : unmapped) own.details += "without a site: " + name + "\n";
  own.details += "tokens fetched: " + std::to_string(tokens.fetched()) + "\n";
  own.metrics = {
      threshold_metric("tenants", static_cast<double>(tenants.size()), "", std::nullopt,
                       std::nullopt),
      threshold_metric("unmapped", static_cast<double>(unmapped.size()), "", 0, std::nullopt),
      threshold_metric("failed", static_cast<double>(failed), "", std::nullopt, std::nullopt),
      threshold_metric("rate_limited", rate_limited, "", std::nullopt, std::nullopt),
      threshold_metric("round_time", std::chrono::duration<double>(Clock::now() - start).count(),
                       "s", std::nullopt, std::nullopt),
  };

  std::vector<Outcome> out;
  out.reserve(jobs.size() + 1);
  out.push_back(std::move(own));
  for (auto& job : jobs) {
    job.outcome.target = job.key;
    job.outcome.site = job.site;
    out.push_back(std::move(job.outcome));
  }
  return out;
}

std::vector<Outcome> SophosCentralCheck::run_all(const RunContext& context) {
  std::vector<Outcome> out = round(context);
  // The round's pages, parsed items and TLS sessions are freed, but glibc keeps what
  // the workers' threads used in their arenas: some 5 MB for 300 tenants, held for
  // nothing until the next round. Given back (docs/performance.md).
  ::malloc_trim(0);
  return out;
}

}  // namespace

std::unique_ptr<Check> make_sophos_central_check() {
  return std::make_unique<SophosCentralCheck>();
}

}  // namespace vigie::plugins::antivirus
