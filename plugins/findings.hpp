#pragma once
// What a check found, gathered as it goes, and turned into a result a technician can
// act on: the summary names each problem (one line, most severe first), the details
// list every finding, problems and facts alike.

#include <algorithm>
#include <string>
#include <vector>

#include "common/check_result.hpp"

namespace vigie::plugins {

class Findings {
 public:
  // A problem when `state` is not OK, a fact otherwise.
  void add(State state, std::string text) { items_.push_back({state, std::move(text)}); }
  // Adds `other`'s findings after these.
  void append(const Findings& other) {
    items_.insert(items_.end(), other.items_.begin(), other.items_.end());
  }

  State state() const {
    State out = State::kOk;
    for (const auto& item : items_) out = worst(out, item.state);
    return out;
  }

  bool has_problems() const {
    return std::any_of(items_.begin(), items_.end(),
                       [](const Item& item) { return item.state != State::kOk; });
  }

  // The problems, most severe first, joined by "; " (ties keep their order).
  std::string problems() const {
    std::vector<const Item*> sorted;
    for (const auto& item : items_) {
      if (item.state != State::kOk) sorted.push_back(&item);
    }
    std::stable_sort(sorted.begin(), sorted.end(), [](const Item* a, const Item* b) {
      return severity(a->state) > severity(b->state);
    });
    std::string out;
    for (const Item* item : sorted) {
      if (!out.empty()) out += "; ";
      out += item->text;
    }
    return out;
  }

  // One line per finding: "CRITICAL: service ips stopped", "OK: 21/21 services running".
  std::string details() const {
    std::string out;
    for (const auto& item : items_) {
      if (!out.empty()) out += '\n';
      out += std::string(state_name(item.state)) + ": " + item.text;
    }
    return out;
  }

 private:
  struct Item {
    State state;
    std::string text;
  };
  std::vector<Item> items_;
};

}  // namespace vigie::plugins
