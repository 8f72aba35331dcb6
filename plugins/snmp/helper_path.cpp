// Where the agent finds its SNMP helper (plugins/snmp/wire.hpp).

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string_view>
#include <vector>

#include "plugins/snmp/wire.hpp"

namespace vigie::plugins::snmp {

Result<std::string> helper_path() {
  constexpr std::string_view kHelper = "vigie-snmp";
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::vector<std::string> tried;
  if (!ec) {
    tried.push_back((self.parent_path() / kHelper).string());
    const auto prefix = self.parent_path().parent_path();
    tried.push_back((prefix / "libexec" / "vigie" / kHelper).lexically_normal().string());
  }
  const std::string installed = (std::filesystem::path(VIGIE_LIBEXEC_DIR) / kHelper).string();
  if (std::find(tried.begin(), tried.end(), installed) == tried.end()) tried.push_back(installed);
  for (const auto& path : tried) {
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  std::string message = "the SNMP helper " + std::string(kHelper) + " is not installed (looked for";
  for (const auto& path : tried) message += " " + path;
  return Status::unavailable(message + ")");
}

}  // namespace vigie::plugins::snmp
