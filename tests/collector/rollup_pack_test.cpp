// Rollup packs (collector/rollup_pack.hpp): every series' block found again, from the
// whole pack and from the first bytes a reader reads; damaged packs refused.
#include "collector/rollup_pack.hpp"

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

namespace vigie::collector {
namespace {

struct Built {
  std::string pack;
  std::vector<std::int64_t> series;
  std::vector<std::string> blocks;
};

// `count` series with random ascending ids (gaps up to `max_gap`) and random blocks.
Built random_pack(std::mt19937_64& rng, int count, std::int64_t max_gap, std::size_t max_block) {
  Built b;
  PackBuilder builder;
  std::int64_t id = static_cast<std::int64_t>(rng() % 1000);
  for (int i = 0; i < count; ++i) {
    std::string block(1 + rng() % max_block, '\0');
    for (char& c : block) c = static_cast<char>(rng());
    builder.add(id, block);
    b.series.push_back(id);
    b.blocks.push_back(std::move(block));
    id += 1 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(max_gap));
  }
  b.pack = builder.take();
  return b;
}

void check_entries(const Built& b, const std::vector<PackEntry>& entries) {
  REQUIRE(entries.size() == b.series.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    CHECK(entries[i].series == b.series[i]);
    CHECK(b.pack.substr(entries[i].offset, entries[i].length) == b.blocks[i]);
  }
}

}  // namespace

TEST_CASE("Rollup packs: every series' block is found, from the whole pack or its first bytes",
          "[rollups][encoding]") {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    INFO("round " << round);
    const int count = 1 + static_cast<int>(rng() % 400);
    const std::int64_t max_gap = round % 3 == 0 ? 2 : round % 3 == 1 ? 1000 : (1LL << 40);
    const Built b = random_pack(rng, count, max_gap, round % 2 == 0 ? 40 : 3000);
    std::vector<PackEntry> entries;
    REQUIRE(parse_pack(b.pack, b.pack.size(), entries).is_ok());
    check_entries(b, entries);
    // A reader's way: the first 11 bytes say how many hold the directory.
    const auto directory = pack_directory_bytes(b.pack.substr(0, 11), b.pack.size());
    REQUIRE(directory.has_value());
    CHECK(*directory <= b.pack.size());
    std::vector<PackEntry> from_head;
    REQUIRE(parse_pack(b.pack.substr(0, *directory), b.pack.size(), from_head).is_ok());
    check_entries(b, from_head);
    for (std::size_t i = 0; i < b.series.size(); ++i) {
      const PackEntry* e = find_in_pack(entries, b.series[i]);
      REQUIRE(e != nullptr);
      CHECK(b.pack.substr(e->offset, e->length) == b.blocks[i]);
      // Ids between two series', before the first and after the last: not there.
      if (i + 1 == b.series.size() || b.series[i + 1] > b.series[i] + 1)
        CHECK(find_in_pack(entries, b.series[i] + 1) == nullptr);
    }
    CHECK(find_in_pack(entries, b.series.front() - 1) == nullptr);
  }
}

TEST_CASE("Rollup packs: empty blocks are not added, and the builder starts again after take",
          "[rollups][encoding]") {
  PackBuilder builder;
  builder.add(5, "");
  CHECK(builder.empty());
  builder.add(5, "abc");
  builder.add(9, "");
  builder.add(12, "de");
  const std::string pack = builder.take();
  CHECK(builder.empty());
  std::vector<PackEntry> entries;
  REQUIRE(parse_pack(pack, pack.size(), entries).is_ok());
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].series == 5);
  CHECK(entries[1].series == 12);
  CHECK(pack.substr(entries[1].offset, entries[1].length) == "de");
  builder.add(1, "x");
  const std::string second = builder.take();
  REQUIRE(parse_pack(second, second.size(), entries).is_ok());
  REQUIRE(entries.size() == 1);
  CHECK(entries[0].series == 1);
}

TEST_CASE("Rollup packs: damaged bytes are refused, never read past", "[rollups][encoding]") {
  std::mt19937_64 rng(11);
  const Built b = random_pack(rng, 30, 50, 20);
  std::vector<PackEntry> entries;
  // Cut anywhere: the blocks no longer end at its end.
  for (std::size_t cut = 0; cut < b.pack.size(); ++cut) {
    INFO("cut at " << cut);
    const std::string part = b.pack.substr(0, cut);
    CHECK_FALSE(parse_pack(part, part.size(), entries).is_ok());
    CHECK(entries.empty());
  }
  // A byte longer.
  CHECK_FALSE(parse_pack(b.pack + "x", b.pack.size() + 1, entries).is_ok());
  // Unknown format, no series, more head than size, ids not ascending.
  std::string other = b.pack;
  other[0] = 2;
  CHECK_FALSE(parse_pack(other, other.size(), entries).is_ok());
  CHECK_FALSE(pack_directory_bytes(other, other.size()).has_value());
  CHECK_FALSE(parse_pack(std::string("\x01\x00", 2), 2, entries).is_ok());
  CHECK_FALSE(parse_pack(b.pack, b.pack.size() - 1, entries).is_ok());
  CHECK_FALSE(parse_pack(std::string("\x01\x02\x05\x01\x00\x01xy", 8), 8, entries).is_ok());
  CHECK_FALSE(parse_pack("", 0, entries).is_ok());
  // Any byte changed: refused, or entries that stay inside the pack and ascend.
  for (std::size_t at = 0; at < b.pack.size(); ++at) {
    for (const unsigned char value : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
      std::string noisy = b.pack;
      noisy[at] = static_cast<char>(value);
      if (!parse_pack(noisy, noisy.size(), entries).is_ok()) {
        CHECK(entries.empty());
        continue;
      }
      for (std::size_t i = 0; i < entries.size(); ++i) {
        CHECK(entries[i].offset + entries[i].length <= noisy.size());
        if (i > 0) CHECK(entries[i].series > entries[i - 1].series);
      }
    }
  }
}

}  // namespace vigie::collector
