#include "plugins/net/ping_check.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "common/duration.hpp"
#include "plugins/check_support.hpp"
#include "plugins/net/common.hpp"
#include "plugins/net/icmp.hpp"

namespace vigie::plugins::net {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using std::chrono::milliseconds;

struct Target {
  std::string host;
  std::string site;
};

Status read_hosts(const Fields& params, std::vector<Target>& out) {
  const json* targets = nullptr;
  if (Status s = read_targets(params, "{\"host\": ..., \"site\": ...}", targets); !s) return s;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < targets->size(); ++i) {
    const json& item = (*targets)[i];
    const Fields fields{item, item_path("targets", i)};
    const std::string where = fields.path + ".";
    Target target;
    if (item.is_string()) {
      target.host = item.get<std::string>();
    } else if (item.is_object()) {
      if (Status s = check_keys(fields, {"host", "site"}); !s) return s;
      if (Status s = read_string(fields, "host", target.host, {.required = true}); !s) return s;
      if (Status s = read_site(fields, target.site); !s) return s;
    } else {
      return field_error(fields.path, "must be a host or {\"host\": ..., \"site\": ...}");
    }
    const bool printable = std::all_of(target.host.begin(), target.host.end(), [](char c) {
      return static_cast<unsigned char>(c) > 0x20 && c != 0x7f;
    });
    if (target.host.empty() || target.host.size() > 255 || !printable)
      return Status::invalid(where + "host: \"" + target.host.substr(0, 80) +
                             "\" is not a host name or address");
    if (!seen.insert(target.host).second)
      return Status::invalid(where + "host: \"" + target.host + "\" is listed twice");
    out.push_back(std::move(target));
  }
  return Status::ok();
}

class PingCheck final : public Check {
 public:
  Status configure(const json& params) override;
  Outcome run(const RunContext& context) override { return run_all(context).front(); }
  std::vector<Outcome> run_all(const RunContext& context) override;

 private:
  Outcome judge(const Target& target, const std::string& address, const EchoStats& stats,
                const std::string& method) const;

  std::vector<Target> targets_;
  EchoOptions echo_;
  milliseconds rtt_warn_{200}, rtt_crit_{500};
  double loss_warn_ = 20, loss_crit_ = 60;
};

