// The stdio transport as a Queue, driven directly through the Queue interface, as
// RunWorker drives it: hand-outs, the in-memory lease table, deferral until a key's
// outcome, retries due on the queue's clock, drain, and the end of a stopped run.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "evt/log.h"
#include "evt/ndjson.h"
#include "evt/signals.h"
#include "evt/stdio_queue.h"
#include "fake_clock.h"
#include "temp_fd.h"

namespace {

std::string Ev(const std::string& id, const std::string& key) {
  return R"({"event_id":")" + id + R"(","event_type":"t.x","idempotency_key":")" + key +
         R"(","payload":{}})" + "\n";
}

std::vector<evt::Json> JsonLines(const std::string& text) {
  std::vector<evt::Json> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(evt::Json::parse(line));
  return out;
}

class StdioFixture {
 public:
  explicit StdioFixture(const std::string& input) {
    evt::InstallStopSignals();
    evt::InitLogging(evt::LogOptions{"test", evt::LogFormat::kText, evt::LogLevel::kOff});
    in_ = evt::testing::FdWith(input);
    out_ = ::memfd_create("stdio_queue_out", MFD_CLOEXEC);
    REQUIRE(::mkdtemp(dir_) != nullptr);
    dlq_path_ = std::string(dir_) + "/dlq.ndjson";
    REQUIRE(dlq_.Open(dlq_path_).ok());
    queue = evt::OpenStdioQueue(in_, out_, dlq_, {evt::kDefaultMaxEventBytes, "test", &clock});
    session = queue->OpenSession();
  }
  ~StdioFixture() {
    session.reset();
    queue.reset();
    ::close(in_);
    ::close(out_);
    ::unlink(dlq_path_.c_str());
    ::rmdir(dir_);
  }

  // One Receive, waiting at most 50 ms.
  std::vector<evt::Delivery> Receive() {
    std::vector<evt::Delivery> got;
    REQUIRE(session->Receive(1, evt::Millis(50), &got).ok());
    return got;
  }
  // The attempt of `d` as RunWorker describes it once the event is parsed.
  static evt::AttemptEnd Attempt(const evt::Delivery& d, const std::string& id,
                                 const std::string& key) {
    evt::AttemptEnd a;
    a.delivery_id = d.id;
    a.event_id = id;
    a.event_type = "t.x";
    a.idempotency_key = key;
    a.lease_owner = "test " + d.id;
    a.attempt = 1;
    return a;
  }
  evt::LeaseState Start(const evt::AttemptEnd& a) {
    evt::Result<evt::Lease> lease = session->StartAttempt(a, evt::Millis(1000), 0);
    REQUIRE(lease.ok());
    return lease->state;
  }
  std::vector<evt::Json> Results() { return JsonLines(evt::testing::ReadFd(out_)); }
  std::vector<evt::Json> Dead() {
    const int fd = ::open(dlq_path_.c_str(), O_RDONLY);
    if (fd < 0) return {};
    std::vector<evt::Json> d = JsonLines(evt::testing::ReadFd(fd));
    ::close(fd);
    return d;
  }

  evt::testing::FakeClock clock;
  std::unique_ptr<evt::Queue> queue;
  std::unique_ptr<evt::QueueSession> session;

 private:
  int in_ = -1;
  int out_ = -1;
  char dir_[32] = "/tmp/evt_stdio_queue_XXXXXX";
  std::string dlq_path_;
  evt::DeadLetterSink dlq_;
};

}  // namespace

