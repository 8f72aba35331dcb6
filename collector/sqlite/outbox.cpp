#include "collector/sqlite/outbox.hpp"

#include <sqlite3.h>

#include <algorithm>

#include "common/sqlite.hpp"

namespace vigie::collector {
namespace {
using sqlite::Statement;
}  // namespace

// Due: by now_ms, or, for rows never claimed, by due_by_ms (a burst rides along with a
// due row; a claimed row is due when its lease ends).
constexpr const char* kDue =
    " channel = ?1 AND done_ms = 0 AND (due_ms <= ?3 OR (status = '' AND due_ms <= ?2))";

Result<bool> outbox_has_due(sqlite3* db, const std::string& channel, std::int64_t now_ms,
                            std::int64_t due_by_ms) {
  auto stmt = Statement::prepare(db, std::string("SELECT 1 FROM outbox WHERE") + kDue + " LIMIT 1");
  if (!stmt) return stmt.status();
  stmt->bind(1, channel).bind(2, due_by_ms).bind(3, now_ms);
  const int rc = stmt->step();
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) return sqlite::error(db, "read the outbox");
  return false;
}

Result<std::vector<OutboxRow>> claim_outbox_rows(sqlite3* db, const std::string& channel,
                                                 std::int64_t now_ms, std::int64_t due_by_ms,
                                                 std::size_t limit, std::int64_t lease_ms) {
  auto select = Statement::prepare(
      db, std::string("SELECT id, alert_key, alert, created_ms, due_ms, attempts, error FROM outbox"
                      " WHERE") +
              kDue + " ORDER BY created_ms, id LIMIT ?4");
  if (!select) return select.status();
  select->bind(1, channel)
      .bind(2, due_by_ms)
      .bind(3, now_ms)
      .bind(4, static_cast<std::int64_t>(limit));
  std::vector<OutboxRow> rows;
  int rc;
  while ((rc = select->step()) == SQLITE_ROW) {
    rows.push_back({.id = select->int64(0),
                    .channel = channel,
                    .key = select->text(1),
                    .alert = select->text(2),
                    .created_ms = select->int64(3),
                    .due_ms = select->int64(4),
                    .attempts = static_cast<int>(select->int64(5)),
                    .error = select->text(6)});
  }
  if (rc != SQLITE_DONE) return sqlite::error(db, "read the outbox");
  auto lease =
      Statement::prepare(db, "UPDATE outbox SET due_ms = ?2, status = 'claimed' WHERE id = ?1");
  if (!lease) return lease.status();
  for (const auto& row : rows) {
    lease->reset();
    lease->bind(1, row.id).bind(2, now_ms + lease_ms);
    if (lease->step() != SQLITE_DONE) return sqlite::error(db, "claim outbox rows");
  }
  return rows;
}

Result<std::vector<std::int64_t>> renew_outbox_rows(sqlite3* db,
                                                    const std::vector<std::int64_t>& ids,
                                                    std::int64_t held_until_ms,
                                                    std::int64_t until_ms) {
  auto stmt = Statement::prepare(
      db, "UPDATE outbox SET due_ms = ?3 WHERE id = ?1 AND done_ms = 0 AND due_ms = ?2");
  if (!stmt) return stmt.status();
  std::vector<std::int64_t> renewed;
  for (const std::int64_t id : ids) {
    stmt->reset();
    stmt->bind(1, id).bind(2, held_until_ms).bind(3, until_ms);
    if (stmt->step() != SQLITE_DONE) return sqlite::error(db, "renew the claim of outbox rows");
    if (sqlite3_changes(db) > 0) renewed.push_back(id);
  }
  std::sort(renewed.begin(), renewed.end());
  return renewed;
}

Result<bool> settle_outbox_rows(sqlite3* db, const std::vector<std::int64_t>& ids,
                                std::int64_t now_ms, const std::string& status,
                                const std::string& error) {
  auto stmt =
      Statement::prepare(db,
                         "UPDATE outbox SET done_ms = ?2, status = ?3, error = ?4,"
                         " attempts = attempts + (?3 = 'failed') WHERE id = ?1 AND done_ms = 0");
  if (!stmt) return stmt.status();
  int changed = 0;
  for (const std::int64_t id : ids) {
    stmt->reset();
    stmt->bind(1, id).bind(2, now_ms).bind(3, status).bind(4, error);
    if (stmt->step() != SQLITE_DONE) return sqlite::error(db, "settle outbox rows");
    changed += sqlite3_changes(db);
  }
  if (changed > 0 || ids.empty()) return false;
  auto same = Statement::prepare(
      db, "SELECT count(*) FROM outbox WHERE id = ?1 AND done_ms = ?2 AND status = ?3");
  if (!same) return same.status();
  for (const std::int64_t id : ids) {
    same->reset();
    same->bind(1, id).bind(2, now_ms).bind(3, status);
    if (same->step() != SQLITE_ROW) return sqlite::error(db, "read outbox rows");
    if (same->int64(0) == 0) return false;
  }
  return true;
}

Status retry_outbox_rows(sqlite3* db, const std::vector<std::int64_t>& ids,
                         std::int64_t retry_at_ms, const std::string& error) {
  auto stmt =
      Statement::prepare(db,
                         "UPDATE outbox SET due_ms = ?2, error = ?3, attempts = attempts + 1"
                         " WHERE id = ?1 AND done_ms = 0");
  if (!stmt) return stmt.status();
  for (const std::int64_t id : ids) {
    stmt->reset();
    stmt->bind(1, id).bind(2, retry_at_ms).bind(3, error);
    if (stmt->step() != SQLITE_DONE) return sqlite::error(db, "reschedule outbox rows");
  }
  return Status::ok();
}

Result<std::map<std::string, std::int64_t>> read_outbox_last_sent(sqlite3* db,
                                                                  std::int64_t since_ms) {
  auto stmt = Statement::prepare(
      db,
      "SELECT alert_key, MAX(done_ms) FROM outbox WHERE done_ms >= ?1 AND done_ms != 0"
      " AND status IN ('sent', 'digest') GROUP BY alert_key");
  if (!stmt) return stmt.status();
  stmt->bind(1, since_ms);
  std::map<std::string, std::int64_t> out;
  int rc;
  while ((rc = stmt->step()) == SQLITE_ROW) out[stmt->text(0)] = stmt->int64(1);
  if (rc != SQLITE_DONE) return sqlite::error(db, "read the outbox");
  return out;
}

Result<std::map<std::string, std::int64_t>> read_outbox_settled(
    sqlite3* db, const std::vector<std::string>& keys, std::int64_t since_ms) {
  // A key with a row still waiting is not settled, whatever was settled before it.
  auto stmt = Statement::prepare(db,
                                 "SELECT alert_key, MAX(done_ms) FROM outbox WHERE alert_key = ?1"
                                 " AND (done_ms = 0 OR done_ms >= ?2) GROUP BY alert_key"
                                 " HAVING MIN(done_ms) != 0");
  if (!stmt) return stmt.status();
  std::map<std::string, std::int64_t> out;
  for (const std::string& key : keys) {
    stmt->reset();
    stmt->bind(1, key).bind(2, since_ms);
    const int rc = stmt->step();
    if (rc == SQLITE_ROW) out[key] = stmt->int64(1);
    else if (rc != SQLITE_DONE) return sqlite::error(db, "read the outbox");
  }
  return out;
}

}  // namespace vigie::collector
