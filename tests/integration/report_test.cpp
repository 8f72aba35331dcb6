// `vigie-collector report backup` as a scheduler runs it: the real program on a
// seeded database, a real SMTP server on loopback, headless Chromium for the HTML.
#include <png.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/collector/report/seed.hpp"
#include "tests/support/child.hpp"
#include "tests/support/smtp_server.hpp"
#include "tests/support/temp_dir.hpp"

namespace vigie::collector {
namespace {

struct Run {
  int code = -1;
  std::string output;  // stdout and stderr
};

// Runs `argv` to its end (bounded by `limit`), its output captured.
Run run(std::vector<std::string> argv, const std::filesystem::path& log,
        std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  testing::Child child(std::move(argv), log);
  Run r;
  testing::eventually([&] { return !child.running(); }, limit);
  const auto status = child.stop(SIGKILL, std::chrono::seconds(5));
  r.output = child.log();
  if (status && WIFEXITED(*status)) r.code = WEXITSTATUS(*status);
  return r;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A database with the seeded week, closed (no collector running).
struct SeededDb {
  testing::TempDir dir;
  std::filesystem::path db = dir / "collector.db";
  SeededDb() {
    auto storage = open_sqlite_storage({.path = db});
    REQUIRE(storage.is_ok());
    seed::seed_week(**storage, wall_ms());
  }
  std::vector<std::string> report(std::vector<std::string> extra) const {
    std::vector<std::string> argv = {VIGIE_COLLECTOR_BIN, "report", "backup", "--db",
                                     db.string(),         "--tz",   "UTC"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
};

// The MIME structure of a raw message, read by Python's email package (a real MIME
// parser, not string matching): one JSON object per part.
nlohmann::json mime_parts(const std::filesystem::path& eml) {
  const std::string script =
      "import email, email.policy, json, sys\n"
      "m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)\n"
      "out = {'subject': str(m['subject']), 'to': str(m['to']), 'parts': []}\n"
      "for p in m.walk():\n"
      "    e = {'type': p.get_content_type(), 'filename': p.get_filename()}\n"
      "    if not p.is_multipart():\n"
      "        e['body'] = p.get_payload(decode=True).decode('utf-8', 'replace')\n"
      "    out['parts'].append(e)\n"
      "print(json.dumps(out))\n";
  const auto py = eml.parent_path() / "parse.py";
  std::ofstream(py) << script;
  FILE* pipe = ::popen(("/usr/bin/python3 " + py.string() + " " + eml.string()).c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string text;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) text.append(buf, n);
  REQUIRE(::pclose(pipe) == 0);
  return nlohmann::json::parse(text);
}

TEST_CASE("report backup: each format is written, in French by default", "[report]") {
  SeededDb seeded;
  for (const std::string format : {"html", "csv", "json", "md"}) {
    const auto out = seeded.dir / ("report." + format);
    const Run r = run(seeded.report({"--out", out.string()}), seeded.dir / (format + ".log"));
    INFO(r.output);
    REQUIRE(r.code == 0);
    const std::string text = slurp(out);
    if (format == "html")
      CHECK(text.find("Rapport sur l’état des sauvegardes") != std::string::npos);
    if (format == "csv") CHECK(text.rfind("\xEF\xBB\xBFSite,État du site", 0) == 0);
    if (format == "json") CHECK(nlohmann::json::parse(text)["sites"][0]["site"] == "site-failing");
    if (format == "md") CHECK(text.find("### site-failing — En échec") != std::string::npos);
  }
  // No temporary file is left next to the reports.
  for (const auto& entry : std::filesystem::directory_iterator(seeded.dir.path()))
    CHECK(entry.path().string().find(".tmp-") == std::string::npos);

  const auto en = seeded.dir / "en.md";
  const Run r = run(seeded.report({"--out", en.string(), "--lang", "en", "--site", "site-risk"}),
                    seeded.dir / "en.log");
  REQUIRE(r.code == 0);
  const std::string md = slurp(en);
  CHECK(md.find("### site-risk — At risk") != std::string::npos);
  CHECK(md.find("site-failing") == std::string::npos);
}

TEST_CASE("report backup: bad arguments give a clear error and exit code 2", "[report]") {
  SeededDb seeded;
  const auto out = (seeded.dir / "r.html").string();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--out", out, "--format", "pdf"}, "--format \"pdf\": expected html, csv, json or md"},
      {{"--out", out, "--period", "36h"}, "--period \"36h\": give whole days"},
      {{"--out", out, "--period", "often"}, "--period"},
      {{"--out", out, "--lang", "de"}, "--lang \"de\": expected fr or en"},
      {{"--out", out, "--csv-separator", "|"}, "--csv-separator \"|\""},
      {{"--out", out, "--mail-to", "bob"}, "--mail-to: \"bob\" is not a mail address"},
      {{"--out", out, "--mail-to", "bob@example.org"}, "--mail-to needs --smtp FILE"},
      {{"--out", out, "--site", "nowhere"}, "--site \"nowhere\": no agent reports for this site"},
      {{"--out", out, "--end", "2026-13-01"}, "--end \"2026-13-01\": expected a date"},
      {{"--out", out, "--tz", "Mars/Olympus"}, "unknown time zone"},
      {{"--format", "html"}, "--out FILE is required"},
      {{"--out", out, "--bogus", "1"}, "unknown option \"--bogus\""},
      {{"--out"}, "--out: missing value"},
      {{"--out", out, "--mail-to", "bob@example.org", "--smtp", (seeded.dir / "no.json").string()},
       "no.json"},
  };
  int i = 0;
  for (const auto& [args, expected] : cases) {
    const Run r = run(seeded.report(args), seeded.dir / ("bad" + std::to_string(i++) + ".log"));
    INFO(r.output);
    CHECK(r.code == 2);
    CHECK(r.output.find(expected) != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(out));
  const Run missing = run({VIGIE_COLLECTOR_BIN, "report", "backup", "--out", out, "--db",
                           (seeded.dir / "absent.db").string()},
                          seeded.dir / "absent.log");
  CHECK(missing.code == 1);
  CHECK(missing.output.find("absent.db: no such file") != std::string::npos);
  const Run unknown = run({VIGIE_COLLECTOR_BIN, "report", "antivirus"}, seeded.dir / "u.log");
  CHECK(unknown.code == 2);
  CHECK(unknown.output.find("unknown report \"antivirus\" (known: backup, availability)") !=
        std::string::npos);
}

TEST_CASE("report backup: mailed as HTML with a text alternative and the CSV attached",
          "[report]") {
  SeededDb seeded;
  testing::SmtpServer smtp(seeded.dir / "smtp");
  const auto relay = seeded.dir.write(
      "smtp.json",
      "// the relay\n{ \"smtp\": { \"url\": \"smtp://127.0.0.1:" + std::to_string(smtp.port()) +
          "\", \"tls\": \"none\", \"from\": \"vigie@example.org\", \"timeout\": \"20s\" } }\n");
  const auto out = seeded.dir / "report.html";
  const Run r = run(
      seeded.report({"--out", out.string(), "--mail-to", "support@example.org, mairie@example.org",
                     "--smtp", relay.string(), "--csv-separator", ";"}),
      seeded.dir / "mail.log");
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("backup report mailed to support@example.org, mairie@example.org") !=
        std::string::npos);
  REQUIRE(smtp.wait_for(1, std::chrono::seconds(10)));
  const auto eml = seeded.dir / "message.eml";
  std::ofstream(eml, std::ios::binary) << smtp.messages().at(0);
  const auto m = mime_parts(eml);
  INFO(m.dump(1).substr(0, 3000));
  CHECK(m["subject"].get<std::string>().rfind(
            "Sauvegardes : 1 en échec, 1 à risque, 2 sans données", 0) == 0);
  CHECK(m["to"].get<std::string>().find("mairie@example.org") != std::string::npos);
  std::vector<std::string> types;
  for (const auto& p : m["parts"]) types.push_back(p["type"]);
  CHECK(types == std::vector<std::string>{"multipart/mixed", "multipart/alternative", "text/plain",
                                          "text/html", "text/csv"});
  for (const auto& p : m["parts"]) {
    if (p["type"] == "text/plain")
      CHECK(p["body"].get<std::string>().find("### site-failing — En échec") != std::string::npos);
    if (p["type"] == "text/html") CHECK(p["body"] == slurp(out));
    if (p["type"] == "text/csv") {
      CHECK(p["filename"].get<std::string>().rfind("sauvegardes-", 0) == 0);
      const std::string csv = p["body"];
      CHECK(csv.rfind("\xEF\xBB\xBFSite;État du site;", 0) == 0);
      CHECK(csv.find("site-failing;En échec;a-failing;backup/borg:/backup") != std::string::npos);
    }
  }
}

TEST_CASE("report backup: a relay that refuses or is down is retried, the file still written",
          "[report]") {
  SeededDb seeded;
  auto relay_file = [&](int port) {
    return seeded.dir
        .write("smtp-" + std::to_string(port) + ".json",
               "{ \"url\": \"smtp://127.0.0.1:" + std::to_string(port) +
                   "\", \"tls\": \"none\", \"from\": \"vigie@example.org\", \"timeout\": \"10s\" }")
        .string();
  };
  SECTION("refusing") {
    testing::SmtpServer smtp(seeded.dir / "smtp", {.refuse = true});
    const auto out = seeded.dir / "refused.json";
    const Run r = run(seeded.report({"--out", out.string(), "--mail-to", "a@example.org", "--smtp",
                                     relay_file(smtp.port()), "--mail-attempts", "2",
                                     "--mail-retry-wait", "100ms"}),
                      seeded.dir / "refused.log");
    INFO(r.output);
    CHECK(r.code == 3);
    CHECK(r.output.find("attempt 1 of 2 failed") != std::string::npos);
    CHECK(r.output.find("attempt 2 of 2 failed") != std::string::npos);
    CHECK(r.output.find("backup report not mailed") != std::string::npos);
    CHECK(nlohmann::json::parse(slurp(out))["summary"]["sites"] == 5);
    CHECK(smtp.messages().empty());
  }
  SECTION("down") {
    int port = 0;
    {
      testing::SmtpServer smtp(seeded.dir / "gone");
      port = smtp.port();
      smtp.stop();
    }
    const auto out = seeded.dir / "down.csv";
    const Run r =
        run(seeded.report({"--out", out.string(), "--mail-to", "a@example.org", "--smtp",
                           relay_file(port), "--mail-attempts", "3", "--mail-retry-wait", "100ms"}),
            seeded.dir / "down.log");
    INFO(r.output);
    CHECK(r.code == 3);
    CHECK(r.output.find("attempt 3 of 3 failed") != std::string::npos);
    CHECK(slurp(out).rfind("\xEF\xBB\xBF", 0) == 0);
  }
}

// Counts the pixels of a PNG that are not (nearly) white or the page's grey.
struct Picture {
  int width = 0, height = 0;
  long long inked = 0;
};

Picture read_png(const std::filesystem::path& file) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_file(&image, file.c_str()) != 0);
  image.format = PNG_FORMAT_RGB;
  std::vector<unsigned char> pixels(PNG_IMAGE_SIZE(image));
  REQUIRE(png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr) != 0);
  Picture p{static_cast<int>(image.width), static_cast<int>(image.height), 0};
  for (std::size_t i = 0; i + 2 < pixels.size(); i += 3) {
    const int r = pixels[i], g = pixels[i + 1], b = pixels[i + 2];
    if (r < 200 || g < 200 || b < 200) ++p.inked;
  }
  return p;
}

