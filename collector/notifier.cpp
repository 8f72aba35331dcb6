#include "collector/notifier.hpp"

#include <curl/curl.h>
#include <fnmatch.h>

#include <algorithm>
#include <ctime>
#include <set>

#include "common/duration.hpp"
#include "common/file.hpp"
#include "common/log.hpp"
#include "common/time.hpp"

namespace vigie::collector {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------
// Configuration

constexpr std::size_t kMaxConfigBytes = 1 << 20;

Status key_error(std::string_view path, std::string_view reason) {
  return Status::invalid(std::string(path) + ": " + std::string(reason));
}

std::string join_path(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : std::string(parent) + "." + std::string(key);
}

// Unknown keys are typos: refuse them, naming the ones allowed.
Status check_keys(const json& object, std::string_view path,
                  std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string list;
    for (const auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    return key_error(join_path(path, key), "unknown key (expected one of: " + list + ")");
  }
  return Status::ok();
}

Status read_string(const json& object, std::string_view parent, std::string_view key, bool required,
                   std::string& out) {
  const auto it = object.find(key);
  if (it == object.end()) {
    return required ? key_error(join_path(parent, key), "required") : Status::ok();
  }
  if (!it->is_string() || it->get_ref<const std::string&>().empty())
    return key_error(join_path(parent, key), "expected a non-empty string");
  out = it->get<std::string>();
  return Status::ok();
}

Status read_strings(const json& object, std::string_view parent, std::string_view key,
                    std::vector<std::string>& out) {
  const auto it = object.find(key);
  if (it == object.end()) return Status::ok();
  const std::string path = join_path(parent, key);
  if (it->is_string()) {
    out = {it->get<std::string>()};
    return Status::ok();
  }
  if (!it->is_array()) return key_error(path, "expected a string or an array of strings");
  for (std::size_t i = 0; i < it->size(); ++i) {
    const auto& v = (*it)[i];
    if (!v.is_string() || v.get_ref<const std::string&>().empty())
      return key_error(path + "[" + std::to_string(i) + "]", "expected a non-empty string");
    out.push_back(v.get<std::string>());
  }
  return Status::ok();
}

Status read_duration(const json& object, std::string_view parent, std::string_view key,
                     bool allow_zero, std::chrono::milliseconds& out) {
  const auto it = object.find(key);
  if (it == object.end()) return Status::ok();
  const std::string path = join_path(parent, key);
  if (!it->is_string()) return key_error(path, "expected a duration such as \"30s\" or \"4h\"");
  const auto& text = it->get_ref<const std::string&>();
  if (allow_zero && (text == "0" || text == "off")) {
    out = std::chrono::milliseconds(0);
    return Status::ok();
  }
  auto d = parse_duration(text);
  if (!d) return key_error(path, d.status().message());
  if (d->count() <= 0) return key_error(path, "expected a positive duration");
  out = *d;
  return Status::ok();
}

Status read_int(const json& object, std::string_view parent, std::string_view key, int min, int max,
                int& out) {
  const auto it = object.find(key);
  if (it == object.end()) return Status::ok();
  if (!it->is_number_integer() || it->get<std::int64_t>() < min || it->get<std::int64_t>() > max)
    return key_error(join_path(parent, key),
                     "expected a whole number " + std::to_string(min) + ".." + std::to_string(max));
  out = it->get<int>();
  return Status::ok();
}

Status check_url(std::string_view path, const std::string& url) {
  if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0)
    return key_error(path, "expected an http:// or https:// URL, got \"" + url + "\"");
  const auto host_start = url.find("://") + 3;
  if (host_start >= url.size() || url[host_start] == '/')
    return key_error(path, "no host in \"" + url + "\"");
  for (const char c : url) {
    if (static_cast<unsigned char>(c) <= ' ')
      return key_error(path, "spaces or control characters in the URL");
  }
  return Status::ok();
}

Status check_readable(std::string_view path, const std::string& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    return key_error(path, "\"" + file + "\" is not a readable file");
  return Status::ok();
}

// A sample alert, to check that a body_text template gives JSON once filled in.
Outgoing sample_outgoing() {
  Alert a{.site = "site \"quoted\"\n",
          .agent = "agent",
          .check = "backup/restic:/srv",
          .family = "backup",
          .kind = "problem",
          .state = State::kCritical,
          .summary = "a \\ b \t c",
          .ts_ms = 1'700'000'000'000,
          .since_ms = 1'700'000'000'000};
  return {.channel = 0, .alerts = {a}, .digest = false};
}

