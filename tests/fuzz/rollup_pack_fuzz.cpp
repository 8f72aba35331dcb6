// libFuzzer target: the rollup pack's directory (collector/rollup_pack.hpp), which the
// tiers' reads parse from a pack's first bytes before reading one series' block.
// Whatever the bytes: no crash, no read past them; the directory read from the first
// bytes a reader takes is the one read from the whole pack; every entry lies inside the
// pack, in ascending series; a pack built again from the entries reads the same.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collector/rollup_pack.hpp"
#include "tests/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace c = vigie::collector;
  const std::string_view pack(reinterpret_cast<const char*>(data), size);
  std::vector<c::PackEntry> whole;
  const bool ok = c::parse_pack(pack, size, whole).is_ok();
  const auto directory = c::pack_directory_bytes(pack.substr(0, 11), size);
  if (!ok) {
    VIGIE_FUZZ_CHECK(whole.empty());
  } else {
    VIGIE_FUZZ_CHECK(directory.has_value() && *directory <= size);
  }
  if (directory) {
    VIGIE_FUZZ_CHECK(*directory <= size);
    std::vector<c::PackEntry> head;
    const bool head_ok = c::parse_pack(pack.substr(0, *directory), size, head).is_ok();
    VIGIE_FUZZ_CHECK(head_ok == ok);
    VIGIE_FUZZ_CHECK(head.size() == whole.size());
    for (std::size_t i = 0; i < head.size(); ++i) {
      VIGIE_FUZZ_CHECK(head[i].series == whole[i].series && head[i].offset == whole[i].offset &&
                       head[i].length == whole[i].length);
    }
  }
  if (!ok) return 0;
  c::PackBuilder builder;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    const c::PackEntry& e = whole[i];
    VIGIE_FUZZ_CHECK(e.length > 0 && e.offset <= size && e.length <= size - e.offset);
    VIGIE_FUZZ_CHECK(i == 0 || e.series > whole[i - 1].series);
    VIGIE_FUZZ_CHECK(c::find_in_pack(whole, e.series) == &e);
    builder.add(e.series, pack.substr(e.offset, e.length));
  }
  const std::string again = builder.take();
  std::vector<c::PackEntry> reread;
  VIGIE_FUZZ_CHECK(c::parse_pack(again, again.size(), reread).is_ok());
  VIGIE_FUZZ_CHECK(reread.size() == whole.size());
  for (std::size_t i = 0; i < reread.size(); ++i) {
    VIGIE_FUZZ_CHECK(reread[i].series == whole[i].series &&
                     again.substr(reread[i].offset, reread[i].length) ==
                         pack.substr(whole[i].offset, whole[i].length));
  }
  return 0;
}
