#include <unistd.h>

#include <catch2/catch.hpp>

#include "evt/dlq.h"
#include "fake_admin.h"
#include "temp_fd.h"

using evt::testing::FakeAdmin;

namespace {

template <typename F>
std::string Output(F f) {
  int fd = evt::testing::FdWith("");
  evt::Status s = f(fd);
  std::string out = evt::testing::ReadFd(fd);
  ::close(fd);
  REQUIRE(s.ok());
  return out;
}

}  // namespace

TEST_CASE("list: one aligned line per dead letter, first error line only", "[dlq]") {
  FakeAdmin q;
  q.AddDead("billing.invoice", 5, 1000);
  q.AddDead("a.b", 0, 1000);
  std::string out =
      Output([&](int fd) { return evt::DlqList(q, {}, 1000 + 3 * 3600 * 1000, true, fd); });
  CHECK(out ==
        "ID   TYPE             REASON             CATEGORY    ATTEMPTS  AGE  ERROR\n"
        "1-0  billing.invoice  retries_exhausted  dependency  6         3h   exit 75: "
        "downstream unavailable\n"
        "2-0  a.b              retries_exhausted  dependency  1         3h   exit 75: "
        "downstream unavailable\n");
}

TEST_CASE("show: everything about one dead letter, found by id or event_id", "[dlq]") {
  FakeAdmin q;
  q.AddDead("a.b");
  std::string out = Output([&](int fd) { return evt::DlqShow(q, "evt_1", fd); });
  CHECK_THAT(out, Catch::Contains("id:          1-0"));
  CHECK_THAT(out, Catch::Contains("error:       exit 75: downstream unavailable\nsecond line"));
  CHECK_THAT(out, Catch::Contains("\"retry_count\": 5"));  // pretty-printed
  int fd = evt::testing::FdWith("");
  evt::Status s = evt::DlqShow(q, "nope", fd);
  ::close(fd);
  CHECK(s.kind() == evt::Status::Kind::kNotFound);
  CHECK(s.message() == "no dead letter nope in fake");
}

TEST_CASE("stats: counts by type, reason and category, largest first", "[dlq]") {
  FakeAdmin q;
  q.AddDead("a.b");
  q.AddDead("c.d");
  q.AddDead("c.d");
  std::string out = Output([&](int fd) { return evt::DlqStats(q, {}, fd); });
  CHECK(out ==
        "total     3\n"
        "type      c.d                2\n"
        "type      a.b                1\n"
        "reason    retries_exhausted  3\n"
        "category  dependency         3\n");
}

TEST_CASE("export writes the stdio --dlq record format", "[dlq]") {
  FakeAdmin q;
  q.AddDead("a.b");
  std::string out = Output([&](int fd) { return evt::DlqExport(q, {}, fd); });
  CHECK(out == evt::SerializeDeadLetter(q.dead[0].letter) + "\n");
}

TEST_CASE("purge refuses without --yes when nobody can be asked", "[dlq]") {
  FakeAdmin q;
  q.AddDead("a.b");
  evt::PurgeOptions o;
  o.filters = "(none)";
  std::int64_t n = -1;
  evt::Status s = evt::DlqPurge(q, {}, o, &n);
  CHECK(s.kind() == evt::Status::Kind::kUsage);
  CHECK_THAT(s.message(), Catch::Contains("without --yes: standard input is not a terminal"));
  CHECK(q.dead.size() == 1);
  CHECK(q.audit.empty());
}

TEST_CASE("purge asks, and does nothing on no", "[dlq]") {
  FakeAdmin q;
  q.AddDead("a.b");
  std::string asked;
  evt::PurgeOptions o;
  o.filters = "--type a.b";
  o.confirm = [&](const std::string& question) {
    asked = question;
    return false;
  };
  std::int64_t n = -1;
  REQUIRE(evt::DlqPurge(q, {}, o, &n).ok());
  CHECK(n == 0);
  CHECK(asked == "Purge 1 dead letter(s) from fake (filters: --type a.b)? [y/N] ");
  CHECK(q.dead.size() == 1);
}

TEST_CASE("purge deletes what matches and records who, when, which filters, how many", "[dlq]") {
  FakeAdmin q;
  q.AddDead("a.b");
  q.AddDead("c.d");
  evt::PurgeOptions o;
  o.yes = true;
  o.filters = "--type 'c.*'";
  evt::RecordFilter f;
  f.type_glob = "c.*";
  std::int64_t n = 0;
  REQUIRE(evt::DlqPurge(q, f, o, &n).ok());
  CHECK(n == 1);
  REQUIRE(q.dead.size() == 1);
  CHECK(q.dead[0].event_type() == "a.b");
  REQUIRE(q.audit.size() == 1);
  CHECK(q.audit[0].action == "purge");
  CHECK(q.audit[0].count == 1);
  CHECK(q.audit[0].filters == "--type 'c.*'");
  CHECK(q.audit[0].user == evt::CurrentUser());
  CHECK(q.audit[0].at > 0);
  CHECK(q.audit[0].id.rfind("prg_", 0) == 0);
}
