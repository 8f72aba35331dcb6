#include "collector/alert_message.hpp"

#include <algorithm>
#include <ctime>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "common/duration.hpp"
#include "common/json_integer.hpp"

namespace vigie::collector {
namespace {

using nlohmann::json;

std::string utc_time(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

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

}  // namespace

State routing_state(const Alert& a) { return a.kind == "recovery" ? a.from : a.state; }

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
  std::string subject = out.digest || out.alerts.size() != 1
                            ? "[vigie] " + digest_title(out)
                            : "[vigie] " + title_of(out.alerts.front());
  // One line whatever a summary holds: a line break would end the header (and a
  // relay refuses it), other control characters have no place in a subject.
  std::string line;
  for (const char c : subject) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      if (!line.empty() && line.back() != ' ') line += ' ';
    } else {
      line += c;
    }
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

std::string mail_text(const Outgoing& out, std::int64_t now_ms) {
  const std::string body = out.digest || out.alerts.size() != 1
                               ? digest_text(out)
                               : single_text(out.alerts.front(), now_ms);
  return body + "\n-- \nvigie, " + utc_time(now_ms) + "\n";
}

std::string alert_to_json(const Alert& a) {
  return json{{"site", a.site},
              {"agent", a.agent},
              {"check", a.check},
              {"family", a.family},
              {"kind", a.kind},
              {"state", static_cast<int>(a.state)},
              {"from", static_cast<int>(a.from)},
              {"summary", a.summary},
              {"ts", a.ts_ms},
              {"since", a.since_ms},
              {"event", a.event_id}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Alert> alert_from_json(const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return Status::invalid("an outbox row is not a JSON object");
  try {
    Alert a;
    a.site = j.at("site").get<std::string>();
    a.agent = j.at("agent").get<std::string>();
    a.check = j.at("check").get<std::string>();
    a.family = j.at("family").get<std::string>();
    a.kind = j.at("kind").get<std::string>();
    const auto state = state_from_code(json_integer<long long>(j.at("state")));
    const auto from = state_from_code(json_integer<long long>(j.at("from")));
    if (!state || !from) return Status::invalid("an outbox row has an unknown state");
    a.state = *state;
    a.from = *from;
    a.summary = j.at("summary").get<std::string>();
    a.ts_ms = json_integer<std::int64_t>(j.at("ts"));
    a.since_ms = json_integer<std::int64_t>(j.at("since"));
    a.event_id = json_integer<std::int64_t>(j.at("event"));
    return a;
  } catch (const json::exception& e) {
    return Status::invalid(std::string("an outbox row: ") + e.what());
  } catch (const BadInteger& e) {
    return Status::invalid(std::string("an outbox row: ") + e.what());
  }
}

std::string alert_key(const Alert& a) {
  if (!a.check.empty()) return "c\x1f" + a.agent + "\x1f" + a.check;
  if (!a.agent.empty()) return "a\x1f" + a.agent;
  return "s\x1f" + a.site;
}

}  // namespace vigie::collector
