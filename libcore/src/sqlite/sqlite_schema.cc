// The schema of an evt SQLite file, versioned by PRAGMA user_version and migrated on open.
// One file holds any number of queues (table `queues`, the <ns>:queues set); every other
// table is keyed by the queue's id. The tables mirror the Redis keys of DESIGN.md:
//   stream    the queue's entries in order (id never reused: AUTOINCREMENT); the entry id
//             shown to workers is "<added_ms>-<id>", like a stream id
//   groups    consumer groups and the last entry each has handed out
//   pending   entries handed out and not yet ended: consumer, when, how often (the PEL)
//   delayed   events due later (retries, deferrals, evt-emit --delay/--at)
//   dlq       dead letters; only evt-dlq purge and evt-replay remove them
//   idem      idempotency records: `running` leases (owner, expiry) and `done` (TTL)
//   events    the status of each event the workers have seen
//   marks     per delivery: handler starts (poison rule) and the commit marker `fin`
//   metrics   per minute and field, counts that add up across workers (metrics.h)
//   workers   heartbeats
//   audit     who replayed or purged what
#include "sqlite/sqlite_db.h"

namespace evt {
namespace {

constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE queues(id INTEGER PRIMARY KEY, ns TEXT NOT NULL, name TEXT NOT NULL,
  UNIQUE(ns, name));
CREATE TABLE stream(id INTEGER PRIMARY KEY AUTOINCREMENT, qid INTEGER NOT NULL,
  added_ms INTEGER NOT NULL, event TEXT NOT NULL);
CREATE INDEX stream_qid ON stream(qid, id);
CREATE TABLE groups(qid INTEGER NOT NULL, name TEXT NOT NULL, last_id INTEGER NOT NULL,
  created_ms INTEGER NOT NULL, PRIMARY KEY(qid, name)) WITHOUT ROWID;
CREATE TABLE pending(qid INTEGER NOT NULL, grp TEXT NOT NULL, id INTEGER NOT NULL,
  consumer TEXT NOT NULL, delivered_ms INTEGER NOT NULL, deliveries INTEGER NOT NULL,
  PRIMARY KEY(qid, grp, id)) WITHOUT ROWID;
CREATE TABLE delayed(seq INTEGER PRIMARY KEY AUTOINCREMENT, qid INTEGER NOT NULL,
  due_ms INTEGER NOT NULL, event TEXT NOT NULL);
CREATE INDEX delayed_due ON delayed(qid, due_ms);
CREATE TABLE dlq(id INTEGER PRIMARY KEY AUTOINCREMENT, qid INTEGER NOT NULL,
  event TEXT NOT NULL, reason TEXT NOT NULL, error TEXT NOT NULL, category TEXT NOT NULL,
  attempts INTEGER NOT NULL, failed_at TEXT NOT NULL, consumer TEXT NOT NULL,
  stream_id TEXT NOT NULL, failed_ms INTEGER NOT NULL);
CREATE INDEX dlq_qid ON dlq(qid, id);
CREATE TABLE idem(qid INTEGER NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL,
  owner TEXT NOT NULL, expires_ms INTEGER NOT NULL, PRIMARY KEY(qid, key)) WITHOUT ROWID;
CREATE TABLE events(qid INTEGER NOT NULL, event_id TEXT NOT NULL, status TEXT NOT NULL,
  event_type TEXT, idempotency_key TEXT, attempts INTEGER, consumer TEXT, stream_id TEXT,
  started_at TEXT, updated_at TEXT, finished_at TEXT, next_attempt_at TEXT,
  duration_ms INTEGER, error TEXT, category TEXT, reason TEXT, expires_ms INTEGER NOT NULL,
  PRIMARY KEY(qid, event_id)) WITHOUT ROWID;
CREATE TABLE marks(qid INTEGER NOT NULL, id INTEGER NOT NULL, starts INTEGER NOT NULL,
  fin TEXT, expires_ms INTEGER NOT NULL, PRIMARY KEY(qid, id)) WITHOUT ROWID;
CREATE TABLE metrics(qid INTEGER NOT NULL, minute INTEGER NOT NULL, field TEXT NOT NULL,
  value INTEGER NOT NULL, PRIMARY KEY(qid, minute, field)) WITHOUT ROWID;
CREATE TABLE workers(qid INTEGER NOT NULL, consumer TEXT NOT NULL, host TEXT NOT NULL,
  pid INTEGER NOT NULL, started_at TEXT NOT NULL, concurrency INTEGER NOT NULL,
  in_flight INTEGER NOT NULL, heartbeat_ms INTEGER NOT NULL, heartbeat_at TEXT NOT NULL,
  expires_ms INTEGER NOT NULL, PRIMARY KEY(qid, consumer)) WITHOUT ROWID;
CREATE TABLE audit(id INTEGER PRIMARY KEY AUTOINCREMENT, qid INTEGER NOT NULL,
  at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL);
PRAGMA user_version = 1;
)sql";

}  // namespace

Status MigrateSchema(SqliteDb& db) {
  int version = 0;
  {
    Query q = db.Prepare("PRAGMA user_version");
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    version = *row ? static_cast<int>(q.Int(0)) : 0;
  }
  const std::string& what = db.options().what;
  if (version > kSqliteSchemaVersion) {
    return Status::Config(what + ": the file has schema version " + std::to_string(version) +
                          ", newer than this evt knows (" + std::to_string(kSqliteSchemaVersion) +
                          "); use the evt that wrote it, or a newer one");
  }
  if (version == kSqliteSchemaVersion) return Status::Ok();
  if (version == 0) {
    Query q = db.Prepare("SELECT count(*) FROM sqlite_master");
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (*row && q.Int(0) > 0) {
      return Status::Config(what +
                            ": the file is a SQLite database, but not evt's (it has "
                            "tables and no evt schema version); give evt a file of its own");
    }
  }
  // Each step takes one version to the next; all of them run in the caller's transaction.
  if (version == 0) {
    if (Status s = db.Exec(kSchemaV1); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace evt
