#include "evt/outcome.h"

#include <catch2/catch.hpp>

namespace evt {
namespace {

void Expect(const ExitClassifier& c, int code, Outcome outcome, Category category) {
  INFO("exit " << code);
  ExitClassifier::Verdict v = c.ForExit(code);
  CHECK(OutcomeName(v.outcome) == OutcomeName(outcome));
  CHECK(CategoryName(v.category) == CategoryName(category));
}

TEST_CASE("exit 0 is done", "[outcome]") {
  Expect(ExitClassifier(), 0, Outcome::kDone, Category::kNone);
}

TEST_CASE("sysexits usage, data, no input, protocol and config are permanent data", "[outcome]") {
  ExitClassifier c;
  for (int code : {64, 65, 66, 76, 78}) Expect(c, code, Outcome::kPermanent, Category::kData);
}

TEST_CASE("no user and no permission are permanent auth", "[outcome]") {
  ExitClassifier c;
  for (int code : {67, 77}) Expect(c, code, Outcome::kPermanent, Category::kAuth);
}

TEST_CASE("no host is transient network", "[outcome]") {
  Expect(ExitClassifier(), 68, Outcome::kTransient, Category::kNetwork);
}

TEST_CASE("unavailable, tempfail and every other non-zero code are transient dependency",
          "[outcome]") {
  ExitClassifier c;
  for (int code : {1, 2, 3, 63, 69, 70, 71, 72, 73, 74, 75, 79, 126, 127, 128, 255}) {
    Expect(c, code, Outcome::kTransient, Category::kDependency);
  }
}

TEST_CASE("names of outcomes and categories", "[outcome]") {
  CHECK(OutcomeName(Outcome::kDone) == "done");
  CHECK(OutcomeName(Outcome::kTransient) == "transient");
  CHECK(OutcomeName(Outcome::kPermanent) == "permanent");
  CHECK(CategoryName(Category::kNone).empty());
  for (Category c : {Category::kData, Category::kAuth, Category::kNetwork, Category::kDependency,
                     Category::kTimeout, Category::kCrash, Category::kInternal}) {
    INFO(CategoryName(c));
    CHECK(!CategoryName(c).empty());
    CHECK(ParseCategory(CategoryName(c)) == c);
  }
  CHECK(CategoryName(Category::kNetwork) == "network");
  CHECK(ParseCategory("quantum") == Category::kDependency);
  CHECK(ParseCategory("") == Category::kDependency);
}

TEST_CASE("ParseCodes accepts lists, ranges and spaces", "[outcome]") {
  std::set<int> codes;
  REQUIRE(ExitClassifier::ParseCodes("64,65,70-73", &codes).ok());
  CHECK(codes == std::set<int>{64, 65, 70, 71, 72, 73});

  codes.clear();
  REQUIRE(ExitClassifier::ParseCodes(" 1 , 2 - 3 ,255", &codes).ok());
  CHECK(codes == std::set<int>{1, 2, 3, 255});

  codes.clear();
  REQUIRE(ExitClassifier::ParseCodes("9", &codes).ok());
  CHECK(codes == std::set<int>{9});

  codes = {5};
  REQUIRE(ExitClassifier::ParseCodes("6-6", &codes).ok());
  CHECK(codes == std::set<int>{5, 6});
}

TEST_CASE("ParseCodes rejects junk and out-of-range codes, naming the text", "[outcome]") {
  for (const char* bad : {"", " ", "abc", "64,", ",64", "64,,65", "0", "256", "-1", "64-", "-64",
                          "70-64", "1-2-3", "6 5", "1e2", "64;65", "0x40", "1000"}) {
    INFO("text: \"" << bad << "\"");
    std::set<int> codes = {42};
    Status s = ExitClassifier::ParseCodes(bad, &codes);
    CHECK(s.kind() == Status::Kind::kUsage);
    CHECK(s.message().find("\"" + std::string(bad) + "\"") != std::string::npos);
    CHECK(codes == std::set<int>{42});  // unchanged on error
  }
}

TEST_CASE("overrides move codes between the sets", "[outcome]") {
  ExitClassifier c;
  REQUIRE(c.Override({1, 68, 75, 77}, {65, 67, 68 + 10}).ok());
  Expect(c, 1, Outcome::kPermanent, Category::kData);
  Expect(c, 68, Outcome::kPermanent, Category::kData);
  Expect(c, 75, Outcome::kPermanent, Category::kData);
  Expect(c, 77, Outcome::kPermanent, Category::kAuth);  // the default table says auth
  Expect(c, 65, Outcome::kTransient, Category::kDependency);
  Expect(c, 67, Outcome::kTransient, Category::kDependency);
  Expect(c, 78, Outcome::kTransient, Category::kDependency);
  // untouched codes keep their defaults
  Expect(c, 0, Outcome::kDone, Category::kNone);
  Expect(c, 64, Outcome::kPermanent, Category::kData);
  Expect(c, 69, Outcome::kTransient, Category::kDependency);
}

TEST_CASE("a code overridden to transient keeps network when the default says so", "[outcome]") {
  ExitClassifier c;
  REQUIRE(c.Override({}, {68}).ok());
  Expect(c, 68, Outcome::kTransient, Category::kNetwork);
}

TEST_CASE("a later Override replaces the earlier one", "[outcome]") {
  ExitClassifier c;
  REQUIRE(c.Override({3}, {}).ok());
  Expect(c, 3, Outcome::kPermanent, Category::kData);
  REQUIRE(c.Override({}, {}).ok());
  Expect(c, 3, Outcome::kTransient, Category::kDependency);
}

TEST_CASE("overrides must be disjoint", "[outcome]") {
  ExitClassifier c;
  Status s = c.Override({3, 4}, {4, 5});
  CHECK(s.kind() == Status::Kind::kUsage);
  CHECK(s.message().find("4") != std::string::npos);
  // nothing was applied
  Expect(c, 3, Outcome::kTransient, Category::kDependency);
  Expect(c, 5, Outcome::kTransient, Category::kDependency);
}

TEST_CASE("exit 0 can never be overridden", "[outcome]") {
  ExitClassifier c;
  CHECK(c.Override({0}, {}).kind() == Status::Kind::kUsage);
  CHECK(c.Override({}, {0}).kind() == Status::Kind::kUsage);
  CHECK(c.Override({256}, {}).kind() == Status::Kind::kUsage);
  Expect(c, 0, Outcome::kDone, Category::kNone);
}

}  // namespace
}  // namespace evt

TEST_CASE("exit-code lists from the command line override the table, empty lists change nothing",
          "[outcome]") {
  evt::ExitClassifier c;
  REQUIRE(c.OverrideFromLists("", "").ok());
  CHECK(c.ForExit(65).outcome == evt::Outcome::kPermanent);
  REQUIRE(c.OverrideFromLists("3,10-12", "65").ok());
  CHECK(c.ForExit(3).outcome == evt::Outcome::kPermanent);
  CHECK(c.ForExit(11).outcome == evt::Outcome::kPermanent);
  CHECK(c.ForExit(65).outcome == evt::Outcome::kTransient);
  evt::Status s = c.OverrideFromLists("x", "");
  CHECK(s.kind() == evt::Status::Kind::kUsage);
  CHECK_FALSE(c.OverrideFromLists("5", "5").ok());
}