Status PingCheck::configure(const json& params) {
  if (Status s = check_parameters(
          params, {"targets", "count", "rtt_warn", "rtt_crit", "loss_warn", "loss_crit",
                   "packet_interval", "packet_timeout", "icmp_socket"});
      !s)
    return s;
  if (Status s = read_hosts(params, targets_); !s) return s;
  if (Status s = read_integer(params, "count", 1, 100, echo_.count); !s) return s;
  if (targets_.size() * static_cast<std::size_t>(echo_.count) > kMaxEchoRequests)
    return Status::invalid("count: " + std::to_string(echo_.count) + " requests to " +
                           std::to_string(targets_.size()) + " hosts are more than " +
                           std::to_string(kMaxEchoRequests) + " in one round");
  constexpr DurationRule kRtt{.min = milliseconds(1), .max = milliseconds(3'600'000)};
  if (Status s = read_duration(params, "rtt_warn", kRtt, rtt_warn_); !s) return s;
  if (Status s = read_duration(params, "rtt_crit", kRtt, rtt_crit_); !s) return s;
  if (Status s = check_order(rtt_warn_, rtt_crit_, "rtt_warn", "rtt_crit"); !s) return s;
  if (Status s = read_number(params, "loss_warn", 0, 100, loss_warn_); !s) return s;
  if (Status s = read_number(params, "loss_crit", 0, 100, loss_crit_); !s) return s;
  if (loss_warn_ > loss_crit_)
    return Status::invalid("loss_warn: " + number_text(loss_warn_) + "% is above loss_crit (" +
                           number_text(loss_crit_) + "%)");
  constexpr DurationRule kPacket{.min = milliseconds(1), .max = milliseconds(60'000)};
  if (Status s = read_duration(params, "packet_interval", kPacket, echo_.interval); !s) return s;
  if (Status s = read_duration(params, "packet_timeout", kPacket, echo_.timeout); !s) return s;
  std::string socket;
  if (Status s = read_string(params, "icmp_socket", socket); !s) return s;
  if (socket == "auto") {
    echo_.socket = IcmpSocket::kAuto;
  } else if (socket == "unprivileged") {
    echo_.socket = IcmpSocket::kUnprivileged;
  } else if (socket == "raw") {
    echo_.socket = IcmpSocket::kRaw;
  } else if (!socket.empty()) {
    return Status::invalid("icmp_socket: " + quote(socket) +
                           ": must be \"auto\", \"unprivileged\" or \"raw\"");
  }
  return Status::ok();
}

Outcome PingCheck::judge(const Target& target, const std::string& address, const EchoStats& stats,
                         const std::string& method) const {
  Outcome outcome;
  outcome.target = target.host;
  outcome.site = target.site;
  const std::string name =
      address == target.host ? target.host : target.host + " (" + address + ")";
  const double loss =
      stats.sent == 0 ? 100 : std::round(100.0 * (stats.sent - stats.received) / stats.sent);
  outcome.metrics.push_back(
      threshold_metric("loss_pct", loss, "%", loss_warn_, loss_crit_, 0, 100));
  const double warn_ms = static_cast<double>(rtt_warn_.count());
  const double crit_ms = static_cast<double>(rtt_crit_.count());
  outcome.details = std::to_string(stats.sent) + " echo requests, " +
                    std::to_string(stats.received) + " replies, over a " + method;
  if (!stats.send_error.is_ok()) outcome.details += "\n" + stats.send_error.message();
  if (stats.received == 0) {
    outcome.status = State::kCritical;
    outcome.summary = name + ": no answer (" + std::to_string(stats.sent) + " sent" +
                      (stats.send_error.is_ok() ? "" : "; " + stats.send_error.message()) + ")";
    return outcome;
  }
  const auto micro = [](double ms) { return std::round(ms * 1000) / 1000; };
  outcome.metrics.push_back(
      threshold_metric("rtt_avg", micro(stats.rtt_avg_ms), "ms", warn_ms, crit_ms, 0));
  outcome.metrics.push_back(
      threshold_metric("rtt_min", micro(stats.rtt_min_ms), "ms", std::nullopt, std::nullopt, 0));
  outcome.metrics.push_back(
      threshold_metric("rtt_max", micro(stats.rtt_max_ms), "ms", std::nullopt, std::nullopt, 0));
  std::string loss_note, rtt_note;
  const State loss_state = above(loss, loss_warn_, loss_crit_, "%", loss_note);
  const State rtt_state = above(stats.rtt_avg_ms, warn_ms, crit_ms, " ms", rtt_note);
  outcome.status = worst(loss_state, rtt_state);
  outcome.summary = name + ": rtt " + millis_text(stats.rtt_avg_ms) + rtt_note + ", " +
                    number_text(loss) + "% lost" + loss_note + " (" +
                    std::to_string(stats.received) + "/" + std::to_string(stats.sent) + ")";
  outcome.details +=
      "\nrtt min " + millis_text(stats.rtt_min_ms) + ", max " + millis_text(stats.rtt_max_ms);
  return outcome;
}

std::vector<Outcome> PingCheck::run_all(const RunContext& context) {
  std::vector<Outcome> outcomes(targets_.size());  // in the order of the targets
  const auto now = Clock::now();
  // Names get at most a third of the run; addresses need no lookup.
  std::vector<std::string> hosts;
  for (const Target& target : targets_) hosts.push_back(target.host);
  const auto resolved = resolve_all(hosts, now + (context.deadline - now) / 3);

  std::vector<Address> addresses;
  std::vector<std::size_t> pinged;  // addresses[k] is targets_[pinged[k]]
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    if (resolved[i]) {
      addresses.push_back(*resolved[i]);
      pinged.push_back(i);
      continue;
    }
    Outcome outcome = unknown_outcome(targets_[i].host + ": " + resolved[i].status().message());
    outcome.target = targets_[i].host;
    outcome.site = targets_[i].site;
    outcomes[i] = std::move(outcome);
  }
  const EchoRound round = ping_all(addresses, echo_, context.deadline);
  for (std::size_t k = 0; k < pinged.size(); ++k) {
    const Target& target = targets_[pinged[k]];
    if (!round.hosts[k]) {
      Outcome outcome = unknown_outcome(target.host + ": " + round.hosts[k].status().message());
      outcome.target = target.host;
      outcome.site = target.site;
      outcomes[pinged[k]] = std::move(outcome);
      continue;
    }
    outcomes[pinged[k]] = judge(target, address_text(addresses[k]), *round.hosts[k], round.method);
  }
  return outcomes;
}

}  // namespace

std::unique_ptr<Check> make_ping_check() { return std::make_unique<PingCheck>(); }

}  // namespace vigie::plugins::net
