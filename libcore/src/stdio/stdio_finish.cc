// The stdio queue's lease table and attempt-ending calls. A key is held by one entry from
// its first attempt until its outcome (across its retries); an entry whose key is held by
// another waits, parked, until that one's outcome (evt-work(1): "an event whose key is in
// flight waits for that outcome"); a key that succeeded makes every later one a duplicate.
#include <algorithm>
#include <chrono>

#include "stdio/stdio_queue.h"

namespace evt {
namespace {

// An attempt-ending call for a delivery whose outcome is already committed only says OK
// (queue.h: safe to repeat); Take says so with NotFound.
Status Repeated(const Status& s) { return s.kind() == Status::Kind::kNotFound ? Status::Ok() : s; }

}  // namespace

bool StdioQueue::EarlierUnstarted(std::uint64_t serial) const {
  for (const auto& [id, other] : out_) {
    if (other.serial < serial && !other.started) return true;
  }
  return false;
}

Result<Lease> StdioQueue::StartAttempt(const AttemptEnd& attempt) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = out_.find(attempt.delivery_id);
  if (it == out_.end()) return Status::Internal("stdio: no entry " + attempt.delivery_id);
  it->second.started = true;
  order_cv_.notify_all();
  // Bounded: an entry whose thread never gets here (it ends without an attempt) is seen
  // ending; the bound only guards against a path that does neither.
  const std::uint64_t serial = it->second.serial;
  order_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return !EarlierUnstarted(serial); });
  it = out_.find(attempt.delivery_id);
  if (it == out_.end()) return Status::Internal("stdio: no entry " + attempt.delivery_id);
  StdioEntry& e = it->second;
  e.event_id = attempt.event_id;
  e.event_type = attempt.event_type;
  e.key = attempt.idempotency_key;
  Lease lease;
  if (done_keys_.count(e.key) > 0) {
    lease.state = LeaseState::kAlreadyDone;
    return lease;
  }
  // The lease is held by the attempt's owner (so ReleaseLease with it frees the key);
  // an entry's later attempt (a retry) takes over what its earlier one held.
  const std::string owner = attempt.lease_owner.empty() ? Holder(e) : attempt.lease_owner;
  auto [held, fresh] = held_.emplace(e.key, owner);
  if (!fresh && held->second != owner && held->second != Holder(e)) {
    lease.state = LeaseState::kBusy;
    return lease;
  }
  held->second = owner;
  e.holder = owner;
  lease.starts = e.attempts + 1;
  return lease;
}

Result<Lease> StdioQueue::TakeLease(const std::string& key, const std::string& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  Lease lease;
  if (done_keys_.count(key) > 0) {
    lease.state = LeaseState::kAlreadyDone;
    return lease;
  }
  auto [held, fresh] = held_.emplace(key, owner);
  lease.state = fresh || held->second == owner ? LeaseState::kAcquired : LeaseState::kBusy;
  return lease;
}

Status StdioQueue::ReleaseLease(const std::string& key, const std::string& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  Release(key, owner);
  return Status::Ok();
}

bool StdioQueue::RenewLease(const std::string& key, const std::string& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  auto held = held_.find(key);
  return held != held_.end() && held->second == owner;
}

bool StdioQueue::Settled(const std::string& id) const {
  if (out_.count(id) > 0) return false;
  const std::size_t digits = id.find_first_not_of("0123456789");
  if (digits == 0 || (digits != std::string::npos && id[digits] != '#')) return false;
  return std::stoull(id.substr(0, digits)) <= last_line_;
}

// Frees `key` if `holder` holds it; the entries parked on it go back to be handed out
// (after a success each becomes a duplicate; after a failure the first takes the key).
void StdioQueue::Release(const std::string& key, const std::string& holder) {
  auto held = held_.find(key);
  if (held == held_.end() || held->second != holder) return;
  held_.erase(held);
  auto parked = parked_.find(key);
  if (parked != parked_.end()) {
    for (StdioEntry& e : parked->second) ready_.push_back(std::move(e));
    parked_.erase(parked);
  }
  Changed();
}

