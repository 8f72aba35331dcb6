#include "common/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace vigie {

Result<std::string> read_file(const std::string& path, std::size_t max_bytes) {
  const auto failure = [&](int error) {
    const std::string m = path + ": " + std::generic_category().message(error);
    return error == ENOENT ? Status::not_found(m) : Status::io_error(m);
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return failure(errno);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat info {};
  if (::fstat(fd, &info) != 0) return failure(errno);
  if (!S_ISREG(info.st_mode)) return Status::io_error(path + ": not a regular file");

  std::string text;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failure(errno);
    if (n == 0) return text;
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > max_bytes) {
      return Status::too_large(path + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
}

}  // namespace vigie
