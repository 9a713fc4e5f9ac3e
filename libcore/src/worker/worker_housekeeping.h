// PRIVATE: the housekeeping of a queue worker, on its own thread and session: moves due
// retries into the queue (every move_interval, at once again while a batch was full),
// heartbeats (every heartbeat, record TTL three intervals; the queue's depth is counted
// then too), renews the leases the worker
// holds (every lease_ttl / 3) and trims history (every trim_interval). When the store is down it
// waits with backoff (QueueSession::WithRetry); other errors are logged and tried again at the next
// interval. Run() ends after Stop(), removing the heartbeat record.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "evt/queue.h"
#include "evt/worker.h"
#include "evt/worker_observer.h"

namespace evt {

// The idempotency leases a worker holds: from the moment a lease is taken while the
// handler runs and while its outcome waits to be committed. The housekeeper renews each
// every lease_ttl / 3, so a lease does not lapse while its outcome is still on its way.
// Thread-safe.
class HeldLeases {
 public:
  void Add(const std::string& key, const std::string& owner);
  void Remove(const std::string& key, const std::string& owner);      // undoes one Add
  std::vector<std::pair<std::string, std::string>> Snapshot() const;  // (key, owner)

 private:
  mutable std::mutex mu_;
  std::multiset<std::pair<std::string, std::string>> held_;
};

class Housekeeper {
 public:
  // `leases` are the leases to renew; `health` says how the loop is, for the heartbeat
  // and for observer.OnAlive (at least once a second). The references must outlive Run().
  Housekeeper(Queue& queue, const WorkerOptions& options, const HeldLeases& leases,
              WorkerObserver& observer, std::function<LoopHealth()> health)
      : queue_(queue),
        options_(options),
        leases_(leases),
        observer_(observer),
        health_(std::move(health)) {}

  void Run();   // until Stop()
  void Stop();  // thread-safe

 private:
  Status RenewLeases(QueueSession& session, const std::function<bool()>& stop);
  Status MoveDue(QueueSession& session, const std::function<bool()>& stop, std::int64_t now,
                 std::int64_t* next_move);
  Status Beat(QueueSession& session, const std::function<bool()>& stop, UnixMillis started_at);
  Status Trim(QueueSession& session, const std::function<bool()>& stop);
  // Reports the queue's depth (observer.OnQueueDepth), with each heartbeat.
  Status CountDepth(QueueSession& session);

  Queue& queue_;
  const WorkerOptions& options_;
  const HeldLeases& leases_;
  WorkerObserver& observer_;
  std::function<LoopHealth()> health_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace evt
