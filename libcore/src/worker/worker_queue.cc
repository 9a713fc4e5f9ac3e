// The queue worker: N handler threads, each with its own QueueSession, each looping
// "take one entry (own pending, claimed or new) → lease → run → journal → commit"; one
// housekeeping thread (worker_housekeeping.h); and the calling thread, which only watches
// for the stop signal and enforces the grace period. A thread owns its delivery from
// receipt to commit. What threads share: counters, the stop flags, the outcome journal,
// the leases held (renewed by the housekeeper), the commits waiting (which go before any
// new read), and the ids in flight (so a pending entry is never handed out twice).
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "evt/log.h"
#include "evt/signals.h"
#include "evt/worker.h"
#include "worker/outcome_journal.h"
#include "worker/worker_housekeeping.h"

namespace evt {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct AtomicStats {
  std::atomic<std::uint64_t> attempts{0}, done{0}, retries{0}, failed{0}, duplicate{0}, deferred{0},
      claimed{0}, abandoned{0}, resumed{0}, replayed{0}, left_in_journal{0};
};

// Registers a held lease with the housekeeper for as long as it lives.
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

class QueueWorker {
 public:
  QueueWorker(Queue& queue, Handler& handler, const QueueWorkerOptions& o)
      : queue_(queue), handler_(handler), options_(o), consumer_(queue.consumer()) {}

  Status Run(QueueWorkerStats* stats);

 private:
  Status OpenJournal();
  void HandlerThread(int index);
  void Replay(QueueSession& session);
  Status TakeOwnPending(QueueSession& session, std::vector<Delivery>* got);
  bool BeginRead();
  void EndRead(std::vector<Delivery>* got);
  void EntryDone(const std::string& id);
  void WaitForCommits();
  Status WaitForKey(const std::string& key);
  void Process(QueueSession& session, const Delivery& entry, std::mt19937_64& rng);
  bool ClaimDue();
  void Commit(QueueSession& session, const AttemptEnd& end, const char* what,
              const std::function<Status()>& op);
  void CommitOutcome(QueueSession& session, JournalRecord record);
  Status CommitRecord(QueueSession& session, const JournalRecord& r);
  void KeyWaiting(const std::string& key, int delta);
  void CommitStalled(int delta);
  void Fatal(const Status& s);
  bool Stopping() const { return stopping_.load(); }

  Queue& queue_;
  Handler& handler_;
  const QueueWorkerOptions& options_;
  const std::string consumer_;
  Cancellation cancel_;
  AtomicStats stats_;
  std::atomic<bool> stopping_{false};    // read nothing more
  std::atomic<bool> grace_over_{false};  // stop handlers, give up commits
  std::atomic<int> in_flight_{0};
  std::atomic<int> threads_left_{0};
  std::atomic<std::int64_t> next_claim_ms_{0};
  std::atomic<std::int64_t> group_logged_ms_{-(1LL << 40)};  // when a lost group was logged
  std::mutex mu_;
  Status fatal_;

  // The outcome journal (outcome_journal.h) of this process, and the journals of stopped
  // workers adopted at start.
  std::string state_dir_;
  std::unique_ptr<OutcomeJournal> journal_;
  std::vector<std::unique_ptr<OutcomeJournal>> adopted_;
  HeldLeases leases_;
  std::atomic<bool> recovered_{false};  // the adopted journals were replayed
  // Outcomes waiting to be committed: their keys are not started again, and while one of
  // them has found the store unreachable (stalled) no thread reads new work; keys_cv_
  // says when one is through.
  std::atomic<int> commits_stalled_{0};
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

void QueueWorker::Fatal(const Status& s) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!fatal_.ok()) return;  // said once, by the first thread that found it
    fatal_ = s;
  }
  Log(LogLevel::kError, s.message(), {{"consumer", consumer_}});
  WakeUp();
}

// One free thread at a time looks for abandoned entries, every claim_after / 3 (while it
// finds some, at once again).
bool QueueWorker::ClaimDue() {
  std::int64_t now = options_.clock->SteadyMillis();
  std::int64_t due = next_claim_ms_.load();
  if (now < due) return false;
  std::int64_t interval =
      std::min<std::int64_t>(10000, std::max<std::int64_t>(250, options_.claim_after.count() / 3));
  return next_claim_ms_.compare_exchange_strong(due, now + interval);
}

