// A handler thread of RunWorker: joins the group, waits for the journals of stopped
// workers to be committed, then takes one entry at a time (own pending first, then a
// claimed or a new one) and processes it (worker_attempt.cc).
#include <algorithm>
#include <chrono>
#include <thread>

#include "evt/signals.h"
#include "worker/worker_loop.h"

namespace evt {

// One free thread at a time looks for abandoned entries, every claim_after / 3 (while it
// finds some, at once again).
bool WorkerLoop::ClaimDue() {
  std::int64_t now = options_.clock->SteadyMillis();
  std::int64_t due = next_claim_ms_.load();
  if (now < due) return false;
  std::int64_t interval =
      std::min<std::int64_t>(10000, std::max<std::int64_t>(250, options_.claim_after.count() / 3));
  return next_claim_ms_.compare_exchange_strong(due, now + interval);
}

// The journals of stopped workers are committed (by thread 0) before anything new is read.
// True when this thread may go on reading.
bool WorkerLoop::WaitRecovered(int index, QueueSession& session) {
  if (recovered_) return true;
  if (index == 0) {
    Replay(session);
    std::lock_guard<std::mutex> lock(own_mu_);
    recovered_ = true;
    own_cv_.notify_all();
  } else {
    std::unique_lock<std::mutex> lock(own_mu_);
    own_cv_.wait_for(lock, Millis(200), [this] { return recovered_.load() || Stopping(); });
  }
  return false;
}

// Claims one entry abandoned elsewhere when a look is due, else receives up to `max` new
// entries.
Status WorkerLoop::ReadNew(QueueSession& session, int max, std::vector<Delivery>* got,
                           bool* claimed) {
  auto stopping = [this] { return GiveUpRead(); };
  // A burst run ends soon after its last entry: its reads wait less.
  const Millis block =
      options_.burst ? std::min(options_.receive_block, Millis(100)) : options_.receive_block;
  // A read that found the store unreachable: entries of this consumer may be pending
  // that no thread runs (a restarted server, a failover), so look for them again.
  bool was_down = false;
  auto note = [&](Status r) {
    if (r.kind() == Status::Kind::kUnavailable) was_down = true;
    return r;
  };
  Status s;
  if (ClaimDue()) {
    s = session.WithRetry(
        [&] {
          got->clear();
          if (commits_stalled_ > 0) return Status::Ok();
          return note(session.Claim(options_.claim_after, 1, got));
        },
        stopping);
    *claimed = s.ok() && !got->empty();
    if (*claimed) next_claim_ms_.store(0);  // there may be more
  }
  if (s.ok() && got->empty()) {
    s = session.WithRetry(
        [&] {
          got->clear();
          if (commits_stalled_ > 0) return Status::Ok();
          return note(session.Receive(max, block, got));
        },
        stopping);
  }
  if (was_down && s.ok()) {
    std::lock_guard<std::mutex> lock(own_mu_);
    scan_needed_ = true;
  }
  return s;
}

// The group (or stream) was deleted. Every thread finds it gone at about the same time:
// one says so. Outcomes of entries already received are still recorded (their commit
// needs no group).
void WorkerLoop::GroupLost(const Status& s) {
  std::int64_t now = options_.clock->SteadyMillis(), last = group_logged_ms_.load();
  if (now - last >= 10000 && group_logged_ms_.compare_exchange_strong(last, now)) {
    Note(LogLevel::kWarn,
         "consumer group was deleted (XGROUP DESTROY, or the stream removed); creating it "
         "again from the start of the stream: entries with a recorded outcome are "
         "acknowledged, not run",
         {{"consumer", consumer_}, {"error", s.message()}});
  }
  std::lock_guard<std::mutex> lock(own_mu_);
  scan_needed_ = true;
}

void WorkerLoop::NoteClaimed(const std::vector<Delivery>& got) {
  stats_.claimed += got.size();
  for (const Delivery& d : got) {
    Note(LogLevel::kWarn, "claimed an entry abandoned by another consumer",
         {{"stream_id", d.id}, {"deliveries", d.deliveries}, {"consumer", consumer_}});
  }
}

void WorkerLoop::HandlerThread(int index) {
  std::mt19937_64 rng(options_.seed != 0 ? options_.seed + static_cast<std::uint64_t>(index)
                                         : std::random_device{}());
  BatchSizer sizer(options_.batch);
  std::unique_ptr<QueueSession> session = queue_.OpenSession();
  bool need_group = true;
  bool idle = false;  // this thread's last read found nothing
  while (!Stopping() && !fatal_seen_) {
    Status s;
    if (need_group) {
      s = session->WithRetry([&] { return session->EnsureGroup(); },
                             [this] { return GiveUpRead(); });
      if (!s.ok()) {
        if (s.kind() != Status::Kind::kUnavailable) Fatal(s);
        break;
      }
      need_group = false;
    }
    if (!WaitRecovered(index, *session)) continue;
    if (commits_stalled_ > 0) {  // commits that wait go first
      WaitForCommits();
      continue;
    }
    std::vector<Delivery> got;
    bool claimed = false;
    BurstLook look;
    s = BeginBurstLook(*session, idle, &look);
    if (s.ok()) s = TakeOwnPending(*session, &got);
    if (s.ok() && got.empty()) {
      if (!BeginRead()) continue;  // a scan of own pending entries is due or running
      s = ReadNew(*session, sizer.next(), &got, &claimed);
      EndRead(&got);
    }
    if (s.kind() == Status::Kind::kNotFound) {
      GroupLost(s);
      need_group = true;
      continue;
    }
    if (!s.ok()) {
      if (s.kind() != Status::Kind::kUnavailable) Fatal(s);
      break;  // Unavailable here means a stop came while the store was down
    }
    if (got.empty()) {
      if (queue_.Drained() || BurstOver(look)) {
        drained_ = true;
        break;
      }
      idle = true;
      observer_.OnIdle();
      continue;
    }
    idle = false;
    ++holding_;
    ++activity_;
    if (claimed) NoteClaimed(got);
    // Entries already received are ours: they run even when a stop came meanwhile.
    const auto began = std::chrono::steady_clock::now();
    ProcessBatch(*session, got, rng);
    sizer.Took(got.size(), std::chrono::steady_clock::now() - began);
    for (const Delivery& d : got) EntryDone(d.id);
    ++activity_;
    --holding_;
  }
  if (--threads_left_ == 0) WakeWatcher();
}

}  // namespace evt