Status parse_channel(const json& item, const std::string& path, AlertChannel& c) {
  if (!item.is_object()) return key_error(path, "expected an object");
  if (Status s = check_keys(item, path,
                            {"name", "type", "url", "ca_file", "headers", "body", "body_text", "to",
                             "attempts", "retry_wait", "timeout"});
      !s)
    return s;
  if (Status s = read_string(item, path, "name", true, c.name); !s) return s;
  std::string type;
  if (Status s = read_string(item, path, "type", true, type); !s) return s;
  if (type == "webhook") {
    c.kind = AlertChannel::Kind::kWebhook;
    if (Status s = read_string(item, path, "url", true, c.url); !s) return s;
    if (Status s = check_url(path + ".url", c.url); !s) return s;
    if (Status s = read_string(item, path, "ca_file", false, c.ca_file); !s) return s;
    if (!c.ca_file.empty()) {
      if (Status s = check_readable(path + ".ca_file", c.ca_file); !s) return s;
    }
    if (Status s = read_strings(item, path, "headers", c.headers); !s) return s;
    for (std::size_t i = 0; i < c.headers.size(); ++i) {
      const auto& h = c.headers[i];
      if (h.find(':') == std::string::npos || h.front() == ':' ||
          h.find_first_of("\r\n") != std::string::npos)
        return key_error(path + ".headers[" + std::to_string(i) + "]",
                         "expected \"Name: value\" on one line");
    }
    if (item.contains("body") && item.contains("body_text"))
      return key_error(path, "body and body_text: give one or the other");
    if (item.contains("body")) c.body = item.at("body");
    if (item.contains("body_text")) {
      std::string text;
      if (Status s = read_string(item, path, "body_text", true, text); !s) return s;
      c.body_text = text;
      const std::string filled = render_template(text, sample_outgoing(), 0, true);
      if (!json::accept(filled))
        return key_error(path + ".body_text", "is not JSON once its placeholders are filled in");
    }
  } else if (type == "email") {
    c.kind = AlertChannel::Kind::kEmail;
    if (Status s = read_strings(item, path, "to", c.to); !s) return s;
    if (c.to.empty()) return key_error(path + ".to", "required: at least one address");
    for (std::size_t i = 0; i < c.to.size(); ++i) {
      const auto& a = c.to[i];
      const auto at = a.find('@');
      if (at == std::string::npos || at == 0 || at + 1 == a.size() ||
          a.find_first_of(" \t\r\n<>,;") != std::string::npos)
        return key_error(path + ".to[" + std::to_string(i) + "]",
                         "\"" + a + "\" is not an e-mail address");
    }
    for (const auto* key : {"url", "ca_file", "headers", "body", "body_text"}) {
      if (item.contains(key)) return key_error(join_path(path, key), "only for webhook channels");
    }
  } else {
    return key_error(path + ".type", "expected \"webhook\" or \"email\", got \"" + type + "\"");
  }
  if (Status s = read_int(item, path, "attempts", 1, 20, c.attempts); !s) return s;
  if (Status s = read_duration(item, path, "retry_wait", false, c.first_wait); !s) return s;
  if (Status s = read_duration(item, path, "timeout", false, c.timeout); !s) return s;
  return Status::ok();
}

Status parse_rule(const json& item, const std::string& path, const AlertConfig& config,
                  AlertRule& rule) {
  if (!item.is_object()) return key_error(path, "expected an object");
  if (Status s = check_keys(item, path, {"sites", "families", "min_state", "channels"}); !s)
    return s;
  if (Status s = read_strings(item, path, "sites", rule.sites); !s) return s;
  if (Status s = read_strings(item, path, "families", rule.families); !s) return s;
  std::string min;
  if (Status s = read_string(item, path, "min_state", false, min); !s) return s;
  if (!min.empty()) {
    const auto state = state_from_name(min);
    if (!state || *state == State::kOk)
      return key_error(path + ".min_state",
                       "expected \"warning\", \"unknown\" or \"critical\", got \"" + min + "\"");
    rule.min_state = *state;
  }
  if (Status s = read_strings(item, path, "channels", rule.channels); !s) return s;
  if (rule.channels.empty()) return key_error(path + ".channels", "required: at least one channel");
  for (std::size_t i = 0; i < rule.channels.size(); ++i) {
    const auto& name = rule.channels[i];
    if (std::none_of(config.channels.begin(), config.channels.end(),
                     [&](const AlertChannel& c) { return c.name == name; })) {
      std::string known;
      for (const auto& c : config.channels) known += (known.empty() ? "" : ", ") + c.name;
      return key_error(path + ".channels[" + std::to_string(i) + "]",
                       "no channel named \"" + name + "\" (channels: " + known + ")");
    }
  }
  return Status::ok();
}

