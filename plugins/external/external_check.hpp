#pragma once
// `external`: runs any Nagios-compatible plugin and turns its exit code and output into
// an Outcome, following the Monitoring Plugins development guidelines.
//
// Parameters (the check's object in the agent config):
//   "command"  required, a non-empty array of strings: the program and its arguments,
//              run without a shell. The program is an absolute path, or a bare name
//              looked up at each run in kNagiosPluginDir, then in the plugin's PATH.
//   "env"      optional object of NAME -> value strings, added to (or replacing entries
//              of) the minimal environment PATH=/usr/local/bin:/usr/bin:/bin, LANG=C.
//   "user"     optional user name: the plugin runs as that user, with its groups, and
//              HOME, USER and LOGNAME set (unless "env" sets them). The agent needs
//              CAP_SETUID and CAP_SETGID for it; without, the run is UNKNOWN and says so.
//              An unknown user, or one of uid 0 (root), is a configuration error.
//   "capabilities"  optional array of "CAP_NET_RAW", "CAP_NET_ADMIN": the plugin gets
//              those of them the agent holds (see process.hpp); none otherwise. Not with
//              "user".
// The agent's timeout is the run's deadline: past it the plugin's whole process group
// is killed and the run is UNKNOWN "timed out after N s".
//
// Output: the first line is "TEXT | PERFDATA"; following lines are long text, until a
// line with a '|' whose right part starts more perfdata that runs to the end. summary is
// TEXT, details the long text (and stderr, and notes such as "(output truncated)" or
// "perfdata ignored: <why>"), metrics all the perfdata. Exit codes 0..3 give the state;
// anything else (4+, a signal, a timeout, a program that cannot be run) is UNKNOWN
// with the reason. stdout and stderr are each capped at 64 KiB.
//
// instance() is "": the agent identifies an external check by its name.

#include <memory>
#include <string_view>

#include "plugins/check.hpp"

namespace vigie::plugins::external {

inline constexpr std::string_view kNagiosPluginDir = "/usr/lib/nagios/plugins";

std::unique_ptr<Check> make_external_check();

}  // namespace vigie::plugins::external
