// The only file besides session.cpp that includes net-snmp (see session.cpp on why it
// stays in .cpp files).
#include "plugins/snmp/trap_receiver.hpp"

// net-snmp's own order: its configuration, then its headers.
#include <net-snmp/net-snmp-config.h>

#include <net-snmp/net-snmp-includes.h>

#include <net-snmp/library/snmpusm.h>
#include <net-snmp/library/snmpv3.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/time.hpp"
#include "plugins/snmp/netsnmp_values.hpp"
#include "plugins/snmp/trap_names.hpp"

// net-snmp's handler of its persistent file's "oldEngineID" line: exported, not declared.
extern "C" void oldengineID_conf(const char* word, char* value);

namespace vigie::plugins::snmp {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Devices whose name did not resolve are looked up again this often.
constexpr milliseconds kResolveAgain{300'000};

// An IP address without its port, v4-mapped v6 addresses as v4: what a device's source
// address is compared on.
struct Address {
  int family = AF_UNSPEC;
  unsigned char bytes[16] = {};
  bool operator==(const Address& other) const {
    const std::size_t n = family == AF_INET ? 4 : 16;
    return family == other.family && std::memcmp(bytes, other.bytes, n) == 0;
  }
};

std::optional<Address> address_of(const sockaddr* sa) {
  Address a;
  if (sa->sa_family == AF_INET) {
    a.family = AF_INET;
    std::memcpy(a.bytes, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
    return a;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(in6)) {
      a.family = AF_INET;
      std::memcpy(a.bytes, in6->s6_addr + 12, 4);
    } else {
      a.family = AF_INET6;
      std::memcpy(a.bytes, in6->s6_addr, 16);
    }
    return a;
  }
  return std::nullopt;
}

// "192.0.2.1:1024", "[2001:db8::1]:1024".
std::string endpoint_of(const sockaddr* sa) {
  char text[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      ::inet_ntop(AF_INET, in6->sin6_addr.s6_addr + 12, text, sizeof text);
      return std::string(text) + ":" + std::to_string(ntohs(in6->sin6_port));
    }
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "?";
}

// The sender's address of a packet net-snmp received over UDP (its "opaque" data).
const sockaddr* sender_of(const void* opaque, int length) {
  if (opaque == nullptr || length < static_cast<int>(sizeof(netsnmp_indexed_addr_pair)))
    return nullptr;
  return &static_cast<const netsnmp_indexed_addr_pair*>(opaque)->remote_addr.sa;
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

// msgAuthoritativeEngineID and msgUserName of an SNMPv3 message, read with net-snmp's
// BER decoder: nullopt for anything else, or a message cut short.
std::optional<std::pair<std::string, std::string>> v3_engine_and_user(u_char* data,
                                                                      std::size_t length) {
  // asn_parse_sequence() leaves in `left` the length of the sequence's contents; the
  // others, what is left after the value they read.
  u_char type = 0;
  long number = 0;
  std::size_t left = length;
  u_char* p = asn_parse_sequence(data, &left, &type, ASN_SEQUENCE | ASN_CONSTRUCTOR, "message");
  if (p == nullptr) return std::nullopt;
  u_char* const end = p + left;
  p = asn_parse_int(p, &left, &type, &number, sizeof number);
  if (p == nullptr || number != SNMP_VERSION_3) return std::nullopt;
  // msgGlobalData: msgID, msgMaxSize, msgFlags, msgSecurityModel.
  left = static_cast<std::size_t>(end - p);
  p = asn_parse_sequence(p, &left, &type, ASN_SEQUENCE | ASN_CONSTRUCTOR, "global data");
  if (p == nullptr) return std::nullopt;
  u_char* const after_global = p + left;
  p = asn_parse_int(p, &left, &type, &number, sizeof number);
  if (p != nullptr) p = asn_parse_int(p, &left, &type, &number, sizeof number);
  u_char flags[8];
  std::size_t flags_length = sizeof flags;
  if (p != nullptr) p = asn_parse_string(p, &left, &type, flags, &flags_length);
  if (p != nullptr) p = asn_parse_int(p, &left, &type, &number, sizeof number);
  if (p == nullptr || number != SNMP_SEC_MODEL_USM || after_global > end) return std::nullopt;
  // msgSecurityParameters, an OCTET STRING holding UsmSecurityParameters.
  p = after_global;
  left = static_cast<std::size_t>(end - p);
  u_char parameters[1024];
  std::size_t parameters_length = sizeof parameters;
  p = asn_parse_string(p, &left, &type, parameters, &parameters_length);
  if (p == nullptr) return std::nullopt;
  // engine id, boots, time, user name, ...
  left = parameters_length;
  u_char engine[64];
  std::size_t engine_length = sizeof engine;
  u_char user[256];
  std::size_t user_length = sizeof user;
  p = asn_parse_sequence(parameters, &left, &type, ASN_SEQUENCE | ASN_CONSTRUCTOR, "usm");
  if (p != nullptr) p = asn_parse_string(p, &left, &type, engine, &engine_length);
  if (p != nullptr) p = asn_parse_int(p, &left, &type, &number, sizeof number);
  if (p != nullptr) p = asn_parse_int(p, &left, &type, &number, sizeof number);
  if (p != nullptr) p = asn_parse_string(p, &left, &type, user, &user_length);
  if (p == nullptr) return std::nullopt;
  return std::pair{std::string(reinterpret_cast<char*>(engine), engine_length),
                   std::string(reinterpret_cast<char*>(user), user_length)};
}

struct Learned {
  std::string engine_id;
  Clock::time_point last_used;
  bool authenticated = false;
};

struct Device {
  TrapDevice options;
  std::vector<Address> addresses;  // empty: its name did not resolve (yet)
  Clock::time_point resolved_at{};
  // Its user's keys before localization (RFC 3414 Ku), derived once: the costly part.
  std::vector<u_char> auth_ku, priv_ku;
  int level = SNMP_SEC_LEVEL_NOAUTH;  // the least a v3 notification must have
  std::vector<Learned> learned;
  double tokens = 0;
  Clock::time_point refilled_at{};
};

class Receiver;
Receiver* g_receiver = nullptr;  // net-snmp's hooks take no context of ours
int (*g_udp_recv)(netsnmp_transport*, void*, int, void**, int*) = nullptr;

class Receiver {
 public:
  Receiver(const TrapListenOptions& options, const TrapHandlers& handlers)
      : options_(options), handlers_(handlers) {}

  Status run(int stop_fd) {
    if (Status s = init(); !s) return s;
    handlers_.ready(listening_, options_.engine_id);
    publish_counters(true);
    while (true) {
      fd_set readable;
      FD_ZERO(&readable);
      int fds = 0;
      int block = 1;
      timeval tv{};
      snmp_select_info(&fds, &readable, &tv, &block);
      FD_SET(stop_fd, &readable);
      fds = std::max(fds, stop_fd + 1);
      // Wake up for the counters and the names to look up again, at least.
      timeval tick{0, 200'000};
      if (block != 0 || tv.tv_sec > tick.tv_sec ||
          (tv.tv_sec == tick.tv_sec && tv.tv_usec > tick.tv_usec))
        tv = tick;
      const int ready = ::select(fds, &readable, nullptr, nullptr, &tv);
      if (ready < 0 && errno != EINTR)
        return Status::io_error(std::string("select: ") + std::strerror(errno));
      if (ready > 0 && FD_ISSET(stop_fd, &readable)) {
        char buffer[256];
        const ssize_t n = ::read(stop_fd, buffer, sizeof buffer);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break;
        FD_CLR(stop_fd, &readable);
      }
      if (ready > 0) snmp_read(&readable);
      else snmp_timeout();
      publish_counters(false);
      resolve_missing(false);
    }
    publish_counters(true);
    return Status::ok();
  }

  // The transport's receive, wrapped: learns a v3 device's engine id from its message
  // before net-snmp parses it.
  void inspect(u_char* data, int length, const void* opaque, int olength) {
    const sockaddr* from = sender_of(opaque, olength);
    if (from == nullptr || length <= 0) return;
    const auto address = address_of(from);
    if (!address) return;
    std::optional<std::pair<std::string, std::string>> header;
    for (Device& d : devices_) {
      if (d.options.target.version != Target::Version::kV3 || !d.options.engine_id.empty())
        continue;
      if (std::find(d.addresses.begin(), d.addresses.end(), *address) == d.addresses.end())
        continue;
      if (!header) header = v3_engine_and_user(data, static_cast<std::size_t>(length));
      if (!header) return;
      const auto& [engine, user] = *header;
      if (user != d.options.target.user || engine.empty() || engine == options_.engine_id) continue;
      learn(d, engine);
    }
  }

  // Drops what comes from an address that is no device's, before it is parsed.
  bool from_a_device(const void* opaque, int olength) {
    const sockaddr* from = sender_of(opaque, olength);
    const auto address = from != nullptr ? address_of(from) : std::nullopt;
    if (address) {
      for (const Device& d : devices_) {
        if (std::find(d.addresses.begin(), d.addresses.end(), *address) != d.addresses.end())
          return true;
      }
    }
    ++counters_.unknown_source;
    return false;
  }

  void received(netsnmp_session* session, netsnmp_pdu* pdu) {
    // A message USM refused comes without a PDU: counted by its statistics already.
    if (pdu->command == 0) return;
    const bool inform = pdu->command == SNMP_MSG_INFORM;
    if ((pdu->command != SNMP_MSG_TRAP2 && !inform) ||
        (pdu->version != SNMP_VERSION_2c && pdu->version != SNMP_VERSION_3)) {
      ++counters_.malformed;  // a v1 trap, a request, a response...
      return;
    }
    const sockaddr* from = sender_of(pdu->transport_data, pdu->transport_data_length);
    const auto address = from != nullptr ? address_of(from) : std::nullopt;
    if (!address) {
      ++counters_.unknown_source;
      return;
    }
    Device* device = nullptr;
    bool some_device = false;
    for (Device& d : devices_) {
      if (std::find(d.addresses.begin(), d.addresses.end(), *address) == d.addresses.end())
        continue;
      some_device = true;
      if (accepts(d, *pdu)) {
        device = &d;
        break;
      }
    }
    if (device == nullptr) {
      if (!some_device) ++counters_.unknown_source;
      else if (pdu->version == SNMP_VERSION_2c) ++counters_.bad_community;
      else ++counters_.bad_user;
      return;
    }
    if (pdu->version == SNMP_VERSION_3) confirm(*device, *pdu);
    if (inform) acknowledge(session, pdu);
    if (!take_token(*device)) {
      ++counters_.rate_limited;
      ++counters_.rate_limited_by_device[device->options.name];
      return;
    }
    auto event = to_event(*device, *pdu, endpoint_of(from), inform);
    if (!event) {
      ++counters_.malformed;
      return;
    }
    ++counters_.accepted;
    handlers_.event(*event);
  }

 private:
  Status init() {
    if (options_.engine_id.size() < 5 || options_.engine_id.size() > 32)
      return Status::invalid("engine_id: 5 to 32 bytes");
    // No snmp.conf, no persistent state, no MIB files (as session.cpp), no log on stderr.
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_READ_CONFIGS, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_SAVE, 1);
    netsnmp_set_mib_directory("");
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIB_ERRORS, 0);
    netsnmp_ds_set_int(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_MIB_WARNINGS, 0);
    netsnmp_register_loghandler(NETSNMP_LOGHANDLER_NONE, LOG_EMERG);
    // The receiver's engine id and boots, as its persistent file would give them:
    // net-snmp counts one more boot than the file says, for the same engine id.
    const std::string hex = "0x" + engine_id_hex(options_.engine_id);
    std::string old_engine = hex;
    std::string boots = std::to_string(options_.boots > 0 ? options_.boots - 1 : 0);
    set_exact_engineID(reinterpret_cast<const u_char*>(options_.engine_id.data()),
                       options_.engine_id.size());
    oldengineID_conf("oldEngineID", old_engine.data());
    engineBoots_conf("engineBoots", boots.data());
    init_snmp("vigie-traps");

    for (const TrapDevice& options : options_.devices) {
      Device d;
      d.options = options;
      d.tokens = options_.burst;
      d.refilled_at = Clock::now();
      if (options.target.version == Target::Version::kV3) {
        if (Status s = derive_keys(d); !s) return s.with_context("device " + options.name);
      }
      devices_.push_back(std::move(d));
    }
    warn_shared_users();
    resolve_missing(true);
    for (Device& d : devices_) {
      if (d.options.target.version != Target::Version::kV3) continue;
      add_user(d, options_.engine_id);                                     // for its informs
      if (!d.options.engine_id.empty()) add_user(d, d.options.engine_id);  // its traps
    }

    const std::string& listen = options_.listen;
    const std::string spec = (listen.starts_with("[") ? "udp6:" : "udp:") + listen;
    netsnmp_transport* transport = netsnmp_transport_open_server("vigie-traps", spec.c_str());
    if (transport == nullptr)
      return Status::unavailable("cannot listen on " + listen + " (UDP): " + std::strerror(errno));
    sockaddr_storage bound{};
    socklen_t bound_length = sizeof bound;
    if (::getsockname(transport->sock, reinterpret_cast<sockaddr*>(&bound), &bound_length) == 0)
      listening_ = endpoint_of(reinterpret_cast<sockaddr*>(&bound));
    else listening_ = listen;
    g_udp_recv = transport->f_recv;
    transport->f_recv = [](netsnmp_transport* t, void* buf, int size, void** opaque, int* olength) {
      const int n = g_udp_recv(t, buf, size, opaque, olength);
      if (n > 0 && g_receiver != nullptr)
        g_receiver->inspect(static_cast<u_char*>(buf), n, *opaque, *olength);
      return n;
    };

    netsnmp_session settings;
    snmp_sess_init(&settings);
    settings.peername = SNMP_DEFAULT_PEERNAME;
    settings.version = SNMP_DEFAULT_VERSION;
    settings.community_len = SNMP_DEFAULT_COMMUNITY_LEN;
    settings.retries = SNMP_DEFAULT_RETRIES;
    settings.timeout = SNMP_DEFAULT_TIMEOUT;
    settings.callback = [](int operation, netsnmp_session* session, int, netsnmp_pdu* pdu, void*) {
      if (operation == NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE && g_receiver != nullptr)
        g_receiver->received(session, pdu);
      return 1;
    };
    // Authoritative for the informs sent to it, not for the traps (the sender is).
    settings.isAuthoritative = SNMP_SESS_UNKNOWNAUTH;
    const auto pre_parse = [](netsnmp_session*, netsnmp_transport*, void* opaque, int olength) {
      return g_receiver != nullptr && g_receiver->from_a_device(opaque, olength) ? 1 : 0;
    };
    if (snmp_add(&settings, transport, pre_parse, nullptr) == nullptr)
      return Status::unavailable("cannot receive on " + listen + ": net-snmp refused the session");
    return Status::ok();
  }

  Status derive_keys(Device& d) {
    const Target& t = d.options.target;
    if (t.auth_pass.empty()) return Status::ok();  // noAuthNoPriv: nothing to derive
    std::size_t length = 0;
    const ::oid* proto = auth_protocol(t.auth_protocol, &length);
    if (proto == nullptr) return Status::invalid("auth: \"" + t.auth_protocol + "\" is unknown");
    const auto ku = [&](const std::string& pass, std::vector<u_char>& out) {
      out.assign(USM_AUTH_KU_LEN, 0);
      std::size_t out_length = out.size();
      std::string copy = pass;
      if (generate_Ku(proto, static_cast<u_int>(length), reinterpret_cast<u_char*>(copy.data()),
                      copy.size(), out.data(), &out_length) != SNMPERR_SUCCESS)
        return false;
      out.resize(out_length);
      return true;
    };
    if (!ku(t.auth_pass, d.auth_ku)) return Status::invalid("auth: cannot derive a key");
    d.level = SNMP_SEC_LEVEL_AUTHNOPRIV;
    if (t.priv_pass.empty()) return Status::ok();
    std::size_t priv_length = 0;
    if (priv_protocol(t.priv_protocol, &priv_length) == nullptr)
      return Status::invalid("priv: \"" + t.priv_protocol + "\" is unknown");
    if (!ku(t.priv_pass, d.priv_ku)) return Status::invalid("priv: cannot derive a key");
    d.level = SNMP_SEC_LEVEL_AUTHPRIV;
    return Status::ok();
  }

  // The device's user under `engine`, its keys localized to it (as snmptrapd's
  // createUser -e ENGINE does); nothing when that engine already has such a user.
  void add_user(Device& d, const std::string& engine) {
    const Target& t = d.options.target;
    std::string name = t.user;
    std::string engine_copy = engine;
    if (usm_get_user(reinterpret_cast<u_char*>(engine_copy.data()), engine_copy.size(),
                     name.data()) != nullptr)
      return;
    netsnmp_session s;
    snmp_sess_init(&s);
    s.version = SNMP_VERSION_3;
    s.securityModel = SNMP_SEC_MODEL_USM;
    s.securityName = name.data();
    s.securityNameLen = name.size();
    s.securityEngineID = reinterpret_cast<u_char*>(engine_copy.data());
    s.securityEngineIDLen = engine_copy.size();
    s.securityLevel = d.level;
    std::size_t length = 0;
    if (!d.auth_ku.empty()) {
      s.securityAuthProto = const_cast<::oid*>(auth_protocol(t.auth_protocol, &length));
      s.securityAuthProtoLen = length;
      std::memcpy(s.securityAuthKey, d.auth_ku.data(), d.auth_ku.size());
      s.securityAuthKeyLen = d.auth_ku.size();
    }
    if (!d.priv_ku.empty()) {
      s.securityPrivProto = const_cast<::oid*>(priv_protocol(t.priv_protocol, &length));
      s.securityPrivProtoLen = length;
      std::memcpy(s.securityPrivKey, d.priv_ku.data(), d.priv_ku.size());
      s.securityPrivKeyLen = d.priv_ku.size();
    }
    // Without them, net-snmp would leave the user's protocols unset, not "none": USM then
    // refuses every message of the user.
    if (s.securityAuthProto == nullptr) {
      s.securityAuthProto = usmNoAuthProtocol;
      s.securityAuthProtoLen = 10;
    }
    if (s.securityPrivProto == nullptr) {
      s.securityPrivProto = usmNoPrivProtocol;
      s.securityPrivProtoLen = 10;
    }
    usm_create_user_from_session(&s);
    // The session is ours, on the stack: net-snmp copied what it keeps.
    s.securityName = nullptr;
    s.securityEngineID = nullptr;
    s.securityAuthProto = nullptr;
    s.securityPrivProto = nullptr;
  }

  void remove_user(const Device& d, const std::string& engine) {
    std::string name = d.options.target.user;
    std::string engine_copy = engine;
    usmUser* user = usm_get_user(reinterpret_cast<u_char*>(engine_copy.data()), engine_copy.size(),
                                 name.data());
    if (user == nullptr) return;
    usm_remove_user(user);
    usm_free_user(user);
  }

  void learn(Device& d, const std::string& engine) {
    const auto known = std::find_if(d.learned.begin(), d.learned.end(),
                                    [&](const Learned& l) { return l.engine_id == engine; });
    if (known != d.learned.end()) return;
    if (d.learned.size() >= kMaxLearnedEngines) {
      // Give up one never authenticated first, else the one used least recently.
      auto victim = std::min_element(d.learned.begin(), d.learned.end(),
                                     [](const Learned& a, const Learned& b) {
                                       if (a.authenticated != b.authenticated)
                                         return !a.authenticated;
                                       return a.last_used < b.last_used;
                                     });
      remove_user(d, victim->engine_id);
      d.learned.erase(victim);
    }
    d.learned.push_back({engine, Clock::now(), false});
    add_user(d, engine);
  }

  void confirm(Device& d, const netsnmp_pdu& pdu) {
    const std::string engine(reinterpret_cast<const char*>(pdu.securityEngineID),
                             pdu.securityEngineIDLen);
    for (Learned& l : d.learned) {
      if (l.engine_id != engine) continue;
      l.authenticated = true;
      l.last_used = Clock::now();
    }
  }

  // The device's credentials: its community, or its user at its level or above.
  static bool accepts(const Device& d, const netsnmp_pdu& pdu) {
    const Target& t = d.options.target;
    if (pdu.version == SNMP_VERSION_2c) {
      if (t.version != Target::Version::kV2c || pdu.community == nullptr) return false;
      const std::string_view got(reinterpret_cast<const char*>(pdu.community), pdu.community_len);
      // In constant time: a community is a password.
      if (got.size() != t.community.size()) return false;
      unsigned char diff = 0;
      for (std::size_t i = 0; i < got.size(); ++i)
        diff |= static_cast<unsigned char>(got[i] ^ t.community[i]);
      return diff == 0;
    }
    if (t.version != Target::Version::kV3 || pdu.securityModel != SNMP_SEC_MODEL_USM ||
        pdu.securityName == nullptr)
      return false;
    const std::string_view user(pdu.securityName, pdu.securityNameLen);
    return user == t.user && pdu.securityLevel >= d.level;
  }

  void acknowledge(netsnmp_session* session, netsnmp_pdu* pdu) {
    netsnmp_pdu* reply = snmp_clone_pdu(pdu);
    if (reply == nullptr) return;
    reply->command = SNMP_MSG_RESPONSE;
    reply->errstat = 0;
    reply->errindex = 0;
    if (snmp_send(session, reply) == 0) snmp_free_pdu(reply);
  }

  bool take_token(Device& d) {
    const Clock::time_point now = Clock::now();
    const double elapsed = std::chrono::duration<double>(now - d.refilled_at).count();
    d.refilled_at = now;
    d.tokens = std::min(options_.burst, d.tokens + elapsed * options_.rate);
    if (d.tokens < 1) return false;
    d.tokens -= 1;
    return true;
  }

  std::optional<protocol::Event> to_event(const Device& d, const netsnmp_pdu& pdu,
                                          std::string source, bool inform) {
    const protocol::Limits limits;
    protocol::Event event;
    event.ts_ms = wall_ms();
    event.device = d.options.name;
    event.source = std::move(source);
    event.version = pdu.version == SNMP_VERSION_3 ? "3" : "2c";
    event.inform = inform;
    for (const netsnmp_variable_list* var = pdu.variables; var != nullptr;
         var = var->next_variable) {
      const Oid name = detail::name_of(*var);
      const Value value = detail::value_of(*var);
      if (name == kSnmpTrapOid) {
        if (value.type != Type::kObjectId || value.object.size() < 2) return std::nullopt;
        event.trap_oid = oid_text(value.object);
        event.trap_name = std::string(trap_name(value.object));
      }
      if (event.varbinds.size() >= limits.max_varbinds) continue;
      protocol::TrapVarbind v;
      v.oid = oid_text(name).substr(0, limits.max_string);
      v.name = variable_name(name).substr(0, limits.max_string);
      v.type = std::string(type_name(value.type));
      v.value = value_text(name, value, limits.max_string);
      event.varbinds.push_back(std::move(v));
    }
    if (event.trap_oid.empty()) return std::nullopt;  // not a notification after all
    event.summary = trap_summary(event);
    return event;
  }

  void resolve_missing(bool first) {
    const Clock::time_point now = Clock::now();
    for (Device& d : devices_) {
      if (!d.addresses.empty() || (!first && now - d.resolved_at < kResolveAgain)) continue;
      d.resolved_at = now;
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_DGRAM;
      addrinfo* list = nullptr;
      const int rc = ::getaddrinfo(d.options.target.host.c_str(), nullptr, &hints, &list);
      if (rc != 0) {
        handlers_.warning("device " + d.options.name + ": " + d.options.target.host + ": " +
                          gai_strerror(rc) + "; its traps are dropped until it resolves");
        continue;
      }
      for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
        if (const auto address = address_of(a->ai_addr);
            address &&
            std::find(d.addresses.begin(), d.addresses.end(), *address) == d.addresses.end())
          d.addresses.push_back(*address);
      }
      ::freeaddrinfo(list);
    }
  }

  void warn_shared_users() {
    for (std::size_t i = 0; i < devices_.size(); ++i) {
      for (std::size_t k = i + 1; k < devices_.size(); ++k) {
        const Target& a = devices_[i].options.target;
        const Target& b = devices_[k].options.target;
        if (a.version != Target::Version::kV3 || b.version != Target::Version::kV3 ||
            a.user != b.user)
          continue;
        if (a.auth_pass != b.auth_pass || a.priv_pass != b.priv_pass ||
            a.auth_protocol != b.auth_protocol || a.priv_protocol != b.priv_protocol)
          handlers_.warning("devices " + devices_[i].options.name + " and " +
                            devices_[k].options.name + " have the same SNMPv3 user \"" + a.user +
                            "\" with other passphrases: informs are accepted from the first only");
      }
    }
  }

  void publish_counters(bool force) {
    // USM's own refusals: wrong digests, decryption errors, unknown users, old messages.
    // An unknown engine id is how a v3 sender discovers ours: not a refusal.
    counters_.auth_failed = snmp_get_statistic(STAT_USMSTATSUNSUPPORTEDSECLEVELS) +
                            snmp_get_statistic(STAT_USMSTATSNOTINTIMEWINDOWS) +
                            snmp_get_statistic(STAT_USMSTATSUNKNOWNUSERNAMES) +
                            snmp_get_statistic(STAT_USMSTATSWRONGDIGESTS) +
                            snmp_get_statistic(STAT_USMSTATSDECRYPTIONERRORS);
    malformed_parsed_ = snmp_get_statistic(STAT_SNMPINASNPARSEERRS) +
                        snmp_get_statistic(STAT_SNMPINBADVERSIONS) +
                        snmp_get_statistic(STAT_SNMPUNKNOWNSECURITYMODELS) +
                        snmp_get_statistic(STAT_SNMPINVALIDMSGS);
    TrapCounters now = counters_;
    now.malformed += malformed_parsed_;
    const Clock::time_point t = Clock::now();
    if (!force && (now == published_ || t - published_at_ < options_.counters_every)) return;
    published_ = now;
    published_at_ = t;
    handlers_.counters(now);
  }

  const TrapListenOptions& options_;
  const TrapHandlers& handlers_;
  std::vector<Device> devices_;
  std::string listening_;
  TrapCounters counters_;
  std::uint64_t malformed_parsed_ = 0;
  TrapCounters published_;
  Clock::time_point published_at_{};
};

}  // namespace

Status receive_traps(const TrapListenOptions& options, int stop_fd, const TrapHandlers& handlers) {
  Receiver receiver(options, handlers);
  g_receiver = &receiver;
  Status status = receiver.run(stop_fd);
  g_receiver = nullptr;
  return status;
}

}  // namespace vigie::plugins::snmp
