// RunWorker, the one worker loop, on the stdio queue with a scripted handler and a fake
// clock: no Redis, no child processes, and hours of backoff or grace pass at once. What the
// loop reports goes to a recording observer.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "evt/log.h"
#include "evt/signals.h"
#include "evt/stdio_queue.h"
#include "evt/worker.h"
#include "fake_clock.h"
#include "fake_handler.h"
#include "temp_fd.h"

namespace {

using evt::Disposition;
using std::chrono::hours;

struct Ended {
  std::string event_id;
  Disposition what;
  evt::DeadReason reason;
};

// Remembers what the loop reported.
class RecordingObserver : public evt::WorkerObserver {
 public:
  void OnReady() override { ++ready; }
  void OnStopping() override { ++stopping; }
  void OnFinished(const evt::WorkerStats& /*stats*/) override { ++finished; }
  void OnAttemptStarted(const evt::AttemptEnd& /*a*/) override { ++started; }
  void OnAttemptEnded(const evt::AttemptEnd& e, Disposition d, evt::DeadReason r) override {
    std::lock_guard<std::mutex> lock(mu_);
    ended_.push_back({e.event_id, d, r});
  }
  std::vector<Ended> ended() {
    std::lock_guard<std::mutex> lock(mu_);
    return ended_;
  }
  int Count(const std::string& id, Disposition d) {
    int n = 0;
    for (const Ended& e : ended()) n += e.event_id == id && e.what == d ? 1 : 0;
    return n;
  }
  std::atomic<int> ready{0}, stopping{0}, finished{0}, started{0};

 private:
  std::mutex mu_;
  std::vector<Ended> ended_;
};

std::string Ev(const std::string& id, const std::string& key, const std::string& script) {
  return R"({"event_id":")" + id + R"(","event_type":"t.x","idempotency_key":")" + key +
         R"(","payload":{"script":)" + script + "}}\n";
}

struct Run {
  evt::Status status;
  evt::WorkerStats stats;
  std::map<std::string, evt::Json> results;  // by event_id, or "line N"
  std::vector<evt::Json> dead;
};

std::vector<evt::Json> JsonLines(const std::string& text) {
  std::vector<evt::Json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(evt::Json::parse(line));
  return out;
}

evt::WorkerOptions Options(evt::Clock* clock, int concurrency = 1) {
  evt::WorkerOptions o;
  o.concurrency = concurrency;
  o.retry.backoff_base = evt::Millis(0);
  o.retry.backoff_max = evt::Millis(0);
  o.retry.jitter = 0;
  o.retry.max_retries = 3;
  o.seed = 1;
  o.clock = clock;
  return o;
}

// Runs RunWorker on the stdio queue of `input` while `side` (if any) runs on a thread of
// its own, e.g. to move the fake clock.
Run RunOn(const std::string& input, evt::Handler& handler, const evt::WorkerOptions& o,
          evt::WorkerObserver& observer, const std::function<void()>& side = nullptr) {
  evt::InstallStopSignals();
  evt::InitLogging(evt::LogOptions{"test", evt::LogFormat::kText, evt::LogLevel::kOff});
  const int in = evt::testing::FdWith(input);
  const int out = ::memfd_create("run_worker_out", MFD_CLOEXEC);
  char dir[] = "/tmp/evt_run_worker_XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string dlq_path = std::string(dir) + "/dlq.ndjson";
  Run run;
  {
    evt::DeadLetterSink dlq;
    REQUIRE(dlq.Open(dlq_path).ok());
    std::unique_ptr<evt::Queue> queue =
        evt::OpenStdioQueue(in, out, dlq, {o.max_event_bytes, "test", o.clock});
    std::thread helper;
    if (side) helper = std::thread(side);
    run.status = evt::RunWorker(*queue, handler, o, observer, &run.stats);
    if (helper.joinable()) helper.join();
  }
  for (evt::Json& r : JsonLines(evt::testing::ReadFd(out))) {
    std::string k = r.contains("event_id") ? r["event_id"].get<std::string>()
                                           : "line " + std::to_string(r["line"].get<int>());
    run.results[k] = r;
  }
  const int dfd = ::open(dlq_path.c_str(), O_RDONLY);
  if (dfd >= 0) {
    run.dead = JsonLines(evt::testing::ReadFd(dfd));
    ::close(dfd);
  }
  ::close(in);
  ::close(out);
  ::unlink(dlq_path.c_str());
  ::rmdir(dir);
  return run;
}

