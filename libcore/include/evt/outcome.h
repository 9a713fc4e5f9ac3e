// Outcomes of one handler attempt and their failure categories (DESIGN.md, table
// "handler result → outcome, category").
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "evt/status.h"

namespace evt {

enum class Outcome {
  kDone,       // the handler succeeded
  kTransient,  // worth retrying
  kPermanent,  // will not succeed by retrying: dead letter now
};

enum class Category { kNone, kData, kAuth, kNetwork, kDependency, kTimeout, kCrash, kInternal };

std::string_view OutcomeName(Outcome o);    // "done", "transient", "permanent"
std::string_view CategoryName(Category c);  // "", "data", "auth", ...
// Parses a category name (as a pipe handler would send it); unknown names give kDependency.
Category ParseCategory(std::string_view name);

// Maps a handler's exit code to an outcome and category. Defaults follow DESIGN.md;
// --permanent-exit and --transient-exit move codes between the two sets.
class ExitClassifier {
 public:
  ExitClassifier() = default;

  // Parses a list such as "64,65,70-73" into `out`. Codes must be 1..255.
  static Status ParseCodes(std::string_view text, std::set<int>* out);

  // Codes in `permanent` become permanent (category data unless the default table
  // says auth); codes in `transient` become transient (category dependency unless the
  // default says network). REQUIRES: the two sets are disjoint (else Usage).
  Status Override(const std::set<int>& permanent, const std::set<int>& transient);

  // Applies --permanent-exit and --transient-exit as given on the command line (either may
  // be empty). Usage error naming the bad list.
  Status OverrideFromLists(std::string_view permanent, std::string_view transient);

  struct Verdict {
    Outcome outcome;
    Category category;
  };
  Verdict ForExit(int code) const;
  static Verdict ForTimeout() { return {Outcome::kTransient, Category::kTimeout}; }
  static Verdict ForSignal() { return {Outcome::kTransient, Category::kCrash}; }

 private:
  std::set<int> permanent_extra_;
  std::set<int> transient_extra_;
};

}  // namespace evt
