#include "plugins/backup/file_age_check.hpp"

#include <fnmatch.h>
#include <sys/stat.h>

#include <cmath>
#include <ctime>
#include <filesystem>
#include <string>
#include <system_error>

#include "plugins/backup/freshness.hpp"
#include "plugins/check_support.hpp"

namespace vigie::plugins::backup {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr std::uint64_t kMaxEntries = 100'000;

struct Found {
  std::string name;  // relative to the folder
  std::int64_t time = 0;
  double size = 0;
};

class FileAgeCheck final : public Check {
 public:
  Status configure(const json& params) override;
  std::string instance() const override { return pattern_ == "*" ? path_ : path_ + "/" + pattern_; }
  Outcome run(const RunContext& context) override;

 private:
  std::string path_;
  std::string pattern_ = "*";
  bool recursive_ = false;
  double min_size_ = 1;
  FreshnessPolicy policy_;
};

Status FileAgeCheck::configure(const json& params) {
  if (Status s = check_parameters(
          params, {"path", "pattern", "recursive", "min_size", "warn", "crit", "shrink_warn"});
      !s)
    return s;
  std::string path;
  std::string pattern = "*";
  bool recursive = false;
  double min_size = 1;
  if (Status s = read_absolute_path(params, "path", path, /*required=*/true); !s) return s;
  if (Status s = read_string(params, "pattern", pattern); !s) return s;
  if (pattern.find('/') != std::string::npos)
    return Status::invalid("pattern: matches file names, so it cannot hold a '/'");
  if (Status s = read_bool(params, "recursive", recursive); !s) return s;
  if (Status s = read_size(params, "min_size", min_size); !s) return s;
  FreshnessPolicy policy;
  if (Status s = read_policy(params, policy); !s) return s;
  std::string normal = fs::path(path).lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  path_ = std::move(normal);
  pattern_ = std::move(pattern);
  recursive_ = recursive;
  min_size_ = min_size;
  policy_ = policy;
  return Status::ok();
}

Outcome FileAgeCheck::run(const RunContext& context) {
  if (path_.empty()) return unknown_outcome("check not configured: no path");
  std::error_code ec;
  const fs::path root(path_);
  if (!fs::is_directory(root, ec)) {
    Outcome outcome;
    outcome.status = State::kCritical;
    outcome.summary = path_ + ": " + (ec ? ec.message() : std::string("not a folder"));
    return outcome;
  }
  std::optional<Found> newest;
  std::optional<Found> previous;
  std::uint64_t count = 0;
  std::uint64_t entries = 0;
  const auto options = fs::directory_options::skip_permission_denied;
  const auto consider = [&](const fs::directory_entry& entry) {
    const std::string name = entry.path().filename().string();
    if (::fnmatch(pattern_.c_str(), name.c_str(), FNM_PERIOD) != 0) return;
    struct stat info {};
    if (::stat(entry.path().c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return;
    ++count;
    Found found{entry.path().lexically_relative(root).string(),
                static_cast<std::int64_t>(info.st_mtim.tv_sec), static_cast<double>(info.st_size)};
    if (!newest || found.time > newest->time) {
      previous = std::move(newest);
      newest = std::move(found);
    } else if (!previous || found.time > previous->time) {
      previous = std::move(found);
    }
  };
  const auto too_many = [&] {
    return unknown_outcome(path_ + ": more than " + std::to_string(kMaxEntries) +
                           " entries, not all looked at; narrow the path");
  };
  const auto late = [&] {
    return unknown_outcome(path_ + ": the timeout passed after " + std::to_string(entries) +
                           " entries");
  };
  if (recursive_) {
    fs::recursive_directory_iterator it(root, options, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (++entries > kMaxEntries) return too_many();
      if (entries % 256 == 0 && std::chrono::steady_clock::now() > context.deadline) return late();
      consider(*it);
    }
  } else {
    fs::directory_iterator it(root, options, ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
      if (++entries > kMaxEntries) return too_many();
      if (entries % 256 == 0 && std::chrono::steady_clock::now() > context.deadline) return late();
      consider(*it);
    }
  }
  if (ec) return unknown_outcome(path_ + ": cannot list: " + ec.message());

  std::optional<RestorePoint> latest;
  std::optional<RestorePoint> before;
  if (newest) latest = RestorePoint{newest->time, newest->size};
  if (previous) before = RestorePoint{previous->time, previous->size};
  auto outcome = judge_freshness("file", count, latest, before, policy_,
                                 static_cast<std::int64_t>(std::time(nullptr)));
  if (!newest) {
    outcome.summary = "no file matching " + quote(pattern_) + " in " + path_;
    return outcome;
  }
  outcome.summary += "; newest: " + newest->name;
  for (auto& metric : outcome.metrics) {
    if (metric.label == "size") metric.crit = Range{min_size_, INFINITY};
  }
  if (newest->size < min_size_) {
    outcome.status = State::kCritical;
    outcome.summary += ", below min_size " + bytes_text(min_size_) + " (CRITICAL)";
  }
  return outcome;
}

}  // namespace

std::unique_ptr<Check> make_file_age_check() { return std::make_unique<FileAgeCheck>(); }

}  // namespace vigie::plugins::backup
