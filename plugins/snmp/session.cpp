// The only file that includes net-snmp: its headers define macros (and C names) that
// must not leak into the rest of the code.
#include "plugins/snmp/session.hpp"

#include "plugins/snmp/netsnmp_values.hpp"

#include <net-snmp/library/large_fd_set.h>
#include <net-snmp/library/snmpusm.h>
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

namespace vigie::plugins::snmp {

namespace detail {

Value value_of(const ::variable_list& var) {
  Value value;
  switch (var.type) {
    case ASN_INTEGER:
      value.type = Type::kInteger;
      value.integer = var.val.integer != nullptr ? *var.val.integer : 0;
      break;
    case ASN_OCTET_STR:
      value.type = Type::kOctetString;
      if (var.val.string != nullptr)
        value.bytes.assign(reinterpret_cast<const char*>(var.val.string), var.val_len);
      break;
    case ASN_OPAQUE:
      value.type = Type::kOpaque;
      if (var.val.string != nullptr)
        value.bytes.assign(reinterpret_cast<const char*>(var.val.string), var.val_len);
      break;
    case ASN_OBJECT_ID:
      value.type = Type::kObjectId;
      if (var.val.objid != nullptr) {
        for (std::size_t i = 0; i < var.val_len / sizeof(::oid); ++i)
          value.object.push_back(static_cast<std::uint32_t>(var.val.objid[i]));
      }
      break;
    case ASN_IPADDRESS:
      value.type = Type::kIpAddress;
      if (var.val.string != nullptr && var.val_len == 4) {
        const u_char* b = var.val.string;
        value.bytes = std::to_string(b[0]) + "." + std::to_string(b[1]) + "." +
                      std::to_string(b[2]) + "." + std::to_string(b[3]);
      }
      break;
    case ASN_COUNTER:
    case ASN_GAUGE:
    case ASN_TIMETICKS:
      value.type = var.type == ASN_COUNTER ? Type::kCounter32
                   : var.type == ASN_GAUGE ? Type::kGauge32
                                           : Type::kTimeTicks;
      value.number = var.val.integer != nullptr
                         ? static_cast<unsigned long>(*var.val.integer) & 0xffffffffUL
                         : 0;
      break;
    case ASN_COUNTER64:
      value.type = Type::kCounter64;
      if (var.val.counter64 != nullptr) {
        value.number = (static_cast<std::uint64_t>(var.val.counter64->high & 0xffffffffUL) << 32) |
                       (var.val.counter64->low & 0xffffffffUL);
      }
      break;
    case ASN_NULL: value.type = Type::kNull; break;
    case SNMP_NOSUCHOBJECT: value.type = Type::kNoSuchObject; break;
    case SNMP_NOSUCHINSTANCE: value.type = Type::kNoSuchInstance; break;
    case SNMP_ENDOFMIBVIEW: value.type = Type::kEndOfMibView; break;
    default: value.type = Type::kOther; break;
  }
  return value;
}

Oid name_of(const ::variable_list& var) {
  Oid out;
  out.reserve(var.name_length);
  for (std::size_t i = 0; i < var.name_length; ++i)
    out.push_back(static_cast<std::uint32_t>(var.name[i]));
  return out;
}

}  // namespace detail

namespace {

using detail::name_of;
using detail::value_of;

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kGetBatch = 32;
// Table columns walked side by side in one GETBULK, as snmptable does: a table of a
// few rows then costs one round trip instead of one per column.
constexpr std::size_t kWalkBatch = 16;

// net-snmp keeps its SNMPv3 users in one process-wide list that is not locked: every
// use of the library (open, poll, close) holds this. Concurrency lives inside poll().
std::timed_mutex& library_mutex() {
  static std::timed_mutex mutex;
  return mutex;
}

void init_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    // No snmp.conf, no persistent state under /var/lib/snmp, no MIB files: an agent's
    // behaviour must not depend on files another package left on the machine.
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
    netsnmp_set_mib_directory("");
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIB_ERRORS, 0);
    netsnmp_ds_set_int(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIB_WARNINGS, 0);
    // Without a handler net-snmp writes its log to stderr; errors reach us as values.
    netsnmp_register_loghandler(NETSNMP_LOGHANDLER_NONE, LOG_EMERG);
    init_snmp("vigie");
  });
}

