#pragma once
// The simulated fleet: what agents running `checks` checks of `metrics` metrics each
// would send, shaped like the real thing (check ids such as "system/disk:/srv", metric
// names, units, warning and critical ranges, statuses mostly OK with a few WARNING and
// CRITICAL that change now and then), written in the two forms the benchmark sends:
// vigie reports (wire protocol v1 JSON) and InfluxDB 1.x line protocol.
//
// Bodies are written by hand into a reused buffer, not through nlohmann::json: the
// load generator shares the machine with the server it measures and must cost little.
// The strings in them are escaped once, when the Catalogue is built.
//
// Threading: a Catalogue is immutable and may be shared; an Agent, a SeriesSet and an
// Rng belong to one thread.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/check_result.hpp"

namespace vigie::bench::ingest {

// A small, fast, seedable generator (splitmix64): runs are reproducible.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  // Uniform in [0, 1).
  double uniform();
  // Uniform in [lo, hi].
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

 private:
  std::uint64_t state_;
};

// Identifiers as the collector accepts them: [A-Za-z0-9][A-Za-z0-9._-]*.
bool is_identifier(std::string_view text);
// The id of the i-th simulated agent (from 0): "bench-00001", "bench-00002", ...
std::string agent_id(int index);

// The checks every simulated agent runs, `checks` of them, each with `metrics` metrics.
// They come from a table of 30 real-looking checks; past 30 the table repeats with a
// numbered instance ("system/load:2"), past 3 metrics a check repeats its metrics with
// a number ("load1_2").
class Catalogue {
 public:
  // checks >= 1, metrics >= 1.
  Catalogue(int checks, int metrics);

  int checks() const { return static_cast<int>(checks_.size()); }
  int metrics() const { return metrics_; }

  // A value for metric `metric` of check `check` in status `status`: in the OK part
  // of its thresholds when OK; past the warning (critical) threshold when WARNING
  // (CRITICAL). Only metric 0 follows the status, the others stay normal.
  double value(int check, int metric, State status, Rng& rng) const;
  // Writes a value as JSON and line protocol take it (fixed point, the metric's decimals).
  void append_value(std::string& out, int check, int metric, double value) const;

  // Writes one result of check `check` in status `status` that ran at `ts_ms`, as an
  // object of a report's "results" array.
  void append_result(std::string& out, int check, State status, std::int64_t ts_ms, Rng& rng) const;
  // The check id of check `check` ("system/disk:/srv") and the name of its metric
  // `metric` ("used"), as the collector's query API names them.
  const std::string& check_id(int check) const {
    return checks_[static_cast<std::size_t>(check)].id;
  }
  const std::string& metric_name(int check, int metric) const {
    return checks_[static_cast<std::size_t>(check)].metric_names[static_cast<std::size_t>(metric)];
  }
  // The start of a line-protocol line of one series, up to its value.
  std::string line_prefix(std::string_view agent, std::string_view site, int check,
                          int metric) const;

 private:
  // One check as written, its strings escaped once.
  struct Check {
    std::size_t entry;                      // its row in the check table (workload.cpp)
    std::string id;                         // system/disk:/srv
    std::vector<std::string> metric_names;  // used, free, ...
    std::string json_head;       // {"name":"disk-srv","check":"system/disk:/srv","status":
    std::string summary_middle;  // " - disk-srv: used " (summary text after the state)
    std::string summary_unit;    // metric 0's unit
    std::string id_tag;          // the check id, escaped as a line-protocol tag value
    std::vector<std::string> metric_heads;  // {"name":"used","value":
    std::vector<std::string> metric_tails;  // ,"unit":"%","warn":"80",...}
    std::vector<std::string> metric_tags;   // the metric name as a tag value
  };
  // Which metric kind (workload.cpp) metric `metric` of check `check` is.
  std::size_t kind(int check, int metric) const;

  int metrics_;
  std::vector<Check> checks_;
};

// The next status of a check after one more run, from its current one.
State next_status(State status, Rng& rng);
// A status drawn from the long-run mix next_status() settles into (about 4 % not OK).
State initial_status(Rng& rng);

// One simulated vigie agent: its checks' statuses, its sequence number and clock.
class Agent {
 public:
  // `first_seq` numbers its first report; later ones count up from it.
  Agent(const Catalogue& catalogue, std::string id, std::string site, std::uint64_t first_seq,
        Rng& rng);

  const std::string& id() const { return id_; }

  // What one report holds: its seq, and its results, result r being check
  // (first_check + r) % checks at first_ts_ms + r.
  struct Written {
    std::uint64_t seq = 0;
    int first_check = 0;
    std::int64_t first_ts_ms = 0;
    int results = 0;
  };
  // Replaces `body` with its next report (protocol v1 JSON), holding its next `results`
  // results: its checks in turn, one result each, round after round.
  Written next_report(int results, Rng& rng, std::string& body);

 private:
  const Catalogue& catalogue_;
  std::string id_;
  std::string head_;           // the report up to the seq value
  std::vector<State> status_;  // per check
  std::uint64_t seq_;
  int next_check_ = 0;
  std::int64_t last_ts_ms_ = 0;
};

// Series written to InfluxDB: one series per (agent, check, metric), as
// `vigie,agent=A,check=C,metric=M,site=S value=V TS` with TS in milliseconds.
class SeriesSet {
 public:
  // The series numbered `indices` among agents x checks x metrics (agent-major).
  SeriesSet(const Catalogue& catalogue, const std::string& site,
            const std::vector<std::int64_t>& indices, Rng& rng);

  std::size_t size() const { return series_.size(); }

  // Replaces `body` with the next `points` points, one per series in turn. A series'
  // timestamps strictly increase (InfluxDB would overwrite a point at the same time).
  void next_lines(int points, Rng& rng, std::string& body);

 private:
  struct Series {
    std::string prefix;  // the line up to the value
    int check;
    int metric;
    State status;
    std::int64_t last_ts_ms;
  };
  const Catalogue& catalogue_;
  std::vector<Series> series_;
  std::size_t next_ = 0;
};

}  // namespace vigie::bench::ingest
