// The end of an `evt-work --burst` run (worker_loop.h): a thread whose previous read found
// nothing begins a "look" (it notes the loop's activity count and the earliest scheduled
// event, and makes its next read claim entries abandoned elsewhere first); when that read
// finds nothing too, BurstDrained (worker_rules.h) says whether this thread is done.
// Each thread ends on its own look, so the last one out ends the run only when the whole
// loop was idle and quiet during its look.
#include "evt/worker_rules.h"
#include "worker/worker_loop.h"

namespace evt {

Status WorkerLoop::BeginBurstLook(QueueSession& session, bool idle, BurstLook* look) {
  if (!options_.burst || !idle) return Status::Ok();
  look->activity = activity_.load();
  Status s = session.WithRetry(
      [&] {
        Result<std::optional<UnixMillis>> due = session.NextDue();
        if (due.ok()) look->next_due = *due;
        return due.ok() ? Status::Ok() : due.status();
      },
      [this] { return GiveUpRead(); });
  if (!s.ok()) return s;
  next_claim_ms_.store(0);  // a claim look is due: abandoned entries are due work too
  look->taken = true;
  return Status::Ok();
}

bool WorkerLoop::BurstOver(const BurstLook& look) {
  if (!options_.burst || !look.taken) return false;
  BurstFacts f;
  {
    // Own pending entries found by a scan and not yet taken up are due work too.
    std::lock_guard<std::mutex> lock(own_mu_);
    f.received_nothing = own_pending_.empty() && !scan_needed_ && !scanning_;
  }
  f.quiet = activity_.load() == look.activity;
  f.busy = holding_.load() + in_flight_.load();
  f.commits_waiting = commits_waiting_.load();
  f.next_due = look.next_due;
  f.started_at = started_wall_;
  f.max_wait = options_.burst_max_wait;
  return BurstDrained(f);
}

}  // namespace evt