std::string seconds_text(milliseconds d) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g s", static_cast<double>(d.count()) / 1000.0);
  return buffer;
}

std::string endpoint_text(const Target& target) {
  const bool v6 = target.host.find(':') != std::string::npos;
  return (v6 ? "[" + target.host + "]" : target.host) + ":" + std::to_string(target.port);
}

struct Job;

// What net-snmp's callbacks point to: it outlives every request sent on the session,
// so a late answer to a request of an earlier poll finds `job` null and is dropped.
struct SessionImpl final : Session {
  ~SessionImpl() override {
    if (handle == nullptr) return;
    std::lock_guard lock(library_mutex());
    // The user the session created stays in net-snmp's list, keys and all, and a
    // later session for the same engine and name would reuse it: a changed (or
    // wrong) passphrase would then go unnoticed. Remove it with the session.
    netsnmp_session* session = snmp_sess_session(handle);
    if (session != nullptr && session->version == SNMP_VERSION_3 &&
        session->securityEngineIDLen > 0 && session->securityName != nullptr) {
      usmUser* user = usm_get_user(session->securityEngineID, session->securityEngineIDLen,
                                   session->securityName);
      if (user != nullptr) {
        usm_remove_user(user);
        usm_free_user(user);
      }
    }
    snmp_sess_close(handle);
  }
  void* handle = nullptr;
  Job* job = nullptr;
  std::string endpoint;
  // Values each subtree had at the previous poll: the next GETBULK asks for that many
  // rows and one more, not max-repetitions rows of which most fall past the table.
  std::map<Oid, std::size_t> rows_hint;
};

struct Job {
  SessionImpl* session = nullptr;
  const Target* target = nullptr;
  const Request* request = nullptr;
  Snapshot snapshot;
  std::size_t next_scalar = 0;
  // The walks: each subtree's cursor (the last OID received), and whether it is done.
  std::vector<Oid> cursors;
  std::vector<bool> walked;
  std::vector<std::size_t> in_flight;  // the subtrees asked in the GETBULK in flight
  std::vector<std::size_t> rows;       // values received per subtree
  int reqid = 0;
  bool want_send = true;
  bool finished = false;
  std::optional<Status> failure;
  std::size_t received = 0;
  std::size_t max_varbinds = 0;
};

Status report_status(netsnmp_pdu* pdu) {
  const int type = snmpv3_get_report_type(pdu);
  switch (type) {
    case SNMPERR_AUTHENTICATION_FAILURE:
      return {Code::kUnauthenticated, "authentication failed (wrong passphrase or protocol)"};
    case SNMPERR_UNKNOWN_USER_NAME:
      return {Code::kUnauthenticated, "authentication failed: unknown user"};
    case SNMPERR_UNSUPPORTED_SEC_LEVEL:
      return {Code::kUnauthenticated,
              "authentication failed: security level not supported for this user"};
    case SNMPERR_DECRYPTION_ERR:
      return {Code::kUnauthenticated,
              "authentication failed: decryption error (privacy passphrase)"};
    default:
      return Status::unavailable(std::string("the device sent a report: ") +
                                 snmp_api_errstring(type));
  }
}

