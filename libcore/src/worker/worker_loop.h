// PRIVATE: the state of one RunWorker call (worker.h), shared by its threads: N handler
// threads, each with its own QueueSession, each looping "take one entry (own pending,
// claimed or new) → lease → run → decide → journal → commit"; one housekeeping thread
// (worker_housekeeping.h); and the calling thread, which only watches for the stop signal
// and enforces the grace period. A thread owns its delivery from receipt to commit.
// What threads share: counters, the stop flags, the outcome journal (when the queue needs
// one), the leases held (renewed by the housekeeper), the commits waiting (which go before
// any new read), and the ids in flight (so a pending entry is never handed out twice).
//
// The code is split by step: run_worker.cc (start, stop, end), worker_thread.cc (a handler
// thread and its reads), worker_resume.cc (journals of stopped workers, own pending
// entries), worker_attempt.cc (one delivery), worker_commit.cc (ending an attempt),
// worker_burst.cc (when a --burst run ends).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "evt/event.h"
#include "evt/worker.h"
#include "evt/worker_rules.h"
#include "worker/outcome_journal.h"
#include "worker/worker_housekeeping.h"

namespace evt {

// Registers a held lease with the housekeeper (renewed while held) for as long as it lives.
class LeaseHold {
 public:
  LeaseHold(HeldLeases& leases, std::string key, std::string owner)
      : leases_(leases), key_(std::move(key)), owner_(std::move(owner)) {
    leases_.Add(key_, owner_);
  }
  ~LeaseHold() { leases_.Remove(key_, owner_); }
  LeaseHold(const LeaseHold&) = delete;
  LeaseHold& operator=(const LeaseHold&) = delete;

 private:
  HeldLeases& leases_;
  const std::string key_, owner_;
};

// One delivery of a batch (worker_batch.cc), from its receipt to its decision.
struct BatchEntry {
  const Delivery* entry = nullptr;
  Delivery carried;  // the entry with the event id and time the queue's defaults gave it
  Status parse;      // why the entry is not an event to run; OK: `event` holds it
  std::optional<Event> event;
  AttemptEnd end;
  bool go = false;  // its lease was answered and says there is something to decide
  Lease lease;
  std::unique_ptr<LeaseHold> hold;  // an acquired lease, until the batch is committed
  const Delivery& d() const { return carried.id.empty() ? *entry : carried; }
};

// An attempt-ending call of a batch, waiting for the batch's commit.
struct PendingFinish {
  FinishCall call;
  Disposition what = Disposition::kDone;  // for the observer once made
  DeadReason reason = DeadReason::kPermanent;
  bool outcome = false;  // the outcome of a handler that ran: `record` is it, its key waits
  JournalRecord record;
  bool journaled = false;  // in the journal (CommitBatch)
};
using Batch = std::vector<PendingFinish>;

// What the observer is told of a committed outcome (worker_commit.cc).
Disposition DispositionOf(JournalOutcome o);

struct AtomicStats {
  std::atomic<std::uint64_t> events{0}, attempts{0}, done{0}, retries{0}, failed{0}, invalid{0},
      duplicate{0}, deferred{0}, claimed{0}, abandoned{0}, resumed{0}, replayed{0},
      left_in_journal{0};
  void CopyTo(WorkerStats* s) const;
};

class WorkerLoop {
 public:
  WorkerLoop(Queue& queue, Handler& handler, const WorkerOptions& o, WorkerObserver& observer)
      : queue_(queue),
        handler_(handler),
        options_(o),
        observer_(observer),
        consumer_(queue.consumer()) {
    rules_.retry = o.retry;
    rules_.busy_retry_max = o.busy_retry_max;
  }

  Status Run(WorkerStats* stats);

 private:
  // run_worker.cc
  Status OpenJournal();
  Status CheckStore();
  void WatchUntilDone();
  void BeginStop(const char* why);
  Status EndRun(WorkerStats* stats);
  Status BurstOutage(const std::string& error) const;  // Unavailable: the burst ended early
  void Fatal(const Status& s);
  LoopHealth Health() const;
  bool Stopping() const { return stopping_.load(); }
  // The give_up of a store call (QueueSession::WithRetry) that reads: true once a stop
  // began. A commit's give_up is StoreDown() followed by grace_over_.
  bool GiveUpRead() {
    StoreDown();
    return Stopping();
  }
  // Called between the tries of a store call that found the store unreachable. In a burst
  // run it times the outage: past --burst-store-wait, burst_outage_ ends the run.
  void StoreDown();

  // worker_thread.cc
  void HandlerThread(int index);
  bool WaitRecovered(int index, QueueSession& session);
  Status ReadNew(QueueSession& session, int max, std::vector<Delivery>* got, bool* claimed);
  void GroupLost(const Status& s);
  void NoteClaimed(const std::vector<Delivery>& got);
  bool ClaimDue();
  struct BurstLook {
    bool taken = false;          // the look began (this thread's previous read found nothing)
    std::uint64_t activity = 0;  // activity_ when it began
    std::optional<UnixMillis> next_due;
  };
  Status BeginBurstLook(QueueSession& session, bool idle, BurstLook* look);
  bool BurstOver(const BurstLook& look);

  // worker_resume.cc
  void Replay(QueueSession& session);
  void ReplayJournal(QueueSession& session, OutcomeJournal& journal);
  Status TakeOwnPending(QueueSession& session, std::vector<Delivery>* got);
  Status ScanOwnPending(QueueSession& session, std::vector<Delivery>* found);
  bool BeginRead();
  void EndRead(std::vector<Delivery>* got);
  void EntryDone(const std::string& id);