void QueueWorker::HandlerThread(int index) {
  std::mt19937_64 rng(options_.seed != 0 ? options_.seed + static_cast<std::uint64_t>(index)
                                         : std::random_device{}());
  std::unique_ptr<QueueSession> session = queue_.OpenSession();
  auto stopping = [this] { return Stopping(); };
  bool need_group = true;
  while (!Stopping()) {
    Status s;
    if (need_group) {
      s = session->WithRetry([&] { return session->EnsureGroup(); }, stopping);
      if (!s.ok()) {
        if (s.kind() != Status::Kind::kUnavailable) Fatal(s);
        break;
      }
      need_group = false;
    }
    if (!recovered_) {
      // The journals of stopped workers are committed before anything new is read.
      if (index == 0) {
        Replay(*session);
        std::lock_guard<std::mutex> lock(own_mu_);
        recovered_ = true;
        own_cv_.notify_all();
      } else {
        std::unique_lock<std::mutex> lock(own_mu_);
        own_cv_.wait_for(lock, Millis(200), [this] { return recovered_.load() || Stopping(); });
      }
      continue;
    }
    if (commits_stalled_ > 0) {  // commits that wait go first
      WaitForCommits();
      continue;
    }
    std::vector<Delivery> got;
    bool claimed = false;
    s = TakeOwnPending(*session, &got);
    if (s.ok() && got.empty()) {
      if (!BeginRead()) continue;  // a scan of own pending entries is due or running
      // A read that found the store unreachable: entries of this consumer may be pending
      // that no thread runs (a restarted server, a failover), so look for them again.
      bool was_down = false;
      auto note = [&](Status r) {
        if (r.kind() == Status::Kind::kUnavailable) was_down = true;
        return r;
      };
      if (ClaimDue()) {
        s = session->WithRetry(
            [&] {
              got.clear();
              if (commits_stalled_ > 0) return Status::Ok();
              return note(session->Claim(options_.claim_after, 1, &got));
            },
            stopping);
        claimed = s.ok() && !got.empty();
        if (claimed) next_claim_ms_.store(0);  // there may be more
      }
      if (s.ok() && got.empty()) {
        s = session->WithRetry(
            [&] {
              got.clear();
              if (commits_stalled_ > 0) return Status::Ok();
              return note(session->Receive(1, options_.receive_block, &got));
            },
            stopping);
      }
      EndRead(&got);
      if (was_down && s.ok()) {
        std::lock_guard<std::mutex> lock(own_mu_);
        scan_needed_ = true;
      }
    }
    if (s.kind() == Status::Kind::kNotFound) {  // the group (or stream) was deleted
      // Every thread finds it gone at about the same time: one says so. Outcomes of
      // entries already received are still recorded (their commit needs no group).
      std::int64_t now = options_.clock->SteadyMillis(), last = group_logged_ms_.load();
      if (now - last >= 10000 && group_logged_ms_.compare_exchange_strong(last, now)) {
        Log(LogLevel::kWarn,
            "consumer group was deleted (XGROUP DESTROY, or the stream removed); creating it "
            "again from the start of the stream: entries with a recorded outcome are "
            "acknowledged, not run",
            {{"consumer", consumer_}, {"error", s.message()}});
      }
      need_group = true;
      std::lock_guard<std::mutex> lock(own_mu_);
      scan_needed_ = true;
      continue;
    }
    if (!s.ok()) {
      if (s.kind() != Status::Kind::kUnavailable) Fatal(s);
      break;  // Unavailable here means a stop came while the store was down
    }
    if (claimed) {
      stats_.claimed += got.size();
      for (const Delivery& d : got) {
        Log(LogLevel::kWarn, "claimed an entry abandoned by another consumer",
            {{"stream_id", d.id}, {"deliveries", d.deliveries}, {"consumer", consumer_}});
      }
    }
    // Entries already received are ours: they run even when a stop came meanwhile.
    for (const Delivery& d : got) {
      Process(*session, d, rng);
      EntryDone(d.id);
    }
  }
  if (--threads_left_ == 0) WakeUp();
}

