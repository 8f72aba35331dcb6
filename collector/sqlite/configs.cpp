#include "collector/sqlite/configs.hpp"

#include <sqlite3.h>

#include "common/sqlite.hpp"

namespace vigie::collector {

using sqlite::Statement;

Result<std::int64_t> read_config_revision(sqlite3* db) {
  auto stmt = Statement::prepare(db, "SELECT revision FROM config_revision WHERE id = 1");
  if (!stmt) return stmt.status();
  if (stmt->step() != SQLITE_ROW) return sqlite::error(db, "read the configurations' revision");
  return stmt->int64(0);
}

Result<ConfigSnapshot> read_config_snapshot(sqlite3* db) {
  // One read transaction: the revision and the entries agree.
  if (Status s = sqlite::exec(db, "BEGIN"); !s) return s;
  auto read = [&]() -> Result<ConfigSnapshot> {
    ConfigSnapshot snapshot;
    auto revision = read_config_revision(db);
    if (!revision) return revision.status();
    snapshot.revision = *revision;
    auto stmt = Statement::prepare(
        db,
        "SELECT kind, name, document, revision, updated_ms, author FROM config_entries"
        " ORDER BY kind, name");
    if (!stmt) return stmt.status();
    int rc;
    while ((rc = stmt->step()) == SQLITE_ROW) {
      const auto kind = config_kind_from_name(stmt->text(0));
      if (!kind) continue;  // written by a newer collector: not ours to render
      snapshot.entries.push_back({.kind = *kind,
                                  .name = stmt->text(1),
                                  .document = stmt->text(2),
                                  .revision = stmt->int64(3),
                                  .updated_ms = stmt->int64(4),
                                  .author = stmt->text(5)});
    }
    if (rc != SQLITE_DONE) return sqlite::error(db, "read the configurations");
    return snapshot;
  };
  auto snapshot = read();
  (void)sqlite::exec(db, "COMMIT");
  return snapshot;
}

Result<std::int64_t> apply_config_change(sqlite3* db, const ConfigChange& change) {
  auto current = read_config_revision(db);
  if (!current) return current.status();
  if (*current != change.based_on) {
    return Status(Code::kFailedPrecondition,
                  "the configurations changed meanwhile (revision " + std::to_string(*current) +
                      ", not " + std::to_string(change.based_on) + "): look again and retry");
  }
  const std::int64_t revision = *current + 1;
  const std::string kind(config_kind_name(change.kind));
  if (change.document) {
    Status s = sqlite::exec(
        db,
        "INSERT INTO config_entries (kind, name, document, revision, updated_ms, author)"
        " VALUES (?1,?2,?3,?4,?5,?6) ON CONFLICT (kind, name) DO UPDATE SET"
        " document = excluded.document, revision = excluded.revision,"
        " updated_ms = excluded.updated_ms, author = excluded.author",
        [&](Statement& st) {
          st.bind(1, kind)
              .bind(2, change.name)
              .bind(3, *change.document)
              .bind(4, revision)
              .bind(5, change.audit.ts_ms)
              .bind(6, change.audit.author);
        });
    if (!s) return s;
  } else {
    Status s = sqlite::exec(db, "DELETE FROM config_entries WHERE kind = ?1 AND name = ?2",
                            [&](Statement& st) { st.bind(1, kind).bind(2, change.name); });
    if (!s) return s;
    if (sqlite3_changes(db) == 0)
      return Status::not_found("no " + kind + " \"" + change.name + "\" to remove");
  }
  Status s = sqlite::exec(db, "UPDATE config_revision SET revision = ?1 WHERE id = 1",
                          [&](Statement& st) { st.bind(1, revision); });
  if (!s) return s;
  const AuditEntry& a = change.audit;
  s = sqlite::exec(db,
                   "INSERT INTO audit (ts_ms, author, action, target, comment, before_value,"
                   " after_value) VALUES (?1,?2,?3,?4,?5,?6,?7)",
                   [&](Statement& st) {
                     st.bind(1, a.ts_ms)
                         .bind(2, a.author)
                         .bind(3, a.action)
                         .bind(4, a.target)
                         .bind(5, a.comment)
                         .bind(6, a.before)
                         .bind(7, a.after);
                   });
  if (!s) return s;
  return revision;
}

Status upsert_agent_config_report(sqlite3* db, const AgentConfigReport& r) {
  return sqlite::exec(db,
                      "INSERT INTO agent_config_reports (agent, running, refused, error,"
                      " reported_ms) VALUES (?1,?2,?3,?4,?5) ON CONFLICT (agent) DO UPDATE SET"
                      " running = excluded.running, refused = excluded.refused,"
                      " error = excluded.error, reported_ms = excluded.reported_ms",
                      [&](Statement& st) {
                        st.bind(1, r.agent)
                            .bind(2, r.running)
                            .bind(3, r.refused)
                            .bind(4, r.error)
                            .bind(5, r.reported_ms);
                      });
}

Result<std::vector<AgentConfigReport>> read_agent_config_reports(sqlite3* db) {
  auto stmt = Statement::prepare(
      db,
      "SELECT agent, running, refused, error, reported_ms FROM agent_config_reports"
      " ORDER BY agent");
  if (!stmt) return stmt.status();
  std::vector<AgentConfigReport> out;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) {
    out.push_back({.agent = stmt->text(0),
                   .running = stmt->text(1),
                   .refused = stmt->text(2),
                   .error = stmt->text(3),
                   .reported_ms = stmt->int64(4)});
  }
  if (rc != SQLITE_DONE) return sqlite::error(db, "read the agents' configuration reports");
  return out;
}

}  // namespace vigie::collector
