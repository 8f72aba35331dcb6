#include "bench/ingest/loopback_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>

namespace vigie::bench::ingest {
namespace {

constexpr std::size_t kMaxBodyKept = 4096;
constexpr std::size_t kMaxBodyRead = std::size_t{64} << 20;

// Where an answer's body goes: its first `limit` bytes are kept.
struct Sink {
  std::string body;
  std::size_t limit = kMaxBodyKept;
};

std::size_t keep_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const std::size_t n = size * count;
  if (sink->body.size() < sink->limit)
    sink->body.append(data, std::min(n, sink->limit - sink->body.size()));
  return n;
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "[::1]") return true;
  // A dotted IPv4 address in 127.0.0.0/8: "127." then digits and dots only.
  return host.rfind("127.", 0) == 0 && host.find_first_not_of("0123456789.") == std::string::npos;
}

}  // namespace

Status init_http() {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return Status::internal("libcurl initialisation failed");
  return Status::ok();
}

Result<std::string> loopback_base_url(std::string_view url) {
  struct Free {
    void operator()(CURLU* u) const { curl_url_cleanup(u); }
  };
  std::unique_ptr<CURLU, Free> parsed(curl_url());
  if (!parsed) return Status::internal("out of memory");
  const std::string text(url);
  if (curl_url_set(parsed.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK)
    return Status::invalid("\"" + text + "\" is not a URL such as https://127.0.0.1:8443");
  auto part = [&](CURLUPart which) {
    char* value = nullptr;
    std::string out;
    if (curl_url_get(parsed.get(), which, &value, 0) == CURLUE_OK && value) out = value;
    curl_free(value);
    return out;
  };
  const std::string scheme = part(CURLUPART_SCHEME);
  if (scheme != "http" && scheme != "https")
    return Status::invalid("\"" + text + "\": only http and https URLs");
  const std::string host = part(CURLUPART_HOST);
  if (!is_loopback_host(host)) {
    return Status::invalid("\"" + text + "\": host " + host +
                           " is not on the loopback interface (127.0.0.0/8, ::1, localhost): "
                           "this benchmark sends only to this machine");
  }
  std::string base = text;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

Headers::Headers(const std::vector<std::string>& lines) {
  curl_slist* list = nullptr;
  std::vector<std::string> all = lines;
  // libcurl would otherwise send "Expect: 100-continue" before a large body and wait
  // for an answer that these servers never send: a round trip, or a second, lost.
  all.emplace_back("Expect:");
  for (const auto& line : all) {
    curl_slist* longer = curl_slist_append(list, line.c_str());
    if (!longer) {
      curl_slist_free_all(list);
      throw std::bad_alloc();
    }
    list = longer;
  }
  list_.reset(list);
}

void Headers::Free::operator()(curl_slist* list) const { curl_slist_free_all(list); }

struct LoopbackClient::Impl {
  struct Cleanup {
    void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
  };
  std::unique_ptr<CURL, Cleanup> curl;
  Sink sink;

  LoopbackReply perform() {
    LoopbackReply reply;
    CURL* c = curl.get();
    const CURLcode rc = curl_easy_perform(c);
    long connects = 0;
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
    reply.reconnected = connects > 0;
    if (rc != CURLE_OK) {
      reply.error = curl_easy_strerror(rc);
      return reply;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
    reply.body = std::move(sink.body);
    return reply;
  }
};

LoopbackClient::LoopbackClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LoopbackClient::LoopbackClient(LoopbackClient&&) noexcept = default;
LoopbackClient& LoopbackClient::operator=(LoopbackClient&&) noexcept = default;
LoopbackClient::~LoopbackClient() = default;

Result<LoopbackClient> LoopbackClient::create(const std::string& ca_file,
                                              std::chrono::milliseconds timeout) {
  auto impl = std::make_unique<Impl>();
  impl->curl.reset(curl_easy_init());
  CURL* c = impl->curl.get();
  if (!c) return Status::internal("libcurl could not make a handle");
  bool ok =
      curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count())) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &keep_body) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_WRITEDATA, &impl->sink) == CURLE_OK &&
      curl_easy_setopt(c, CURLOPT_POST, 1L) == CURLE_OK;
  if (ok && !ca_file.empty()) ok = curl_easy_setopt(c, CURLOPT_CAINFO, ca_file.c_str()) == CURLE_OK;
  if (!ok) return Status::internal("libcurl refused an option (is it built with TLS?)");
  return LoopbackClient(std::move(impl));
}

LoopbackReply LoopbackClient::post(const std::string& url, const Headers& headers,
                                   std::string_view body) {
  CURL* c = impl_->curl.get();
  impl_->sink.body.clear();
  impl_->sink.limit = kMaxBodyKept;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.list());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  return impl_->perform();
}

LoopbackReply LoopbackClient::get(const std::string& url, const Headers& headers) {
  CURL* c = impl_->curl.get();
  impl_->sink.body.clear();
  impl_->sink.limit = kMaxBodyRead;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.list());
  curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  return impl_->perform();
}

}  // namespace vigie::bench::ingest