  // worker_batch.cc
  void ProcessBatch(QueueSession& session, const std::vector<Delivery>& got, std::mt19937_64& rng);
  void Prepare(const Delivery& entry, BatchEntry* e);
  void LeaseAll(QueueSession& session, std::vector<BatchEntry>& es);
  bool Leased(BatchEntry& e, const Status& s);
  void CommitBatch(QueueSession& session, Batch& batch);
  void Finished(PendingFinish& f);

  // worker_attempt.cc
  void Attempt(QueueSession& session, BatchEntry& e, std::mt19937_64& rng, Batch& batch);
  HandlerResult RunHandler(const Event& ev, AttemptEnd& end);
  void DeadLetter(DeadReason reason, JournalRecord record, const Delivery& d, Batch& batch);
  void Act(QueueSession& session, const Decision& decision, AttemptEnd& end, const Event* ev,
           const Delivery& d, Batch& batch);
  void AbandonAttempt(QueueSession& session, const AttemptEnd& end);
  void AddOutcome(Batch& batch, JournalRecord record);
  void AddCall(Batch& batch, FinishCall call, Disposition what, DeadReason reason);

  // worker_commit.cc
  void Commit(QueueSession& session, const AttemptEnd& end, Disposition what, DeadReason reason,
              const std::function<Status()>& op);
  void CommitOutcome(QueueSession& session, PendingFinish& f);
  Status CommitStubborn(const JournalRecord& record, Status s,
                        const std::function<Status()>& attempt);
  void CommitFailed(const JournalRecord& record, bool journaled, const Status& s);
  Status CommitRecord(QueueSession& session, const JournalRecord& r);
  void Ended(const JournalRecord& record);
  void KeyWaiting(const std::string& key, int delta);
  void CommitStalled(int delta);
  void WaitForCommits();
  Status WaitForKey(const std::string& key);

  void Note(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {}) {
    observer_.OnNotice(level, msg, nullptr, fields);
  }
  void NoteEvent(LogLevel level, std::string_view msg, const AttemptEnd& end,
                 std::initializer_list<LogField> fields = {}) {
    observer_.OnNotice(level, msg, &end, fields);
  }

  Queue& queue_;
  Handler& handler_;
  const WorkerOptions& options_;
  WorkerObserver& observer_;
  RuleOptions rules_;
  const std::string consumer_;
  Cancellation cancel_;
  AtomicStats stats_;
  std::atomic<bool> stopping_{false};    // read nothing more
  std::atomic<bool> grace_over_{false};  // stop handlers, give up commits
  std::atomic<bool> drained_{false};     // the queue has nothing more, ever
  std::atomic<bool> fatal_seen_{false};  // Fatal() was called: read nothing more
  std::atomic<int> in_flight_{0};
  // --burst: entries held by threads (from their read to their commit), and a count raised
  // whenever a thread receives or finishes entries, so a look that saw it unchanged was quiet.
  std::atomic<int> holding_{0};
  std::atomic<std::uint64_t> activity_{0};
  UnixMillis started_wall_ = 0;
  std::atomic<int> threads_left_{0};
  std::atomic<std::int64_t> next_claim_ms_{0};
  std::atomic<std::int64_t> group_logged_ms_{-(1LL << 40)};  // when a lost group was logged
  // --burst: when the store was last found unreachable, since when it is, and whether that
  // lasted past --burst-store-wait (the run then ends, exit 69).
  std::atomic<std::int64_t> store_down_last_ms_{-(1LL << 40)};
  std::atomic<std::int64_t> store_down_since_ms_{0};
  std::atomic<bool> burst_outage_{false};
  mutable std::mutex mu_;
  Status fatal_;
  // Wakes the watcher (WatchUntilDone) when the last thread ends or a fatal error comes.
  // Not the global wake pipe (signals.h): the stdio queue polls and drains that one, and two
  // drainers would eat each other's wake-ups. A stop signal is seen within one watch tick.
  std::condition_variable watch_cv_;
  void WakeWatcher() {
    { std::lock_guard<std::mutex> lock(mu_); }
    watch_cv_.notify_all();
  }

  // The outcome journal (outcome_journal.h) of this process, when the queue needs one, and
  // the journals of stopped workers adopted at start.
  std::string state_dir_;
  std::unique_ptr<OutcomeJournal> journal_;
  std::vector<std::unique_ptr<OutcomeJournal>> adopted_;
  HeldLeases leases_;
  std::atomic<bool> recovered_{false};  // the adopted journals were replayed
  // Outcomes waiting to be committed: their keys are not started again, and while one of
  // them has found the store unreachable (stalled) no thread reads new work; keys_cv_
  // says when one is through.
  std::atomic<int> commits_stalled_{0};
  std::atomic<int> commits_waiting_{0};
  std::mutex keys_mu_;
  std::condition_variable keys_cv_;
  std::multiset<std::string> keys_waiting_;
  // Entries handed to threads: ids in flight, this consumer's own pending entries not yet
  // taken up, and the scan for them (at start and after the store was unreachable or the
  // group was re-created). Reads of new entries and the scan never overlap (reading_).
  std::mutex own_mu_;
  std::condition_variable own_cv_;
  std::multiset<std::string> in_flight_ids_;  // an id held back for good is in twice
  std::set<std::string> done_while_scanning_;
  std::deque<Delivery> own_pending_;
  bool scan_needed_ = true;
  bool scanning_ = false;
  int reading_ = 0;
};

}  // namespace evt
