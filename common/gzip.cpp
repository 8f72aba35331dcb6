#include "common/gzip.hpp"

#include <zlib.h>

#include <array>
#include <climits>

namespace vigie {
namespace {
constexpr int kGzipWindowBits = 15 + 16;  // 15: largest window; +16: gzip wrapper
}

std::string gzip_compress(std::string_view data) {
  z_stream zs{};
  // Level 6 is zlib's default: a good ratio for JSON at a modest CPU cost.
  if (deflateInit2(&zs, 6, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(data.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);  // deflateBound guarantees one call finishes
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

Result<std::string> gzip_decompress(std::string_view data, std::size_t max_output) {
  if (data.size() > UINT_MAX) return Status::too_large("gzip body too large");
  z_stream zs{};
  if (inflateInit2(&zs, kGzipWindowBits) != Z_OK) return Status::internal("inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  std::array<char, 64 * 1024> chunk;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
    zs.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      const std::string why = zs.msg ? zs.msg : (rc == Z_BUF_ERROR ? "truncated" : "corrupt");
      inflateEnd(&zs);
      return Status::invalid("gzip: " + why);
    }
    const std::size_t produced = chunk.size() - zs.avail_out;
    if (out.size() + produced > max_output) {
      inflateEnd(&zs);
      return Status::too_large("gzip body inflates past " + std::to_string(max_output) + " bytes");
    }
    out.append(chunk.data(), produced);
    if (rc == Z_OK && produced == 0 && zs.avail_in == 0) {
      inflateEnd(&zs);
      return Status::invalid("gzip: truncated stream");
    }
  }
  const bool trailing = zs.avail_in != 0;
  inflateEnd(&zs);
  if (trailing) return Status::invalid("gzip: data after the end of the stream");
  return out;
}

}  // namespace vigie
