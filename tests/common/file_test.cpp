#include "common/file.hpp"

#include <catch2/catch.hpp>

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

}  // namespace
}  // namespace vigie