void handle_response(Job& job, netsnmp_pdu* pdu) {
  if (pdu->command == SNMP_MSG_REPORT) {
    job.failure = report_status(pdu);
    return;
  }
  if (pdu->errstat != SNMP_ERR_NOERROR) {
    job.failure = Status::unavailable("the device answered " +
                                      std::string(snmp_errstring(static_cast<int>(pdu->errstat))) +
                                      " (index " + std::to_string(pdu->errindex) + ")");
    return;
  }
  const Request& request = *job.request;
  if (job.next_scalar < request.scalars.size()) {  // the answer to a GET
    std::size_t n = 0;
    for (netsnmp_variable_list* var = pdu->variables; var != nullptr; var = var->next_variable) {
      job.snapshot.add(name_of(*var), value_of(*var));
      ++n;
    }
    const std::size_t asked = std::min(kGetBatch, request.scalars.size() - job.next_scalar);
    if (n != asked) {
      job.failure = Status(Code::kCorruption, "the device answered " + std::to_string(n) +
                                                  " values to a GET of " + std::to_string(asked));
      return;
    }
    job.next_scalar += asked;
    job.received += n;
  } else {  // the answer to a GETBULK walking the subtrees in_flight, row by row
    const std::size_t width = job.in_flight.size();
    if (pdu->variables == nullptr || width == 0) {
      for (std::size_t i : job.in_flight) job.walked[i] = true;
    }
    std::size_t position = 0;
    for (netsnmp_variable_list* var = pdu->variables; var != nullptr && width > 0;
         var = var->next_variable, ++position) {
      const std::size_t i = job.in_flight[position % width];
      if (job.walked[i]) continue;
      Oid name = name_of(*var);
      if (var->type == SNMP_ENDOFMIBVIEW || !oid_under(name, request.subtrees[i])) {
        job.walked[i] = true;
        continue;
      }
      if (name <= job.cursors[i]) {
        job.failure =
            Status(Code::kCorruption, "the device answered OIDs out of order (" + oid_text(name) +
                                          " after " + oid_text(job.cursors[i]) + ")");
        return;
      }
      job.cursors[i] = name;
      ++job.rows[i];
      job.snapshot.add(std::move(name), value_of(*var));
      if (++job.received > job.max_varbinds) {
        job.failure = Status::too_large("more than " + std::to_string(job.max_varbinds) +
                                        " values in one poll");
        return;
      }
    }
  }
  const bool walks_done =
      std::all_of(job.walked.begin(), job.walked.end(), [](bool b) { return b; });
  if (job.next_scalar >= request.scalars.size() && walks_done) {
    job.finished = true;
  } else {
    job.want_send = true;
  }
}

int on_event(int operation, netsnmp_session*, int reqid, netsnmp_pdu* pdu, void* magic) {
  auto* session = static_cast<SessionImpl*>(magic);
  Job* job = session->job;
  if (job == nullptr || job->finished || job->failure) return 1;
  if (operation == NETSNMP_CALLBACK_OP_RESEND) return 1;  // a retry went out: keep waiting
  if (job->reqid == 0) return 1;  // nothing in flight: a late answer to an earlier poll
  // SNMPv3 reports (wrong digest, unknown user...) come with request id 0; a job has
  // one request in flight, so they are about it.
  const bool report = operation == NETSNMP_CALLBACK_OP_SEC_ERROR ||
                      (pdu != nullptr && pdu->command == SNMP_MSG_REPORT);
  if (reqid != job->reqid && !report) return 1;
  job->reqid = 0;
  switch (operation) {
    case NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE: handle_response(*job, pdu); break;
    case NETSNMP_CALLBACK_OP_TIMED_OUT: {
      const Target& t = *job->target;
      job->failure = Status::timeout("no answer from " + session->endpoint + " (" +
                                     std::to_string(t.retries + 1) + " tries, " +
                                     seconds_text(t.timeout) + " each)");
      break;
    }
    case NETSNMP_CALLBACK_OP_SEC_ERROR:
      job->failure = pdu != nullptr && pdu->command == SNMP_MSG_REPORT
                         ? report_status(pdu)
                         : Status(Code::kUnauthenticated, "authentication failed (security error)");
      if (job->failure->code() != Code::kUnauthenticated)
        job->failure =
            Status(Code::kUnauthenticated, "authentication failed: " + job->failure->message());
      break;
    default:
      job->failure = Status::unavailable("request to " + session->endpoint + " failed");
      break;
  }
  return 1;
}

