#include "common/file.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "tests/support/temp_dir.hpp"

namespace vigie {
namespace {

TEST_CASE("read_file: reads a small file whole", "[file]") {
  testing::TempDir dir;
  const auto path = dir.write("token", "vga_1234\n");
  auto text = read_file(path.string(), 100);
  REQUIRE(text.is_ok());
  CHECK(*text == "vga_1234\n");
}

TEST_CASE("read_file: names the file and the reason when it cannot", "[file]") {
  testing::TempDir dir;
  auto missing = read_file((dir / "nope").string(), 100);
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK_THAT(missing.status().message(), Catch::Contains("nope"));

  auto directory = read_file(dir.path().string(), 100);
  CHECK(directory.status().code() == Code::kIoError);
  CHECK_THAT(directory.status().message(), Catch::Contains("not a regular file"));

  const auto big = dir.write("big", std::string(200'000, 'x'));
  auto too_large = read_file(big.string(), 100'000);
  CHECK(too_large.status().code() == Code::kTooLarge);

  // A device that never ends is refused, not read forever.
  CHECK(read_file("/dev/zero", 100).status().code() == Code::kIoError);
}

TEST_CASE("read_part: a header, the end of a file, /proc", "[file]") {
  testing::TempDir dir;
  const auto path = dir.write("log", "0123456789").string();
  CHECK(*read_part(path, 0, 4) == "0123");
  CHECK(*read_part(path, 6, 100) == "6789");
  CHECK(*read_part(path, 10, 100) == "");
  CHECK(*read_part(path, 50, 100) == "");
  CHECK(*read_part(path, 0, 0) == "");
  const auto big = dir.write("big", std::string(200'000, 'x')).string();
  CHECK(read_part(big, 1000, 150'000)->size() == 150'000);
  // /proc's files say they are empty, and are not.
  const auto status = read_part("/proc/self/status", 0, 4096);
  REQUIRE(status.is_ok());
  CHECK_THAT(*status, Catch::StartsWith("Name:"));

  CHECK(read_part((dir / "nope").string(), 0, 10).status().code() == Code::kNotFound);
  CHECK(read_part(dir.path().string(), 0, 10).status().code() == Code::kIoError);
  CHECK(read_part("/dev/zero", 0, 10).status().code() == Code::kIoError);
}

TEST_CASE("write_file_atomically: the whole file or the old one, never half", "[file]") {
  testing::TempDir dir;
  const auto path = (dir / "state.json").string();
  REQUIRE(write_file_atomically(path, "first\n", 0600).is_ok());
  CHECK(*read_file(path, 100) == "first\n");
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  REQUIRE(write_file_atomically(path, "second\n", 0600).is_ok());
  CHECK(*read_file(path, 100) == "second\n");
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));

  // A temporary file left by a crash is replaced, not appended to.
  dir.write("state.json.tmp", "half a fi");
  REQUIRE(write_file_atomically(path, "third\n", 0644).is_ok());
  CHECK(*read_file(path, 100) == "third\n");

  // Where it cannot be written, the old file stays and the error names the file.
  const auto missing = (dir / "no" / "such" / "folder" / "f").string();
  const auto refused = write_file_atomically(missing, "x", 0600);
  CHECK(refused.code() == Code::kIoError);
  CHECK_THAT(refused.message(), Catch::Contains(missing + ".tmp"));
  std::filesystem::create_directory(dir / "taken");
  const auto over_folder = write_file_atomically((dir / "taken").string(), "x", 0600);
  CHECK(over_folder.code() == Code::kIoError);
  CHECK_THAT(over_folder.message(), Catch::Contains("cannot write " + (dir / "taken").string()));
  CHECK(std::filesystem::is_directory(dir / "taken"));
  CHECK_FALSE(std::filesystem::exists(dir / "taken.tmp"));
}

}  // namespace
}  // namespace vigie
