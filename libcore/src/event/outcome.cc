#include "evt/outcome.h"

#include <cctype>
#include <string>

namespace evt {

namespace {

constexpr int kMinCode = 1;
constexpr int kMaxCode = 255;

// sysexits(3) codes whose categories the default table names; every other non-zero
// code is transient/dependency.
bool IsDefaultPermanent(int code) {
  switch (code) {
    case 64:  // EX_USAGE
    case 65:  // EX_DATAERR
    case 66:  // EX_NOINPUT
    case 67:  // EX_NOUSER
    case 76:  // EX_PROTOCOL
    case 77:  // EX_NOPERM
    case 78:  // EX_CONFIG
      return true;
    default:
      return false;
  }
}

bool IsAuthCode(int code) { return code == 67 || code == 77; }
bool IsNetworkCode(int code) { return code == 68; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Parses one decimal code in 1..255; false on anything else.
bool ParseOneCode(std::string_view s, int* code) {
  s = Trim(s);
  if (s.empty() || s.size() > 3) return false;
  int value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  if (value < kMinCode || value > kMaxCode) return false;
  *code = value;
  return true;
}

}  // namespace

std::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kDone:
      return "done";
    case Outcome::kTransient:
      return "transient";
    case Outcome::kPermanent:
      return "permanent";
  }
  return "transient";
}

std::string_view CategoryName(Category c) {
  switch (c) {
    case Category::kNone:
      return "";
    case Category::kData:
      return "data";
    case Category::kAuth:
      return "auth";
    case Category::kNetwork:
      return "network";
    case Category::kDependency:
      return "dependency";
    case Category::kTimeout:
      return "timeout";
    case Category::kCrash:
      return "crash";
    case Category::kInternal:
      return "internal";
  }
  return "internal";
}

Category ParseCategory(std::string_view name) {
  for (Category c : {Category::kData, Category::kAuth, Category::kNetwork, Category::kDependency,
                     Category::kTimeout, Category::kCrash, Category::kInternal}) {
    if (CategoryName(c) == name) return c;
  }
  // A pipe handler that invents a category still failed; "dependency" is the neutral
  // transient bucket, the same one an unknown exit code lands in.
  return Category::kDependency;
}

Status ExitClassifier::ParseCodes(std::string_view text, std::set<int>* out) {
  auto bad = [&](std::string_view why) {
    return Status::Usage("invalid exit code list \"" + std::string(text) +
                         "\": " + std::string(why));
  };
  if (Trim(text).empty()) return bad("empty");
  // Parse into a scratch set so that *out is unchanged on error.
  std::set<int> codes;
  std::string_view rest = text;
  while (true) {
    size_t comma = rest.find(',');
    std::string_view item = Trim(rest.substr(0, comma));
    if (item.empty()) return bad("empty item");
    size_t dash = item.find('-');
    if (dash == std::string_view::npos) {
      int code = 0;
      if (!ParseOneCode(item, &code)) {
        return bad("\"" + std::string(item) + "\" is not a code in 1..255");
      }
      codes.insert(code);
    } else {
      int lo = 0;
      int hi = 0;
      if (!ParseOneCode(item.substr(0, dash), &lo) || !ParseOneCode(item.substr(dash + 1), &hi)) {
        return bad("\"" + std::string(item) + "\" is not a range of codes in 1..255");
      }
      if (lo > hi) return bad("\"" + std::string(item) + "\" is an empty range");
      for (int c = lo; c <= hi; ++c) codes.insert(c);
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  out->insert(codes.begin(), codes.end());
  return Status::Ok();
}

Status ExitClassifier::Override(const std::set<int>& permanent, const std::set<int>& transient) {
  for (int code : permanent) {
    if (code < kMinCode || code > kMaxCode) {
      return Status::Usage("exit code " + std::to_string(code) +
                           " cannot be overridden (codes are 1..255; 0 is always done)");
    }
    if (transient.count(code) != 0) {
      return Status::Usage("exit code " + std::to_string(code) +
                           " is listed as both permanent and transient");
    }
  }
  for (int code : transient) {
    if (code < kMinCode || code > kMaxCode) {
      return Status::Usage("exit code " + std::to_string(code) +
                           " cannot be overridden (codes are 1..255; 0 is always done)");
    }
  }
  // A later call replaces the earlier overrides rather than merging with them, so the
  // result never depends on how many times the options were applied.
  permanent_extra_ = permanent;
  transient_extra_ = transient;
  return Status::Ok();
}

ExitClassifier::Verdict ExitClassifier::ForExit(int code) const {
  if (code == 0) return {Outcome::kDone, Category::kNone};
  if (permanent_extra_.count(code) != 0) {
    return {Outcome::kPermanent, IsAuthCode(code) ? Category::kAuth : Category::kData};
  }
  if (transient_extra_.count(code) != 0) {
    return {Outcome::kTransient, IsNetworkCode(code) ? Category::kNetwork : Category::kDependency};
  }
  if (IsDefaultPermanent(code)) {
    return {Outcome::kPermanent, IsAuthCode(code) ? Category::kAuth : Category::kData};
  }
  if (IsNetworkCode(code)) return {Outcome::kTransient, Category::kNetwork};
  return {Outcome::kTransient, Category::kDependency};
}

Status ExitClassifier::OverrideFromLists(std::string_view permanent, std::string_view transient) {
  std::set<int> p, t;
  if (!permanent.empty()) {
    if (Status s = ParseCodes(permanent, &p); !s.ok()) return s;
  }
  if (!transient.empty()) {
    if (Status s = ParseCodes(transient, &t); !s.ok()) return s;
  }
  return Override(p, t);
}

}  // namespace evt
