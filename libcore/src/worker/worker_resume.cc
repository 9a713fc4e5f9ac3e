// What a worker takes up before new work: the outcomes left in the journals of this
// host's stopped workers (committed once, at start), and the entries this consumer name
// still has pending (scanned at start and after the store was unreachable or the group
// re-created). Also the bookkeeping of ids in flight, so no entry is handed out twice.
#include "worker/worker_loop.h"

namespace evt {

// Commits what the journals of this host's stopped workers of this queue hold. Runs once,
// on one thread, before any thread reads.
void WorkerLoop::Replay(QueueSession& session) {
  if (journal_ == nullptr) return;
  Result<std::vector<std::unique_ptr<OutcomeJournal>>> adopted =
      OutcomeJournal::AdoptOrphans(state_dir_, queue_.Scope());
  if (!adopted.ok()) {
    Note(LogLevel::kError, adopted.status().message(), {{"consumer", consumer_}});
    return;
  }
  for (std::unique_ptr<OutcomeJournal>& journal : *adopted) {
    ReplayJournal(session, *journal);
    if (journal->live_count() == 0) journal->Close();  // removes the file
    adopted_.push_back(std::move(journal));
  }
}

void WorkerLoop::ReplayJournal(QueueSession& session, OutcomeJournal& journal) {
  const std::vector<JournalRecord> records = journal.Live();
  for (const JournalRecord& r : records) {
    KeyWaiting(r.end.idempotency_key, +1);
    CommitStalled(+1);
    leases_.Add(r.end.idempotency_key, r.end.lease_owner);
  }
  std::uint64_t committed = 0;
  for (const JournalRecord& r : records) {
    Status s = session.WithRetry([&] { return CommitRecord(session, r); },
                                 [this] {
                                   StoreDown();
                                   return grace_over_.load();
                                 });
    CommitStalled(-1);
    KeyWaiting(r.end.idempotency_key, -1);
    leases_.Remove(r.end.idempotency_key, r.end.lease_owner);
    if (s.ok()) {
      ++committed;
      if (Status rs = journal.Retire(r.seq); !rs.ok()) {
        Note(LogLevel::kWarn, rs.message(), {{"consumer", consumer_}});
      }
      continue;
    }
    ++stats_.left_in_journal;
    if (s.kind() == Status::Kind::kUnavailable) continue;  // a stop: the next start
    NoteEvent(LogLevel::kError, "could not commit a journaled outcome; it stays in the journal",
              r.end,
              {{"outcome", std::string(JournalOutcomeName(r.outcome))},
               {"journal", journal.path()},
               {"error", s.message()}});
    std::lock_guard<std::mutex> lock(own_mu_);
    in_flight_ids_.insert(r.end.delivery_id);  // never handed out again by this worker
  }
  stats_.replayed += committed;
  if (committed > 0) {
    Note(LogLevel::kWarn, "committed the outcomes journaled by a worker that had stopped",
         {{"outcomes", committed}, {"journal", journal.path()}, {"consumer", consumer_}});
  }
}

// Pages through this consumer's own pending entries. REQUIRES: scanning_ set by the caller.
Status WorkerLoop::ScanOwnPending(QueueSession& session, std::vector<Delivery>* found) {
  std::string after = "0";
  while (true) {
    std::vector<Delivery> page;
    std::string next;
    Status s = session.WithRetry(
        [&] {
          page.clear();
          Result<std::string> r = session.ReceivePending(after, 100, &page);
          if (r.ok()) next = *r;
          return r.ok() ? Status::Ok() : r.status();
        },
        [this] { return GiveUpRead(); });
    if (!s.ok()) return s;
    for (Delivery& d : page) found->push_back(std::move(d));
    if (next.empty()) return Status::Ok();
    after = next;
  }
}

// Hands out one of this consumer's own pending entries (taken up again before anything
// new), scanning for them first when a scan is due. At most one thread scans, and only
// while no thread reads, so an entry received meanwhile cannot be handed out twice.
Status WorkerLoop::TakeOwnPending(QueueSession& session, std::vector<Delivery>* got) {
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
  Status s = ScanOwnPending(session, &found);
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
    Note(LogLevel::kWarn, "resuming the entries this consumer had not finished",
         {{"entries", fresh}, {"consumer", consumer_}});
  }
  if (!s.ok()) return s;  // what was found waits in own_pending_ for the next call
  if (!own_pending_.empty()) pop();
  return s;
}

// A thread may read new entries (Claim, Receive) unless this consumer's own pending
// entries are to be taken up first. REQUIRES: EndRead after the read.
bool WorkerLoop::BeginRead() {
  std::lock_guard<std::mutex> lock(own_mu_);
  if (scan_needed_ || scanning_ || !own_pending_.empty()) return false;
  ++reading_;
  return true;
}

// Records what a read returned as in flight; drops what another thread already runs.
void WorkerLoop::EndRead(std::vector<Delivery>* got) {
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

void WorkerLoop::EntryDone(const std::string& id) {
  std::lock_guard<std::mutex> lock(own_mu_);
  auto it = in_flight_ids_.find(id);
  if (it != in_flight_ids_.end()) in_flight_ids_.erase(it);
  if (scanning_) done_while_scanning_.insert(id);
}

}  // namespace evt