// Waits (20 s at most, in real time) until `ready` is true. False when it never was.
bool WaitFor(const std::function<bool()>& ready) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!ready()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace

TEST_CASE("RunWorker: input that ends drains the queue and ends the run, nothing lost",
          "[run_worker]") {
  evt::testing::FakeClock clock;
  evt::testing::FakeHandler h;
  RecordingObserver seen;
  Run run = RunOn(Ev("e1", "k1", "[]") + Ev("e2", "k2", "[]"), h, Options(&clock, 2), seen);
  CHECK(run.status.ok());
  CHECK(run.results["e1"]["status"] == "done");
  CHECK(run.results["e2"]["status"] == "done");
  CHECK(run.stats.events == 2);
  CHECK(run.stats.done == 2);
  CHECK(seen.ready == 1);
  CHECK(seen.stopping == 0);  // drained, not stopped
  CHECK(seen.finished == 1);
  CHECK(seen.Count("e1", Disposition::kDone) == 1);
  CHECK(seen.Count("e2", Disposition::kDone) == 1);
}

TEST_CASE("RunWorker: retries wait their backoff on the worker's clock, then dead-letter",
          "[run_worker]") {
  evt::testing::FakeClock clock;
  evt::testing::FakeHandler h;
  RecordingObserver seen;
  evt::WorkerOptions o = Options(&clock);
  o.retry.backoff_base = hours(1);
  o.retry.backoff_max = hours(8);
  o.retry.max_retries = 2;
  std::atomic<bool> done{false};
  // The clock's hand: one fake minute per tick, the loop woken after each.
  auto hand = [&] {
    WaitFor([&] {
      clock.Advance(std::chrono::minutes(1));
      evt::WakeUp();
      std::this_thread::sleep_for(std::chrono::microseconds(500));
      return done.load();
    });
  };
  Run run;
  evt::InstallStopSignals();  // before the hand's first WakeUp: it reads the wake pipe's fds
  std::thread ticking(hand);
  run = RunOn(Ev("e1", "k1", R"(["transient","transient","transient"])"), h, o, seen);
  done = true;
  ticking.join();
  CHECK(run.status.ok());
  CHECK(run.results["e1"]["status"] == "failed");
  CHECK(run.results["e1"]["reason"] == "retries_exhausted");
  CHECK(run.results["e1"]["attempts"] == 3);
  CHECK(h.retry_counts("e1") == std::vector<std::int64_t>{0, 1, 2});
  CHECK(seen.Count("e1", Disposition::kRetry) == 2);
  CHECK(seen.Count("e1", Disposition::kFailed) == 1);
  REQUIRE(run.dead.size() == 1);
  CHECK(run.dead[0]["reason"] == "retries_exhausted");
  CHECK(run.stats.retries == 2);
}

TEST_CASE("RunWorker: a permanent failure is a dead letter at once, reported as failed",
          "[run_worker]") {
  evt::testing::FakeClock clock;
  evt::testing::FakeHandler h;
  RecordingObserver seen;
  Run run = RunOn(Ev("e1", "k1", R"(["permanent"])"), h, Options(&clock), seen);
  CHECK(run.status.ok());
  CHECK(run.results["e1"]["status"] == "failed");
  CHECK(run.results["e1"]["reason"] == "permanent");
  CHECK(run.results["e1"]["category"] == "data");
  REQUIRE(run.dead.size() == 1);
  CHECK(run.dead[0]["error"] == "exit 65");
  CHECK(run.dead[0]["attempts"] == 1);
  std::vector<Ended> ended = seen.ended();
  REQUIRE(ended.size() == 1);
  CHECK(ended[0].what == Disposition::kFailed);
  CHECK(ended[0].reason == evt::DeadReason::kPermanent);
  CHECK(run.stats.failed == 1);
}

TEST_CASE("RunWorker: a key already done makes a duplicate, and nothing runs", "[run_worker]") {
  evt::testing::FakeClock clock;
  evt::testing::FakeHandler h;
  RecordingObserver seen;
  Run run = RunOn(Ev("e1", "k1", "[]") + Ev("e2", "k1", "[]"), h, Options(&clock), seen);
  CHECK(run.results["e1"]["status"] == "done");
  CHECK(run.results["e2"]["status"] == "duplicate");
  CHECK(run.results["e2"]["attempts"] == 0);
  CHECK(h.runs("k1") == 1);
  CHECK(seen.Count("e2", Disposition::kDuplicate) == 1);
  CHECK(run.stats.duplicate == 1);
}

