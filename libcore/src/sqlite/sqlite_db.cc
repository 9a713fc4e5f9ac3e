#include "sqlite/sqlite_db.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "base/private_dir.h"
#include "evt/log.h"

namespace evt {
namespace {

// Connections of this process whose last Retrying() call found the file unusable: one
// warning when the first goes down, one notice when the last is through again.
std::atomic<int> g_down{0};

std::string Folder(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

// What a person can do about a refusal, appended to SQLite's own words.
std::string Hint(int rc) {
  switch (rc & 0xff) {
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
      return "; evt must be able to write the file and its folder (check owner and mode)";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return "; it is not an evt database or it is damaged (sqlite3 FILE 'PRAGMA "
             "integrity_check')";
    default:
      return "";
  }
}

}  // namespace

std::string DescribeSqliteError(int rc, const std::string& message, int system_errno) {
  const int primary = rc & 0xff;
  const std::string text = message.empty() ? sqlite3_errstr(rc) : message;
  // A write that found no room: SQLITE_FULL, or an I/O error from a full file system, a
  // quota or a file size limit (RLIMIT_FSIZE), which SQLite reports as SQLITE_IOERR.
  const bool no_room = system_errno == ENOSPC || system_errno == EDQUOT || system_errno == EFBIG;
  if (primary == SQLITE_FULL || (primary == SQLITE_IOERR && no_room)) {
    return "the disk is full (" + (system_errno != 0 ? std::strerror(system_errno) : text) + ")";
  }
  if (primary == SQLITE_IOERR && system_errno != 0) {
    return text + " (" + std::strerror(system_errno) + ")";
  }
  return text;
}

Status ClassifySqlite(int rc, const std::string& message) {
  switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return Status::Ok();
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_PROTOCOL:
      return Status::Unavailable(message + Hint(rc));
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
    case SQLITE_AUTH:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Config(message + Hint(rc));
    default:
      return Status::Internal(message);
  }
}

Query::Query(SqliteDb* db, sqlite3_stmt* stmt, Status prepared)
    : db_(db), stmt_(stmt), prepared_(std::move(prepared)) {}

Query::Query(Query&& o) noexcept
    : db_(o.db_), stmt_(o.stmt_), prepared_(std::move(o.prepared_)), next_(o.next_) {
  o.stmt_ = nullptr;
}

Query::~Query() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Query& Query::Bind(std::int64_t v) {
  if (stmt_ != nullptr) sqlite3_bind_int64(stmt_, next_, v);
  ++next_;
  return *this;
}

Query& Query::Bind(const std::string& v) {
  if (stmt_ != nullptr) {
    sqlite3_bind_text(stmt_, next_, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  ++next_;
  return *this;
}

Query& Query::BindStatic(const std::string& v) {
  if (stmt_ != nullptr) {
    sqlite3_bind_text(stmt_, next_, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  ++next_;
  return *this;
}

Query& Query::BindNull() {
  if (stmt_ != nullptr) sqlite3_bind_null(stmt_, next_);
  ++next_;
  return *this;
}

Result<bool> Query::Step() {
  if (!prepared_.ok()) return prepared_;
  // SQLite keeps the errno of a failed write only for some calls: take it here as well.
  errno = 0;
  const int rc = sqlite3_step(stmt_);
  const int system_errno = errno;
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string sql = sqlite3_sql(stmt_);
  if (sql.size() > 48) sql = sql.substr(0, 48) + "...";
  return db_->Check(rc, sql, system_errno);
}

Status Query::Run() {
  while (true) {
    Result<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
  }
}

std::int64_t Query::Int(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Query::Text(int col) const {
  const unsigned char* text = sqlite3_column_text(stmt_, col);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
}

bool Query::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

SqliteDb::SqliteDb(SqliteOptions options) : options_(std::move(options)) {}

SqliteDb::~SqliteDb() {
  if (reported_down_) --g_down;
  Close();
}

void SqliteDb::Close() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  statements_.clear();
  if (db_ != nullptr) sqlite3_close_v2(db_);
  db_ = nullptr;
  broken_ = false;
}

Status SqliteDb::Check(int rc, const std::string& what, int system_errno) {
  const int primary = rc & 0xff;
  int err = db_ != nullptr ? sqlite3_system_errno(db_) : 0;
  if (err == 0) err = system_errno;
  Status s = ClassifySqlite(
      rc, options_.what + ": " + what + ": " +
              DescribeSqliteError(rc, db_ != nullptr ? sqlite3_errmsg(db_) : "", err));
  // A busy or locked file needs only a later try; after any other refusal the connection
  // is opened again, so a file that was replaced or repaired is seen afresh.
  if (!s.ok() && primary != SQLITE_BUSY && primary != SQLITE_LOCKED) broken_ = true;
  return s;
}

// Short sleeps while another connection holds the lock: its transactions are short, and
// the default handler sleeps up to 100 ms at a time.
int SqliteDb::OnBusy(void* self, int count) {
  auto* db = static_cast<SqliteDb*>(self);
  const auto now = std::chrono::steady_clock::now();
  if (count == 0) db->busy_since_ = now;
  if (now - db->busy_since_ >= db->options_.busy_timeout) return 0;
  const int us = std::min(2000, 20 << std::min(count, 7));
  std::this_thread::sleep_for(std::chrono::microseconds(us));
  return 1;
}

Status SqliteDb::OpenFile() {
  const std::string& path = options_.path;
  if (Status s = MakePrivateDirs(Folder(path), options_.what); !s.ok()) {
    return Status::Config(s.message());
  }
  // Created here, not by SQLite, so that it is 0600 whatever the umask; SQLite gives its
  // -wal and -shm files the mode of the database file.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    if (Status s = SyncDir(Folder(path)); !s.ok()) return Status::Config(s.message());
  } else if (errno != EEXIST) {
    return Status::Config(options_.what + ": cannot create " + path + ": " + std::strerror(errno));
  }
  const int rc =
      sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status s = ClassifySqlite(rc, options_.what + ": cannot open: " +
                                      (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc)));
    Close();
    return s.ok() ? Status::Internal(options_.what + ": cannot open") : s;
  }
  sqlite3_extended_result_codes(db_, 1);
  if (sqlite3_db_readonly(db_, "main") == 1) {
    Close();
    return Status::Config(options_.what + ": the file is read-only" + Hint(SQLITE_READONLY));
  }
  sqlite3_busy_handler(db_, &SqliteDb::OnBusy, this);
  return Status::Ok();
}

Status SqliteDb::Configure() {
  {
    Query wal = Prepare("PRAGMA journal_mode=WAL");
    Result<bool> row = wal.Step();
    if (!row.ok()) return row.status();
    if (!*row || wal.Text(0) != "wal") {
      return Status::Config(options_.what + ": cannot switch to WAL mode (the file system may " +
                            "not support shared memory)");
    }
  }
  const std::string sync = options_.sync_full ? "FULL" : "NORMAL";
  if (Status s = Exec("PRAGMA synchronous=" + sync); !s.ok()) return s;
  return Write([this] { return MigrateSchema(*this); });
}

Status SqliteDb::Open() {
  if (db_ != nullptr && !broken_) return Status::Ok();
  Close();
  if (Status s = OpenFile(); !s.ok()) return s;
  Status s = Configure();
  if (!s.ok()) Close();
  return s;
}

Query SqliteDb::Prepare(const char* sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return Query(this, it->second, Status::Ok());
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    std::string what = sql;
    if (what.size() > 48) what = what.substr(0, 48) + "...";
    return Query(this, nullptr, Check(rc, "prepare " + what));
  }
  statements_.emplace(sql, stmt);
  return Query(this, stmt, Status::Ok());
}

Status SqliteDb::Exec(const std::string& sql) {
  char* err = nullptr;
  errno = 0;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  const int system_errno = errno;
  sqlite3_free(err);
  return Check(rc, sql.size() > 48 ? sql.substr(0, 48) + "..." : sql, system_errno);
}

Status SqliteDb::End(const Status& body) {
  Status s = body;
  if (s.ok()) s = Prepare("COMMIT").Run();
  // A failed COMMIT may leave the transaction open: roll it back, all or nothing.
  if (!s.ok() && db_ != nullptr && sqlite3_get_autocommit(db_) == 0) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  return s;
}

Status SqliteDb::Write(const std::function<Status()>& body) {
  if (Status s = Open(); !s.ok()) return s;
  if (Status s = Prepare("BEGIN IMMEDIATE").Run(); !s.ok()) return s;
  return End(body());
}

Status SqliteDb::Read(const std::function<Status()>& body) {
  if (Status s = Open(); !s.ok()) return s;
  if (Status s = Prepare("BEGIN").Run(); !s.ok()) return s;
  return End(body());
}

std::int64_t SqliteDb::Changes() const { return sqlite3_changes64(db_); }

Status SqliteDb::Retrying(const std::function<Status()>& attempt,
                          const std::function<bool()>& give_up) {
  Millis delay = options_.backoff_min;
  while (true) {
    Status s = attempt();
    if (s.kind() != Status::Kind::kUnavailable) {
      if (reported_down_) {
        reported_down_ = false;
        if (--g_down == 0) Log(LogLevel::kInfo, options_.what + ": usable again");
      }
      return s;
    }
    if (!reported_down_) {
      reported_down_ = true;
      if (g_down++ == 0) {
        Log(LogLevel::kWarn, options_.what + ": not usable for now, retrying with backoff",
            {{"error", s.message()}});
      }
    }
    if (give_up && give_up()) return s;
    const auto until = std::chrono::steady_clock::now() + delay;
    while (std::chrono::steady_clock::now() < until) {
      if (give_up && give_up()) return s;
      std::this_thread::sleep_for(std::min<Millis>(Millis(50), delay));
    }
    delay = std::min(options_.backoff_max, delay * 2);
  }
}

}  // namespace evt
