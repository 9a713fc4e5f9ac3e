// The QueueAdmin contract, part 2: two replays of one dead-letter queue while a worker
// consumes it, for every registered durable store. Each dead letter goes back once.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <thread>

#include "admin_contract_support.h"
#include "evt/replay.h"

namespace evt::contract {
namespace {

using SteadyClock = std::chrono::steady_clock;

// What the consumer thread saw: event_id -> times delivered, and its retry_count.
struct Seen {
  std::map<std::string, int> times;
  std::map<std::string, int> retry_counts;
};

// A worker on its own thread: receives and finishes every entry until `stop` or 20 s.
// Only records what it sees; the test thread asserts after join.
void Consume(QueueSession* s, const std::atomic<bool>* stop, Seen* seen) {
  const auto give_up = SteadyClock::now() + std::chrono::seconds(20);
  while (!*stop && SteadyClock::now() < give_up) {
    std::vector<Delivery> got;
    if (!s->Receive(50, Millis(100), &got).ok()) continue;
    for (const Delivery& d : got) {
      Result<Json> ev = ParseJson(d.raw);
      if (!ev.ok()) continue;
      const std::string id = (*ev)["event_id"].get<std::string>();
      ++seen->times[id];
      seen->retry_counts[id] = (*ev)["retry_count"].get<int>();
      AttemptEnd end;
      end.delivery_id = d.id;
      end.event_id = id;
      end.event_type = "a.b";
      end.idempotency_key = id;
      end.lease_owner = "w1 " + d.id;
      end.attempt = 1;
      end.ran = true;
      s->FinishDone(end);
    }
  }
}

}  // namespace

TEST_CASE(
    "admin: replay while a worker consumes and a second replay runs: nothing lost or "
    "doubled",
    "[admin][replay][contract]") {
  FOR_EACH_STORE(impl) {
    std::unique_ptr<StoreHarness> h = impl.make();
    constexpr int kEvents = 300;
    for (int i = 0; i < kEvents; ++i) h->AddDead(Dead("e" + std::to_string(i), "a.b"));
    auto session = h->Session("w1");
    REQUIRE(session->EnsureGroup().ok());
    auto first = AdminOf(*h);
    auto second = AdminOf(*h);

    std::atomic<bool> stop{false};
    Seen seen;
    std::thread worker(Consume, session.get(), &stop, &seen);
    ReplaySummary s1, s2;
    Status st2;
    ReplayOptions o;
    o.source_queue = "q1";
    std::thread other([&] {
      int out = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
      st2 = RunReplay(*second, second.get(), {}, o, RealClock(), out, &s2);
      ::close(out);
    });
    int out = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    Status st1 = RunReplay(*first, first.get(), {}, o, RealClock(), out, &s1);
    ::close(out);
    other.join();
    // Wait (bounded) until the stream holds every event, then let the worker drain it.
    const auto deadline = SteadyClock::now() + std::chrono::seconds(15);
    while (h->StreamLength("q1") < kEvents && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const std::int64_t done_records = kEvents;
    while (h->StatusRecords() < done_records && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a late double would show
    stop = true;
    worker.join();

    INFO(st1.message() << " / " << st2.message());
    REQUIRE(st1.ok());
    REQUIRE(st2.ok());
    // Each dead letter went back once: by one replay or the other, never by both.
    CHECK(s1.replayed + s2.replayed == kEvents);
    CHECK(s1.failed + s2.failed == 0);
    CHECK(h->DeadLetters() == 0);
    CHECK(h->StreamLength("q1") == kEvents);
    REQUIRE(seen.times.size() == static_cast<std::size_t>(kEvents));
    int doubled = 0, not_reset = 0;
    for (const auto& [id, n] : seen.times) doubled += n != 1;
    for (const auto& [id, n] : seen.retry_counts) not_reset += n != 0;
    CHECK(doubled == 0);
    CHECK(not_reset == 0);
  }
}

}  // namespace evt::contract
