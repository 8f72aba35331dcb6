#include "collector/tokens.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>
#include <vector>

#include "collector/token_store.hpp"
#include "common/protocol_rules.hpp"

namespace vigie::collector {
namespace {

std::string to_hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string_view role_name(Role role) {
  switch (role) {
    case Role::kViewer: return "viewer";
    case Role::kOperator: return "operator";
    case Role::kAdmin: return "admin";
    case Role::kAgent: return "agent";
    case Role::kEnroll: return "enroll";
  }
  return "viewer";
}

std::optional<Role> role_from_name(std::string_view name) {
  for (Role r : {Role::kViewer, Role::kOperator, Role::kAdmin, Role::kAgent, Role::kEnroll}) {
    if (role_name(r) == name) return r;
  }
  return std::nullopt;
}

bool role_allows(Role have, Role need) {
  const auto technician = [](Role r) {
    return r == Role::kViewer || r == Role::kOperator || r == Role::kAdmin;
  };
  if (technician(have) && technician(need)) return static_cast<int>(have) >= static_cast<int>(need);
  return have == need;
}

std::string new_secret(Role role) {
  std::array<unsigned char, 20> bytes{};
  // Without entropy there is no safe token to give: this is a fatal condition.
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
    throw std::runtime_error("RAND_bytes failed: no entropy for a token");
  const char* prefix = role == Role::kAgent ? "vga_" : role == Role::kEnroll ? "vge_" : "vgu_";
  return prefix + to_hex(bytes.data(), bytes.size());
}

std::string hash_secret(std::string_view secret) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(secret.data(), secret.size(), digest.data(), &size, EVP_sha256(), nullptr);
  return to_hex(digest.data(), size);
}

std::string bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size()) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    // The scheme is case-insensitive (RFC 9110).
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i])))
      return {};
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return std::string(token);
}

bool may_report_for(const TokenRecord& token, std::string_view site) {
  if (site.empty() || site == token.site || token.report_for == "*") return true;
  std::string_view rest = token.report_for;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    if (rest.substr(0, comma) == site) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

Result<std::string> parse_report_for(std::string_view text) {
  const auto blank = [](char c) { return c == ' ' || c == '\t'; };
  std::vector<std::string> sites;
  std::string_view rest = text;
  while (true) {
    const auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && blank(item.front())) item.remove_prefix(1);
    while (!item.empty() && blank(item.back())) item.remove_suffix(1);
    if (item == "*") {
      if (text.find_first_not_of(" \t*") != std::string_view::npos || sites.size() > 0)
        return Status::invalid("--report-for: \"*\" (any site) stands alone");
      return std::string("*");
    }
    if (item.empty())
      return Status::invalid("--report-for: an empty site name in \"" + std::string(text) + "\"");
    if (Status s = protocol::rules::is_identifier(item); !s)
      return Status::invalid("--report-for: site \"" + std::string(item) + "\": " + s.message());
    if (std::find(sites.begin(), sites.end(), item) == sites.end()) sites.emplace_back(item);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  std::string out;
  for (const auto& site : sites) out += (out.empty() ? "" : ",") + site;
  return out;
}

}  // namespace vigie::collector
