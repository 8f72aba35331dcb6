#pragma once
// `vigie-collector token ...` and `vigie-collector enroll-token ...`: technicians'
// tokens and the one-time tokens agents enroll with, in the collector's database.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "collector/command_help.hpp"
#include "common/status.hpp"

namespace vigie::collector {

// `args` starts with the command's name. Returns the process's exit code: 0 done,
// 1 the database failed, 2 bad usage.
int token_command(const std::vector<std::string_view>& args);
int enroll_token_command(const std::vector<std::string_view>& args);

// A campaign's sites file (enroll-token create --sites): one line per agent to install.
struct CampaignLine {
  std::size_t line = 0;  // in the file, from 1
  std::string site;
  std::string agent;                // "" : any agent of the site may enroll
  std::vector<std::string> fields;  // the line's columns as read, passed to the output
};
struct SiteList {
  std::vector<std::string> header;  // the columns' names ("site", "agent" without a header)
  std::vector<CampaignLine> lines;
};

// Reads a CSV of sites and agent ids: "site,agent" lines, or a first line naming the
// columns ("site" first; "agent" or "agent_id" anywhere; others passed through). Errors
// name `name`, the line and the field: a bad site or agent id, an agent id given twice,
// a site given twice without an agent id, no line at all.
Result<SiteList> read_sites_csv(std::string_view text, const std::string& name);

// What their help says.
extern const CommandHelp kTokenHelp;
extern const CommandHelp kEnrollTokenHelp;

}  // namespace vigie::collector
