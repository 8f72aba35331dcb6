#include "console/api_client.hpp"

#include <atomic>
#include <utility>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include "common/json_parse.hpp"
#include "console/language.hpp"
#include "console/text.hpp"

namespace vigie::console {
namespace {

constexpr std::size_t kMaxErrorMessage = 200;  // columns of the reply's "error" we quote

struct CurlCleanup {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistCleanup {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// libcurl's global state, set up once, before the first handle, whatever the thread.
bool curl_ready() {
  static const bool ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  return ready;
}

struct Transfer {
  std::string body;
  std::size_t max_body = 0;
  bool too_large = false;
};

std::size_t on_write(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  if (n > transfer->max_body - transfer->body.size()) {
    transfer->too_large = true;
    return 0;  // any count other than n aborts the transfer
  }
  transfer->body.append(data, n);
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(user)->load() ? 1 : 0;
}

// The "error" message of a {"error": "..."} reply, cut and made printable; "" if the
// body is not such a reply (an HTML page from a proxy, say).
std::string error_message(std::string_view body) {
  const auto json = parse_json_or_discarded(body);
  if (!json.is_object()) return "";
  const auto it = json.find("error");
  if (it == json.end() || !it->is_string()) return "";
  return std::string(cut(sanitize(it->get<std::string>()), kMaxErrorMessage));
}

Status http_error(long code, std::string_view body, bool sent_token) {
  const std::string status = std::to_string(code);
  if (code == 401) {
    return {Code::kUnauthenticated,
            sent_token ? format("the collector refused the token ({code})", {{"code", status}})
                       : format("the collector requires a token ({code}): give --token-file or "
                                "set VIGIE_TOKEN",
                                {{"code", status}})};
  }
  std::string message = format("the collector answered HTTP {code}", {{"code", status}});
  if (const std::string detail = error_message(body); !detail.empty()) message += ": " + detail;
  if (code == 403) return {Code::kPermissionDenied, message};
  if (code == 404) return Status::not_found(message);
  if (code >= 500) return Status::unavailable(message);
  return Status::invalid(message);
}

}  // namespace

struct ApiClient::Impl {
  ClientOptions options;
  std::string base;  // options.url without a trailing '/'
  std::atomic<bool> cancelled{false};
  std::unique_ptr<CURL, CurlCleanup> curl;
  std::unique_ptr<curl_slist, SlistCleanup> headers;
  char error[CURL_ERROR_SIZE] = {};

  // Creates the handle and sets what every request shares, on first use.
  Status prepare();
};

Status ApiClient::Impl::prepare() {
  if (curl) return Status::ok();
  if (!curl_ready()) return Status::internal("libcurl failed to initialise");
  std::unique_ptr<CURL, CurlCleanup> handle(curl_easy_init());
  if (!handle) return Status::internal("libcurl failed to create a handle");

  std::unique_ptr<curl_slist, SlistCleanup> list;
  const auto add_header = [&](const std::string& header) {
    curl_slist* grown = curl_slist_append(list.get(), header.c_str());
    if (grown == nullptr) return false;
    list.release();  // now owned by `grown`, which is the same list
    list.reset(grown);
    return true;
  };
  if (!add_header("Accept: application/json") ||
      (!options.token.empty() && !add_header("Authorization: Bearer " + options.token))) {
    return Status::internal("out of memory for the request headers");
  }

  CURL* h = handle.get();
  CURLcode rc = CURLE_OK;
  const auto set = [&](CURLoption option, auto value) {
    if (rc == CURLE_OK) rc = curl_easy_setopt(h, option, value);
  };
  set(CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for DNS timeouts: we run in a thread
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_FOLLOWLOCATION, 0L);  // a redirect would carry the token elsewhere
  set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout.count()));
  set(CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options.max_body));
  set(CURLOPT_ACCEPT_ENCODING, "");  // whatever libcurl decodes; max_body counts decoded
  set(CURLOPT_USERAGENT, "vigie-console/" VIGIE_VERSION);
  set(CURLOPT_HTTPHEADER, list.get());
  set(CURLOPT_ERRORBUFFER, error);
  set(CURLOPT_WRITEFUNCTION, on_write);
  set(CURLOPT_NOPROGRESS, 0L);
  set(CURLOPT_XFERINFOFUNCTION, on_progress);
  set(CURLOPT_XFERINFODATA, static_cast<void*>(&cancelled));
  if (!options.ca_file.empty()) set(CURLOPT_CAINFO, options.ca_file.c_str());
  if (rc != CURLE_OK) {
    return Status::internal(std::string("libcurl refused an option: ") + curl_easy_strerror(rc));
  }
  curl = std::move(handle);
  headers = std::move(list);
  return Status::ok();
}

ApiClient::ApiClient(ClientOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->base = options.url;
  while (!impl_->base.empty() && impl_->base.back() == '/') impl_->base.pop_back();
  impl_->options = std::move(options);
}

ApiClient::~ApiClient() = default;

void ApiClient::cancel() { impl_->cancelled = true; }

Result<std::string> ApiClient::get(std::string_view path) { return call("GET", path); }

