// libFuzzer target: the agent's configuration (agent/config.hpp), which also configures
// every check it names (the registry, the SNMP devices). Whatever the text: no crash,
// no undefined behaviour, and a refusal says why.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/config.hpp"
#include "common/log.hpp"
#include "tests/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  vigie::log::set_level(vigie::log::Level::kError);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto config = vigie::agent::parse_config(text, "fuzz.json");
  if (!config) {
    VIGIE_FUZZ_CHECK(!config.status().message().empty());
    return 0;
  }
  VIGIE_FUZZ_CHECK(!config->checks.empty());
  for (const auto& check : config->checks) VIGIE_FUZZ_CHECK(check.check != nullptr);
  return 0;
}
