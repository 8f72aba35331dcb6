#include "collector/alert_config.hpp"

#include <algorithm>
#include <set>

#include "collector/alert_message.hpp"
#include "common/config_fields.hpp"
#include "common/file.hpp"
#include "common/json_parse.hpp"

namespace vigie::collector {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxConfigBytes = 1 << 20;

// Durations here may be short (a hold of 500ms), but not zero unless said.
constexpr DurationRule kPositive{.min = std::chrono::milliseconds(1)};

Status check_url(std::string_view path, const std::string& url) {
  if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0)
    return field_error(path, "expected an http:// or https:// URL, got \"" + url + "\"");
  const auto host_start = url.find("://") + 3;
  if (host_start >= url.size() || url[host_start] == '/')
    return field_error(path, "no host in \"" + url + "\"");
  for (const char c : url) {
    if (static_cast<unsigned char>(c) <= ' ')
      return field_error(path, "spaces or control characters in the URL");
  }
  return Status::ok();
}

Status check_readable(std::string_view path, const std::string& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    return field_error(path, "\"" + file + "\" is not a readable file");
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
  const Fields fields{item, path};
  if (Status s = check_keys(fields, {"name", "type", "url", "ca_file", "headers", "body",
                                     "body_text", "to", "attempts", "retry_wait", "timeout"});
      !s)
    return s;
  if (Status s = read_string(fields, "name", c.name, {.required = true}); !s) return s;
  std::string type;
  if (Status s = read_string(fields, "type", type, {.required = true}); !s) return s;
  if (type == "webhook") {
    c.kind = AlertChannel::Kind::kWebhook;
    if (Status s = read_string(fields, "url", c.url, {.required = true}); !s) return s;
    if (Status s = check_url(path + ".url", c.url); !s) return s;
    if (Status s = read_string(fields, "ca_file", c.ca_file); !s) return s;
    if (!c.ca_file.empty()) {
      if (Status s = check_readable(path + ".ca_file", c.ca_file); !s) return s;
    }
    if (Status s = read_strings(fields, "headers", c.headers, {.single_string = true}); !s)
      return s;
    for (std::size_t i = 0; i < c.headers.size(); ++i) {
      const auto& h = c.headers[i];
      if (h.find(':') == std::string::npos || h.front() == ':' ||
          h.find_first_of("\r\n") != std::string::npos)
        return field_error(path + ".headers[" + std::to_string(i) + "]",
                           "expected \"Name: value\" on one line");
    }
    if (item.contains("body") && item.contains("body_text"))
      return field_error(path, "body and body_text: give one or the other");
    if (item.contains("body")) c.body = item.at("body");
    if (item.contains("body_text")) {
      std::string text;
      if (Status s = read_string(fields, "body_text", text, {.required = true}); !s) return s;
      c.body_text = text;
      const std::string filled = render_template(text, sample_outgoing(), 0, true);
      if (!json::accept(filled))
        return field_error(path + ".body_text", "is not JSON once its placeholders are filled in");
    }
  } else if (type == "email") {
    c.kind = AlertChannel::Kind::kEmail;
    if (Status s = read_strings(fields, "to", c.to, {.single_string = true}); !s) return s;
    if (c.to.empty()) return field_error(path + ".to", "required: at least one address");
    for (std::size_t i = 0; i < c.to.size(); ++i) {
      const auto& a = c.to[i];
      const auto at = a.find('@');
      if (at == std::string::npos || at == 0 || at + 1 == a.size() ||
          a.find_first_of(" \t\r\n<>,;") != std::string::npos)
        return field_error(path + ".to[" + std::to_string(i) + "]",
                           "\"" + a + "\" is not an e-mail address");
    }
    for (const auto* key : {"url", "ca_file", "headers", "body", "body_text"}) {
      if (item.contains(key))
        return field_error(field_path(path, key), "only for webhook channels");
    }
  } else {
    return field_error(path + ".type", "expected \"webhook\" or \"email\", got \"" + type + "\"");
  }
  if (Status s = read_integer(fields, "attempts", 1, 20, c.attempts); !s) return s;
  if (Status s = read_duration(fields, "retry_wait", kPositive, c.first_wait); !s) return s;
  if (Status s = read_duration(fields, "timeout", kPositive, c.timeout); !s) return s;
  return Status::ok();
}

