// A Clock that stands still until a test moves it: Advance() (and SleepFor, which
// advances instead of blocking). Thread-safe, so a test thread may move it while the
// worker loop reads it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "evt/clock.h"

namespace evt::testing {

class FakeClock : public Clock {
 public:
  // Starts at steady time `steady_ms` and wall time `wall_ms` (Unix ms).
  explicit FakeClock(std::int64_t steady_ms = 1'000'000, UnixMillis wall_ms = 1'700'000'000'000)
      : steady_ms_(steady_ms), wall_offset_ms_(wall_ms - steady_ms) {}

  std::chrono::steady_clock::time_point SteadyNow() const override {
    return std::chrono::steady_clock::time_point(Millis(steady_ms_.load()));
  }
  UnixMillis WallNow() const override { return steady_ms_.load() + wall_offset_ms_; }
  void SleepFor(Millis d) override { Advance(d); }

  // Moves both clocks forward by `d`.
  void Advance(Millis d) { steady_ms_ += d.count(); }

 private:
  std::atomic<std::int64_t> steady_ms_;
  const std::int64_t wall_offset_ms_;
};

}  // namespace evt::testing