// Commits what the journals of this host's stopped workers of this queue hold. Runs once,
// on one thread, before any thread reads.
void QueueWorker::Replay(QueueSession& session) {
  Result<std::vector<std::unique_ptr<OutcomeJournal>>> adopted =
      OutcomeJournal::AdoptOrphans(state_dir_, queue_.Scope());
  if (!adopted.ok()) {
    Log(LogLevel::kError, adopted.status().message(), {{"consumer", consumer_}});
    return;
  }
  for (std::unique_ptr<OutcomeJournal>& journal : *adopted) {
    const std::vector<JournalRecord> records = journal->Live();
    for (const JournalRecord& r : records) {
      KeyWaiting(r.end.idempotency_key, +1);
      CommitStalled(+1);
      leases_.Add(r.end.idempotency_key, r.end.lease_owner);
    }
    std::uint64_t committed = 0;
    for (const JournalRecord& r : records) {
      Status s = session.WithRetry([&] { return CommitRecord(session, r); },
                                   [this] { return grace_over_.load(); });
      CommitStalled(-1);
      KeyWaiting(r.end.idempotency_key, -1);
      leases_.Remove(r.end.idempotency_key, r.end.lease_owner);
      if (s.ok()) {
        ++committed;
        if (Status rs = journal->Retire(r.seq); !rs.ok()) {
          Log(LogLevel::kWarn, rs.message(), {{"consumer", consumer_}});
        }
        continue;
      }
      ++stats_.left_in_journal;
      if (s.kind() == Status::Kind::kUnavailable) continue;  // a stop: the next start
      LogEvent(LogLevel::kError, "could not commit a journaled outcome; it stays in the journal",
               {r.end.event_id, r.end.idempotency_key, r.end.event_type, consumer_, r.end.attempt},
               {{"outcome", std::string(JournalOutcomeName(r.outcome))},
                {"journal", journal->path()},
                {"error", s.message()}});
      std::lock_guard<std::mutex> lock(own_mu_);
      in_flight_ids_.insert(r.end.delivery_id);  // never handed out again by this worker
    }
    stats_.replayed += committed;
    if (committed > 0) {
      Log(LogLevel::kWarn, "committed the outcomes journaled by a worker that had stopped",
          {{"outcomes", committed}, {"journal", journal->path()}, {"consumer", consumer_}});
    }
    if (journal->live_count() == 0) journal->Close();  // removes the file
    adopted_.push_back(std::move(journal));
  }
}

// Hands out one of this consumer's own pending entries (taken up again before anything
// new), scanning for them first when a scan is due. At most one thread scans, and only
// while no thread reads, so an entry received meanwhile cannot be handed out twice.
Status QueueWorker::TakeOwnPending(QueueSession& session, std::vector<Delivery>* got) {
  std::unique_lock<std::mutex> lock(own_mu_);
  auto pop = [&] {
    Delivery d = std::move(own_pending_.front());
    own_pending_.pop_front();
    in_flight_ids_.insert(d.id);
    ++stats_.resumed;
    got->push_back(std::move(d));
  };
  while (true) {
    if (!own_pending_.empty()) {
      pop();
      return Status::Ok();
    }
    if (!scan_needed_ || Stopping()) return Status::Ok();
    if (!scanning_ && reading_ == 0) break;
    own_cv_.wait_for(lock, Millis(100));
  }
  scanning_ = true;
  done_while_scanning_.clear();
  lock.unlock();
  std::vector<Delivery> found;
  std::string after = "0";
  Status s;
  while (true) {
    std::vector<Delivery> page;
    std::string next;
    s = session.WithRetry(
        [&] {
          page.clear();
          Result<std::string> r = session.ReceivePending(after, 100, &page);
          if (r.ok()) next = *r;
          return r.ok() ? Status::Ok() : r.status();
        },
        [this] { return Stopping(); });
    if (!s.ok()) break;
    for (Delivery& d : page) found.push_back(std::move(d));
    if (next.empty()) break;
    after = next;
  }
  lock.lock();
  scanning_ = false;
  if (s.ok()) scan_needed_ = false;
  std::size_t fresh = 0;
  for (Delivery& d : found) {
    // In flight on another thread, or finished while we looked: not ours to run again.
    if (in_flight_ids_.count(d.id) > 0 || done_while_scanning_.count(d.id) > 0) continue;
    own_pending_.push_back(std::move(d));
    ++fresh;
  }
  done_while_scanning_.clear();
  own_cv_.notify_all();
  if (fresh > 0) {
    Log(LogLevel::kWarn, "resuming the entries this consumer had not finished",
        {{"entries", fresh}, {"consumer", consumer_}});
  }
  if (!s.ok()) return s;  // what was found waits in own_pending_ for the next call
  if (!own_pending_.empty()) pop();
  return s;
}

