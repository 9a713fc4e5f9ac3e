#include "ops/health.h"

namespace evt {

HealthTracker::HealthTracker(Clock* clock, Millis tick) : clock_(clock), stale_after_(3 * tick) {}

void HealthTracker::OnReady() {
  std::lock_guard<std::mutex> lock(mu_);
  state_.ready = true;
}

void HealthTracker::OnAlive(const LoopHealth& health) {
  std::lock_guard<std::mutex> lock(mu_);
  // A reconnect is the store coming back after an outage this process saw, not the first
  // report of a store that was never down.
  if (state_.seen_alive && !state_.store_ok && health.store_ok) ++state_.reconnects;
  state_.seen_alive = true;
  state_.store_ok = health.store_ok;
  state_.stopping = state_.stopping || health.stopping;
  state_.last = health;
  state_.last_alive_at = clock_->WallNow();
  last_alive_ = clock_->SteadyNow();
}

void HealthTracker::OnStopping() {
  std::lock_guard<std::mutex> lock(mu_);
  state_.stopping = true;
}

HealthSnapshot HealthTracker::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  HealthSnapshot s = state_;
  if (s.seen_alive) {
    s.since_alive = std::chrono::duration_cast<Millis>(clock_->SteadyNow() - last_alive_);
    s.alive = s.since_alive <= stale_after_;
  }
  return s;
}

}  // namespace evt