TEST_CASE(
    "stdio queue: one line per Receive, in order, drained once input ended and all "
    "finished",
    "[stdio_queue]") {
  StdioFixture f(Ev("e1", "k1") + Ev("e2", "k2"));
  CHECK_FALSE(f.queue->NeedsJournal());
  std::vector<evt::Delivery> first = f.Receive();
  REQUIRE(first.size() == 1);
  CHECK(first[0].id == "1");
  CHECK(first[0].raw == Ev("e1", "k1").substr(0, Ev("e1", "k1").size() - 1));
  std::vector<evt::Delivery> second = f.Receive();
  REQUIRE(second.size() == 1);
  CHECK(second[0].id == "2");
  CHECK(f.Receive().empty());
  CHECK_FALSE(f.queue->Drained());  // two handed out, not finished
  evt::AttemptEnd a1 = StdioFixture::Attempt(first[0], "e1", "k1");
  evt::AttemptEnd a2 = StdioFixture::Attempt(second[0], "e2", "k2");
  CHECK(f.Start(a1) == evt::LeaseState::kAcquired);
  CHECK(f.Start(a2) == evt::LeaseState::kAcquired);
  a1.ran = a2.ran = true;
  REQUIRE(f.session->FinishDone(a1).ok());
  CHECK_FALSE(f.queue->Drained());
  REQUIRE(f.session->FinishDone(a2).ok());
  CHECK(f.queue->Drained());
  std::uint64_t interrupted = 0;
  CHECK(f.queue->EndRun(&interrupted).ok());
  CHECK(interrupted == 0);
  std::vector<evt::Json> results = f.Results();
  REQUIRE(results.size() == 2);
  CHECK(results[0].dump() == R"({"event_id":"e1","event_type":"t.x","idempotency_key":"k1",)"
                             R"("status":"done","attempts":1,"duration_ms":0})");
}

TEST_CASE("stdio queue: a key in flight is busy, the deferred event waits for its outcome",
          "[stdio_queue]") {
  StdioFixture f(Ev("e1", "k") + Ev("e2", "k"));
  std::vector<evt::Delivery> d1 = f.Receive(), d2 = f.Receive();
  REQUIRE(d1.size() == 1);
  REQUIRE(d2.size() == 1);
  evt::AttemptEnd a1 = StdioFixture::Attempt(d1[0], "e1", "k");
  evt::AttemptEnd a2 = StdioFixture::Attempt(d2[0], "e2", "k");
  CHECK(f.Start(a1) == evt::LeaseState::kAcquired);
  CHECK(f.Start(a2) == evt::LeaseState::kBusy);
  REQUIRE(f.session->Defer(d2[0], 0).ok());
  CHECK(f.Receive().empty());  // parked: not handed out while e1 holds the key
  a1.ran = true;
  a1.error = "exit 65";
  a1.category = evt::Category::kData;
  REQUIRE(f.session->FinishDead(a1, evt::DeadReason::kPermanent, d1[0].raw).ok());
  std::vector<evt::Delivery> again = f.Receive();
  REQUIRE(again.size() == 1);
  CHECK(again[0].id == "2#2");  // a new hand-out of line 2
  CHECK(f.Start(StdioFixture::Attempt(again[0], "e2", "k")) == evt::LeaseState::kAcquired);
  std::vector<evt::Json> dead = f.Dead();
  REQUIRE(dead.size() == 1);
  CHECK(dead[0]["event_id"] == "e1");
  CHECK(dead[0]["reason"] == "permanent");
  CHECK(dead[0]["line"] == 1);
}

TEST_CASE("stdio queue: a key that succeeded makes every later event of it a duplicate",
          "[stdio_queue]") {
  StdioFixture f(Ev("e1", "k") + Ev("e2", "k"));
  std::vector<evt::Delivery> d1 = f.Receive();
  REQUIRE(d1.size() == 1);
  evt::AttemptEnd a1 = StdioFixture::Attempt(d1[0], "e1", "k");
  CHECK(f.Start(a1) == evt::LeaseState::kAcquired);
  REQUIRE(f.session->FinishDone(a1).ok());
  std::vector<evt::Delivery> d2 = f.Receive();
  REQUIRE(d2.size() == 1);
  evt::AttemptEnd a2 = StdioFixture::Attempt(d2[0], "e2", "k");
  CHECK(f.Start(a2) == evt::LeaseState::kAlreadyDone);
  a2.attempt = 0;
  REQUIRE(f.session->FinishDuplicate(a2).ok());
  CHECK(f.Receive().empty());  // nothing to hand out: the results are flushed
  std::vector<evt::Json> results = f.Results();
  REQUIRE(results.size() == 2);
  CHECK(results[1]["status"] == "duplicate");
  CHECK(results[1]["attempts"] == 0);
}

