// The filter flags of evt-dlq and evt-replay, checked once for both.
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

#include "evt/dead_reason.h"
#include "evt/dlq.h"
#include "evt/duration.h"
#include "evt/outcome.h"

namespace evt {
namespace {

constexpr const char* kCategories[] = {"data",    "auth",  "network", "dependency",
                                       "timeout", "crash", "internal"};
constexpr const char* kReasons[] = {"permanent", "retries_exhausted", "poison", "invalid",
                                    "interrupted"};

template <std::size_t N>
Status OneOf(const char* flag, const std::string& value, const char* const (&names)[N]) {
  if (value.empty()) return Status::Ok();
  std::string list;
  for (const char* n : names) {
    if (value == n) return Status::Ok();
    list += list.empty() ? n : std::string(", ") + n;
  }
  return Status::Usage(std::string(flag) + ": unknown value \"" + value + "\" (one of " + list +
                       ")");
}

// An RFC 3339 time, or a duration that long before `now`.
Result<std::optional<UnixMillis>> TimeFlag(const char* flag, const std::string& text,
                                           UnixMillis now) {
  if (text.empty()) return std::optional<UnixMillis>();
  if (Result<UnixMillis> t = ParseRfc3339(text); t.ok()) return std::optional<UnixMillis>(*t);
  if (Result<Millis> d = ParseDuration(text); d.ok()) {
    return std::optional<UnixMillis>(now - d->count());
  }
  return Status::Usage(std::string(flag) + ": \"" + text +
                       "\" is neither an RFC 3339 time (2026-02-27T04:55:00Z) nor a duration "
                       "ago (90m, 2h, 7d)");
}

std::string ShellQuoted(const std::string& s) {
  bool plain = !s.empty();
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) ||
          std::string("-_.:/,+=@").find(c) != std::string::npos)) {
      plain = false;
    }
  }
  if (plain) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

void AddFilterOptions(CLI::App& app, FilterFlags* flags) {
  app.add_option("--type", flags->type, "Only events whose event_type matches this glob")
      ->type_name("GLOB");
  app.add_option("--since", flags->since,
                 "Only records from this time on: RFC 3339, or a duration ago (2h)")
      ->type_name("TIME");
  app.add_option("--until", flags->until, "Only records before this time (as --since)")
      ->type_name("TIME");
  app.add_option("--category", flags->category,
                 "Only this failure category: data, auth, network, dependency, timeout, crash, "
                 "internal");
  app.add_option("--reason", flags->reason,
                 "Only this reason: permanent, retries_exhausted, poison, invalid, interrupted");
  app.add_option("--limit", flags->limit, "At most this many records, oldest first (0: all)")
      ->type_name("N");
}

Result<RecordFilter> MakeFilter(const FilterFlags& flags, UnixMillis now) {
  RecordFilter f;
  if (Status s = OneOf("--category", flags.category, kCategories); !s.ok()) return s;
  if (Status s = OneOf("--reason", flags.reason, kReasons); !s.ok()) return s;
  Result<std::optional<UnixMillis>> since = TimeFlag("--since", flags.since, now);
  if (!since.ok()) return since.status();
  Result<std::optional<UnixMillis>> until = TimeFlag("--until", flags.until, now);
  if (!until.ok()) return until.status();
  if (*since && *until && **since >= **until) {
    return Status::Usage("--since " + flags.since + " is not before --until " + flags.until);
  }
  f.type_glob = flags.type;
  f.since = *since;
  f.until = *until;
  f.category = flags.category;
  f.reason = flags.reason;
  f.ids = flags.ids;
  f.limit = flags.limit;
  return f;
}

std::string DescribeFilter(const FilterFlags& flags) {
  std::string out;
  const auto add = [&](const char* flag, const std::string& value) {
    if (value.empty()) return;
    if (!out.empty()) out += ' ';
    out += std::string(flag) + " " + ShellQuoted(value);
  };
  add("--type", flags.type);
  add("--since", flags.since);
  add("--until", flags.until);
  add("--category", flags.category);
  add("--reason", flags.reason);
  if (flags.limit != 0) add("--limit", std::to_string(flags.limit));
  for (const std::string& id : flags.ids) add("--id", id);
  return out.empty() ? "(none)" : out;
}

std::string CurrentUser() {
  std::string user;
  if (passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_name != nullptr) {
    user = pw->pw_name;
  } else {
    user = "uid " + std::to_string(::geteuid());
  }
  if (const char* sudo = std::getenv("SUDO_USER"); sudo != nullptr && *sudo != '\0') {
    user = std::string(sudo) + " (via sudo as " + user + ")";
  }
  return user;
}

}  // namespace evt
