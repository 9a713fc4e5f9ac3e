// The SQLite file on a full disk (PRAGMA max_page_count on every connection of the
// process, tests/support/sqlite_disk_limit.h): evt-emit's publish, a worker's
// attempt-ending commit and the admin's replay and purge fail whole, with one line that
// says the disk is full, as Unavailable (retried; exit 69 at the command line); nothing
// half-written; and once space returns each goes through, once.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "attempt_end.h"
#include "evt/broker_factory.h"
#include "evt/dlq.h"
#include "evt/exit_code.h"
#include "evt/publisher.h"
#include "sqlite_disk_limit.h"
#include "sqlite_queue_fixture.h"

using evt::testing::SqliteDiskLimit;
using evt::testing::SqliteQueueFixture;
using evt::testing::SqliteTestEvent;

namespace evt {
namespace {

// An event with a payload larger than a page: storing it always takes new pages.
std::string BigEvent(const std::string& id, const std::string& key = "") {
  Json j = *ParseJson(SqliteTestEvent(id, key));
  j["data"] = Json::object({{"blob", std::string(6000, 'x')}});
  return j.dump();
}

// A full disk, as every caller should see it.
void CheckFull(const Status& s) {
  INFO(s.message());
  CHECK(s.kind() == Status::Kind::kUnavailable);
  CHECK(ExitCodeFor(s) == kExitUnavailable);
  CHECK_THAT(s.message(), Catch::Contains("disk is full"));
  CHECK_THAT(s.message(), Catch::Contains("evt.db"));
  CHECK(s.message().find('\n') == std::string::npos);
}

AttemptEnd EndOf(const Delivery& d, const std::string& id, const std::string& key) {
  AttemptEnd end = testing::RanEnd(d, id, key);
  end.occurred_at = NowUnixMillis() - 1000;
  return end;
}

// Receives the one entry of `id` and starts its attempt.
AttemptEnd Start(QueueSession& s, const std::string& id, const std::string& key) {
  std::vector<Delivery> got;
  REQUIRE(s.Receive(1, Millis(100), &got).ok());
  REQUIRE(got.size() == 1);
  AttemptEnd end = EndOf(got[0], id, key);
  Result<Lease> lease = s.StartAttempt(end, Millis(60000), 0);
  REQUIRE(lease.ok());
  REQUIRE(lease->state == LeaseState::kAcquired);
  return end;
}

std::vector<Publication> Batch(const std::string& prefix, int n) {
  std::vector<Publication> out;
  for (int i = 0; i < n; ++i) out.push_back({*ParseEvent(BigEvent(prefix + std::to_string(i))), 0});
  return out;
}

// RLIMIT_FSIZE for this process while it lives, with SIGXFSZ ignored: a write past
// `bytes` fails with EFBIG, as under `ulimit -f`.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved_) == 0);
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit r = saved_;
    r.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &r) == 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    ::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
  void (*old_handler_)(int) = SIG_DFL;
};

off_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

}  // namespace

TEST_CASE("sqlite full disk: an I/O error from a file size limit (EFBIG) reads as a full disk",
          "[sqlite][full]") {
  SqliteQueueFixture f;
  PublisherOptions o;
  o.outage_patience = Millis(300);
  Result<std::unique_ptr<EventPublisher>> pub =
      OpenPublisher(*ParseBrokerUrl(f.url()), "evt", "q1", o);
  REQUIRE(pub.ok());
  std::size_t accepted = 0;
  REQUIRE((*pub)->Publish(Batch("early", 2), &accepted).ok());
  Status s;
  {
    const off_t largest = std::max(FileSize(f.path()), FileSize(f.path() + "-wal"));
    FileSizeLimit limit(static_cast<rlim_t>(largest + 64 * 1024));
    s = (*pub)->Publish(Batch("e", 50), &accepted);  // 300 KB: the WAL cannot hold it
  }
  CheckFull(s);
  CHECK_THAT(s.message(), Catch::Contains("File too large"));
  CHECK(accepted == 0);
  CHECK(f.Int("SELECT count(*) FROM stream") == 2);
  REQUIRE((*pub)->Publish(Batch("e", 50), &accepted).ok());
  CHECK(f.Int("SELECT count(*) FROM stream") == 52);
}