TEST_CASE("stdio queue: a retry is handed out again when due on the queue's clock",
          "[stdio_queue]") {
  StdioFixture f(Ev("e1", "k"));
  std::vector<evt::Delivery> d1 = f.Receive();
  REQUIRE(d1.size() == 1);
  evt::AttemptEnd a1 = StdioFixture::Attempt(d1[0], "e1", "k");
  CHECK(f.Start(a1) == evt::LeaseState::kAcquired);
  a1.ran = true;
  const std::string next = R"({"event_id":"e1","retry_count":1})";
  REQUIRE(f.session->FinishRetry(a1, next, f.clock.WallNow() + 3'600'000).ok());
  CHECK(f.Receive().empty());
  CHECK_FALSE(f.queue->Drained());
  f.clock.Advance(std::chrono::minutes(59));
  CHECK(f.Receive().empty());
  f.clock.Advance(std::chrono::minutes(1));
  std::vector<evt::Delivery> again = f.Receive();
  REQUIRE(again.size() == 1);
  CHECK(again[0].id == "1#2");
  CHECK(again[0].raw == next);
  // The key stayed held across the retry: it is still this event's.
  CHECK(f.Start(StdioFixture::Attempt(again[0], "e1", "k")) == evt::LeaseState::kAcquired);
}

TEST_CASE("stdio queue: after a stop, what was handed out, scheduled or parked is interrupted",
          "[stdio_queue]") {
  StdioFixture f(Ev("e1", "k1") + Ev("e2", "k1") + Ev("e3", "k3"));
  std::vector<evt::Delivery> d1 = f.Receive(), d2 = f.Receive(), d3 = f.Receive();
  REQUIRE(d3.size() == 1);
  evt::AttemptEnd a1 = StdioFixture::Attempt(d1[0], "e1", "k1");
  evt::AttemptEnd a3 = StdioFixture::Attempt(d3[0], "e3", "k3");
  CHECK(f.Start(a1) == evt::LeaseState::kAcquired);
  CHECK(f.Start(StdioFixture::Attempt(d2[0], "e2", "k1")) == evt::LeaseState::kBusy);
  REQUIRE(f.session->Defer(d2[0], 0).ok());
  CHECK(f.Start(a3) == evt::LeaseState::kAcquired);
  a3.ran = true;
  REQUIRE(f.session->FinishRetry(a3, d3[0].raw, f.clock.WallNow() + 60'000).ok());
  f.queue->Stop();
  CHECK(f.Receive().empty());  // nothing more after a stop
  a1.ran = true;
  a1.error = "stopped at shutdown";
  REQUIRE(f.session->Abandon(a1).ok());
  std::uint64_t interrupted = 0;
  CHECK(f.queue->EndRun(&interrupted).ok());
  CHECK(interrupted == 3);
  std::vector<evt::Json> results = f.Results();
  REQUIRE(results.size() == 3);
  for (const evt::Json& r : results) {
    CHECK(r["status"] == "interrupted");
    CHECK(r["reason"] == "interrupted");
  }
  std::vector<evt::Json> dead = f.Dead();
  REQUIRE(dead.size() == 3);
  for (const evt::Json& d : dead) {
    CHECK(d["reason"] == "interrupted");
    if (d["event_id"] == "e1") CHECK(d["error"] == "stopped at shutdown");
  }
}

TEST_CASE("stdio queue: an over-long line is handed out already rejected, with its head",
          "[stdio_queue]") {
  std::string big = R"({"event_type":"t.x","pad":")" + std::string(70000, 'x') + "\"}";
  StdioFixture f(big + "\n");
  std::vector<evt::Delivery> d = f.Receive();
  REQUIRE(d.size() == 1);
  CHECK(d[0].rejected.find("more than --max-event-bytes") != std::string::npos);
  CHECK(d[0].raw.size() == evt::kTooLongHeadBytes);
}