TEST_CASE("report backup: headless Chromium renders the HTML report, not a blank page",
          "[report]") {
  SeededDb seeded;
  const auto out = seeded.dir / "report.html";
  REQUIRE(run(seeded.report({"--out", out.string(), "--lang", "en"}), seeded.dir / "r.log").code ==
          0);
  const auto png = seeded.dir / "report.png";
  const Run r =
      run({"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--user-data-dir=" + (seeded.dir / "chromium").string(), "--screenshot=" + png.string(),
           "--window-size=900,1400", "file://" + out.string()},
          seeded.dir / "chromium.log", std::chrono::seconds(90));
  INFO(r.output);
  REQUIRE(r.code == 0);
  const Picture p = read_png(png);
  CHECK(p.width == 900);
  CHECK(p.height == 1400);
  // Text, the header band, the coloured strips: a few percent of the page at least.
  CHECK(p.inked > 900LL * 1400 / 50);

  // The count itself: a white picture has no ink.
  png_image white{};
  white.version = PNG_IMAGE_VERSION;
  white.width = 64;
  white.height = 64;
  white.format = PNG_FORMAT_RGB;
  const std::vector<unsigned char> pixels(64 * 64 * 3, 255);
  const auto white_png = seeded.dir / "white.png";
  REQUIRE(png_image_write_to_file(&white, white_png.c_str(), 0, pixels.data(), 0, nullptr) != 0);
  CHECK(read_png(white_png).inked == 0);
}

}  // namespace
}  // namespace vigie::collector
