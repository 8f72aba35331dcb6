// The helper's protocol (probe.hpp): JSON in, one JSON line per job out.

#include <nlohmann/json.hpp>

#include "common/json_integer.hpp"
#include "plugins/net/probe.hpp"

namespace vigie::plugins::net {
namespace {

using nlohmann::json;

const char* starttls_name(StartTls s) {
  switch (s) {
    case StartTls::kSmtp: return "smtp";
    case StartTls::kImap: return "imap";
    case StartTls::kPop3: return "pop3";
    case StartTls::kNone: break;
  }
  return "";
}

json status_json(const Status& s) {
  if (s.is_ok()) return nullptr;
  return {{"code", static_cast<int>(s.code())}, {"message", s.message()}};
}

// Throws json's exceptions on a wrong shape: the callers turn them into a Status.
Status read_status(const json& j) {
  if (j.is_null()) return Status::ok();
  const int code = json_integer<int>(j.at("code"));
  if (code <= 0 || code > static_cast<int>(Code::kInternal))
    throw std::out_of_range("status code " + std::to_string(code));
  return Status(static_cast<Code>(code), j.at("message").get<std::string>());
}

json certificate_json(const Certificate& c) {
  if (!c.seen) return nullptr;
  return {{"not_before", c.not_before},
          {"not_after", c.not_after},
          {"subject", c.subject},
          {"issuer", c.issuer},
          {"verify_error", c.verify_error}};
}

Certificate read_certificate(const json& j) {
  Certificate c;
  if (j.is_null()) return c;
  c.seen = true;
  c.not_before = json_integer<std::int64_t>(j.at("not_before"));
  c.not_after = json_integer<std::int64_t>(j.at("not_after"));
  c.subject = j.at("subject").get<std::string>();
  c.issuer = j.at("issuer").get<std::string>();
  c.verify_error = j.at("verify_error").get<std::string>();
  return c;
}

template <class Answer, class Read>
Result<std::size_t> decode(std::string_view line, Answer& out, Read read) {
  try {
    const json j = json::parse(line);
    const std::size_t job = json_integer<std::size_t>(j.at("job"));
    out.error = read_status(j.at("error"));
    read(j, out);
    return job;
  } catch (const std::exception& e) {
    std::string start(line.substr(0, 60));
    return Status::corruption("probe helper's answer \"" + start + "\": " + e.what());
  }
}

}  // namespace

std::string encode_request(const ProbeRequest& request) {
  json jobs = json::array();
  for (const auto& p : request.http)
    jobs.push_back({{"url", p.url},
                    {"follow_redirects", p.follow_redirects},
                    {"ca_file", p.ca_file},
                    {"match", p.match},
                    {"proxy", p.proxy}});
  for (const auto& p : request.tls)
    jobs.push_back({{"host", p.host},
                    {"port", p.port},
                    {"starttls", starttls_name(p.starttls)},
                    {"ca_file", p.ca_file}});
  for (const auto& p : request.dns)
    jobs.push_back({{"name", p.name}, {"type", p.type}, {"server", p.server}});
  return json{{"kind", request.kind}, {"budget_ms", request.budget.count()}, {"jobs", jobs}}.dump();
}

Result<ProbeRequest> decode_request(std::string_view text) {
  try {
    const json j = json::parse(text);
    ProbeRequest request;
    request.kind = j.at("kind").get<std::string>();
    request.budget = std::chrono::milliseconds(json_integer<std::int64_t>(j.at("budget_ms")));
    if (request.budget.count() < 0) return Status::invalid("probe request: negative budget_ms");
    for (const json& job : j.at("jobs")) {
      if (request.kind == "http") {
        request.http.push_back(
            {job.at("url").get<std::string>(), job.at("follow_redirects").get<bool>(),
             job.at("ca_file").get<std::string>(), job.at("match").get<std::string>(),
             job.at("proxy").get<std::string>()});
      } else if (request.kind == "tls") {
        TlsProbe p;
        p.host = job.at("host").get<std::string>();
        p.port = json_integer<int>(job.at("port"));
        const auto s = job.at("starttls").get<std::string>();
        if (s == "smtp") p.starttls = StartTls::kSmtp;
        else if (s == "imap") p.starttls = StartTls::kImap;
        else if (s == "pop3") p.starttls = StartTls::kPop3;
        else if (!s.empty()) return Status::invalid("probe request: starttls \"" + s + "\"");
        p.ca_file = job.at("ca_file").get<std::string>();
        request.tls.push_back(std::move(p));
      } else if (request.kind == "dns") {
        request.dns.push_back({job.at("name").get<std::string>(), job.at("type").get<std::string>(),
                               job.at("server").get<std::string>()});
      } else {
        return Status::invalid("probe request: unknown kind \"" + request.kind + "\"");
      }
    }
    return request;
  } catch (const std::exception& e) {
    return Status::invalid(std::string("probe request: ") + e.what());
  }
}

std::string encode_answer(std::size_t job, const HttpAnswer& a) {
  return json{{"job", job},
              {"error", status_json(a.error)},
              {"curl_code", a.curl_code},
              {"status", a.status},
              {"final_url", a.final_url},
              {"redirects", a.redirects},
              {"total_ms", a.total_ms},
              {"connect_ms", a.connect_ms},
              {"tls_ms", a.tls_ms},
              {"first_byte_ms", a.first_byte_ms},
              {"body_bytes", a.body_bytes},
              {"matched", a.matched},
              {"certificate", certificate_json(a.certificate)},
              {"tls_version", a.tls_version}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string encode_answer(std::size_t job, const TlsAnswer& a) {
  return json{{"job", job},
              {"error", status_json(a.error)},
              {"curl_code", a.curl_code},
              {"connect_ms", a.connect_ms},
              {"handshake_ms", a.handshake_ms},
              {"certificate", certificate_json(a.certificate)},
              {"tls_version", a.tls_version}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string encode_answer(std::size_t job, const DnsAnswer& a) {
  return json{{"job", job},
              {"error", status_json(a.error)},
              {"records", a.records},
              {"ms", a.ms},
              {"server", a.server}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<std::size_t> decode_answer(std::string_view line, HttpAnswer& out) {
  return decode(line, out, [](const json& j, HttpAnswer& a) {
    a.curl_code = json_integer<int>(j.at("curl_code"));
    a.status = json_integer<long>(j.at("status"));
    a.final_url = j.at("final_url").get<std::string>();
    a.redirects = json_integer<long>(j.at("redirects"));
    a.total_ms = j.at("total_ms").get<double>();
    a.connect_ms = j.at("connect_ms").get<double>();
    a.tls_ms = j.at("tls_ms").get<double>();
    a.first_byte_ms = j.at("first_byte_ms").get<double>();
    a.body_bytes = json_integer<std::uint64_t>(j.at("body_bytes"));
    a.matched = json_integer<int>(j.at("matched"));
    a.certificate = read_certificate(j.at("certificate"));
    a.tls_version = j.at("tls_version").get<std::string>();
  });
}

Result<std::size_t> decode_answer(std::string_view line, TlsAnswer& out) {
  return decode(line, out, [](const json& j, TlsAnswer& a) {
    a.curl_code = json_integer<int>(j.at("curl_code"));
    a.connect_ms = j.at("connect_ms").get<double>();
    a.handshake_ms = j.at("handshake_ms").get<double>();
    a.certificate = read_certificate(j.at("certificate"));
    a.tls_version = j.at("tls_version").get<std::string>();
  });
}

Result<std::size_t> decode_answer(std::string_view line, DnsAnswer& out) {
  return decode(line, out, [](const json& j, DnsAnswer& a) {
    a.records = j.at("records").get<std::vector<std::string>>();
    a.ms = j.at("ms").get<double>();
    a.server = j.at("server").get<std::string>();
  });
}

}  // namespace vigie::plugins::net
