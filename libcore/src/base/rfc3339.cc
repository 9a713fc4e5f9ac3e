#include "evt/rfc3339.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace evt {
namespace {

// Hand-written rather than strptime(3) or std::regex: strptime ignores the locale only
// sometimes, accepts too much (single digits, missing fields) and knows no offsets, and
// regex is slow on the hot path of every event.

constexpr std::int64_t kMillisPerDay = 86400000;

bool IsLeapYear(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(std::int64_t year, int month) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil);
// exact for negative results too, unlike timegm(3) on some libcs, and free of the
// process time zone.
std::int64_t DaysFromCivil(std::int64_t y, int m, int d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;                                    // [0, 399]
  const std::int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            // [0, 146096]
  return era * 146097 + doe - 719468;
}

// The inverse of DaysFromCivil.
void CivilFromDays(std::int64_t z, std::int64_t* y, int* m, int* d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

// The instants that FormatRfc3339Millis can write with a four-digit year.
const std::int64_t kMinMillis = DaysFromCivil(0, 1, 1) * kMillisPerDay;
const std::int64_t kMaxMillis = DaysFromCivil(10000, 1, 1) * kMillisPerDay - 1;

// A cursor over the text; every Take* reports what it expected on failure.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  // Reads exactly `n` decimal digits into *value.
  bool Digits(int n, int* value) {
    if (text_.size() - pos_ < static_cast<std::size_t>(n)) return false;
    int v = 0;
    for (int i = 0; i < n; ++i) {
      const char c = text_[pos_ + i];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    pos_ += n;
    *value = v;
    return true;
  }
  bool Char(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool AtEnd() const { return pos_ == text_.size(); }
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void Skip() { ++pos_; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

Status Bad(const char* what) { return Status::InvalidArgument(what); }

// An optional fraction of a second, ".d...", truncated to milliseconds.
Status ParseFraction(Cursor* c, int* millis) {
  if (!c->Char('.')) return Status::Ok();
  int digits = 0;
  while (c->Peek() >= '0' && c->Peek() <= '9') {
    if (digits < 3) *millis = *millis * 10 + (c->Peek() - '0');
    ++digits;
    c->Skip();
  }
  if (digits == 0) return Bad("expected digits after the decimal point");
  for (; digits < 3; ++digits) *millis *= 10;
  return Status::Ok();
}

// "Z" (UTC) or "+HH:MM" / "-HH:MM", as minutes east of UTC.
Status ParseOffset(Cursor* c, int* offset_minutes) {
  if (c->Char('Z') || c->Char('z')) return Status::Ok();
  if (c->Peek() != '+' && c->Peek() != '-') {
    return Bad("expected 'Z' or an offset such as +02:00 after the time");
  }
  const int sign = c->Peek() == '-' ? -1 : 1;
  c->Skip();
  int oh, om;
  if (!c->Digits(2, &oh) || !c->Char(':') || !c->Digits(2, &om)) {
    return Bad("expected the offset as +HH:MM or -HH:MM");
  }
  if (oh > 23 || om > 59) return Bad("offset must be within -23:59 and +23:59");
  *offset_minutes = sign * (oh * 60 + om);
  return Status::Ok();
}

}  // namespace

Result<UnixMillis> ParseRfc3339(std::string_view text) {
  Cursor c(text);
  int year, month, day, hour, minute, second;
  if (!c.Digits(4, &year)) return Bad("expected a four-digit year at the start");
  if (!c.Char('-')) return Bad("expected '-' after the year");
  if (!c.Digits(2, &month)) return Bad("expected a two-digit month");
  if (!c.Char('-')) return Bad("expected '-' after the month");
  if (!c.Digits(2, &day)) return Bad("expected a two-digit day");
  if (month < 1 || month > 12) return Bad("month must be 01-12");
  if (day < 1 || day > DaysInMonth(year, month)) {
    return Bad(month == 2 && day == 29 ? "day 29 of February in a year that is not a leap year"
                                       : "day is out of range for the month");
  }
  if (!c.Char('T') && !c.Char('t') && !c.Char(' ')) {
    return Bad("expected 'T' between the date and the time");
  }
  if (!c.Digits(2, &hour)) return Bad("expected a two-digit hour");
  if (!c.Char(':')) return Bad("expected ':' after the hour");
  if (!c.Digits(2, &minute)) return Bad("expected two-digit minutes");
  if (!c.Char(':')) return Bad("expected ':' after the minutes");
  if (!c.Digits(2, &second)) return Bad("expected two-digit seconds");
  if (hour > 23) return Bad("hour must be 00-23");
  if (minute > 59) return Bad("minutes must be 00-59");
  // RFC 3339 allows second 60 for a leap second, but Unix time cannot name one; saying
  // so is better than silently moving the event by a second.
  if (second > 59) return Bad("seconds must be 00-59 (leap seconds are not supported)");

  int millis = 0;
  if (Status f = ParseFraction(&c, &millis); !f.ok()) return f;
  int offset_minutes = 0;
  if (Status o = ParseOffset(&c, &offset_minutes); !o.ok()) return o;
  if (!c.AtEnd()) return Bad("unexpected text after the offset");

  const std::int64_t local = DaysFromCivil(year, month, day) * kMillisPerDay +
                             ((hour * 60 + minute) * 60 + second) * 1000LL + millis;
  const std::int64_t utc = local - offset_minutes * 60000LL;
  if (utc < kMinMillis || utc > kMaxMillis) {
    return Bad("the time in UTC falls outside the years 0000-9999");
  }
  return utc;
}

std::string FormatRfc3339Millis(UnixMillis ms) {
  // Out of range instants are clamped so the output always parses back (documented
  // in the header); ParseRfc3339 never produces them.
  if (ms < kMinMillis) ms = kMinMillis;
  if (ms > kMaxMillis) ms = kMaxMillis;
  // Floor division, so times before 1970 land on the right day.
  std::int64_t days = ms / kMillisPerDay;
  std::int64_t rem = ms % kMillisPerDay;
  if (rem < 0) {
    rem += kMillisPerDay;
    --days;
  }
  std::int64_t year;
  int month, day;
  CivilFromDays(days, &year, &month, &day);
  const int millis = static_cast<int>(rem % 1000);
  const int secs = static_cast<int>(rem / 1000);

  std::string out = "0000-00-00T00:00:00.000Z";
  auto put = [&out](std::size_t pos, int width, std::int64_t v) {
    for (int i = width - 1; i >= 0; --i) {
      out[pos + i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  };
  put(0, 4, year);
  put(5, 2, month);
  put(8, 2, day);
  put(11, 2, secs / 3600);
  put(14, 2, secs / 60 % 60);
  put(17, 2, secs % 60);
  put(20, 3, millis);
  return out;
}

UnixMillis NowUnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace evt
