#include "common/i18n.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/file.hpp"

#ifndef VIGIE_INSTALL_LOCALEDIR
#define VIGIE_INSTALL_LOCALEDIR "/usr/local/share/locale"
#endif

namespace vigie {

Result<Lang> parse_lang(std::string_view text) {
  const std::string_view base = text.substr(0, text.find_first_of("_.@-"));
  if (base == "fr") return Lang::kFrench;
  if (base == "en") return Lang::kEnglish;
  return Status::invalid("--lang \"" + std::string(text) + "\": expected fr or en");
}

std::string_view lang_code(Lang lang) { return lang == Lang::kFrench ? "fr" : "en"; }

Lang lang_from_environment(const std::function<const char*(const char*)>& getenv) {
  for (const char* name : {"LC_ALL", "LC_MESSAGES", "LANG"}) {
    const char* value = getenv(name);
    if (value == nullptr || *value == '\0') continue;
    const std::string_view text(value);
    return text.substr(0, text.find_first_of("_.@-")) == "fr" ? Lang::kFrench : Lang::kEnglish;
  }
  return Lang::kEnglish;
}

// The .mo layout (GNU gettext manual, "The Format of GNU MO Files"): a magic number
// that also gives the byte order, a revision, the number of strings N, then the
// offsets of two tables of N (length, offset) pairs: original strings and
// translations. A plural entry's original is "singular\0plural" and its translation
// the forms separated by NUL bytes.
Result<Catalogue> Catalogue::load(const std::filesystem::path& mo_file) {
  auto bytes = read_file(mo_file.string(), 16 << 20);
  if (!bytes) return bytes.status();
  const std::string& data = *bytes;
  const std::string where = mo_file.string() + ": ";
  auto u32 = [&](std::size_t at, bool swap, std::uint32_t* out) {
    if (at + 4 > data.size()) return false;
    std::uint32_t v;
    std::memcpy(&v, data.data() + at, 4);
    if (swap) v = __builtin_bswap32(v);
    *out = v;
    return true;
  };
  std::uint32_t magic = 0;
  if (!u32(0, false, &magic))
    return Status(Code::kCorruption, where + "not a .mo file (too short)");
  bool swap = false;
  if (magic == 0xde120495U) swap = true;
  else if (magic != 0x950412deU)
    return Status(Code::kCorruption, where + "not a .mo file (bad magic)");
  std::uint32_t revision = 0, count = 0, originals = 0, translations = 0;
  if (!u32(4, swap, &revision) || !u32(8, swap, &count) || !u32(12, swap, &originals) ||
      !u32(16, swap, &translations))
    return Status(Code::kCorruption, where + "truncated header");
  if ((revision >> 16) != 0) return Status(Code::kCorruption, where + "unknown .mo revision");
  if (count > data.size() / 8) return Status(Code::kCorruption, where + "bad string count");

  auto string_at = [&](std::uint32_t table, std::uint32_t i, std::string_view* out) {
    std::uint32_t length = 0, offset = 0;
    const std::size_t entry = static_cast<std::size_t>(table) + 8ULL * i;
    if (!u32(entry, swap, &length) || !u32(entry + 4, swap, &offset)) return false;
    if (static_cast<std::size_t>(offset) + length > data.size()) return false;
    *out = std::string_view(data).substr(offset, length);
    return true;
  };
  Catalogue catalogue;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string_view original, translation;
    if (!string_at(originals, i, &original) || !string_at(translations, i, &translation))
      return Status(Code::kCorruption, where + "string " + std::to_string(i) + " out of bounds");
    if (original.empty()) continue;  // the header entry
    const std::string key(original.substr(0, original.find('\0')));
    std::vector<std::string> forms;
    for (std::size_t start = 0;;) {
      const std::size_t nul = translation.find('\0', start);
      forms.emplace_back(
          translation.substr(start, nul == std::string_view::npos ? nul : nul - start));
      if (nul == std::string_view::npos) break;
      start = nul + 1;
    }
    catalogue.entries_.insert_or_assign(key, std::move(forms));
  }
  return catalogue;
}

