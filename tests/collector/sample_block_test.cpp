#include "collector/sample_block.hpp"

#include <catch2/catch.hpp>
#include <limits>

namespace vigie::collector {
namespace {

TEST_CASE("SampleBlock: samples round-trip exactly", "[sample_block]") {
  const std::vector<Sample> samples = {
      {1, 1'700'000'000'000, 0.5},
      {300'000, 1'700'000'060'000, -12.25},
      {7, 1'700'000'000'000, std::numeric_limits<double>::max()},
      {1LL << 40, 1'700'003'600'000, 0},
  };
  const std::string block = encode_samples(samples, 1'700'000'000'000);
  std::vector<Sample> decoded;
  REQUIRE(decode_samples(block, 1'700'000'000'000, decoded).is_ok());
  CHECK(decoded == samples);
}

TEST_CASE("SampleBlock: a damaged block is corruption, never a crash", "[sample_block]") {
  const std::string block = encode_samples({{1, 10, 1.0}, {2, 20, 2.0}}, 0);
  std::vector<Sample> out;
  CHECK(decode_samples("", 0, out).code() == Code::kCorruption);
  CHECK(decode_samples("\x02", 0, out).code() == Code::kCorruption);
  for (std::size_t cut = 2; cut < block.size(); ++cut) {
    // Cut right after the first sample, the bytes are a valid one-sample block: SQLite
    // never stores half a blob, so the layout carries no length of its own.
    if (cut == 11) continue;
    out.clear();
    INFO("cut at " << cut);
    CHECK(decode_samples(std::string_view(block).substr(0, cut), 0, out).code() ==
          Code::kCorruption);
  }
  // A varint that never ends.
  CHECK(decode_samples(std::string("\x01") + std::string(20, '\xff'), 0, out).code() ==
        Code::kCorruption);
}

}  // namespace
}  // namespace vigie::collector
