#pragma once
// The agent's receiving of SNMP traps and informs (the config's "traps" block): it runs
// the SNMP helper in its receiving mode, `vigie-snmp --traps` (plugins/snmp/wire.hpp,
// trap_receiver.hpp), and turns what it accepts into events and polls.
//
// The helper is a long-lived child: started with the listener, given its options (the
// devices' addresses, communities and passphrases) on its stdin, which stays open so
// that it exits if the agent dies, restarted after a growing pause (1 s, doubling, at
// most 1 min) whenever it exits, and stopped with the listener. Its lines are read on
// the agent's io_context.
//
// An accepted trap becomes one event per check that reads the device (one event with
// no check when none does), which the shipper sends in the reports' `events`; and it
// asks for those checks to run soon (Scheduler::run_soon, debounced: poll_delay,
// poll_gap), the device's cached answer expired first, so that what the trap tells
// shows in their state within seconds rather than at their next interval.
//
// The receiver's snmpEngineBoots lives in the state folder (snmp-engine-boots), one
// more at each start of the helper, as RFC 3414 wants of an engine that restarts with
// the same id.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "agent/config.hpp"
#include "common/protocol.hpp"

namespace boost::asio {
class io_context;
}

namespace vigie::agent {

// What the agent's own check tells of traps.
struct TrapStats {
  std::uint64_t accepted = 0;  // passed on, since the agent started
  std::uint64_t dropped = 0;   // refused or over a device's rate, since the agent started
  bool listening = false;      // the helper runs and listens
};

struct TrapListenerOptions {
  std::string helper;               // the program to run; "": the installed vigie-snmp
  std::filesystem::path state_dir;  // where snmp-engine-boots is kept
  std::chrono::milliseconds restart_min{1000};
  std::chrono::milliseconds restart_max{60'000};
};

class TrapListener {
 public:
  // `config` (with traps set) must outlive the listener. `event` gets each event, `poll`
  // each device a trap came from; both on the io_context's thread.
  TrapListener(boost::asio::io_context& io, const Config& config, TrapListenerOptions options,
               std::function<void(const protocol::Event&)> event,
               std::function<void(const std::string& device)> poll);
  ~TrapListener();  // stop()
  TrapListener(const TrapListener&) = delete;
  TrapListener& operator=(const TrapListener&) = delete;

  // Starts the helper (on the io_context's thread, or before it runs).
  void start();
  // Stops it: its stdin closed, SIGKILL if it has not exited 1 s later; no restart.
  void stop();
  // Any thread.
  TrapStats stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace vigie::agent