Result<std::string> ApiClient::call(std::string_view method, std::string_view path,
                                    std::string_view body) {
  Impl& d = *impl_;
  if (d.cancelled) return Status::unavailable(tr("the request was cancelled"));
  if (Status s = d.prepare(); !s.is_ok()) return s;

  Transfer transfer;
  transfer.max_body = d.options.max_body;
  const std::string url = d.base + std::string(path);
  CURL* h = d.curl.get();
  const std::string verb(method);
  // The handle is reused: every request sets its method and body afresh.
  std::unique_ptr<curl_slist, SlistCleanup> headers;
  const curl_slist* header_list = d.headers.get();
  if (!body.empty()) {
    for (const curl_slist* h = d.headers.get(); h != nullptr; h = h->next) {
      curl_slist* grown = curl_slist_append(headers.get(), h->data);
      if (grown == nullptr) return Status::internal("out of memory for the request headers");
      headers.release();
      headers.reset(grown);
    }
    curl_slist* grown = curl_slist_append(headers.get(), "Content-Type: application/json");
    if (grown == nullptr) return Status::internal("out of memory for the request headers");
    headers.release();
    headers.reset(grown);
    header_list = headers.get();
  }
  bool set_ok = curl_easy_setopt(h, CURLOPT_URL, url.c_str()) == CURLE_OK &&
                curl_easy_setopt(h, CURLOPT_WRITEDATA, static_cast<void*>(&transfer)) == CURLE_OK &&
                curl_easy_setopt(h, CURLOPT_HTTPHEADER, header_list) == CURLE_OK;
  // HTTPGET drops what an earlier POST left on the handle.
  set_ok = set_ok && curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, verb == "GET" ? nullptr : verb.c_str()) ==
               CURLE_OK;
  if (!body.empty()) {
    set_ok = set_ok &&
             curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                              static_cast<curl_off_t>(body.size())) == CURLE_OK &&
             curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, std::string(body).c_str()) == CURLE_OK;
  }
  if (!set_ok) return Status::internal("libcurl refused the request " + sanitize(url));
  d.error[0] = '\0';
  const CURLcode rc = curl_easy_perform(h);

  if (transfer.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
    return Status::too_large(format("the collector's reply is longer than {max} bytes",
                                    {{"max", std::to_string(d.options.max_body)}}));
  }
  if (rc == CURLE_ABORTED_BY_CALLBACK) return Status::unavailable(tr("the request was cancelled"));
  if (rc != CURLE_OK) {
    const std::string why = sanitize(d.error[0] != '\0' ? d.error : curl_easy_strerror(rc));
    std::string message = format("cannot reach the collector at {url}: {why}",
                                 {{"url", sanitize(d.base)}, {"why", why}});
    if (rc == CURLE_OPERATION_TIMEDOUT) return Status::timeout(std::move(message));
    return Status::unavailable(std::move(message));
  }
  long code = 0;
  if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK) code = 0;
  if (code >= 200 && code < 300) return std::move(transfer.body);
  return http_error(code, transfer.body, !d.options.token.empty());
}

namespace {

std::string check_query(std::string_view agent, std::string_view check) {
  return "agent=" + url_encode(agent) + "&check=" + url_encode(check);
}

}  // namespace

std::string overview_path() { return "/api/v1/overview"; }
std::string problems_path() { return "/api/v1/problems"; }
std::string sites_path() { return "/api/v1/sites"; }
std::string agents_path() { return "/api/v1/agents"; }

std::string checks_path(std::string_view family) {
  if (family.empty()) return "/api/v1/checks";
  return "/api/v1/checks?family=" + url_encode(family);
}

std::string site_path(std::string_view site) { return "/api/v1/site?name=" + url_encode(site); }

std::string check_path(std::string_view agent, std::string_view check) {
  return "/api/v1/check?" + check_query(agent, check);
}

std::string series_path(std::string_view agent, std::string_view check, std::string_view metric,
                        std::string_view from, std::string_view step) {
  return "/api/v1/series?" + check_query(agent, check) + "&metric=" + url_encode(metric) +
         "&from=" + url_encode(from) + "&step=" + url_encode(step);
}

std::string notifications_path(std::string_view agent, std::string_view check) {
  return "/api/v1/notifications?" + check_query(agent, check);
}

std::string events_path(std::string_view timeout, std::optional<std::int64_t> after) {
  std::string path = "/api/v1/events?timeout=" + url_encode(timeout);
  if (after) path += "&after=" + std::to_string(*after);
  return path;
}

ApiCall acknowledge_call(std::string_view agent, std::string_view check, std::string_view comment,
                         std::string_view expires) {
  nlohmann::json body = {{"agent", agent}, {"check", check}, {"comment", comment}};
  if (!expires.empty()) body["expires"] = expires;
  return {"POST", "/api/v1/acks", body.dump()};
}

ApiCall unacknowledge_call(std::string_view agent, std::string_view check) {
  return {"DELETE", "/api/v1/acks?" + check_query(agent, check), ""};
}

ApiCall downtime_call(std::string_view site, std::string_view agent, std::string_view check,
                      std::string_view duration, std::string_view comment) {
  nlohmann::json body = {{"site", site}, {"duration", duration}, {"comment", comment}};
  if (!agent.empty()) body["agent"] = agent;
  if (!check.empty()) body["check"] = check;
  return {"POST", "/api/v1/downtimes", body.dump()};
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '-' ||
        b == '_' || b == '.' || b == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
  return out;
}

}  // namespace vigie::console
