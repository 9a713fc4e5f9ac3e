// PRIVATE: the housekeeping of a queue worker, on its own thread and session: moves due
// retries into the queue (every move_interval, at once again while a batch was full),
// heartbeats (every heartbeat, record TTL three intervals) and trims history (every
// trim_interval). When the store is down it waits with backoff (QueueSession::WithRetry);
// other errors are logged and tried again at the next interval. Run() ends after Stop(),
// removing the heartbeat record.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "evt/queue.h"
#include "evt/worker.h"

namespace evt {

class Housekeeper {
 public:
  // `in_flight` is the worker's count of running attempts, for the heartbeat. All three
  // references must outlive Run().
  Housekeeper(Queue& queue, const QueueWorkerOptions& options, const std::atomic<int>& in_flight)
      : queue_(queue), options_(options), in_flight_(in_flight) {}

  void Run();   // until Stop()
  void Stop();  // thread-safe

 private:
  Queue& queue_;
  const QueueWorkerOptions& options_;
  const std::atomic<int>& in_flight_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace evt