// A thread may read new entries (Claim, Receive) unless this consumer's own pending
// entries are to be taken up first. REQUIRES: EndRead after the read.
bool QueueWorker::BeginRead() {
  std::lock_guard<std::mutex> lock(own_mu_);
  if (scan_needed_ || scanning_ || !own_pending_.empty()) return false;
  ++reading_;
  return true;
}

// Records what a read returned as in flight; drops what another thread already runs.
void QueueWorker::EndRead(std::vector<Delivery>* got) {
  std::lock_guard<std::mutex> lock(own_mu_);
  --reading_;
  std::vector<Delivery> kept;
  for (Delivery& d : *got) {
    if (in_flight_ids_.count(d.id) > 0) continue;
    in_flight_ids_.insert(d.id);
    kept.push_back(std::move(d));
  }
  got->swap(kept);
  own_cv_.notify_all();
}

void QueueWorker::EntryDone(const std::string& id) {
  std::lock_guard<std::mutex> lock(own_mu_);
  auto it = in_flight_ids_.find(id);
  if (it != in_flight_ids_.end()) in_flight_ids_.erase(it);
  if (scanning_) done_while_scanning_.insert(id);
}

void QueueWorker::KeyWaiting(const std::string& key, int delta) {
  std::lock_guard<std::mutex> lock(keys_mu_);
  if (delta > 0) {
    keys_waiting_.insert(key);
  } else {
    auto it = keys_waiting_.find(key);
    if (it != keys_waiting_.end()) keys_waiting_.erase(it);
  }
  keys_cv_.notify_all();
}

void QueueWorker::CommitStalled(int delta) {
  std::lock_guard<std::mutex> lock(keys_mu_);
  commits_stalled_ += delta;
  keys_cv_.notify_all();
}

void QueueWorker::WaitForCommits() {
  std::unique_lock<std::mutex> lock(keys_mu_);
  keys_cv_.wait_for(lock, Millis(200), [this] { return commits_stalled_ == 0 || Stopping(); });
}

// Holds a new attempt of `key` back while an earlier outcome of the same key waits to be
// committed: its lease may have lapsed in an outage, and the commit will make this one a
// duplicate. TryAgain when a stop comes first (the entry then stays pending).
Status QueueWorker::WaitForKey(const std::string& key) {
  if (key.empty()) return Status::Ok();
  std::unique_lock<std::mutex> lock(keys_mu_);
  while (keys_waiting_.count(key) > 0) {
    if (Stopping()) {
      return Status::TryAgain("an earlier outcome of idempotency key " + key +
                              " waits to be committed");
    }
    keys_cv_.wait_for(lock, Millis(200));
  }
  return Status::Ok();
}

void QueueWorker::Commit(QueueSession& session, const AttemptEnd& end, const char* what,
                         const std::function<Status()>& op) {
  // The outcome is known: keep trying to record it until the shutdown grace is over.
  Status s = session.WithRetry(op, [this] { return grace_over_.load(); });
  if (s.ok()) return;
  ++stats_.abandoned;
  LogEvent(
      LogLevel::kError,
      "could not record the outcome; the entry stays pending and will be claimed and run again",
      {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt},
      {{"outcome", what}, {"error", s.message()}});
}

Status QueueWorker::CommitRecord(QueueSession& session, const JournalRecord& r) {
  switch (r.outcome) {
    case JournalOutcome::kDone:
      return session.FinishDone(r.end);
    case JournalOutcome::kRetry:
      return session.FinishRetry(r.end, r.next_raw, r.due);
    case JournalOutcome::kDead:
      return session.FinishDead(r.end, r.reason, r.raw);
    case JournalOutcome::kDuplicate:
      return session.FinishDuplicate(r.end);
  }
  return Status::Internal("unknown journaled outcome");
}

