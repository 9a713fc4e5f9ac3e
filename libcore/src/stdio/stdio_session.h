// PRIVATE: a session of the stdio queue: a view of the one StdioQueue. Nothing here can
// be unreachable, but an operation may still say Unavailable, so WithRetry keeps queue.h's
// promise (retry only that, pausing, until give_up); housekeeping has nothing to do
// (Receive hands out due retries itself, nothing is shared with other workers).
#pragma once

#include <algorithm>
#include <thread>

#include "stdio/stdio_queue.h"

namespace evt {

class StdioSession : public QueueSession {
 public:
  explicit StdioSession(StdioQueue& q) : q_(q) {}

  Status WithRetry(const std::function<Status()>& op,
                   const std::function<bool()>& give_up) override {
    Millis pause(10);
    while (true) {
      Status s = op();
      if (s.kind() != Status::Kind::kUnavailable || give_up()) return s;
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, Millis(1000));
    }
  }
  Status EnsureGroup() override { return Status::Ok(); }
  Status Receive(int /*max*/, Millis block, std::vector<Delivery>* out) override {
    return q_.Receive(block, out);
  }
  Status Claim(Millis /*min_idle*/, int /*max*/, std::vector<Delivery>* /*out*/) override {
    return Status::Ok();  // one worker per input: nobody else's entries to take over
  }
  Result<std::string> ReceivePending(const std::string& /*after_id*/, int /*max*/,
                                     std::vector<Delivery>* /*out*/) override {
    return std::string();  // nothing outlives a run
  }
  Result<Lease> TakeLease(const std::string& key, const std::string& owner,
                          Millis /*ttl*/) override {
    return q_.TakeLease(key, owner);
  }
  Status ReleaseLease(const std::string& key, const std::string& owner) override {
    return q_.ReleaseLease(key, owner);
  }
  Result<bool> RenewLease(const std::string& key, const std::string& owner,
                          Millis /*ttl*/) override {
    return q_.RenewLease(key, owner);  // leases have no ttl: they live until the outcome
  }
  Status MarkRunning(const AttemptEnd& /*end*/) override { return Status::Ok(); }
  Result<Lease> StartAttempt(const AttemptEnd& attempt, Millis /*ttl*/,
                             int /*max_starts*/) override {
    return q_.StartAttempt(attempt);
  }
  Status FinishDone(const AttemptEnd& end) override { return q_.FinishDone(end); }
  Status FinishRetry(const AttemptEnd& end, const std::string& next_raw, UnixMillis due) override {
    return q_.FinishRetry(end, next_raw, due);
  }
  Status FinishDead(const AttemptEnd& end, DeadReason reason, const std::string& raw) override {
    return q_.FinishDead(end, reason, raw);
  }
  Status FinishDuplicate(const AttemptEnd& end) override { return q_.FinishDuplicate(end); }
  Status Defer(const Delivery& delivery, UnixMillis /*due*/) override {
    return q_.Defer(delivery);  // waits for its key's outcome, not for a time
  }
  Status Abandon(const AttemptEnd& end) override { return q_.Abandon(end); }
  Result<int> MoveDue(int /*max*/) override { return 0; }
  Status Heartbeat(const WorkerInfo& /*info*/) override { return Status::Ok(); }
  Status Leave() override { return Status::Ok(); }
  Result<std::int64_t> Trim(Millis /*retention*/) override { return std::int64_t{0}; }

 private:
  StdioQueue& q_;
};

}  // namespace evt