TEST_CASE("sqlite full disk: a publish keeps whole transactions and goes on once space returns",
          "[sqlite][full]") {
  SqliteQueueFixture f;
  SqliteDiskLimit disk;
  PublisherOptions o;
  o.batch_events = 10;
  o.outage_patience = Millis(300);
  Result<std::unique_ptr<EventPublisher>> pub =
      OpenPublisher(*ParseBrokerUrl(f.url()), "evt", "q1", o);
  REQUIRE(pub.ok());
  std::size_t accepted = 0;
  REQUIRE((*pub)->Publish(Batch("early", 10), &accepted).ok());

  disk.Fill();
  const std::vector<Publication> batch = Batch("e", 50);
  Status s = (*pub)->Publish(batch, &accepted);
  CheckFull(s);
  CHECK(accepted == 0);
  CHECK(f.Int("SELECT count(*) FROM stream") == 10);  // nothing of the batch half-written
  CHECK(f.Text("PRAGMA integrity_check") == "ok");

  disk.Lift();  // the producer sends the rest again: each once
  REQUIRE((*pub)->Publish(batch, &accepted).ok());
  CHECK(accepted == batch.size());
  CHECK(f.Int("SELECT count(*) FROM stream") == 60);
  CHECK(f.Int("SELECT count(DISTINCT json_extract(event, '$.event_id')) FROM stream") == 60);
}

TEST_CASE("sqlite full disk: a dead letter's commit fails whole and is made once with space",
          "[sqlite][full]") {
  SqliteQueueFixture f;
  SqliteDiskLimit disk;
  f.Add(BigEvent("e1", "k1"));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  AttemptEnd end = Start(*s, "e1", "k1");
  end.error = "exit 65";
  end.category = Category::kData;

  disk.Fill();
  // The worker's commit path: retried while Unavailable, until the stop's grace is over.
  int tries = 0;
  Status failed =
      s->WithRetry([&] { return s->FinishDead(end, DeadReason::kPermanent, BigEvent("e1", "k1")); },
                   [&] { return ++tries > 3; });
  CheckFull(failed);
  CHECK(tries > 1);
  CHECK(f.Int("SELECT count(*) FROM dlq") == 0);
  CHECK(f.Int("SELECT count(*) FROM pending") == 1);  // still pending: not lost
  CHECK(f.Text("SELECT state FROM idem WHERE key = 'k1'") == "running");
  CHECK(f.Text("SELECT status FROM events WHERE event_id = 'e1'") != "failed");

  disk.Lift();
  REQUIRE(s->FinishDead(end, DeadReason::kPermanent, BigEvent("e1", "k1")).ok());
  REQUIRE(s->FinishDead(end, DeadReason::kPermanent, BigEvent("e1", "k1")).ok());  // a repeat
  CHECK(f.Int("SELECT count(*) FROM dlq") == 1);
  CHECK(f.Int("SELECT count(*) FROM pending") == 0);
  CHECK(f.Text("SELECT status FROM events WHERE event_id = 'e1'") == "failed");
  CHECK(f.Text("PRAGMA integrity_check") == "ok");
}

TEST_CASE("sqlite full disk: a retry's commit fails whole and is scheduled once with space",
          "[sqlite][full]") {
  SqliteQueueFixture f;
  SqliteDiskLimit disk;
  f.Add(BigEvent("e1", "k1"));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  AttemptEnd end = Start(*s, "e1", "k1");
  Json next = *ParseJson(BigEvent("e1", "k1"));
  next["retry_count"] = 1;

  disk.Fill();
  CheckFull(s->FinishRetry(end, next.dump(), NowUnixMillis() + 60000));
  CHECK(f.Int("SELECT count(*) FROM delayed") == 0);
  CHECK(f.Int("SELECT count(*) FROM pending") == 1);

  disk.Lift();
  REQUIRE(s->FinishRetry(end, next.dump(), NowUnixMillis() + 60000).ok());
  REQUIRE(s->FinishRetry(end, next.dump(), NowUnixMillis() + 60000).ok());
  CHECK(f.Int("SELECT count(*) FROM delayed") == 1);
  CHECK(f.Int("SELECT count(*) FROM pending") == 0);
}