// The outcome of a handler that ran: journaled (fdatasync) first, then committed. Until the
// commit is made the key is not started again, and once it has found the store
// unreachable no thread reads new work; the lease is renewed meanwhile (LeaseHold in
// Process). When the grace of a stop ends first, the outcome stays in the journal for the
// next start.
void QueueWorker::CommitOutcome(QueueSession& session, JournalRecord record) {
  const AttemptEnd& end = record.end;
  const std::string what(JournalOutcomeName(record.outcome));
  Status journaled = journal_->Append(&record);
  if (!journaled.ok()) {
    LogEvent(LogLevel::kError, "could not journal the outcome; committing it without",
             {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt},
             {{"outcome", what}, {"error", journaled.message()}});
  }
  KeyWaiting(end.idempotency_key, +1);
  // A commit that finds the store unreachable holds every new read back until it is made:
  // when the store comes back, waiting commits go first. (Made at once, it holds nothing.)
  bool stalled = false;
  auto attempt = [&] {
    return session.WithRetry(
        [&] {
          Status r = CommitRecord(session, record);
          if (r.kind() == Status::Kind::kUnavailable && !stalled) {
            stalled = true;
            CommitStalled(+1);
          }
          return r;
        },
        [this] { return grace_over_.load(); });
  };
  Status s = attempt();
  // A refusal that an operator must fix (a key of the wrong type, an ACL rule): the script
  // wrote nothing, the entry stays pending and the outcome journaled. Try again, slowly,
  // for as long as this worker lives, so the fix takes effect without running the handler
  // again; the key stays held meanwhile. Said once, and once more when it goes through.
  if (!s.ok() && s.kind() != Status::Kind::kUnavailable && journaled.ok()) {
    LogEvent(LogLevel::kError,
             "could not record the outcome; the entry stays pending and the outcome stays in "
             "the journal; retrying until the store accepts it",
             {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt},
             {{"outcome", what}, {"error", s.message()}});
    Millis wait(250);
    while (!s.ok() && s.kind() != Status::Kind::kUnavailable && !grace_over_.load()) {
      for (Millis slept(0); slept < wait && !grace_over_.load(); slept += Millis(50)) {
        std::this_thread::sleep_for(Millis(50));
      }
      wait = std::min(wait * 2, Millis(5000));
      if (!grace_over_.load()) s = attempt();
    }
    if (s.ok()) {
      LogEvent(LogLevel::kWarn, "outcome recorded after all",
               {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt},
               {{"outcome", what}});
    }
  }
  if (stalled) CommitStalled(-1);
  KeyWaiting(end.idempotency_key, -1);
  if (s.ok()) {
    if (journaled.ok()) {
      if (Status rs = journal_->Retire(record.seq); !rs.ok()) {
        Log(LogLevel::kWarn, rs.message(), {{"consumer", consumer_}});
      }
    }
    return;
  }
  if (!journaled.ok()) {
    ++stats_.abandoned;
    LogEvent(
        LogLevel::kError,
        "could not record the outcome; the entry stays pending and will be claimed and run again",
        {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt},
        {{"outcome", what}, {"error", s.message()}});
    return;
  }
  ++stats_.left_in_journal;
  if (s.kind() == Status::Kind::kUnavailable) {  // the grace of a stop is over
    LogEvent(LogLevel::kDebug, "outcome left in the journal for the next start",
             {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt},
             {{"outcome", what}});
    return;
  }
  LogEvent(LogLevel::kError,
           "could not record the outcome; it stays in the journal and is committed again at "
           "the next start",
           {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt},
           {{"outcome", what}, {"journal", journal_->path()}, {"error", s.message()}});
  std::lock_guard<std::mutex> lock(own_mu_);
  in_flight_ids_.insert(end.delivery_id);  // never handed out again by this worker
}

