#include "common/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <system_error>

namespace vigie {
namespace {

Status failure(const std::string& path, int error) {
  const std::string m = path + ": " + std::generic_category().message(error);
  return error == ENOENT ? Status::not_found(m) : Status::io_error(m);
}

// A file descriptor, closed with its owner.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  void release() { fd_ = -1; }

 private:
  int fd_;
};

// Opens the regular file at `path` for reading.
Result<int> open_regular(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return failure(path, errno);
  Fd owner(fd);
  struct stat info {};
  if (::fstat(fd, &info) != 0) return failure(path, errno);
  if (!S_ISREG(info.st_mode)) return Status::io_error(path + ": not a regular file");
  owner.release();
  return fd;
}

// Appends to `text` what `fd` reads, up to `max_bytes` in all; one byte more when there
// is more, so that the caller can tell.
Status read_into(const std::string& path, int fd, std::size_t max_bytes, std::string& text) {
  char buffer[65536];
  while (text.size() <= max_bytes) {
    const std::size_t want = std::min(sizeof buffer, max_bytes + 1 - text.size());
    const ssize_t n = ::read(fd, buffer, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failure(path, errno);
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return Status::ok();
}

}  // namespace

Result<std::string> read_file(const std::string& path, std::size_t max_bytes) {
  const auto opened = open_regular(path);
  if (!opened) return opened.status();
  const Fd fd(*opened);
  std::string text;
  if (auto s = read_into(path, fd.get(), max_bytes, text); !s) return s;
  if (text.size() > max_bytes) {
    return Status::too_large(path + ": larger than " + std::to_string(max_bytes) + " bytes");
  }
  return text;
}

Result<std::string> read_part(const std::string& path, std::uint64_t offset,
                              std::size_t max_bytes) {
  const auto opened = open_regular(path);
  if (!opened) return opened.status();
  const Fd fd(*opened);
  if (offset > 0 && ::lseek(fd.get(), static_cast<off_t>(offset), SEEK_SET) < 0)
    return failure(path, errno);
  std::string text;
  if (auto s = read_into(path, fd.get(), max_bytes, text); !s) return s;
  if (text.size() > max_bytes) text.resize(max_bytes);
  return text;
}

Status write_file_atomically(const std::string& path, const std::string& content, unsigned mode) {
  const std::string temporary = path + ".tmp";
  ::unlink(temporary.c_str());
  const int raw = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (raw < 0) {
    return Status::io_error("cannot create " + temporary + ": " +
                            std::generic_category().message(errno));
  }
  Fd fd(raw);
  const auto fail = [&](const std::string& what) {
    const int error = errno;
    ::unlink(temporary.c_str());
    return Status::io_error("cannot write " + what + ": " + std::generic_category().message(error));
  };
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(temporary);
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return fail(temporary);
  if (std::rename(temporary.c_str(), path.c_str()) != 0) return fail(path);
  return Status::ok();
}

}  // namespace vigie