std::string_view Catalogue::find(std::string_view msgid) const {
  const auto it = entries_.find(std::string(msgid));
  if (it == entries_.end() || it->second.empty() || it->second[0].empty()) return msgid;
  return it->second[0];
}

std::string_view Catalogue::find_plural(std::string_view singular, std::string_view plural,
                                        int form) const {
  const auto it = entries_.find(std::string(singular));
  if (it == entries_.end() || form < 0 || static_cast<std::size_t>(form) >= it->second.size() ||
      it->second[static_cast<std::size_t>(form)].empty())
    return form == 0 ? singular : plural;
  return it->second[static_cast<std::size_t>(form)];
}

std::vector<std::filesystem::path> catalogue_candidates(Lang lang, std::string_view domain) {
  const std::filesystem::path tail = std::filesystem::path(std::string(lang_code(lang))) /
                                     "LC_MESSAGES" / (std::string(domain) + ".mo");
  std::vector<std::filesystem::path> out;
  if (const char* dir = std::getenv("VIGIE_LOCALEDIR"); dir != nullptr && *dir != '\0')
    out.push_back(std::filesystem::path(dir) / tail);
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto bin = exe.parent_path();
    out.push_back(bin.parent_path() / "locale" / tail);
    out.push_back(bin.parent_path() / "share" / "locale" / tail);
  }
  out.push_back(std::filesystem::path(VIGIE_INSTALL_LOCALEDIR) / tail);
  return out;
}

Result<Catalogue> find_catalogue(Lang lang, std::string_view domain) {
  if (lang == Lang::kEnglish) return Catalogue();
  std::string searched;
  for (const auto& path : catalogue_candidates(lang, domain)) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec)) return Catalogue::load(path);
    searched += "\n  " + path.string();
  }
  return Status::not_found("no catalogue for language \"" + std::string(lang_code(lang)) +
                           "\"; looked in:" + searched +
                           "\n(set VIGIE_LOCALEDIR to the folder holding <lang>/LC_MESSAGES/" +
                           std::string(domain) + ".mo)");
}

Locale::Locale(Lang lang, Catalogue catalogue) : lang_(lang), catalogue_(std::move(catalogue)) {}

std::string Locale::tr(std::string_view msgid) const { return std::string(catalogue_.find(msgid)); }

std::string Locale::trn(std::string_view singular, std::string_view plural, long long n) const {
  const int form = lang_ == Lang::kFrench ? (n > 1 ? 1 : 0) : (n != 1 ? 1 : 0);
  return std::string(catalogue_.find_plural(singular, plural, form));
}

namespace {

std::string fill(const std::string& text,
                 std::initializer_list<std::pair<std::string_view, std::string>> args) {
  std::string out;
  out.reserve(text.size() + 16);
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '{') {
      const std::size_t close = text.find('}', i);
      if (close != std::string::npos) {
        const std::string_view name = std::string_view(text).substr(i + 1, close - i - 1);
        bool done = false;
        for (const auto& [key, value] : args) {
          if (key == name) {
            out += value;
            done = true;
            break;
          }
        }
        if (done) {
          i = close + 1;
          continue;
        }
      }
    }
    out += text[i++];
  }
  return out;
}

}  // namespace

std::string Locale::format(
    std::string_view pattern,
    std::initializer_list<std::pair<std::string_view, std::string>> args) const {
  return fill(tr(pattern), args);
}

std::string Locale::formatn(
    std::string_view singular, std::string_view plural, long long n,
    std::initializer_list<std::pair<std::string_view, std::string>> args) const {
  return fill(trn(singular, plural, n), args);
}

namespace {

constexpr const char* kNbsp = "\u00a0";

constexpr const char* kMonths[] = {N_("January"),   N_("February"), N_("March"),    N_("April"),
                                   N_("May"),       N_("June"),     N_("July"),     N_("August"),
                                   N_("September"), N_("October"),  N_("November"), N_("December")};
constexpr const char* kWeekdays[] = {N_("Monday"), N_("Tuesday"),  N_("Wednesday"), N_("Thursday"),
                                     N_("Friday"), N_("Saturday"), N_("Sunday")};

std::string two_digits(int v) {
  std::string s = std::to_string(v);
  return s.size() < 2 ? "0" + s : s;
}

}  // namespace

