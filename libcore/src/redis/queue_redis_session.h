// PRIVATE: the QueueSession of the Redis queue (queue_redis.h), one per thread. Its calls
// live in one file per concern:
//   queue_redis.cc               the queue, the session's connection and EnsureGroup;
//   queue_redis_receive.cc       handing entries out: Receive, Claim, ReceivePending;
//   queue_redis_lease.cc         idempotency leases: TakeLease ... StartAttempt, MarkRunning;
//   queue_redis_finish.cc        the attempt-ending calls (one Lua script each), Defer, and
//                                FinishAll (one script for a whole batch);
//   queue_redis_housekeeping.cc  MoveDue, NextDue, Depth, Heartbeat, Leave, Trim.
#pragma once

#include <cstddef>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "evt/queue.h"
#include "redis/queue_keys.h"
#include "redis/queue_redis.h"
#include "redis/redis_client.h"

namespace evt {

// Life of a delivery's commit marker (fin:) and start count (run:): longer than any
// repeat of a commit (a lost reply, a replayed outcome) or redelivery we guard against.
inline constexpr long long kDeliveryKeyTtlMs = 24LL * 3600 * 1000;

// The most calls one run of the batch finishing script (kFinishAll) takes: it
// acknowledges them in one XACK, and Lua's stack bounds the arguments of one command
// (about 8000). FinishAll splits longer batches.
inline constexpr std::size_t kMaxBatchRun = 1000;

// How an attempt ends: the `mode` of the finishing script (queue_redis_finish.cc).
enum class FinishMode { kDone, kRetry, kDead, kDuplicate, kDefer };

// The entries the sessions of one Queue have handed out and are still working on: what
// each session's last Receive or Claim returned (with what its ReceivePending calls
// returned since), until its next Receive or Claim. All sessions share one consumer name
// (and so one lease owner per entry), so XAUTOCLAIM also finds an entry that one of our
// own threads holds while it waits (for Redis to accept writes again, say), and XREADGROUP
// hands out again what a thread runs when the group was re-created; Claim and Receive
// skip those, or two threads would both own its lease and run it twice. Thread-safe.
class HeldDeliveries {
 public:
  // Holds ds[from..] for a session, adding their ids to its `*mine`.
  void Hold(const std::vector<Delivery>& ds, std::size_t from, std::vector<std::string>* mine) {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::size_t i = from; i < ds.size(); ++i) {
      ids_.insert(ds[i].id);
      mine->push_back(ds[i].id);
    }
  }
  // Lets go of everything a session holds (`*mine`, then cleared).
  void Release(std::vector<std::string>* mine) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& id : *mine) {
      auto it = ids_.find(id);
      if (it != ids_.end()) ids_.erase(it);
    }
    mine->clear();
  }
  bool Held(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return ids_.count(id) > 0;
  }

 private:
  std::mutex mu_;
  std::multiset<std::string> ids_;
};

class RedisQueueSession : public QueueSession {
 public:
  // REQUIRES: `options`, `consumer` and `held` (the queue's) outlive the session.
  RedisQueueSession(const RedisQueueOptions& options, const std::string& consumer,
                    HeldDeliveries& held);
  ~RedisQueueSession() override;

  Status WithRetry(const std::function<Status()>& op,
                   const std::function<bool()>& give_up) override;
  Status EnsureGroup() override;

  // queue_redis_receive.cc
  Status Receive(int max, Millis block, std::vector<Delivery>* out) override;
  Status Claim(Millis min_idle, int max, std::vector<Delivery>* out) override;
  Result<std::string> ReceivePending(const std::string& after_id, int max,
                                     std::vector<Delivery>* out) override;

  // queue_redis_lease.cc
  Result<Lease> TakeLease(const std::string& key, const std::string& owner, Millis ttl) override;
  Status ReleaseLease(const std::string& key, const std::string& owner) override;
  Result<bool> RenewLease(const std::string& key, const std::string& owner, Millis ttl) override;
  Status MarkRunning(const AttemptEnd& end) override;
  Result<Lease> StartAttempt(const AttemptEnd& attempt, Millis ttl, int max_starts) override;
  void StartAttempts(const std::vector<AttemptEnd>& attempts, Millis ttl, int max_starts,
                     std::vector<Result<Lease>>* out) override;
  Status Abandon(const AttemptEnd& end) override;

  // queue_redis_finish.cc
  Status FinishDone(const AttemptEnd& end) override;
  Status FinishRetry(const AttemptEnd& end, const std::string& next_raw, UnixMillis due) override;
  Status FinishDead(const AttemptEnd& end, DeadReason reason, const std::string& raw) override;
  Status FinishDuplicate(const AttemptEnd& end) override;
  Status Defer(const Delivery& delivery, UnixMillis due) override;
  void FinishAll(const std::vector<FinishCall>& calls, std::vector<Status>* out) override;

  // queue_redis_housekeeping.cc
  Result<int> MoveDue(int max) override;
  Result<std::optional<UnixMillis>> NextDue() override;
  Result<std::optional<QueueDepth>> Depth() override;
  Status Heartbeat(const WorkerInfo& info) override;
  Status Leave() override;
  Result<std::int64_t> Trim(Millis retention) override;

 private:
  // Sets each delivery's count (this delivery included) from the pending entries list.
  Status CountDeliveries(std::vector<Delivery>* ds);
  // The status hash fields of a `running` attempt.
  std::vector<std::string> RunningFields(const AttemptEnd& a) const;
  // The keys and arguments of StartAttempt's run of kTakeLease, and of StartAttempts's
  // run of kStartAll.
  RedisClient::EvalArgs StartArgs(const AttemptEnd& a, Millis ttl, int max_starts) const;
  std::vector<std::string> StartAllKeys(const std::vector<AttemptEnd>& attempts) const;
  std::vector<std::string> StartAllArgs(const std::vector<AttemptEnd>& attempts, Millis ttl,
                                        int max_starts) const;
  // The keys and arguments of the finishing script for `m` (see kFinish in
  // queue_redis_scripts.h), and one run of it.
  RedisClient::EvalArgs FinishArgs(FinishMode m, const AttemptEnd& end, DeadReason reason,
                                   const std::string& raw, UnixMillis due, UnixMillis now) const;
  Status Finish(FinishMode m, const AttemptEnd& end, DeadReason reason, const std::string& raw,
                UnixMillis due);
  // FinishAll of calls[0..n), n <= kMaxBatchRun: appends one status per call to `*out`.
  void FinishChunk(const FinishCall* calls, std::size_t n, UnixMillis now,
                   std::vector<Status>* out);
  // Its three field lists: the status hash, the metric increments, the dead letter.
  std::vector<std::string> StatusFields(FinishMode m, const AttemptEnd& end, DeadReason reason,
                                        UnixMillis due, UnixMillis now) const;
  static std::vector<std::string> MetricFields(FinishMode m, const AttemptEnd& end,
                                               DeadReason reason, UnixMillis now);
  std::vector<std::string> DeadLetterFields(const AttemptEnd& end, DeadReason reason,
                                            const std::string& raw, UnixMillis now) const;

  const RedisQueueOptions& options_;
  const std::string& consumer_;
  QueueKeys keys_;
  RedisClient client_;
  HeldDeliveries& held_;
  std::vector<std::string> mine_;  // what this session holds in held_
  std::string claim_cursor_ = "0-0";
};

}  // namespace evt
