#include "plugins/antivirus/sophos_central_api.hpp"

#include <algorithm>
#include <cctype>
#include <exception>
#include <thread>

#include "common/json_parse.hpp"

namespace vigie::plugins::antivirus::central {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kRequestTimeout{30'000};  // one request, at most
constexpr int kMaxWaits = 5;                     // 429s and 503s waited out per request
constexpr seconds kMaxBackoff{30};
constexpr std::size_t kMaxBody = 32 * 1024 * 1024;  // a page of 500 full endpoints is ~1.5 MB
// Nesting, as every JSON vigie reads from outside (json_parse.hpp); replies nest about 5.
constexpr std::size_t kMaxDepth = kMaxJsonDepth;

// The time left before `deadline`, at most kRequestTimeout: one request's timeout.
milliseconds request_timeout(Clock::time_point deadline) {
  return std::clamp(std::chrono::ceil<milliseconds>(deadline - Clock::now()), milliseconds(1),
                    kRequestTimeout);
}

std::string seconds_text(Clock::duration d) {
  return std::to_string(std::chrono::duration_cast<seconds>(d).count()) + " s";
}

// What an error body says: Sophos' API writes {"error", "message"}, its token endpoint
// {"errorCode", "message"}. "" when it says nothing readable.
std::string said(const std::string& body) {
  const json j = parse_json_or_discarded(body);
  if (!j.is_object()) return {};
  std::string out;
  for (const char* key : {"errorCode", "error", "message"}) {
    if (const auto text = string_member(j, key); text && !text->empty()) {
      if (!out.empty()) out += ": ";
      out += text->substr(0, 200);
    }
  }
  return out;
}

std::string status_text(const HttpReply& reply) {
  const std::string why = said(reply.body);
  return "HTTP " + std::to_string(reply.status) + (why.empty() ? "" : " (" + why + ")");
}

// Builds the document as nlohmann's own DOM parser does, except that each element of
// the top-level "items" array goes to the callback as soon as it is complete, and is
// dropped from the array then.
class ItemsSax {
 public:
  explicit ItemsSax(const std::function<bool(json&)>& on_item) : on_item_(on_item) {}

  bool null() { return value(nullptr); }
  bool boolean(bool v) { return value(v); }
  bool number_integer(json::number_integer_t v) { return value(v); }
  bool number_unsigned(json::number_unsigned_t v) { return value(v); }
  bool number_float(json::number_float_t v, const json::string_t&) { return value(v); }
  bool string(json::string_t& v) { return value(std::move(v)); }
  bool binary(json::binary_t& v) { return value(std::move(v)); }
  bool start_object(std::size_t) { return open(json::value_t::object); }
  bool start_array(std::size_t) { return open(json::value_t::array); }
  bool key(json::string_t& k) {
    key_ = &(*stack_.back())[k];
    items_key_ = stack_.size() == 1 && k == "items";
    return true;
  }
  bool end_object() { return close(); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) {
    error_ = "at byte " + std::to_string(position) + ": " + e.what();
    return false;
  }

  json& root() { return root_; }
  const std::string& error() const { return error_; }
  bool stopped() const { return stopped_; }

 private:
  template <class V>
  json* place(V&& v) {
    if (stack_.empty()) {
      root_ = json(std::forward<V>(v));
      return &root_;
    }
    json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.emplace_back(std::forward<V>(v));
      return &parent.back();
    }
    *key_ = json(std::forward<V>(v));
    return key_;
  }

  template <class V>
  bool value(V&& v) {
    place(std::forward<V>(v));
    return handed();
  }

  bool open(json::value_t type) {
    if (stack_.size() >= kMaxDepth) {
      error_ = "nested deeper than " + std::to_string(kMaxDepth) + " levels";
      return false;
    }
    json* j = place(type);
    if (stack_.size() == 1 && items_key_ && type == json::value_t::array) items_ = j;
    items_key_ = false;
    stack_.push_back(j);
    return true;
  }

  bool close() {
    stack_.pop_back();
    return handed();
  }