TEST_CASE("sqlite full disk: done commits that find the disk full are made once, later",
          "[sqlite][full]") {
  SqliteQueueFixture f;
  SqliteDiskLimit disk;
  constexpr int kEvents = 300;
  for (int i = 0; i < kEvents; ++i) f.Add(SqliteTestEvent("e" + std::to_string(i)));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  std::vector<Delivery> got;
  REQUIRE(s->Receive(kEvents, Millis(100), &got).ok());
  REQUIRE(got.size() == static_cast<std::size_t>(kEvents));

  // The status rows and metrics fill what room is left in the pages; then a commit fails.
  disk.Fill();
  int made = 0;
  Status failed;
  for (; made < kEvents; ++made) {
    const std::string id = "e" + std::to_string(made);
    failed = s->FinishDone(EndOf(got[made], id, id));
    if (!failed.ok()) break;
  }
  REQUIRE(made < kEvents);
  CheckFull(failed);
  CHECK(f.Int("SELECT count(*) FROM pending") == kEvents - made);
  CHECK(f.Int("SELECT count(*) FROM events WHERE status = 'done'") == made);

  disk.Lift();
  for (int i = made; i < kEvents; ++i) {
    const std::string id = "e" + std::to_string(i);
    REQUIRE(s->FinishDone(EndOf(got[i], id, id)).ok());
  }
  REQUIRE(s->FinishDone(EndOf(got[made], "e" + std::to_string(made), "e" + std::to_string(made)))
              .ok());  // the failed one, repeated: still once
  CHECK(f.Int("SELECT count(*) FROM pending") == 0);
  CHECK(f.Int("SELECT count(*) FROM events WHERE status = 'done'") == kEvents);
  CHECK(f.Int("SELECT coalesce(sum(value), 0) FROM metrics WHERE field = 't.x|outcome:done'") ==
        kEvents);
}

TEST_CASE("sqlite full disk: a replay's move keeps the dead letter, and a purge is all or nothing",
          "[sqlite][full][admin]") {
  SqliteQueueFixture f;
  SqliteDiskLimit disk;
  f.Add(BigEvent("e1"));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  for (int i = 1; i <= 3; ++i) {
    if (i > 1) f.Add(BigEvent("e" + std::to_string(i)));
    const std::string id = "e" + std::to_string(i);
    REQUIRE(s->FinishDead(Start(*s, id, id), DeadReason::kPermanent, BigEvent(id)).ok());
  }
  AdminOptions ao;
  ao.queue = "q1";
  Result<std::unique_ptr<QueueAdmin>> admin = OpenAdmin(*ParseBrokerUrl(f.url()), ao);
  REQUIRE(admin.ok());
  Result<std::vector<DeadLetterRecord>> dead = (*admin)->ListDeadLetters({});
  REQUIRE(dead.ok());
  REQUIRE(dead->size() == 3);
  const std::int64_t stream = f.Int("SELECT count(*) FROM stream");

  disk.Fill();
  Result<bool> moved = (*admin)->MoveDeadLetter(dead->at(0).id, BigEvent("e1"), "q1", false);
  REQUIRE_FALSE(moved.ok());
  CheckFull(moved.status());
  CheckFull((*admin)->Enqueue(BigEvent("e9")));
  CHECK(f.Int("SELECT count(*) FROM dlq") == 3);
  CHECK(f.Int("SELECT count(*) FROM stream") == stream);

  // Purging frees room: it may go through on a full disk, and then it is audited.
  PurgeOptions po;
  po.yes = true;
  po.purge_id = "prg_full";
  RecordFilter one;
  one.ids = {dead->at(2).id};
  std::int64_t purged = 0;
  Status p = DlqPurge(**admin, one, po, &purged);
  INFO(p.message());
  if (p.ok()) {
    CHECK(purged == 1);
    CHECK(f.Int("SELECT count(*) FROM audit") == 1);
  } else {
    CheckFull(p);
  }

  disk.Lift();
  moved = (*admin)->MoveDeadLetter(dead->at(0).id, BigEvent("e1"), "q1", false);
  REQUIRE(moved.ok());
  CHECK(*moved);
  CHECK_FALSE(*(*admin)->MoveDeadLetter(dead->at(0).id, BigEvent("e1"), "q1", false));
  CHECK(f.Int("SELECT count(*) FROM stream") == stream + 1);
  if (!p.ok()) REQUIRE(DlqPurge(**admin, one, po, &purged).ok());
  CHECK(f.Int("SELECT count(*) FROM dlq") == 1);
  CHECK(f.Int("SELECT count(*) FROM audit") == 1);
  CHECK(f.Text("PRAGMA integrity_check") == "ok");
}

}  // namespace evt
