#pragma once
// `antivirus/signature-age`: how old an antivirus engine's signatures are, read from
// the files on disk, for any engine (and for ClamAV when clamd is not running, as with
// clamscan run from cron).
//
// Parameters:
//   "path"     required: the signature file, or the folder holding them.
//   "pattern"  in a folder, the files that count (fnmatch on names). Default "*".
//   "format"   "mtime" (default): the age is the newest file's modification time.
//              "clamav": the build time written in the header of ClamAV databases
//              (.cvd, .cld, .cud); in a folder, of the daily database with the
//              highest version.
//   "warn", "crit"  age past which the check is WARNING / CRITICAL. Defaults "2d", "7d".
// instance() is the path.

#include <memory>

#include "plugins/check.hpp"
#include "plugins/registry.hpp"

namespace vigie::plugins::antivirus {

inline constexpr MetricSpec kSignatureAgeMetrics[] = {
    {"signature_age", "s", "age of the newest signatures, with the warn/crit thresholds"},
    {"signature_version", "", "database version (format clamav only)"},
};

std::unique_ptr<Check> make_signature_age_check();

}  // namespace vigie::plugins::antivirus
