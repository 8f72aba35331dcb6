#pragma once
// The options both report commands take (`report backup`, `report availability`): where
// the report goes and in which form, its language and time zone, the database it reads,
// and the mailing. Each command reads its own options and hands the rest here.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collector/report/mailing.hpp"
#include "collector/storage.hpp"
#include "common/i18n.hpp"
#include "common/status.hpp"

namespace vigie::collector {

struct ReportOutput {
  std::string out;     // a file, or "-" for standard output
  std::string format;  // html, csv, json or md; from --out's extension when not given
  std::string site;    // one site only; empty: all
  Lang lang = Lang::kFrench;
  std::string tz;
  char separator = ',';  // of the CSV form
  std::string db = std::string(kDefaultDatabase);
  std::vector<std::string> mail_to;
  std::string smtp;  // the relay's file
  int attempts = 3;
  std::chrono::milliseconds retry_wait{10'000};

  // Takes `option` and its `value` when it is one of the above: true; false when it is
  // another's; an error that names the option when the value is wrong.
  Result<bool> take(std::string_view option, std::string_view value);

  // Once every option is read: the format from --out's extension when none was given,
  // --mail-to and --smtp only together.
  Status finish();

  // The relay and the mailing's settings, read before the long work so that a bad file
  // is a usage error; nullopt when the report is not mailed.
  Result<std::optional<MailSettings>> mail_settings() const;

  // Writes `content` to `out` (whole or not at all) or to standard output, and logs it:
  // "<what> written to FILE (N sites)".
  Status write(const std::string& content, std::string_view what, std::size_t sites) const;
};

}  // namespace vigie::collector
