#pragma once
// Where results wait between the scheduler and the shipper, and where report batches
// get their sequence numbers.
//
// Store and forward: a result is added once; the shipper asks for the next batch,
// sends it, and removes it only after the collector acknowledged it (or refused it for
// good). Until then next_batch() returns the same batch with the same seq, so a retry
// is a replay the collector deduplicates on (agent, seq).
//
// A seq is never used twice, across restarts too: the next seq is written to a state
// file (atomically: temporary file, fsync, rename) before a batch carrying the
// previous one is handed out. A fresh state file starts the sequence at the current
// time in milliseconds since the epoch, so an agent whose state was wiped still
// numbers its batches above anything it sent before.
//
// Today's implementation keeps results in memory (lost on restart); an SQLite spool
// that survives restarts will implement the same interface.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "common/check_result.hpp"
#include "common/status.hpp"

namespace vigie::agent {

// Results sent together in one report.
struct Batch {
  std::uint64_t seq = 0;
  std::vector<CheckResult> results;
};

// Thread-safe: the scheduler adds, the shipper's thread takes and removes.
class Spool {
 public:
  virtual ~Spool() = default;

  // Adds a result. Never blocks on I/O. When the spool is full the oldest result not
  // yet in a batch is dropped and counted.
  virtual void add(CheckResult result) = 0;

  // The batch to send: the one handed out before and not removed yet, unchanged; or
  // else a new one of the oldest results (at most `max_results`, >= 1) with the next
  // seq. nullopt when no result waits. Fails (kIoError) when the next seq cannot be
  // persisted: then nothing is handed out, since a restart could reuse the seq.
  virtual Result<std::optional<Batch>> next_batch(std::size_t max_results) = 0;

  // Forgets batch `seq` (delivered, or refused for good). Other seqs are ignored.
  virtual void remove(std::uint64_t seq) = 0;

  // Results held: waiting, plus those in the batch handed out.
  virtual std::size_t size() const = 0;
  // Results dropped because the spool was full, since it was opened.
  virtual std::uint64_t dropped() const = 0;
};

struct MemorySpoolOptions {
  std::size_t max_results = 10'000;  // results waiting (the batch handed out excluded)
};

// Opens an in-memory spool whose seq lives in `seq_file` (created when missing; its
// folder must exist). kCorruption when the file holds anything but a number, with a
// message that says it may be removed; kIoError when it cannot be read or written.
Result<std::unique_ptr<Spool>> open_memory_spool(const std::filesystem::path& seq_file,
                                                 MemorySpoolOptions options = {});

}  // namespace vigie::agent
