// The SQLite file itself: created private, WAL mode, a versioned schema that refuses what
// it does not know, clear errors for files it cannot use, busy waits classed as
// Unavailable; and the publisher's batches and depth.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include "evt/broker_factory.h"
#include "sqlite_queue_fixture.h"

using evt::testing::SqliteQueueFixture;
using evt::testing::SqliteTestEvent;

namespace evt {
namespace {

int Mode(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<int>(st.st_mode & 07777);
}

Status OpenStatus(const SqliteQueueFixture& f) {
  SqliteOptions o;
  o.path = f.path();
  o.what = f.url();
  SqliteDb db(o);
  return db.Open();
}

// Read with SQLite itself: evt's own connections refuse the file.
int RawUserVersion(const std::string& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  const int v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

Publication Pub(const std::string& id, UnixMillis due = 0) {
  Json j;
  j["event_type"] = "t.x";
  j["event_id"] = id;
  Result<Event> ev = MakeEvent(j);
  REQUIRE(ev.ok());
  return Publication{*ev, due};
}

}  // namespace

TEST_CASE("sqlite: the file and its folder are created 0600 and 0700, in WAL mode, schema 1",
          "[sqlite]") {
  SqliteQueueFixture f;
  REQUIRE(OpenStatus(f).ok());
  CHECK(Mode(f.path()) == 0600);
  CHECK(Mode(f.dir() + "/db") == 0700);
  CHECK(f.Text("PRAGMA journal_mode") == "wal");
  CHECK(f.Int("PRAGMA user_version") == kSqliteSchemaVersion);
  REQUIRE(OpenStatus(f).ok());  // opening again migrates nothing
}

TEST_CASE("sqlite: ?sync=full asks for synchronous=FULL, the default is NORMAL", "[sqlite]") {
  SqliteQueueFixture f;
  for (bool full : {false, true}) {
    SqliteOptions o;
    o.path = f.path();
    o.sync_full = full;
    SqliteDb db(o);
    REQUIRE(db.Open().ok());
    Query q = db.Prepare("PRAGMA synchronous");
    REQUIRE(*q.Step());
    CHECK(q.Int(0) == (full ? 2 : 1));
  }
  CHECK(ParseBrokerUrl(f.url() + "?sync=full")->sync_full);
}

TEST_CASE("sqlite: a newer schema, a foreign database and a non-database are refused as Config",
          "[sqlite]") {
  SqliteQueueFixture f;
  REQUIRE(OpenStatus(f).ok());
  f.Exec("PRAGMA user_version = 99");
  f.Db().Close();
  Status s = OpenStatus(f);
  CHECK(s.kind() == Status::Kind::kConfig);
  CHECK_THAT(s.message(), Catch::Contains("schema version 99") && Catch::Contains(f.url()));
  // The queue says the same on its first call; nothing was changed.
  auto session = f.Session("c1");
  CHECK(session->EnsureGroup().kind() == Status::Kind::kConfig);
  CHECK(RawUserVersion(f.path()) == 99);

  SqliteQueueFixture foreign;
  foreign.Db().Close();
  REQUIRE(OpenStatus(foreign).ok());  // creates the folder and file
  {
    SqliteOptions o;
    o.path = foreign.path();
    SqliteDb db(o);
  }
  std::remove(foreign.path().c_str());
  std::ofstream(foreign.path()) << std::string(8192, 'x');
  s = OpenStatus(foreign);
  CHECK(s.kind() == Status::Kind::kConfig);
  CHECK_THAT(s.message(), Catch::Contains("not an evt database"));
}

TEST_CASE("sqlite: a database of another program is refused, not written", "[sqlite]") {
  SqliteQueueFixture f;
  REQUIRE(OpenStatus(f).ok());
  f.Exec("PRAGMA user_version = 0; CREATE TABLE theirs(x)");
  f.Db().Close();
  Status s = OpenStatus(f);
  CHECK(s.kind() == Status::Kind::kConfig);
  CHECK_THAT(s.message(), Catch::Contains("not evt's"));
}

TEST_CASE("sqlite: a file evt cannot write is a Config error naming the file", "[sqlite]") {
  // The classification every call goes through: refusals an operator must fix are Config
  // (exit 78), with a hint; a busy file, a full disk and I/O errors are Unavailable.
  for (int rc : {SQLITE_READONLY, SQLITE_READONLY_DBMOVED, SQLITE_CANTOPEN, SQLITE_PERM,
                 SQLITE_CORRUPT, SQLITE_NOTADB}) {
    CHECK(ClassifySqlite(rc, "x").kind() == Status::Kind::kConfig);
  }
  CHECK_THAT(ClassifySqlite(SQLITE_READONLY, "x").message(), Catch::Contains("write the file"));
  for (int rc : {SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL, SQLITE_IOERR_WRITE}) {
    CHECK(ClassifySqlite(rc, "x").kind() == Status::Kind::kUnavailable);
  }
  CHECK(ClassifySqlite(SQLITE_MISUSE, "x").kind() == Status::Kind::kInternal);
  CHECK(ClassifySqlite(SQLITE_DONE, "x").ok());
  // A file its mode makes read-only (root writes through modes; tests/e2e/test_sqlite.sh
  // checks the same as another user).
  if (::geteuid() != 0) {
    SqliteQueueFixture f;
    REQUIRE(OpenStatus(f).ok());
    f.Db().Close();
    REQUIRE(::chmod(f.path().c_str(), 0400) == 0);
    Status s = OpenStatus(f);
    CHECK(s.kind() == Status::Kind::kConfig);
    CHECK_THAT(s.message(), Catch::Contains("read-only") && Catch::Contains(f.url()));
  }
}

TEST_CASE("sqlite: a lock held past busy_timeout is Unavailable, WithRetry waits it out",
          "[sqlite]") {
  SqliteQueueFixture f;
  QueueOptions o = f.Options("c1");
  o.io_timeout = Millis(100);  // the busy_timeout of its connections
  auto s = f.Session(o);
  REQUIRE(s->EnsureGroup().ok());
  SqliteOptions lo;
  lo.path = f.path();
  SqliteDb locker(lo);
  REQUIRE(locker.Open().ok());
  REQUIRE(locker.Exec("BEGIN IMMEDIATE").ok());
  Status busy = s->Heartbeat(WorkerInfo{});
  CHECK(busy.kind() == Status::Kind::kUnavailable);
  CHECK_THAT(busy.message(), Catch::Contains("locked") || Catch::Contains("busy"));
  std::thread unlock([&locker] {
    std::this_thread::sleep_for(Millis(300));
    locker.Exec("COMMIT");
  });
  Status later = s->WithRetry([&] { return s->Heartbeat(WorkerInfo{}); }, [] { return false; });
  unlock.join();
  CHECK(later.ok());
}

TEST_CASE(
    "sqlite: the publisher writes each batch in one transaction, Depth counts the "
    "backlog",
    "[sqlite]") {
  SqliteQueueFixture f;
  Result<BrokerConfig> b = ParseBrokerUrl(f.url());
  REQUIRE(b.ok());
  PublisherOptions po;
  po.batch_events = 4;
  Result<std::unique_ptr<EventPublisher>> p = OpenPublisher(*b, "evt", "q1", po);
  REQUIRE(p.ok());
  std::vector<Publication> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(Pub("p" + std::to_string(i)));
  batch.push_back(Pub("later", NowUnixMillis() + 3600 * 1000));
  std::size_t accepted = 0;
  REQUIRE((*p)->Publish(batch, &accepted).ok());
  CHECK(accepted == 11);
  CHECK(f.Int("SELECT count(*) FROM stream") == 10);
  CHECK(f.Int("SELECT count(*) FROM delayed") == 1);
  CHECK(*(*p)->Depth() == 10);  // no group yet: every entry
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  std::vector<Delivery> got;
  REQUIRE(s->Receive(3, Millis(10), &got).ok());
  AttemptEnd end;
  end.delivery_id = got[0].id;
  REQUIRE(s->FinishDuplicate(end).ok());
  CHECK(*(*p)->Depth() == 9);  // 7 undelivered + 2 pending
  CHECK(got[0].raw.find("\"event_id\":\"p0\"") != std::string::npos);
}

}  // namespace evt
