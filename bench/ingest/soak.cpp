#include "bench/ingest/soak.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <thread>

#include "bench/ingest/loopback_client.hpp"
#include "common/time.hpp"

namespace vigie::bench::ingest {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kBackoffFirst{1000};
constexpr milliseconds kBackoffMax{30'000};
constexpr milliseconds kBackoffBusy{5000};  // the least a 503 or 429 asks (Retry-After)

// What all agents saw, for the timeline and the summary.
struct Counters {
  std::atomic<std::uint64_t> reports_made{0};
  std::atomic<std::uint64_t> results_made{0};
  std::atomic<std::uint64_t> stored{0};     // 2xx "stored"
  std::atomic<std::uint64_t> duplicate{0};  // 2xx "duplicate": stored before, answer lost
  std::atomic<std::uint64_t> results_acked{0};
  std::atomic<std::uint64_t> connection_errors{0};
  std::atomic<std::uint64_t> timeouts{0};
  std::atomic<std::uint64_t> busy{0};           // 503, 429
  std::atomic<std::uint64_t> server_errors{0};  // other 5xx
  std::atomic<std::uint64_t> refused{0};        // other answers: the batch would be set apart
  std::atomic<std::int64_t> held{0};            // reports made and not acknowledged yet
  std::atomic<std::int64_t> last_ack_ms{0};
  // Reports acknowledged and sent once more (duplicate_share): answered "duplicate",
  // answered "stored" (a report stored twice), or not answered with a 2xx (not judged).
  std::atomic<std::uint64_t> resent{0};
  std::atomic<std::uint64_t> resent_duplicate{0};
  std::atomic<std::uint64_t> resent_stored{0};
  std::atomic<std::uint64_t> resent_unanswered{0};
};

struct Batch {
  Agent::Written written;
  bool acked = false;
};

// One simulated agent and what it sent.
struct SimAgent {
  SimAgent(const Catalogue& catalogue, const Credential& c, const std::string& site,
           std::uint64_t first_seq, Rng& rng)
      : agent(catalogue, c.agent, site, first_seq, rng),
        headers({"Authorization: Bearer " + c.token, "Content-Type: application/json"}) {}

  Agent agent;
  Headers headers;
  std::string body;  // the report held, while `holding`
  bool holding = false;
  int attempts = 0;
  Clock::time_point next_report;  // when it makes its next report
  Clock::time_point retry_at;     // when it sends the one it holds again
  std::size_t collector = 0;      // which of the report URLs it sends to
  std::vector<Batch> batches;     // every report made, in order
};

// Each distinct line once (with the time it was first seen), up to a budget.
std::mutex g_log_mutex;
std::set<std::string> g_logged;
void log_once(std::atomic<int>& budget, const std::string& line) {
  const std::lock_guard lock(g_log_mutex);
  if (g_logged.contains(line) || budget.fetch_sub(1) <= 0) return;
  g_logged.insert(line);
  std::cerr << "vigie-bench-ingest: " << wall_ms() << ": " << line << "\n";
}

milliseconds backoff(int attempts, bool busy, Rng& rng) {
  const int shift = std::min(attempts, 5);
  milliseconds d = std::min(kBackoffFirst * (1 << shift), kBackoffMax);
  if (busy) d = std::max(d, kBackoffBusy);
  // Jitter: between half and all of it, so that the agents refused together come back apart.
  return milliseconds(
      static_cast<std::int64_t>(static_cast<double>(d.count()) * rng.uniform(0.5, 1.0)));
}

struct Load {
  const SoakOptions& o;
  const Catalogue& catalogue;
  Counters& counters;
  std::vector<std::string> urls;  // POST /api/v1/reports of each collector
  std::string query_base;         // the collector the results are looked up through
  Clock::time_point end;          // no new report after it
  Clock::time_point drain_end;    // nothing sent after it
  std::atomic<int> log_budget{40};
};

// One thread: its agents, over one keep-alive connection.
void run_agents(Load& load, LoopbackClient& client, std::vector<SimAgent>& agents, Rng& rng) {
  Counters& n = load.counters;
  for (;;) {
    const auto now = Clock::now();
    const bool making = now < load.end;
    if (now >= load.drain_end) return;
    // The agent with the most pressing thing to do.
    SimAgent* next = nullptr;
    Clock::time_point when = Clock::time_point::max();
    for (auto& a : agents) {
      const Clock::time_point t =
          a.holding ? a.retry_at : (making ? a.next_report : Clock::time_point::max());
      if (t < when) {
        when = t;
        next = &a;
      }
    }
    if (next == nullptr) return;  // nothing held and no more reports to make
    if (when > now) {
      std::this_thread::sleep_until(std::min({when, load.drain_end, making ? load.end : when}));
      continue;
    }
    SimAgent& a = *next;
    if (!a.holding) {
      const Agent::Written w = a.agent.next_report(load.o.results_per_report, rng, a.body);
      a.batches.push_back({w, false});
      a.holding = true;
      a.attempts = 0;
      a.next_report += load.o.interval;
      if (a.next_report < now) a.next_report = now + load.o.interval;
      n.reports_made.fetch_add(1);
      n.results_made.fetch_add(static_cast<std::uint64_t>(w.results));
      n.held.fetch_add(1);
    }
    const LoopbackReply reply = client.post(load.urls[a.collector], a.headers, a.body);
    bool busy = false;
    if (!reply.error.empty()) {
      const bool timed_out = reply.error.find("imeout") != std::string::npos;
      (timed_out ? n.timeouts : n.connection_errors).fetch_add(1);
    } else if (reply.status >= 200 && reply.status <= 299) {
      const bool duplicate = reply.body.find("\"duplicate\"") != std::string::npos;
      (duplicate ? n.duplicate : n.stored).fetch_add(1);
      a.batches.back().acked = true;
      a.holding = false;
      n.results_acked.fetch_add(static_cast<std::uint64_t>(a.batches.back().written.results));
      n.held.fetch_sub(1);
      n.last_ack_ms.store(wall_ms());
      if (load.o.on_acknowledged)
        load.o.on_acknowledged(a.agent.id(), a.batches.back().written.seq, a.body);
      if (load.o.duplicate_share > 0 && rng.uniform() < load.o.duplicate_share) {
        // The answer "lost": the same report again, to the next collector.
        n.resent.fetch_add(1);
        const std::size_t other = (a.collector + 1) % load.urls.size();
        const LoopbackReply again = client.post(load.urls[other], a.headers, a.body);
        if (!again.error.empty() || again.status < 200 || again.status > 299) {
          n.resent_unanswered.fetch_add(1);
        } else if (again.body.find("\"duplicate\"") != std::string::npos) {
          n.resent_duplicate.fetch_add(1);
        } else {
          n.resent_stored.fetch_add(1);
          log_once(load.log_budget, "a report acknowledged before was stored again: agent " +
                                        a.agent.id() + " seq " +
                                        std::to_string(a.batches.back().written.seq) + ": " +
                                        again.body.substr(0, 200));
        }
      }
      continue;
    } else if (reply.status == 503 || reply.status == 429) {
      n.busy.fetch_add(1);
      busy = true;
    } else if (reply.status >= 500) {
      n.server_errors.fetch_add(1);
      log_once(load.log_budget,
               "HTTP " + std::to_string(reply.status) + " " + reply.body.substr(0, 200));
    } else {
      // The real agent would set this batch apart: it is lost, and the run fails.
      n.refused.fetch_add(1);
      n.held.fetch_sub(1);
      a.holding = false;
      log_once(load.log_budget, "refused, HTTP " + std::to_string(reply.status) + " " +
                                    reply.body.substr(0, 200) + " (agent " + a.agent.id() + ")");
      continue;
    }
    a.retry_at = Clock::now() + backoff(a.attempts++, busy, rng);
    // As behind DNS with several addresses: the next attempt goes to the next collector.
    a.collector = (a.collector + 1) % load.urls.size();
  }
}

void write_timeline(std::ofstream& out, const Counters& n) {
  out << wall_ms() << ',' << n.stored.load() << ',' << n.duplicate.load() << ','
      << n.connection_errors.load() << ',' << n.timeouts.load() << ',' << n.busy.load() << ','
      << n.server_errors.load() << ',' << n.refused.load() << ',' << n.held.load() << ','
      << n.last_ack_ms.load() << '\n'
      << std::flush;
}

std::string url_escaped(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

struct Verdict {
  std::uint64_t results_checked = 0;  // results acknowledged, looked up
  std::uint64_t once = 0;
  std::uint64_t lost = 0;
  std::uint64_t doubled = 0;
  std::uint64_t unacked_stored = 0;  // sent, never acknowledged, yet stored (once)
  std::uint64_t unknown = 0;         // stored, never sent
  std::uint64_t query_errors = 0;

  void merge(const Verdict& v) {
    results_checked += v.results_checked;
    once += v.once;
    lost += v.lost;
    doubled += v.doubled;
    unacked_stored += v.unacked_stored;
    unknown += v.unknown;
    query_errors += v.query_errors;
  }
};

// Looks up every result `agents` sent, through GET /api/v1/series.
Verdict verify(const Load& load, LoopbackClient& client, const std::vector<SimAgent>& agents,
               const Headers& viewer, std::atomic<int>& log_budget) {
  Verdict v;
  const int checks = load.catalogue.checks();
  for (const auto& a : agents) {
    if (a.batches.empty()) continue;
    // Per check: the timestamps sent, and whether each was acknowledged.
    std::vector<std::map<std::int64_t, bool>> sent(static_cast<std::size_t>(checks));
    std::int64_t from = a.batches.front().written.first_ts_ms;
    std::int64_t to = from;
    for (const auto& b : a.batches) {
      for (int r = 0; r < b.written.results; ++r) {
        const int check = (b.written.first_check + r) % checks;
        sent[static_cast<std::size_t>(check)][b.written.first_ts_ms + r] = b.acked;
      }
      to = std::max(to, b.written.first_ts_ms + b.written.results);
    }
    for (int c = 0; c < checks; ++c) {
      const auto& mine = sent[static_cast<std::size_t>(c)];
      if (mine.empty()) continue;
      const std::string url =
          load.query_base + "/api/v1/series?agent=" + url_escaped(a.agent.id()) +
          "&check=" + url_escaped(load.catalogue.check_id(c)) +
          "&metric=" + url_escaped(load.catalogue.metric_name(c, 0)) +
          "&tier=raw&from=" + std::to_string(from) + "&to=" + std::to_string(to + 1);
      LoopbackReply reply;
      for (int attempt = 0; attempt < 5; ++attempt) {
        reply = client.get(url, viewer);
        if (reply.error.empty() && reply.status == 200) break;
        std::this_thread::sleep_for(milliseconds(500));
      }
      const auto body = nlohmann::json::parse(reply.body, nullptr, false);
      if (reply.status != 200 || !body.is_object() || !body.contains("points") ||
          !body["points"].is_array()) {
        ++v.query_errors;
        log_once(log_budget, "query failed: " + url + ": " +
                                 (reply.error.empty() ? "HTTP " + std::to_string(reply.status) +
                                                            " " + reply.body.substr(0, 200)
                                                      : reply.error));
        continue;
      }
      std::map<std::int64_t, int> found;
      for (const auto& p : body["points"]) {
        if (p.is_object() && p.contains("ts") && p["ts"].is_number_integer())
          ++found[p["ts"].get<std::int64_t>()];
      }
      for (const auto& [ts, acked] : mine) {
        const auto it = found.find(ts);
        const int count = it == found.end() ? 0 : it->second;
        if (acked) {
          ++v.results_checked;
          if (count == 1) ++v.once;
          if (count == 0) ++v.lost;
        } else if (count == 1) {
          ++v.unacked_stored;
        }
        if (count > 1) ++v.doubled;
      }
      for (const auto& [ts, count] : found) {
        if (!mine.contains(ts)) v.unknown += static_cast<std::uint64_t>(count);
      }
    }
  }
  return v;
}

}  // namespace

int run_soak(const SoakOptions& o, const Catalogue& catalogue,
             const std::vector<Credential>& credentials) {
  Counters counters;
  const std::vector<std::string> bases =
      o.base_urls.empty() ? std::vector<std::string>{o.base_url} : o.base_urls;
  Load load{o, catalogue, counters, {}, bases.front(), {}, {}};
  for (const auto& base : bases) load.urls.push_back(base + "/api/v1/reports");
  const int threads = std::min<int>(o.connections, static_cast<int>(credentials.size()));
  // As a real agent with fresh state does: sequence numbers from the current time in ms.
  const auto first_seq = static_cast<std::uint64_t>(wall_ms());
  std::vector<std::vector<SimAgent>> groups(static_cast<std::size_t>(threads));
  std::vector<Rng> rngs;
  std::vector<LoopbackClient> clients;
  const auto start = Clock::now() + milliseconds(200);
  for (int k = 0; k < threads; ++k) {
    rngs.emplace_back(static_cast<std::uint64_t>(k) + 1);
    auto client = LoopbackClient::create(o.ca_file, o.timeout);
    if (!client) {
      std::cerr << "vigie-bench-ingest: " << client.status().message() << "\n";
      return 1;
    }
    clients.push_back(std::move(*client));
  }
  for (std::size_t i = 0; i < credentials.size(); ++i) {
    auto& group = groups[i % static_cast<std::size_t>(threads)];
    group.reserve(credentials.size() / static_cast<std::size_t>(threads) + 1);
    group.emplace_back(catalogue, credentials[i], o.site, first_seq, rngs[i % rngs.size()]);
    group.back().collector = i % bases.size();
    // The agents' first reports spread over one interval, as a fleet started at random.
    group.back().next_report =
        start + milliseconds(o.interval.count() * static_cast<std::int64_t>(i) /
                             static_cast<std::int64_t>(credentials.size()));
  }
  load.end = start + o.duration;
  load.drain_end = load.end + o.drain;

  std::ofstream timeline;
  if (!o.timeline_file.empty()) {
    timeline.open(o.timeline_file, std::ios::trunc);
    if (!timeline) {
      std::cerr << "vigie-bench-ingest: cannot write " << o.timeline_file << "\n";
      return 1;
    }
    timeline << "ms,stored,duplicate,connection_errors,timeouts,busy,server_errors,refused,"
                "held,last_ack_ms\n";
  }
  std::fprintf(
      stderr,
      "vigie-bench-ingest: soak: %zu agents, a report of %d results every %.1f s each, "
      "for %.0f s, then at most %.0f s to send what is held\n",
      credentials.size(), o.results_per_report, static_cast<double>(o.interval.count()) / 1000,
      static_cast<double>(o.duration.count()) / 1000, static_cast<double>(o.drain.count()) / 1000);

  std::atomic<bool> done{false};
  std::thread ticker([&] {
    auto next = Clock::now();
    while (!done.load()) {
      if (timeline.is_open()) write_timeline(timeline, counters);
      next += std::chrono::seconds(1);
      while (!done.load() && Clock::now() < next) std::this_thread::sleep_for(milliseconds(50));
    }
    if (timeline.is_open()) write_timeline(timeline, counters);
  });
  {
    std::vector<std::thread> workers;
    for (int k = 0; k < threads; ++k) {
      workers.emplace_back([&, k] {
        try {
          run_agents(load, clients[static_cast<std::size_t>(k)],
                     groups[static_cast<std::size_t>(k)], rngs[static_cast<std::size_t>(k)]);
        } catch (const std::exception& e) {
          log_once(load.log_budget, std::string("an agent thread stopped: ") + e.what());
        }
      });
    }
    for (auto& t : workers) t.join();
  }
  done.store(true);
  ticker.join();
  const auto load_done = Clock::now();

  const Counters& n = counters;
  std::printf("soak: %zu agents, %llu reports made (%llu results), in %.0f s with the drain\n",
              credentials.size(), static_cast<unsigned long long>(n.reports_made.load()),
              static_cast<unsigned long long>(n.results_made.load()),
              std::chrono::duration<double>(load_done - start).count());
  std::printf("acknowledged:      %llu reports (%llu stored, %llu duplicate), %llu results\n",
              static_cast<unsigned long long>(n.stored.load() + n.duplicate.load()),
              static_cast<unsigned long long>(n.stored.load()),
              static_cast<unsigned long long>(n.duplicate.load()),
              static_cast<unsigned long long>(n.results_acked.load()));
  std::printf(
      "failed attempts:   %llu connection errors, %llu timeouts, %llu busy (503/429), "
      "%llu server errors (5xx)\n",
      static_cast<unsigned long long>(n.connection_errors.load()),
      static_cast<unsigned long long>(n.timeouts.load()),
      static_cast<unsigned long long>(n.busy.load()),
      static_cast<unsigned long long>(n.server_errors.load()));
  std::printf("refused:           %llu reports\n",
              static_cast<unsigned long long>(n.refused.load()));
  std::printf("held at the end:   %lld reports (never acknowledged)\n",
              static_cast<long long>(n.held.load()));
  bool ok = n.refused.load() == 0 && n.held.load() == 0;
  if (n.resent.load() > 0) {
    std::printf(
        "sent again:        %llu reports acknowledged: %llu answered duplicate, %llu stored "
        "again, %llu not answered 2xx\n",
        static_cast<unsigned long long>(n.resent.load()),
        static_cast<unsigned long long>(n.resent_duplicate.load()),
        static_cast<unsigned long long>(n.resent_stored.load()),
        static_cast<unsigned long long>(n.resent_unanswered.load()));
    ok = ok && n.resent_stored.load() == 0;
  }

  if (!o.viewer_token.empty()) {
    const auto verify_start = Clock::now();
    const Headers viewer({"Authorization: Bearer " + o.viewer_token});
    std::vector<Verdict> verdicts(groups.size());
    std::atomic<int> log_budget{20};
    std::vector<std::thread> workers;
    for (std::size_t k = 0; k < groups.size(); ++k) {
      workers.emplace_back([&, k] {
        try {
          verdicts[k] = verify(load, clients[k], groups[k], viewer, log_budget);
        } catch (const std::exception& e) {
          ++verdicts[k].query_errors;
          log_once(log_budget, std::string("a check thread stopped: ") + e.what());
        }
      });
    }
    for (auto& t : workers) t.join();
    Verdict v;
    for (const auto& one : verdicts) v.merge(one);
    std::printf(
        "checked (API):     %llu results acknowledged: %llu stored once, %llu lost, "
        "%llu doubled; %llu sent, never acknowledged, stored once; %llu stored, never "
        "sent; %llu queries failed (%.0f s)\n",
        static_cast<unsigned long long>(v.results_checked), static_cast<unsigned long long>(v.once),
        static_cast<unsigned long long>(v.lost), static_cast<unsigned long long>(v.doubled),
        static_cast<unsigned long long>(v.unacked_stored),
        static_cast<unsigned long long>(v.unknown), static_cast<unsigned long long>(v.query_errors),
        std::chrono::duration<double>(Clock::now() - verify_start).count());
    ok = ok && v.lost == 0 && v.doubled == 0 && v.unknown == 0 && v.query_errors == 0 &&
         v.once == v.results_checked;
  }
  std::printf("verdict:           %s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}

}  // namespace vigie::bench::ingest
