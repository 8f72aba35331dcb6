// probe_http/tls/dns for the agent: each round runs the helper vigie-probe
// (probe.hpp), so that libcurl, OpenSSL and c-ares never load in the agent's process.

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "plugins/net/probe.hpp"
#include "plugins/process.hpp"

namespace vigie::plugins::net {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kHelper = "vigie-probe";
// The helper stops probing this long before the check's deadline, to answer in time.
constexpr milliseconds kMargin{300};
constexpr std::size_t kMaxAnswer = 16 * 1024 * 1024;

// Next to the agent's program (a build tree, or a copy of both), in the libexec folder
// beside its bin folder, or where the build meant to install it.
Result<std::string> helper_path() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::vector<std::string> tried;
  if (!ec) {
    tried.push_back((self.parent_path() / kHelper).string());
    tried.push_back(
        (self.parent_path().parent_path() / "libexec" / "vigie" / kHelper).lexically_normal());
  }
  const std::string installed = (std::filesystem::path(VIGIE_LIBEXEC_DIR) / kHelper).string();
  if (std::find(tried.begin(), tried.end(), installed) == tried.end()) tried.push_back(installed);
  for (const auto& path : tried) {
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  std::string message =
      std::string("the network-probe helper ") + kHelper + " is not installed (looked for";
  for (const auto& path : tried) message += " " + path;
  return Status::unavailable(message + ")");
}

// Runs the helper on `request` and decodes its answers; a job it did not answer gets
// the reason.
template <class Answer>
std::vector<Answer> run_helper(ProbeRequest request, std::size_t jobs, Clock::time_point deadline) {
  std::vector<Answer> answers(jobs);
  std::vector<bool> answered(jobs, false);
  const auto fail_all = [&](const Status& status) {
    for (std::size_t i = 0; i < jobs; ++i) {
      if (!answered[i]) {
        answers[i].error = status;
        answers[i].not_run = true;
      }
    }
    return answers;
  };
  if (jobs == 0) return answers;
  auto helper = helper_path();
  if (!helper) return fail_all(helper.status());
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
  request.budget = std::max(milliseconds(100), left - kMargin);
  ProcessOptions options;
  options.timeout = std::max(milliseconds(200), left);
  options.max_output = kMaxAnswer;
  options.input = encode_request(request);
  if (options.input->size() > kMaxInput)
    return fail_all(Status::too_large("the probe request is larger than the helper reads"));
  auto run = run_process({*helper}, options);
  if (!run) return fail_all(run.status().with_context(*helper));
  std::string_view out = run->out;
  Status first_error;
  while (!out.empty()) {
    const std::size_t end = out.find('\n');
    if (end == std::string_view::npos) break;  // a line cut short: the helper died
    Answer answer;
    auto job = decode_answer(out.substr(0, end), answer);
    out.remove_prefix(end + 1);
    if (!job || *job >= jobs || answered[*job]) {
      if (first_error.is_ok())
        first_error = job ? Status::corruption("probe helper's answer: job " +
                                               std::to_string(*job) + " unknown or repeated")
                          : job.status();
      continue;
    }
    answered[*job] = true;
    answers[*job] = std::move(answer);
  }
  if (!first_error.is_ok()) return fail_all(first_error);
  using Ending = ProcessResult::Ending;
  std::string why;
  switch (run->ending) {
    case Ending::kTimedOut:
      return fail_all(
          Status::timeout(std::string("the network-probe helper did not finish within ") +
                          std::to_string(options.timeout.count()) + " ms"));
    case Ending::kSignaled: why = "was killed by signal " + std::to_string(run->signal); break;
    case Ending::kExited: {
      const std::string_view err(run->err);
      why = "exited with status " + std::to_string(run->exit_code) +
            (err.empty() ? std::string() : ": " + std::string(err.substr(0, err.find('\n'))));
    }
  }
  return fail_all(Status::unavailable("the network-probe helper " + why));
}

}  // namespace

std::vector<HttpAnswer> probe_http(const std::vector<HttpProbe>& jobs, Clock::time_point deadline) {
  ProbeRequest request;
  request.kind = "http";
  request.http = jobs;
  return run_helper<HttpAnswer>(std::move(request), jobs.size(), deadline);
}

std::vector<TlsAnswer> probe_tls(const std::vector<TlsProbe>& jobs, Clock::time_point deadline) {
  ProbeRequest request;
  request.kind = "tls";
  request.tls = jobs;
  return run_helper<TlsAnswer>(std::move(request), jobs.size(), deadline);
}

std::vector<DnsAnswer> probe_dns(const std::vector<DnsProbe>& jobs, Clock::time_point deadline) {
  ProbeRequest request;
  request.kind = "dns";
  request.dns = jobs;
  return run_helper<DnsAnswer>(std::move(request), jobs.size(), deadline);
}

}  // namespace vigie::plugins::net
