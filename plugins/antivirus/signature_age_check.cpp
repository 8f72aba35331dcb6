#include "plugins/antivirus/signature_age_check.hpp"

#include <fnmatch.h>
#include <sys/stat.h>

#include <charconv>
#include <ctime>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "common/duration.hpp"
#include "common/file.hpp"
#include "plugins/check_support.hpp"

namespace vigie::plugins::antivirus {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr std::uint64_t kMaxEntries = 10'000;
constexpr std::size_t kHeaderSize = 512;

struct Signatures {
  std::string file;  // where they were read
  std::int64_t time = 0;
  std::optional<long long> version;
};

// The 512-byte header of a ClamAV database:
// "ClamAV-VDB:<build time>:<version>:<signatures>:<level>:<md5>:<dsig>:<builder>:<seconds>".
Result<Signatures> read_clamav_header(const fs::path& file) {
  auto read = read_part(file.string(), 0, kHeaderSize);
  if (!read) return read.status();
  const std::string header = std::move(*read);
  const auto bad = [&](const std::string& why) {
    return Status(Code::kCorruption, file.string() + ": " + why);
  };
  if (!header.starts_with("ClamAV-VDB:"))
    return bad("not a ClamAV database (no ClamAV-VDB header)");
  if (header.size() < kHeaderSize) return bad("header cut short");
  std::vector<std::string_view> fields;
  std::string_view rest(header);
  while (fields.size() < 9) {
    const auto colon = rest.find(':');
    fields.push_back(rest.substr(0, colon));
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  if (fields.size() < 9)
    return bad("header has " + std::to_string(fields.size()) + " fields, not 9");
  const auto number = [](std::string_view text) -> std::optional<long long> {
    while (!text.empty() && (text.back() == ' ' || text.back() == '\0' || text.back() == '\n'))
      text.remove_suffix(1);
    long long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
    return value;
  };
  const auto version = number(fields[2]);
  if (!version) return bad("version " + quote(fields[2]) + " is not a number");
  // The build time in seconds is the last field; anything after it in the 512 bytes is
  // padding.
  auto seconds_field = fields[8];
  seconds_field = seconds_field.substr(0, seconds_field.find_first_of(" \0:", 0, 3));
  const auto seconds = number(seconds_field);
  if (!seconds) return bad("build time " + quote(seconds_field) + " is not a number");
  return Signatures{file.string(), *seconds, *version};
}

class SignatureAgeCheck final : public Check {
 public:
  Status configure(const json& params) override;
  std::string instance() const override { return path_; }
  Outcome run(const RunContext& context) override;

 private:
  Result<Signatures> newest(const RunContext& context) const;

  std::string path_;
  std::string pattern_;
  bool clamav_ = false;
  std::chrono::seconds warn_{2 * 86400};
  std::chrono::seconds crit_{7 * 86400};
};

Status SignatureAgeCheck::configure(const json& params) {
  if (Status s = check_parameters(params, {"path", "format", "pattern", "warn", "crit"}); !s) {
    return s;
  }
  std::string path;
  std::string format = "mtime";
  std::string pattern;
  if (Status s = read_absolute_path(params, "path", path, /*required=*/true); !s) return s;
  if (Status s = read_string(params, "format", format); !s) return s;
  if (format != "mtime" && format != "clamav")
    return Status::invalid("format: must be \"mtime\" or \"clamav\"");
  if (Status s = read_string(params, "pattern", pattern); !s) return s;
  if (pattern.find('/') != std::string::npos)
    return Status::invalid("pattern: matches file names, so it cannot hold a '/'");
  auto warn = warn_;
  auto crit = crit_;
  if (Status s = read_duration(params, "warn", {}, warn); !s) return s;
  if (Status s = read_duration(params, "crit", {}, crit); !s) return s;
  if (Status s = check_order(warn, crit, "warn", "crit"); !s) return s;
  clamav_ = format == "clamav";
  if (pattern.empty()) pattern = clamav_ ? "daily.c[lvu]d" : "*";
  std::string normal = fs::path(path).lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  path_ = std::move(normal);
  pattern_ = std::move(pattern);
  warn_ = warn;
  crit_ = crit;
  return Status::ok();
}

Result<Signatures> SignatureAgeCheck::newest(const RunContext& context) const {
  std::error_code ec;
  const fs::path root(path_);
  const auto status = fs::status(root, ec);
  if (ec) return Status::not_found(path_ + ": " + ec.message());
  const auto one = [&](const fs::path& file) -> Result<Signatures> {
    if (clamav_) return read_clamav_header(file);
    struct stat info {};
    if (::stat(file.c_str(), &info) != 0)
      return Status::io_error(file.string() + ": " + std::generic_category().message(errno));
    return Signatures{file.string(), static_cast<std::int64_t>(info.st_mtim.tv_sec), std::nullopt};
  };
  if (!fs::is_directory(status)) return one(root);

  std::optional<Signatures> best;
  std::uint64_t entries = 0;
  fs::directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (++entries > kMaxEntries)
      return Status::too_large(path_ + ": more than " + std::to_string(kMaxEntries) + " entries");
    if (std::chrono::steady_clock::now() > context.deadline)
      return Status::timeout(path_ + ": the timeout passed");
    const std::string name = it->path().filename().string();
    if (::fnmatch(pattern_.c_str(), name.c_str(), FNM_PERIOD) != 0) continue;
    if (!it->is_regular_file(ec)) continue;
    auto found = one(it->path());
    if (!found) return found.status();
    // ClamAV: the loaded database is the highest version (.cld is patched from .cvd).
    const bool better =
        !best || (clamav_ ? *found->version > *best->version : found->time > best->time);
    if (better) best = std::move(*found);
  }
  if (ec) return Status::io_error(path_ + ": cannot list: " + ec.message());
  if (!best) return Status::not_found("no file matching " + quote(pattern_) + " in " + path_);
  return *best;
}

Outcome SignatureAgeCheck::run(const RunContext& context) {
  if (path_.empty()) return unknown_outcome("check not configured: no path");
  const auto found = newest(context);
  Outcome outcome;
  if (!found) {
    // No signatures where they should be: the engine is not installed or never updated.
    outcome.status = found.status().code() == Code::kNotFound ? State::kCritical : State::kUnknown;
    outcome.summary = found.status().message();
    return outcome;
  }
  const std::int64_t age = static_cast<std::int64_t>(std::time(nullptr)) - found->time;
  const std::int64_t shown = std::max<std::int64_t>(age, 0);
  outcome.metrics.push_back(threshold_metric("signature_age", static_cast<double>(shown), "s",
                                             static_cast<double>(warn_.count()),
                                             static_cast<double>(crit_.count())));
  std::string what = "signatures";
  if (found->version) {
    outcome.metrics.push_back(threshold_metric(
        "signature_version", static_cast<double>(*found->version), "", std::nullopt, std::nullopt));
    what += " " + std::to_string(*found->version);
  }
  std::string note;
  outcome.status = older_than(age, warn_, crit_, note);
  outcome.summary = what + " of " + utc_text(found->time) + " (" +
                    age_text(std::chrono::seconds(shown)) + " old) in " + found->file + note;
  return outcome;
}

}  // namespace

std::unique_ptr<Check> make_signature_age_check() { return std::make_unique<SignatureAgeCheck>(); }

}  // namespace vigie::plugins::antivirus
