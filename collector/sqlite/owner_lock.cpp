#include "collector/sqlite/owner_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace vigie::collector {
namespace {

// The device and inode of an open file, as /proc/locks writes them ("08:01:1234").
std::string lock_id(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return {};
  char id[64];
  std::snprintf(id, sizeof id, "%02x:%02x:%llu", major(st.st_dev), minor(st.st_dev),
                static_cast<unsigned long long>(st.st_ino));
  return id;
}

// The process holding a lock on the file `fd` is open on, from /proc/locks; 0 if unknown.
long lock_holder(int fd) {
  const std::string id = lock_id(fd);
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    std::istringstream fields(line);
    std::string number, kind, mode, access, pid, where;
    if (!(fields >> number >> kind)) continue;
    if (kind == "->") fields >> kind;  // a waiter
    if (fields >> mode >> access >> pid >> where && kind == "FLOCK" && where == id)
      return std::strtol(pid.c_str(), nullptr, 10);
  }
  return 0;
}

}  // namespace

Result<int> lock_database(const std::filesystem::path& path, LockMode mode) {
  if (mode == LockMode::kServe && path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
  }
  const int fd = mode == LockMode::kServe ? ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)
                                          : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::io_error("cannot open " + path.string() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
  const int error = errno;
  const long holder = lock_holder(fd);
  ::close(fd);
  if (error != EWOULDBLOCK)
    return Status::io_error("cannot lock " + path.string() + ": " + std::strerror(error));
  return Status(Code::kFailedPrecondition,
                "database " + path.string() + " is served by another collector" +
                    (holder > 0 ? " (process " + std::to_string(holder) + ")" : std::string()));
}

}  // namespace vigie::collector
