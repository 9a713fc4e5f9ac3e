// The SQLite queue's claims, resumption, due events, retention and heartbeats, and many
// consumers on one file sharing the work without a double delivery.
#include <atomic>
#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "sqlite_queue_fixture.h"

using evt::testing::SqliteQueueFixture;
using evt::testing::SqliteTestEvent;

namespace evt {

TEST_CASE("sqlite: Claim takes over another consumer's idle entry, counting deliveries",
          "[sqlite]") {
  SqliteQueueFixture f;
  const std::string id = f.Add(SqliteTestEvent("e1"));
  auto dead = f.Session("dead");
  auto live = f.Session("live");
  REQUIRE(dead->EnsureGroup().ok());
  std::vector<Delivery> got;
  REQUIRE(dead->Receive(1, Millis(10), &got).ok());
  REQUIRE(got.size() == 1);
  std::vector<Delivery> claimed;
  REQUIRE(live->Claim(Millis(60000), 10, &claimed).ok());
  CHECK(claimed.empty());  // not idle long enough
  REQUIRE(dead->Claim(Millis(0), 10, &claimed).ok());
  CHECK(claimed.empty());  // never one's own
  std::this_thread::sleep_for(Millis(20));
  REQUIRE(live->Claim(Millis(10), 10, &claimed).ok());
  REQUIRE(claimed.size() == 1);
  CHECK(claimed[0].id == id);
  CHECK(claimed[0].deliveries == 2);
  CHECK(f.Text("SELECT consumer FROM pending") == "live");
}

TEST_CASE("sqlite: ReceivePending gives a restarted consumer its own entries, paged", "[sqlite]") {
  SqliteQueueFixture f;
  for (int i = 0; i < 5; ++i) f.Add(SqliteTestEvent("e" + std::to_string(i)));
  auto first = f.Session("c1");
  std::vector<Delivery> got;
  CHECK(first->ReceivePending("0", 10, &got).status().kind() == Status::Kind::kNotFound);
  REQUIRE(first->EnsureGroup().ok());
  REQUIRE(first->Receive(5, Millis(10), &got).ok());
  REQUIRE(got.size() == 5);
  f.Exec("DELETE FROM stream WHERE id = " + std::to_string(SqliteRowId(got[2].id)));
  auto again = f.Session("c1");
  std::vector<Delivery> page;
  Result<std::string> next = again->ReceivePending("0", 2, &page);
  REQUIRE(next.ok());
  REQUIRE(page.size() == 2);
  CHECK(page[0].id == got[0].id);
  CHECK(page[0].deliveries == 2);
  next = again->ReceivePending(*next, 2, &page);  // e2 is gone: skipped
  REQUIRE(next.ok());
  REQUIRE(page.size() == 3);
  CHECK(page[2].id == got[3].id);
  next = again->ReceivePending(*next, 2, &page);
  REQUIRE(page.size() == 4);
  next = again->ReceivePending(*next, 2, &page);
  REQUIRE(next.ok());
  CHECK(next->empty());
  CHECK(f.Int("SELECT count(*) FROM pending") == 4);
}

TEST_CASE("sqlite: the mover run from 4 threads moves each of 1,000 due events exactly once",
          "[sqlite]") {
  SqliteQueueFixture f;
  auto setup = f.Session("c0");
  REQUIRE(setup->EnsureGroup().ok());
  std::string values;
  for (int i = 0; i < 1000; ++i) {
    values += std::string(i ? "," : "") + "(1, " + std::to_string(NowUnixMillis() - 10) + ", '" +
              SqliteTestEvent("d" + std::to_string(i)) + "')";
  }
  f.Exec("INSERT INTO delayed(qid, due_ms, event) VALUES" + values);
  f.Exec("INSERT INTO delayed(qid, due_ms, event) VALUES(1, 9000000000000, 'later')");
  std::vector<std::unique_ptr<QueueSession>> sessions;
  for (int t = 0; t < 4; ++t) sessions.push_back(f.Session("m" + std::to_string(t)));
  std::atomic<int> moved{0}, errors{0};
  std::vector<std::thread> threads;
  for (auto& s : sessions) {
    threads.emplace_back([&moved, &errors, session = s.get()] {
      for (int k = 0; k < 50; ++k) {
        int n = 0;
        Status st = session->WithRetry(
            [&] {
              Result<int> r = session->MoveDue(37);
              if (r.ok()) n = *r;
              return r.ok() ? Status::Ok() : r.status();
            },
            [] { return false; });
        if (st.ok())
          moved += n;
        else
          ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(errors == 0);
  CHECK(moved == 1000);
  CHECK(f.Int("SELECT count(*) FROM stream") == 1000);
  CHECK(f.Int("SELECT count(DISTINCT event) FROM stream") == 1000);
  CHECK(f.Int("SELECT count(*) FROM delayed") == 1);
}

TEST_CASE("sqlite: 4 consumers on one file receive each of 500 entries exactly once", "[sqlite]") {
  SqliteQueueFixture f;
  auto setup = f.Session("c0");
  REQUIRE(setup->EnsureGroup().ok());
  for (int i = 0; i < 500; ++i) f.Add(SqliteTestEvent("e" + std::to_string(i)));
  std::vector<std::unique_ptr<QueueSession>> sessions;
  for (int t = 0; t < 4; ++t) sessions.push_back(f.Session("w" + std::to_string(t)));
  std::vector<std::vector<std::string>> seen(4);
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      QueueSession& s = *sessions[t];
      for (int idle = 0; idle < 3;) {
        std::vector<Delivery> got;
        Status st =
            s.WithRetry([&] { return s.Receive(3, Millis(20), &got); }, [] { return false; });
        if (!st.ok()) ++errors;
        idle = got.empty() ? idle + 1 : 0;
        for (const Delivery& d : got) seen[t].push_back(d.id);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(errors == 0);
  std::set<std::string> all;
  std::size_t total = 0;
  for (const auto& ids : seen) {
    total += ids.size();
    all.insert(ids.begin(), ids.end());
  }
  CHECK(total == 500);
  CHECK(all.size() == 500);
  CHECK(f.Int("SELECT count(*) FROM pending") == 500);
}

TEST_CASE(
    "sqlite: trimming never removes a pending or undelivered entry, and removes old "
    "acknowledged ones and expired records",
    "[sqlite]") {
  SqliteQueueFixture f;
  const UnixMillis old = NowUnixMillis() - 3600 * 1000;
  for (int i = 0; i < 4; ++i) f.Add(SqliteTestEvent("o" + std::to_string(i)), old);
  auto s = f.Session("c1");
  CHECK(*s->Trim(Millis(0)) == 0);  // no group yet: nothing is known to be done
  REQUIRE(s->EnsureGroup().ok());
  std::vector<Delivery> got;
  REQUIRE(s->Receive(3, Millis(10), &got).ok());
  REQUIRE(got.size() == 3);
  AttemptEnd end;
  end.delivery_id = got[0].id;
  REQUIRE(s->FinishDuplicate(end).ok());  // o0 ended; o1, o2 pending; o3 undelivered
  f.Exec("INSERT INTO idem VALUES(1, 'gone', 'done', '', 1)");
  CHECK(*s->Trim(Millis(24 * 3600 * 1000)) == 0);  // younger than the retention
  CHECK(*s->Trim(Millis(60000)) == 1);
  CHECK(f.Int("SELECT count(*) FROM stream") == 3);
  CHECK(f.Int("SELECT count(*) FROM idem") == 0);
  CHECK(*s->Trim(Millis(60000)) == 0);
}

TEST_CASE("sqlite: heartbeats record the worker with an expiry, Leave removes it", "[sqlite]") {
  SqliteQueueFixture f;
  auto s = f.Session("c1");
  WorkerInfo info;
  info.host = "h";
  info.pid = 42;
  info.concurrency = 3;
  info.ttl = Millis(15000);
  REQUIRE(s->Heartbeat(info).ok());
  info.in_flight = 2;
  REQUIRE(s->Heartbeat(info).ok());
  CHECK(f.Text("SELECT consumer || ' ' || host || ' ' || pid || ' ' || in_flight FROM workers") ==
        "c1 h 42 2");
  CHECK(f.Int("SELECT expires_ms - heartbeat_ms FROM workers") == 15000);
  REQUIRE(s->Leave().ok());
  CHECK(f.Int("SELECT count(*) FROM workers") == 0);
}

}  // namespace evt
