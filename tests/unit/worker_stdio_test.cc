// The stdio worker's rules, with a scripted fake handler and zero backoff so each case
// runs in milliseconds. The real exec handler is covered by handler_exec_test.cc and the
// end-to-end tests.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "evt/log.h"
#include "evt/signals.h"
#include "evt/worker.h"
#include "fake_handler.h"
#include "temp_fd.h"

using evt::testing::FdWith;
using evt::testing::ReadFd;

namespace {

std::vector<evt::Json> JsonLines(const std::string& text) {
  std::vector<evt::Json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(evt::Json::parse(line));
  return out;
}

std::string Ev(const std::string& id, const std::string& key, const std::string& script) {
  return R"({"event_id":")" + id + R"(","event_type":"t.x","idempotency_key":")" + key +
         R"(","payload":{"script":)" + script + "}}\n";
}

struct Run {
  evt::Status status;
  evt::WorkerStats stats;
  std::map<std::string, evt::Json> results;  // by event_id (or "line N")
  std::vector<evt::Json> dead;
};

Run RunWorker(const std::string& input, evt::Handler& handler, int concurrency = 2,
              int max_retries = 3) {
  evt::InstallStopSignals();
  evt::InitLogging(evt::LogOptions{"test", evt::LogFormat::kText, evt::LogLevel::kOff});
  int in = FdWith(input);
  int out = ::memfd_create("worker_out", MFD_CLOEXEC);
  char dir[] = "/tmp/evt_worker_XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  std::string dlq_path = std::string(dir) + "/dlq.ndjson";
  evt::DeadLetterSink dlq;
  REQUIRE(dlq.Open(dlq_path).ok());
  evt::WorkerOptions o;
  o.concurrency = concurrency;
  o.retry.backoff_base = evt::Millis(0);
  o.retry.backoff_max = evt::Millis(0);
  o.retry.max_retries = max_retries;
  o.seed = 1;
  Run run;
  run.status = evt::RunStdioWorker(in, out, handler, dlq, o, &run.stats);
  for (auto& r : JsonLines(ReadFd(out))) {
    std::string k = r.contains("event_id") ? r["event_id"].get<std::string>()
                                           : "line " + std::to_string(r["line"].get<int>());
    run.results[k] = r;
  }
  int dfd = ::open(dlq_path.c_str(), O_RDONLY);
  run.dead = JsonLines(ReadFd(dfd));
  ::close(dfd);
  ::close(in);
  ::close(out);
  ::unlink(dlq_path.c_str());
  ::rmdir(dir);
  return run;
}

}  // namespace

TEST_CASE("every event gets one result line and successes are not dead letters", "[worker]") {
  evt::testing::FakeHandler h;
  Run run = RunWorker(Ev("e1", "k1", "[]") + Ev("e2", "k2", "[]") + Ev("e3", "k3", "[]"), h);
  CHECK(run.status.ok());
  REQUIRE(run.results.size() == 3);
  for (auto& [id, r] : run.results) {
    CHECK(r["status"] == "done");
    CHECK(r["attempts"] == 1);
    CHECK(r["event_type"] == "t.x");
  }
  CHECK(run.dead.empty());
  CHECK(run.stats.done == 3);
}

TEST_CASE("a transient failure is retried with retry_count raised, then succeeds", "[worker]") {
  evt::testing::FakeHandler h;
  Run run = RunWorker(Ev("e1", "k1", R"(["transient","transient","done"])"), h);
  CHECK(run.status.ok());
  CHECK(run.results["e1"]["status"] == "done");
  CHECK(run.results["e1"]["attempts"] == 3);
  CHECK(h.retry_counts("e1") == std::vector<std::int64_t>{0, 1, 2});
  CHECK(run.stats.retries == 2);
  CHECK(run.dead.empty());
}

TEST_CASE("a handler's Retry-After is a floor under the backoff", "[worker]") {
  evt::testing::FakeHandler h;
  Run run = RunWorker(Ev("e1", "k1", R"(["retry-after:300","done"])"), h);  // backoff 0
  CHECK(run.results["e1"]["status"] == "done");
  std::vector<std::chrono::steady_clock::time_point> starts = h.starts("e1");
  REQUIRE(starts.size() == 2);
  // The worker's clocks count whole milliseconds (the due time is wall-clock ms, the retry
  // heap steady ms): each truncation may bring the retry up to 1 ms early. Seen under TSan.
  CHECK(starts[1] - starts[0] >= std::chrono::milliseconds(298));
}

TEST_CASE("a fatal handler result stops the run at once, with Unavailable (exit 69)", "[worker]") {
  evt::testing::FakeHandler h;
  std::string input = Ev("e1", "k1", R"(["fatal"])");
  for (int i = 2; i <= 50; ++i) {
    input += Ev("e" + std::to_string(i), "k" + std::to_string(i), R"(["done"])");
  }
  Run run = RunWorker(input, h, /*concurrency=*/1);
  CHECK(run.status.kind() == evt::Status::Kind::kUnavailable);
  CHECK(run.status.message().find("died at start-up") != std::string::npos);
  CHECK(run.results["e1"]["status"] == "interrupted");
  // One handler at a time: nothing after e1 was started. (The input is a regular file, so
  // the lines not read stay in it for the next run rather than becoming dead letters.)
  CHECK(run.stats.done == 0);
  CHECK(run.stats.interrupted == 1);
}