// A calendar named at `key`; without the key, the only calendar of the file if there
// is just one.
Status read_calendar(const Fields& fields, std::string_view key, const CalendarSet& calendars,
                     std::optional<Calendar>& out, std::string& name) {
  if (Status s = read_string(fields, key, name); !s) return s;
  if (name.empty()) {
    if (calendars.empty())
      return field_error(fields.path_of(key),
                         "required: no calendars are configured (--calendars FILE)");
    if (calendars.names().find(',') != std::string::npos)
      return field_error(fields.path_of(key),
                         "required: which calendar? (calendars: " + calendars.names() + ")");
    name = calendars.names();
  }
  const Calendar* calendar = calendars.find(name);
  if (!calendar)
    return field_error(fields.path_of(key), "no calendar named " + quote(name) +
                                                " (calendars: " + calendars.names() + ")");
  out = *calendar;
  return Status::ok();
}

Status parse_rule(const json& item, const std::string& path, const AlertConfig& config,
                  const CalendarSet& calendars, AlertRule& rule) {
  const Fields fields{item, path};
  if (Status s =
          check_keys(fields, {"sites", "families", "min_state", "channels", "when", "calendar"});
      !s)
    return s;
  std::string when;
  if (Status s = read_string(fields, "when", when); !s) return s;
  if (when == "working-hours") rule.when = AlertRule::When::kWorkingHours;
  else if (when == "outside-working-hours") rule.when = AlertRule::When::kOutsideWorkingHours;
  else if (!when.empty() && when != "always")
    return field_error(
        fields.path_of("when"),
        "expected \"always\", \"working-hours\" or \"outside-working-hours\", got " + quote(when));
  if (rule.when != AlertRule::When::kAlways) {
    if (Status s = read_calendar(fields, "calendar", calendars, rule.calendar, rule.calendar_name);
        !s)
      return s;
  } else if (item.contains("calendar")) {
    return field_error(fields.path_of("calendar"),
                       "only with \"when\": \"working-hours\" or \"outside-working-hours\"");
  }
  if (Status s = read_strings(fields, "sites", rule.sites, {.single_string = true}); !s) return s;
  if (Status s = read_strings(fields, "families", rule.families, {.single_string = true}); !s)
    return s;
  std::string min;
  if (Status s = read_string(fields, "min_state", min); !s) return s;
  if (!min.empty()) {
    const auto state = state_from_name(min);
    if (!state || *state == State::kOk)
      return field_error(path + ".min_state",
                         "expected \"warning\", \"unknown\" or \"critical\", got \"" + min + "\"");
    rule.min_state = *state;
  }
  if (Status s = read_strings(fields, "channels", rule.channels, {.single_string = true}); !s)
    return s;
  if (rule.channels.empty())
    return field_error(path + ".channels", "required: at least one channel");
  for (std::size_t i = 0; i < rule.channels.size(); ++i) {
    const auto& name = rule.channels[i];
    if (std::none_of(config.channels.begin(), config.channels.end(),
                     [&](const AlertChannel& c) { return c.name == name; })) {
      std::string known;
      for (const auto& c : config.channels) known += (known.empty() ? "" : ", ") + c.name;
      return field_error(path + ".channels[" + std::to_string(i) + "]",
                         "no channel named \"" + name + "\" (channels: " + known + ")");
    }
  }
  return Status::ok();
}

