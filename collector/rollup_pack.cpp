#include "collector/rollup_pack.hpp"

#include <algorithm>

#include "collector/bit_codec.hpp"
#include "common/log.hpp"

namespace vigie::collector {
namespace {

using bits::get_varint;
using bits::put_varint;

constexpr char kFormat = 1;
// A directory entry's two varints at most (ids and lengths below 2^63).
constexpr std::size_t kMaxEntryBytes = 2 * 10;

Status not_a_pack(std::string_view why) {
  return Status::corruption("rollup pack: " + std::string(why));
}

// Merges `add` (ascending) into `into` (ascending), bucket by bucket.
void merge_sorted(std::vector<RollupBucket>& into, const std::vector<RollupBucket>& add) {
  for (const RollupBucket& b : add) {
    auto it = std::lower_bound(into.begin(), into.end(), b.ts_ms,
                               [](const RollupBucket& s, std::int64_t ts) { return s.ts_ms < ts; });
    if (it != into.end() && it->ts_ms == b.ts_ms) merge_bucket(*it, b);
    else into.insert(it, b);
  }
}

}  // namespace

std::optional<std::size_t> pack_directory_bytes(std::string_view head, std::size_t size) {
  if (head.empty() || head.front() != kFormat) return std::nullopt;
  head.remove_prefix(1);
  std::uint64_t count = 0;
  if (!get_varint(head, count)) return std::nullopt;
  // Every series takes at least 3 bytes (two varints and a block of one byte or more).
  if (count > size / 3) return std::nullopt;
  return std::min(size, 1 + 10 + static_cast<std::size_t>(count) * kMaxEntryBytes);
}

Status parse_pack(std::string_view head, std::size_t size, std::vector<PackEntry>& out) {
  out.clear();
  if (head.size() > size) return not_a_pack("more bytes than its size");
  if (head.empty() || head.front() != kFormat) return not_a_pack("unknown format");
  std::string_view in = head.substr(1);
  std::uint64_t count = 0;
  if (!get_varint(in, count)) return not_a_pack("cut short");
  if (count == 0 || count > size / 3) return not_a_pack("series count out of range");
  out.reserve(static_cast<std::size_t>(count));
  std::uint64_t series = 0;
  std::uint64_t blocks = 0;  // the blocks' bytes so far
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t step = 0, length = 0;
    if (!get_varint(in, step) || !get_varint(in, length)) {
      out.clear();
      return not_a_pack("directory cut short");
    }
    if ((i > 0 && step == 0) || step > (std::uint64_t{1} << 62) - series || length == 0 ||
        length > size) {
      out.clear();
      return not_a_pack("directory entry out of range");
    }
    series += step;
    out.push_back({static_cast<std::int64_t>(series), static_cast<std::size_t>(blocks),
                   static_cast<std::size_t>(length)});
    blocks += length;
    if (blocks > size) {
      out.clear();
      return not_a_pack("blocks past its end");
    }
  }
  const std::size_t directory = head.size() - in.size();
  if (directory + blocks != size) {
    out.clear();
    return not_a_pack("blocks do not end at its end");
  }
  for (PackEntry& e : out) e.offset += directory;
  return Status::ok();
}

const PackEntry* find_in_pack(const std::vector<PackEntry>& entries, std::int64_t series) {
  auto it = std::lower_bound(entries.begin(), entries.end(), series,
                             [](const PackEntry& e, std::int64_t s) { return e.series < s; });
  return it != entries.end() && it->series == series ? &*it : nullptr;
}

void PackBuilder::add(std::int64_t series, std::string_view block) {
  if (block.empty()) return;
  series_.push_back(series);
  lengths_.push_back(block.size());
  blocks_.append(block);
}

std::string PackBuilder::take() {
  std::string out;
  out.reserve(1 + 10 + series_.size() * 6 + blocks_.size());
  out += kFormat;
  put_varint(out, series_.size());
  std::int64_t previous = 0;
  for (std::size_t i = 0; i < series_.size(); ++i) {
    put_varint(out, static_cast<std::uint64_t>(series_[i] - previous));
    put_varint(out, lengths_[i]);
    previous = series_[i];
  }
  out += blocks_;
  series_.clear();
  lengths_.clear();
  blocks_.clear();
  return out;
}

void add_to_packs(PackParts& packs, std::int64_t tier, std::int64_t agent, std::int64_t series,
                  const std::vector<RollupBucket>& buckets) {
  const std::int64_t span = rollup_span(tier);
  for (const RollupBucket& b : buckets) {
    auto& parts = packs[{tier, agent, bucket_of(b.ts_ms, span)}];
    if (parts.empty() || parts.back().series != series) parts.push_back({.series = series});
    parts.back().buckets.push_back(b);
  }
}

Status PackMerger::take_part(const PackPart& part, std::int64_t tier, std::int64_t span_start) {
  added_.clear();
  if (part.block.empty()) {
    added_ = part.buckets;
    return Status::ok();
  }
  return decode_rollups(part.block, span_start, tier, added_);
}

std::string PackMerger::merge(std::string_view stored_pack, std::int64_t tier,
                              std::int64_t span_start, const std::vector<PackPart>& parts,
                              Mode mode, std::string_view where) {
  entries_.clear();
  const auto say = [&](std::string_view what, const Status& s) {
    log::error("storage: rollups of " + std::string(where) + std::string(what) + ": " +
               s.message());
  };
  if (!stored_pack.empty()) {
    if (Status d = parse_pack(stored_pack, stored_pack.size(), entries_); !d) say("", d);
  }
  const auto stored_block = [&](const PackEntry& entry) {
    return stored_pack.substr(entry.offset, entry.length);
  };
  const auto of_series = [](std::int64_t series) { return ", series " + std::to_string(series); };
  std::size_t e = 0;
  for (const PackPart& part : parts) {
    // The stored series before this part's: kept as they are.
    for (; e < entries_.size() && entries_[e].series < part.series; ++e)
      builder_.add(entries_[e].series, stored_block(entries_[e]));
    const PackEntry* stored =
        e < entries_.size() && entries_[e].series == part.series ? &entries_[e++] : nullptr;
    // A damaged part (an older row's block) is not written; what is stored stays.
    if (Status t = take_part(part, tier, span_start); !t) {
      say(of_series(part.series), t);
      if (stored != nullptr) builder_.add(part.series, stored_block(*stored));
      continue;
    }
    const bool merge = stored != nullptr && mode == Mode::kMerge;
    if (merge) {
      stored_.clear();
      if (Status d = decode_rollups(stored_block(*stored), span_start, tier, stored_); !d) {
        say(of_series(part.series), d);
        stored_.clear();
      }
      merge_sorted(stored_, added_);
      added_.swap(stored_);
    }
    if (added_.empty()) continue;
    if (!part.block.empty() && !merge) {
      builder_.add(part.series, part.block);  // as it was (it decoded)
    } else {
      encoded_ = encode_rollups(added_, span_start, tier);
      builder_.add(part.series, encoded_);
    }
  }
  for (; e < entries_.size(); ++e) builder_.add(entries_[e].series, stored_block(entries_[e]));
  return builder_.empty() ? std::string() : builder_.take();
}

}  // namespace vigie::collector
