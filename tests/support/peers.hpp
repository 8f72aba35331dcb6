#pragma once
// What a test does when a peer it needs is not there: the one place that decides whether
// that is a skip (a warning, the test returns) or a failure.
//
// Without the environment variable VIGIE_REQUIRE_PEERS, every missing peer is a skip, so
// that a developer without PostgreSQL (say) can still run the rest. With
// VIGIE_REQUIRE_PEERS=1, as scripts/test sets it after scripts/bootstrap has installed
// every package, a missing package fails the test: the machine is broken, and a skip would
// pass while testing nothing. What the host may legitimately refuse (root, a network or
// mount namespace, a filesystem or init system the test cannot choose) stays a skip in
// either mode.
//
//   if (!std::filesystem::exists(kClamd))
//     VIGIE_SKIP_TEST(testing::Absent::kPackage,
//                     "clamd is not installed (scripts/bootstrap installs clamav-daemon)");

#include <sstream>
#include <string>

namespace vigie::testing {

// Why a test cannot have what it needs.
enum class Absent {
  // A program or server scripts/bootstrap installs (the message names the Debian
  // package), or one of them that does not work: a failure under VIGIE_REQUIRE_PEERS=1.
  kPackage,
  // Something the host may refuse: not root, no network or mount namespace, a
  // filesystem without inode counts, no systemd as init. Always a skip.
  kRefusal,
};

// True when VIGIE_REQUIRE_PEERS is "1".
bool peers_required();

// Reports that the test cannot run for want of `what`: a Catch warning "skipped: <what>",
// after which the caller returns; or, for kPackage under VIGIE_REQUIRE_PEERS=1, a Catch
// failure with `what`, which ends the test there (it throws).
void skip_test(Absent absent, const std::string& what);

}  // namespace vigie::testing

// skip_test(absent, message) then return, in a test's body; `message` may stream
// ("nft failed (" << error << ")").
#define VIGIE_SKIP_TEST(absent, message)                         \
  do {                                                           \
    std::ostringstream vigie_skip_what_;                         \
    vigie_skip_what_ << message;                                 \
    ::vigie::testing::skip_test(absent, vigie_skip_what_.str()); \
    return;                                                      \
  } while (false)
