#pragma once
// Where results wait between the scheduler and the shipper, on disk, and where report
// batches get their sequence numbers.
//
// Store and forward: a result is written to the spool (an SQLite file) as soon as a
// check produced it; the shipper asks for the next batch, sends it, and removes it only
// after the collector acknowledged it (or refused it for good). Until then next_batch()
// returns the same batch with the same seq, across restarts too, so a retry is a
// replay the collector deduplicates on (agent, seq).
//
// A seq is never used twice: the batch handed out and the next seq are committed
// together, and synced to disk, before the batch is returned. A new spool file starts
// the sequence at the current time in milliseconds since the epoch, so an agent whose
// spool was lost still numbers its batches above anything it sent before (an agent
// sends far less than one batch per millisecond).
//
// Durability (WAL, synchronous=NORMAL, FULL when a batch is handed out): a killed
// agent loses nothing that add() returned from. A power cut may lose the results added
// since the last batch was handed out (at most a send interval's worth, 5 s by
// default), and the removal of the last acknowledged batch, which is then sent again
// with the same seq and ignored by the collector.
//
// Bounds: past max_bytes of stored results, or for results spooled longer than max_age
// ago, the oldest results not in the batch handed out are deleted (never the one just
// added), and counted in dropped(), which is stored in the file and so survives
// restarts.
//
// A batch the collector finds too large goes back to the queue (release), to be sent
// again in smaller batches under new seqs. A result it refuses for good is not retried
// forever: it alone is quarantined, kept apart in the same file with the collector's
// reason until an operator clears the quarantine (clear_quarantine, `vigie-agent spool
// --clear-quarantine`), and counted; the other results of its batch go back to the
// queue. The quarantine holds at most max_quarantine_bytes: past it, a newly refused
// result is dropped and counted in dropped() (the first ones are the evidence).
//
// A file that is not a spool, or is corrupt or truncated, is moved aside to
// "<path>.corrupt-<UTC time>" with an error in the log, and a new spool starts in its
// place; the same happens if SQLite finds corruption while the agent runs.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/check_result.hpp"
#include "common/protocol.hpp"
#include "common/status.hpp"

namespace vigie::agent {

// Results, and events, sent together in one report.
struct Batch {
  std::uint64_t seq = 0;
  // Each result's protocol JSON, as encode_result() (agent/report_encoding.hpp) wrote it
  // when the result was added: spliced as it is into the report, never decoded here.
  std::vector<std::string> results;
  // Each event's protocol JSON (encode_event()), likewise, in the order they were added;
  // at most protocol::Limits::max_events.
  std::vector<std::string> events;
  std::int64_t oldest_ms = 0;  // the earliest ts of its results and events
};

// The most one batch holds: results, and the size of their JSON in bytes and in JSON
// values (what the collector counts against its limits, docs/protocol.md). A batch holds
// at least one result, whatever its size. The defaults are well under the collector's
// limits (5,000 results, 32 MiB, 500,000 values), and the bytes a slow site link sends
// within the request timeout.
struct BatchLimits {
  std::size_t max_results = 500;
  std::size_t max_bytes = 2 << 20;
  std::size_t max_values = 250'000;
};

// A result the collector refused for good.
struct QuarantinedResult {
  std::uint64_t seq = 0;   // the report it was refused in
  std::int64_t at_ms = 0;  // when
  std::string reason;      // the collector's answer
  std::string result;      // the result, JSON
};

// Thread-safe: the scheduler adds, the shipper's thread takes and removes, the agent's
// own check reads the counters.
class Spool {
 public:
  virtual ~Spool() = default;

  // Stores a result (written, not synced: see above), encoded once by encode_result():
  // the caller has checked it (fit_to_protocol). When the spool is past its bounds the
  // oldest results not yet in a batch are dropped and counted. A result that cannot be
  // written (disk full...) is logged and counted as dropped too.
  virtual void add(const CheckResult& result) = 0;
  // Stores an event (an SNMP trap) the same way, encoded once by encode_event(): it
  // waits, counts, is bounded and batched with the results (at most
  // protocol::Limits::max_events in one batch).
  virtual void add(const protocol::Event& event) = 0;

  // The batch to send: the one handed out before and not removed yet, unchanged; or
  // else a new one of the oldest results, within `limits`, with the next seq. nullopt
  // when no result waits. Fails (kIoError) when the batch cannot be made durable: then
  // nothing is handed out, since a restart could reuse the seq.
  virtual Result<std::optional<Batch>> next_batch(const BatchLimits& limits) = 0;
  Result<std::optional<Batch>> next_batch(std::size_t max_results) {
    return next_batch(BatchLimits{.max_results = max_results});
  }

  // Forgets batch `seq` (delivered). Other seqs are ignored.
  virtual void remove(std::uint64_t seq) = 0;
  // Puts the results of batch `seq` back at the head of the queue, unsent (the
  // collector found the batch too large): the next batches take them again, under new
  // seqs; `seq` is never used again. Other seqs are ignored.
  virtual void release(std::uint64_t seq) = 0;
  // Result `index` of batch `seq` can never be accepted (`reason`: the collector's
  // answer): it is kept apart, for an operator to look at, and the batch's other
  // results go back to the queue as release() does. Other seqs are ignored.
  virtual void quarantine(std::uint64_t seq, std::size_t index, const std::string& reason) = 0;
  // Forgets the quarantined results (an operator looked at them); how many there were.
  virtual Result<std::size_t> clear_quarantine() = 0;

  // Results (and events) held: waiting, plus those in the batch handed out.
  virtual std::size_t size() const = 0;
  // When the oldest result held was produced (ms since the epoch); 0 when empty.
  virtual std::int64_t oldest_ms() const = 0;
  // Results dropped (bounds, write errors, a corrupt file) since the spool was created.
  virtual std::uint64_t dropped() const = 0;
  // Results quarantined since the spool was created, and those still kept.
  virtual std::uint64_t quarantined() const = 0;
  virtual std::vector<QuarantinedResult> quarantined_results() const = 0;
};

struct SpoolOptions {
  std::uint64_t max_bytes = 64ull << 20;  // of stored results (JSON); the file is a bit larger
  std::chrono::milliseconds max_age{7LL * 86'400'000};  // since the result was spooled
  std::uint64_t max_quarantine_bytes = 16ull << 20;     // of quarantined results (JSON)
  // The wall clock in ms since the epoch (max_age, first seq); null: wall_ms. Tests pin it.
  std::int64_t (*now_ms)() = nullptr;
  // Opens the file as it is, to look at it beside the agent that owns it
  // (SQLITE_OPEN_READONLY): nothing is created, upgraded, checkpointed or moved aside
  // (a corrupt or missing file is an error), and every call that would write fails.
  bool read_only = false;
};

// Opens the spool at `path`, creating it when missing (its folder must exist). A
// corrupt file is moved aside as described above; kIoError when the file or its
// folder cannot be read or written, with a message naming it.
Result<std::unique_ptr<Spool>> open_spool(const std::filesystem::path& path,
                                          SpoolOptions options = {});

}  // namespace vigie::agent