netsnmp_pdu* next_pdu(Job& job) {
  const Request& request = *job.request;
  if (job.next_scalar < request.scalars.size()) {
    netsnmp_pdu* pdu = snmp_pdu_create(SNMP_MSG_GET);
    const std::size_t end = std::min(request.scalars.size(), job.next_scalar + kGetBatch);
    for (std::size_t i = job.next_scalar; i < end; ++i) {
      std::vector<::oid> name(request.scalars[i].begin(), request.scalars[i].end());
      snmp_add_null_var(pdu, name.data(), name.size());
    }
    return pdu;
  }
  netsnmp_pdu* pdu = snmp_pdu_create(SNMP_MSG_GETBULK);
  pdu->non_repeaters = 0;
  const auto bulk = static_cast<std::size_t>(std::clamp(job.target->bulk_size, 1, 1000));
  std::size_t repetitions = 1;
  job.in_flight.clear();
  for (std::size_t i = 0; i < job.walked.size() && job.in_flight.size() < kWalkBatch; ++i) {
    if (job.walked[i]) continue;
    job.in_flight.push_back(i);
    std::vector<::oid> name(job.cursors[i].begin(), job.cursors[i].end());
    snmp_add_null_var(pdu, name.data(), name.size());
    const auto hint = job.session->rows_hint.find(job.request->subtrees[i]);
    const std::size_t left =
        hint == job.session->rows_hint.end()
            ? bulk
            : (hint->second > job.rows[i] ? hint->second - job.rows[i] : 0) + 1;
    repetitions = std::max(repetitions, left);
  }
  pdu->max_repetitions = static_cast<long>(std::min(repetitions, bulk));
  return pdu;
}

void send_next(Job& job) {
  job.want_send = false;
  netsnmp_pdu* pdu = next_pdu(job);
  job.reqid = snmp_sess_async_send(job.session->handle, pdu, &on_event, job.session);
  if (job.reqid == 0) {
    int liberr = 0;
    int syserr = 0;
    char* text = nullptr;
    snmp_sess_error(job.session->handle, &liberr, &syserr, &text);
    job.failure =
        Status::unavailable("cannot send to " + job.session->endpoint + ": " +
                            (text != nullptr ? std::string(text) : std::string("unknown error")));
    std::free(text);
    snmp_free_pdu(pdu);
  }
}

const ::oid* auth_protocol(const std::string& name, std::size_t* length) {
  *length = 10;
  if (name == "MD5") return usmHMACMD5AuthProtocol;
  if (name == "SHA" || name == "SHA1" || name == "SHA-1") return usmHMACSHA1AuthProtocol;
  if (name == "SHA-256" || name == "SHA256") return usmHMAC192SHA256AuthProtocol;
  if (name == "SHA-512" || name == "SHA512") return usmHMAC384SHA512AuthProtocol;
  return nullptr;
}

const ::oid* priv_protocol(const std::string& name, std::size_t* length) {
  *length = 10;
  if (name == "AES" || name == "AES-128" || name == "AES128") return usmAESPrivProtocol;
  if (name == "DES") return usmDESPrivProtocol;
  return nullptr;
}

Status session_error(netsnmp_session* session, const std::string& endpoint) {
  int liberr = 0;
  int syserr = 0;
  char* text = nullptr;
  snmp_error(session, &liberr, &syserr, &text);
  std::string message = text != nullptr ? text : "unknown error";
  std::free(text);
  if (liberr == SNMPERR_TIMEOUT)
    return Status::timeout("no answer from " + endpoint + " (SNMPv3 engine discovery)");
  if (liberr == SNMPERR_AUTHENTICATION_FAILURE || liberr == SNMPERR_UNKNOWN_USER_NAME ||
      liberr == SNMPERR_USM_AUTHENTICATIONFAILURE || liberr == SNMPERR_UNSUPPORTED_SEC_LEVEL ||
      liberr == SNMPERR_DECRYPTION_ERR) {
    return {Code::kUnauthenticated, "authentication failed: " + message};
  }
  return Status::unavailable("cannot open an SNMP session to " + endpoint + ": " + message);
}

}  // namespace

