#include "collector/report/mailing.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "collector/mail.hpp"
#include "common/file.hpp"
#include "common/json_parse.hpp"

namespace vigie::collector {

Result<MailSettings> load_mail_settings(const std::string& path) {
  auto text = read_file(path, 1 << 20);
  if (!text) return text.status().with_context("--smtp");
  auto parsed = parse_json(*text, {.comments = true});
  if (!parsed)
    return Status::invalid("--smtp " + path + ": not valid JSON: " + parsed.status().message());
  const nlohmann::json root = std::move(*parsed);
  if (!root.is_object()) return Status::invalid("--smtp " + path + ": expected a JSON object");
  const bool nested = root.contains("smtp");
  auto relay = mail::parse_relay(nested ? root["smtp"] : root, nested ? path + ": smtp" : path);
  if (!relay) return relay.status();
  if (relay->from.empty())
    return Status::invalid(path + ": \"from\" is required: the address the report is sent from");
  MailSettings settings;
  settings.relay = std::make_shared<const mail::Relay>(std::move(*relay));
  return settings;
}

Status mail_report(const MailSettings& settings, const BackupReport& report, const Locale& locale,
                   char csv_separator) {
  mail::Message message;
  message.from = settings.relay->from;
  message.to = settings.to;
  message.subject = report_subject(report, locale);
  message.text = render_markdown(report, locale);
  message.html = render_html(report, locale);
  const Day& last = report.period.days.back();
  char date[16];
  std::snprintf(date, sizeof date, "%04d-%02d-%02d", last.year, last.month, last.day);
  message.attachments.push_back(
      {.filename = locale.format(N_("backups-{date}.csv"), {{"date", date}}),
       .content_type = "text/csv; charset=utf-8",
       .data = render_csv(report, locale, csv_separator)});
  return mail::send_with_retries(*settings.relay, message, settings.attempts, settings.retry_wait);
}

Status mail_availability(const MailSettings& settings, const AvailabilityReport& report,
                         const Locale& locale, char csv_separator) {
  mail::Message message;
  message.from = settings.relay->from;
  message.to = settings.to;
  message.subject = availability_subject(report, locale);
  message.text = render_availability_markdown(report, locale);
  message.html = render_availability_html(report, locale);
  message.attachments.push_back({.filename = locale.format(N_("availability-{period}.csv"),
                                                           {{"period", report.period_label}}),
                                 .content_type = "text/csv; charset=utf-8",
                                 .data = render_availability_csv(report, locale, csv_separator)});
  return mail::send_with_retries(*settings.relay, message, settings.attempts, settings.retry_wait);
}

}  // namespace vigie::collector
