#include "collector/trap_events.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/utf8.hpp"

namespace vigie::collector {

using nlohmann::json;

namespace {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::string trap_text(const protocol::Event& trap, std::int64_t not_kept_before) {
  const auto cut = [](const std::string& text) { return cut_utf8(text, kMaxTrapValue); };
  json out = {{"device", cut(trap.device)},   {"source", cut(trap.source)},
              {"version", cut(trap.version)}, {"inform", trap.inform},
              {"oid", cut(trap.trap_oid)},    {"name", cut(trap.trap_name)}};
  if (not_kept_before > 0) out["not_kept_before"] = not_kept_before;
  // Room for the variables: what the rest takes, and the count of those left out.
  const std::size_t base = dump(out).size() + 64;
  std::size_t used = base;
  json varbinds = json::array();
  std::size_t left_out = 0;
  for (const protocol::TrapVarbind& v : trap.varbinds) {
    json item = {
        {"oid", cut(v.oid)}, {"name", cut(v.name)}, {"type", cut(v.type)}, {"value", cut(v.value)}};
    const std::size_t size = dump(item).size() + 1;
    if (left_out > 0 || used + size > kMaxTrapText) {
      ++left_out;
      continue;
    }
    used += size;
    varbinds.push_back(std::move(item));
  }
  out["varbinds"] = std::move(varbinds);
  if (left_out > 0) out["varbinds_not_kept"] = left_out;
  return dump(out);
}

void TrapGate::refill(Bucket& b, std::int64_t now_ms) const {
  if (now_ms > b.at_ms) {
    b.credit_ms = std::min(full(), b.credit_ms + (now_ms - b.at_ms));
    b.at_ms = now_ms;
  }
}

void TrapGate::forget_full(std::int64_t now_ms) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    refill(it->second, now_ms);
    if (it->second.credit_ms >= full() && it->second.not_kept == 0) it = buckets_.erase(it);
    else ++it;
  }
}

bool TrapGate::admit(const std::string& agent, const std::string& device, const std::string& check,
                     std::int64_t now_ms, std::int64_t* not_kept_before) {
  *not_kept_before = 0;
  std::string key = agent;
  key += '\n';
  key += device;
  key += '\n';
  key += check;
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= options_.max_buckets) forget_full(now_ms);
    if (buckets_.size() >= options_.max_buckets) {
      // Every bucket is in a storm: a new one is one too many.
      ++not_kept_;
      return false;
    }
    it = buckets_.emplace(std::move(key), Bucket{.credit_ms = full(), .at_ms = now_ms}).first;
  }
  Bucket& b = it->second;
  refill(b, now_ms);
  if (b.credit_ms < options_.refill_ms) {
    ++b.not_kept;
    ++not_kept_;
    return false;
  }
  b.credit_ms -= options_.refill_ms;
  *not_kept_before = b.not_kept;
  b.not_kept = 0;
  ++kept_;
  return true;
}

}  // namespace vigie::collector