std::string Locale::number(double value, int decimals) const {
  if (!std::isfinite(value)) return "-";
  const bool french = lang_ == Lang::kFrench;
  const double scale = std::pow(10.0, decimals);
  const long double rounded = std::llround(std::fabs(value) * scale);
  const long long whole = static_cast<long long>(rounded / scale);
  const long long frac = static_cast<long long>(rounded - static_cast<long double>(whole) * scale);
  std::string digits = std::to_string(whole);
  std::string grouped;
  const std::string group = french ? kNbsp : ",";
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) grouped += group;
    grouped += digits[i];
  }
  std::string out = (value < 0 && rounded != 0) ? "-" + grouped : grouped;
  if (decimals > 0) {
    std::string f = std::to_string(frac);
    while (static_cast<int>(f.size()) < decimals) f = "0" + f;
    out += french ? "," : ".";
    out += f;
  }
  return out;
}

std::string Locale::percent(double ratio) const {
  const double p = ratio * 100.0;
  const bool whole = std::fabs(p - std::round(p)) < 0.05;
  const std::string n = number(p, whole ? 0 : 1);
  return lang_ == Lang::kFrench ? n + kNbsp + "%" : n + "%";
}

std::string Locale::size(double bytes) const {
  static constexpr const char* kUnits[] = {N_("B"),  N_("kB"), N_("MB"),
                                           N_("GB"), N_("TB"), N_("PB")};
  int unit = 0;
  double v = bytes;
  // On the rounded value, so that 999.96 MB is written 1.0 GB, not 1,000.0 MB.
  while (std::fabs(std::round(v * (unit == 0 ? 1 : 10)) / (unit == 0 ? 1 : 10)) >= 1000.0 &&
         unit < 5) {
    v /= 1000.0;
    ++unit;
  }
  return number(v, unit == 0 ? 0 : 1) + kNbsp + tr(kUnits[unit]);
}

std::string Locale::long_date(const Day& d) const {
  return format(N_("{weekday}, {month} {day}, {year}"),
                {{"weekday", tr(kWeekdays[d.weekday % 7])},
                 {"month", tr(kMonths[(d.month + 11) % 12])},
                 {"day", std::to_string(d.day)},
                 {"year", std::to_string(d.year)}});
}

std::string Locale::short_date(const Day& d) const {
  return format(N_("{mm}/{dd}"), {{"mm", two_digits(d.month)}, {"dd", two_digits(d.day)}});
}

std::string Locale::date_time(const Day& d, int hour, int minute) const {
  return format(N_("{month} {day}, {year} at {time}"),
                {{"month", tr(kMonths[(d.month + 11) % 12])},
                 {"day", std::to_string(d.day)},
                 {"year", std::to_string(d.year)},
                 {"time", two_digits(hour) + ":" + two_digits(minute)}});
}

std::string Locale::duration(std::chrono::milliseconds d) const {
  const long long ms = d.count() < 0 ? 0 : static_cast<long long>(d.count());
  const long long s = ms / 1000;
  const long long days = s / 86400, hours = (s % 86400) / 3600, minutes = (s % 3600) / 60;
  if (days >= 10) return format(N_("{d} d"), {{"d", integer(days)}});
  if (days > 0) {
    return hours > 0 ? format(N_("{d} d {h} h"),
                              {{"d", std::to_string(days)}, {"h", std::to_string(hours)}})
                     : format(N_("{d} d"), {{"d", std::to_string(days)}});
  }
  if (hours > 0) {
    return minutes > 0 ? format(N_("{h} h {m} min"),
                                {{"h", std::to_string(hours)}, {"m", std::to_string(minutes)}})
                       : format(N_("{h} h"), {{"h", std::to_string(hours)}});
  }
  if (minutes > 0) return format(N_("{m} min"), {{"m", std::to_string(minutes)}});
  return format(N_("{s} s"), {{"s", std::to_string(s)}});
}

}  // namespace vigie
