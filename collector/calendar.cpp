#include "collector/calendar.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>
#include <nlohmann/json.hpp>

#include "common/config_fields.hpp"
#include "common/file.hpp"
#include "common/json_parse.hpp"

namespace vigie::collector {
namespace {

using json = nlohmann::json;
using Seconds = cctz::time_point<cctz::seconds>;

constexpr int kMinYear = 1583;  // the first whole Gregorian year
constexpr int kMaxYear = 9999;
constexpr std::int64_t kMaxSpanMs = std::int64_t{20} * 366 * 86'400'000;
constexpr std::array<std::string_view, 2> kSets = {"fr", "fr-alsace"};
constexpr std::array<std::string_view, 7> kDayNames = {"mon", "tue", "wed", "thu",
                                                       "fri", "sat", "sun"};

std::string in_quotes(std::string_view text) { return "\"" + std::string(text) + "\""; }

cctz::civil_day civil(const Date& d) { return cctz::civil_day(d.year, d.month, d.day); }
Date date_of(const cctz::civil_day& d) { return {static_cast<int>(d.year()), d.month(), d.day()}; }

int weekday_index(cctz::weekday day) {  // Monday 0
  switch (day) {
    case cctz::weekday::monday: return 0;
    case cctz::weekday::tuesday: return 1;
    case cctz::weekday::wednesday: return 2;
    case cctz::weekday::thursday: return 3;
    case cctz::weekday::friday: return 4;
    case cctz::weekday::saturday: return 5;
    case cctz::weekday::sunday: return 6;
  }
  return 0;
}

// The instants a calendar answers for: the years 1 to 9999 UTC (the API takes 1970 to
// 9999). One outside is read as the nearest within, so that no conversion to local
// time, and no sum of a day's minutes, overflows at the ends of int64.
constexpr std::int64_t kFirstMs = -62'135'596'800'000;  // 0001-01-01T00:00:00Z
constexpr std::int64_t kEndMs = 253'402'300'800'000;    // 10000-01-01T00:00:00Z
std::int64_t within_years(std::int64_t ms) { return std::clamp(ms, kFirstMs, kEndMs - 1); }

Seconds to_seconds(std::int64_t ms) {
  // Floor division: an instant before the epoch belongs to the second that contains it.
  const std::int64_t s = ms / 1000 - (ms % 1000 < 0 ? 1 : 0);
  return Seconds(cctz::seconds(s));
}
std::int64_t to_ms(const Seconds& t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Loading a zone reads a file: each is loaded once (a cctz::time_zone is a cheap handle
// to an immutable implementation).
bool load_zone(const std::string& name, cctz::time_zone* zone) {
  if (name == "localtime") {
    *zone = cctz::local_time_zone();
    return true;
  }
  static std::mutex mu;
  static std::unordered_map<std::string, std::pair<bool, cctz::time_zone>> cache;
  std::lock_guard lock(mu);
  auto it = cache.find(name);
  if (it == cache.end()) {
    cctz::time_zone loaded;
    const bool ok = cctz::load_time_zone(name, &loaded);
    it = cache.emplace(name, std::pair{ok, loaded}).first;
  }
  *zone = it->second.second;
  return it->second.first;
}

// "08:30" -> 510; "24:00" is the end of the day.
std::optional<int> parse_clock(std::string_view text) {
  if (text.size() != 5 || text[2] != ':') return std::nullopt;
  int h = 0, m = 0;
  if (std::from_chars(text.data(), text.data() + 2, h).ptr != text.data() + 2) return std::nullopt;
  if (std::from_chars(text.data() + 3, text.data() + 5, m).ptr != text.data() + 5)
    return std::nullopt;
  if (h > 24 || m > 59 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

Result<DayWindow> parse_window(std::string_view text) {
  const auto dash = text.find('-');
  const auto start =
      dash == std::string_view::npos ? std::nullopt : parse_clock(text.substr(0, dash));
  const auto end =
      dash == std::string_view::npos ? std::nullopt : parse_clock(text.substr(dash + 1));
  if (!start || !end) {
    return Status::invalid("expected HH:MM-HH:MM (e.g. \"08:30-17:30\"), got " + in_quotes(text));
  }
  if (*start >= *end)
    return Status::invalid(in_quotes(text) + ": the start must come before the end");
  return DayWindow{*start, *end};
}

std::optional<int> day_index(std::string_view name) {
  for (std::size_t i = 0; i < kDayNames.size(); ++i) {
    if (kDayNames[i] == name) return static_cast<int>(i);
  }
  return std::nullopt;
}

// "mon-fri", "sat,sun", "mon,wed-fri", "weekdays", "weekend", "daily" -> bits, Monday bit 0.
Result<int> parse_days(std::string_view text) {
  if (text == "daily") return 0x7f;
  if (text == "weekdays") return 0x1f;
  if (text == "weekend") return 0x60;
  int bits = 0;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view part = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const auto dash = part.find('-');
    const auto first = day_index(part.substr(0, dash));
    const auto last = dash == std::string_view::npos ? first : day_index(part.substr(dash + 1));
    if (!first || !last || *last < *first) {
      return Status::invalid(
          "expected days such as \"mon-fri\", \"sat,sun\" or \"weekdays\", got " + in_quotes(part));
    }
    for (int d = *first; d <= *last; ++d) bits |= 1 << d;
  }
  if (bits == 0) return Status::invalid("names no day");
  return bits;
}

// A date field: "calendars.desk.closures[0].from: ..." names it when it is not one.
Status read_date(const Fields& fields, std::string_view key, Date& out) {
  std::string text;
  if (Status s = read_string(fields, key, text, {.required = true}); !s) return s;
  auto date = parse_date(text);
  if (!date) return date.status().with_context(fields.path_of(key));
  out = *date;
  return Status::ok();
}

}  // namespace

std::string date_text(const Date& date) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02d", date.year, date.month, date.day);
  return buffer;
}

Result<Date> parse_date(std::string_view text) {
  int y = 0, m = 0, d = 0;
  const auto digits = [&](std::size_t at, std::size_t n, int& out) {
    return std::from_chars(text.data() + at, text.data() + at + n, out).ptr == text.data() + at + n;
  };
  const bool shaped = text.size() == 10 && text[4] == '-' && text[7] == '-' && digits(0, 4, y) &&
                      digits(5, 2, m) && digits(8, 2, d);
  if (!shaped) return Status::invalid("expected a date YYYY-MM-DD, got " + in_quotes(text));
  const cctz::civil_day day(y, m, d);  // normalises 2027-02-30 to 2027-03-02
  if (y < kMinYear || day.year() != y || day.month() != m || day.day() != d) {
    return Status::invalid(in_quotes(text) + " is not a date (years " + std::to_string(kMinYear) +
                           " to " + std::to_string(kMaxYear) + ")");
  }
  return Date{y, m, d};
}

Date easter_sunday(int year) {
  const int a = year % 19, b = year / 100, c = year % 100, d = b / 4, e = b % 4;
  const int f = (b + 8) / 25, g = (b - f + 1) / 3, h = (19 * a + b - d - g + 15) % 30;
  const int i = c / 4, k = c % 4, l = (32 + 2 * e + 2 * i - h - k) % 7;
  const int m = (a + 11 * h + 22 * l) / 451;
  const int month = (h + l - 7 * m + 114) / 31;
  const int day = (h + l - 7 * m + 114) % 31 + 1;
  return {year, month, day};
}

std::span<const std::string_view> holiday_sets() { return kSets; }

Result<std::vector<Holiday>> builtin_holidays(std::string_view set, int year) {
  if (std::find(kSets.begin(), kSets.end(), set) == kSets.end()) {
    std::string known;
    for (const auto s : kSets) known += (known.empty() ? "" : ", ") + in_quotes(s);
    return Status::not_found("unknown holiday set " + in_quotes(set) + " (known: " + known + ")");
  }
  if (year < kMinYear || year > kMaxYear) {
    return Status::invalid("year " + std::to_string(year) + ": expected " +
                           std::to_string(kMinYear) + " to " + std::to_string(kMaxYear));
  }
  const cctz::civil_day easter = civil(easter_sunday(year));
  std::vector<Holiday> out = {
      {{year, 1, 1}, "Jour de l'an"},
      {date_of(easter + 1), "Lundi de Pâques"},
      {{year, 5, 1}, "Fête du Travail"},
      {{year, 5, 8}, "Victoire 1945"},
      {date_of(easter + 39), "Ascension"},
      {date_of(easter + 50), "Lundi de Pentecôte"},
      {{year, 7, 14}, "Fête nationale"},
      {{year, 8, 15}, "Assomption"},
      {{year, 11, 1}, "Toussaint"},
      {{year, 11, 11}, "Armistice 1918"},
      {{year, 12, 25}, "Noël"},
  };
  if (set == "fr-alsace") {
    out.push_back({date_of(easter - 2), "Vendredi saint"});
    out.push_back({{year, 12, 26}, "Saint-Étienne"});
  }
  // Ascension may fall on 1 or 8 May: both names are kept, in a stable order.
  std::stable_sort(out.begin(), out.end(),
                   [](const Holiday& a, const Holiday& b) { return a.date < b.date; });
  return out;
}

struct Calendar::Data {
  std::string zone_name;
  cctz::time_zone zone;
  std::array<std::vector<DayWindow>, 7> hours;
  std::string holiday_set;     // "" none
  std::vector<Holiday> extra;  // listed dates
  std::vector<Closure> closures;

  std::optional<std::string> day_off(const Date& date) const {
    for (const Holiday& h : extra) {
      if (h.date == date) return h.name;
    }
    for (const Closure& c : closures) {
      if (!(date < c.first) && !(c.last < date)) return c.name;
    }
    if (!holiday_set.empty()) {
      if (auto set = builtin_holidays(holiday_set, date.year)) {
        for (const Holiday& h : *set) {
          if (h.date == date) return h.name;
        }
      }
    }
    return std::nullopt;
  }

  // The working windows of a civil day as instants [start, end), in order.
  std::vector<std::pair<std::int64_t, std::int64_t>> windows(const cctz::civil_day& day) const {
    std::vector<std::pair<std::int64_t, std::int64_t>> out;
    const auto& spans = hours[static_cast<std::size_t>(weekday_index(cctz::get_weekday(day)))];
    if (spans.empty() || day_off(date_of(day))) return out;
    for (const DayWindow& w : spans) {
      // A start in a skipped hour (spring forward) begins at the change; an end in a
      // repeated hour (fall back) is its second occurrence.
      const auto start = zone.lookup(cctz::civil_second(day) + w.start_minute * 60);
      const auto end = zone.lookup(cctz::civil_second(day) + w.end_minute * 60);
      const Seconds from =
          start.kind == cctz::time_zone::civil_lookup::SKIPPED ? start.trans : start.pre;
      const Seconds to = end.kind == cctz::time_zone::civil_lookup::SKIPPED ? end.trans : end.post;
      if (from < to) out.emplace_back(to_ms(from), to_ms(to));
    }
    return out;
  }

  cctz::civil_day day_at(std::int64_t ms) const {
    return cctz::civil_day(cctz::convert(to_seconds(ms), zone));
  }
};

Calendar::Calendar(std::shared_ptr<const Data> data) : data_(std::move(data)) {}

Result<Calendar> Calendar::from_json(const json& object, std::string_view path) {
  const Fields fields{object, std::string(path)};
  if (Status s =
          check_keys(fields, {"time_zone", "hours", "holidays", "extra_holidays", "closures"});
      !s) {
    return s;
  }
  auto data = std::make_shared<Data>();
  data->zone_name = "localtime";
  if (Status s = read_string(fields, "time_zone", data->zone_name); !s) return s;
  if (!load_zone(data->zone_name, &data->zone)) {
    return field_error(fields.path_of("time_zone"),
                       "unknown time zone " + in_quotes(data->zone_name) +
                           " (a name of the tz database, e.g. \"Europe/Paris\")");
  }

  const json* hours = nullptr;
  if (Status s = read_object(fields, "hours", hours); !s) return s;
  if (hours) {
    const Fields hours_fields{*hours, fields.path_of("hours")};
    for (const auto& [days_text, spans] : hours->items()) {
      const std::string at = hours_fields.path_of(days_text);
      auto days = parse_days(days_text);
      if (!days) return days.status().with_context(at);
      std::vector<std::string> texts;
      if (Status s = read_strings(hours_fields, days_text, texts, {.single_string = true}); !s)
        return field_error(at, "expected \"HH:MM-HH:MM\" or a list of them");
      for (const auto& text : texts) {
        auto window = parse_window(text);
        if (!window) return window.status().with_context(at);
        for (int d = 0; d < 7; ++d) {
          if (*days & (1 << d)) data->hours[static_cast<std::size_t>(d)].push_back(*window);
        }
      }
    }
    for (std::size_t d = 0; d < 7; ++d) {
      auto& spans = data->hours[d];
      std::sort(spans.begin(), spans.end(), [](const DayWindow& a, const DayWindow& b) {
        return a.start_minute < b.start_minute;
      });
      for (std::size_t i = 1; i < spans.size(); ++i) {
        if (spans[i].start_minute < spans[i - 1].end_minute)
          return field_error(hours_fields.path,
                             "two windows overlap on " + std::string(kDayNames[d]));
      }
    }
  }

  if (Status s = read_string(fields, "holidays", data->holiday_set); !s) return s;
  if (!data->holiday_set.empty()) {
    if (auto probe = builtin_holidays(data->holiday_set, 2000); !probe)
      return probe.status().with_context(fields.path_of("holidays"));
  }

  if (const auto extra = object.find("extra_holidays"); extra != object.end()) {
    if (!extra->is_array())
      return field_error(fields.path_of("extra_holidays"),
                         std::string("expected an array, got ") + extra->type_name());
    for (std::size_t i = 0; i < extra->size(); ++i) {
      const json& item = (*extra)[i];
      const std::string at = item_path(fields.path_of("extra_holidays"), i);
      if (item.is_string()) {  // a bare date
        auto date = parse_date(item.get<std::string>());
        if (!date) return date.status().with_context(at);
        data->extra.push_back({*date, "Jour chômé"});
        continue;
      }
      const Fields one{item, at};
      if (!item.is_object()) return field_error(at, "expected a date or {date, name}");
      if (Status s = check_keys(one, {"date", "name"}); !s) return s;
      Holiday holiday;
      if (Status s = read_date(one, "date", holiday.date); !s) return s;
      if (Status s = read_string(one, "name", holiday.name, {.required = true}); !s) return s;
      data->extra.push_back(std::move(holiday));
    }
  }

  if (const auto closures = object.find("closures"); closures != object.end()) {
    if (!closures->is_array())
      return field_error(fields.path_of("closures"),
                         std::string("expected an array, got ") + closures->type_name());
    for (std::size_t i = 0; i < closures->size(); ++i) {
      const std::string at = item_path(fields.path_of("closures"), i);
      const Fields one{(*closures)[i], at};
      if (Status s = check_keys(one, {"from", "to", "name"}); !s) return s;
      Closure closure;
      if (Status s = read_date(one, "from", closure.first); !s) return s;
      if (Status s = read_date(one, "to", closure.last); !s) return s;
      if (closure.last < closure.first) return field_error(at, "\"to\" comes before \"from\"");
      if (Status s = read_string(one, "name", closure.name, {.required = true}); !s) return s;
      data->closures.push_back(std::move(closure));
    }
  }
  return Calendar(std::move(data));
}

Result<Calendar> Calendar::of_holiday_set(std::string_view set, std::string_view time_zone) {
  return from_json(json{{"holidays", set}, {"time_zone", time_zone}}, set);
}

const std::string& Calendar::time_zone() const { return data_->zone_name; }
const std::array<std::vector<DayWindow>, 7>& Calendar::hours() const { return data_->hours; }

std::vector<Holiday> Calendar::holidays(int year) const {
  std::vector<Holiday> out;
  if (!data_->holiday_set.empty()) {
    if (auto set = builtin_holidays(data_->holiday_set, year)) out = std::move(*set);
  }
  for (const Holiday& h : data_->extra) {
    if (h.date.year == year) out.push_back(h);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Holiday& a, const Holiday& b) { return a.date < b.date; });
  return out;
}

std::optional<std::string> Calendar::day_off(const Date& date) const {
  return data_->day_off(date);
}

Date Calendar::date_at(std::int64_t ms) const { return date_of(data_->day_at(within_years(ms))); }

std::optional<Holiday> Calendar::public_holiday_at(std::int64_t ms) const {
  const Date date = date_at(ms);
  for (const Holiday& h : data_->extra) {
    if (h.date == date) return h;
  }
  if (!data_->holiday_set.empty()) {
    if (auto set = builtin_holidays(data_->holiday_set, date.year)) {
      for (Holiday& h : *set) {
        if (h.date == date) return std::move(h);
      }
    }
  }
  return std::nullopt;
}

bool Calendar::working_at(std::int64_t ms) const {
  ms = within_years(ms);
  for (const auto& [from, to] : data_->windows(data_->day_at(ms))) {
    if (from <= ms && ms < to) return true;
  }
  return false;
}

std::int64_t Calendar::working_ms_between(std::int64_t from_ms, std::int64_t to_ms) const {
  if (to_ms <= from_ms) return 0;
  from_ms = within_years(from_ms);
  to_ms = within_years(to_ms);
  if (to_ms - from_ms > kMaxSpanMs) to_ms = from_ms + kMaxSpanMs;
  std::int64_t total = 0;
  const cctz::civil_day last = data_->day_at(to_ms);
  for (cctz::civil_day day = data_->day_at(from_ms); day <= last; ++day) {
    for (const auto& [start, end] : data_->windows(day)) {
      const std::int64_t a = std::max(start, from_ms), b = std::min(end, to_ms);
      if (a < b) total += b - a;
    }
  }
  return total;
}

std::optional<std::int64_t> Calendar::next_change(std::int64_t ms) const {
  if (ms >= kEndMs - 1) return std::nullopt;  // no change past the last instant answered for
  ms = within_years(ms);
  const bool now = working_at(ms);
  const cctz::civil_day first = data_->day_at(ms);
  for (cctz::civil_day day = first; day <= first + 370; ++day) {
    for (const auto& [start, end] : data_->windows(day)) {
      for (const std::int64_t t : {start, end}) {
        if (t > ms && working_at(t) != now) return t;
      }
    }
  }
  return std::nullopt;
}

Result<CalendarSet> CalendarSet::parse(std::string_view text, std::string_view where) {
  auto parsed = parse_json(text, {.comments = true});
  if (!parsed)
    return Status::invalid(std::string(where) + ": not valid JSON: " + parsed.status().message());
  const json root = std::move(*parsed);
  CalendarSet set;
  const Fields top{root};
  Status s = check_keys(top, {"calendars"});
  const json* calendars = nullptr;
  if (s) s = read_object(top, "calendars", calendars, /*required=*/true);
  if (s) {
    for (const auto& [name, object] : calendars->items()) {
      if (name.empty() || name.find_first_of(" \t\r\n/") != std::string::npos) {
        s = field_error("calendars", quote(name) + ": a calendar's name is one word");
        break;
      }
      if (std::find(kSets.begin(), kSets.end(), name) != kSets.end()) {
        s = field_error(field_path("calendars", name),
                        "the name of a built-in holiday set: choose another");
        break;
      }
      auto calendar = Calendar::from_json(object, field_path("calendars", name));
      if (!calendar) {
        s = calendar.status();
        break;
      }
      set.add(name, std::move(*calendar));
    }
  }
  if (!s) return s.with_context(where);
  return set;
}

Result<CalendarSet> CalendarSet::load(const std::filesystem::path& path) {
  auto text = read_file(path.string(), 1 << 20);
  if (!text) return text.status();
  return parse(*text, path.string());
}

void CalendarSet::add(std::string name, Calendar calendar) {
  named_.insert_or_assign(std::move(name), std::move(calendar));
}

const Calendar* CalendarSet::find(std::string_view name) const {
  const auto it = named_.find(name);
  return it == named_.end() ? nullptr : &it->second;
}

Result<Calendar> CalendarSet::resolve(std::string_view name, std::string_view zone) const {
  if (const Calendar* c = find(name)) return *c;
  if (std::find(kSets.begin(), kSets.end(), name) != kSets.end())
    return Calendar::of_holiday_set(name, zone);
  std::string sets;
  for (const auto s : kSets) sets += (sets.empty() ? "" : ", ") + std::string(s);
  return Status::not_found("no calendar named " + in_quotes(name) + " (calendars: " + names() +
                           "; holiday sets: " + sets + ")");
}

std::string CalendarSet::names() const {
  std::string out;
  for (const auto& [name, calendar] : named_) out += (out.empty() ? "" : ", ") + name;
  return out.empty() ? "none" : out;
}

}  // namespace vigie::collector