void QueueWorker::Process(QueueSession& session, const Delivery& entry, std::mt19937_64& rng) {
  struct InFlight {
    std::atomic<int>& n;
    explicit InFlight(std::atomic<int>& c) : n(c) { ++n; }
    ~InFlight() { --n; }
  } in_flight(in_flight_);

  AttemptEnd end;
  end.delivery_id = entry.id;
  // An entry without event_id (another producer's) takes its identity and time from the
  // entry id: the same on every delivery, not made up anew by each consumer. From then on
  // the event carries it, so that a defer or a dead letter, which re-add the entry under a
  // new id, keep it too.
  EventDefaults defaults = ForStreamEntry(entry.id);
  defaults.max_event_bytes = options_.max_event_bytes;
  Result<Event> parsed = ParseEvent(entry.raw, defaults);
  Delivery carried;
  if (parsed.ok() && parsed->event_id() == defaults.event_id) {
    carried = Delivery{entry.id, Serialize(*parsed), entry.deliveries};
  }
  const Delivery& d = carried.id.empty() ? entry : carried;
  if (!parsed.ok()) {
    // Not an event this worker can run: a dead letter now, kept whole for a replay.
    DeadReason reason =
        IsNewerSchemaVersion(parsed.status()) ? DeadReason::kPermanent : DeadReason::kInvalid;
    end.category = Category::kData;
    end.error = parsed.status().message();
    Log(LogLevel::kError, "dead letter: entry is not a valid event",
        {{"stream_id", d.id},
         {"consumer", consumer_},
         {"reason", DeadReasonName(reason)},
         {"error", end.error}});
    Commit(session, end, "failed", [&] { return session.FinishDead(end, reason, d.raw); });
    ++stats_.failed;
    return;
  }
  const Event& ev = *parsed;
  end.event_id = ev.event_id();
  end.event_type = ev.event_type();
  end.idempotency_key = ev.idempotency_key();
  end.attempt = static_cast<int>(std::min<std::int64_t>(ev.retry_count() + 1, 1 << 30));
  Result<UnixMillis> occurred = ParseRfc3339(ev.occurred_at());
  end.occurred_at = occurred.ok() ? *occurred : -1;

  end.lease_owner = consumer_ + " " + d.id;
  Lease lease;
  // Only a handler that started counts towards poison: a refused lease (Redis out of
  // memory) is Unavailable, waited out here, and counts nothing.
  const int max_starts = options_.retry.max_retries + 1;
  Status s = session.WithRetry(
      [&] {
        if (Status w = WaitForKey(end.idempotency_key); !w.ok()) return w;
        Result<Lease> r = session.StartAttempt(end, options_.lease_ttl, max_starts);
        if (r.ok()) lease = *r;
        return r.ok() ? Status::Ok() : r.status();
      },
      [this] { return Stopping(); });
  if (!s.ok()) {
    // Nothing ran: the entry stays pending for a later claim.
    ++stats_.abandoned;
    Log(LogLevel::kWarn, "left pending: could not take the idempotency lease",
        {{"event_id", end.event_id}, {"consumer", consumer_}, {"error", s.message()}});
    return;
  }
  if (lease.state == LeaseState::kFinished) {
    // One line per entry of the history a re-created group hands out again: debug only.
    Log(LogLevel::kDebug,
        "outcome already recorded (handed out again by a re-created group): acknowledged, not run",
        {{"event_id", end.event_id}, {"stream_id", d.id}, {"consumer", consumer_}});
    return;
  }
  if (lease.state == LeaseState::kRunningElsewhere) {
    // A copy (Defer) would run it twice; its holder's commit acknowledges this delivery.
    Log(LogLevel::kDebug, "another consumer runs this entry; left pending for it",
        {{"event_id", end.event_id}, {"stream_id", d.id}, {"consumer", consumer_}});
    return;
  }
  if (lease.state == LeaseState::kPoison) {
    end.category = Category::kCrash;
    end.error = "its handler started " + std::to_string(lease.starts) +
                " times without an outcome (its workers died or were stopped)";
    LogEvent(LogLevel::kError, "dead letter",
             {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt},
             {{"reason", "poison"}, {"category", "crash"}, {"error", end.error}});
    Commit(session, end, "failed",
           [&] { return session.FinishDead(end, DeadReason::kPoison, d.raw); });
    ++stats_.failed;
    return;
  }
  if (lease.state == LeaseState::kAlreadyDone) {
    end.attempt = 0;
    Log(LogLevel::kInfo, "duplicate: idempotency key already done, not run",
        {{"event_id", end.event_id},
         {"idempotency_key", end.idempotency_key},
         {"event_type", end.event_type},
         {"consumer", consumer_}});
    end.lease_owner.clear();
    Commit(session, end, "duplicate", [&] { return session.FinishDuplicate(end); });
    ++stats_.duplicate;
    return;
  }
  if (lease.state == LeaseState::kBusy) {
    Millis wait = std::max(Millis(50), std::min(lease.remaining, options_.busy_retry_max));
    Log(LogLevel::kDebug, "idempotency key busy elsewhere; trying later",
        {{"event_id", end.event_id},
         {"idempotency_key", end.idempotency_key},
         {"consumer", consumer_},
         {"delay_ms", wait.count()}});
    Commit(session, end, "deferred",
           [&] { return session.Defer(d, options_.clock->WallNow() + wait.count()); });
    ++stats_.deferred;
    return;
  }

  // Renewed while the handler runs and while its outcome waits to be committed.
  LeaseHold hold(leases_, end.idempotency_key, end.lease_owner);
  auto outcome = [&end](JournalOutcome o) {
    JournalRecord record;
    record.outcome = o;
    record.end = end;
    return record;
  };
  AttemptContext ctx;
  ctx.event = &ev;
  ctx.attempt = end.attempt;
  ctx.cancel = &cancel_;
  ctx.on_stderr_line = [&](std::string_view text) {
    LogEvent(LogLevel::kInfo, "handler stderr",
             {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt},
             {{"text", std::string(text)}});
  };
  ++stats_.attempts;
  HandlerResult r = handler_.Run(ctx);
  end.ran = true;
  end.duration = r.duration;
  end.category = r.category;
  end.error = r.error;

  if (r.fatal) {
    // The handler kind cannot go on (a co-process that dies at start-up again and again):
    // stop the worker rather than fail every event; this one stays pending.
    Fatal(Status::Unavailable("handler: " + r.error));
  }
  if (r.interrupted) {
    ++stats_.abandoned;
    LogEvent(LogLevel::kWarn, "attempt interrupted by shutdown; left pending for another worker",
             {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt},
             {{"duration_ms", r.duration.count()}});
    // One try: an expired lease does the same job a little later.
    session.WithRetry([&] { return session.ReleaseLease(end.idempotency_key, end.lease_owner); },
                      [] { return true; });
    return;
  }
  if (r.outcome == Outcome::kDone) {
    LogEvent(LogLevel::kInfo, "attempt finished",
             {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt},
             {{"duration_ms", r.duration.count()}, {"outcome", "done"}});
    CommitOutcome(session, outcome(JournalOutcome::kDone));
    ++stats_.done;
    return;
  }
  const bool retry = r.outcome == Outcome::kTransient && ShouldRetry(options_.retry, end.attempt);
  LogEvent(LogLevel::kWarn, "attempt failed",
           {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt},
           {{"duration_ms", r.duration.count()},
            {"outcome", OutcomeName(r.outcome)},
            {"category", CategoryName(r.category)},
            {"error", r.error}});
  if (retry) {
    // A handler's Retry-After is a floor under the backoff, never a way round it.
    Millis delay = std::max(BackoffDelay(options_.retry, end.attempt - 1, rng), r.retry_after);
    Event next = ev;
    next.set_retry_count(ev.retry_count() + 1);
    const std::string next_raw = Serialize(next);
    const UnixMillis due = options_.clock->WallNow() + delay.count();
    LogEvent(LogLevel::kInfo, "retry scheduled",
             {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt + 1},
             {{"delay_ms", delay.count()}});
    JournalRecord record = outcome(JournalOutcome::kRetry);
    record.next_raw = next_raw;
    record.due = due;
    CommitOutcome(session, std::move(record));
    ++stats_.retries;
    return;
  }
  DeadReason reason =
      r.outcome == Outcome::kPermanent ? DeadReason::kPermanent : DeadReason::kRetriesExhausted;
  LogEvent(LogLevel::kError, "dead letter",
           {end.event_id, end.idempotency_key, end.event_type, consumer_, end.attempt},
           {{"reason", DeadReasonName(reason)},
            {"category", CategoryName(r.category)},
            {"error", r.error}});
  JournalRecord record = outcome(JournalOutcome::kDead);
  record.reason = reason;
  record.raw = d.raw;
  CommitOutcome(session, std::move(record));
  ++stats_.failed;
}

