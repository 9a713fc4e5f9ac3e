#include "evt/clock.h"

#include <thread>

namespace evt {
namespace {

class SystemClock : public Clock {
 public:
  std::chrono::steady_clock::time_point SteadyNow() const override {
    return std::chrono::steady_clock::now();
  }
  UnixMillis WallNow() const override { return NowUnixMillis(); }
  void SleepFor(Millis d) override { std::this_thread::sleep_for(d); }
};

}  // namespace

Clock& RealClock() {
  static SystemClock clock;
  return clock;
}

}  // namespace evt
