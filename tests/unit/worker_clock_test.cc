// The worker loops read time through WorkerOptions::clock: with a fake clock, hours of
// retry backoff pass in a fraction of a second, and the schedule can be checked exactly.
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "evt/dead_letter.h"
#include "evt/log.h"
#include "evt/signals.h"
#include "evt/worker.h"
#include "fake_clock.h"
#include "fake_handler.h"
#include "temp_fd.h"

namespace {

using evt::Millis;
using std::chrono::hours;
using std::chrono::minutes;

// FakeHandler's outcomes, plus the fake clock's time at each start.
class ClockedHandler : public evt::Handler {
 public:
  explicit ClockedHandler(const evt::Clock& clock) : clock_(clock) {}
  evt::HandlerResult Run(const evt::AttemptContext& ctx) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      starts_ms_.push_back(clock_.SteadyMillis());
    }
    return script_.Run(ctx);
  }
  std::vector<std::int64_t> starts_ms() {
    std::lock_guard<std::mutex> lock(mu_);
    return starts_ms_;
  }

 private:
  const evt::Clock& clock_;
  evt::testing::FakeHandler script_;
  std::mutex mu_;
  std::vector<std::int64_t> starts_ms_;
};

}  // namespace

TEST_CASE("retry backoff is measured on the worker's clock: hours pass at once on a fake one",
          "[worker][clock]") {
  evt::InstallStopSignals();
  evt::InitLogging(evt::LogOptions{"test", evt::LogFormat::kText, evt::LogLevel::kOff});
  evt::testing::FakeClock clock;
  ClockedHandler handler(clock);

  // The clock's hand: one fake minute per tick, the loop woken after each (as a timer would).
  // Should the loop not finish in 20 s of real time (a worker that ignored its clock would
  // wait hours), the hand stops it as SIGTERM does, so the test fails instead of hanging.
  std::atomic<bool> done{false};
  std::thread hand([&] {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done.load()) {
      if (std::chrono::steady_clock::now() > give_up) {
        ::raise(SIGTERM);  // only sets the stop flag (InstallStopSignals)
        return;
      }
      clock.Advance(minutes(1));
      evt::WakeUp();
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  });

  const int in =
      evt::testing::FdWith(R"({"event_id":"e1","event_type":"t.x","idempotency_key":"k1",)"
                           R"("payload":{"script":["transient","transient","transient"]}})"
                           "\n");
  const int out = ::memfd_create("worker_out", MFD_CLOEXEC);
  char dir[] = "/tmp/evt_worker_clock_XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string dlq_path = std::string(dir) + "/dlq.ndjson";
  evt::DeadLetterSink dlq;
  REQUIRE(dlq.Open(dlq_path).ok());
  evt::WorkerOptions o;
  o.concurrency = 1;
  o.retry.backoff_base = hours(1);
  o.retry.backoff_max = hours(8);
  o.retry.jitter = 0;
  o.retry.max_retries = 2;
  o.seed = 1;
  o.clock = &clock;
  evt::WorkerStats stats;
  const auto started = std::chrono::steady_clock::now();
  evt::Status s = evt::RunStdioWorker(in, out, handler, dlq, o, &stats);
  const auto took = std::chrono::steady_clock::now() - started;
  done = true;
  hand.join();
  const std::string results = evt::testing::ReadFd(out);
  ::close(in);
  ::close(out);
  ::unlink(dlq_path.c_str());
  ::rmdir(dir);

  CHECK(s.ok());
  CHECK(results.find(R"("status":"failed")") != std::string::npos);
  CHECK(stats.retries == 2);
  CHECK(stats.failed == 1);
  // Three hours of backoff took well under the hand's 20 s of real time.
  CHECK(took < std::chrono::seconds(15));
  // Backoff doubles from --backoff-base: the retries start 1h, then 2h, after the attempt
  // before them, never earlier, and within a few ticks of the hand.
  std::vector<std::int64_t> starts = handler.starts_ms();
  REQUIRE(starts.size() == 3);
  const std::int64_t first_gap = starts[1] - starts[0], second_gap = starts[2] - starts[1];
  CHECK(first_gap >= Millis(hours(1)).count());
  CHECK(first_gap < Millis(hours(1) + minutes(30)).count());
  CHECK(second_gap >= Millis(hours(2)).count());
  CHECK(second_gap < Millis(hours(2) + minutes(30)).count());
}
