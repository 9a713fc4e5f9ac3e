// PRIVATE: the one wrapper around libsqlite3. A SqliteDb owns one connection (one per
// thread: it is not thread-safe) and its prepared statements, cached by their SQL text; a
// Query binds and steps one of them and resets it when it goes out of scope. Every result
// code is turned into a Status right after the call (ClassifySqlite), with a one-line
// message that names the file:
//   Unavailable  the file is busy or locked by another writer past busy_timeout, the disk
//                is full (SQLITE_FULL, or SQLITE_IOERR from ENOSPC, EDQUOT, EFBIG), or
//                another I/O error: wait with backoff (Retrying) and try again; at the
//                command line, exit 69 as an unreachable Redis (evt(7), SQLITE FILE)
//   Config       it will not work until someone acts: the file cannot be opened or
//                written (read-only, permissions), is not a database or is corrupt, or
//                holds a newer schema than this evt knows
//   Internal     anything else (a bug in our SQL)
// Nothing outside libcore/src/sqlite/ sees a SQLite type.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "evt/duration.h"
#include "evt/status.h"

namespace evt {

struct SqliteOptions {
  std::string path;             // the database file (absolute); created 0600, its folder 0700
  bool sync_full = false;       // synchronous=FULL (power-loss safe) instead of NORMAL
  Millis busy_timeout{10000};   // how long a statement waits for another writer's lock
  Millis backoff_min{20};       // first delay of Retrying
  Millis backoff_max{5000};     // cap on the delay of Retrying
  std::string what = "sqlite";  // message prefix: the broker URL, "sqlite:///var/lib/evt/evt.db"
};

// The schema version this evt writes (PRAGMA user_version); see sqlite_schema.cc.
inline constexpr int kSqliteSchemaVersion = 1;

// The Status of a SQLite result code (see the file comment). OK for SQLITE_OK, ROW, DONE.
Status ClassifySqlite(int rc, const std::string& message);
// What a failed call says in its Status: SQLite's `message` (its text for `rc` when
// empty), with the operating system's word for an I/O error (`system_errno`, 0 if none).
// A write that found no room, SQLITE_FULL or an I/O error of ENOSPC, EDQUOT or EFBIG (a
// file size limit), reads "the disk is full (...)" whichever way SQLite reported it.
std::string DescribeSqliteError(int rc, const std::string& message, int system_errno);

class SqliteDb;

// One use of a cached prepared statement: Bind the parameters in order, then Step through
// the rows (or Run for a statement without rows). Reset on destruction. An error in
// preparing is kept and returned by Step/Run.
class Query {
 public:
  Query(SqliteDb* db, sqlite3_stmt* stmt, Status prepared);
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  Query(Query&& other) noexcept;
  Query& operator=(Query&&) = delete;

  Query& Bind(std::int64_t v);
  Query& Bind(int v) { return Bind(static_cast<std::int64_t>(v)); }
  Query& Bind(const std::string& v);  // copied
  // Not copied. REQUIRES: `v` outlives the query.
  Query& BindStatic(const std::string& v);
  Query& BindNull();

  // true: a row is ready to read; false: done.
  Result<bool> Step();
  // Steps to the end, ignoring rows.
  Status Run();

  std::int64_t Int(int col) const;
  std::string Text(int col) const;
  bool IsNull(int col) const;

 private:
  SqliteDb* db_;
  sqlite3_stmt* stmt_;
  Status prepared_;
  int next_ = 1;
};

class SqliteDb {
 public:
  explicit SqliteDb(SqliteOptions options);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Opens the file if not open: creates it (and its folder) when missing, sets WAL mode,
  // busy_timeout and synchronous, and migrates the schema to kSqliteSchemaVersion. Config
  // when the file cannot be used (see the file comment); Unavailable when it is busy.
  Status Open();
  bool is_open() const { return db_ != nullptr; }
  void Close();

  // A query on a cached statement. REQUIRES: is_open(); `sql` is a string literal (its
  // address is the cache key).
  Query Prepare(const char* sql);
  // Runs statements without parameters or rows ("BEGIN; ..."), for schema and pragmas.
  Status Exec(const std::string& sql);

  // Runs `body` in one write transaction (BEGIN IMMEDIATE, so that two processes never
  // both read and then fight over the write lock): committed when `body` returns OK,
  // rolled back otherwise (its Status returned). Opens the file first. A failed commit
  // is rolled back: the transaction is all or nothing.
  Status Write(const std::function<Status()>& body);
  // Runs `body` in one read transaction (a consistent snapshot). Opens the file first.
  Status Read(const std::function<Status()>& body);

  // Runs `attempt` until it returns anything but Unavailable, with capped exponential
  // backoff, or until give_up() is true (then the last Unavailable). Logs once when the
  // file becomes unusable and once when it is usable again, for the whole process.
  Status Retrying(const std::function<Status()>& attempt, const std::function<bool()>& give_up);

  // Rows changed by the last statement.
  std::int64_t Changes() const;
  // The Status of `rc` from a call on this connection, naming `what` and the file;
  // `system_errno` is errno right after the call (used when SQLite kept none). An
  // Unavailable or Config error closes the connection: the next call opens it again.
  Status Check(int rc, const std::string& what, int system_errno = 0);
  const SqliteOptions& options() const { return options_; }

 private:
  Status OpenFile();
  Status Configure();
  Status End(const Status& body);
  static int OnBusy(void* self, int count);

  SqliteOptions options_;
  sqlite3* db_ = nullptr;
  std::map<const char*, sqlite3_stmt*> statements_;
  bool broken_ = false;  // an error left the connection unusable: reopen on the next call
  bool reported_down_ = false;
  std::chrono::steady_clock::time_point busy_since_;
};

// Creates or migrates the schema inside an open write transaction; Config when the file
// holds a newer version or is not an evt database. Defined in sqlite_schema.cc.
Status MigrateSchema(SqliteDb& db);

}  // namespace evt
