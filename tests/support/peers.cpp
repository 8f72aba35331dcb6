#include "tests/support/peers.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string_view>

namespace vigie::testing {

bool peers_required() {
  const char* value = std::getenv("VIGIE_REQUIRE_PEERS");
  return value != nullptr && std::string_view(value) == "1";
}

void skip_test(Absent absent, const std::string& what) {
  if (absent == Absent::kPackage && peers_required()) {
    FAIL(what << " (VIGIE_REQUIRE_PEERS=1: scripts/bootstrap installs it, so this machine "
                 "must have it; a skip would pass while testing nothing)");
  }
  WARN("skipped: " << what);
}

}  // namespace vigie::testing
