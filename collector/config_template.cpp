#include "collector/config_template.hpp"

#include <algorithm>
#include <cctype>

#include "collector/tokens.hpp"

namespace vigie::collector {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxShownValue = 120;  // bytes of a value quoted in a diff

std::string member_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string item_path(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

bool is_variable_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  if (!std::isalpha(static_cast<unsigned char>(name[0])) && name[0] != '_') return false;
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

// A member that holds a secret inline: the agent's *_file form must be used instead.
bool is_inline_secret(std::string_view key) {
  if (key.ends_with("_file")) return false;
  return key == "community" || key.find("pass") != std::string_view::npos ||
         key.find("secret") != std::string_view::npos ||
         key.find("token") != std::string_view::npos || key == "api_key";
}

// What a string is: a placeholder's variable, a literal, or an error.
struct StringForm {
  std::optional<std::string> variable;  // "${name}"
  std::string literal;                  // the string, "$${" read as "${"
};

Result<StringForm> read_string(const std::string& text, const std::string& path) {
  StringForm form;
  if (text.size() > 3 && text.starts_with("${") && text.back() == '}' &&
      text.find("${", 2) == std::string::npos) {
    const std::string name = text.substr(2, text.size() - 3);
    if (!is_variable_name(name)) {
      return Status::invalid(path + ": \"" + text +
                             "\": a variable's name is letters, digits and '_'");
    }
    form.variable = name;
    return form;
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 3, "$${") == 0) {
      form.literal += "${";
      i += 2;
      continue;
    }
    if (text.compare(i, 2, "${") == 0) {
      return Status::invalid(path + ": \"" + text +
                             "\": a placeholder must be the whole value (\"${name}\"); "
                             "variables replace values, not text (\"$${\" for a literal)");
    }
    form.literal += text[i];
  }
  return form;
}

Status check_secrets(const json& value, const std::string& path) {
  if (value.is_object()) {
    for (const auto& [key, member] : value.items()) {
      const std::string where = member_path(path, key);
      if (is_inline_secret(key)) {
        return Status::invalid(where +
                               ": a secret is not sent from the centre: keep it in a file on "
                               "the agent and give its path (" +
                               key + "_file)");
      }
      if (Status s = check_secrets(member, where); !s) return s;
    }
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (Status s = check_secrets(value[i], item_path(path, i)); !s) return s;
    }
  }
  return Status::ok();
}

// Replaces placeholders in `value` (or, with vars null, only checks their form).
Result<json> substitute(const json& value, const std::string& path,
                        const std::map<std::string, json>* vars) {
  if (value.is_string()) {
    auto form = read_string(value.get<std::string>(), path);
    if (!form) return form.status();
    if (!form->variable) return json(form->literal);
    if (vars == nullptr) return value;
    const auto it = vars->find(*form->variable);
    if (it == vars->end())
      return Status::invalid(path + ": variable \"" + *form->variable + "\" is not set");
    return it->second;
  }
  if (value.is_object()) {
    json out = json::object();
    for (const auto& [key, member] : value.items()) {
      auto done = substitute(member, member_path(path, key), vars);
      if (!done) return done.status();
      out[key] = std::move(*done);
    }
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (std::size_t i = 0; i < value.size(); ++i) {
      auto done = substitute(value[i], item_path(path, i), vars);
      if (!done) return done.status();
      out.push_back(std::move(*done));
    }
    return out;
  }
  return value;
}

std::string shown(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMaxShownValue) text = text.substr(0, kMaxShownValue) + "...";
  return text;
}

