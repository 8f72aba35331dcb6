#pragma once
// SNMP for the checks: what a device answered (Snapshot), how to reach it (Target),
// and polling many devices at once (Poller). net-snmp stays behind this header: only
// session.cpp includes it.
//
// A poll of one device GETs a list of scalars and walks a list of subtrees with
// GETBULK, and yields a Snapshot: every varbind it received, sorted by OID. Many
// devices are polled concurrently from one thread with net-snmp's asynchronous
// single-session API, so a poll of N devices lasts about as long as the slowest.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace vigie::plugins::snmp {

using Oid = std::vector<std::uint32_t>;

// "1.3.6.1.2.1.1.3.0" (a leading '.' is accepted). kInvalidArgument otherwise.
Result<Oid> parse_oid(std::string_view text);
// For OIDs written in the source: aborts the program on a typo (tests catch it).
Oid oid(std::string_view text);
std::string oid_text(const Oid& oid);
// True when `oid` lies strictly under `prefix`.
bool oid_under(const Oid& oid, const Oid& prefix);

// The types an agent may answer with, including the v2 exceptions.
enum class Type {
  kInteger,
  kOctetString,
  kObjectId,
  kIpAddress,
  kCounter32,
  kGauge32,
  kTimeTicks,
  kCounter64,
  kOpaque,
  kNull,
  kNoSuchObject,
  kNoSuchInstance,
  kEndOfMibView,
  kOther,
};

// "INTEGER", "Counter32", "noSuchObject"...
std::string_view type_name(Type type);

struct Value {
  Type type = Type::kNull;
  std::int64_t integer = 0;  // kInteger
  std::uint64_t number = 0;  // kCounter32/64, kGauge32, kTimeTicks
  std::string bytes;         // kOctetString, kOpaque; kIpAddress as "a.b.c.d"
  Oid object;                // kObjectId
  bool operator==(const Value&) const = default;
};

// What one poll of one device answered. Accessors return an error naming the OID and
// what was wrong ("1.3.6...: noSuchObject", "...: OCTET STRING, expected an integer")
// so that a check can turn it into UNKNOWN with the reason, or fall back.
class Snapshot {
 public:
  Snapshot() = default;

  void add(Oid name, Value value);
  const Value* find(const Oid& name) const;  // nullptr when absent
  std::size_t size() const { return values_.size(); }
  const std::map<Oid, Value>& values() const { return values_; }

  // INTEGER (signed), or Gauge32/TimeTicks/Counter as a number.
  Result<std::int64_t> integer(const Oid& name) const;
  // Counter32/Counter64 (unsigned, may wrap).
  Result<std::uint64_t> counter(const Oid& name) const;
  // OCTET STRING (or IpAddress text).
  Result<std::string> text(const Oid& name) const;
  // The rows of one table column: index suffix -> value, in OID order.
  std::vector<std::pair<Oid, const Value*>> column(const Oid& column) const;

  std::chrono::steady_clock::time_point taken;       // when the poll ended
  std::chrono::system_clock::time_point taken_wall;  // the same, on the wall clock

 private:
  std::map<Oid, Value> values_;
};

// How to reach a device and what to ask it.
struct Target {
  std::string host;  // name or address
  std::uint16_t port = 161;
  enum class Version { kV2c, kV3 } version = Version::kV2c;
  std::string community = "public";  // v2c
  // v3 (USM): authPriv when both passphrases are given, authNoPriv with auth only.
  std::string user;
  std::string auth_protocol = "SHA";  // "MD5", "SHA", "SHA-256", "SHA-512"
  std::string auth_pass;
  std::string priv_protocol = "AES";  // "AES", "DES"
  std::string priv_pass;
  std::chrono::milliseconds timeout{2000};  // per request attempt
  int retries = 1;                          // attempts after the first
  int bulk_size = 25;                       // GETBULK max-repetitions
};

struct Request {
  std::vector<Oid> scalars;          // GET, 32 varbinds per PDU
  std::vector<Oid> subtrees;         // GETBULK walks
  void merge(const Request& other);  // union, without duplicates
};

// An open session to one device, reused across polls (SNMPv3 discovers the engine
// once). Owned by the caller, used by one poll at a time.
class Session {
 public:
  virtual ~Session() = default;
};

// Opens a session (no packet sent for v2c; v3 probes the engine id, synchronously).
// kInvalidArgument for a bad target, kUnavailable when the host cannot be resolved
// or, for v3, does not answer the engine discovery, kUnauthenticated for v3
// credentials the device refuses.
Result<std::unique_ptr<Session>> open_session(const Target& target);

// Devices polled at the same time by default: enough to overlap the round trips of a
// site's devices, few enough not to swamp a slow agent, or the network, with retries.
inline constexpr std::size_t kMaxInFlight = 32;

struct PollJob {
  Session* session = nullptr;  // from open_session(), not null
  const Target* target = nullptr;
  const Request* request = nullptr;
};

// Polls every job concurrently from the calling thread, until each is done or
// `deadline` passes. `done(i, result)` is called (on this thread) as soon as job i
// ends, in any order: a Snapshot, or kTimeout ("no answer from HOST:PORT after ..."),
// kUnauthenticated ("authentication failed"), kCorruption (an answer that makes no
// sense, e.g. OIDs not increasing), kUnavailable (the device answered an error).
// Bounded: at most `max_varbinds` values per job (the walk stops there with kTooLarge),
// at most `max_in_flight` jobs at a time (the others start as those end).
void poll(std::span<const PollJob> jobs, std::chrono::steady_clock::time_point deadline,
          const std::function<void(std::size_t, Result<Snapshot>)>& done,
          std::size_t max_varbinds = 20000, std::size_t max_in_flight = kMaxInFlight);

}  // namespace vigie::plugins::snmp
