#include "agent/spool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <deque>
#include <iterator>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "common/time.hpp"

namespace vigie::agent {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxSeqFileBytes = 64;

Status errno_status(const std::string& what, int error) {
  return Status::io_error(what + ": " + std::generic_category().message(error));
}

Status write_all(int fd, std::string_view data, const std::string& name) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_status(name, errno);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::ok();
}

// Replaces `path` with `content` so that a crash leaves either the old or the new
// file, never a torn one: write a temporary file, fsync it, rename it over, fsync the
// folder so that the rename itself is durable.
Status write_file_atomically(const fs::path& path, std::string_view content) {
  const std::string name = path.string();
  const std::string temporary = name + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno_status(temporary, errno);
  Status status = write_all(fd, content, temporary);
  if (status && ::fsync(fd) != 0) status = errno_status(temporary, errno);
  if (::close(fd) != 0 && status) status = errno_status(temporary, errno);
  if (status && ::rename(temporary.c_str(), name.c_str()) != 0) status = errno_status(name, errno);
  if (!status) {
    ::unlink(temporary.c_str());
    return status;
  }
  const std::string folder = path.has_parent_path() ? path.parent_path().string() : ".";
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return errno_status(folder, errno);
  if (::fsync(dir) != 0) status = errno_status(folder, errno);
  ::close(dir);
  return status;
}

Status write_seq(const fs::path& path, std::uint64_t next) {
  return write_file_atomically(path, std::to_string(next) + "\n");
}

// The seq stored in `path`, or nullopt when there is no such file.
Result<std::optional<std::uint64_t>> read_seq(const fs::path& path) {
  const std::string name = path.string();
  const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return std::optional<std::uint64_t>();
  if (fd < 0) return errno_status(name, errno);
  char buffer[kMaxSeqFileBytes + 1];
  std::size_t size = 0;
  while (size < sizeof buffer) {
    const ssize_t n = ::read(fd, buffer + size, sizeof buffer - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return errno_status(name, error);
    }
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  ::close(fd);
  std::string_view text(buffer, size);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  std::uint64_t seq = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seq);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || seq == 0) {
    return Status(Code::kCorruption,
                  name +
                      ": expected the next report sequence number; remove the file to start "
                      "a new sequence (it starts above any earlier one)");
  }
  return std::optional<std::uint64_t>(seq);
}

class MemorySpool final : public Spool {
 public:
  MemorySpool(fs::path seq_file, std::uint64_t next_seq, MemorySpoolOptions options)
      : seq_file_(std::move(seq_file)), options_(options), next_seq_(next_seq) {}

  void add(CheckResult result) override {
    std::lock_guard lock(mutex_);
    if (options_.max_results == 0) {
      ++dropped_;
      return;
    }
    if (waiting_.size() >= options_.max_results) {
      waiting_.pop_front();
      ++dropped_;
    }
    waiting_.push_back(std::move(result));
  }

  Result<std::optional<Batch>> next_batch(std::size_t max_results) override {
    std::uint64_t seq = 0;
    {
      std::lock_guard lock(mutex_);
      if (head_) return std::optional<Batch>(*head_);
      if (waiting_.empty()) return std::optional<Batch>();
      seq = next_seq_;
    }
    // The file write happens outside the lock so that add() never waits on the disk;
    // only the shipper's thread takes batches, so nobody else can hand out `seq`.
    if (Status s = write_seq(seq_file_, seq + 1); !s) {
      return s.with_context("cannot persist the report sequence number");
    }
    std::lock_guard lock(mutex_);
    next_seq_ = seq + 1;
    if (waiting_.empty()) return std::optional<Batch>();
    Batch batch;
    batch.seq = seq;
    const std::size_t count = std::min(std::max<std::size_t>(max_results, 1), waiting_.size());
    batch.results.assign(std::make_move_iterator(waiting_.begin()),
                         std::make_move_iterator(waiting_.begin() + static_cast<long>(count)));
    waiting_.erase(waiting_.begin(), waiting_.begin() + static_cast<long>(count));
    head_ = std::move(batch);
    return std::optional<Batch>(*head_);
  }

  void remove(std::uint64_t seq) override {
    std::lock_guard lock(mutex_);
    if (head_ && head_->seq == seq) head_.reset();
  }

  std::size_t size() const override {
    std::lock_guard lock(mutex_);
    return waiting_.size() + (head_ ? head_->results.size() : 0);
  }

  std::uint64_t dropped() const override {
    std::lock_guard lock(mutex_);
    return dropped_;
  }

 private:
  const fs::path seq_file_;
  const MemorySpoolOptions options_;
  mutable std::mutex mutex_;
  std::deque<CheckResult> waiting_;
  std::optional<Batch> head_;  // handed out, not removed yet
  std::uint64_t next_seq_;
  std::uint64_t dropped_ = 0;
};

}  // namespace

Result<std::unique_ptr<Spool>> open_memory_spool(const fs::path& seq_file,
                                                 MemorySpoolOptions options) {
  auto stored = read_seq(seq_file);
  if (!stored) return stored.status();
  std::uint64_t next = stored->value_or(0);
  if (!*stored) {
    next = static_cast<std::uint64_t>(wall_ms());
    // Written now, so that an unwritable state folder stops the agent at start-up
    // rather than at its first send.
    if (Status s = write_seq(seq_file, next); !s) return s;
  }
  return std::unique_ptr<Spool>(std::make_unique<MemorySpool>(seq_file, next, options));
}

}  // namespace vigie::agent
