#include "collector/state.hpp"

#include <iterator>

namespace vigie::collector {
namespace {

constexpr std::pair<EventKind, std::string_view> kEventKinds[] = {
    {EventKind::kState, "state"},
    {EventKind::kStale, "stale"},
    {EventKind::kFresh, "fresh"},
    {EventKind::kFlappingStart, "flapping_start"},
    {EventKind::kFlappingStop, "flapping_stop"},
    {EventKind::kAcknowledged, "acknowledged"},
    {EventKind::kAckRemoved, "ack_removed"},
    {EventKind::kAckExpired, "ack_expired"},
    {EventKind::kDowntimeStart, "downtime_start"},
    {EventKind::kDowntimeEnd, "downtime_end"},
    {EventKind::kAgentLost, "agent_lost"},
    {EventKind::kAgentBack, "agent_back"},
    {EventKind::kSiteUnreachable, "site_unreachable"},
    {EventKind::kSiteReachable, "site_reachable"},
    {EventKind::kTrap, "trap"},
};

template <class T>
void move_append(std::vector<T>& to, std::vector<T>& from) {
  to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

}  // namespace

std::string_view state_type_name(StateType type) {
  return type == StateType::kSoft ? "soft" : "hard";
}

std::string_view event_kind_name(EventKind kind) {
  for (const auto& [k, name] : kEventKinds) {
    if (k == kind) return name;
  }
  return "state";
}

std::optional<EventKind> event_kind_from_name(std::string_view name) {
  for (const auto& [k, n] : kEventKinds) {
    if (n == name) return k;
  }
  return std::nullopt;
}

void StateDelta::append(StateDelta other) {
  move_append(events, other.events);
  move_append(checks, other.checks);
  move_append(agents, other.agents);
  move_append(downtimes, other.downtimes);
  move_append(audit, other.audit);
  move_append(notifications, other.notifications);
  move_append(outbox, other.outbox);
}

}  // namespace vigie::collector
