#include "evt/dead_letter.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <string>

TEST_CASE("a dead letter record carries reason, error, category, attempts and the event",
          "[dead_letter]") {
  evt::DeadLetter d;
  d.reason = evt::DeadReason::kRetriesExhausted;
  d.category = evt::Category::kTimeout;
  d.error = "timed out after 2s";
  d.attempts = 6;
  d.failed_at = 1772168100000;  // 2026-02-27T04:55:00.000Z
  d.consumer = "host:1";
  d.line = 4;
  d.event = evt::Json{{"event_id", "evt_1"}, {"event_type", "a.b"}, {"payload", {{"k", 1}}}};
  CHECK(evt::SerializeDeadLetter(d) ==
        R"({"failed_at":"2026-02-27T04:55:00.000Z","reason":"retries_exhausted",)"
        R"("category":"timeout","attempts":6,"error":"timed out after 2s","consumer":"host:1",)"
        R"("event_id":"evt_1","event_type":"a.b","line":4,)"
        R"("event":{"event_id":"evt_1","event_type":"a.b","payload":{"k":1}}})");
}

TEST_CASE("an invalid line is kept raw in its dead letter", "[dead_letter]") {
  evt::DeadLetter d;
  d.reason = evt::DeadReason::kInvalid;
  d.category = evt::Category::kData;
  d.error = "invalid JSON";
  d.failed_at = 0;
  d.line = 2;
  d.raw = "not json {";
  std::string s = evt::SerializeDeadLetter(d);
  CHECK_THAT(s, Catch::Contains(R"("reason":"invalid")"));
  CHECK_THAT(s, Catch::Contains(R"("raw":"not json {")"));
  CHECK_THAT(s, !Catch::Contains("\"event\""));
}

TEST_CASE("dead letters are appended to a 0600 file, one line each", "[dead_letter]") {
  char dir[] = "/tmp/evt_dlq_XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  std::string path = std::string(dir) + "/dlq.ndjson";
  for (int round = 0; round < 2; ++round) {  // reopening appends, never truncates
    evt::DeadLetterSink sink;
    REQUIRE(sink.Open(path).ok());
    evt::DeadLetter d;
    d.raw = "line " + std::to_string(round);
    REQUIRE(sink.Append(d).ok());
  }
  std::ifstream in(path);
  std::string l1, l2, l3;
  REQUIRE(std::getline(in, l1));
  REQUIRE(std::getline(in, l2));
  CHECK_FALSE(std::getline(in, l3));
  CHECK_THAT(l1, Catch::Contains("line 0"));
  CHECK_THAT(l2, Catch::Contains("line 1"));
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  ::unlink(path.c_str());
  ::rmdir(dir);
}

TEST_CASE("an unwritable dead-letter path is an I/O error naming it", "[dead_letter]") {
  evt::DeadLetterSink sink;
  evt::Status s = sink.Open("/dev/null/dir/dlq.ndjson");
  CHECK(s.kind() == evt::Status::Kind::kIOError);
  CHECK_THAT(s.message(), Catch::Contains("/dev/null/dir/dlq.ndjson"));
}

TEST_CASE("a dead-letter file in a missing folder gets the folder, 0700 as --spool's",
          "[dead_letter]") {
  char dir[] = "/tmp/evt_dlq_XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const std::string base = dir;
  ::umask(022);
  {
    evt::DeadLetterSink sink;
    evt::Status s = sink.Open(base + "/a/b/dlq.ndjson");
    INFO(s.message());
    REQUIRE(s.ok());
    evt::DeadLetter d;
    d.raw = "x";
    REQUIRE(sink.Append(d).ok());
  }
  struct stat st {};
  REQUIRE(::stat((base + "/a").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(::stat((base + "/a/b").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(::stat((base + "/a/b/dlq.ndjson").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  // A folder that cannot be made fails in the same words as --spool's.
  std::ofstream(base + "/file") << "x";
  evt::DeadLetterSink sink;
  evt::Status s = sink.Open(base + "/file/sub/dlq.ndjson");
  CHECK(s.kind() == evt::Status::Kind::kIOError);
  CHECK(s.message() == "--dlq " + base + "/file/sub/dlq.ndjson: " + base + "/file is not a folder");
  CHECK([&] { return std::system(("rm -rf '" + base + "'").c_str()); }() == 0);
}