  // After a value: when it was an item, hands it over.
  bool handed() {
    if (items_ == nullptr || stack_.size() != 2 || stack_.back() != items_) return true;
    json item = std::move(items_->back());
    items_->erase(items_->size() - 1);
    if (!on_item_(item)) {
      stopped_ = true;
      return false;
    }
    return true;
  }

  const std::function<bool(json&)>& on_item_;
  json root_;
  std::vector<json*> stack_;
  json* key_ = nullptr;
  json* items_ = nullptr;
  bool items_key_ = false;
  bool stopped_ = false;
  std::string error_;
};

}  // namespace

HttpClientOptions client_options(const std::string& url, std::shared_ptr<const TlsTrust> trust) {
  return {.url = url,
          .trust = std::move(trust),
          .connect_timeout = milliseconds(10'000),
          .peer = "server",
          .max_reply_bytes = kMaxBody,
          .max_read_bytes = kMaxBody};
}

std::optional<std::string> string_member(const json& object, std::string_view key) {
  if (!object.is_object()) return std::nullopt;
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<bool> lenient_bool(const json& value) {
  if (value.is_boolean()) return value.get<bool>();
  if (!value.is_string()) return std::nullopt;
  std::string text = value.get<std::string>();
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (text == "true") return true;
  if (text == "false") return false;
  return std::nullopt;
}

Result<json> read_json(std::string_view body, std::string_view what) {
  auto parsed = parse_json(body);
  if (!parsed) {
    return Status::corruption(std::string(what) + ": not JSON (" + parsed.status().message() +
                              "): " + std::string(body.substr(0, 60)) +
                              (body.size() > 60 ? "..." : ""));
  }
  json j = std::move(*parsed);
  if (!j.is_object()) return Status::corruption(std::string(what) + ": not a JSON object");
  return j;
}

Result<json> read_items(std::string_view body, std::string_view what,
                        const std::function<bool(json&)>& on_item) {
  ItemsSax sax(on_item);
  bool parsed = false;
  try {
    parsed = json::sax_parse(body.begin(), body.end(), &sax);
  } catch (const std::exception& e) {  // third-party code: nlohmann's parser
    return Status::corruption(std::string(what) + ": " + e.what());
  }
  if (!parsed && !sax.stopped()) {
    return Status::corruption(std::string(what) + ": invalid JSON " +
                              (sax.error().empty() ? std::string("(no detail)") : sax.error()));
  }
  if (!sax.root().is_object()) return Status::corruption(std::string(what) + ": not a JSON object");
  return std::move(sax.root());
}

TokenSource::TokenSource(Endpoints endpoints, std::string client_id, std::string client_secret)
    : endpoints_(std::move(endpoints)),
      client_id_(std::move(client_id)),
      client_secret_(std::move(client_secret)) {}

int TokenSource::fetched() const {
  std::lock_guard lock(mutex_);
  return fetched_;
}

Result<std::string> TokenSource::get(Clock::time_point deadline, const std::string& refused) {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  if (!token_.empty() && now < renew_at_ && (refused.empty() || refused != token_)) return token_;
  if (now >= deadline) return Status::timeout("no time left to fetch a token");
  if (!client_) {
    auto client = HttpClient::create(client_options(endpoints_.auth_url, endpoints_.trust), "");
    if (!client) return client.status().with_context("auth_url");
    client_ = std::move(*client);
  }
  const HttpReply reply = client_->send({.method = "POST",
                                         .target = "/api/v2/oauth2/token",
                                         .content_type = "application/x-www-form-urlencoded",
                                         .body = form_encode({{"grant_type", "client_credentials"},
                                                              {"client_id", client_id_},
                                                              {"client_secret", client_secret_},
                                                              {"scope", "token"}})},
                                        request_timeout(deadline));
  const std::string where = "token from " + endpoints_.auth_url;
  if (reply.status == 0) {
    return Status(Clock::now() >= deadline ? Code::kTimeout : Code::kUnavailable,
                  where + ": " + reply.error);
  }
  if (reply.status == 400 || reply.status == 401 || reply.status == 403) {
    return Status(Code::kUnauthenticated,
                  where + ": the credential is refused: " + status_text(reply));
  }
  if (reply.status != 200) return Status::unavailable(where + ": " + status_text(reply));
  auto body = read_json(reply.body, where);
  if (!body) return body.status();
  const auto token = string_member(*body, "access_token");
  if (!token || token->empty()) return Status::corruption(where + ": no access_token in the reply");
  // 3600 s, say Sophos' pages; a reply without it is taken at that.
  double lifetime = 3600;
  if (const auto it = body->find("expires_in"); it != body->end() && it->is_number()) {
    lifetime = std::clamp(it->get<double>(), 1.0, 86400.0 * 366);
  }
  const auto life =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(lifetime));
  const Clock::duration margin = std::min<Clock::duration>(seconds(60), life / 4);
  token_ = *token;
  renew_at_ = now + life - margin;
  ++fetched_;
  return token_;
}

Client::Client(Endpoints endpoints, TokenSource& tokens)
    : endpoints_(std::move(endpoints)), tokens_(tokens) {}

HttpClient* Client::client_for(const std::string& base, Status& error) {
  if (const auto it = clients_.find(base); it != clients_.end()) return it->second.get();
  auto client = HttpClient::create(client_options(base, endpoints_.trust), "");
  if (!client) {
    error = client.status();
    return nullptr;
  }
  return clients_.emplace(base, std::move(*client)).first->second.get();
}

Result<std::string> Client::get(const std::string& base, const std::string& target,
                                const Headers& headers, Clock::time_point deadline) {
  Status error;
  HttpClient* http = client_for(base, error);
  if (http == nullptr) return error;
  std::string refused;
  bool renewed = false;
  int waits = 0;
  int server_errors = 0;
  for (;;) {
    const auto now = Clock::now();
    if (now >= deadline) return Status::timeout("no time left");
    auto token = tokens_.get(deadline, refused);
    if (!token) return token.status();
    HttpRequest request{.target = target, .headers = headers};
    request.headers.emplace_back("Authorization", "Bearer " + *token);
    request.headers.emplace_back("Accept", "application/json");
    HttpReply reply = http->send(request, request_timeout(deadline));
    if (reply.status == 200) return std::move(reply.body);
    if (reply.status == 0) {
      return Status(Clock::now() >= deadline ? Code::kTimeout : Code::kUnavailable, reply.error);
    }
    if (reply.status == 401 && !renewed) {  // expired or revoked early: a new one, once
      renewed = true;
      refused = *token;
      ++renewed_;
      continue;
    }
    if (reply.status == 401) {
      return Status(Code::kUnauthenticated, status_text(reply) + ", with a new token too");
    }
    if (reply.status == 403) return Status(Code::kPermissionDenied, status_text(reply));
    if (reply.status == 429 || reply.status == 503) {
      const bool told = reply.retry_after.count() > 0;
      const Clock::duration delay =
          told ? Clock::duration(std::min(reply.retry_after, seconds(86400)))
               : Clock::duration(std::min(kMaxBackoff, seconds(1) * (1 << waits)));
      const std::string what =
          status_text(reply) + (told ? ", Retry-After " + seconds_text(delay) : std::string());
      if (waits >= kMaxWaits) {
        return Status::unavailable(what + ": still refused after " + std::to_string(waits) +
                                   " waits");
      }
      if (delay >= deadline - Clock::now()) {
        return Status::unavailable(what + ": waiting would pass the deadline");
      }
      ++waits;
      if (reply.status == 429) ++rate_limited_;
      std::this_thread::sleep_for(delay);
      continue;
    }
    if ((reply.status == 500 || reply.status == 502 || reply.status == 504) && server_errors == 0 &&
        deadline - Clock::now() > seconds(2)) {
      ++server_errors;
      std::this_thread::sleep_for(seconds(1));
      continue;
    }
    return Status::unavailable(status_text(reply));
  }
}

}  // namespace vigie::plugins::antivirus::central