Result<std::unique_ptr<Session>> open_session(const Target& target) {
  init_library();
  if (target.host.empty()) return Status::invalid("host: empty");
  auto impl = std::make_unique<SessionImpl>();
  impl->endpoint = endpoint_text(target);
  std::string peer =
      (target.host.find(':') != std::string::npos ? "udp6:" : "udp:") + impl->endpoint;
  std::string community = target.community;
  std::string user = target.user;

  netsnmp_session settings;
  snmp_sess_init(&settings);
  settings.peername = peer.data();
  settings.timeout = static_cast<long>(target.timeout.count()) * 1000;
  settings.retries = target.retries;
  if (target.version == Target::Version::kV2c) {
    settings.version = SNMP_VERSION_2c;
    settings.community = reinterpret_cast<u_char*>(community.data());
    settings.community_len = community.size();
  } else {
    settings.version = SNMP_VERSION_3;
    if (user.empty()) return Status::invalid("user: required for SNMPv3");
    settings.securityName = user.data();
    settings.securityNameLen = user.size();
    settings.securityLevel = SNMP_SEC_LEVEL_NOAUTH;
    if (!target.auth_pass.empty()) {
      std::size_t length = 0;
      const ::oid* proto = auth_protocol(target.auth_protocol, &length);
      if (proto == nullptr)
        return Status::invalid("auth: \"" + target.auth_protocol +
                               "\" is not one of MD5, SHA, SHA-256, SHA-512");
      if (target.auth_pass.size() < 8)
        return Status::invalid("auth passphrase: fewer than 8 characters");
      settings.securityAuthProto = const_cast<::oid*>(proto);
      settings.securityAuthProtoLen = length;
      settings.securityAuthKeyLen = USM_AUTH_KU_LEN;
      std::string pass = target.auth_pass;
      if (generate_Ku(settings.securityAuthProto, static_cast<u_int>(length),
                      reinterpret_cast<u_char*>(pass.data()), pass.size(), settings.securityAuthKey,
                      &settings.securityAuthKeyLen) != SNMPERR_SUCCESS)
        return Status::invalid("auth: cannot derive a key from the passphrase");
      settings.securityLevel = SNMP_SEC_LEVEL_AUTHNOPRIV;
      if (!target.priv_pass.empty()) {
        std::size_t priv_length = 0;
        const ::oid* priv = priv_protocol(target.priv_protocol, &priv_length);
        if (priv == nullptr)
          return Status::invalid("priv: \"" + target.priv_protocol + "\" is not one of AES, DES");
        if (target.priv_pass.size() < 8)
          return Status::invalid("priv passphrase: fewer than 8 characters");
        settings.securityPrivProto = const_cast<::oid*>(priv);
        settings.securityPrivProtoLen = priv_length;
        settings.securityPrivKeyLen = USM_PRIV_KU_LEN;
        std::string priv_pass = target.priv_pass;
        if (generate_Ku(settings.securityAuthProto, static_cast<u_int>(length),
                        reinterpret_cast<u_char*>(priv_pass.data()), priv_pass.size(),
                        settings.securityPrivKey, &settings.securityPrivKeyLen) != SNMPERR_SUCCESS)
          return Status::invalid("priv: cannot derive a key from the passphrase");
        settings.securityLevel = SNMP_SEC_LEVEL_AUTHPRIV;
      }
    } else if (!target.priv_pass.empty()) {
      return Status::invalid("priv: privacy needs authentication (auth_pass) as well");
    }
  }
  std::lock_guard lock(library_mutex());
  impl->handle = snmp_sess_open(&settings);
  if (impl->handle == nullptr) return session_error(&settings, impl->endpoint);
  return std::unique_ptr<Session>(std::move(impl));
}

