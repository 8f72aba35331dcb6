#pragma once
// A fresh folder under $TMPDIR (or /tmp), removed with everything in it when the
// object goes out of scope.

#include <filesystem>
#include <string>

namespace vigie::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  // Writes `content` to path()/name (mode 0644, or 0755 when executable) and returns
  // the full path.
  std::filesystem::path write(const std::string& name, const std::string& content,
                              bool executable = false) const;
  // The same with mode 0600, as secrets (tokens) are kept.
  std::filesystem::path write_secret(const std::string& name, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

}  // namespace vigie::testing
