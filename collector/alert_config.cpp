#include "collector/alert_config.hpp"

#include <algorithm>
#include <set>

#include "collector/alert_message.hpp"
#include "common/duration.hpp"
#include "common/file.hpp"

namespace vigie::collector {
namespace {

using nlohmann::json;

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