void poll(std::span<const PollJob> jobs, Clock::time_point deadline,
          const std::function<void(std::size_t, Result<Snapshot>)>& done, std::size_t max_varbinds,
          std::size_t max_in_flight) {
  max_in_flight = std::max<std::size_t>(1, max_in_flight);
  std::unique_lock lock(library_mutex(), std::defer_lock);
  if (!lock.try_lock_until(deadline)) {
    for (std::size_t i = 0; i < jobs.size(); ++i)
      done(i, Status::timeout("another poll kept the SNMP library busy until the deadline"));
    return;
  }
  std::vector<Job> work(jobs.size());
  std::size_t open = 0;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    Job& job = work[i];
    job.session = static_cast<SessionImpl*>(jobs[i].session);
    job.target = jobs[i].target;
    job.request = jobs[i].request;
    job.max_varbinds = max_varbinds;
    job.session->job = &job;
    job.cursors = job.request->subtrees;
    job.walked.assign(job.request->subtrees.size(), false);
    job.rows.assign(job.request->subtrees.size(), 0);
    if (job.request->scalars.empty() && job.request->subtrees.empty()) job.finished = true;
    ++open;
  }
  std::vector<bool> reported(jobs.size(), false);
  // A window of jobs in flight: a slow agent answering a flood of requests late makes
  // every one of them retry, and the retries make it later still.
  std::size_t started = 0;
  std::size_t in_flight = 0;
  const auto live = [&](std::size_t i) { return i < started && !reported[i]; };
  const auto finish = [&](std::size_t i) {
    Job& job = work[i];
    job.session->job = nullptr;
    reported[i] = true;
    --open;
    if (i < started) --in_flight;
    if (job.failure) {
      done(i, *job.failure);
    } else {
      for (std::size_t k = 0; k < job.rows.size(); ++k)
        job.session->rows_hint[job.request->subtrees[k]] = job.rows[k];
      job.snapshot.taken = Clock::now();
      job.snapshot.taken_wall = std::chrono::system_clock::now();
      done(i, std::move(job.snapshot));
    }
  };

  netsnmp_large_fd_set fds;
  netsnmp_large_fd_set_init(&fds, FD_SETSIZE);
  while (open > 0) {
    while (in_flight < max_in_flight && started < work.size()) {
      if (!reported[started]) ++in_flight;
      ++started;
    }
    for (std::size_t i = 0; i < work.size(); ++i) {
      if (!live(i)) continue;
      Job& job = work[i];
      if (!job.finished && !job.failure && job.want_send) send_next(job);
      if (job.finished || job.failure) finish(i);
    }
    if (open == 0) break;
    if (in_flight < max_in_flight && started < work.size()) continue;  // fill the window
    const Clock::time_point now = Clock::now();
    if (now >= deadline) {
      for (std::size_t i = 0; i < work.size(); ++i) {
        if (reported[i]) continue;
        work[i].failure = Status::timeout("no complete answer from " + work[i].session->endpoint +
                                          " before the check's deadline");
        finish(i);
      }
      break;
    }
    NETSNMP_LARGE_FD_ZERO(&fds);
    int nfds = 0;
    int block = 1;
    timeval tv{};
    for (std::size_t i = 0; i < work.size(); ++i) {
      if (live(i)) snmp_sess_select_info2(work[i].session->handle, &nfds, &fds, &tv, &block);
    }
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now);
    const auto wait = std::chrono::microseconds(tv.tv_sec * 1'000'000LL + tv.tv_usec);
    if (block != 0 || wait > left) {
      tv.tv_sec = static_cast<time_t>(left.count() / 1'000'000);
      tv.tv_usec = static_cast<suseconds_t>(left.count() % 1'000'000);
    }
    const int ready = netsnmp_large_fd_set_select(nfds, &fds, nullptr, nullptr, &tv);
    if (ready < 0 && errno != EINTR) {
      const std::string reason = std::strerror(errno);
      for (std::size_t i = 0; i < work.size(); ++i) {
        if (reported[i]) continue;
        work[i].failure = Status::internal("select: " + reason);
        finish(i);
      }
      break;
    }
    for (std::size_t i = 0; i < work.size(); ++i) {
      if (!live(i)) continue;
      if (ready > 0) snmp_sess_read2(work[i].session->handle, &fds);
      snmp_sess_timeout(work[i].session->handle);
    }
  }
  netsnmp_large_fd_set_cleanup(&fds);
}

}  // namespace vigie::plugins::snmp
