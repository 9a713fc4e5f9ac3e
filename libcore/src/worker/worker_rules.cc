#include "evt/worker_rules.h"

#include <algorithm>

#include "evt/event.h"

namespace evt {
namespace {

Decision DeadLetter(DeadReason reason, Category category, std::string error) {
  Decision d;
  d.action = Action::kDeadLetter;
  d.reason = reason;
  d.category = category;
  d.error = std::move(error);
  return d;
}

Decision ForLease(const Lease& lease, const RuleOptions& options) {
  Decision d;
  switch (lease.state) {
    case LeaseState::kAcquired:
      d.action = Action::kRun;
      return d;
    case LeaseState::kAlreadyDone:
      d.action = Action::kDuplicate;
      return d;
    case LeaseState::kBusy:
      d.action = Action::kDefer;
      d.delay = std::max(Millis(50), std::min(lease.remaining, options.busy_retry_max));
      return d;
    case LeaseState::kFinished:
    case LeaseState::kRunningElsewhere:
      d.action = Action::kNone;
      return d;
    case LeaseState::kPoison:
      return DeadLetter(DeadReason::kPoison, Category::kCrash,
                        "its handler started " + std::to_string(lease.starts) +
                            " times without an outcome (its workers died or were stopped)");
  }
  return d;
}

Decision ForResult(const HandlerResult& r, int attempt, const RuleOptions& options,
                   std::mt19937_64& rng) {
  Decision d;
  if (r.interrupted) {
    d.action = Action::kAbandon;
    return d;
  }
  if (r.outcome == Outcome::kDone) {
    d.action = Action::kDone;
    return d;
  }
  if (r.outcome == Outcome::kTransient && ShouldRetry(options.retry, attempt)) {
    d.action = Action::kRetry;
    d.delay = std::max(BackoffDelay(options.retry, attempt - 1, rng), r.retry_after);
    return d;
  }
  const DeadReason reason =
      r.outcome == Outcome::kPermanent ? DeadReason::kPermanent : DeadReason::kRetriesExhausted;
  return DeadLetter(reason, r.category, r.error);
}

}  // namespace

Decision DecideAction(const AttemptFacts& facts, const RuleOptions& options, std::mt19937_64& rng) {
  if (facts.result != nullptr) return ForResult(*facts.result, facts.attempt, options, rng);
  if (facts.lease != nullptr) return ForLease(*facts.lease, options);
  if (!facts.parse.ok()) {
    const DeadReason reason =
        IsNewerSchemaVersion(facts.parse) ? DeadReason::kPermanent : DeadReason::kInvalid;
    return DeadLetter(reason, Category::kData, facts.parse.message());
  }
  return Decision{};
}

std::string_view ActionName(Action a) {
  switch (a) {
    case Action::kRun:
      return "run";
    case Action::kNone:
      return "none";
    case Action::kDone:
      return "done";
    case Action::kRetry:
      return "retry";
    case Action::kDeadLetter:
      return "dead_letter";
    case Action::kDuplicate:
      return "duplicate";
    case Action::kDefer:
      return "defer";
    case Action::kAbandon:
      return "abandon";
  }
  return "unknown";
}

bool BurstDrained(const BurstFacts& f) {
  if (!f.received_nothing || !f.quiet || f.busy > 0 || f.commits_waiting > 0) return false;
  return !f.next_due.has_value() || *f.next_due > f.started_at + f.max_wait.count();
}

void BatchSizer::Took(std::size_t entries, std::chrono::steady_clock::duration d) {
  if (entries == 0) return;
  const double us = std::chrono::duration<double, std::micro>(d).count() / entries;
  // Half the weight on the last batch: a handler that turns slow is followed within a
  // batch or two, and one odd entry does not undo a long record.
  per_entry_us_ = per_entry_us_ <= 0 ? us : (per_entry_us_ + us) / 2;
  const double n = static_cast<double>(kBatchTarget.count()) / std::max(per_entry_us_, 1.0);
  next_ = n >= max_ ? max_ : std::max(1, static_cast<int>(n));
}

}  // namespace evt
