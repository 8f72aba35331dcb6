#include "tests/support/temp_dir.hpp"

#include <stdlib.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace vigie::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/vigie-test.XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::write(const std::string& name, const std::string& content,
                                     bool executable) const {
  const auto file = path_ / name;
  std::filesystem::create_directories(file.parent_path());
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << content;
  }
  using std::filesystem::perms;
  std::filesystem::permissions(file, executable ? perms(0755) : perms(0644));
  return file;
}

std::filesystem::path TempDir::write_secret(const std::string& name,
                                            const std::string& content) const {
  const auto file = path_ / name;
  std::filesystem::create_directories(file.parent_path());
  {
    // Created (or cut) with no access for others, then written: never readable by them.
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    std::filesystem::permissions(file, std::filesystem::perms(0600));
    out << content;
  }
  std::filesystem::permissions(file, std::filesystem::perms(0600));
  return file;
}

}  // namespace vigie::testing
