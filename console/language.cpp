#include "console/language.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <memory>

#include "common/human_text.hpp"

namespace vigie::console {
namespace {

// Set at start, before the other threads; read-only after that.
std::shared_ptr<const Locale>& current() {
  static std::shared_ptr<const Locale> locale = std::make_shared<const Locale>();
  return locale;
}

bool french() { return current()->lang() == Lang::kFrench; }

// "3.4" -> "3,4" in French.
std::string decimal_comma(std::string text) {
  if (french()) {
    for (char& c : text) {
      if (c == '.') c = ',';
    }
  }
  return text;
}

}  // namespace

void set_language(Lang lang, Catalogue catalogue) {
  current() = std::make_shared<const Locale>(lang, std::move(catalogue));
}

Status use_language(Lang lang) {
  auto catalogue = find_catalogue(lang, kConsoleDomain);
  if (!catalogue) return catalogue.status();
  set_language(lang, std::move(catalogue).value());
  return Status::ok();
}

Lang language() { return current()->lang(); }

std::string tr(std::string_view msgid) { return current()->tr(msgid); }

std::string trn(std::string_view singular, std::string_view plural, long long n) {
  return current()->trn(singular, plural, n);
}

std::string format(std::string_view pattern,
                   std::initializer_list<std::pair<std::string_view, std::string>> args) {
  return current()->format(pattern, args);
}

std::string formatn(std::string_view singular, std::string_view plural, long long n,
                    std::initializer_list<std::pair<std::string_view, std::string>> args) {
  return current()->formatn(singular, plural, n, args);
}

std::string state_label(State state) {
  switch (state) {
    case State::kOk: return tr(N_("OK"));
    case State::kWarning: return tr(N_("WARNING"));
    case State::kCritical: return tr(N_("CRITICAL"));
    case State::kUnknown: return tr(N_("UNKNOWN"));
  }
  return "?";
}

std::string short_state_label(State state) {
  // TRANSLATORS: the short state labels are four columns wide at most.
  switch (state) {
    case State::kOk: return tr(N_("ok"));
    case State::kWarning: return tr(N_("WARN"));
    case State::kCritical: return tr(N_("CRIT"));
    case State::kUnknown: return tr(N_("UNKN"));
  }
  return "?";
}

std::string short_age(std::chrono::milliseconds age) {
  const std::int64_t s = age.count() < 0 ? 0 : age.count() / 1000;
  const std::string n = std::to_string(s);
  // TRANSLATORS: ages in a column five wide: no space before the unit.
  if (s < 60) return format(N_("{n}s"), {{"n", n}});
  if (s < 3600) return format(N_("{n}m"), {{"n", std::to_string(s / 60)}});
  if (s < 86400) return format(N_("{n}h"), {{"n", std::to_string(s / 3600)}});
  return format(N_("{n}d"), {{"n", std::to_string(s / 86400)}});
}

std::string two_unit_age(std::chrono::milliseconds age) {
  const std::int64_t s = age.count() < 0 ? 0 : age.count() / 1000;
  const auto unit = [](const char* text, std::int64_t n) {
    return format(text, {{"n", std::to_string(n)}});
  };
  const auto both = [&](const char* big, std::int64_t n, const char* small, std::int64_t m) {
    return m == 0 ? unit(big, n) : unit(big, n) + " " + unit(small, m);
  };
  if (s < 3600) return short_age(age);
  if (s < 86400) return both(N_("{n}h"), s / 3600, N_("{n}m"), s % 3600 / 60);
  return both(N_("{n}d"), s / 86400, N_("{n}h"), s % 86400 / 3600);
}

std::string bytes(double value) {
  static constexpr const char* kUnits[] = {N_("B"),   N_("KiB"), N_("MiB"), N_("GiB"),
                                           N_("TiB"), N_("PiB"), N_("EiB")};
  std::size_t unit = 0;
  while (std::fabs(value) >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  std::array<char, 32> text{};
  std::snprintf(text.data(), text.size(), unit > 0 && std::fabs(value) < 10 ? "%.1f" : "%.0f",
                value);
  return decimal_comma(text.data()) + " " + tr(kUnits[unit]);
}

std::string decimal(double value) {
  std::array<char, 32> text{};
  std::snprintf(text.data(), text.size(), "%.4g", value);
  return decimal_comma(text.data());
}

LanguageScope::LanguageScope(Lang lang) : before_(language()) {
  if (Status s = use_language(lang); !s.is_ok()) set_language(lang, Catalogue());
}

LanguageScope::~LanguageScope() { (void)use_language(before_); }

}  // namespace vigie::console
