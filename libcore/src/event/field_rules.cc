// The rules of the contract's fields (DESIGN.md, "The event contract"), by hand rather than
// through a schema validator: they run once per event on the worker's hot path.
#include "event/field_rules.h"

#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "base/json_text.h"

namespace evt {
namespace {

// Characters, as JSON Schema's maxLength counts them: code points, not bytes.
std::size_t CountChars(const std::string& s) {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == ':' || c == '-';
}

enum class IntKind { kInteger, kNotInteger, kTooLarge };  // kTooLarge: above INT64_MAX

// JSON Schema's "integer": any number without a fractional part, so 3.0 counts (a
// Python or JavaScript producer may write it) and is normalized to 3.
IntKind ToInt64(const Json& v, std::int64_t* out) {
  switch (v.type()) {
    case Json::value_t::number_integer:
      *out = v.get<std::int64_t>();
      return IntKind::kInteger;
    case Json::value_t::number_unsigned: {
      const auto u = v.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return IntKind::kTooLarge;
      }
      *out = static_cast<std::int64_t>(u);
      return IntKind::kInteger;
    }
    case Json::value_t::number_float: {
      const double d = v.get<double>();
      if (!std::isfinite(d) || d != std::trunc(d)) return IntKind::kNotInteger;
      if (d >= 9223372036854775808.0) return IntKind::kTooLarge;
      // Hugely negative values only need to fail the ">= 0" rules, which INT64_MIN does.
      *out = d < -9223372036854775808.0 ? std::numeric_limits<std::int64_t>::min()
                                        : static_cast<std::int64_t>(d);
      return IntKind::kInteger;
    }
    default:
      return IntKind::kNotInteger;
  }
}

constexpr std::string_view kNewerSuffix = " is newer than this reader's 1";
static_assert(kSchemaVersion == 1, "update kNewerSuffix");

}  // namespace

Status Invalid(std::string_view name, std::string_view rule) {
  std::string m;
  m.reserve(name.size() + 2 + rule.size());
  m.append(name).append(": ").append(rule);
  return Status::InvalidArgument(std::move(m));
}

Status WrongType(std::string_view name, const char* expected, const Json& v) {
  return Invalid(name, std::string("must be ") + expected + " (got " + DescribeJson(v) + ")");
}

Status CheckString(std::string_view name, const Json& v, std::size_t max) {
  if (!v.is_string()) return WrongType(name, "a string", v);
  const auto& s = v.get_ref<const std::string&>();
  if (s.empty() || (s.size() > max && CountChars(s) > max)) {
    return Invalid(name, "must be 1-" + std::to_string(max) + " characters long (got " +
                             std::to_string(CountChars(s)) + ")");
  }
  return {};
}

Status CheckEventId(std::string_view name, const Json& v) {
  Status s = CheckString(name, v, 128);
  if (!s.ok()) return s;
  const auto& id = v.get_ref<const std::string&>();
  for (char c : id) {
    if (!IsIdChar(c)) {
      return Invalid(name, "must be 1-128 of [A-Za-z0-9_.:-] (got " + Quoted(id) + ")");
    }
  }
  return {};
}

Status CheckEventType(std::string_view name, const Json& v) {
  Status s = CheckString(name, v, 255);
  if (!s.ok()) return s;
  // ^[a-z0-9][a-z0-9_.-]*$ by hand: std::regex would cost more than the whole parse.
  const auto& t = v.get_ref<const std::string&>();
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    (i > 0 && (c == '_' || c == '.' || c == '-'));
    if (!ok) return Invalid(name, "must match ^[a-z0-9][a-z0-9_.-]*$ (got " + Quoted(t) + ")");
  }
  return {};
}

Status GetRetryCount(std::string_view name, const Json& v, bool allow_digits, std::int64_t* out) {
  const char* rule = allow_digits ? "an integer >= 0 or a string of digits" : "an integer >= 0";
  if (allow_digits && v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    std::uint64_t n = 0;
    bool ok = !s.empty() && s.size() <= 19;
    for (char c : s) {
      ok = ok && c >= '0' && c <= '9';
      if (ok) n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (!ok || n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return WrongType(name, rule, v);
    }
    *out = static_cast<std::int64_t>(n);
    return {};
  }
  switch (ToInt64(v, out)) {
    case IntKind::kNotInteger:
      return WrongType(name, rule, v);
    case IntKind::kTooLarge:
      return Invalid(name, "must be at most 9223372036854775807 (got " + DescribeJson(v) + ")");
    case IntKind::kInteger:
      break;
  }
  if (*out < 0) return Invalid(name, std::string("must be >= 0 (got ") + DescribeJson(v) + ")");
  return {};
}

Status CheckSchemaVersion(const Json& v) {
  std::int64_t n = 0;
  switch (ToInt64(v, &n)) {
    case IntKind::kNotInteger:
      return WrongType("schema_version", "an integer", v);
    case IntKind::kTooLarge:
      n = std::numeric_limits<std::int64_t>::max();
      break;
    case IntKind::kInteger:
      break;
  }
  if (n < 1) return Invalid("schema_version", "must be >= 1 (got " + DescribeJson(v) + ")");
  if (n > kSchemaVersion) {
    const std::string shown = v.is_number_float() ? std::to_string(n) : DescribeJson(v);
    return Invalid("schema_version", shown + std::string(kNewerSuffix));
  }
  return {};
}

Status CheckNesting(std::string_view name, const Json& v, int levels_above) {
  const int room = kMaxJsonDepth - levels_above;
  if (!JsonDeeperThan(v, room)) return {};
  return Invalid(name, "must nest at most " + std::to_string(room) +
                           " levels (an event nests at most " + std::to_string(kMaxJsonDepth) +
                           ")");
}

bool IsNewerSchemaVersion(const Status& status) {
  // The exact shape "[...: ]schema_version: <digits> is newer than this reader's 1", so
  // that a quoted value inside another message (always followed by a quote and a
  // parenthesis) cannot pass for it.
  if (status.kind() != Status::Kind::kInvalidArgument) return false;
  std::string_view m = status.message();
  if (m.size() < kNewerSuffix.size() || m.substr(m.size() - kNewerSuffix.size()) != kNewerSuffix) {
    return false;
  }
  m.remove_suffix(kNewerSuffix.size());
  std::size_t digits = 0;
  while (digits < m.size() && m[m.size() - 1 - digits] >= '0' && m[m.size() - 1 - digits] <= '9') {
    ++digits;
  }
  if (digits == 0) return false;
  m.remove_suffix(digits);
  constexpr std::string_view kPrefix = "schema_version: ";
  if (m.size() < kPrefix.size() || m.substr(m.size() - kPrefix.size()) != kPrefix) return false;
  m.remove_suffix(kPrefix.size());
  return m.empty() || (m.size() >= 2 && m.substr(m.size() - 2) == ": ");
}

}  // namespace evt
