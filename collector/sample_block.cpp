#include "collector/sample_block.hpp"

#include <bit>
#include <cstring>

namespace vigie::collector {
namespace {

constexpr char kVersion = 1;

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

bool get_varint(std::string_view& in, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return true;
  }
  return false;
}

}  // namespace

std::string encode_samples(const std::vector<Sample>& samples, std::int64_t base_ms) {
  static_assert(std::endian::native == std::endian::little, "blocks are little-endian");
  std::string out;
  out.reserve(1 + samples.size() * 14);
  out += kVersion;
  for (const auto& s : samples) {
    put_varint(out, static_cast<std::uint64_t>(s.series));
    put_varint(out, static_cast<std::uint64_t>(s.ts_ms - base_ms));
    char bytes[sizeof(double)];
    std::memcpy(bytes, &s.value, sizeof bytes);
    out.append(bytes, sizeof bytes);
  }
  return out;
}

Status decode_samples(std::string_view block, std::int64_t base_ms, std::vector<Sample>& out) {
  if (block.empty() || block.front() != kVersion)
    return {Code::kCorruption, "sample block: unknown version"};
  block.remove_prefix(1);
  while (!block.empty()) {
    std::uint64_t series = 0;
    std::uint64_t delta = 0;
    if (!get_varint(block, series) || !get_varint(block, delta) || block.size() < sizeof(double))
      return {Code::kCorruption, "sample block: truncated"};
    Sample s;
    s.series = static_cast<std::int64_t>(series);
    s.ts_ms = base_ms + static_cast<std::int64_t>(delta);
    std::memcpy(&s.value, block.data(), sizeof(double));
    block.remove_prefix(sizeof(double));
    out.push_back(s);
  }
  return Status::ok();
}

}  // namespace vigie::collector
