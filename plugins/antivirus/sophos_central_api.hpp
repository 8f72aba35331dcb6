#pragma once
// The Sophos Central API as antivirus/sophos-central reads it: an OAuth2 client
// credentials token shared by the threads of a round and renewed before it expires,
// requests that carry it (renewed once on a 401, waiting on a 429 as Retry-After says,
// or with a growing backoff, never past the caller's deadline), and lists read page by
// page, either by page number (tenants) or by key (endpoints, alerts), whose items are
// handed over one at a time so that a page of a thousand endpoints is never held parsed
// whole. The shapes are those of Sophos' public API (docs/checks.md names the sources).
//
// A TokenSource is shared by the threads of one round; a Client belongs to one thread.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/http_client.hpp"
#include "common/status.hpp"

namespace vigie::plugins::antivirus::central {

using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

// How the round reaches Sophos Central.
struct Endpoints {
  std::string auth_url;  // base of the token endpoint: <auth_url>/api/v2/oauth2/token
  std::string api_url;   // the global API host: whoami, tenants
  std::shared_ptr<const TlsTrust> trust;
};

// What one HttpClient per host is made with.
HttpClientOptions client_options(const std::string& url, std::shared_ptr<const TlsTrust> trust);

// The credential's access token. Thread-safe: one thread fetches while the others wait.
class TokenSource {
 public:
  TokenSource(Endpoints endpoints, std::string client_id, std::string client_secret);

  // A token that stays valid for the renewal margin (a minute, or a quarter of a
  // short lifetime), fetched when there is none, it is about to expire, or it is
  // `refused` (the API answered 401 to it and no other thread has renewed it yet).
  // kUnauthenticated when the credential is refused; the fetch ends by `deadline`.
  Result<std::string> get(Clock::time_point deadline, const std::string& refused = {});
  // How many tokens were fetched.
  int fetched() const;

 private:
  Endpoints endpoints_;
  std::string client_id_;
  std::string client_secret_;
  mutable std::mutex mutex_;
  std::unique_ptr<HttpClient> client_;
  std::string token_;
  Clock::time_point renew_at_{};
  int fetched_ = 0;
};

// One thread's requests to the API: a kept-alive connection per host.
class Client {
 public:
  Client(Endpoints endpoints, TokenSource& tokens);

  // GETs `base` + `target` with the token and `headers`, by `deadline`: the body of a
  // 200. A 401 renews the token and tries once more; 429 and 503 wait as Retry-After
  // says (else 1, 2, 4... s) and 500, 502 and 504 once, as long as the deadline allows.
  // Errors: kPermissionDenied (403, with Sophos' message), kUnauthenticated,
  // kUnavailable (rate-limited past the deadline, a server error, no connection),
  // kTimeout (the deadline passed), kInternal (another status).
  Result<std::string> get(const std::string& base, const std::string& target,
                          const Headers& headers, Clock::time_point deadline);

  // How many 429s were waited out, and how many 401s renewed the token.
  int rate_limited() const { return rate_limited_; }
  int renewed() const { return renewed_; }

 private:
  HttpClient* client_for(const std::string& base, Status& error);

  Endpoints endpoints_;
  TokenSource& tokens_;
  std::map<std::string, std::unique_ptr<HttpClient>, std::less<>> clients_;
  int rate_limited_ = 0;
  int renewed_ = 0;
};

// Parses a JSON body whose top level is an object with an "items" array, calling
// `on_item` with each item as soon as it is complete (and dropping it after), and
// returns the rest of the object ("pages" ...) with "items" left empty. `on_item`
// returns false to stop early (the result is then what was read so far, without
// error). kCorruption names `what` for invalid JSON, another top level, or nesting
// deeper than 32 levels.
Result<nlohmann::json> read_items(std::string_view body, std::string_view what,
                                  const std::function<bool(nlohmann::json&)>& on_item);

// A small body parsed whole (whoami, a page of tenants): kCorruption naming `what`.
Result<nlohmann::json> read_json(std::string_view body, std::string_view what);

// A member of `object` as a string, when it is one.
std::optional<std::string> string_member(const nlohmann::json& object, std::string_view key);

// A boolean the API wrote as true/false or, in some exports, "True"/"False".
std::optional<bool> lenient_bool(const nlohmann::json& value);

}  // namespace vigie::plugins::antivirus::central