TEST_CASE("a permanent failure goes to the DLQ at once", "[worker]") {
  evt::testing::FakeHandler h;
  Run run = RunWorker(Ev("e1", "k1", R"(["permanent"])"), h);
  CHECK(run.status.ok());
  CHECK(run.results["e1"]["status"] == "failed");
  CHECK(run.results["e1"]["reason"] == "permanent");
  CHECK(run.results["e1"]["category"] == "data");
  CHECK(run.results["e1"]["attempts"] == 1);
  REQUIRE(run.dead.size() == 1);
  CHECK(run.dead[0]["reason"] == "permanent");
  CHECK(run.dead[0]["event"]["event_id"] == "e1");
  CHECK(run.dead[0]["error"] == "exit 65");
}

TEST_CASE("retries stop after max_retries and the event is dead-lettered as exhausted",
          "[worker]") {
  evt::testing::FakeHandler h;
  Run run = RunWorker(Ev("e1", "k1", R"(["transient","transient","transient","transient"])"), h, 1,
                      /*max_retries=*/2);
  CHECK(run.results["e1"]["status"] == "failed");
  CHECK(run.results["e1"]["reason"] == "retries_exhausted");
  CHECK(run.results["e1"]["attempts"] == 3);
  REQUIRE(run.dead.size() == 1);
  CHECK(run.dead[0]["attempts"] == 3);
  CHECK(run.dead[0]["category"] == "dependency");
  CHECK(run.dead[0]["event"]["retry_count"] == 2);
}

TEST_CASE("a key that already succeeded is not run again", "[worker]") {
  evt::testing::FakeHandler h;
  Run run =
      RunWorker(Ev("e1", "same", "[]") + Ev("e2", "same", "[]") + Ev("e3", "same", "[]"), h, 4);
  CHECK(h.runs("same") == 1);
  int done = 0, dup = 0;
  for (auto& [id, r] : run.results) {
    done += r["status"] == "done";
    dup += r["status"] == "duplicate";
  }
  CHECK(done == 1);
  CHECK(dup == 2);
  CHECK(run.stats.duplicate == 2);
}

TEST_CASE("an event waits for a failing event of the same key, then runs", "[worker]") {
  evt::testing::FakeHandler h;
  Run run = RunWorker(Ev("e1", "k", R"(["permanent"])") + Ev("e2", "k", "[]"), h, 4);
  CHECK(run.results["e1"]["status"] == "failed");
  CHECK(run.results["e2"]["status"] == "done");
  CHECK(h.runs("k") == 2);
}

TEST_CASE("invalid lines are dead-lettered with their line number, the rest go on", "[worker]") {
  evt::testing::FakeHandler h;
  Run run = RunWorker(Ev("e1", "k1", "[]") + "garbage{\n" + R"({"event_type":"Bad Type"})" + "\n" +
                          Ev("e4", "k4", "[]"),
                      h);
  CHECK(run.status.kind() == evt::Status::Kind::kInvalidArgument);
  CHECK(run.results["e1"]["status"] == "done");
  CHECK(run.results["e4"]["status"] == "done");
  CHECK(run.results["line 2"]["status"] == "invalid");
  CHECK(run.results["line 3"]["status"] == "invalid");
  CHECK_THAT(run.results["line 3"]["error"].get<std::string>(), Catch::Contains("event_type"));
  REQUIRE(run.dead.size() == 2);
  // Dead letters come in completion order: two threads may finish the two lines either way.
  const auto& garbage = run.dead[0]["line"] == 2 ? run.dead[0] : run.dead[1];
  CHECK(garbage["raw"] == "garbage{");
  CHECK(garbage["line"] == 2);
  CHECK(run.stats.invalid == 2);
}

TEST_CASE("an event of a newer schema version is a permanent data failure kept whole", "[worker]") {
  evt::testing::FakeHandler h;
  Run run = RunWorker(R"({"schema_version":2,"event_type":"a.b","new_field":true})"
                      "\n",
                      h);
  REQUIRE(run.dead.size() == 1);
  CHECK(run.dead[0]["reason"] == "permanent");
  CHECK(run.dead[0]["category"] == "data");
  CHECK(run.dead[0]["event"]["new_field"] == true);
  CHECK_THAT(run.dead[0]["error"].get<std::string>(), Catch::Contains("schema_version"));
}

TEST_CASE("many events with retries all finish exactly once", "[worker]") {
  evt::testing::FakeHandler h;
  std::string input;
  for (int i = 0; i < 300; ++i) {
    std::string script = i % 3 == 0   ? R"(["transient","done"])"
                         : i % 7 == 0 ? R"(["permanent"])"
                                      : "[]";
    input += Ev("e" + std::to_string(i), "k" + std::to_string(i), script);
  }
  Run run = RunWorker(input, h, 8);
  CHECK(run.status.ok());
  CHECK(run.results.size() == 300);
  CHECK(run.stats.done + run.stats.failed == 300);
  for (int i = 0; i < 300; ++i) REQUIRE(h.runs("k" + std::to_string(i)) == (i % 3 == 0 ? 2 : 1));
}
