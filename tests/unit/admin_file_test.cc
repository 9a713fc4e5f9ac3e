#include "admin/admin_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "evt/broker_factory.h"

namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/evt-admin-file.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() { [[maybe_unused]] int rc = std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string Record(const std::string& id, const std::string& type) {
  evt::DeadLetter d;
  d.reason = evt::DeadReason::kPermanent;
  d.category = evt::Category::kData;
  d.error = "exit 65";
  d.attempts = 1;
  d.failed_at = 1772168100000;
  d.event = evt::Json{{"event_id", id}, {"event_type", type}, {"retry_count", 0}};
  return evt::SerializeDeadLetter(d);
}

void Write(const std::string& path, const std::string& text, bool append = false) {
  std::ofstream out(path, append ? std::ios::app : std::ios::trunc);
  out << text;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::unique_ptr<evt::QueueAdmin> Open(const std::string& path) {
  evt::Result<std::unique_ptr<evt::QueueAdmin>> a = evt::OpenFileAdmin(path);
  REQUIRE(a.ok());
  return std::move(*a);
}

}  // namespace

TEST_CASE("a dead-letter file lists its records by line number, bad lines left out",
          "[admin][file]") {
  TempDir dir;
  const std::string path = dir / "dlq.ndjson";
  Write(path, Record("e1", "a.b") + "\n\nnot json\n" + Record("e2", "c.d") + "\n" +
                  R"({"event_type":"x.y","event_id":"e3"})" + "\n");
  auto admin = Open(path);
  evt::Result<std::vector<evt::DeadLetterRecord>> all = admin->ListDeadLetters({});
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].id == "1");
  CHECK((*all)[1].id == "4");
  CHECK((*all)[1].event_type() == "c.d");
  CHECK((*all)[2].plain_event);
  evt::RecordFilter f;
  f.limit = 1;
  f.type_glob = "c.*";
  CHECK(admin->ListDeadLetters(f)->at(0).event_id() == "e2");
  CHECK(admin->Describe() == path);
}

TEST_CASE("a file has no queue and knows no done keys", "[admin][file]") {
  TempDir dir;
  Write(dir / "d", Record("e1", "a.b") + "\n");
  auto admin = Open(dir / "d");
  CHECK(admin->Enqueue("{}").kind() == evt::Status::Kind::kUsage);
  CHECK(admin->MoveDeadLetter("1", "{}", "q", false).status().kind() == evt::Status::Kind::kUsage);
  CHECK(admin->ReadHistory({}).status().kind() == evt::Status::Kind::kUsage);
  CHECK(*admin->DoneKeys({"a", "b"}) == std::vector<bool>{false, false});
}

TEST_CASE("a missing file is NotFound (exit 66)", "[admin][file]") {
  TempDir dir;
  evt::AdminOptions o;
  o.file = dir / "missing.ndjson";
  evt::Result<std::unique_ptr<evt::QueueAdmin>> a = evt::OpenAdmin(evt::BrokerConfig{}, o);
  REQUIRE_FALSE(a.ok());
  CHECK(a.status().kind() == evt::Status::Kind::kNotFound);
  CHECK_THAT(a.status().message(), Catch::Contains("missing.ndjson: no such file"));
}

TEST_CASE("without a file or a durable broker there is nothing to read", "[admin]") {
  evt::Result<std::unique_ptr<evt::QueueAdmin>> a =
      evt::OpenAdmin(evt::BrokerConfig{}, evt::AdminOptions{});
  CHECK(a.status().kind() == evt::Status::Kind::kUsage);
}

TEST_CASE("purge rewrites the file without the purged lines, keeping the rest as it was",
          "[admin][file]") {
  TempDir dir;
  const std::string path = dir / "dlq.ndjson";
  const std::string r1 = Record("e1", "a.b"), r2 = Record("e2", "c.d");
  Write(path, r1 + "\nnot json\n" + r2 + "\n");
  ::chmod(path.c_str(), 0600);
  auto admin = Open(path);
  evt::Result<std::int64_t> n = admin->PurgeDeadLetters({"1", "2", "99", "x"});
  REQUIRE(n.ok());
  CHECK(*n == 1);  // line 2 is not a record, 99 and x are no lines
  CHECK(Read(path) == "not json\n" + r2 + "\n");
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("purge keeps what a worker appended, and lines changed since they were read",
          "[admin][file]") {
  TempDir dir;
  const std::string path = dir / "dlq.ndjson";
  const std::string r1 = Record("e1", "a.b"), r2 = Record("e2", "c.d"), r3 = Record("e3", "e.f");
  Write(path, r1 + "\n" + r2 + "\n");
  auto admin = Open(path);
  Write(path, r3 + "\n", /*append=*/true);  // a stdio evt-work appends meanwhile
  REQUIRE(*admin->PurgeDeadLetters({"1", "2"}) == 2);
  CHECK(Read(path) == r3 + "\n");

  Write(path, r1 + "\n");
  auto again = Open(path);
  Write(path, r2 + "\n");  // line 1 is another record now
  REQUIRE(*again->PurgeDeadLetters({"1"}) == 0);
  CHECK(Read(path) == r2 + "\n");
}

TEST_CASE("a file's audit records go to FILE.audit as NDJSON", "[admin][file]") {
  TempDir dir;
  const std::string path = dir / "dlq.ndjson";
  Write(path, "");
  auto admin = Open(path);
  evt::AuditRecord a;
  a.action = "purge";
  a.id = "prg_1";
  a.user = "alice";
  a.host = "h";
  a.at = 1772168100000;
  a.source = path;
  a.filters = "(none)";
  a.count = 3;
  REQUIRE(admin->AppendAudit(a).ok());
  evt::Json j = *evt::ParseJson(Read(path + ".audit"));
  CHECK(j["action"] == "purge");
  CHECK(j["user"] == "alice");
  CHECK(j["at"] == "2026-02-27T04:55:00.000Z");
  CHECK(j["count"] == 3);
}
