#pragma once
// Mailing a report: the HTML version with its plain-text alternative, and the CSV
// attached, through the SMTP relay of mail.hpp, with retries.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "collector/report/availability.hpp"
#include "collector/report/backup.hpp"
#include "common/status.hpp"

namespace vigie::collector {

namespace mail {
struct Relay;
}

struct MailSettings {
  std::shared_ptr<const mail::Relay> relay;
  std::vector<std::string> to;
  int attempts = 3;                              // tries in all
  std::chrono::milliseconds retry_wait{10'000};  // before the second, doubled after
};

// Reads the relay from a JSON file (comments allowed): the relay object itself, or an
// object whose "smtp" member is (so that a notification configuration can be shared).
Result<MailSettings> load_mail_settings(const std::string& path);

// Sends `report` as HTML with a Markdown plain-text part and the CSV attached. Each
// failed try is logged; returns the last error when every try failed.
Status mail_report(const MailSettings& settings, const BackupReport& report, const Locale& locale,
                   char csv_separator);

// The same for the availability report.
Status mail_availability(const MailSettings& settings, const AvailabilityReport& report,
                         const Locale& locale, char csv_separator);

}  // namespace vigie::collector
