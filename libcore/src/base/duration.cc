#include "evt/duration.h"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>

namespace evt {
namespace {

Status Bad(std::string_view text, const char* why) {
  return Status::InvalidArgument("invalid duration \"" + std::string(text) + "\": " + why +
                                 " (examples: 250ms, 90s, 5m, 2h, 7d)");
}

}  // namespace

Result<Millis> ParseDuration(std::string_view text) {
  if (text.empty()) return Bad(text, "empty");
  if (text == "0") return Millis(0);
  // Whole milliseconds accumulate in a double: exact far beyond any sane duration, and
  // overflow is checked against int64 before converting.
  double total_ms = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    bool seen_dot = false;
    while (i < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[i])) || (text[i] == '.' && !seen_dot))) {
      if (text[i] == '.') seen_dot = true;
      ++i;
    }
    std::string number(text.substr(start, i - start));
    if (number.empty() || number == ".") return Bad(text, "expected a number");
    std::size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    double scale;
    if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60'000;
    } else if (unit == "h") {
      scale = 3'600'000;
    } else if (unit == "d") {
      scale = 86'400'000;
    } else if (unit.empty()) {
      return Bad(text, "a number needs a unit");
    } else {
      return Bad(text, "unknown unit");
    }
    total_ms += std::strtod(number.c_str(), nullptr) * scale;
  }
  if (!std::isfinite(total_ms) || total_ms > 9.2e15) return Bad(text, "too large");
  return Millis(static_cast<std::int64_t>(std::llround(total_ms)));
}

std::string FormatDuration(Millis d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  struct Unit {
    std::int64_t ms;
    const char* name;
  };
  static constexpr Unit kUnits[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const Unit& u : kUnits) {
    if (ms % u.ms == 0) return std::to_string(ms / u.ms) + u.name;
  }
  return std::to_string(ms) + "ms";
}

}  // namespace evt
