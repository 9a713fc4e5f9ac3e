// What batching saves on one SQLite file: N deliveries started and then finished `done`,
// one call at a time (StartAttempt, FinishDone: one write transaction each) against the
// batch calls (StartAttempts, FinishAll: one transaction per BATCH items), each on a
// fresh file in a temp folder. Only the start and finish calls are timed; the events are
// published and handed out before. Prints calls per second of each way and the ratio.
//   sqlite_batch_bench [N] [BATCH] [full]   (defaults 10000 and 64; `full`: ?sync=full)
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "evt/broker.h"
#include "evt/broker_factory.h"
#include "evt/event.h"
#include "evt/publisher.h"
#include "evt/queue.h"

namespace {

using Clock = std::chrono::steady_clock;

void Die(const std::string& what, const evt::Status& s) {
  std::fprintf(stderr, "sqlite_batch_bench: %s: %s\n", what.c_str(), s.message().c_str());
  std::exit(1);
}

void Publish(const evt::BrokerConfig& broker, int n) {
  evt::Result<std::unique_ptr<evt::EventPublisher>> p =
      evt::OpenPublisher(broker, "evt", "bench", evt::PublisherOptions{});
  if (!p.ok()) Die("publisher", p.status());
  std::vector<evt::Publication> batch;
  for (int i = 0; i < n; ++i) {
    evt::Json j;
    j["event_type"] = "bench.batch";
    j["event_id"] = "e" + std::to_string(i);
    j["idempotency_key"] = "k" + std::to_string(i);
    evt::Result<evt::Event> ev = evt::MakeEvent(j);
    if (!ev.ok()) Die("event", ev.status());
    batch.push_back(evt::Publication{*ev, 0});
  }
  std::size_t accepted = 0;
  if (evt::Status s = (*p)->Publish(batch, &accepted); !s.ok()) Die("publish", s);
}

// Every delivery's attempt end, as evt-work makes it.
std::vector<evt::AttemptEnd> ReceiveAll(evt::Queue& q, evt::QueueSession& s, int n) {
  std::vector<evt::Delivery> got;
  while (static_cast<int>(got.size()) < n) {
    const std::size_t before = got.size();
    if (evt::Status st = s.Receive(1000, evt::Millis(100), &got); !st.ok()) Die("receive", st);
    if (got.size() == before) Die("receive", evt::Status::Internal("fewer entries than published"));
  }
  std::vector<evt::AttemptEnd> ends;
  for (std::size_t i = 0; i < got.size(); ++i) {
    evt::AttemptEnd e;
    e.delivery_id = got[i].id;
    e.event_id = "e" + std::to_string(i);
    e.event_type = "bench.batch";
    e.idempotency_key = "k" + std::to_string(i);
    e.lease_owner = q.consumer() + " " + got[i].id;
    e.attempt = 1;
    e.ran = true;
    e.duration = evt::Millis(1);
    ends.push_back(e);
  }
  return ends;
}

struct Timing {
  double start_s = 0, finish_s = 0;
};

Timing Run(const std::string& url, int n, int batch) {
  evt::Result<evt::BrokerConfig> broker = evt::ParseBrokerUrl(url);
  if (!broker.ok()) Die("url", broker.status());
  Publish(*broker, n);
  evt::QueueOptions o;
  o.queue = "bench";
  o.consumer = "w1";
  evt::Result<std::unique_ptr<evt::Queue>> q = evt::OpenQueue(*broker, o);
  if (!q.ok()) Die("queue", q.status());
  std::unique_ptr<evt::QueueSession> s = (*q)->OpenSession();
  if (evt::Status st = s->EnsureGroup(); !st.ok()) Die("group", st);
  const std::vector<evt::AttemptEnd> ends = ReceiveAll(**q, *s, n);
  const std::size_t step = batch > 0 ? batch : 1;  // batch 0: the single calls
  Timing t;
  auto t0 = Clock::now();
  for (std::size_t i = 0; i < ends.size(); i += step) {
    std::vector<evt::Result<evt::Lease>> leases;
    if (batch > 0) {
      const std::size_t end = std::min(ends.size(), i + step);
      s->StartAttempts({ends.begin() + i, ends.begin() + end}, evt::Millis(60000), 3, &leases);
    } else {
      leases.push_back(s->StartAttempt(ends[i], evt::Millis(60000), 3));
    }
    for (const auto& l : leases) {
      if (!l.ok() || l->state != evt::LeaseState::kAcquired) Die("start", l.status());
    }
  }
  t.start_s = std::chrono::duration<double>(Clock::now() - t0).count();
  t0 = Clock::now();
  for (std::size_t i = 0; i < ends.size(); i += step) {
    if (batch <= 0) {
      if (evt::Status st = s->FinishDone(ends[i]); !st.ok()) Die("finish", st);
      continue;
    }
    std::vector<evt::FinishCall> calls;
    for (std::size_t j = i; j < std::min(ends.size(), i + step); ++j) {
      calls.push_back(evt::FinishCall{evt::FinishCall::Kind::kDone, ends[j], {}, {}, 0});
    }
    std::vector<evt::Status> out;
    s->FinishAll(calls, &out);
    for (const evt::Status& st : out) {
      if (!st.ok()) Die("finish", st);
    }
  }
  t.finish_s = std::chrono::duration<double>(Clock::now() - t0).count();
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 10000;
  const int batch = argc > 2 ? std::atoi(argv[2]) : 64;
  const std::string sync = argc > 3 && std::string(argv[3]) == "full" ? "?sync=full" : "";
  char tmpl[] = "/tmp/evt_batch_bench_XXXXXX";
  if (n <= 0 || batch <= 0 || ::mkdtemp(tmpl) == nullptr) {
    std::fprintf(stderr, "usage: sqlite_batch_bench [N] [BATCH] [full]\n");
    return 64;
  }
  const std::string dir = tmpl;
  const Timing one = Run("sqlite://" + dir + "/one.db" + sync, n, 0);
  const Timing many = Run("sqlite://" + dir + "/batch.db" + sync, n, batch);
  std::filesystem::remove_all(dir);
  std::printf("%d deliveries, synchronous=%s\n", n, sync.empty() ? "NORMAL" : "FULL");
  std::printf("StartAttempt one by one: %8.0f/s   StartAttempts by %d: %8.0f/s   x%.1f\n",
              n / one.start_s, batch, n / many.start_s, one.start_s / many.start_s);
  std::printf("FinishDone one by one:   %8.0f/s   FinishAll by %d:     %8.0f/s   x%.1f\n",
              n / one.finish_s, batch, n / many.finish_s, one.finish_s / many.finish_s);
  return 0;
}