Status QueueWorker::OpenJournal() {
  state_dir_ = options_.state_dir;
  if (state_dir_.empty()) {
    Result<std::string> dir = DefaultStateDir();
    if (!dir.ok()) return dir.status();
    state_dir_ = *dir;
  }
  if (Status s = PrepareStateDir(state_dir_); !s.ok()) return s;
  Result<std::unique_ptr<OutcomeJournal>> journal =
      OutcomeJournal::Create(state_dir_, queue_.Scope());
  if (!journal.ok()) return journal.status();
  journal_ = std::move(*journal);
  return Status::Ok();
}

Status QueueWorker::Run(QueueWorkerStats* stats) {
  if (Status s = OpenJournal(); !s.ok()) return s;
  {
    // A refusal that waiting cannot fix (a wrong password) ends the run before any thread
    // starts, so that it is said once, by the caller, not once per thread.
    std::unique_ptr<QueueSession> first = queue_.OpenSession();
    Status s =
        first->WithRetry([&] { return first->EnsureGroup(); }, [] { return StopRequested(); });
    if (!s.ok() && s.kind() != Status::Kind::kUnavailable) return s;
  }
  Log(LogLevel::kInfo, "worker started",
      {{"queue", queue_.Describe()},
       {"consumer", consumer_},
       {"concurrency", options_.concurrency},
       {"journal", journal_->path()}});
  threads_left_ = options_.concurrency;
  Housekeeper housekeeper(queue_, options_, in_flight_, leases_);
  std::thread housekeeping([&housekeeper] { housekeeper.Run(); });
  std::vector<std::thread> threads;
  for (int i = 0; i < options_.concurrency; ++i) {
    threads.emplace_back([this, i] { HandlerThread(i); });
  }
  SteadyClock::time_point deadline;
  while (true) {
    pollfd pfd{WakeFd(), POLLIN, 0};
    ::poll(&pfd, 1, 200);
    DrainWake();
    bool fatal;
    {
      std::lock_guard<std::mutex> lock(mu_);
      fatal = !fatal_.ok();
    }
    if (!Stopping() && (StopRequested() || fatal || threads_left_ == 0)) {
      stopping_ = true;
      deadline = options_.clock->SteadyNow() + options_.shutdown_grace;
      const char* why =
          StopRequested() ? (StopSignal() == SIGINT ? "SIGINT" : "SIGTERM") : "an error";
      Log(LogLevel::kWarn, std::string("stopping: ") + why + "; reading no more entries",
          {{"running", in_flight_.load()}, {"grace_ms", options_.shutdown_grace.count()}});
    }
    if (Stopping() && threads_left_ == 0) break;
    if (Stopping() && !grace_over_ && options_.clock->SteadyNow() >= deadline) {
      Log(LogLevel::kWarn, "shutdown grace over: stopping running handlers",
          {{"running", in_flight_.load()}});
      grace_over_ = true;
      cancel_.Cancel();
    }
  }
  for (std::thread& t : threads) t.join();
  housekeeper.Stop();
  housekeeping.join();
  if (const std::uint64_t left = stats_.left_in_journal; left > 0) {
    // Nothing is lost: the next worker started on this host for this queue commits them.
    const bool all_own = journal_->live_count() == left;
    Log(LogLevel::kWarn,
        "left " + std::to_string(left) +
            " outcome(s) in the journal; the next worker started for this queue on this host "
            "commits them",
        {{"journal", all_own ? journal_->path() : state_dir_}, {"consumer", consumer_}});
  }
  journal_->Close();
  adopted_.clear();

  stats->attempts = stats_.attempts;
  stats->done = stats_.done;
  stats->retries = stats_.retries;
  stats->failed = stats_.failed;
  stats->duplicate = stats_.duplicate;
  stats->deferred = stats_.deferred;
  stats->claimed = stats_.claimed;
  stats->abandoned = stats_.abandoned;
  stats->resumed = stats_.resumed;
  stats->replayed = stats_.replayed;
  stats->left_in_journal = stats_.left_in_journal;
  Log(LogLevel::kInfo, "summary",
      {{"attempts", stats->attempts},
       {"done", stats->done},
       {"retries", stats->retries},
       {"failed", stats->failed},
       {"duplicate", stats->duplicate},
       {"deferred", stats->deferred},
       {"claimed", stats->claimed},
       {"left_pending", stats->abandoned},
       {"resumed", stats->resumed},
       {"replayed", stats->replayed},
       {"left_in_journal", stats->left_in_journal}});
  std::lock_guard<std::mutex> lock(mu_);
  return fatal_;
}

}  // namespace

Status RunQueueWorker(Queue& queue, Handler& handler, const QueueWorkerOptions& options,
                      QueueWorkerStats* stats) {
  QueueWorker worker(queue, handler, options);
  return worker.Run(stats);
}

}  // namespace evt
