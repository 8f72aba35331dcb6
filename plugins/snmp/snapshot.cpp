#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "plugins/snmp/session.hpp"

namespace vigie::plugins::snmp {

Result<Oid> parse_oid(std::string_view text) {
  const std::string shown(text.substr(0, 80));
  if (text.starts_with('.')) text.remove_prefix(1);
  if (text.empty()) return Status::invalid("empty OID");
  Oid out;
  while (!text.empty()) {
    const std::size_t dot = text.find('.');
    const std::string_view part = text.substr(0, dot);
    std::uint32_t number = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), number);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size())
      return Status::invalid("\"" + shown + "\" is not a numeric OID");
    out.push_back(number);
    if (out.size() > 128) return Status::invalid("\"" + shown + "...\": more than 128 parts");
    if (dot == std::string_view::npos) break;
    text.remove_prefix(dot + 1);
    if (text.empty()) return Status::invalid("\"" + shown + "\" ends with '.'");
  }
  return out;
}

Oid oid(std::string_view text) {
  auto parsed = parse_oid(text);
  if (!parsed) {
    std::fprintf(stderr, "bad OID in the source: %s\n", parsed.status().message().c_str());
    std::abort();
  }
  return std::move(parsed).value();
}

std::string oid_text(const Oid& name) {
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (i > 0) out += '.';
    out += std::to_string(name[i]);
  }
  return out;
}

bool oid_under(const Oid& name, const Oid& prefix) {
  return name.size() > prefix.size() && std::equal(prefix.begin(), prefix.end(), name.begin());
}

std::string_view type_name(Type type) {
  switch (type) {
    case Type::kInteger: return "INTEGER";
    case Type::kOctetString: return "OCTET STRING";
    case Type::kObjectId: return "OBJECT IDENTIFIER";
    case Type::kIpAddress: return "IpAddress";
    case Type::kCounter32: return "Counter32";
    case Type::kGauge32: return "Gauge32";
    case Type::kTimeTicks: return "TimeTicks";
    case Type::kCounter64: return "Counter64";
    case Type::kOpaque: return "Opaque";
    case Type::kNull: return "NULL";
    case Type::kNoSuchObject: return "noSuchObject";
    case Type::kNoSuchInstance: return "noSuchInstance";
    case Type::kEndOfMibView: return "endOfMibView";
    case Type::kOther: return "an unknown type";
  }
  return "an unknown type";
}

void Snapshot::add(Oid name, Value value) {
  values_.insert_or_assign(std::move(name), std::move(value));
}

const Value* Snapshot::find(const Oid& name) const {
  const auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

namespace {

Status missing(const Oid& name, const Value* value) {
  if (value == nullptr) return Status::not_found(oid_text(name) + ": not in the answer");
  return Status::not_found(oid_text(name) + ": " + std::string(type_name(value->type)));
}

bool is_exception(const Value& value) {
  return value.type == Type::kNoSuchObject || value.type == Type::kNoSuchInstance ||
         value.type == Type::kEndOfMibView || value.type == Type::kNull;
}

Status wrong_type(const Oid& name, const Value& value, std::string_view expected) {
  return Status::invalid(oid_text(name) + ": " + std::string(type_name(value.type)) +
                         ", expected " + std::string(expected));
}

}  // namespace

Result<std::int64_t> Snapshot::integer(const Oid& name) const {
  const Value* value = find(name);
  if (value == nullptr || is_exception(*value)) return missing(name, value);
  switch (value->type) {
    case Type::kInteger: return value->integer;
    case Type::kGauge32:
    case Type::kTimeTicks:
    case Type::kCounter32:
    case Type::kCounter64:
      if (value->number > static_cast<std::uint64_t>(INT64_MAX))
        return Status::invalid(oid_text(name) + ": out of range");
      return static_cast<std::int64_t>(value->number);
    default: return wrong_type(name, *value, "a number");
  }
}

Result<std::uint64_t> Snapshot::counter(const Oid& name) const {
  const Value* value = find(name);
  if (value == nullptr || is_exception(*value)) return missing(name, value);
  if (value->type != Type::kCounter32 && value->type != Type::kCounter64)
    return wrong_type(name, *value, "a counter");
  return value->number;
}

Result<std::string> Snapshot::text(const Oid& name) const {
  const Value* value = find(name);
  if (value == nullptr || is_exception(*value)) return missing(name, value);
  if (value->type != Type::kOctetString && value->type != Type::kIpAddress)
    return wrong_type(name, *value, "a string");
  return value->bytes;
}

std::vector<std::pair<Oid, const Value*>> Snapshot::column(const Oid& column) const {
  std::vector<std::pair<Oid, const Value*>> rows;
  for (auto it = values_.upper_bound(column); it != values_.end() && oid_under(it->first, column);
       ++it) {
    if (is_exception(it->second)) continue;
    rows.emplace_back(
        Oid(it->first.begin() + static_cast<std::ptrdiff_t>(column.size()), it->first.end()),
        &it->second);
  }
  return rows;
}

void Request::merge(const Request& other) {
  for (const Oid& name : other.scalars) {
    if (std::find(scalars.begin(), scalars.end(), name) == scalars.end()) scalars.push_back(name);
  }
  for (const Oid& root : other.subtrees) {
    // A subtree already covered by a wider one adds nothing; a wider one replaces
    // those it covers.
    const bool covered = std::any_of(subtrees.begin(), subtrees.end(), [&](const Oid& have) {
      return have == root || oid_under(root, have);
    });
    if (covered) continue;
    std::erase_if(subtrees, [&](const Oid& have) { return oid_under(have, root); });
    subtrees.push_back(root);
  }
}

}  // namespace vigie::plugins::snmp