TEST_CASE("RunWorker: an event whose key is busy is deferred until that key's outcome",
          "[run_worker]") {
  evt::testing::FakeClock clock;
  evt::testing::FakeHandler h;
  RecordingObserver seen;
  bool deferred_while_blocked = false;
  Run run = RunOn(Ev("e1", "k1", R"(["block"])") + Ev("e2", "k1", "[]"), h, Options(&clock, 2),
                  seen, [&] {
                    deferred_while_blocked =
                        WaitFor([&] { return seen.Count("e2", Disposition::kDeferred) > 0; }) &&
                        h.blocked() == 1;
                    h.Release();
                  });
  CHECK(deferred_while_blocked);
  CHECK(run.results["e1"]["status"] == "done");
  CHECK(run.results["e2"]["status"] == "duplicate");  // its key is done by then
  CHECK(h.runs("k1") == 1);
  CHECK(run.stats.deferred >= 1);
}

TEST_CASE("RunWorker: a handler still running when the shutdown grace ends is interrupted",
          "[run_worker]") {
  evt::testing::FakeClock clock;
  evt::testing::FakeHandler h;
  RecordingObserver seen;
  evt::WorkerOptions o = Options(&clock, 2);
  o.shutdown_grace = hours(1);
  // e2's handler cannot run at all (fatal): the loop stops while e1 runs.
  bool blocked_through_grace = false;
  Run run = RunOn(Ev("e1", "k1", R"(["block"])") + Ev("e2", "k2", R"(["fatal"])"), h, o, seen, [&] {
    bool stopping = WaitFor([&] { return seen.stopping > 0 && h.blocked() == 1; });
    // Real time passes, fake time does not: the grace is not over yet.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    blocked_through_grace = stopping && h.blocked() == 1;
    clock.Advance(hours(2));
    evt::WakeUp();
  });
  CHECK(blocked_through_grace);
  CHECK(run.status.kind() == evt::Status::Kind::kUnavailable);
  CHECK(run.results["e1"]["status"] == "interrupted");
  CHECK(run.results["e1"]["error"] == "stopped at shutdown");
  CHECK(run.results["e2"]["status"] == "interrupted");
  CHECK(run.stats.interrupted == 2);
  CHECK(seen.Count("e1", Disposition::kAbandoned) == 1);
  CHECK(run.dead.size() == 2);
}

TEST_CASE("RunWorker: a handler that finishes within the shutdown grace is done", "[run_worker]") {
  evt::testing::FakeClock clock;
  evt::testing::FakeHandler h;
  RecordingObserver seen;
  evt::WorkerOptions o = Options(&clock, 2);
  o.shutdown_grace = hours(1);
  Run run = RunOn(Ev("e1", "k1", R"(["block"])") + Ev("e2", "k2", R"(["fatal"])"), h, o, seen, [&] {
    WaitFor([&] { return seen.stopping > 0 && h.blocked() == 1; });
    h.Release();
  });
  CHECK(run.status.kind() == evt::Status::Kind::kUnavailable);
  CHECK(run.results["e1"]["status"] == "done");
  CHECK(run.results["e2"]["status"] == "interrupted");
  CHECK(run.stats.done == 1);
  CHECK(run.stats.interrupted == 1);
}

TEST_CASE("RunWorker: invalid lines are dead letters named by line, the rest go on",
          "[run_worker]") {
  evt::testing::FakeClock clock;
  evt::testing::FakeHandler h;
  RecordingObserver seen;
  Run run = RunOn("not json\n" + Ev("e1", "k1", "[]"), h, Options(&clock), seen);
  CHECK(run.status.kind() == evt::Status::Kind::kInvalidArgument);
  CHECK(run.results["line 1"]["status"] == "invalid");
  CHECK(run.results["e1"]["status"] == "done");
  REQUIRE(run.dead.size() == 1);
  CHECK(run.dead[0]["reason"] == "invalid");
  CHECK(run.dead[0]["raw"] == "not json");
  CHECK(run.dead[0]["line"] == 1);
  CHECK(run.stats.invalid == 1);
  CHECK(run.stats.events == 1);
  std::vector<Ended> ended = seen.ended();
  int invalid = 0;
  for (const Ended& e : ended) {
    invalid += e.what == Disposition::kFailed && e.reason == evt::DeadReason::kInvalid ? 1 : 0;
  }
  CHECK(invalid == 1);
}
