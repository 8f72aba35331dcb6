#include "common/human_text.hpp"

#include <catch2/catch.hpp>

#include <chrono>

namespace vigie {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

}  // namespace

TEST_CASE("bytes_text: powers of 1024, one decimal below 10", "[human_text]") {
  CHECK(bytes_text(0) == "0 B");
  CHECK(bytes_text(512) == "512 B");
  CHECK(bytes_text(1023) == "1023 B");
  CHECK(bytes_text(1024) == "1.0 KiB");
  CHECK(bytes_text(3.4 * 1024 * 1024 * 1024) == "3.4 GiB");
  CHECK(bytes_text(120.0 * 1024 * 1024 * 1024) == "120 GiB");
  CHECK(bytes_text(2048.0 * 1024 * 1024 * 1024 * 1024 * 1024 * 1024) == "2048 EiB");
  CHECK(bytes_text(-2048) == "-2.0 KiB");
}

TEST_CASE("age_text: two units at most, hours up to three days", "[human_text]") {
  CHECK(age_text(0ms) == "0s");
  CHECK(age_text(999ms) == "0s");
  CHECK(age_text(45s) == "45s");
  CHECK(age_text(12min + 30s) == "12m");
  CHECK(age_text(3h + 12min) == "3h12m");
  CHECK(age_text(3h) == "3h");
  CHECK(age_text(10h + 5min) == "10h");
  CHECK(age_text(30h) == "30h");
  CHECK(age_text(71h) == "71h");
  CHECK(age_text(4 * 24h + 3h) == "4d3h");
  CHECK(age_text(41 * 24h + 3h) == "41d");
  CHECK(age_text(-12min) == "-12m");
  CHECK(age_text(milliseconds::min()).front() == '-');
}

TEST_CASE("short_age_text: the largest whole unit", "[human_text]") {
  CHECK(short_age_text(0ms) == "0s");
  CHECK(short_age_text(12'345ms) == "12s");
  CHECK(short_age_text(59'999ms) == "59s");
  CHECK(short_age_text(60s) == "1m");
  CHECK(short_age_text(3min + 59s) == "3m");
  CHECK(short_age_text(1h) == "1h");
  CHECK(short_age_text(2h + 59min) == "2h");
  CHECK(short_age_text(24h) == "1d");
  CHECK(short_age_text(4 * 24h + 5ms) == "4d");
  CHECK(short_age_text(400 * 24h) == "400d");
}

TEST_CASE("short_age_text: a negative age reads 0s", "[human_text]") {
  CHECK(short_age_text(-5s) == "0s");
}

}  // namespace vigie