Status parse_document(const json& root, AlertConfig& config) {
  if (!root.is_object()) return Status::invalid("expected a JSON object");
  if (Status s = check_keys(root, "", {"smtp", "channels", "rules", "renotify", "storm"}); !s)
    return s;
  if (root.contains("smtp")) {
    auto relay = mail::parse_relay(root.at("smtp"), "smtp");
    if (!relay) return relay.status();
    config.smtp = std::move(*relay);
  }
  const auto channels = root.find("channels");
  if (channels == root.end() || !channels->is_array() || channels->empty())
    return key_error("channels", "required: an array of at least one channel");
  std::set<std::string> names;
  for (std::size_t i = 0; i < channels->size(); ++i) {
    const std::string path = "channels[" + std::to_string(i) + "]";
    AlertChannel c;
    if (Status s = parse_channel((*channels)[i], path, c); !s) return s;
    if (!names.insert(c.name).second)
      return key_error(path + ".name", "\"" + c.name + "\" is used by another channel");
    if (c.kind == AlertChannel::Kind::kEmail && !config.smtp)
      return key_error(path, "an e-mail channel needs the \"smtp\" relay block");
    if (c.kind == AlertChannel::Kind::kEmail && config.smtp->from.empty())
      return key_error("smtp.from", "required for e-mail channels (the sender's address)");
    config.channels.push_back(std::move(c));
  }
  const auto rules = root.find("rules");
  if (rules == root.end() || !rules->is_array() || rules->empty())
    return key_error("rules", "required: an array of at least one rule");
  for (std::size_t i = 0; i < rules->size(); ++i) {
    AlertRule rule;
    if (Status s = parse_rule((*rules)[i], "rules[" + std::to_string(i) + "]", config, rule); !s)
      return s;
    config.rules.push_back(std::move(rule));
  }
  if (Status s = read_duration(root, "", "renotify", true, config.renotify); !s) return s;
  if (const auto storm = root.find("storm"); storm != root.end()) {
    if (!storm->is_object()) return key_error("storm", "expected an object");
    if (Status s = check_keys(*storm, "storm", {"threshold", "window", "hold"}); !s) return s;
    if (Status s = read_int(*storm, "storm", "threshold", 1, 100'000, config.storm_threshold); !s)
      return s;
    if (Status s = read_duration(*storm, "storm", "window", false, config.storm_window); !s)
      return s;
    if (Status s = read_duration(*storm, "storm", "hold", false, config.hold); !s) return s;
    if (config.hold > config.storm_window)
      return key_error("storm.hold", "longer than storm.window");
  }
  return Status::ok();
}

// ---------------------------------------------------------------------------------
// Messages

std::string utc_time(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool is_recovery(const Alert& a) { return a.kind == "recovery"; }

// The state a recovery counts as, for routing and sorting: what it ends.
State routing_state(const Alert& a) { return is_recovery(a) ? a.from : a.state; }

std::string what_of(const Alert& a) {
  std::string what = a.agent.empty() ? "site " + a.site : a.site + " " + a.agent;
  if (!a.check.empty()) what += " " + a.check;
  return what;
}

std::string label_of(const Alert& a) {
  const std::string state(state_name(a.state));
  if (a.kind == "problem") return state;
  if (a.kind == "recovery") return "RECOVERED";
  if (a.kind == "reminder") return "STILL " + state;
  return state + " (" + a.kind + ")";
}

std::string title_of(const Alert& a) {
  return "[" + label_of(a) + "] " + what_of(a) + ": " + a.summary;
}

State worst_of(const std::vector<Alert>& alerts) {
  State w = State::kOk;
  for (const auto& a : alerts) w = worst(w, routing_state(a));
  return w;
}

std::size_t site_count(const std::vector<Alert>& alerts) {
  std::set<std::string> sites;
  for (const auto& a : alerts) sites.insert(a.site);
  return sites.size();
}

std::string digest_title(const Outgoing& out) {
  const std::size_t sites = site_count(out.alerts);
  return "[" + std::string(state_name(worst_of(out.alerts))) + "] " +
         std::to_string(out.alerts.size()) + " alerts on " + std::to_string(sites) +
         (sites == 1 ? " site" : " sites");
}

std::string digest_text(const Outgoing& out) {
  std::map<std::string, std::vector<const Alert*>> by_site;
  for (const auto& a : out.alerts) by_site[a.site].push_back(&a);
  std::string text = digest_title(out) + " (too many at once to send one by one)\n";
  for (auto& [site, alerts] : by_site) {
    std::stable_sort(alerts.begin(), alerts.end(), [](const Alert* x, const Alert* y) {
      return severity(routing_state(*x)) > severity(routing_state(*y));
    });
    text += "\n" + site + " (" + std::to_string(alerts.size()) + ")\n";
    for (const Alert* a : alerts) {
      std::string what = a->agent.empty() ? "site" : a->agent;
      if (!a->check.empty()) what += " " + a->check;
      text += "  " + label_of(*a) + "  " + what + ": " + a->summary + "\n";
    }
  }
  return text;
}

std::string single_text(const Alert& a, std::int64_t now_ms) {
  std::string text = title_of(a) + "\n\n";
  text += "Site:    " + a.site + "\n";
  if (!a.agent.empty()) text += "Agent:   " + a.agent + "\n";
  if (!a.check.empty()) text += "Check:   " + a.check + "\n";
  text += "State:   " + std::string(state_name(a.state));
  if (a.from != a.state) text += " (was " + std::string(state_name(a.from)) + ")";
  text += "\nSummary: " + a.summary + "\n";
  text += "Since:   " + utc_time(a.since_ms) + " (" +
          human_duration(std::chrono::milliseconds(now_ms - a.since_ms)) + ")\n";
  text += "Event:   " + a.kind + " at " + utc_time(a.ts_ms) + "\n";
  return text;
}

json alert_json(const Alert& a) {
  return {{"kind", a.kind},
          {"site", a.site},
          {"agent", a.agent},
          {"check", a.check},
          {"family", a.family},
          {"state", state_name(a.state)},
          {"from", state_name(a.from)},
          {"summary", a.summary},
          {"time", a.ts_ms},
          {"since", a.since_ms},
          {"title", title_of(a)}};
}

std::string json_escaped(std::string_view text) {
  const std::string quoted =
      json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

void fill_strings(json& value, const Outgoing& out, std::int64_t now_ms) {
  if (value.is_string()) {
    value = render_template(value.get_ref<const std::string&>(), out, now_ms, false);
  } else if (value.is_structured()) {
    for (auto& item : value) fill_strings(item, out, now_ms);
  }
}

std::string host_of(const std::string& url) {
  auto start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  const auto end = url.find_first_of("/?#", start);
  std::string host = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (const auto at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
  return host;
}

std::string target_of(const AlertChannel& c) {
  if (c.kind == AlertChannel::Kind::kWebhook) return c.name + " (" + host_of(c.url) + ")";
  std::string to;
  for (const auto& a : c.to) to += (to.empty() ? "" : ", ") + a;
  return c.name + " (" + to + ")";
}

std::string key_of(const Alert& a) {
  if (!a.check.empty()) return "c\x1f" + a.agent + "\x1f" + a.check;
  if (!a.agent.empty()) return "a\x1f" + a.agent;
  return "s\x1f" + a.site;
}

}  // namespace

Result<AlertConfig> parse_alert_config(std::string_view text, std::string_view where) {
  json root;
  try {
    root = json::parse(text, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const json::exception& e) {
    return Status::invalid(std::string(where) + ": not valid JSON: " + e.what());
  }
  AlertConfig config;
  Status s;
  try {
    s = parse_document(root, config);
  } catch (const json::exception& e) {  // a bug in a check above, not the file's fault
    s = Status::invalid(e.what());
  }
  if (!s) return s.with_context(where);
  return config;
}

Result<AlertConfig> load_alert_config(const std::filesystem::path& path) {
  auto text = read_file(path.string(), kMaxConfigBytes);
  if (!text) return text.status();
  return parse_alert_config(*text, path.string());
}

std::string render_template(std::string_view text, const Outgoing& out, std::int64_t now_ms,
                            bool json_escape) {
  const bool one = out.alerts.size() == 1 && !out.digest;
  const Alert empty;
  const Alert& a = out.alerts.empty() ? empty : out.alerts.front();
  auto value = [&](std::string_view name) -> std::optional<std::string> {
    if (name == "count") return std::to_string(out.alerts.size());
    if (name == "title") return one ? title_of(a) : digest_title(out);
    if (name == "text") return one ? single_text(a, now_ms) : digest_text(out);
    if (name == "state") return std::string(state_name(one ? a.state : worst_of(out.alerts)));
    if (name == "time") return utc_time(one ? a.ts_ms : now_ms);
    if (!one) {
      const std::size_t sites = site_count(out.alerts);
      if (name == "site") return sites == 1 ? a.site : std::to_string(sites) + " sites";
      if (name == "summary") return digest_title(out);
      if (name == "kind") return std::string("digest");
      if (name == "agent" || name == "check" || name == "family" || name == "from" || name == "age")
        return std::string();
      return std::nullopt;
    }
    if (name == "site") return a.site;
    if (name == "agent") return a.agent;
    if (name == "check") return a.check;
    if (name == "family") return a.family;
    if (name == "from") return std::string(state_name(a.from));
    if (name == "kind") return a.kind;
    if (name == "summary") return a.summary;
    if (name == "age") return human_duration(std::chrono::milliseconds(now_ms - a.since_ms));
    return std::nullopt;
  };
  std::string result;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto open = text.find("{{", i);
    if (open == std::string_view::npos) break;
    const auto close = text.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    result.append(text.substr(i, open - i));
    std::string_view name = text.substr(open + 2, close - open - 2);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (auto v = value(name)) {
      result += json_escape ? json_escaped(*v) : *v;
    } else {
      result.append(text.substr(open, close + 2 - open));
    }
    i = close + 2;
  }
  result.append(text.substr(std::min(i, text.size())));
  return result;
}

std::string webhook_body(const AlertChannel& channel, const Outgoing& out, std::int64_t now_ms) {
  if (channel.body_text) return render_template(*channel.body_text, out, now_ms, true);
  json body;
  if (channel.body) {
    body = *channel.body;
    fill_strings(body, out, now_ms);
  } else if (out.digest || out.alerts.size() != 1) {
    json list = json::array();
    for (const auto& a : out.alerts) list.push_back(alert_json(a));
    body = {{"type", "digest"},
            {"count", out.alerts.size()},
            {"title", digest_title(out)},
            {"text", digest_text(out)},
            {"alerts", std::move(list)}};
  } else {
    body = alert_json(out.alerts.front());
    body["type"] = "alert";
    body["text"] = single_text(out.alerts.front(), now_ms);
  }
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string mail_subject(const Outgoing& out) {
  if (out.digest || out.alerts.size() != 1) return "[vigie] " + digest_title(out);
  return "[vigie] " + title_of(out.alerts.front());
}

std::string mail_text(const Outgoing& out, std::int64_t now_ms) {
  const std::string body = out.digest || out.alerts.size() != 1
                               ? digest_text(out)
                               : single_text(out.alerts.front(), now_ms);
  return body + "\n-- \nvigie, " + utc_time(now_ms) + "\n";
}

// ---------------------------------------------------------------------------------
// AlertPlanner

AlertPlanner::AlertPlanner(const AlertConfig& config, const StateEngine& engine)
    : config_(config), engine_(engine), channels_(config.channels.size()) {}

std::vector<std::size_t> AlertPlanner::route(const Alert& alert) const {
  std::vector<bool> chosen(config_.channels.size(), false);
  const int level = severity(routing_state(alert));
  for (const auto& rule : config_.rules) {
    if (level < severity(rule.min_state)) continue;
    if (!rule.families.empty() &&
        std::find(rule.families.begin(), rule.families.end(), alert.family) == rule.families.end())
      continue;
    if (!rule.sites.empty() &&
        std::none_of(rule.sites.begin(), rule.sites.end(),
                     [&](const auto& g) { return fnmatch(g.c_str(), alert.site.c_str(), 0) == 0; }))
      continue;
    for (const auto& name : rule.channels) {
      for (std::size_t i = 0; i < config_.channels.size(); ++i) {
        if (config_.channels[i].name == name) chosen[i] = true;
      }
    }
  }
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    if (chosen[i]) out.push_back(i);
  }
  return out;
}

std::optional<std::string> AlertPlanner::quiet_reason(const Alert& alert) const {
  auto site_state = [&]() -> std::optional<SiteSummary> {
    for (auto& s : engine_.sites()) {
      if (s.name == alert.site) return s;
    }
    return std::nullopt;
  };
  if (!alert.check.empty()) {
    const auto c = engine_.check(alert.agent, alert.check);
    if (!c || !c->problem()) return std::nullopt;
    if (c->ack) return "acknowledged by " + c->ack->author;
    if (c->in_downtime) return std::string("in downtime");
    if (c->flapping) return std::string("flapping");
    if (c->agent_lost) {
      const auto site = site_state();
      return std::string(site && site->unreachable ? "site unreachable" : "agent unreachable");
    }
    return std::string();
  }
  const auto site = site_state();
  if (!site) return std::nullopt;
  if (!alert.agent.empty()) {
    const auto agents = engine_.agents(alert.site);
    const auto it = std::find_if(agents.begin(), agents.end(),
                                 [&](const AgentState& a) { return a.id == alert.agent; });
    if (it == agents.end() || !it->lost) return std::nullopt;
    if (site->unreachable) return std::string("site unreachable");
    if (site->in_downtime) return std::string("in downtime");
    return std::string();
  }
  if (!site->unreachable) return std::nullopt;
  if (site->in_downtime) return std::string("in downtime");
  return std::string();
}

void AlertPlanner::seed(std::int64_t now_ms) {
  for (const auto& c : engine_.checks({.problems_only = true})) {
    if (c.last.check == "vigie/heartbeat") continue;
    if (c.ack || c.in_downtime || c.flapping || c.agent_lost) continue;
    Alert a{.site = c.site,
            .agent = c.agent,
            .check = c.last.check,
            .family = check_family(c.last.check),
            .kind = "problem",
            .state = c.effective_hard(),
            .from = State::kOk,
            .summary = c.stale ? c.stale_reason : c.last.summary,
            .ts_ms = c.hard_since_ms,
            .since_ms = c.hard_since_ms};
    open_[key_of(a)] = {a, now_ms};
  }
  for (const auto& s : engine_.sites()) {
    if (!s.unreachable || s.in_downtime) continue;
    Alert a{.site = s.name,
            .family = "site",
            .kind = "problem",
            .state = State::kCritical,
            .summary = "site unreachable",
            .ts_ms = s.unreachable_since_ms,
            .since_ms = s.unreachable_since_ms};
    open_[key_of(a)] = {a, now_ms};
  }
}

void AlertPlanner::add(const std::vector<Event>& events, std::int64_t now_ms, Plan& plan) {
  for (const auto& e : events) consider(e, now_ms, plan);
}

void AlertPlanner::suppress(const Alert& alert, const std::string& reason, std::int64_t now_ms,
                            Plan& plan) {
  for (const std::size_t i : route(alert)) {
    const auto& c = config_.channels[i];
    plan.records.push_back({.ts_ms = now_ms,
                            .site = alert.site,
                            .agent = alert.agent,
                            .check = alert.check,
                            .channel = c.kind == AlertChannel::Kind::kEmail ? "email" : "webhook",
                            .target = target_of(c),
                            .kind = alert.kind,
                            .state = alert.state,
                            .status = "suppressed",
                            .detail = reason});
  }
}

void AlertPlanner::consider(const Event& e, std::int64_t now_ms, Plan& plan) {
  if (e.backfill) return;  // the past: a check's history, not news
  Alert a{.site = e.site,
          .agent = e.agent,
          .check = e.check,
          .family = e.check.empty() ? (e.agent.empty() ? "site" : "agent") : check_family(e.check),
          .kind = "problem",
          .state = e.to,
          .from = e.from,
          .summary = e.summary,
          .ts_ms = e.ts_ms,
          .since_ms = e.ts_ms,
          .event_id = e.id};
  switch (e.kind) {
    case EventKind::kState:
      if (e.type != StateType::kHard) return;
      break;
    case EventKind::kStale:
      if (!e.notify) return;  // staleness under a lost agent or a quiet check: no news
      break;
    case EventKind::kFresh: {
      // A check that was notified stale and reports OK again: its recovery (a hard
      // recovery, when there is one, comes as its own event and finds nothing open).
      const auto it = open_.find(key_of(a));
      if (it == open_.end() || e.to != State::kOk ||
          it->second.alert.summary.rfind("stale", 0) != 0)
        return;
      break;
    }
    case EventKind::kAgentLost:
      a.check.clear();
      a.family = "agent";
      break;
    case EventKind::kAgentBack:
    case EventKind::kSiteUnreachable:
    case EventKind::kSiteReachable: break;
    case EventKind::kAckExpired: a.kind = "ack expired"; break;
    case EventKind::kAckRemoved:
      if (!e.notify) return;
      a.kind = "ack removed";
      break;
    case EventKind::kDowntimeEnd:
      if (!e.notify) return;
      a.kind = "downtime over";
      break;
    case EventKind::kFlappingStop:
      if (!e.notify) return;
      a.kind = "flapping over";
      break;
    default: return;  // acknowledgements, downtimes starting, flapping starting: no alert
  }
  const std::string key = key_of(a);
  const bool recovery = e.to == State::kOk;
  if (recovery) {
    const auto it = open_.find(key);
    if (it == open_.end()) return;  // no problem was notified: nothing to take back
    a.kind = "recovery";
    a.from = it->second.alert.state;
    a.since_ms = it->second.alert.since_ms;
    open_.erase(it);
    if (!e.notify) {
      std::string reason = "site reachable again: its own alert says so";
      if (!a.check.empty()) {
        const auto c = engine_.check(a.agent, a.check);
        reason = c && c->in_downtime ? "in downtime" : c && c->flapping ? "flapping" : "silenced";
      } else if (e.kind == EventKind::kSiteReachable) {
        reason = "in downtime";
      }
      suppress(a, reason, now_ms, plan);
      return;
    }
    enqueue(a, now_ms, plan);
    return;
  }
  // Still failing since an earlier alert (WARNING turning CRITICAL, an acknowledgement
  // over): {{age}} counts from when the problem began.
  if (const auto it = open_.find(key); it != open_.end()) {
    a.since_ms = it->second.alert.since_ms;
  } else if (a.kind != "problem" && !a.check.empty()) {
    if (const auto c = engine_.check(a.agent, a.check); c) a.since_ms = c->hard_since_ms;
  }
  if (!e.notify) {
    std::string reason = quiet_reason(a).value_or("");
    if (reason.empty()) reason = "silenced by the state engine";
    suppress(a, reason, now_ms, plan);
    return;
  }
  open_[key] = {a, now_ms};
  enqueue(a, now_ms, plan);
}

void AlertPlanner::enqueue(const Alert& alert, std::int64_t now_ms, Plan&) {
  for (const std::size_t i : route(alert)) {
    ChannelState& cs = channels_[i];
    if (cs.held.empty()) cs.held_since_ms = now_ms;
    cs.held.push_back(alert);
    if (cs.storm) ++cs.window_count;
  }
}

void AlertPlanner::tick(std::int64_t now_ms, Plan& plan) {
  // Reminders of problems still failing, and a clean-up of those no longer failing.
  if (config_.renotify.count() > 0) {
    for (auto it = open_.begin(); it != open_.end();) {
      Open& o = it->second;
      if (now_ms - o.last_sent_ms < config_.renotify.count()) {
        ++it;
        continue;
      }
      const auto reason = quiet_reason(o.alert);
      if (!reason) {
        it = open_.erase(it);
        continue;
      }
      o.last_sent_ms = now_ms;
      if (reason->empty()) {
        Alert a = o.alert;
        a.kind = "reminder";
        a.ts_ms = now_ms;
        a.event_id = 0;
        if (!a.check.empty()) {
          if (const auto c = engine_.check(a.agent, a.check); c) {
            a.state = c->effective_hard();
            a.summary = c->stale ? c->stale_reason : c->last.summary;
          }
        }
        enqueue(a, now_ms, plan);
      }
      ++it;
    }
  }

  for (std::size_t i = 0; i < channels_.size(); ++i) {
    ChannelState& cs = channels_[i];
    if (cs.storm) {
      if (now_ms < cs.window_end_ms) continue;
      if (!cs.held.empty())
        plan.send.push_back({.channel = i, .alerts = std::move(cs.held), .digest = true});
      cs.held.clear();
      if (cs.window_count <= config_.storm_threshold) {
        cs.storm = false;  // calm again: back to one message per alert
        cs.sent.clear();
      } else {
        cs.window_end_ms = now_ms + config_.storm_window.count();
      }
      cs.window_count = 0;
      continue;
    }
    if (cs.held.empty() || now_ms - cs.held_since_ms < config_.hold.count()) continue;
    while (!cs.sent.empty() && cs.sent.front() <= now_ms - config_.storm_window.count())
      cs.sent.pop_front();
    if (cs.sent.size() + cs.held.size() > static_cast<std::size_t>(config_.storm_threshold)) {
      cs.storm = true;
      cs.window_end_ms = now_ms + config_.storm_window.count();
      cs.window_count = 0;
      plan.send.push_back({.channel = i, .alerts = std::move(cs.held), .digest = true});
    } else {
      for (auto& a : cs.held) {
        cs.sent.push_back(now_ms);
        plan.send.push_back({.channel = i, .alerts = {std::move(a)}, .digest = false});
      }
    }
    cs.held.clear();
  }
}

// ---------------------------------------------------------------------------------
// Deliveries

namespace {

std::once_flag curl_once;

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// One POST. kUnavailable when trying again may help (no answer, 5xx, 408, 429).
Status post_json(const AlertChannel& channel, const std::string& body) {
  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return Status::internal("cannot create a libcurl handle");
  curl_slist* raw = curl_slist_append(nullptr, "Content-Type: application/json");
  std::unique_ptr<curl_slist, SlistDeleter> headers(raw);
  for (const auto& h : channel.headers) {
    curl_slist* next = curl_slist_append(headers.get(), h.c_str());
    if (!next) return Status::internal("out of memory");
    (void)headers.release();
    headers.reset(next);
  }
  char error[CURL_ERROR_SIZE] = {0};
  std::string answer;
  auto write = +[](char* data, std::size_t size, std::size_t n, void* user) -> std::size_t {
    auto* out = static_cast<std::string*>(user);
    if (out->size() < 4096) out->append(data, std::min(size * n, 4096 - out->size()));
    return size * n;
  };
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, channel.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(channel.timeout.count()));
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "vigie-collector/" VIGIE_VERSION);
  if (!channel.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, channel.ca_file.c_str());
  const std::string where = channel.name + " (" + host_of(channel.url) + ")";
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    const std::string why = error[0] ? error : curl_easy_strerror(rc);
    const bool tls = rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
                     rc == CURLE_SSL_CERTPROBLEM;
    if (tls) return Status(Code::kPermissionDenied, where + ": " + why);
    return Status::unavailable(where + ": " + why);
  }
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  if (code >= 200 && code < 300) return Status::ok();
  std::string detail = "HTTP " + std::to_string(code);
  if (!answer.empty()) {
    std::string line = answer.substr(0, 200);
    std::replace_if(
        line.begin(), line.end(), [](char ch) { return ch == '\n' || ch == '\r'; }, ' ');
    detail += ": " + line;
  }
  if (code >= 500 || code == 408 || code == 429) return Status::unavailable(where + ": " + detail);
  return Status::invalid(where + ": " + detail);
}

Status send_mail(const mail::Relay& relay, const AlertChannel& channel, const Outgoing& out,
                 std::int64_t now_ms) {
  mail::Message message;
  message.from = relay.from;
  message.to = channel.to;
  message.subject = mail_subject(out);
  message.text = mail_text(out, now_ms);
  return mail::send(relay, message);
}

}  // namespace

struct Notifier::Worker {
  std::size_t channel = 0;
  std::deque<Outgoing> queue;
  std::condition_variable cv;
  std::thread thread;
};

Notifier::Notifier(AlertConfig config, Storage& storage, const StateEngine& engine,
                   NotifierOptions options)
    : config_(std::move(config)), storage_(storage), engine_(engine), options_(std::move(options)) {
  if (!options_.now_ms) options_.now_ms = wall_ms;
  for (std::size_t i = 0; i < config_.channels.size(); ++i) {
    auto worker = std::make_unique<Worker>();
    worker->channel = i;
    workers_.push_back(std::move(worker));
  }
  for (auto& worker : workers_) {
    worker->thread = std::thread([this, w = worker.get()] { deliver(*w); });
  }
  thread_ = std::thread([this] { run(); });
}

Notifier::~Notifier() { stop(); }

void Notifier::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    cv_.notify_all();
    for (auto& w : workers_) w->cv.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void Notifier::post(const std::vector<Event>& events) {
  // Only what the planner looks at: most events (soft changes, acknowledgements...)
  // never make an alert.
  std::vector<const Event*> wanted;
  for (const auto& e : events) {
    if (e.backfill) continue;
    switch (e.kind) {
      case EventKind::kState:
        if (e.type == StateType::kHard) wanted.push_back(&e);
        break;
      case EventKind::kFresh:
      case EventKind::kAgentLost:
      case EventKind::kAgentBack:
      case EventKind::kSiteUnreachable:
      case EventKind::kSiteReachable: wanted.push_back(&e); break;
      default:
        if (e.notify) wanted.push_back(&e);
    }
  }
  if (wanted.empty()) return;
  std::lock_guard lock(mu_);
  if (stopping_) return;
  if (incoming_.size() + wanted.size() > options_.max_queue) {
    stats_.dropped += static_cast<std::int64_t>(wanted.size());
    log::error("notifier: " + std::to_string(wanted.size()) +
               " events dropped: the notifier is behind by " + std::to_string(incoming_.size()));
    return;
  }
  for (const Event* e : wanted) incoming_.push_back(*e);
  cv_.notify_all();
}

NotifierStats Notifier::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void Notifier::record(std::vector<NotificationRecord> records) {
  if (records.empty()) return;
  auto shared = std::make_shared<std::vector<NotificationRecord>>(std::move(records));
  storage_.change(
      [shared]() -> Result<StateDelta> {
        StateDelta delta;
        delta.notifications = std::move(*shared);
        return delta;
      },
      [](Result<StateDelta> done) {
        if (!done && done.status().code() != Code::kUnavailable)
          log::error("notifier: history not stored: " + done.status().message());
      });
}

void Notifier::run() {
  AlertPlanner planner(config_, engine_);
  planner.seed(options_.now_ms());
  for (;;) {
    std::vector<Event> events;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(250),
                   [this] { return stopping_ || !incoming_.empty(); });
      if (stopping_) return;
      events.swap(incoming_);
    }
    AlertPlanner::Plan plan;
    try {
      const std::int64_t now = options_.now_ms();
      planner.add(events, now, plan);
      planner.tick(now, plan);
    } catch (const std::exception& e) {  // bad_alloc, or a bug: keep notifying
      log::error(std::string("notifier: ") + e.what());
    }
    {
      std::lock_guard lock(mu_);
      stats_.suppressed += static_cast<std::int64_t>(plan.records.size());
      for (auto& out : plan.send) {
        Worker& w = *workers_[out.channel];
        w.queue.push_back(std::move(out));
        w.cv.notify_all();
      }
    }
    record(std::move(plan.records));
  }
}

