#include "collector/postgres/listen.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "collector/postgres/pq.hpp"
#include "collector/postgres/schema.hpp"
#include "common/log.hpp"

namespace vigie::collector::pg {
namespace {
constexpr std::chrono::milliseconds kFirstRetry{100};
constexpr std::chrono::milliseconds kLastRetry{5000};
// A payload longer names no agent but "*": PostgreSQL refuses 8000 bytes and more.
constexpr std::size_t kLongestPayload = 7000;
const Storage::OthersChanged kAll{.all = true};

void sort_unique(std::vector<std::string>& names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
}
}  // namespace

std::string payload(std::string_view self, const Storage::OthersChanged& changed) {
  const std::string all = std::string(self) + "\n*";
  if (changed.all) return all;
  std::string out = std::string(self) + '\n';
  for (std::size_t i = 0; i < changed.agents.size(); ++i) {
    const std::string& agent = changed.agents[i];
    // A name with a line break in it cannot be told apart from two: all, then.
    if (agent.find('\n') != std::string::npos) return all;
    if (i > 0) out += '\n';
    out += agent;
    if (out.size() > kLongestPayload) return all;
  }
  return out;
}

std::optional<Storage::OthersChanged> read_payload(std::string_view payload,
                                                   std::string_view self) {
  const auto end = payload.find('\n');
  if (payload.substr(0, end) == self) return std::nullopt;
  if (end == std::string_view::npos) return kAll;  // from a collector that names no agents
  Storage::OthersChanged changed;
  std::string_view rest = payload.substr(end + 1);
  while (!rest.empty()) {
    const auto line_end = rest.find('\n');
    const std::string_view line = rest.substr(0, line_end);
    if (line == "*") return kAll;
    if (!line.empty()) changed.agents.emplace_back(line);
    if (line_end == std::string_view::npos) break;
    rest.remove_prefix(line_end + 1);
  }
  sort_unique(changed.agents);
  return changed;
}

Listener::Listener(std::string conninfo, std::string self, Changed changed, Migrated migrated)
    : conninfo_(std::move(conninfo)),
      self_(std::move(self)),
      changed_(std::move(changed)),
      migrated_(std::move(migrated)) {
  if (!stop_.ready()) {
    log::error("live changes: cannot make a pipe; other collectors' changes are not followed");
    return;
  }
  thread_ = std::thread([this] { run(); });
}

Listener::~Listener() {
  stop_.stop();
  if (thread_.joinable()) thread_.join();
}

void Listener::run() {
  // Waits up to `ms` or until stopped; false when stopping.
  auto pause = [this](std::chrono::milliseconds ms) {
    (void)stop_.wait(ms);
    return !stop_.stopping();
  };
  auto delay = kFirstRetry;
  bool lost = false;  // the connection was up before and dropped
  while (!stop_.stopping()) {
    auto made = pq::Conn::connect(conninfo_);
    Status s = made ? (*made)->exec("SET application_name = 'vigie-listen'; LISTEN " +
                                    std::string(kChannel) + "; LISTEN " + kSchemaChannel)
                    : made.status();
    // Read once listening: a migration committed after it is notified, one before it is
    // read here.
    Result<std::int64_t> version = s ? schema_version(**made) : Result<std::int64_t>(s);
    if (!version) s = version.status();
    if (!s) {
      if (!lost) log::warning("live changes: " + s.message() + "; trying again");
      lost = true;
      if (!pause(delay)) return;
      delay = std::min(delay * 2, kLastRetry);
      continue;
    }
    std::unique_ptr<pq::Conn> conn = std::move(*made);
    delay = kFirstRetry;
    if (migrated_) migrated_(*version);
    if (lost) {
      log::notice("live changes: listening again");
      changed_(kAll);  // what others committed meanwhile is read again
      lost = false;
    }
    for (;;) {
      short events = 0;
      if (stop_.wait(std::chrono::milliseconds(-1), conn->socket(), &events) < 0 && errno != EINTR)
        break;
      if (stop_.stopping()) return;
      if (!(events & (POLLIN | POLLERR | POLLHUP))) continue;
      const bool up = conn->consume_input() && conn->ok();
      // Those read at once are merged: one call reads their agents together.
      std::optional<Storage::OthersChanged> others;
      for (const auto& notification : conn->notifications()) {
        if (notification.channel == kSchemaChannel) {
          std::int64_t version = 0;
          const std::string& text = notification.payload;
          const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
          if (ec == std::errc() && end == text.data() + text.size() && migrated_)
            migrated_(version);
          continue;
        }
        auto changed = read_payload(notification.payload, self_);
        if (!changed) continue;
        if (!others) {
          others = std::move(*changed);
          continue;
        }
        others->all = others->all || changed->all;
        others->agents.insert(others->agents.end(), changed->agents.begin(), changed->agents.end());
      }
      if (others) {
        if (others->all) others->agents.clear();
        sort_unique(others->agents);
        changed_(*others);
      }
      if (!up) break;
    }
    log::warning("live changes: the LISTEN connection was lost; making it again");
    lost = true;
    if (!pause(kFirstRetry)) return;
  }
}

}  // namespace vigie::collector::pg