Status parse_document(const json& root, const CalendarSet& calendars, AlertConfig& config) {
  if (!root.is_object()) return Status::invalid("expected a JSON object");
  if (Status s =
          check_keys(root, {"smtp", "channels", "rules", "renotify", "renotify_calendar", "storm"});
      !s)
    return s;
  if (root.contains("smtp")) {
    auto relay = mail::parse_relay(root.at("smtp"), "smtp");
    if (!relay) return relay.status();
    config.smtp = std::move(*relay);
  }
  const auto channels = root.find("channels");
  if (channels == root.end() || !channels->is_array() || channels->empty())
    return field_error("channels", "required: an array of at least one channel");
  std::set<std::string> names;
  for (std::size_t i = 0; i < channels->size(); ++i) {
    const std::string path = "channels[" + std::to_string(i) + "]";
    AlertChannel c;
    if (Status s = parse_channel((*channels)[i], path, c); !s) return s;
    if (!names.insert(c.name).second)
      return field_error(path + ".name", "\"" + c.name + "\" is used by another channel");
    if (c.kind == AlertChannel::Kind::kEmail && !config.smtp)
      return field_error(path, "an e-mail channel needs the \"smtp\" relay block");
    if (c.kind == AlertChannel::Kind::kEmail && config.smtp->from.empty())
      return field_error("smtp.from", "required for e-mail channels (the sender's address)");
    config.channels.push_back(std::move(c));
  }
  const auto rules = root.find("rules");
  if (rules == root.end() || !rules->is_array() || rules->empty())
    return field_error("rules", "required: an array of at least one rule");
  for (std::size_t i = 0; i < rules->size(); ++i) {
    AlertRule rule;
    if (Status s =
            parse_rule((*rules)[i], "rules[" + std::to_string(i) + "]", config, calendars, rule);
        !s)
      return s;
    config.rules.push_back(std::move(rule));
  }
  if (Status s =
          read_duration(root, "renotify", {.min = std::chrono::milliseconds(1), .allow_off = true},
                        config.renotify);
      !s)
    return s;
  if (root.contains("renotify_calendar")) {
    if (config.renotify.count() == 0)
      return field_error("renotify_calendar", "only with \"renotify\" (reminders are off)");
    std::string name;
    if (Status s =
            read_calendar(root, "renotify_calendar", calendars, config.renotify_calendar, name);
        !s)
      return s;
  }
  const json* storm_object = nullptr;
  if (Status s = read_object(root, "storm", storm_object); !s) return s;
  if (storm_object) {
    const Fields storm{*storm_object, "storm"};
    if (Status s = check_keys(storm, {"threshold", "window", "hold"}); !s) return s;
    if (Status s = read_integer(storm, "threshold", 1, 100'000, config.storm_threshold); !s)
      return s;
    if (Status s = read_duration(storm, "window", kPositive, config.storm_window); !s) return s;
    if (Status s = read_duration(storm, "hold", kPositive, config.hold); !s) return s;
    if (config.hold > config.storm_window)
      return field_error("storm.hold", "longer than storm.window");
  }
  return Status::ok();
}

}  // namespace

Result<AlertConfig> parse_alert_config(std::string_view text, std::string_view where,
                                       const CalendarSet& calendars) {
  auto parsed = parse_json(text, {.comments = true});
  if (!parsed)
    return Status::invalid(std::string(where) + ": not valid JSON: " + parsed.status().message());
  const json root = std::move(*parsed);
  AlertConfig config;
  Status s;
  try {
    s = parse_document(root, calendars, config);
  } catch (const json::exception& e) {  // a bug in a check above, not the file's fault
    s = Status::invalid(e.what());
  }
  if (!s) return s.with_context(where);
  return config;
}

Result<AlertConfig> load_alert_config(const std::filesystem::path& path,
                                      const CalendarSet& calendars) {
  auto text = read_file(path.string(), kMaxConfigBytes);
  if (!text) return text.status();
  return parse_alert_config(*text, path.string(), calendars);
}

bool AlertRule::holds_at(std::int64_t ms) const {
  switch (when) {
    case When::kAlways: return true;
    case When::kWorkingHours: return calendar && calendar->working_at(ms);
    case When::kOutsideWorkingHours: return calendar && !calendar->working_at(ms);
  }
  return true;
}

std::string url_host(const std::string& url) {
  auto start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  const auto end = url.find_first_of("/?#", start);
  std::string host = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (const auto at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);
  return host;
}

std::string channel_target(const AlertChannel& c) {
  if (c.kind == AlertChannel::Kind::kWebhook) return c.name + " (" + url_host(c.url) + ")";
  std::string to;
  for (const auto& a : c.to) to += (to.empty() ? "" : ", ") + a;
  return c.name + " (" + to + ")";
}

}  // namespace vigie::collector