void Notifier::deliver(Worker& worker) {
  const AlertChannel& channel = config_.channels[worker.channel];
  const int kind = channel.kind == AlertChannel::Kind::kEmail ? 1 : 0;
  for (;;) {
    Outgoing out;
    {
      std::unique_lock lock(mu_);
      worker.cv.wait(lock, [&] { return stopping_ || !worker.queue.empty(); });
      if (stopping_) {
        if (!worker.queue.empty())
          log::warning("notifier: " + channel.name + ": " + std::to_string(worker.queue.size()) +
                       " messages not sent: shutting down");
        return;
      }
      out = std::move(worker.queue.front());
      worker.queue.pop_front();
    }
    Status status;
    auto wait = channel.first_wait;
    for (int attempt = 1; attempt <= channel.attempts; ++attempt) {
      try {
        const std::int64_t now = options_.now_ms();
        if (channel.kind == AlertChannel::Kind::kWebhook) {
          status = post_json(channel, webhook_body(channel, out, now));
        } else if (config_.smtp) {
          status = send_mail(*config_.smtp, channel, out, now);
        } else {
          status = Status::invalid("no smtp relay configured");
        }
      } catch (const std::exception& e) {
        status = Status::internal(e.what());
      }
      if (status || status.code() != Code::kUnavailable || attempt == channel.attempts) break;
      log::warning("notifier: attempt " + std::to_string(attempt) + " of " +
                   std::to_string(channel.attempts) + " failed: " + status.message() +
                   "; next in " + human_duration(wait));
      std::unique_lock lock(mu_);
      if (worker.cv.wait_for(lock, wait, [this] { return stopping_; })) break;
      wait *= 2;
    }
    if (!status) log::error("notifier: " + channel.name + ": given up: " + status.message());
    std::vector<NotificationRecord> records;
    const std::int64_t now = options_.now_ms();
    for (const auto& a : out.alerts) {
      records.push_back({.ts_ms = now,
                         .site = a.site,
                         .agent = a.agent,
                         .check = a.check,
                         .channel = kind == 1 ? "email" : "webhook",
                         .target = target_of(channel),
                         .kind = a.kind,
                         .state = a.state,
                         .status = !status      ? "failed"
                                   : out.digest ? "digest"
                                                : "sent",
                         .detail = !status      ? status.message()
                                   : out.digest ? "one message for " +
                                                      std::to_string(out.alerts.size()) + " alerts"
                                                : std::string()});
    }
    {
      std::lock_guard lock(mu_);
      if (!status) ++stats_.failed[kind];
      else if (out.digest) ++stats_.digests[kind];
      else ++stats_.sent[kind];
    }
    record(std::move(records));
  }
}

}  // namespace vigie::collector