void diff_into(const json& before, const json& after, const std::string& path,
               std::vector<std::string>& out) {
  const std::string where = path.empty() ? "(the whole document)" : path;
  if (before.is_object() && after.is_object()) {
    for (const auto& [key, member] : before.items()) {
      const auto it = after.find(key);
      if (it == after.end()) {
        out.push_back("- " + member_path(path, key) + ": " + shown(member));
      } else {
        diff_into(member, *it, member_path(path, key), out);
      }
    }
    for (const auto& [key, member] : after.items()) {
      if (!before.contains(key))
        out.push_back("+ " + member_path(path, key) + ": " + shown(member));
    }
    return;
  }
  if (before.is_array() && after.is_array()) {
    const std::size_t common = std::min(before.size(), after.size());
    for (std::size_t i = 0; i < common; ++i)
      diff_into(before[i], after[i], item_path(path, i), out);
    for (std::size_t i = common; i < before.size(); ++i)
      out.push_back("- " + item_path(path, i) + ": " + shown(before[i]));
    for (std::size_t i = common; i < after.size(); ++i)
      out.push_back("+ " + item_path(path, i) + ": " + shown(after[i]));
    return;
  }
  if (before != after) out.push_back("~ " + where + ": " + shown(before) + " -> " + shown(after));
}

}  // namespace

std::string_view config_kind_name(ConfigKind kind) {
  switch (kind) {
    case ConfigKind::kTemplate: return "template";
    case ConfigKind::kSite: return "site";
    case ConfigKind::kAgent: return "agent";
  }
  return "template";
}

std::optional<ConfigKind> config_kind_from_name(std::string_view name) {
  for (ConfigKind kind : {ConfigKind::kTemplate, ConfigKind::kSite, ConfigKind::kAgent}) {
    if (config_kind_name(kind) == name) return kind;
  }
  return std::nullopt;
}

Status check_template(const json& document) {
  if (!document.is_object())
    return Status::invalid(std::string("a template is an object, not ") + document.type_name());
  for (const auto& [key, member] : document.items()) {
    if (std::find(std::begin(kTemplateKeys), std::end(kTemplateKeys), key) ==
        std::end(kTemplateKeys)) {
      return Status::invalid(key +
                             ": not in a template (it holds \"defaults\", \"devices\" and "
                             "\"checks\"; the agent's identity, collector and spool stay in its "
                             "own file)");
    }
  }
  if (!document.contains("checks")) return Status::invalid("checks: required");
  if (Status s = check_secrets(document, ""); !s) return s;
  auto checked = substitute(document, "", nullptr);
  return checked ? Status::ok() : checked.status();
}

Status check_values(const json& document) {
  if (!document.is_object())
    return Status::invalid(std::string("values are an object, not ") + document.type_name());
  for (const auto& [key, member] : document.items()) {
    if (key == "template") {
      if (!member.is_string() || member.get<std::string>().empty())
        return Status::invalid("template: expected a template's name");
    } else if (key == "vars") {
      if (!member.is_object()) return Status::invalid("vars: expected an object");
      for (const auto& [name, value] : member.items()) {
        if (!is_variable_name(name))
          return Status::invalid("vars." + name + ": a variable's name is letters, digits and '_'");
        if (name == "agent_id" || name == "site")
          return Status::invalid("vars." + name + ": set by the collector to the agent's own");
        if (Status s = check_secrets(value, "vars." + name); !s) return s;
      }
    } else {
      return Status::invalid(key + ": values hold \"template\" and \"vars\" only");
    }
  }
  return Status::ok();
}

Result<json> render_template(const json& document, const std::map<std::string, json>& vars) {
  if (Status s = check_template(document); !s) return s;
  auto rendered = substitute(document, "", &vars);
  if (!rendered) return rendered.status();
  if (Status s = check_secrets(*rendered, ""); !s) return s;
  return rendered;
}

std::string config_version(const json& rendered) {
  // nlohmann's object keeps its members sorted: the same configuration, the same text.
  return hash_secret(rendered.dump(-1, ' ', false, json::error_handler_t::replace)).substr(0, 16);
}

std::vector<std::string> json_diff(const json& before, const json& after) {
  std::vector<std::string> out;
  diff_into(before, after, "", out);
  return out;
}

}  // namespace vigie::collector