// Removes the entry of `end` from those handed out and adds the attempt that ended.
Result<StdioEntry> StdioQueue::Take(const AttemptEnd& end) {
  auto it = out_.find(end.delivery_id);
  if (it == out_.end() && Settled(end.delivery_id)) {
    return Status::NotFound("stdio: delivery " + end.delivery_id + " already ended");
  }
  if (it == out_.end()) return Status::Internal("stdio: no entry " + end.delivery_id);
  StdioEntry e = std::move(it->second);
  out_.erase(it);
  order_cv_.notify_all();
  if (end.ran) {
    e.attempts += 1;
    e.handler_time += end.duration;
    if (!end.error.empty() || end.category != Category::kNone) {
      e.last_error = end.error;
      e.last_category = end.category;
    }
  }
  Changed();
  return e;
}

Status StdioQueue::FinishDone(const AttemptEnd& end) {
  std::lock_guard<std::mutex> lock(mu_);
  Result<StdioEntry> e = Take(end);
  if (!e.ok()) return Repeated(e.status());
  done_keys_.insert(e->key);
  WriteResult(*e, "done", nullptr);
  Release(e->key, Holder(*e));
  return Status::Ok();
}

Status StdioQueue::FinishRetry(const AttemptEnd& end, const std::string& next_raw, UnixMillis due) {
  std::lock_guard<std::mutex> lock(mu_);
  Result<StdioEntry> e = Take(end);
  if (!e.ok()) return Repeated(e.status());
  e->raw = next_raw;
  // The key stays held: an event of the same key keeps waiting for this one's outcome.
  const std::int64_t wait = std::max<std::int64_t>(0, due - options_.clock->WallNow());
  retries_.emplace(options_.clock->SteadyMillis() + wait, std::move(*e));
  return Status::Ok();
}

Status StdioQueue::FinishDead(const AttemptEnd& end, DeadReason reason, const std::string& raw) {
  std::lock_guard<std::mutex> lock(mu_);
  Result<StdioEntry> e = Take(end);
  if (!e.ok()) return Repeated(e.status());
  if (end.event_id.empty()) {  // not an event: named by its line
    RejectLine(*e, reason, end.error, raw);
    return Status::Ok();
  }
  if (!end.ran) {
    e->last_error = end.error;
    e->last_category = end.category;
  }
  DeadLetterEntry(*e, reason, raw);
  WriteResult(*e, "failed", &reason);
  Release(e->key, Holder(*e));
  return Status::Ok();
}

Status StdioQueue::FinishDuplicate(const AttemptEnd& end) {
  std::lock_guard<std::mutex> lock(mu_);
  Result<StdioEntry> e = Take(end);
  if (!e.ok()) return Repeated(e.status());
  WriteResult(*e, "duplicate", nullptr);
  return Status::Ok();
}

Status StdioQueue::Defer(const Delivery& delivery) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = out_.find(delivery.id);
  if (it == out_.end() && Settled(delivery.id)) return Status::Ok();  // a repeat
  if (it == out_.end()) return Status::Internal("stdio: no entry " + delivery.id);
  StdioEntry e = std::move(it->second);
  out_.erase(it);
  order_cv_.notify_all();
  e.raw = delivery.raw;
  // Released meanwhile: no reason to wait.
  if (held_.count(e.key) == 0 || done_keys_.count(e.key) > 0) {
    ready_.push_back(std::move(e));
  } else {
    parked_[e.key].push_back(std::move(e));
  }
  Changed();
  return Status::Ok();
}

Status StdioQueue::Abandon(const AttemptEnd& end) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = out_.find(end.delivery_id);
  if (it == out_.end() && Settled(end.delivery_id)) return Status::Ok();  // already ended
  if (it == out_.end()) return Status::Internal("stdio: no entry " + end.delivery_id);
  StdioEntry& e = it->second;
  // It stays handed out: EndRun records it as interrupted, with the attempt it had.
  if (end.ran) {
    e.attempts += 1;
    e.handler_time += end.duration;
    e.last_error = end.error;
    e.last_category = end.category;
  }
  Release(e.key, Holder(e));
  return Status::Ok();
}

}  // namespace evt
