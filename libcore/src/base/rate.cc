#include "evt/rate.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

namespace evt {

Result<double> ParseRate(std::string_view text) {
  const std::string s(text);
  const auto bad = [&](const char* why) {
    return Status::InvalidArgument("rate \"" + s + "\": " + why + " (e.g. 100/s, 600/m, 5)");
  };
  if (s.empty()) return bad("empty");
  const std::size_t slash = s.find('/');
  const std::string number = s.substr(0, slash);
  double per = 1.0;
  if (slash != std::string::npos) {
    const std::string unit = s.substr(slash + 1);
    if (unit == "s" || unit == "sec") {
      per = 1.0;
    } else if (unit == "m" || unit == "min") {
      per = 60.0;
    } else if (unit == "h") {
      per = 3600.0;
    } else {
      return bad("the unit after / must be s, m or h");
    }
  }
  if (number.empty() ||
      !(std::isdigit(static_cast<unsigned char>(number[0])) || number[0] == '.')) {
    return bad("not a number");
  }
  errno = 0;
  char* end = nullptr;
  const double n = std::strtod(number.c_str(), &end);
  if (end == number.c_str() || *end != '\0' || errno != 0 || !std::isfinite(n)) {
    return bad("not a number");
  }
  if (n <= 0) return bad("must be above 0");
  return n / per;
}

TokenBucket::TokenBucket(Clock& clock, double rate_per_second, double burst)
    : clock_(clock),
      rate_(rate_per_second),
      burst_(std::max(1.0, burst)),
      tokens_(burst_),
      last_(clock.SteadyNow()) {}

void TokenBucket::Refill() const {
  const auto now = clock_.SteadyNow();
  if (now <= last_) return;
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  last_ = now;
}

Millis TokenBucket::Take() {
  Refill();
  tokens_ -= 1.0;
  if (tokens_ >= 0) return Millis(0);
  // The debt, in time, rounded down: the bucket keeps the exact debt, so at rates above
  // 1000/s the sub-millisecond waits add up to whole ones instead of each becoming 1 ms.
  return Millis(static_cast<Millis::rep>(std::floor(-tokens_ / rate_ * 1000.0)));
}

bool TokenBucket::Empty() const {
  Refill();
  return tokens_ < 1.0;
}

bool TokenBucket::Acquire(const std::function<bool()>& stop) {
  Millis wait = Take();
  const auto due = clock_.SteadyNow() + wait;
  while (true) {
    if (stop && stop()) return false;
    const auto now = clock_.SteadyNow();
    if (now >= due) return true;
    clock_.SleepFor(std::min(Millis(200), std::chrono::ceil<Millis>(due - now)));
  }
}

}  // namespace evt
