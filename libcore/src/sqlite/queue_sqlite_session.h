// PRIVATE: the QueueSession of queue_sqlite.h, split over files: queue_sqlite.cc
// (reading: groups, new, pending and claimed entries; leases; housekeeping),
// queue_sqlite_finish.cc (StartAttempt and the attempt-ending calls) and
// queue_sqlite_batch.cc (their batches, one transaction each, and Abandon).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evt/queue.h"
#include "sqlite/queue_sqlite.h"
#include "sqlite/sqlite_db.h"

namespace evt {

class SqliteQueueSession : public QueueSession {
 public:
  SqliteQueueSession(const SqliteQueueOptions& options, const std::string& consumer);

  Status WithRetry(const std::function<Status()>& op,
                   const std::function<bool()>& give_up) override;
  Status EnsureGroup() override;
  Status Receive(int max, Millis block, std::vector<Delivery>* out) override;
  Status Claim(Millis min_idle, int max, std::vector<Delivery>* out) override;
  Result<std::string> ReceivePending(const std::string& after_id, int max,
                                     std::vector<Delivery>* out) override;
  Result<Lease> TakeLease(const std::string& key, const std::string& owner, Millis ttl) override;
  Status ReleaseLease(const std::string& key, const std::string& owner) override;
  Result<bool> RenewLease(const std::string& key, const std::string& owner, Millis ttl) override;
  Status MarkRunning(const AttemptEnd& end) override;
  Result<Lease> StartAttempt(const AttemptEnd& attempt, Millis ttl, int max_starts) override;
  Status FinishDone(const AttemptEnd& end) override;
  Status FinishRetry(const AttemptEnd& end, const std::string& next_raw, UnixMillis due) override;
  Status FinishDead(const AttemptEnd& end, DeadReason reason, const std::string& raw) override;
  Status FinishDuplicate(const AttemptEnd& end) override;
  Status Defer(const Delivery& delivery, UnixMillis due) override;
  // queue_sqlite_batch.cc
  void FinishAll(const std::vector<FinishCall>& calls, std::vector<Status>* out) override;
  void StartAttempts(const std::vector<AttemptEnd>& attempts, Millis ttl, int max_starts,
                     std::vector<Result<Lease>>* out) override;
  Status Abandon(const AttemptEnd& end) override;
  Result<int> MoveDue(int max) override;
  Result<std::optional<UnixMillis>> NextDue() override;
  Result<std::optional<QueueDepth>> Depth() override;  // queue_sqlite_depth.cc
  Status Heartbeat(const WorkerInfo& info) override;
  Status Leave() override;
  Result<std::int64_t> Trim(Millis retention) override;

 private:
  enum class Mode { kDone, kRetry, kDead, kDuplicate, kDefer };
  struct Finishing {
    Mode mode = Mode::kDone;
    const AttemptEnd* end = nullptr;
    DeadReason reason = DeadReason::kPermanent;
    const std::string* raw = nullptr;
    UnixMillis due = 0;
    UnixMillis now = 0;
  };

  // Opens the file and resolves the queue's id (once per session).
  Status Ready();
  // Ready(), then `body` in one write transaction.
  Status Write(const std::function<Status()>& body);
  // True when the group has entries it has not handed out; NotFound without the group.
  Result<bool> HasNew();
  Status TakeNew(int max, std::vector<Delivery>* out);
  Result<bool> HasIdle(UnixMillis before);
  Status TakeIdle(UnixMillis before, int max, std::vector<Delivery>* out);
  Status GroupExists();
  // Hands out again the pending rows `q` yields (id, deliveries, added_ms, event) to this
  // consumer, counting the delivery; drops rows whose entry is gone. The last id seen
  // goes to *last.
  Status Redeliver(Query& q, std::vector<Delivery>* out, std::string* last);
  Status Ack(std::int64_t row);

  // Inside a write transaction (queue_sqlite_finish.cc).
  Result<Lease> LeaseStep(const AttemptEnd& a, Millis ttl, int max_starts, bool attempt);
  Result<bool> Committed(std::int64_t row, UnixMillis now);
  Status WriteRunning(const AttemptEnd& a, UnixMillis now);
  Status WriteStatus(const Finishing& f);
  Status WriteMetrics(const Finishing& f);
  Status WriteEffect(const Finishing& f, std::int64_t row);
  Status FinishStep(const Finishing& f, std::int64_t row);
  // One transaction of FinishStep.
  Status Finish(const Finishing& f);
  // Internal: `id` is no entry id of this store.
  Status NotAnEntryId(const std::string& id);
  // The Finishing of `call` (queue_sqlite_batch.cc). REQUIRES: `call` outlives it.
  static Finishing FinishingOf(const FinishCall& call);

  const SqliteQueueOptions& options_;
  const std::string& consumer_;
  SqliteDb db_;
  std::int64_t qid_ = 0;
};

}  // namespace evt
